// Redaction of rectangular regions, in place, on BGR images and on the planes
// of I420 / NV12 frames (what decoders output, so the element never converts
// a whole frame). Every mode destroys the characters' strokes: the strength
// scales with the box so a large plate is as unreadable as a small one.
#pragma once

#include <opencv2/core.hpp>

#include <string>
#include <vector>

namespace vigil::plates {

enum class RedactionMode { Blur, Pixelate, Fill, Image };

// Parses/prints the names used by the CLI and the element: blur, pixelate,
// fill, image. Throws std::invalid_argument on an unknown name.
RedactionMode redactionModeFromName(const std::string& name);
const char* redactionModeName(RedactionMode mode);

struct RedactionStyle {
  RedactionMode mode = RedactionMode::Blur;
  cv::Scalar fill_bgr{0, 0, 0};
  cv::Mat image_bgr;  // Image mode: scaled onto each box (CV_8UC3)
};

// Loads the Image-mode picture; throws std::runtime_error naming the file.
cv::Mat loadRedactionImage(const std::string& path);

// Planes of a YUV 4:2:0 frame as views (strides honoured): I420 has u and v,
// NV12 has an interleaved uv (CV_8UC2) and empty u/v.
struct Yuv420Planes {
  cv::Mat y;
  cv::Mat u;
  cv::Mat v;
  cv::Mat uv;
};

// Boxes are clamped to the image; an empty intersection is a no-op.
void redactBgr(cv::Mat& bgr, const cv::Rect& box, const RedactionStyle& style);
void redactGrey(cv::Mat& grey, const cv::Rect& box, const RedactionStyle& style);
// The box is first grown to even coordinates so luma and chroma cover the same area.
void redactYuv420(Yuv420Planes& planes, const cv::Rect& box, const RedactionStyle& style);

// The box grown by `fraction` of its size on every side (and at least
// `min_pixels`), not clamped.
cv::Rect padded(const cv::Rect2f& box, float fraction, int min_pixels = 0);

}  // namespace vigil::plates
