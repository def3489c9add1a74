// Haar cascade fallback: needs only Debian's opencv-data. Slower and less
// sensitive than BlazeFace (see shared/MODELS.md), but no download.
#include "backends.hpp"

#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <algorithm>

namespace vigil::faces::detail {

namespace {

constexpr double kScaleStep = 1.15;
constexpr int kMinNeighbours = 4;
// The cascade's own window is 20x20; below ~24 px it mostly finds noise.
constexpr int kSmallestFace = 24;
constexpr float kCascadeScore = 1.f;

class HaarDetector final : public FaceDetector {
 public:
  HaarDetector(const DetectorOptions& options, const std::string& path)
      : FaceDetector(options, path) {
    requireReadableFile(path, "Haar cascade");
    try {
      if (!cascade_.load(path) || cascade_.empty()) {
        throw ModelError("Haar cascade " + path + " could not be parsed as a cascade classifier");
      }
    } catch (const cv::Exception& error) {
      throw ModelError("cannot load Haar cascade " + path + ": " + error.what());
    }
  }

 protected:
  std::vector<Face> detectTile(const cv::Mat& bgr) override {
    cv::Mat grey;
    cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
    cv::equalizeHist(grey, grey);
    const int smallest = std::max(kSmallestFace, options().min_face_size);
    std::vector<cv::Rect> boxes;
    cascade_.detectMultiScale(grey, boxes, kScaleStep, kMinNeighbours, 0,
                              cv::Size(smallest, smallest));
    std::vector<Face> faces;
    for (const cv::Rect& box : boxes) faces.push_back({cv::Rect2f(box), kCascadeScore});
    return faces;
  }

 private:
  cv::CascadeClassifier cascade_;
};

}  // namespace

std::unique_ptr<FaceDetector> makeHaar(const DetectorOptions& options, const std::string& path) {
  return std::make_unique<HaarDetector>(options, path);
}

}  // namespace vigil::faces::detail
