// Where the picture changed since the previous frame, on a small grey copy.
// Motion is not a face's business: facecount's scan planner looks there for
// arrivals no tracked face accounts for, and its follower skips the template
// search for a face whose region did not change at all (a person standing in
// a queue); any analytic may ask the same of its own frames.
#pragma once

#include <opencv2/core.hpp>

namespace vigil::vision {

class ChangeMask {
 public:
  // `level`: least grey-level difference that counts as a change (below it:
  // sensor and compression noise).
  explicit ChangeMask(int level = 16) : level_(level) {}

  // This frame against the previous one: CV_8U, 255 where the grey level moved
  // by more than the level. Empty on the first frame and after a size change.
  const cv::Mat& update(const cv::Mat& grey);
  const cv::Mat& mask() const { return mask_; }
  void setLevel(int level) { level_ = level; }

 private:
  int level_;
  cv::Mat previous_;
  cv::Mat mask_;
};

// Changed pixels in `area` of `mask` (clipped to it); 0 for an empty mask.
int changedPixels(const cv::Mat& mask, const cv::Rect& area);

}  // namespace vigil::vision
