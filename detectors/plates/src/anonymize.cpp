#include "vigil/plates/anonymize.hpp"

#include <stdexcept>

namespace vigil::plates {

std::vector<cv::Rect> anonymizeImage(cv::Mat& bgr, PlateDetector& detector,
                                     const RedactionStyle& style,
                                     const ImageAnonymizeOptions& options) {
  if (bgr.empty() || bgr.type() != CV_8UC3) {
    throw std::invalid_argument("anonymizeImage needs a non-empty 8-bit BGR image");
  }
  double scale = 1.0;
  const cv::Mat input = prepareInput(bgr, detector.input(), &scale);
  const cv::Rect frame(0, 0, bgr.cols, bgr.rows);
  std::vector<cv::Rect> redacted;
  for (const auto& found : detector.detect(input)) {
    const auto to_image = static_cast<float>(1.0 / scale);
    const cv::Rect2f box(found.box.x * to_image, found.box.y * to_image,
                         found.box.width * to_image, found.box.height * to_image);
    const cv::Rect area = padded(box, options.padding, options.min_padding_pixels) & frame;
    if (area.empty()) continue;
    redactBgr(bgr, area, style);
    redacted.push_back(area);
  }
  return redacted;
}

}  // namespace vigil::plates
