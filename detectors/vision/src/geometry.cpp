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

cv::Rect evenRegion(const cv::Rect& region, cv::Size size) {
  const cv::Rect whole(cv::Point(), size);
  const cv::Point top_left(std::max(0, region.x) & ~1, std::max(0, region.y) & ~1);
  const cv::Point bottom_right(std::min(whole.width, region.x + region.width),
                               std::min(whole.height, region.y + region.height));
  const cv::Rect area = cv::Rect(top_left, bottom_right) & whole;
  return area.width < 2 || area.height < 2 ? cv::Rect() : area;
}

}  // namespace vigil::vision
