#include "vigil/groundtruth/field_corpus.hpp"

#include "vigil/groundtruth/face_layer.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <stdexcept>

namespace vigil::groundtruth {

namespace detail {
extern const char* const kFieldManifest;
}

namespace {

// Photos are decoded once, no wider than this: every shot is shown at 1280
// wide or less, so more pixels would only cost memory.
constexpr int kMaxPhotoWidth = 1920;

// A shot's view: the largest 16:9 window of the photo times a zoom in this
// range, drifting to a second window (slow pan and zoom, as a PTZ camera or
// a hand-held phone would).
constexpr double kMinZoom = 0.55, kMaxZoom = 1.0;
constexpr double kNaturalMinZoom = 0.75;  // photos with their own faces: keep most of them
constexpr double kZoomDrift = 0.12;

// Pasted faces: drift in pixels per frame, and the share placed across the
// frame edge (cut faces are "don't care" for scoring, but must not confuse).
constexpr double kMaxDrift = 1.5;
constexpr double kEdgeShare = 0.15;
constexpr int kPlacementTries = 40;

// Light: dim (a shop at night), normal, over-exposed; sensor noise grows in
// the dark as it does on real cameras.
constexpr double kDimShare = 0.25, kBrightShare = 0.15;
constexpr double kDimGainMin = 0.25, kDimGainMax = 0.6;
constexpr double kBrightGainMin = 1.2, kBrightGainMax = 1.5;
constexpr double kNoiseMin = 1.5, kNoiseMax = 5.0, kDimNoiseMax = 10.0;
constexpr double kMotionBlurShare = 0.2;
constexpr int kMotionBlurMin = 5, kMotionBlurMax = 15;

std::vector<cv::Rect> parseFaces(const std::string& text, int line) {
  std::vector<cv::Rect> faces;
  if (text == "-") return faces;
  std::stringstream list(text);
  std::string item;
  while (std::getline(list, item, ';')) {
    cv::Rect box;
    char comma1 = 0, comma2 = 0, comma3 = 0;
    std::stringstream fields(item);
    if (!(fields >> box.x >> comma1 >> box.y >> comma2 >> box.width >> comma3 >> box.height) || comma1 != ',' ||
        comma2 != ',' || comma3 != ',' || box.width <= 0 || box.height <= 0) {
      throw std::runtime_error("photos.tsv line " + std::to_string(line) + ": bad face box '" + item + "'");
    }
    faces.push_back(box);
  }
  return faces;
}

std::vector<FieldPhoto> parseManifest() {
  std::vector<FieldPhoto> photos;
  std::stringstream manifest(detail::kFieldManifest);
  std::string row;
  int line = 0;
  while (std::getline(manifest, row)) {
    ++line;
    if (row.empty() || row[0] == '#') continue;
    std::vector<std::string> columns;
    std::stringstream cells(row);
    std::string cell;
    while (std::getline(cells, cell, '\t')) columns.push_back(cell);
    if (columns.size() != 5 || columns[0].size() != 64) {
      throw std::runtime_error("photos.tsv line " + std::to_string(line) + ": expected 5 tab-separated columns");
    }
    FieldPhoto photo;
    photo.sha256 = columns[0];
    photo.name = columns[3];
    photo.faces = parseFaces(columns[4], line);
    photo.split = std::strchr("01234567", photo.sha256[0]) ? FieldSplit::Dev : FieldSplit::Test;
    photos.push_back(std::move(photo));
  }
  return photos;
}

cv::Mat loadPhoto(const std::string& name, double* scale) {
  const std::string path = fieldPhotoDirectory() + "/" + name;
  cv::Mat photo = cv::imread(path, cv::IMREAD_COLOR);
  if (photo.empty()) {
    throw std::runtime_error("field photo missing or unreadable: " + path +
                             " (install it with scripts/models/field-photos.sh)");
  }
  *scale = 1.0;
  if (photo.cols > kMaxPhotoWidth) {
    *scale = static_cast<double>(kMaxPhotoWidth) / photo.cols;
    cv::resize(photo, photo, cv::Size(), *scale, *scale, cv::INTER_AREA);
  }
  return photo;
}

cv::Rect scaled(const cv::Rect& box, double scale) {
  return cv::Rect(static_cast<int>(std::lround(box.x * scale)), static_cast<int>(std::lround(box.y * scale)),
                  static_cast<int>(std::lround(box.width * scale)),
                  static_cast<int>(std::lround(box.height * scale)));
}

// A 16:9 (frame aspect) window of `photo` at `zoom` of the largest one, placed
// at (u, v) in [0,1]^2 of the room left around it.
cv::Rect2d window(cv::Size photo, cv::Size frame, double zoom, double u, double v) {
  const double aspect = static_cast<double>(frame.width) / frame.height;
  double width = photo.width, height = photo.width / aspect;
  if (height > photo.height) {
    height = photo.height;
    width = height * aspect;
  }
  width *= zoom;
  height *= zoom;
  return {u * (photo.width - width), v * (photo.height - height), width, height};
}

}  // namespace

FieldSplit fieldSplitFromName(const std::string& name) {
  if (name == "dev") return FieldSplit::Dev;
  if (name == "test") return FieldSplit::Test;
  throw std::invalid_argument("unknown split '" + name + "' (expected dev or test)");
}

const char* fieldSplitName(FieldSplit split) { return split == FieldSplit::Dev ? "dev" : "test"; }

const std::vector<FieldPhoto>& fieldPhotos() {
  static const std::vector<FieldPhoto> photos = parseManifest();
  return photos;
}

std::string fieldPhotoDirectory() {
  const char* from_environment = std::getenv("VIGIL_MODEL_DIR");
  const std::string models = from_environment && *from_environment ? from_environment : VIGIL_MODEL_DIR;
  return models + "/field";
}

struct FieldPhotoLayer::Shot {
  struct Pasted {
    cv::Mat bgr;           // rolled and scaled sprite
    cv::Mat alpha;
    cv::Rect2f face;       // face box inside the sprite (bounding box when rolled)
    cv::Point2f origin;    // sprite top-left at the shot's first frame
    cv::Point2f velocity;  // pixels per frame
  };
  std::size_t photo = 0;
  cv::Rect2d from, to;              // windows at the first and last frame
  std::vector<cv::Rect> own_faces;  // the photo's faces (decoded-photo pixels)
  std::vector<Pasted> pasted;
  double gain = 1.0;
  double noise = 0.0;
  int motion_blur = 0;              // horizontal kernel length, 0 = none
  std::uint32_t noise_seed = 0;
};

FieldPhotoLayer::FieldPhotoLayer(cv::Size frame_size, FieldSplit split, FieldFaceOptions options)
    : frame_size_(frame_size), options_(options) {
  if (options_.shots <= 0 || options_.frames_per_shot <= 1) {
    throw std::invalid_argument("field corpus: shots and frames_per_shot must be positive");
  }
  std::vector<std::size_t> face_free, with_faces;
  std::vector<std::vector<cv::Rect>> faces_of;
  std::vector<FaceSprite> sprites;
  // Backgrounds alone (face_free_share 1, as under codes) cut no sprites.
  const bool pastes_faces = options_.face_free_share + options_.natural_share < 1.0;
  for (const FieldPhoto& photo : fieldPhotos()) {
    if (photo.split != split) continue;
    double scale = 1.0;
    photos_.push_back(loadPhoto(photo.name, &scale));
    std::vector<cv::Rect> faces;
    for (const cv::Rect& face : photo.faces) faces.push_back(scaled(face, scale));
    (faces.empty() ? face_free : with_faces).push_back(photos_.size() - 1);
    if (pastes_faces) {
      for (const cv::Rect& face : faces) sprites.push_back(cutFaceSprite(photos_.back(), face));
    }
    faces_of.push_back(std::move(faces));
  }
  if (face_free.empty() || with_faces.empty()) {
    throw std::runtime_error(std::string("field corpus: the ") + fieldSplitName(split) +
                             " split needs photos with and without faces");
  }

  std::mt19937 random(options_.seed);
  auto uniform = [&](double low, double high) { return std::uniform_real_distribution<double>(low, high)(random); };
  auto chance = [&](double share) { return uniform(0.0, 1.0) < share; };
  auto pick = [&](const std::vector<std::size_t>& from) {
    return from[std::uniform_int_distribution<std::size_t>(0, from.size() - 1)(random)];
  };
  const double frames = options_.frames_per_shot - 1;

  for (int index = 0; index < options_.shots; ++index) {
    auto shot = std::make_unique<Shot>();
    // Deal the kinds in a fixed rotation, so that every slice of the clip
    // holds all three and the shares hold for short clips too.
    const double position = (index + 0.5) / options_.shots;
    const bool natural = position < options_.natural_share;
    const bool face_free_shot = !natural && position < options_.natural_share + options_.face_free_share;
    shot->photo = natural ? pick(with_faces) : pick(face_free);
    const cv::Size photo_size = photos_[shot->photo].size();
    const double zoom = uniform(natural ? kNaturalMinZoom : kMinZoom, kMaxZoom);
    const double zoom_end = std::clamp(zoom + uniform(-kZoomDrift, kZoomDrift), kMinZoom, kMaxZoom);
    shot->from = window(photo_size, frame_size_, zoom, uniform(0, 1), uniform(0, 1));
    shot->to = window(photo_size, frame_size_, zoom_end, uniform(0, 1), uniform(0, 1));
    if (natural) shot->own_faces = faces_of[shot->photo];

    if (!natural && !face_free_shot) {
      const int count = std::uniform_int_distribution<int>(1, options_.max_pasted_faces)(random);
      std::vector<cv::Rect2f> taken;
      for (int person = 0; person < count; ++person) {
        const FaceSprite& sprite = sprites[std::uniform_int_distribution<std::size_t>(0, sprites.size() - 1)(random)];
        // Log-uniform height: as many small faces as large ones, as in a
        // camera looking down a queue.
        const double height = std::exp(uniform(std::log(options_.min_face_height),
                                               std::log(options_.max_face_height)));
        const double scale = height / sprite.face.height;
        Shot::Pasted pasted;
        cv::resize(sprite.bgr, pasted.bgr, cv::Size(), scale, scale, cv::INTER_AREA);
        cv::resize(sprite.alpha, pasted.alpha, pasted.bgr.size(), 0, 0, cv::INTER_AREA);
        pasted.face = cv::Rect2f(sprite.face.x * scale, sprite.face.y * scale, sprite.face.width * scale,
                                 sprite.face.height * scale);
        if (chance(0.5)) {
          cv::flip(pasted.bgr, pasted.bgr, 1);
          cv::flip(pasted.alpha, pasted.alpha, 1);
          pasted.face.x = pasted.bgr.cols - pasted.face.x - pasted.face.width;
        }
        const double roll = uniform(-options_.max_roll_degrees, options_.max_roll_degrees);
        if (std::abs(roll) > 2.0) {
          // Roll about the face centre on a canvas big enough for the turned
          // sprite; the truth is the turned face box's bounding box.
          const cv::Point2f centre(pasted.face.x + pasted.face.width / 2, pasted.face.y + pasted.face.height / 2);
          const cv::RotatedRect turned_sprite(cv::Point2f(pasted.bgr.cols / 2.f, pasted.bgr.rows / 2.f),
                                              cv::Size2f(pasted.bgr.size()), static_cast<float>(roll));
          const cv::Rect canvas = turned_sprite.boundingRect();
          cv::Mat rotation = cv::getRotationMatrix2D(centre, roll, 1.0);
          rotation.at<double>(0, 2) -= canvas.x;
          rotation.at<double>(1, 2) -= canvas.y;
          cv::warpAffine(pasted.bgr, pasted.bgr, rotation, canvas.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
          cv::warpAffine(pasted.alpha, pasted.alpha, rotation, canvas.size(), cv::INTER_LINEAR,
                         cv::BORDER_CONSTANT, cv::Scalar(0));
          const cv::RotatedRect turned_face(centre - cv::Point2f(static_cast<float>(canvas.x), static_cast<float>(canvas.y)),
                                            pasted.face.size(), static_cast<float>(roll));
          pasted.face = turned_face.boundingRect2f();
        }
        pasted.velocity = cv::Point2f(static_cast<float>(uniform(-kMaxDrift, kMaxDrift)),
                                      static_cast<float>(uniform(-kMaxDrift, kMaxDrift)));
        const bool on_edge = chance(kEdgeShare);
        for (int attempt = 0; attempt < kPlacementTries; ++attempt) {
          cv::Point2f face_at;
          if (on_edge) {
            // Centre the face on a random frame edge: half of it is cut.
            const bool vertical_edge = chance(0.5);
            const float along = static_cast<float>(uniform(0.1, 0.9));
            face_at = vertical_edge
                          ? cv::Point2f(chance(0.5) ? 0.f : static_cast<float>(frame_size_.width), along * frame_size_.height)
                          : cv::Point2f(along * frame_size_.width, chance(0.5) ? 0.f : static_cast<float>(frame_size_.height));
            face_at -= cv::Point2f(pasted.face.width / 2, pasted.face.height / 2);
          } else {
            face_at = cv::Point2f(static_cast<float>(uniform(0, frame_size_.width - pasted.face.width)),
                                  static_cast<float>(uniform(0, frame_size_.height - pasted.face.height)));
          }
          // Room for the whole drift, so no two faces overlap at any frame.
          const cv::Point2f end = face_at + pasted.velocity * static_cast<float>(frames);
          cv::Rect2f sweep(cv::Point2f(std::min(face_at.x, end.x), std::min(face_at.y, end.y)),
                           cv::Size2f(pasted.face.width + std::abs(end.x - face_at.x),
                                      pasted.face.height + std::abs(end.y - face_at.y)));
          const bool free = std::none_of(taken.begin(), taken.end(), [&](const cv::Rect2f& other) {
            return (other & sweep).area() > 0.f;
          });
          if (!free) continue;
          taken.push_back(sweep);
          pasted.origin = face_at - pasted.face.tl();
          shot->pasted.push_back(std::move(pasted));
          break;
        }
      }
    }

    const double light = uniform(0, 1);
    if (light < kDimShare) {
      shot->gain = uniform(kDimGainMin, kDimGainMax);
      shot->noise = uniform(kNoiseMin, kDimNoiseMax);
    } else {
      shot->gain = light < kDimShare + kBrightShare ? uniform(kBrightGainMin, kBrightGainMax) : 1.0;
      shot->noise = uniform(kNoiseMin, kNoiseMax);
    }
    if (chance(kMotionBlurShare)) {
      shot->motion_blur = std::uniform_int_distribution<int>(kMotionBlurMin, kMotionBlurMax)(random);
    }
    shot->noise_seed = static_cast<std::uint32_t>(random());
    shots_.push_back(std::move(shot));
  }
}

FieldPhotoLayer::~FieldPhotoLayer() = default;

std::int64_t FieldPhotoLayer::frames() const {
  return static_cast<std::int64_t>(options_.shots) * options_.frames_per_shot;
}

void FieldPhotoLayer::render(cv::Mat& bgr, std::int64_t frame, std::vector<TruthObject>& truth) {
  const std::int64_t clamped = std::clamp<std::int64_t>(frame, 0, frames() - 1);
  const Shot& shot = *shots_[static_cast<std::size_t>(clamped / options_.frames_per_shot)];
  const int in_shot = static_cast<int>(clamped % options_.frames_per_shot);
  const double t = static_cast<double>(in_shot) / (options_.frames_per_shot - 1);
  const cv::Rect2d view(shot.from.x + t * (shot.to.x - shot.from.x), shot.from.y + t * (shot.to.y - shot.from.y),
                        shot.from.width + t * (shot.to.width - shot.from.width),
                        shot.from.height + t * (shot.to.height - shot.from.height));
  const double sx = frame_size_.width / view.width, sy = frame_size_.height / view.height;
  const cv::Matx23d to_frame(sx, 0, -view.x * sx, 0, sy, -view.y * sy);
  cv::warpAffine(photos_[shot.photo], bgr, to_frame, frame_size_, cv::INTER_LINEAR, cv::BORDER_REPLICATE);

  const cv::Rect frame_box(cv::Point(), frame_size_);
  std::int64_t next_id = (clamped / options_.frames_per_shot) * 100 + 1;  // stable within a shot
  auto report = [&](const cv::Rect2d& face) {
    const cv::Rect box(static_cast<int>(std::lround(face.x)), static_cast<int>(std::lround(face.y)),
                       static_cast<int>(std::lround(face.width)), static_cast<int>(std::lround(face.height)));
    const cv::Rect visible = box & frame_box;
    const std::int64_t id = next_id++;
    if (visible.area() < box.area() / 4) return;  // mostly outside: not a face in this frame
    TruthObject object;
    object.kind = kFaceKind;
    object.id = id;
    object.box = visible;
    object.format = box.height < options_.evaluated_min_height ? kSmallFace : "";
    object.occluded = visible != box;
    truth.push_back(std::move(object));
  };
  for (const cv::Rect& face : shot.own_faces) {
    report(cv::Rect2d((face.x - view.x) * sx, (face.y - view.y) * sy, face.width * sx, face.height * sy));
  }
  for (const Shot::Pasted& pasted : shot.pasted) {
    const cv::Point2f origin = pasted.origin + pasted.velocity * static_cast<float>(in_shot);
    const cv::Point drawn_at(static_cast<int>(std::lround(origin.x)), static_cast<int>(std::lround(origin.y)));
    blendSprite(bgr, pasted.bgr, pasted.alpha, drawn_at);
    report(cv::Rect2d(drawn_at.x + pasted.face.x, drawn_at.y + pasted.face.y, pasted.face.width, pasted.face.height));
  }

  // Camera effects over everything, faces included.
  if (shot.motion_blur > 0) {
    cv::Mat kernel = cv::Mat::ones(1, shot.motion_blur, CV_32F) / static_cast<float>(shot.motion_blur);
    cv::filter2D(bgr, bgr, -1, kernel);
  }
  if (shot.gain != 1.0 || shot.noise > 0) {
    cv::Mat noise(bgr.size(), CV_16SC3);
    cv::RNG generator(shot.noise_seed + static_cast<std::uint64_t>(in_shot));
    generator.fill(noise, cv::RNG::NORMAL, cv::Scalar::all(0), cv::Scalar::all(shot.noise));
    cv::Mat lit;
    bgr.convertTo(lit, CV_16SC3, shot.gain);
    lit += noise;
    lit.convertTo(bgr, CV_8UC3);
  }
}

std::unique_ptr<Scene> makeFieldFaceScene(FieldSplit split, const FieldFaceOptions& options, cv::Size frame_size,
                                          double fps) {
  auto scene = std::make_unique<Scene>(frame_size, fps, options.seed);
  scene->add(std::make_unique<FieldPhotoLayer>(frame_size, split, options));
  return scene;
}

Scene makeFieldCodeScene(FieldSplit split, const CodeSceneOptions& options,
                         const std::vector<CodePlacement>& placements, int frames_per_shot) {
  FieldFaceOptions background;
  background.face_free_share = 1.0;
  background.natural_share = 0.0;
  background.frames_per_shot = frames_per_shot;
  background.shots = static_cast<int>((codeSceneLength(placements) + frames_per_shot - 1) / frames_per_shot);
  background.seed = options.seed;
  Scene scene(options.size, options.fps, options.seed);
  scene.add(std::make_unique<FieldPhotoLayer>(options.size, split, background));
  scene.add(std::make_unique<CodeLayer>(placements));
  return scene;
}

}  // namespace vigil::groundtruth
