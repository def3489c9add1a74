// The leak metric and the leak floor. The metric must call an untouched
// (encoded) plate readable and a redacted one unreadable; then a short
// generated clip goes through plateblur and at most a few plate-frames
// (>= 60 px wide) may stay readable, while plate-free frames stay mostly
// untouched.
#include "vigil/groundtruth/clip.hpp"
#include "vigil/groundtruth/plates.hpp"
#include "vigil/plates/redaction.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>

namespace {

namespace fs = std::filesystem;
using vigil::groundtruth::kReadableThreshold;

// Measured on this clip (seed 17, 60 frames, 1280x720): 0 of 99 plate-frames
// >= 60 px readable with the default settings (interval 1), 0.00 % of the
// plate-free area redacted. The floors leave room for encoder and timing noise.
constexpr double kLeakFloor = 0.02;
constexpr double kPlateFreeAreaFloor = 0.01;
constexpr double kUnredactedReadableAtLeast = 0.9;

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("vigil-plates-" + std::to_string(std::random_device{}()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

TEST(LeakMetric, UntouchedReadableRedactedNot) {
  const cv::Mat plate = vigil::groundtruth::renderPlate(vigil::groundtruth::PlateStyle::Eu, "B MW 1234");
  for (const int width : {60, 120, 240}) {
    cv::Mat crop;
    cv::resize(plate, crop, cv::Size(width, width * plate.rows / plate.cols), 0, 0, cv::INTER_AREA);
    // Mild sensor-like noise: still the same plate.
    cv::Mat noisy = crop.clone();
    cv::Mat noise(crop.size(), CV_8UC3);
    cv::randn(noise, cv::Scalar::all(0), cv::Scalar::all(5));
    cv::add(crop, noise, noisy, cv::noArray(), CV_8UC3);
    EXPECT_GE(vigil::groundtruth::plateReadability(crop, noisy), kReadableThreshold) << width << " px, noisy";
    // Slightly out of focus (sigma 5 % of the plate height) is still legible.
    cv::Mat soft;
    cv::GaussianBlur(crop, soft, cv::Size(), std::max(0.5, 0.05 * crop.rows));
    EXPECT_GE(vigil::groundtruth::plateReadability(crop, soft), kReadableThreshold) << width << " px, soft";
    for (auto mode : {vigil::plates::RedactionMode::Blur, vigil::plates::RedactionMode::Pixelate,
                      vigil::plates::RedactionMode::Fill}) {
      cv::Mat redacted = crop.clone();
      vigil::plates::RedactionStyle style;
      style.mode = mode;
      vigil::plates::redactBgr(redacted, cv::Rect(0, 0, crop.cols, crop.rows), style);
      EXPECT_LT(vigil::groundtruth::plateReadability(crop, redacted), kReadableThreshold)
          << width << " px, " << vigil::plates::redactionModeName(mode);
    }
  }
}

struct ClipRun {
  vigil::groundtruth::LeakReport report;
  double changed_area = 0.0;  // mean fraction of luma pixels changed per frame
};

// Writes the scene to a clip, decodes it untouched and through `filter`,
// and scores the filtered frames against the untouched ones.
ClipRun runScene(bool with_plates, const std::string& filter, const fs::path& dir) {
  const cv::Size size(1280, 720);
  const std::int64_t frames = 60;
  vigil::groundtruth::Scene scene(size, 30.0, 17);
  vigil::groundtruth::PlateLayerOptions options;
  options.frames = frames;
  options.vehicles = 6;
  options.min_plate_width = 60;
  options.with_plates = with_plates;
  scene.add(std::make_unique<vigil::groundtruth::PlateLayer>(size, 17, options));
  const fs::path clip = dir / (with_plates ? "plates.mkv" : "empty.mkv");
  const fs::path truth_path = dir / (with_plates ? "plates.jsonl" : "empty.jsonl");
  vigil::groundtruth::ClipOptions clip_options;
  clip_options.frames = frames;
  vigil::groundtruth::writeClip(scene, clip.string(), clip_options, truth_path.string());
  const auto truth = vigil::groundtruth::readTruth(truth_path.string());

  std::map<std::int64_t, cv::Mat> originals;
  vigil::groundtruth::runClip(clip.string(), "", [&](std::int64_t index, const cv::Mat& luma, _GstBuffer*) {
    originals[index] = luma.clone();
  });
  ClipRun run;
  vigil::groundtruth::LeakScorer scorer(60);
  vigil::groundtruth::runClip(clip.string(), filter, [&](std::int64_t index, const cv::Mat& luma, _GstBuffer*) {
    ASSERT_LT(static_cast<std::size_t>(index), truth.size());
    const cv::Mat& original = originals.at(index);
    scorer.addFrame(truth[static_cast<std::size_t>(index)], original, luma);
    run.changed_area += vigil::groundtruth::changedAreaFraction(original, luma) / frames;
  });
  run.report = scorer.report();
  return run;
}

TEST(LeakFloor, PlateblurOnGeneratedClip) {
  TempDir dir;
  // The scorer itself on untouched output: nearly every plate-frame readable.
  const ClipRun untouched = runScene(true, "identity", dir.path);
  ASSERT_GT(untouched.report.plate_frames, 50);
  EXPECT_GE(untouched.report.readableFraction(), kUnredactedReadableAtLeast)
      << untouched.report.readable << " of " << untouched.report.plate_frames << " readable without anonymization";

  const ClipRun anonymized = runScene(true, "plateblur detect-timeout=10000", dir.path);
  std::printf("leak: %d of %d plate-frames >= 60 px readable (%.2f %%); smaller: %d of %d\n",
              anonymized.report.readable, anonymized.report.plate_frames,
              100.0 * anonymized.report.readableFraction(), anonymized.report.small_readable,
              anonymized.report.small_plate_frames);
  EXPECT_LE(anonymized.report.readableFraction(), kLeakFloor);

  const ClipRun empty = runScene(false, "plateblur detect-timeout=10000 mode=fill", dir.path);
  std::printf("plate-free frames: %.2f %% of the area redacted\n", 100.0 * empty.changed_area);
  EXPECT_LE(empty.changed_area, kPlateFreeAreaFloor);
}

}  // namespace
