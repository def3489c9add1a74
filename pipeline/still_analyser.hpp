// Still images through the video path: `vigil analyze` and the HTTP image API.
//
// Each image goes through a small real GStreamer pipeline of the same
// elements a camera's frames go through:
//
//   appsrc (BGR) ! videoconvert ! I420 ! facecount ! codereader ! plateblur ! appsink
//
// and the answer is read from the buffer metadata they attach, in the layout
// eventpublish gives it on the bus. Why not call the detectors directly: the
// elements are not thin wrappers. facecount plans tiles, confirms unsure
// faces with a Haar cascade, tracks and smooths; codereader crops, tracks and
// parses GS1; plateblur pads, schedules and redacts, and it alone decides
// which pixels a redaction covers. Calling the libraries would mean a second
// copy of that orchestration, which drifts; a one-frame pipeline is the video
// path itself, so a still gets exactly what that frame would get in a stream.
//
// A pipeline is used for one image only (the elements keep per-stream state:
// tracks, smoothing, "appeared" codes), and a fresh one loads its models when
// started. So pipelines are built and started ahead of need by a warmer
// thread: an image takes a ready one, and loading the next overlaps the
// analysis of this one.
#pragma once

#include "config.hpp"
#include "image_input.hpp"

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::pipeline {

enum class StillFormat { kJpeg, kWebp, kPng };
// "jpeg" (or "jpg"), "webp", "png"; nullopt otherwise.
std::optional<StillFormat> stillFormatNamed(const std::string& name);
const char* stillExtension(StillFormat format);  // "jpg", "webp", "png"
const char* stillMimeType(StillFormat format);
// Throws std::runtime_error when OpenCV cannot encode.
std::vector<unsigned char> encodeStill(const cv::Mat& bgr, StillFormat format);

// "faces,codes,plates" (any order, no repeats) -> the analytics to run, each
// with its element, in pipeline order (redacting ones last). Throws
// std::invalid_argument naming an unknown analytic.
std::vector<AnalyticConfig> stillAnalyticsNamed(const std::string& list);

struct StillOptions {
  // What to run and report, with element properties as in a source's config.
  std::vector<AnalyticConfig> analytics;
  // Redacted pixels may be asked for: adds the redacting element (with
  // `redaction_properties`) when no listed analytic redacts.
  bool anonymize = false;
  // Properties for the redacting element (plateblur: mode, image-location,
  // fill-color, redact-roi-types), over those in `analytics`.
  std::vector<std::pair<std::string, std::string>> redaction_properties;
  std::int64_t max_pixels = kDefaultMaxImagePixels;
  // Pipelines kept started ahead of need (at least 1).
  int spares = 1;
};

struct StillResult {
  // {"width", "height", "<kind>": {summary keys..., "objects": [...]}, ...}
  nlohmann::json report;
  cv::Mat redacted;  // BGR, when asked for
};

class StillAnalyser {
 public:
  // Builds and starts the first pipeline, so a bad property or a missing
  // model fails here. Throws std::runtime_error (or ConfigError).
  explicit StillAnalyser(StillOptions options);
  ~StillAnalyser();
  StillAnalyser(const StillAnalyser&) = delete;
  StillAnalyser& operator=(const StillAnalyser&) = delete;

  // Thread-safe; each call uses a pipeline of its own. `redacted`: also
  // return the redacted pixels (needs StillOptions::anonymize). Throws
  // ImageError for input that is refused, std::runtime_error when the
  // pipeline fails.
  StillResult analyse(std::string_view encoded, bool redacted = false) const;
  StillResult analyseDecoded(const cv::Mat& bgr, bool redacted = false) const;

  const StillOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::pipeline
