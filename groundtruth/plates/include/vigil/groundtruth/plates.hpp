// Ground truth for licence-plate anonymization: vehicles carrying rendered
// plates (EU, UK front/rear, US styles, DejaVu fonts), moving, growing as they
// approach, some blurred, some partly hidden by a pole; and the leak scorer
// that says which plate-frames are still readable after anonymization.
#pragma once

#include "vigil/groundtruth/scene.hpp"

#include <opencv2/core.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace vigil::groundtruth {

enum class PlateStyle { Eu, UkFront, UkRear, Us };
const char* plateStyleName(PlateStyle style);

// A random registration in the style's pattern (e.g. UK "AB12 CDE").
std::string randomPlateText(PlateStyle style, std::mt19937& random);

// The plate alone, front-on, at its style's reference size (EU/UK 520x112,
// US 360x180), text fitted with a DejaVu font (cv::freetype).
cv::Mat renderPlate(PlateStyle style, const std::string& text);

struct PlateLayerOptions {
  std::int64_t frames = 150;       // clip length the vehicles are scheduled over
  int vehicles = 6;                // over the clip, a few at a time
  int min_plate_width = 50;        // pixels, when far
  int max_plate_width = 220;       // pixels, when near
  double blurred_fraction = 0.25;  // vehicles whose plate is out of focus
  double occluded_fraction = 0.2;  // vehicles passing behind a pole
  bool with_plates = true;         // false: the same vehicles without plates
};

class PlateLayer final : public Layer {
 public:
  PlateLayer(cv::Size frame_size, std::uint32_t seed, PlateLayerOptions options = {});
  void render(cv::Mat& bgr, std::int64_t frame, std::vector<TruthObject>& truth) override;

  struct Vehicle {
    std::int64_t id = 0;
    PlateStyle style = PlateStyle::Eu;
    std::string text;
    cv::Mat plate;            // reference rendering
    Path path;                // plate centre over time
    int width_from = 0;       // plate width at path start / end
    int width_to = 0;
    cv::Scalar body_colour;
    double blur_sigma = 0.0;  // in plate-height fractions; 0 sharp
    float pole_offset = -1.f; // pole centre as a fraction of plate width, < 0 none
    float pole_width = 0.f;   // fraction of plate width
  };
  const std::vector<Vehicle>& vehicles() const { return vehicles_; }

 private:
  // Draws one vehicle (and its plate's truth); returns the body's box.
  cv::Rect drawVehicle(cv::Mat& bgr, const Vehicle& vehicle, std::int64_t frame,
                       std::vector<TruthObject>& truth) const;
  cv::Size frame_size_;
  PlateLayerOptions options_;
  std::vector<Vehicle> vehicles_;
};

// ---- Leak scoring ----

// How much of the plate's character structure survives in `output`, compared
// with `original` (same-size crops, BGR or grey): the SSIM structure x
// contrast term, 2 cov / (var_o + var_x), on band-passed luma normalised to a
// fixed height. 1: identical strokes; ~0: strokes destroyed (blur, fill, a
// different picture). Calibrated in tests/plates (leak_metric test).
double plateReadability(const cv::Mat& original, const cv::Mat& output);

// A crop scoring at or above this is counted as readable. Set where a plate
// blurred by 12 % of its character height (still legible to a person) scores,
// so borderline crops count as leaks.
inline constexpr double kReadableThreshold = 0.45;

struct LeakReport {
  int plate_frames = 0;         // plates >= min width, one count per frame
  int readable = 0;
  int small_plate_frames = 0;   // narrower plates (reported, not in the target)
  int small_readable = 0;
  double readableFraction() const { return plate_frames ? double(readable) / plate_frames : 0.0; }
};

class LeakScorer {
 public:
  explicit LeakScorer(int min_width = 60, double threshold = kReadableThreshold);
  // `original` is the frame as it entered the anonymizer, `output` as it left.
  void addFrame(const FrameTruth& truth, const cv::Mat& original, const cv::Mat& output);
  const LeakReport& report() const { return report_; }

 private:
  int min_width_;
  double threshold_;
  LeakReport report_;
};

// Fraction of pixels that differ between two same-size frames (any channel
// by more than `tolerance`): the redacted area when the frames come from the
// same decode.
double changedAreaFraction(const cv::Mat& original, const cv::Mat& output, int tolerance = 0);

}  // namespace vigil::groundtruth

#include <functional>

struct _GstBuffer;

namespace vigil::groundtruth {

// Decodes an H.264 Matroska clip (as writeClip writes it) to I420, passes it
// through `filter` (a gst-launch fragment such as "plateblur interval=3";
// empty for none) and calls `on_frame` with each output frame's luma plane
// (a view valid during the call) and its buffer (for metas). Throws
// std::runtime_error when the pipeline fails.
void runClip(const std::string& path, const std::string& filter,
             const std::function<void(std::int64_t index, const cv::Mat& luma, _GstBuffer* buffer)>& on_frame);

}  // namespace vigil::groundtruth
