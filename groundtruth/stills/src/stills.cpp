#include "vigil/groundtruth/stills.hpp"

#include "vigil/groundtruth/codes.hpp"
#include "vigil/groundtruth/face_layer.hpp"
#include "vigil/groundtruth/plates.hpp"
#include "vigil/groundtruth/scene.hpp"

#include <opencv2/imgproc.hpp>

#include <random>
#include <stdexcept>

namespace vigil::groundtruth {

namespace {

// Faces at a size the video path finds reliably at 720p (bench/faces).
constexpr int kFaceHeight = 110;
constexpr int kModulePx = 4;
constexpr double kPlateScale = 0.45;  // an EU plate 234 px wide

// Pastes `image` (BGR) with its top-left at `at`, clipped to the picture.
cv::Rect paste(cv::Mat& picture, const cv::Mat& image, cv::Point at) {
  const cv::Rect where = cv::Rect(at, image.size()) & cv::Rect(0, 0, picture.cols, picture.rows);
  image(cv::Rect(where.tl() - at, where.size())).copyTo(picture(where));
  return where;
}

}  // namespace

cv::Mat checkoutStill(cv::Size size, std::uint32_t seed, StillTruth* truth) {
  if (size.width < 640 || size.height < 360) throw std::invalid_argument("checkoutStill: at least 640x360");
  std::mt19937 random(seed);
  cv::Mat picture = makeBackground(size, seed);
  StillTruth known;

  // Two faces in the left half, from different photographs.
  static const std::vector<FaceSprite> sprites = loadFaceSprites();
  if (sprites.size() < 2) throw std::runtime_error("checkoutStill: fewer than two face photographs installed");
  const std::size_t first = random() % sprites.size();
  for (int i = 0; i < 2; ++i) {
    const FaceSprite& sprite = sprites[(first + static_cast<std::size_t>(i) * 3) % sprites.size()];
    const double scale = kFaceHeight / sprite.face.height;
    cv::Mat colour, alpha;
    cv::resize(sprite.bgr, colour, cv::Size(), scale, scale, cv::INTER_AREA);
    cv::resize(sprite.alpha, alpha, colour.size(), 0, 0, cv::INTER_AREA);
    const cv::Point origin(size.width / 10 + i * size.width / 4 + static_cast<int>(random() % 40),
                           size.height / 8 + static_cast<int>(random() % 40));
    blendSprite(picture, colour, alpha, origin);
    known.faces.push_back(cv::Rect(cv::Rect2f(origin.x + sprite.face.x * scale, origin.y + sprite.face.y * scale,
                                              sprite.face.width * scale, sprite.face.height * scale)));
  }

  // A QR code and a GS1 DataMatrix on the right.
  const CodeSymbol symbols[] = {
      {codes::Format::QRCode, "VIGIL STILL " + std::to_string(seed), false},
      {codes::Format::DataMatrix, "(01)09501101530003(17)251231(10)L" + std::to_string(seed % 1000), true},
  };
  int x = size.width * 6 / 10;
  for (const CodeSymbol& symbol : symbols) {
    cv::Mat grey = renderSymbol(symbol, kModulePx);
    cv::Mat bgr;
    cv::cvtColor(grey, bgr, cv::COLOR_GRAY2BGR);
    paste(picture, bgr, cv::Point(x, size.height / 10 + static_cast<int>(random() % 30)));
    x += bgr.cols + 30;
    known.code_texts.push_back(symbol.expectedText());
  }

  // A plate low in the picture, on a dark car-coloured band.
  std::mt19937 plate_random(seed);
  const cv::Mat plate = renderPlate(PlateStyle::Eu, randomPlateText(PlateStyle::Eu, plate_random));
  cv::Mat small;
  cv::resize(plate, small, cv::Size(), kPlateScale, kPlateScale, cv::INTER_AREA);
  const cv::Point plate_at(size.width / 2 + static_cast<int>(random() % 60), size.height * 3 / 4);
  cv::rectangle(picture, cv::Rect(plate_at - cv::Point(60, 40), small.size() + cv::Size(120, 80)),
                cv::Scalar(60, 40, 140), cv::FILLED);
  known.plates.push_back(paste(picture, small, plate_at));

  if (truth) *truth = std::move(known);
  return picture;
}

}  // namespace vigil::groundtruth
