// (faceblur's *default* profile path is doubled in 1.22 — the ERROR line it
// prints at construction — so the plate cascade is passed as an absolute path.)
// plates_plateblur_bench: the anonymizer on one generated 720p30 clip —
//   * CPU ms per frame (process CPU time, all threads, median of 5 runs) of
//     decode-only, decode + plateblur, and decode + gst-plugins-bad faceblur
//     with the plate cascade (RGB conversion it needs included);
//   * leak: plate-frames (>= 60 px wide) still readable after each, by the
//     groundtruth/plates scorer;
//   * % of the frame area redacted on a plate-free clip (mode=fill).
//
//   plates_plateblur_bench [--frames N] [--runs N] [--dump DIR] [--filter "plateblur ..."]
#include "vigil/groundtruth/clip.hpp"
#include "vigil/groundtruth/plates.hpp"

#include <gst/gst.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
constexpr const char* kFaceblur =
    "videoconvert ! video/x-raw,format=RGB ! "
    "faceblur profile=/usr/share/opencv4/haarcascades/haarcascade_russian_plate_number.xml ! videoconvert";

double processCpuMs() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
}

double medianCpuMsPerFrame(const fs::path& clip, const std::string& filter, int runs) {
  std::vector<double> per_frame;
  for (int run = 0; run < runs; ++run) {
    std::int64_t frames = 0;
    const double begin = processCpuMs();
    vigil::groundtruth::runClip(clip.string(), filter, [&](std::int64_t, const cv::Mat&, _GstBuffer*) { ++frames; });
    per_frame.push_back((processCpuMs() - begin) / std::max<std::int64_t>(1, frames));
  }
  std::sort(per_frame.begin(), per_frame.end());
  return per_frame[per_frame.size() / 2];
}

fs::path writeScene(const fs::path& dir, bool with_plates, std::int64_t frames, std::uint32_t seed) {
  const cv::Size size(1280, 720);
  vigil::groundtruth::Scene scene(size, 30.0, seed);
  vigil::groundtruth::PlateLayerOptions options;
  options.frames = frames;
  options.vehicles = static_cast<int>(std::max<std::int64_t>(4, frames / 20));
  options.with_plates = with_plates;
  scene.add(std::make_unique<vigil::groundtruth::PlateLayer>(size, seed, options));
  const fs::path clip = dir / (with_plates ? "plates.mkv" : "empty.mkv");
  vigil::groundtruth::ClipOptions clip_options;
  clip_options.frames = frames;
  vigil::groundtruth::writeClip(scene, clip.string(), clip_options, (dir / (with_plates ? "plates.jsonl" : "empty.jsonl")).string());
  return clip;
}

struct Scores {
  vigil::groundtruth::LeakReport report;
  double changed_area = 0.0;
};

Scores score(const fs::path& clip, const fs::path& truth_path, const std::string& filter, const std::string& dump) {
  const auto truth = vigil::groundtruth::readTruth(truth_path.string());
  std::map<std::int64_t, cv::Mat> originals;
  vigil::groundtruth::runClip(clip.string(), "", [&](std::int64_t i, const cv::Mat& luma, _GstBuffer*) {
    originals[i] = luma.clone();
  });
  Scores scores;
  vigil::groundtruth::LeakScorer scorer(60);
  std::int64_t frames = 0;
  vigil::groundtruth::runClip(clip.string(), filter, [&](std::int64_t i, const cv::Mat& luma, _GstBuffer*) {
    const auto& frame_truth = truth.at(static_cast<std::size_t>(i));
    const int before = scorer.report().readable;
    const cv::Mat& original = originals.at(i);
    if (original.size() != luma.size()) {
      std::fprintf(stderr, "frame %lld: output %dx%d differs from the original, not scored\n",
                   static_cast<long long>(i), luma.cols, luma.rows);
      return;
    }
    scorer.addFrame(frame_truth, original, luma);
    scores.changed_area += vigil::groundtruth::changedAreaFraction(original, luma);
    ++frames;
    if (!dump.empty() && scorer.report().readable > before) {
      cv::Mat shown;
      cv::cvtColor(luma, shown, cv::COLOR_GRAY2BGR);
      for (const auto& object : frame_truth.objects) cv::rectangle(shown, object.box, {0, 255, 0}, 1);
      cv::imwrite(dump + "/leak_" + std::to_string(i) + ".png", shown);
    }
  });
  scores.report = scorer.report();
  scores.changed_area /= std::max<std::int64_t>(1, frames);
  return scores;
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  std::int64_t frames = 150;
  int runs = 5;
  std::string dump;
  std::string plateblur = "plateblur";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--frames")) frames = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--runs")) runs = std::max(1, std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--dump")) dump = argv[i + 1];
    else if (!std::strcmp(argv[i], "--filter")) plateblur = argv[i + 1];
  }
  const fs::path dir = fs::temp_directory_path() / "vigil-plates-bench";
  fs::create_directories(dir);
  const fs::path clip = writeScene(dir, true, frames, 23);
  const fs::path empty = writeScene(dir, false, frames, 29);
  std::printf("clip: 1280x720, %lld frames, %d runs per figure (median)\n", static_cast<long long>(frames), runs);

  const double decode = medianCpuMsPerFrame(clip, "", runs);
  const double ours = medianCpuMsPerFrame(clip, plateblur, runs);
  const double stock = medianCpuMsPerFrame(clip, kFaceblur, std::min(runs, 3));
  const double frame_budget_ms = 1000.0 / 30.0;
  std::printf("\n%-34s %12s %12s %14s\n", "pipeline", "CPU ms/frame", "x decode", "% of a core@30");
  std::printf("%-34s %12.2f %12.2f %14.1f\n", "decode only", decode, 1.0, 100.0 * decode / frame_budget_ms);
  std::printf("%-34s %12.2f %12.2f %14.1f\n", plateblur.c_str(), ours, ours / decode, 100.0 * ours / frame_budget_ms);
  std::printf("%-34s %12.2f %12.2f %14.1f\n", "faceblur (plate cascade, RGB)", stock, stock / decode,
              100.0 * stock / frame_budget_ms);
  std::printf("plateblur alone: %.2f ms/frame = %.1f %% of one core at 30 fps\n", ours - decode,
              100.0 * (ours - decode) / frame_budget_ms);

  std::printf("\n%-40s %16s %10s %14s\n", "anonymizer", "readable>=60px", "%", "readable<60px");
  for (const std::string& filter : {std::string("identity"), plateblur, plateblur + " mode=pixelate",
                                    plateblur + " interval=3", std::string(kFaceblur)}) {
    const Scores s = score(clip, dir / "plates.jsonl", filter, filter == plateblur ? dump : "");
    std::printf("%-40.40s %7d/%-8d %10.2f %7d/%-6d\n", filter.c_str(), s.report.readable, s.report.plate_frames,
                100.0 * s.report.readableFraction(), s.report.small_readable, s.report.small_plate_frames);
  }
  const Scores free_area = score(empty, dir / "empty.jsonl", plateblur + " mode=fill", "");
  std::printf("\nplate-free clip: %.2f %% of the frame area redacted (mode=fill, pixels changed)\n",
              100.0 * free_area.changed_area);
  fs::remove_all(dir);
  return 0;
}
