#include "vigil/groundtruth/plates.hpp"

#include <opencv2/freetype.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace vigil::groundtruth {
namespace {

// Debian fonts-dejavu-core: plates use a condensed bold sans, US state lines
// a plain serif.
constexpr const char* kPlateFont = "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf";
constexpr const char* kStateFont = "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf";

// Reference plate sizes (pixels at 1 px/mm for EU/UK, 1.2 px/mm for US).
const cv::Size kEuSize(520, 112);
const cv::Size kUsSize(360, 180);
constexpr int kEuStripWidth = 46;
const cv::Scalar kEuBlue(153, 51, 0);
const cv::Scalar kEuYellow(0, 204, 255);
const cv::Scalar kUkRearYellow(0, 200, 250);
const cv::Scalar kPlateWhite(245, 245, 245);
const cv::Scalar kInk(20, 20, 20);
const cv::Scalar kUsInk(110, 40, 20);
const cv::Scalar kUsStateRed(40, 40, 190);
// Vehicle body width in plate widths: EU/UK plates are 52 cm, US 30 cm.
constexpr double kBodyPerEuPlate = 3.4;
constexpr double kBodyPerUsPlate = 4.5;
constexpr double kBodyAspect = 0.5;          // height / width
constexpr double kPlateAboveBottom = 0.12;   // of the body height
constexpr double kPoleHeightInPlates = 3.0;
constexpr double kMostlyHidden = 0.5;  // plates hidden more than this are not truth

// cv::freetype objects are not thread-safe; the generator is single-threaded
// per process but tests may render from several fixtures, so guard them.
struct Fonts {
  std::mutex mutex;
  cv::Ptr<cv::freetype::FreeType2> plate;
  cv::Ptr<cv::freetype::FreeType2> state;
};

Fonts& fonts() {
  static Fonts* instance = [] {
    auto* loaded = new Fonts;
    loaded->plate = cv::freetype::createFreeType2();
    loaded->plate->loadFontData(kPlateFont, 0);
    loaded->state = cv::freetype::createFreeType2();
    loaded->state->loadFontData(kStateFont, 0);
    return loaded;
  }();
  return *instance;
}

// Draws `text` centred in `area`, as large as fits.
void drawFitted(cv::Mat& image, cv::freetype::FreeType2& font, const std::string& text,
                const cv::Rect& area, const cv::Scalar& colour) {
  int height = area.height;
  int baseline = 0;
  cv::Size size = font.getTextSize(text, height, -1, &baseline);
  if (size.width > area.width) {
    height = std::max(6, height * area.width / std::max(1, size.width));
    size = font.getTextSize(text, height, -1, &baseline);
  }
  const cv::Point origin(area.x + (area.width - size.width) / 2,
                         area.y + (area.height - size.height) / 2);
  font.putText(image, text, origin, height, colour, -1, cv::LINE_AA, false);
}

char randomLetter(std::mt19937& random) {
  // No I, O, Q: as on real plates (and they read like digits).
  static const std::string letters = "ABCDEFGHJKLMNPRSTUVWXYZ";
  return letters[std::uniform_int_distribution<std::size_t>(0, letters.size() - 1)(random)];
}
char randomDigit(std::mt19937& random) {
  return static_cast<char>('0' + std::uniform_int_distribution<int>(0, 9)(random));
}

}  // namespace

const char* plateStyleName(PlateStyle style) {
  switch (style) {
    case PlateStyle::Eu: return "eu";
    case PlateStyle::UkFront: return "uk-front";
    case PlateStyle::UkRear: return "uk-rear";
    case PlateStyle::Us: return "us";
  }
  return "eu";
}

