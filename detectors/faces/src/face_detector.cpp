#include "vigil/faces/face_detector.hpp"

#include "backends.hpp"
#include "vigil/vision/nms.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

namespace vigil::faces {

namespace {

// Neighbouring tiles share this fraction of a tile, so a face cut by one
// tile's border is whole in the next (up to about this fraction of a tile).
constexpr float kTileOverlap = 0.2f;
constexpr int kMaxTilesPerSide = 8;

struct Span {
  int start, length;        // what the detector sees
  int owned_start, owned_end;  // what it answers for
};

// `count` overlapping spans covering [0, extent); owned parts split each
// overlap at its middle.
std::vector<Span> spans(int extent, int count) {
  if (count <= 1) return {{0, extent, 0, extent}};
  const float length = extent / (count - (count - 1) * kTileOverlap);
  const float step = (extent - length) / (count - 1);
  std::vector<Span> result;
  for (int i = 0; i < count; ++i) {
    const int start = static_cast<int>(std::lround(i * step));
    const int end = std::min(extent, static_cast<int>(std::lround(i * step + length)));
    result.push_back({start, end - start, start, end});
  }
  for (int i = 1; i < count; ++i) {
    const int middle = (result[i].start + result[i - 1].start + result[i - 1].length) / 2;
    result[i - 1].owned_end = middle;
    result[i].owned_start = middle;
  }
  return result;
}

}  // namespace

Backend backendFromName(std::string_view name) {
  if (name == "blazeface") return Backend::BlazeFace;
  if (name == "haar") return Backend::Haar;
  throw std::invalid_argument("unknown face detector backend '" + std::string(name) +
                              "' (expected 'blazeface' or 'haar')");
}

const char* backendName(Backend backend) {
  return backend == Backend::BlazeFace ? "blazeface" : "haar";
}

std::string defaultModelPath(Backend backend) {
  if (backend == Backend::Haar) {
    return std::string(VIGIL_OPENCV_DATA_DIR) + "/haarcascades/haarcascade_frontalface_alt2.xml";
  }
  const char* from_environment = std::getenv("VIGIL_MODEL_DIR");
  const std::string directory =
      from_environment && *from_environment ? from_environment : VIGIL_MODEL_DIR;
  return directory + "/blazeface-back-256.onnx";
}

std::vector<Tile> FaceDetector::tiles(cv::Size size) const {
  const int cols = std::clamp(options_.tiles.cols, 1, kMaxTilesPerSide);
  const int rows = std::clamp(options_.tiles.rows, 1, kMaxTilesPerSide);
  std::vector<Tile> result;
  for (const Span& y : spans(size.height, rows)) {
    for (const Span& x : spans(size.width, cols)) {
      result.push_back({cv::Rect(x.start, y.start, x.length, y.length),
                        cv::Rect(x.owned_start, y.owned_start, x.owned_end - x.owned_start,
                                 y.owned_end - y.owned_start)});
    }
  }
  return result;
}

void FaceDetector::checkInput(const cv::Mat& bgr) const {
  if (bgr.type() != CV_8UC3) throw std::invalid_argument("face detector expects a BGR (CV_8UC3) image");
}

std::vector<Face> FaceDetector::finish(std::vector<Face> found, cv::Size size) const {
  const float min_size = static_cast<float>(options_.min_face_size);
  found.erase(std::remove_if(found.begin(), found.end(),
                             [&](const Face& face) {
                               return face.box.height < min_size && face.box.width < min_size;
                             }),
              found.end());
  const cv::Rect2f image(0.f, 0.f, static_cast<float>(size.width), static_cast<float>(size.height));
  for (Face& face : found) face.box &= image;
  return vision::suppressOverlaps(std::move(found), options_.nms_iou);
}

std::vector<Face> FaceDetector::detectIn(const cv::Mat& bgr, const cv::Rect& tile) {
  std::vector<Face> found = detectTile(bgr(tile));
  for (Face& face : found) {
    face.box.x += static_cast<float>(tile.x);
    face.box.y += static_cast<float>(tile.y);
  }
  return found;
}

std::vector<Face> FaceDetector::detect(const cv::Mat& bgr) {
  if (bgr.empty()) return {};
  checkInput(bgr);
  std::vector<Face> found;
  for (const Tile& tile : tiles(bgr.size())) {
    for (const Face& face : detectIn(bgr, tile.rect)) found.push_back(face);
  }
  return confirmUnsure(bgr, finish(std::move(found), bgr.size()));
}

std::vector<Face> FaceDetector::detectWhole(const cv::Mat& bgr) {
  if (bgr.empty()) return {};
  checkInput(bgr);
  return confirmUnsure(bgr, finish(detectTile(bgr), bgr.size()));
}

std::vector<Face> FaceDetector::confirmUnsure(const cv::Mat& bgr, std::vector<Face> faces) {
  if (!confirmer_ || options_.confirm_below <= options_.score_threshold) return faces;
  faces.erase(std::remove_if(faces.begin(), faces.end(),
                             [&](const Face& face) {
                               return face.score < options_.confirm_below && !confirmer_->confirms(bgr, face.box);
                             }),
              faces.end());
  return faces;
}

std::unique_ptr<FaceDetector> makeFaceDetector(const DetectorOptions& options) {
  const std::string path =
      options.model_path.empty() ? defaultModelPath(options.backend) : options.model_path;
  switch (options.backend) {
    case Backend::BlazeFace: {
      auto detector = detail::makeBlazeFace(options, path);
      // Loaded even when the check is off, so it can be turned on while playing.
      detector->confirmer_ = std::make_unique<FaceConfirmer>();
      return detector;
    }
    case Backend::Haar: return detail::makeHaar(options, path);
  }
  throw std::invalid_argument("unknown face detector backend");
}

}  // namespace vigil::faces
