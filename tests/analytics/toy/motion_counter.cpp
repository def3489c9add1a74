#include "motion_counter.hpp"

#include <opencv2/imgproc.hpp>

namespace vigil::toy {

namespace {

// Grey-level change that counts as motion: well above sensor noise.
constexpr double kChangeThreshold = 25;

}  // namespace

std::vector<cv::Rect> MotionCounter::update(const cv::Mat& grey) {
  CV_Assert(grey.type() == CV_8UC1);
  std::vector<cv::Rect> boxes;
  if (previous_.empty() || previous_.size() != grey.size()) {
    grey.copyTo(previous_);
    return boxes;
  }
  cv::Mat difference, changed, labels, stats, centroids;
  cv::absdiff(grey, previous_, difference);
  cv::threshold(difference, changed, kChangeThreshold, 255, cv::THRESH_BINARY);
  const int count = cv::connectedComponentsWithStats(changed, labels, stats, centroids, 8, CV_32S);
  for (int label = 1; label < count; ++label) {  // 0 is the unchanged background
    if (stats.at<int>(label, cv::CC_STAT_AREA) < min_area_) continue;
    boxes.emplace_back(stats.at<int>(label, cv::CC_STAT_LEFT), stats.at<int>(label, cv::CC_STAT_TOP),
                       stats.at<int>(label, cv::CC_STAT_WIDTH), stats.at<int>(label, cv::CC_STAT_HEIGHT));
  }
  grey.copyTo(previous_);
  return boxes;
}

}  // namespace vigil::toy
