// Test-only toy detector: the moving regions between two grey frames. Plain
// C++ on cv::Mat, like every Vigil detector; it exists to show what adding an
// analytic touches (docs/ARCHITECTURE.md section 4).
#pragma once

#include <opencv2/core.hpp>

#include <vector>

namespace vigil::toy {

class MotionCounter {
 public:
  explicit MotionCounter(int min_area) : min_area_(min_area) {}

  // Boxes (in `grey`'s pixels) of the regions that changed since the previous
  // frame, each at least `min_area` pixels; none on the first frame or when
  // the size changes.
  std::vector<cv::Rect> update(const cv::Mat& grey);

 private:
  int min_area_;
  cv::Mat previous_;
};

}  // namespace vigil::toy
