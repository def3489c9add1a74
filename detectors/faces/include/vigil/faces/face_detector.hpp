// Face detection on cv::Mat, with backends chosen by name:
//  - "blazeface" (default): MediaPipe BlazeFace "back" 256x256 CNN as ONNX,
//    run through cv::dnn; installed by scripts/models/blazeface.sh.
//  - "haar": OpenCV's frontal-face Haar cascade from Debian's opencv-data,
//    a fallback that needs no downloaded model.
// A missing or unreadable model is reported by the constructor (ModelError),
// so a caller can refuse to start instead of failing on the first frame.
#pragma once

#include "vigil/faces/face_confirmer.hpp"

#include <opencv2/core.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::faces {

enum class Backend { BlazeFace, Haar };

// "blazeface" / "haar"; throws std::invalid_argument naming the valid choices.
Backend backendFromName(std::string_view name);
const char* backendName(Backend backend);

// Image split into cols x rows overlapping tiles, each detected on its own, so
// small faces in a wide frame reach the model at a usable size (cost: one
// inference per tile). {1,1} is the whole frame.
struct TileGrid {
  int cols = 1;
  int rows = 1;
  bool operator==(const TileGrid& other) const { return cols == other.cols && rows == other.rows; }
};

// One tile of a TileGrid, in pixels of the image given to detect(): the
// rectangle the detector sees, and the part of the image it answers for
// (tiles overlap; their owned parts split each overlap down the middle, so
// owned parts cover the image exactly once).
struct Tile {
  cv::Rect rect;
  cv::Rect owned;
};

struct Face {
  cv::Rect2f box;     // pixels of the image given to detect()
  float score = 0.f;  // [0,1]; the Haar backend reports 1
};

struct DetectorOptions {
  Backend backend = Backend::BlazeFace;
  std::string model_path;        // empty: defaultModelPath(backend)
  float score_threshold = 0.5f;  // BlazeFace only
  // BlazeFace faces scoring below this are kept only if a Haar cascade
  // confirms them (FaceConfirmer); 0 keeps every face above score_threshold.
  float confirm_below = 0.8f;
  float nms_iou = 0.3f;          // overlap above which the weaker box is dropped
  int min_face_size = 0;         // pixels (of the detect() image); smaller faces are dropped
  TileGrid tiles;
};

// A model that cannot be used: file missing, unreadable or not the expected network.
class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class FaceDetector {
 public:
  virtual ~FaceDetector() = default;
  FaceDetector(const FaceDetector&) = delete;
  FaceDetector& operator=(const FaceDetector&) = delete;

  // Faces in a BGR image (CV_8UC3), best score first. Not thread-safe: one
  // detector per streaming thread.
  std::vector<Face> detect(const cv::Mat& bgr);

  // The tiles options().tiles cuts an image of `size` into, row by row.
  std::vector<Tile> tiles(cv::Size size) const;
  // Faces in all of `bgr` in one pass, ignoring the tile grid (a tile the
  // caller cut out and converted alone), in its pixels, after the size filter
  // and NMS. A caller scanning tiles keeps the faces whose centre lies in the
  // tile's owned part, so a face on a tile border is reported once.
  std::vector<Face> detectWhole(const cv::Mat& bgr);

  const DetectorOptions& options() const { return options_; }
  // Tuning that may change between frames (the model stays loaded).
  void setScoreThreshold(float threshold) { options_.score_threshold = threshold; }
  void setConfirmBelow(float score) { options_.confirm_below = score; }
  void setMinFaceSize(int pixels) { options_.min_face_size = pixels; }
  void setTiles(TileGrid tiles) { options_.tiles = tiles; }
  const std::string& modelPath() const { return model_path_; }

 protected:
  FaceDetector(DetectorOptions options, std::string model_path)
      : options_(std::move(options)), model_path_(std::move(model_path)) {}
  // Raw detections of one tile, in the tile's pixels, before NMS.
  virtual std::vector<Face> detectTile(const cv::Mat& bgr_tile) = 0;

 private:
  void checkInput(const cv::Mat& bgr) const;
  // Raw faces of one tile rectangle, in image pixels.
  std::vector<Face> detectIn(const cv::Mat& bgr, const cv::Rect& tile);
  // Size filter, clipping to the image and NMS.
  std::vector<Face> finish(std::vector<Face> found, cv::Size size) const;
  // Drops the faces below options().confirm_below that the confirmer rejects.
  std::vector<Face> confirmUnsure(const cv::Mat& bgr, std::vector<Face> faces);

  friend std::unique_ptr<FaceDetector> makeFaceDetector(const DetectorOptions& options);
  std::unique_ptr<FaceConfirmer> confirmer_;  // BlazeFace only

  DetectorOptions options_;
  std::string model_path_;
};

// Builds the backend named in `options`; throws ModelError if its model is unusable.
std::unique_ptr<FaceDetector> makeFaceDetector(const DetectorOptions& options);

// Where a backend's model is looked for when no path is given: BlazeFace in
// $VIGIL_MODEL_DIR (else the compiled-in model directory), Haar in opencv-data.
std::string defaultModelPath(Backend backend);

}  // namespace vigil::faces
