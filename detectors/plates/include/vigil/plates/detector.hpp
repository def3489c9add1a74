// Licence-plate detectors behind one interface, chosen by backend name.
//
// Backends (measured on the synthetic ground truth of groundtruth/plates; the
// figures and the reason for the default are in detectors/plates/README.md):
//   edges  — a classical localiser: dense vertical character edges on a
//            downscaled luma, closed into rows and filtered by shape. Default.
//   haar   — OpenCV's haarcascade_russian_plate_number.xml (opencv-data).
//   onnx   — a user-supplied YOLO-style ONNX detector (see yolo.hpp).
// Detectors return boxes in the pixels of the image they were given; the
// caller prepares that image as the detector's InputSpec asks (e.g. a
// downscaled luma) and scales the boxes back.
#pragma once

#include <opencv2/core.hpp>

#include <memory>
#include <string>
#include <vector>

namespace vigil::plates {

struct PlateDetection {
  cv::Rect2f box;     // image pixels
  float score = 0.f;  // 0..1
};

// What a detector wants to be fed: grey or colour, and the longest side.
struct InputSpec {
  bool colour = false;  // false: single-channel luma; true: BGR
  int max_side = 0;     // 0: any size (full resolution)
};

class PlateDetector {
 public:
  virtual ~PlateDetector() = default;
  virtual InputSpec input() const = 0;
  // `image` is CV_8UC1 or CV_8UC3 (either accepted; converted if needed).
  // Throws std::invalid_argument on an unusable image.
  virtual std::vector<PlateDetection> detect(const cv::Mat& image) = 0;
  virtual std::string name() const = 0;
};

struct DetectorOptions {
  std::string model_path;        // haar: cascade XML (default from opencv-data); onnx: required
  float score_threshold = -1.f;  // < 0: the backend's own default
  int input_size = 640;          // onnx: square network input
  int max_side = -1;             // < 0: backend default working resolution
};

inline constexpr const char* kBackendEdges = "edges";
inline constexpr const char* kBackendHaar = "haar";
inline constexpr const char* kBackendOnnx = "onnx";
inline constexpr const char* kDefaultBackend = kBackendEdges;

// Known backend names, for help texts and validation.
std::vector<std::string> backendNames();

// Throws std::invalid_argument for an unknown backend and std::runtime_error
// (naming the file) when a model cannot be loaded.
std::unique_ptr<PlateDetector> makePlateDetector(const std::string& backend,
                                                 const DetectorOptions& options = {});

// Resizes/converts an image (BGR or grey, any size) as `spec` asks. Returns
// the prepared image; `scale` receives prepared size / source size.
cv::Mat prepareInput(const cv::Mat& image, const InputSpec& spec, double* scale);

}  // namespace vigil::plates
