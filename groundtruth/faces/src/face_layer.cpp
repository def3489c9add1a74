#include "vigil/groundtruth/face_layer.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <sstream>
#include <stdexcept>

namespace vigil::groundtruth {

namespace {

// Hand-annotated by looking at each photograph (forehead to chin, cheek to
// cheek; near-frontal faces only, so a box is well defined). Photos: npm
// @vladmandic/face-api@1.7.15 package/demo, pinned by sha256 in
// scripts/models/face-samples.sh.
const std::vector<AnnotatedFace> kAnnotatedFaces = {
    {"sample1.jpg", {415, 405, 195, 190}},
    {"sample3.jpg", {585, 385, 195, 200}},
    {"sample3.jpg", {1090, 270, 200, 235}},
    {"sample3.jpg", {1485, 350, 195, 220}},
    {"sample5.jpg", {795, 165, 140, 165}},
    {"sample5.jpg", {1115, 240, 150, 175}},
    {"sample5.jpg", {630, 465, 140, 185}},
    {"sample5.jpg", {400, 950, 190, 215}},
    {"sample6.jpg", {255, 540, 190, 220}},
    {"sample6.jpg", {665, 400, 195, 240}},
    {"sample6.jpg", {1170, 360, 180, 225}},
    {"sample6.jpg", {1470, 350, 195, 240}},
};

// Sprite = face box plus hair, ears and neck, as fractions of the face box.
constexpr double kMarginSide = 0.45;
constexpr double kMarginTop = 0.5;
constexpr double kMarginBottom = 0.6;
// Alpha ellipse radii (fraction of the sprite) and its feather (of the width).
constexpr double kEllipseRadius = 0.47;
constexpr double kFeather = 0.06;

// Queue spots: columns across the frame, on two rows (normalised heights),
// so faces in neighbouring columns never overlap.
constexpr float kSpotRows[] = {0.38f, 0.62f};
constexpr float kZoneTop = 0.1f;
constexpr float kZoneBottom = 0.9f;
// Timing of one visit, in frames.
constexpr int kFirstArrivalMax = 40;
constexpr int kWalkMin = 20, kWalkMax = 40;
constexpr int kWaitMin = 60, kWaitMax = 180;
constexpr int kGapMin = 5, kGapMax = 50;
// While waiting, people sway sideways a little (pixels, frames per cycle).
constexpr float kSwayAmplitude = 3.f;
constexpr float kSwayPeriod = 45.f;
constexpr double kBrightnessMin = 0.8, kBrightnessMax = 1.2;

}  // namespace

const std::vector<AnnotatedFace>& annotatedFaces() { return kAnnotatedFaces; }

std::string facePhotoDirectory() {
  const char* from_environment = std::getenv("VIGIL_MODEL_DIR");
  const std::string models =
      from_environment && *from_environment ? from_environment : VIGIL_MODEL_DIR;
  return models + "/faces";
}

FaceSprite cutFaceSprite(const cv::Mat& photo, const cv::Rect& face) {
  cv::Rect crop(face.x - static_cast<int>(face.width * kMarginSide),
                face.y - static_cast<int>(face.height * kMarginTop),
                face.width + 2 * static_cast<int>(face.width * kMarginSide),
                face.height + static_cast<int>(face.height * (kMarginTop + kMarginBottom)));
  crop &= cv::Rect(0, 0, photo.cols, photo.rows);
  if ((crop & face) != face) throw std::runtime_error("annotated face lies outside its photograph");
  FaceSprite sprite;
  sprite.bgr = photo(crop).clone();
  cv::Mat mask(crop.size(), CV_32F, cv::Scalar(0));
  cv::ellipse(mask, cv::Point(crop.width / 2, crop.height / 2),
              cv::Size(static_cast<int>(crop.width * kEllipseRadius),
                       static_cast<int>(crop.height * kEllipseRadius)),
              0, 0, 360, cv::Scalar(1), cv::FILLED);
  cv::GaussianBlur(mask, sprite.alpha, cv::Size(), crop.width * kFeather);
  sprite.face = cv::Rect2f(cv::Point2f(face.tl() - crop.tl()), cv::Size2f(face.size()));
  return sprite;
}

cv::Rect blendSprite(cv::Mat& bgr, const cv::Mat& colour, const cv::Mat& alpha, cv::Point origin) {
  const cv::Rect drawn = cv::Rect(origin, colour.size()) & cv::Rect(0, 0, bgr.cols, bgr.rows);
  if (drawn.empty()) return drawn;
  const cv::Rect source(drawn.tl() - origin, drawn.size());
  for (int row = 0; row < drawn.height; ++row) {
    const auto* from = colour.ptr<cv::Vec3b>(source.y + row) + source.x;
    const float* weight = alpha.ptr<float>(source.y + row) + source.x;
    auto* target = bgr.ptr<cv::Vec3b>(drawn.y + row) + drawn.x;
    for (int column = 0; column < drawn.width; ++column) {
      const float a = weight[column];
      for (int c = 0; c < 3; ++c) {
        target[column][c] = cv::saturate_cast<uchar>(a * from[column][c] + (1.f - a) * target[column][c]);
      }
    }
  }
  return drawn;
}

std::vector<FaceSprite> loadFaceSprites(const std::string& directory) {
  std::vector<FaceSprite> sprites;
  for (const AnnotatedFace& annotated : kAnnotatedFaces) {
    const std::string path = directory + "/" + annotated.photo;
    const cv::Mat photo = cv::imread(path, cv::IMREAD_COLOR);
    if (photo.empty()) {
      throw std::runtime_error("face photo missing or unreadable: " + path +
                               " (install it with scripts/models/face-samples.sh)");
    }
    sprites.push_back(cutFaceSprite(photo, annotated.face));
  }
  return sprites;
}

FaceLayer::FaceLayer(cv::Size frame_size, std::vector<FaceSprite> sprites, FaceLayerOptions options)
    : frame_size_(frame_size), options_(options) {
  if (sprites.empty()) throw std::invalid_argument("FaceLayer needs at least one face sprite");
  if (options_.spots < 1) throw std::invalid_argument("FaceLayer needs at least one spot");
  std::mt19937 random(options_.seed);
  auto uniform = [&](int low, int high) { return std::uniform_int_distribution<int>(low, high)(random); };
  std::bernoulli_distribution small_person(options_.small_face_share);
  std::bernoulli_distribution mirrored(0.5);
  std::uniform_real_distribution<double> brightness(kBrightnessMin, kBrightnessMax);
  std::int64_t next_id = 1;

  const float width = static_cast<float>(frame_size_.width);
  const float height = static_cast<float>(frame_size_.height);
  for (int spot = 0; spot < options_.spots; ++spot) {
    const float x = (spot + 0.5f) / options_.spots * width;
    const float y = kSpotRows[spot % 2] * height;
    std::int64_t frame = uniform(0, kFirstArrivalMax);
    while (frame < options_.frames) {
      Person person;
      person.id = next_id++;
      person.small = small_person(random);
      const int face_height = person.small
                                  ? uniform(options_.smallest_face_height, options_.min_face_height - 4)
                                  : uniform(options_.min_face_height, options_.max_face_height);
      const FaceSprite& sprite = sprites[static_cast<std::size_t>(uniform(0, static_cast<int>(sprites.size()) - 1))];
      const double scale = static_cast<double>(face_height) / sprite.face.height;
      cv::resize(sprite.bgr, person.bgr, cv::Size(), scale, scale, cv::INTER_AREA);
      cv::resize(sprite.alpha, person.alpha, person.bgr.size(), 0, 0, cv::INTER_AREA);
      person.bgr.convertTo(person.bgr, -1, brightness(random));
      person.face_size = cv::Size2f(sprite.face.width * static_cast<float>(scale),
                                    sprite.face.height * static_cast<float>(scale));
      person.face_offset = cv::Point2f(sprite.face.x * static_cast<float>(scale),
                                       sprite.face.y * static_cast<float>(scale));
      if (mirrored(random)) {
        cv::flip(person.bgr, person.bgr, 1);
        cv::flip(person.alpha, person.alpha, 1);
        person.face_offset.x = person.bgr.cols - person.face_offset.x - person.face_size.width;
      }
      // In from below the frame, wait at the spot, out the same way.
      const cv::Point2f outside(x, height + person.bgr.rows);
      const cv::Point2f at_spot(x, y);
      const std::int64_t arrived = frame + uniform(kWalkMin, kWalkMax);
      const std::int64_t leaving = arrived + uniform(kWaitMin, kWaitMax);
      const std::int64_t gone = leaving + uniform(kWalkMin, kWalkMax);
      person.legs = {{outside, at_spot, frame, arrived},
                     {at_spot, at_spot, arrived, leaving},
                     {at_spot, outside, leaving, gone}};
      people_.push_back(std::move(person));
      frame = gone + uniform(kGapMin, kGapMax);
    }
  }
}

void FaceLayer::render(cv::Mat& bgr, std::int64_t frame, std::vector<TruthObject>& truth) {
  const cv::Rect frame_box(0, 0, bgr.cols, bgr.rows);
  for (const Person& person : people_) {
    const auto leg = std::find_if(person.legs.begin(), person.legs.end(),
                                  [&](const Path& path) { return path.visibleAt(frame); });
    if (leg == person.legs.end()) continue;
    cv::Point2f face_centre = leg->at(frame);
    if (leg == person.legs.begin() + 1) {
      face_centre.x += kSwayAmplitude * std::sin(2.f * static_cast<float>(CV_PI) *
                                                 static_cast<float>(frame) / kSwayPeriod);
    }
    const cv::Point sprite_origin(
        static_cast<int>(std::lround(face_centre.x - person.face_offset.x - person.face_size.width / 2)),
        static_cast<int>(std::lround(face_centre.y - person.face_offset.y - person.face_size.height / 2)));
    if (blendSprite(bgr, person.bgr, person.alpha, sprite_origin).empty()) continue;
    const cv::Rect face(
        sprite_origin + cv::Point(static_cast<int>(std::lround(person.face_offset.x)),
                                  static_cast<int>(std::lround(person.face_offset.y))),
        cv::Size(static_cast<int>(std::lround(person.face_size.width)),
                 static_cast<int>(std::lround(person.face_size.height))));
    const cv::Rect visible = face & frame_box;
    if (visible.empty()) continue;
    TruthObject object;
    object.kind = kFaceKind;
    object.id = person.id;
    object.box = visible;
    object.format = person.small ? kSmallFace : "";
    object.occluded = visible != face;
    truth.push_back(std::move(object));
  }
}

std::string FaceLayer::queueZones() const {
  // Left and right halves between the zone bounds; spot columns never sit on
  // the dividing line when the number of spots is even.
  std::ostringstream out;
  out << "queue-left=0," << kZoneTop << " 0.5," << kZoneTop << " 0.5," << kZoneBottom << " 0,"
      << kZoneBottom << ";queue-right=0.5," << kZoneTop << " 1," << kZoneTop << " 1," << kZoneBottom
      << " 0.5," << kZoneBottom;
  return out.str();
}

Scene busyQueueScene(cv::Size frame_size, double fps, std::int64_t frames, std::uint32_t seed) {
  Scene scene(frame_size, fps, seed);
  FaceLayerOptions options;
  options.frames = frames;
  options.seed = seed;
  options.spots = 8;
  scene.add(std::make_unique<FaceLayer>(frame_size, loadFaceSprites(), options));
  return scene;
}

}  // namespace vigil::groundtruth
