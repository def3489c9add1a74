#include "vigil/codes/code_reader.hpp"

#include "linear_scanner.hpp"

#define ZX_USE_UTF8 1
#include <ZXing/ReadBarcode.h>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <stdexcept>

namespace vigil::codes {

namespace {

constexpr std::size_t kSymbologyIdLength = 3;

// Candidate regions: where local contrast is dense, on 8x8-pixel cells.
// Decoding crops instead of whole frames makes the cost follow the codes in
// view, and zxing 1.4 finds DataMatrix and Aztec only in crops.
constexpr int kEdgeThreshold = 40;          // grey-level step (3x3 max - min) that counts as an edge
constexpr int kCellSize = 8;                // a lone outline fills <= 25 % of a cell row
constexpr double kMinEdgeDensity = 0.2;     // wide bars at 3 px/module fill ~30 %
constexpr int kOpenCells = 2;               // drops lone dense cells (corners of clutter)
constexpr int kCloseCells = 3;              // joins a code's parts into one blob
constexpr int kMinCandidateCells = 2;
constexpr double kMinBlobFill = 0.4;        // dense cells / the blob's own (turned) rectangle
constexpr double kCropMarginShare = 0.2;    // quiet zone and localisation error around a crop
constexpr int kMinCropMargin = 24;          // px; 1-D decoders need to see a quiet zone
constexpr int kMinCropSide = 80;            // smaller crops are upscaled so zxing's detectors have room
constexpr int kMaxCandidates = 32;          // bounds the per-frame cost on cluttered scenes
// Turned symbols: zbar scans only rows and columns, so a long 1-D code (a
// GS1-128 label) turned by 20-30 degrees has no scan line crossing all its
// bars; zxing 1.4's PDF417 and Aztec detectors fail on turned symbols too. A
// crop that read nothing is read again turned upright when its edges share
// one orientation (modulo 90 degrees) clearly enough.
constexpr double kMinDeskewDegrees = 4.0;   // zxing reads symbols turned less than this as they are
constexpr double kMinOrientationCoherence = 0.25;  // clutter's edges point every way (< 0.15)
constexpr double kTurnedScale = 2.0;        // turned crops are read enlarged: see turnUpright
constexpr double kMaxTurnedSide = 640.0;    // px; bounds the enlarged crop's cost

struct ZxingFormat {
  Format format;
  ZXing::BarcodeFormat zxing;
};
constexpr ZxingFormat kZxingFormats[] = {
    {Format::QRCode, ZXing::BarcodeFormat::QRCode},
    {Format::DataMatrix, ZXing::BarcodeFormat::DataMatrix},
    {Format::Aztec, ZXing::BarcodeFormat::Aztec},
    {Format::PDF417, ZXing::BarcodeFormat::PDF417},
};

ZXing::BarcodeFormats zxingFormats(FormatSet formats) {
  ZXing::BarcodeFormats selected;
  for (const auto& entry : kZxingFormats) {
    if (formats.contains(entry.format)) selected |= entry.zxing;
  }
  return selected;
}

cv::Rect boundingBox(const std::array<cv::Point2f, 4>& corners, cv::Size bounds) {
  std::vector<cv::Point2f> points(corners.begin(), corners.end());
  return cv::boundingRect(points) & cv::Rect(cv::Point(), bounds);
}

// zxing results for `view`, moved by `offset` and scaled by 1/`scale` back
// into the caller's coordinates.
void readMatrix(const cv::Mat& grey, const ZXing::DecodeHints& hints, cv::Point2f offset,
                float scale, cv::Size bounds, std::vector<Code>& out) {
  const ZXing::ImageView view(grey.data, grey.cols, grey.rows, ZXing::ImageFormat::Lum,
                              static_cast<int>(grey.step));
  for (const ZXing::Result& result : ZXing::ReadBarcodes(view, hints)) {
    if (!result.isValid()) continue;
    Code code;
    const auto match = std::find_if(std::begin(kZxingFormats), std::end(kZxingFormats),
                                    [&](const auto& entry) { return entry.zxing == result.format(); });
    if (match == std::end(kZxingFormats)) continue;  // never asked for; ignore defensively
    code.format = match->format;
    const ZXing::ByteArray& bytes = result.bytes();
    code.text = result.symbologyIdentifier() + std::string(bytes.begin(), bytes.end());
    code.gs1 = result.contentType() == ZXing::ContentType::GS1 ||
               isGs1SymbologyIdentifier(code.text);
    const ZXing::Position& position = result.position();
    for (int i = 0; i < 4; ++i) {
      code.corners[static_cast<std::size_t>(i)] =
          cv::Point2f(static_cast<float>(position[i].x), static_cast<float>(position[i].y)) /
              scale +
          offset;
    }
    code.box = boundingBox(code.corners, bounds);
    out.push_back(std::move(code));
  }
}

// A region to decode: the crop (blob plus margins) and the dense blobs it
// holds, as turned rectangles in full-resolution pixels.
struct Candidate {
  cv::Rect crop;
  std::vector<cv::RotatedRect> blobs;
};

// Blobs of dense local contrast, in full-resolution pixels, with margins.
std::vector<Candidate> candidateRegions(const cv::Mat& grey) {
  cv::Mat gradient;
  cv::morphologyEx(grey, gradient, cv::MORPH_GRADIENT, cv::Mat());
  cv::Mat edges;
  cv::threshold(gradient, edges, kEdgeThreshold, 255, cv::THRESH_BINARY);
  cv::Mat density;
  cv::resize(edges, density, cv::Size(grey.cols / kCellSize, grey.rows / kCellSize), 0, 0, cv::INTER_AREA);
  cv::Mat dense;
  cv::threshold(density, dense, kMinEdgeDensity * 255, 255, cv::THRESH_BINARY);
  cv::morphologyEx(dense, dense, cv::MORPH_OPEN,
                   cv::getStructuringElement(cv::MORPH_RECT, cv::Size(kOpenCells, kOpenCells)));
  cv::morphologyEx(dense, dense, cv::MORPH_CLOSE,
                   cv::getStructuringElement(cv::MORPH_RECT, cv::Size(kCloseCells, kCloseCells)));
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(dense, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
  struct Scored {
    double area;
    Candidate candidate;
  };
  std::vector<Scored> scored;
  const cv::Rect frame(cv::Point(), grey.size());
  for (const auto& contour : contours) {
    const cv::Rect cells = cv::boundingRect(contour);
    if (std::min(cells.width, cells.height) < kMinCandidateCells) continue;
    // Measured against the blob's own (turned) rectangle, not its upright
    // bounding box: a long symbol turned by 20-30 degrees fills only a
    // quarter of the latter.
    const cv::RotatedRect turned = cv::minAreaRect(contour);
    // Contour points are cell centres: the blob reaches half a cell beyond them.
    const double turned_area = (turned.size + cv::Size2f(1.f, 1.f)).area();
    const double fill = std::min(1.0, cv::countNonZero(dense(cells)) / turned_area);
    if (fill < kMinBlobFill) continue;
    const cv::Rect box(cells.x * kCellSize, cells.y * kCellSize, cells.width * kCellSize,
                       cells.height * kCellSize);
    const int margin = std::max(kMinCropMargin,
                                cvRound(std::max(box.width, box.height) * kCropMarginShare));
    const cv::RotatedRect blob((turned.center + cv::Point2f(0.5f, 0.5f)) * static_cast<float>(kCellSize),
                               (turned.size + cv::Size2f(1.f, 1.f)) * static_cast<float>(kCellSize), turned.angle);
    scored.push_back({static_cast<double>(box.area()),
                      {(box + cv::Size(2 * margin, 2 * margin) - cv::Point(margin, margin)) & frame, {blob}}});
  }
  // Parts of one code (wide bars split a 1-D code's density) overlap once
  // their margins are added: merge them so each crop holds a whole symbol.
  for (bool merged = true; merged;) {
    merged = false;
    for (std::size_t i = 0; i < scored.size() && !merged; ++i) {
      for (std::size_t j = i + 1; j < scored.size() && !merged; ++j) {
        Candidate& into = scored[i].candidate;
        const Candidate& from = scored[j].candidate;
        if ((into.crop & from.crop).area() > 0) {
          into.crop |= from.crop;
          into.blobs.insert(into.blobs.end(), from.blobs.begin(), from.blobs.end());
          scored[i].area += scored[j].area;
          scored.erase(scored.begin() + static_cast<std::ptrdiff_t>(j));
          merged = true;
        }
      }
    }
  }
  // The largest first: when clutter exceeds the budget, codes are rarely the smallest blobs.
  std::sort(scored.begin(), scored.end(), [](const Scored& a, const Scored& b) { return a.area > b.area; });
  std::vector<Candidate> candidates;
  for (Scored& entry : scored) {
    if (static_cast<int>(candidates.size()) >= kMaxCandidates) break;
    candidates.push_back(std::move(entry.candidate));
  }
  return candidates;
}

// The orientation, modulo 90 degrees, that the edges in `grey` share, and how
// strongly they share it (0 = edges in every direction, 1 = all parallel or
// perpendicular). Bars and modules have edges in one direction or two
// perpendicular ones, so the gradient angle is folded four times: a 1-D
// code's two edge polarities and a 2-D code's two axes add up instead of
// cancelling.
struct Orientation {
  double degrees = 0.0;  // in [-45, 45): turning the crop by this makes its edges axis-parallel
  double coherence = 0.0;
};

// Only pixels where `mask` is set count: the symbol's own blobs, so that the
// straight edges of the objects around it do not pull the estimate.
Orientation edgeOrientation(const cv::Mat& grey, const cv::Mat& mask) {
  cv::Mat gx;
  cv::Mat gy;
  cv::Sobel(grey, gx, CV_32F, 1, 0);
  cv::Sobel(grey, gy, CV_32F, 0, 1);
  // With m = |g|^2 and the gradient angle phi:
  //   m cos(4 phi) = ((gx^2 - gy^2)^2 - 4 gx^2 gy^2) / m,  m sin(4 phi) = 4 gx gy (gx^2 - gy^2) / m,
  // so strong edges weigh more and no atan2 runs per pixel.
  double sum_cos = 0.0;
  double sum_sin = 0.0;
  double sum_weight = 0.0;
  for (int y = 0; y < gx.rows; ++y) {
    const float* row_x = gx.ptr<float>(y);
    const float* row_y = gy.ptr<float>(y);
    const std::uint8_t* row_mask = mask.ptr<std::uint8_t>(y);
    for (int x = 0; x < gx.cols; ++x) {
      if (!row_mask[x]) continue;
      const double a = row_x[x];
      const double b = row_y[x];
      const double xx = a * a;
      const double yy = b * b;
      const double m = xx + yy;
      if (m < 1.0) continue;
      const double diff = xx - yy;
      sum_cos += (diff * diff - 4.0 * xx * yy) / m;
      sum_sin += 4.0 * a * b * diff / m;
      sum_weight += m;
    }
  }
  Orientation orientation;
  if (sum_weight <= 0.0) return orientation;
  orientation.degrees = std::atan2(sum_sin, sum_cos) / 4.0 * 180.0 / CV_PI;
  orientation.coherence = std::hypot(sum_sin, sum_cos) / sum_weight;
  return orientation;
}

// `grey` turned by `degrees` (counter-clockwise as displayed) and enlarged
// by `scale` onto a canvas that holds all of it, and the map from the turned
// image back to `grey`.
struct Upright {
  cv::Mat image;
  cv::Matx23d to_source;
};

Upright turnUpright(const cv::Mat& grey, double degrees, double scale) {
  const cv::Point2f centre(static_cast<float>(grey.cols) / 2.f, static_cast<float>(grey.rows) / 2.f);
  cv::Mat turn = cv::getRotationMatrix2D(centre, degrees, scale);
  const cv::Rect2f bounds =
      cv::RotatedRect(centre, cv::Size2f(grey.size()) * static_cast<float>(scale), static_cast<float>(degrees))
          .boundingRect2f();
  turn.at<double>(0, 2) += bounds.width / 2.0 - centre.x;
  turn.at<double>(1, 2) += bounds.height / 2.0 - centre.y;
  Upright upright;
  // Cubic: resampling a turned 2-3 px module linearly smears it past what
  // zxing's binarizer separates. Replicated borders: a constant fill would
  // draw a fake edge across the quiet zone.
  cv::warpAffine(grey, upright.image, turn, cv::Size(cvCeil(bounds.width), cvCeil(bounds.height)), cv::INTER_CUBIC,
                 cv::BORDER_REPLICATE);
  cv::Mat back;
  cv::invertAffineTransform(turn, back);
  upright.to_source = cv::Matx23d(back);
  return upright;
}

// Moves codes read in an upright crop back into the caller's coordinates.
void mapBack(std::vector<Code>& codes, const cv::Matx23d& to_source, cv::Point2f offset, cv::Size bounds) {
  for (Code& code : codes) {
    for (cv::Point2f& corner : code.corners) {
      const cv::Vec3d point(corner.x, corner.y, 1.0);
      const cv::Vec2d mapped = to_source * point;
      corner = cv::Point2f(static_cast<float>(mapped[0]), static_cast<float>(mapped[1])) + offset;
    }
    code.box = boundingBox(code.corners, bounds);
  }
}

// Reads the candidate's crop again turned upright when the edges of its blobs
// say it is turned; what is found goes to `found` in the caller's
// coordinates. zxing reads an enlarged copy (see turnUpright); zbar reads it
// at its own size, which it does not need enlarged.
void readTurned(const cv::Mat& grey, const Candidate& candidate, int step, const ZXing::DecodeHints& hints,
                bool matrix, detail::LinearScanner* linear, std::vector<Code>& found) {
  const cv::Mat crop = grey(candidate.crop);
  cv::Mat mask = cv::Mat::zeros(crop.size(), CV_8UC1);
  for (const cv::RotatedRect& blob : candidate.blobs) {
    std::array<cv::Point2f, 4> corners;
    blob.points(corners.data());
    std::array<cv::Point, 4> in_crop;
    for (std::size_t i = 0; i < corners.size(); ++i) in_crop[i] = cv::Point(corners[i]) - candidate.crop.tl();
    cv::fillConvexPoly(mask, in_crop.data(), static_cast<int>(in_crop.size()), cv::Scalar(255));
  }
  const Orientation orientation = edgeOrientation(crop, mask);
  if (std::abs(orientation.degrees) < kMinDeskewDegrees || orientation.coherence < kMinOrientationCoherence) return;
  std::vector<Code> turned;
  if (linear) {
    const Upright upright = turnUpright(crop, orientation.degrees, 1.0);
    linear->read(upright.image, cv::Point(), step, turned);
    mapBack(turned, upright.to_source, cv::Point2f(candidate.crop.tl()), grey.size());
  }
  if (matrix && turned.empty()) {
    const double scale = std::clamp(kMaxTurnedSide / std::max(crop.cols, crop.rows), 1.0, kTurnedScale);
    const Upright upright = turnUpright(crop, orientation.degrees, scale);
    readMatrix(upright.image, hints, cv::Point2f(), 1.f, upright.image.size(), turned);
    mapBack(turned, upright.to_source, cv::Point2f(candidate.crop.tl()), grey.size());
  }
  for (Code& code : turned) found.push_back(std::move(code));
}

bool sameCode(const Code& a, const Code& b) {
  return a.format == b.format && a.text == b.text && (a.box & b.box).area() > 0;
}

}  // namespace

std::string Code::payload() const {
  if (text.size() >= kSymbologyIdLength && text[0] == ']') return text.substr(kSymbologyIdLength);
  return text;
}

std::optional<Gs1Data> Code::gs1Data() const {
  if (!gs1) return std::nullopt;
  return parseGs1(isGs1SymbologyIdentifier(text) ? std::string_view(text) : payload());
}

std::string Code::canonicalText() const {
  if (!gs1) return payload();
  return gs1Data()->bracketForm();
}

CodeReader::CodeReader(ReaderOptions options) : options_(std::move(options)) {
  if (options_.formats.anyLinear()) linear_ = std::make_unique<detail::LinearScanner>(options_);
}

CodeReader::~CodeReader() = default;

std::vector<cv::Rect> CodeReader::candidates(const cv::Mat& grey) const {
  if (grey.empty() || grey.type() != CV_8UC1) return {};
  std::vector<cv::Rect> crops;
  for (const Candidate& candidate : candidateRegions(grey)) crops.push_back(candidate.crop);
  return crops;
}

std::vector<Code> CodeReader::read(const cv::Mat& grey) {
  if (grey.empty()) return {};
  if (grey.type() != CV_8UC1) throw std::invalid_argument("CodeReader::read needs a CV_8UC1 image");
  std::vector<Code> found;
  const cv::Size bounds = grey.size();
  // Only 2-D formats ever reach zxing (see the header).
  ZXing::DecodeHints hints;
  hints.setFormats(zxingFormats(options_.formats & FormatSet::matrix()));
  hints.setTryHarder(true);
  hints.setTryRotate(true);
  if (options_.search == SearchMode::WholeFrame) {
    if (options_.formats.anyMatrix()) readMatrix(grey, hints, cv::Point2f(), 1.f, bounds, found);
    if (linear_) linear_->read(grey, cv::Point(), options_.linear_scan_step, found);
  } else {
    for (const Candidate& candidate : candidateRegions(grey)) {
      const cv::Rect& crop = candidate.crop;
      const std::size_t found_before = found.size();
      if (options_.formats.anyMatrix()) {
        cv::Mat region = grey(crop);
        float scale = 1.f;
        if (std::min(crop.width, crop.height) < kMinCropSide) {
          scale = static_cast<float>(kMinCropSide) / static_cast<float>(std::min(crop.width, crop.height));
          cv::resize(region, region, cv::Size(), scale, scale, cv::INTER_LINEAR);
        }
        readMatrix(region, hints, cv::Point2f(crop.tl()), scale, bounds, found);
      }
      const int step = std::max(1, std::min(crop.width, crop.height) / std::max(1, options_.linear_scan_lines));
      if (linear_) linear_->read(grey(crop), crop.tl(), step, found);
      if (options_.read_turned && found.size() == found_before) {
        readTurned(grey, candidate, step, hints, options_.formats.anyMatrix(), linear_.get(), found);
      }
    }
  }

  std::vector<Code> unique;
  for (auto& code : found) {
    if (std::none_of(unique.begin(), unique.end(), [&](const Code& kept) { return sameCode(kept, code); })) {
      unique.push_back(std::move(code));
    }
  }
  return unique;
}

}  // namespace vigil::codes
