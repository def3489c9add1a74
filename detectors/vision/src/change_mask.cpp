#include "vigil/vision/change_mask.hpp"

#include <opencv2/imgproc.hpp>

namespace vigil::vision {

const cv::Mat& ChangeMask::update(const cv::Mat& grey) {
  if (grey.empty() || previous_.size() != grey.size() || previous_.type() != grey.type()) {
    mask_.release();
  } else {
    cv::absdiff(grey, previous_, mask_);
    cv::threshold(mask_, mask_, level_, 255, cv::THRESH_BINARY);
  }
  grey.copyTo(previous_);
  return mask_;
}

int changedPixels(const cv::Mat& mask, const cv::Rect& area) {
  if (mask.empty()) return 0;
  const cv::Rect clipped = area & cv::Rect(0, 0, mask.cols, mask.rows);
  return clipped.empty() ? 0 : cv::countNonZero(mask(clipped));
}

}  // namespace vigil::vision
