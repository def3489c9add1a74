// plates_detectors_bench: recall, false positives and cost of each plate
// detector backend on a rendered ground-truth scene (the measurement behind
// the default backend; see detectors/plates/README.md).
//
//   plates_detectors_bench [--frames N] [--backends edges,haar] [--dump DIR]
//
// A plate counts as found when the detection, padded as plateblur pads it,
// covers >= 90 % of the plate's visible box. A detection touching no plate is
// a false positive. Cost: CPU ms per detection (median of 5 passes).
#include "vigil/groundtruth/plates.hpp"
#include "vigil/plates/detector.hpp"
#include "vigil/plates/redaction.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr float kPadding = 0.15f;
constexpr double kCoveredFraction = 0.9;
constexpr int kPasses = 5;
constexpr int kTargetWidth = 60;

double cpuMs() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return now.tv_sec * 1e3 + now.tv_nsec / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  int frames = 90;
  std::string backends = "edges,haar";
  std::string dump;
  std::string model;
  int max_side = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--frames")) frames = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--backends")) backends = argv[i + 1];
    else if (!std::strcmp(argv[i], "--dump")) dump = argv[i + 1];
    else if (!std::strcmp(argv[i], "--model")) model = argv[i + 1];
    else if (!std::strcmp(argv[i], "--max-side")) max_side = std::atoi(argv[i + 1]);
  }
  const cv::Size size(1280, 720);
  vigil::groundtruth::Scene scene(size, 30.0, 7);
  vigil::groundtruth::PlateLayerOptions layer_options;
  layer_options.frames = frames;
  layer_options.vehicles = 8;
  scene.add(std::make_unique<vigil::groundtruth::PlateLayer>(size, 7, layer_options));
  vigil::groundtruth::Scene empty_scene(size, 30.0, 11);
  layer_options.with_plates = false;
  empty_scene.add(std::make_unique<vigil::groundtruth::PlateLayer>(size, 11, layer_options));

  std::vector<cv::Mat> images, empties;
  std::vector<vigil::groundtruth::FrameTruth> truths;
  for (int f = 0; f < frames; ++f) {
    vigil::groundtruth::FrameTruth truth, ignored;
    images.push_back(scene.render(f, truth));
    truths.push_back(truth);
    empties.push_back(empty_scene.render(f, ignored));
  }

  std::printf("%-8s %10s %10s %10s %12s %12s %10s\n", "backend", "found>=60", "found<60", "false+",
              "area-empty%", "ms/detect", "side");
  std::stringstream names(backends);
  std::string backend;
  while (std::getline(names, backend, ',')) {
    vigil::plates::DetectorOptions options;
    options.model_path = model;
    options.max_side = max_side;
    auto detector = vigil::plates::makePlateDetector(backend, options);
    int found_big = 0, total_big = 0, found_small = 0, total_small = 0, false_positives = 0;
    std::vector<double> pass_ms;
    for (int pass = 0; pass < kPasses; ++pass) {
      double spent = 0.0;
      for (int f = 0; f < frames; ++f) {
        double scale = 1.0;
        const cv::Mat input = vigil::plates::prepareInput(images[f], detector->input(), &scale);
        const double begin = cpuMs();
        const auto found = detector->detect(input);
        spent += cpuMs() - begin;
        if (pass != 0) continue;
        std::vector<cv::Rect> boxes;
        for (const auto& d : found) {
          const cv::Rect2f box(d.box.x / scale, d.box.y / scale, d.box.width / scale, d.box.height / scale);
          boxes.push_back(vigil::plates::padded(box, kPadding, 4));
        }
        bool missed_any = false;
        for (const auto& object : truths[f].objects) {
          // Covered by the union of the padded detections, as plateblur redacts them.
          cv::Mat covered_mask(object.box.size(), CV_8UC1, cv::Scalar(0));
          for (const auto& box : boxes) {
            const cv::Rect overlap = box & object.box;
            if (!overlap.empty()) covered_mask(overlap - object.box.tl()).setTo(255);
          }
          const bool covered = cv::countNonZero(covered_mask) >= kCoveredFraction * object.box.area();
          missed_any |= !covered && object.box.width >= kTargetWidth;
          if (object.box.width >= kTargetWidth) { ++total_big; found_big += covered; }
          else { ++total_small; found_small += covered; }
        }
        for (const auto& box : boxes) {
          bool touches = false;
          for (const auto& object : truths[f].objects) touches |= (box & object.box).area() > 0;
          false_positives += touches ? 0 : 1;
        }
        if (!dump.empty() && missed_any) {
          cv::Mat shown = images[f].clone();
          for (const auto& object : truths[f].objects) cv::rectangle(shown, object.box, {0, 255, 0}, 2);
          for (const auto& box : boxes) cv::rectangle(shown, box, {0, 0, 255}, 2);
          cv::imwrite(dump + "/" + backend + "_" + std::to_string(f) + ".png", shown);
        }
      }
      pass_ms.push_back(spent / frames);
    }
    // Plate-free frames: the share of the frame the padded detections cover.
    double area = 0.0;
    for (int f = 0; f < frames; ++f) {
      double scale = 1.0;
      const cv::Mat input = vigil::plates::prepareInput(empties[f], detector->input(), &scale);
      cv::Mat mask(size, CV_8UC1, cv::Scalar(0));
      for (const auto& d : detector->detect(input)) {
        const cv::Rect2f box(d.box.x / scale, d.box.y / scale, d.box.width / scale, d.box.height / scale);
        mask(vigil::plates::padded(box, kPadding, 4) & cv::Rect(0, 0, size.width, size.height)).setTo(255);
      }
      area += double(cv::countNonZero(mask)) / mask.total();
    }
    std::sort(pass_ms.begin(), pass_ms.end());
    std::printf("%-8s %4d/%-5d %4d/%-5d %10d %12.2f %12.1f %10d\n", backend.c_str(), found_big, total_big,
                found_small, total_small, false_positives, 100.0 * area / frames, pass_ms[kPasses / 2],
                detector->input().max_side);
  }
  return 0;
}
