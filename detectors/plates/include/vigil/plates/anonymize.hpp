// One-shot anonymization of still images (the batch mode of the original
// service): detect, pad, redact. No tracking, no carry-forward.
#pragma once

#include "vigil/plates/detector.hpp"
#include "vigil/plates/redaction.hpp"

#include <opencv2/core.hpp>

#include <vector>

namespace vigil::plates {

struct ImageAnonymizeOptions {
  float padding = 0.15f;  // fraction of the box added on each side
  int min_padding_pixels = 4;
};

// Redacts every plate found in `bgr` (CV_8UC3, in place); returns the boxes
// redacted, in image pixels.
std::vector<cv::Rect> anonymizeImage(cv::Mat& bgr, PlateDetector& detector,
                                     const RedactionStyle& style,
                                     const ImageAnonymizeOptions& options = {});

}  // namespace vigil::plates