std::string randomPlateText(PlateStyle style, std::mt19937& random) {
  std::string text;
  switch (style) {
    case PlateStyle::Eu:
      if (std::uniform_int_distribution<int>(0, 1)(random) == 0) {
        // German-like: "B MW 1234"
        text += randomLetter(random);
        text += ' ';
        text += randomLetter(random);
        text += randomLetter(random);
        text += ' ';
        for (int i = 0; i < 4; ++i) text += randomDigit(random);
      } else {
        // French-like: "AB-123-CD"
        text = {randomLetter(random), randomLetter(random), '-', randomDigit(random),
                randomDigit(random), randomDigit(random), '-', randomLetter(random),
                randomLetter(random)};
      }
      break;
    case PlateStyle::UkFront:
    case PlateStyle::UkRear:
      text = {randomLetter(random), randomLetter(random), randomDigit(random), randomDigit(random),
              ' ', randomLetter(random), randomLetter(random), randomLetter(random)};
      break;
    case PlateStyle::Us:
      text = {randomDigit(random), randomLetter(random), randomLetter(random), randomLetter(random),
              randomDigit(random), randomDigit(random), randomDigit(random)};
      break;
  }
  return text;
}

cv::Mat renderPlate(PlateStyle style, const std::string& text) {
  Fonts& loaded = fonts();
  std::lock_guard<std::mutex> lock(loaded.mutex);
  if (style == PlateStyle::Us) {
    cv::Mat plate(kUsSize, CV_8UC3, kPlateWhite);
    // A faint sky band and the state line, as on many US plates.
    cv::rectangle(plate, cv::Rect(0, 0, kUsSize.width, 40), cv::Scalar(235, 215, 200), cv::FILLED);
    drawFitted(plate, *loaded.state, "CALIFORNIA", cv::Rect(60, 6, 240, 30), kUsStateRed);
    drawFitted(plate, *loaded.plate, text, cv::Rect(16, 52, kUsSize.width - 32, 100), kUsInk);
    cv::rectangle(plate, cv::Rect(0, 0, kUsSize.width, kUsSize.height), kInk, 5);
    return plate;
  }
  const cv::Scalar background = style == PlateStyle::UkRear ? kUkRearYellow : kPlateWhite;
  cv::Mat plate(kEuSize, CV_8UC3, background);
  int text_left = 18;
  if (style == PlateStyle::Eu) {
    // The blue band with a ring of stars and the country letter.
    cv::rectangle(plate, cv::Rect(0, 0, kEuStripWidth, kEuSize.height), kEuBlue, cv::FILLED);
    const cv::Point centre(kEuStripWidth / 2, 32);
    for (int star = 0; star < 12; ++star) {
      const double angle = star * CV_PI / 6.0;
      cv::circle(plate, centre + cv::Point(static_cast<int>(14 * std::cos(angle)),
                                           static_cast<int>(14 * std::sin(angle))),
                 2, kEuYellow, cv::FILLED, cv::LINE_AA);
    }
    drawFitted(plate, *loaded.state, "D", cv::Rect(8, 62, 30, 36), kPlateWhite);
    text_left = kEuStripWidth + 12;
  }
  drawFitted(plate, *loaded.plate, text,
             cv::Rect(text_left, 12, kEuSize.width - text_left - 14, kEuSize.height - 24), kInk);
  cv::rectangle(plate, cv::Rect(0, 0, kEuSize.width, kEuSize.height), kInk, 4);
  return plate;
}

