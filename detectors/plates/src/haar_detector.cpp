// The `haar` backend: OpenCV's Russian plate cascade from opencv-data. Kept as
// a measured alternative; it misses most non-Russian plate styles.
#include "backends.hpp"
#include "vigil/vision/nms.hpp"

#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <stdexcept>

namespace vigil::plates {
namespace {

constexpr const char* kDefaultCascade =
    "/usr/share/opencv4/haarcascades/haarcascade_russian_plate_number.xml";
constexpr int kDefaultMaxSide = 960;
constexpr double kScaleStep = 1.1;
constexpr int kMinNeighbours = 3;
constexpr int kMinWidth = 30;  // detector pixels
constexpr float kNmsIou = 0.3f;
// A box mostly inside a better one is dropped too (a word inside its plate).
constexpr float kNmsInside = 0.8f;

class HaarDetector final : public PlateDetector {
 public:
  explicit HaarDetector(const DetectorOptions& options)
      : max_side_(options.max_side >= 0 ? options.max_side : kDefaultMaxSide) {
    const std::string path = options.model_path.empty() ? kDefaultCascade : options.model_path;
    if (!cascade_.load(path)) {
      throw std::runtime_error("cannot load the plate cascade '" + path +
                               "' (Debian package opencv-data)");
    }
  }
  InputSpec input() const override { return {false, max_side_}; }
  std::string name() const override { return kBackendHaar; }

  std::vector<PlateDetection> detect(const cv::Mat& image) override {
    double ignored = 1.0;
    const cv::Mat grey = prepareInput(image, {false, 0}, &ignored);
    std::vector<cv::Rect> boxes;
    std::vector<int> neighbours;
    cascade_.detectMultiScale(grey, boxes, neighbours, kScaleStep, kMinNeighbours, 0,
                              cv::Size(kMinWidth, kMinWidth / 3));
    std::vector<PlateDetection> found;
    for (std::size_t i = 0; i < boxes.size(); ++i) {
      const float score = std::min(1.f, static_cast<float>(neighbours[i]) / (4.f * kMinNeighbours));
      found.push_back({cv::Rect2f(boxes[i]), score});
    }
    return vision::suppressOverlaps(std::move(found), kNmsIou, kNmsInside);
  }

 private:
  int max_side_;
  cv::CascadeClassifier cascade_;
};

}  // namespace

std::unique_ptr<PlateDetector> makeHaarDetector(const DetectorOptions& options) {
  return std::make_unique<HaarDetector>(options);
}

}  // namespace vigil::plates
