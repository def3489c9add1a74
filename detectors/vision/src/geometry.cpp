#include "vigil/vision/geometry.hpp"

#include <algorithm>

namespace vigil::vision {

cv::Size downscaledSize(int width, int height, int max_side) {
  if (max_side <= 0 || std::max(width, height) <= max_side) {
    return {std::max(2, width & ~1), std::max(2, height & ~1)};
  }
  const double scale = static_cast<double>(max_side) / std::max(width, height);
  return {std::max(2, static_cast<int>(width * scale + 0.5)) & ~1,
          std::max(2, static_cast<int>(height * scale + 0.5)) & ~1};
}

}  // namespace vigil::vision
