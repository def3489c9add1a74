#include "vigil/plates/detector.hpp"

#include "backends.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <stdexcept>

namespace vigil::plates {

std::vector<std::string> backendNames() { return {kBackendEdges, kBackendHaar, kBackendOnnx}; }

std::unique_ptr<PlateDetector> makePlateDetector(const std::string& backend,
                                                 const DetectorOptions& options) {
  if (backend == kBackendEdges) return makeEdgeLocaliser(options);
  if (backend == kBackendHaar) return makeHaarDetector(options);
  if (backend == kBackendOnnx) return makeOnnxDetector(options);
  throw std::invalid_argument("unknown plate detector backend '" + backend +
                              "' (known: edges, haar, onnx)");
}

cv::Mat prepareInput(const cv::Mat& image, const InputSpec& spec, double* scale) {
  if (image.empty() || image.depth() != CV_8U ||
      (image.channels() != 1 && image.channels() != 3 && image.channels() != 4)) {
    throw std::invalid_argument("plate detector input must be an 8-bit grey, BGR or BGRA image");
  }
  cv::Mat converted;
  if (spec.colour) {
    if (image.channels() == 1) cv::cvtColor(image, converted, cv::COLOR_GRAY2BGR);
    else if (image.channels() == 4) cv::cvtColor(image, converted, cv::COLOR_BGRA2BGR);
    else converted = image;
  } else {
    if (image.channels() == 3) cv::cvtColor(image, converted, cv::COLOR_BGR2GRAY);
    else if (image.channels() == 4) cv::cvtColor(image, converted, cv::COLOR_BGRA2GRAY);
    else converted = image;
  }
  const int longest = std::max(converted.cols, converted.rows);
  double factor = 1.0;
  if (spec.max_side > 0 && longest > spec.max_side) {
    factor = static_cast<double>(spec.max_side) / longest;
    cv::Mat resized;
    cv::resize(converted, resized, cv::Size(), factor, factor, cv::INTER_AREA);
    converted = resized;
  }
  if (scale) *scale = factor;
  return converted.data == image.data ? converted.clone() : converted;
}

}  // namespace vigil::plates
