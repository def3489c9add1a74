// zbar for 1-D symbols, behind a small interface so that zbar's C++ header and
// zxing-cpp's macros never meet in one translation unit.
#pragma once

#include "vigil/codes/code_reader.hpp"

#include <vector>

namespace vigil::codes::detail {

class LinearScanner {
 public:
  explicit LinearScanner(const ReaderOptions& options);
  ~LinearScanner();
  LinearScanner(const LinearScanner&) = delete;
  LinearScanner& operator=(const LinearScanner&) = delete;

  // Appends the 1-D symbols found in `grey` (CV_8UC1) to `out`, with
  // positions moved by `offset` (where `grey` sits in the caller's image).
  // `step` is the spacing of zbar's scan lines in both directions.
  void read(const cv::Mat& grey, cv::Point offset, int step, std::vector<Code>& out);

 private:
  void* scanner_;  // zbar::zbar_image_scanner_t, opaque here
  int itf_length_;
};

}  // namespace vigil::codes::detail