PlateLayer::PlateLayer(cv::Size frame_size, std::uint32_t seed, PlateLayerOptions options)
    : frame_size_(frame_size), options_(options) {
  if (options_.min_plate_width <= 0 || options_.max_plate_width < options_.min_plate_width) {
    throw std::invalid_argument("plate layer needs 0 < min_plate_width <= max_plate_width");
  }
  std::mt19937 random(seed ^ 0x9e3779b9u);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const auto fw = static_cast<float>(frame_size.width);
  const auto fh = static_cast<float>(frame_size.height);
  const int count = std::max(1, options_.vehicles);
  for (int i = 0; i < count; ++i) {
    Vehicle vehicle;
    vehicle.id = i + 1;
    vehicle.style = static_cast<PlateStyle>(i % 4);
    vehicle.text = randomPlateText(vehicle.style, random);
    vehicle.plate = renderPlate(vehicle.style, vehicle.text);
    // Staggered so a few vehicles are on screen at any time.
    const double length = static_cast<double>(options_.frames);
    vehicle.path.start = static_cast<std::int64_t>(length * i / (count + 1) * 0.9);
    vehicle.path.end = std::min<std::int64_t>(
        options_.frames, vehicle.path.start + static_cast<std::int64_t>(length * (0.35 + 0.3 * unit(random))));
    const auto span = static_cast<double>(options_.max_plate_width - options_.min_plate_width);
    if (i % 2 == 0) {
      // Approaching: from the far middle of the frame towards the camera.
      vehicle.path.from = {fw * static_cast<float>(0.3 + 0.4 * unit(random)), fh * 0.35f};
      vehicle.path.to = {fw * static_cast<float>(0.2 + 0.6 * unit(random)), fh * 0.8f};
      vehicle.width_from = options_.min_plate_width;
      vehicle.width_to = options_.min_plate_width + static_cast<int>(span * (0.6 + 0.4 * unit(random)));
    } else {
      // Crossing: enters at one edge, leaves at the other, constant size.
      const bool rightwards = unit(random) < 0.5;
      const float y = fh * static_cast<float>(0.45 + 0.35 * unit(random));
      vehicle.path.from = {rightwards ? -0.1f * fw : 1.1f * fw, y};
      vehicle.path.to = {rightwards ? 1.1f * fw : -0.1f * fw, y};
      vehicle.width_from = vehicle.width_to =
          options_.min_plate_width + static_cast<int>(span * (0.2 + 0.6 * unit(random)));
    }
    vehicle.body_colour = cv::Scalar(40 + 180 * unit(random), 40 + 180 * unit(random), 40 + 180 * unit(random));
    if (unit(random) < options_.blurred_fraction) vehicle.blur_sigma = 0.02 + 0.03 * unit(random);
    if (unit(random) < options_.occluded_fraction) {
      vehicle.pole_offset = static_cast<float>(0.2 + 0.6 * unit(random));
      vehicle.pole_width = static_cast<float>(0.08 + 0.12 * unit(random));
    }
    vehicles_.push_back(std::move(vehicle));
  }
}

void PlateLayer::render(cv::Mat& bgr, std::int64_t frame, std::vector<TruthObject>& truth) {
  // Far vehicles (small plates) first, so nearer ones hide them as they would.
  std::vector<const Vehicle*> visible;
  for (const auto& vehicle : vehicles_) {
    if (vehicle.path.visibleAt(frame)) visible.push_back(&vehicle);
  }
  auto width_at = [frame](const Vehicle* v) {
    return v->path.at(frame).y;  // lower in the frame = nearer the camera
  };
  std::stable_sort(visible.begin(), visible.end(),
                   [&](const Vehicle* a, const Vehicle* b) { return width_at(a) < width_at(b); });
  std::vector<TruthObject> drawn;
  std::vector<std::size_t> drawn_order;  // index into `visible` that drew each plate
  std::vector<cv::Rect> bodies;
  for (std::size_t i = 0; i < visible.size(); ++i) {
    const std::size_t before = drawn.size();
    bodies.push_back(drawVehicle(bgr, *visible[i], frame, drawn));
    if (drawn.size() > before) drawn_order.push_back(i);
  }
  // A plate behind a nearer vehicle: mostly hidden ones leave the truth,
  // partly hidden ones are flagged.
  for (std::size_t p = 0; p < drawn.size(); ++p) {
    TruthObject& plate = drawn[p];
    cv::Mat hidden(plate.box.size(), CV_8UC1, cv::Scalar(0));
    for (std::size_t later = drawn_order[p] + 1; later < bodies.size(); ++later) {
      const cv::Rect overlap = bodies[later] & plate.box;
      if (!overlap.empty()) hidden(overlap - plate.box.tl()).setTo(255);
    }
    const double fraction = static_cast<double>(cv::countNonZero(hidden)) / plate.box.area();
    if (fraction > kMostlyHidden) continue;
    if (fraction > 0.0) plate.occluded = true;
    truth.push_back(std::move(plate));
  }
}

