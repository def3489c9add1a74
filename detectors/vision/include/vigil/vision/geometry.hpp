// Sizes of the downscaled copies detectors work on.
#pragma once

#include <opencv2/core.hpp>

namespace vigil::vision {

// A width x height picture scaled so its longer side is at most `max_side`
// (0: not scaled), both sides even (the YUV 4:2:0 conversions need them) and
// at least 2. Callers scale boxes back with width / result width, so a dropped
// odd column is harmless.
cv::Size downscaledSize(int width, int height, int max_side);

// `region` clipped to a picture of `size`, its top-left corner moved to even
// coordinates so a 4:2:0 picture's chroma region matches it exactly (the
// BGR readers of test images do the same, so both see the same pixels).
// Narrower or lower than 2 px: an empty rectangle.
cv::Rect evenRegion(const cv::Rect& region, cv::Size size);

}  // namespace vigil::vision
