// Ground truth for face counting: real face crops from packaged photographs
// (installed by scripts/models/face-samples.sh) composited onto a scene as
// people who arrive, wait at queue spots and leave along known Paths.
//
// The face box inside each photograph is a hand-annotated constant (checked by
// eye against the pictures; never produced by a detector), so the box reported
// for every frame is known independently of any detector under test.
#pragma once

#include "vigil/groundtruth/scene.hpp"

#include <opencv2/core.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace vigil::groundtruth {

inline constexpr const char* kFaceKind = "face";
// TruthObject::format of a face drawn below FaceLayerOptions::min_face_height:
// scorers leave it out of recall and count (a detection on it is not charged).
inline constexpr const char* kSmallFace = "small";

// One annotated face in one photograph of the installed set.
struct AnnotatedFace {
  std::string photo;  // file name inside facePhotoDirectory()
  cv::Rect face;      // photograph pixels: forehead to chin, cheek to cheek
};
const std::vector<AnnotatedFace>& annotatedFaces();

// $VIGIL_MODEL_DIR/faces, else the compiled-in model directory's faces/.
std::string facePhotoDirectory();

// A face with its surroundings cut from a photograph, with a soft elliptical
// alpha so it blends into any background.
struct FaceSprite {
  cv::Mat bgr;        // CV_8UC3
  cv::Mat alpha;      // CV_32F in [0,1], same size
  cv::Rect2f face;    // face box in sprite pixels
};

// Cuts the sprite of one annotated face (photograph pixels) out of `photo`;
// throws std::runtime_error if the face is not inside the photograph.
FaceSprite cutFaceSprite(const cv::Mat& photo, const cv::Rect& face);

// Alpha-blends `colour` (CV_8UC3) weighted by `alpha` (CV_32F, same size) into
// `bgr` with its top-left at `origin`, clipped to the frame; returns the part
// of the frame drawn on (empty when the sprite lies outside).
cv::Rect blendSprite(cv::Mat& bgr, const cv::Mat& colour, const cv::Mat& alpha, cv::Point origin);

// Loads every annotated face from `directory`; throws std::runtime_error
// naming the missing photo and the setup script that installs it.
std::vector<FaceSprite> loadFaceSprites(const std::string& directory = facePhotoDirectory());

struct FaceLayerOptions {
  std::int64_t frames = 300;       // people are scheduled over this many frames
  int min_face_height = 48;        // evaluated faces are at least this tall (pixels)
  int max_face_height = 110;
  double small_face_share = 0.15;  // share of people drawn smaller, flagged kSmallFace
  int smallest_face_height = 24;
  int spots = 7;                   // queue spots across the frame
  std::uint32_t seed = 1;
};

// Draws the people; reports each visible face with kind "face", a stable id,
// its box, format kSmallFace when small, and occluded=true while the face is
// cut by the frame edge (walking in or out).
class FaceLayer : public Layer {
 public:
  FaceLayer(cv::Size frame_size, std::vector<FaceSprite> sprites, FaceLayerOptions options = {});
  void render(cv::Mat& bgr, std::int64_t frame, std::vector<TruthObject>& truth) override;

  // Where people wait, as normalised polygons in the zones text format of
  // vigil::faces::parseZones: "queue-left=..;queue-right=..".
  std::string queueZones() const;

 private:
  struct Person {
    std::int64_t id = 0;
    cv::Mat bgr;          // sprite scaled to this person's face size
    cv::Mat alpha;
    cv::Point2f face_offset;  // face box top-left inside the scaled sprite
    cv::Size2f face_size;
    bool small = false;
    std::vector<Path> legs;   // arrive, wait, leave: face centre positions
  };

  cv::Size frame_size_;
  FaceLayerOptions options_;
  std::vector<Person> people_;
};

// The busy queue the face accuracy test, the detector test and the bench
// score on: eight spots, people walking in, waiting and leaving over `frames`
// frames at `fps`, scene and people both drawn from `seed`.
Scene busyQueueScene(cv::Size frame_size, double fps, std::int64_t frames, std::uint32_t seed);

}  // namespace vigil::groundtruth
