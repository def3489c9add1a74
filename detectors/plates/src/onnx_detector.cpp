// The `onnx` backend: a user's own YOLO-style plate detector (any class counts
// as a plate), run through OpenCV DNN on letterboxed RGB input in [0, 1].
#include "backends.hpp"
#include "vigil/vision/nms.hpp"
#include "vigil/plates/yolo.hpp"

#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace vigil::plates {

namespace {
constexpr float kDefaultScoreThreshold = 0.25f;
constexpr float kNmsIou = 0.45f;
// A box mostly inside a better one is dropped too (a word inside its plate).
constexpr float kNmsInside = 0.8f;
constexpr int kLetterboxGrey = 114;  // the padding value YOLO models are trained with
}  // namespace

YoloLayout detectYoloLayout(const cv::Mat& output) {
  if (output.dims != 3 || output.size[0] != 1 || output.type() != CV_32F) {
    throw std::invalid_argument("YOLO output must be a float tensor [1, a, b]");
  }
  const int a = output.size[1];
  const int b = output.size[2];
  if (a > b && b >= 6) return YoloLayout::V5RowsPerBox;
  if (b > a && a >= 5) return YoloLayout::V8ColumnsPerBox;
  throw std::invalid_argument("cannot tell the YOLO layout of output [1, " + std::to_string(a) +
                              ", " + std::to_string(b) + "]");
}

Letterbox fitLetterbox(cv::Size source, int side) {
  if (source.width <= 0 || source.height <= 0 || side <= 0) {
    throw std::invalid_argument("letterbox needs a non-empty image and network size");
  }
  Letterbox box;
  box.source = source;
  box.scale = std::min(static_cast<double>(side) / source.width,
                       static_cast<double>(side) / source.height);
  box.pad_x = (side - source.width * box.scale) / 2.0;
  box.pad_y = (side - source.height * box.scale) / 2.0;
  return box;
}

std::vector<PlateDetection> decodeYolo(const cv::Mat& output, const Letterbox& letterbox,
                                       float score_threshold) {
  const YoloLayout layout = detectYoloLayout(output);
  const int a = output.size[1];
  const int b = output.size[2];
  const float* data = output.ptr<float>();
  const int boxes = layout == YoloLayout::V5RowsPerBox ? a : b;
  const int width = layout == YoloLayout::V5RowsPerBox ? b : a;
  // Element `field` of box `i` in either layout.
  auto at = [&](int i, int field) {
    return layout == YoloLayout::V5RowsPerBox ? data[static_cast<std::size_t>(i) * b + field]
                                              : data[static_cast<std::size_t>(field) * b + i];
  };
  const int first_class = layout == YoloLayout::V5RowsPerBox ? 5 : 4;
  std::vector<PlateDetection> found;
  const cv::Rect2f bounds(0.f, 0.f, static_cast<float>(letterbox.source.width),
                          static_cast<float>(letterbox.source.height));
  for (int i = 0; i < boxes; ++i) {
    float best_class = first_class < width ? 0.f : 1.f;  // single-output models: objectness only
    for (int c = first_class; c < width; ++c) best_class = std::max(best_class, at(i, c));
    const float score = layout == YoloLayout::V5RowsPerBox ? at(i, 4) * best_class : best_class;
    if (!(score >= score_threshold)) continue;  // also rejects NaN
    const double cx = (at(i, 0) - letterbox.pad_x) / letterbox.scale;
    const double cy = (at(i, 1) - letterbox.pad_y) / letterbox.scale;
    const double w = at(i, 2) / letterbox.scale;
    const double h = at(i, 3) / letterbox.scale;
    cv::Rect2f box(static_cast<float>(cx - w / 2), static_cast<float>(cy - h / 2),
                   static_cast<float>(w), static_cast<float>(h));
    box &= bounds;
    if (box.area() <= 0.f) continue;
    found.push_back({box, score});
  }
  return found;
}

namespace {

class OnnxDetector final : public PlateDetector {
 public:
  explicit OnnxDetector(const DetectorOptions& options)
      : side_(options.input_size),
        score_threshold_(options.score_threshold >= 0.f ? options.score_threshold
                                                        : kDefaultScoreThreshold) {
    if (options.model_path.empty()) {
      throw std::runtime_error("the onnx plate backend needs a model file (model-location)");
    }
    if (side_ <= 0 || side_ % 32 != 0) {
      throw std::invalid_argument("onnx input size must be a positive multiple of 32");
    }
    try {
      net_ = cv::dnn::readNetFromONNX(options.model_path);
    } catch (const cv::Exception& error) {
      throw std::runtime_error("cannot load the ONNX plate model '" + options.model_path +
                               "': " + error.what());
    }
    if (net_.empty()) throw std::runtime_error("empty ONNX plate model '" + options.model_path + "'");
    net_.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  }
  // The network sees side x side; feeding more pixels only costs the resize.
  InputSpec input() const override { return {true, side_}; }
  std::string name() const override { return kBackendOnnx; }

  std::vector<PlateDetection> detect(const cv::Mat& image) override {
    double ignored = 1.0;
    const cv::Mat bgr = prepareInput(image, {true, 0}, &ignored);
    const Letterbox letterbox = fitLetterbox(bgr.size(), side_);
    cv::Mat square(side_, side_, CV_8UC3, cv::Scalar::all(kLetterboxGrey));
    const cv::Size fitted(static_cast<int>(std::lround(bgr.cols * letterbox.scale)),
                          static_cast<int>(std::lround(bgr.rows * letterbox.scale)));
    cv::Mat target = square(cv::Rect(static_cast<int>(letterbox.pad_x),
                                     static_cast<int>(letterbox.pad_y),
                                     std::min(fitted.width, side_), std::min(fitted.height, side_)));
    cv::resize(bgr, target, target.size(), 0, 0, cv::INTER_LINEAR);
    const cv::Mat blob = cv::dnn::blobFromImage(square, 1.0 / 255.0, cv::Size(), cv::Scalar(),
                                                /*swapRB=*/true, /*crop=*/false);
    net_.setInput(blob);
    const cv::Mat output = net_.forward();
    return vision::suppressOverlaps(decodeYolo(output, letterbox, score_threshold_), kNmsIou, kNmsInside);
  }

 private:
  int side_;
  float score_threshold_;
  cv::dnn::Net net_;
};

}  // namespace

std::unique_ptr<PlateDetector> makeOnnxDetector(const DetectorOptions& options) {
  return std::make_unique<OnnxDetector>(options);
}

}  // namespace vigil::plates
