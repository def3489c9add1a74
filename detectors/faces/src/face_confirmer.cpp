#include "vigil/faces/face_confirmer.hpp"

#include "backends.hpp"
#include "model_pool.hpp"
#include "vigil/faces/face_detector.hpp"

#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

namespace vigil::faces {

namespace {

// Chosen on the field corpus' dev split (bench/field): of the settings tried
// (face at 48/64/96 px, margin 25/50 %, 1 or 2 neighbours), this one let 3 of
// 114 phantoms through and kept 52 % of real mid-score faces per scan (a
// tracked face needs only one confirmed scan in a while to stay counted).
constexpr double kFaceHeight = 64.0;     // the face is looked at this tall
constexpr float kMargin = 0.5f;          // context around the box, share of its size
constexpr double kScaleStep = 1.05;
constexpr int kMinNeighbours = 2;
constexpr double kSmallestShare = 0.6;   // of kFaceHeight: smaller finds are not this face

}  // namespace

struct FaceConfirmer::Cascades {
  cv::CascadeClassifier frontal;
  cv::CascadeClassifier profile;
};

FaceConfirmer::FaceConfirmer(const std::string& data_dir) {
  const std::string base = data_dir.empty() ? std::string(VIGIL_OPENCV_DATA_DIR) : data_dir;
  cascades_ = detail::ModelPool<Cascades>::shared().acquire(base, [&] {
    auto cascades = std::make_unique<Cascades>();
    const std::pair<cv::CascadeClassifier*, std::string> wanted[] = {
        {&cascades->frontal, base + "/haarcascades/haarcascade_frontalface_alt2.xml"},
        {&cascades->profile, base + "/haarcascades/haarcascade_profileface.xml"},
    };
    for (const auto& [cascade, path] : wanted) {
      detail::requireReadableFile(path, "Haar cascade");
      try {
        if (!cascade->load(path)) throw ModelError("Haar cascade " + path + " could not be parsed");
      } catch (const cv::Exception& error) {
        throw ModelError("cannot load Haar cascade " + path + ": " + error.what());
      }
    }
    return cascades;
  });
}

FaceConfirmer::~FaceConfirmer() = default;

bool FaceConfirmer::confirms(const cv::Mat& bgr, const cv::Rect2f& face) {
  if (bgr.empty() || face.height <= 0.f || face.width <= 0.f) return false;
  const cv::Rect around = cv::Rect(cv::Rect2f(face.x - kMargin * face.width, face.y - kMargin * face.height,
                                              face.width * (1.f + 2.f * kMargin),
                                              face.height * (1.f + 2.f * kMargin))) &
                          cv::Rect(0, 0, bgr.cols, bgr.rows);
  if (around.empty()) return false;
  cv::Mat grey;
  cv::cvtColor(bgr(around), grey, cv::COLOR_BGR2GRAY);
  const double scale = kFaceHeight / face.height;
  cv::resize(grey, grey, cv::Size(), scale, scale, scale < 1.0 ? cv::INTER_AREA : cv::INTER_LINEAR);
  cv::equalizeHist(grey, grey);
  const int smallest = static_cast<int>(kFaceHeight * kSmallestShare);
  std::vector<cv::Rect> found;
  cascades_->frontal.detectMultiScale(grey, found, kScaleStep, kMinNeighbours, 0, cv::Size(smallest, smallest));
  if (!found.empty()) return true;
  // The profile cascade knows left-facing heads only: look at the mirror too.
  cascades_->profile.detectMultiScale(grey, found, kScaleStep, kMinNeighbours, 0, cv::Size(smallest, smallest));
  if (!found.empty()) return true;
  cv::flip(grey, grey, 1);
  cascades_->profile.detectMultiScale(grey, found, kScaleStep, kMinNeighbours, 0, cv::Size(smallest, smallest));
  return !found.empty();
}

}  // namespace vigil::faces
