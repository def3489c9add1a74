// Still images with known content for the image API's tests and bench: a
// checkout-like picture with faces from the annotated photographs, a QR code,
// a GS1 DataMatrix and a rendered licence plate, each placed by the seed.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace vigil::groundtruth {

struct StillTruth {
  std::vector<cv::Rect> faces;
  std::vector<std::string> code_texts;  // canonical text a correct reader reports
  std::vector<cv::Rect> plates;
};

// A BGR picture of `size` (at least 640x360). Throws std::runtime_error when
// the face photographs are not installed (scripts/setup.sh).
cv::Mat checkoutStill(cv::Size size, std::uint32_t seed, StillTruth* truth = nullptr);

}  // namespace vigil::groundtruth