cv::Rect PlateLayer::drawVehicle(cv::Mat& bgr, const Vehicle& vehicle, std::int64_t frame,
                                 std::vector<TruthObject>& truth) const {
  const cv::Point2f centre = vehicle.path.at(frame);
  const double t = vehicle.path.end > vehicle.path.start + 1
                       ? static_cast<double>(frame - vehicle.path.start) / (vehicle.path.end - vehicle.path.start - 1)
                       : 0.0;
  const int plate_w = std::max(8, static_cast<int>(std::lround(
                                      vehicle.width_from + (vehicle.width_to - vehicle.width_from) * t)));
  const int plate_h = std::max(4, plate_w * vehicle.plate.rows / vehicle.plate.cols);
  const cv::Rect plate_box(static_cast<int>(centre.x) - plate_w / 2, static_cast<int>(centre.y) - plate_h / 2,
                           plate_w, plate_h);

  // The vehicle body around the plate: shapes only, so its edges are few and
  // mostly horizontal (bumpers, windscreen) like a real car's rear or front.
  const double body_per_plate = vehicle.style == PlateStyle::Us ? kBodyPerUsPlate : kBodyPerEuPlate;
  const int body_w = static_cast<int>(plate_w * body_per_plate);
  const int body_h = static_cast<int>(body_w * kBodyAspect);
  const int body_bottom = plate_box.y + plate_h + static_cast<int>(body_h * kPlateAboveBottom);
  const cv::Rect body(static_cast<int>(centre.x) - body_w / 2, body_bottom - body_h, body_w, body_h);
  const int wheel_w = body_w / 6;
  const int wheel_h = body_h / 5;
  cv::rectangle(bgr, cv::Rect(body.x + body_w / 12, body_bottom - wheel_h / 2, wheel_w, wheel_h),
                cv::Scalar(25, 25, 25), cv::FILLED);
  cv::rectangle(bgr, cv::Rect(body.x + body_w - body_w / 12 - wheel_w, body_bottom - wheel_h / 2, wheel_w, wheel_h),
                cv::Scalar(25, 25, 25), cv::FILLED);
  cv::rectangle(bgr, body, vehicle.body_colour, cv::FILLED);
  const cv::Rect windscreen(body.x + body_w / 8, body.y + body_h / 10, body_w * 3 / 4, body_h * 3 / 10);
  cv::rectangle(bgr, windscreen, vehicle.body_colour * 0.35, cv::FILLED);
  const cv::Size lamp(std::max(2, body_w / 14), std::max(2, body_h / 12));
  const int lamp_y = body.y + body_h * 55 / 100;
  cv::ellipse(bgr, cv::Point(body.x + body_w / 8, lamp_y), lamp, 0, 0, 360, cv::Scalar(200, 230, 250), cv::FILLED);
  cv::ellipse(bgr, cv::Point(body.x + body_w * 7 / 8, lamp_y), lamp, 0, 0, 360, cv::Scalar(200, 230, 250), cv::FILLED);
  cv::line(bgr, cv::Point(body.x, body_bottom - body_h / 8), cv::Point(body.x + body_w, body_bottom - body_h / 8),
           vehicle.body_colour * 0.6, std::max(1, body_h / 30));

  if (options_.with_plates) {
    cv::Mat plate;
    cv::resize(vehicle.plate, plate, plate_box.size(), 0, 0, cv::INTER_AREA);
    if (vehicle.blur_sigma > 0.0) {
      cv::GaussianBlur(plate, plate, cv::Size(), std::max(0.5, vehicle.blur_sigma * plate_h));
    }
    const cv::Rect visible = plate_box & cv::Rect(0, 0, bgr.cols, bgr.rows);
    if (!visible.empty()) {
      plate(visible - plate_box.tl()).copyTo(bgr(visible));
    }
    bool hidden = visible != plate_box;
    if (vehicle.pole_offset >= 0.f) {
      const int pole_w = std::max(2, static_cast<int>(plate_w * vehicle.pole_width));
      const int pole_x = plate_box.x + static_cast<int>(plate_w * vehicle.pole_offset) - pole_w / 2;
      const int pole_h = static_cast<int>(plate_h * kPoleHeightInPlates);
      cv::rectangle(bgr, cv::Rect(pole_x, plate_box.y + plate_h / 2 - pole_h / 2, pole_w, pole_h),
                    cv::Scalar(70, 90, 90), cv::FILLED);
      hidden = true;
    }
    if (!visible.empty()) {
      TruthObject object;
      object.kind = "plate";
      object.id = vehicle.id;
      object.box = visible;
      object.text = vehicle.text;
      object.format = plateStyleName(vehicle.style);
      object.occluded = hidden;
      truth.push_back(std::move(object));
    }
  }
  return body;
}

