// Mapped video frames as OpenCV matrices: views that honour each plane's stride
// (never assume width * channels), and the one downscaled colour copy detectors use.
#pragma once

#include <gst/video/video.h>
#include <opencv2/core.hpp>

namespace vigil::gst {

// Raw formats Vigil's analysers accept, as a caps string list.
#define VIGIL_ANALYSIS_FORMATS "{ I420, NV12, BGR, BGRx, BGRA, RGB, RGBx, RGBA, GRAY8 }"

// A view (no copy) of one plane: CV_8UC(n) with n the plane's bytes per pixel.
cv::Mat planeView(const GstVideoFrame* frame, int plane);

// The whole frame as BGR, resized so that its longer side is at most `max_side`
// (0: full size). Converts from the downscaled planes, so a 720p I420 frame
// costs well under a millisecond at 640 px. Returns a new matrix.
cv::Mat downscaledBgr(const GstVideoFrame* frame, int max_side);
// A part of the frame as BGR, resized so that its longer side is at most
// `max_side`; `region` is clipped to the frame and its corner rounded down to
// even pixels (the chroma planes of I420/NV12 are half size); `used`, if
// given, receives the frame pixels actually converted. Converts only the
// region: a detector scanning one tile pays for that tile alone.
cv::Mat regionBgr(const GstVideoFrame* frame, const cv::Rect& region, int max_side, cv::Rect* used = nullptr);
// The size downscaledBgr() returns for a frame of width x height (and
// regionBgr() for a region of that size).
cv::Size downscaledSize(int width, int height, int max_side);

// Luma (grey) view of the frame: the Y plane for YUV formats without any copy,
// a converted copy for packed RGB formats.
cv::Mat lumaView(const GstVideoFrame* frame);

}  // namespace vigil::gst