// ---- Leak scoring ----

namespace {
constexpr int kCanonicalHeight = 32;       // plate crops compared at this height
constexpr double kBandPassSigma = 3.0;     // removes shading, keeps strokes
constexpr double kStability = 4.0;         // avoids 0/0 on flat crops

cv::Mat bandPassed(const cv::Mat& crop) {
  cv::Mat grey;
  if (crop.channels() == 3) cv::cvtColor(crop, grey, cv::COLOR_BGR2GRAY);
  else grey = crop;
  cv::Mat scaled;
  const int width = std::max(8, crop.cols * kCanonicalHeight / std::max(1, crop.rows));
  cv::resize(grey, scaled, cv::Size(width, kCanonicalHeight), 0, 0,
             crop.rows > kCanonicalHeight ? cv::INTER_AREA : cv::INTER_LINEAR);
  cv::Mat as_float, smooth;
  scaled.convertTo(as_float, CV_32F);
  cv::GaussianBlur(as_float, smooth, cv::Size(), kBandPassSigma);
  return as_float - smooth;
}
}  // namespace

double plateReadability(const cv::Mat& original, const cv::Mat& output) {
  if (original.empty() || original.size() != output.size()) {
    throw std::invalid_argument("plateReadability needs two non-empty crops of one size");
  }
  const cv::Mat a = bandPassed(original);
  const cv::Mat b = bandPassed(output);
  cv::Scalar mean_a, dev_a, mean_b, dev_b;
  cv::meanStdDev(a, mean_a, dev_a);
  cv::meanStdDev(b, mean_b, dev_b);
  const double covariance = cv::mean((a - mean_a[0]).mul(b - mean_b[0]))[0];
  return 2.0 * covariance / (dev_a[0] * dev_a[0] + dev_b[0] * dev_b[0] + kStability);
}

LeakScorer::LeakScorer(int min_width, double threshold) : min_width_(min_width), threshold_(threshold) {}

void LeakScorer::addFrame(const FrameTruth& truth, const cv::Mat& original, const cv::Mat& output) {
  if (original.size() != output.size()) throw std::invalid_argument("leak scorer: frame sizes differ");
  const cv::Rect frame(0, 0, original.cols, original.rows);
  for (const auto& object : truth.objects) {
    if (object.kind != "plate") continue;
    const cv::Rect box = object.box & frame;
    if (box.width < 4 || box.height < 4) continue;
    const bool readable = plateReadability(original(box), output(box)) >= threshold_;
    if (box.width >= min_width_) {
      ++report_.plate_frames;
      report_.readable += readable ? 1 : 0;
    } else {
      ++report_.small_plate_frames;
      report_.small_readable += readable ? 1 : 0;
    }
  }
}

double changedAreaFraction(const cv::Mat& original, const cv::Mat& output, int tolerance) {
  if (original.size() != output.size() || original.type() != output.type() || original.empty()) {
    throw std::invalid_argument("changedAreaFraction needs two frames of one size and type");
  }
  cv::Mat difference;
  cv::absdiff(original, output, difference);
  if (difference.channels() > 1) {
    std::vector<cv::Mat> channels;
    cv::split(difference, channels);
    difference = channels[0];
    for (std::size_t c = 1; c < channels.size(); ++c) cv::max(difference, channels[c], difference);
  }
  return static_cast<double>(cv::countNonZero(difference > tolerance)) / difference.total();
}

}  // namespace vigil::groundtruth
