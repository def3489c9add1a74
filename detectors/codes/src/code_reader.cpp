#include "vigil/codes/code_reader.hpp"

#include "linear_scanner.hpp"

#define ZX_USE_UTF8 1
#include <ZXing/ReadBarcode.h>
#include <opencv2/imgproc.hpp>

#include <algorithm>
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
constexpr double kMinBlobFill = 0.4;        // dense cells / bounding box
constexpr double kCropMarginShare = 0.2;    // quiet zone and localisation error around a crop
constexpr int kMinCropMargin = 24;          // px; 1-D decoders need to see a quiet zone
constexpr int kMinCropSide = 80;            // smaller crops are upscaled so zxing's detectors have room
constexpr int kMaxCandidates = 32;          // bounds the per-frame cost on cluttered scenes

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

// Blobs of dense local contrast, in full-resolution pixels, with margins.
std::vector<cv::Rect> candidateRegions(const cv::Mat& grey) {
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
  std::vector<std::pair<double, cv::Rect>> scored;
  const cv::Rect frame(cv::Point(), grey.size());
  for (const auto& contour : contours) {
    const cv::Rect cells = cv::boundingRect(contour);
    if (std::min(cells.width, cells.height) < kMinCandidateCells) continue;
    const double fill = cv::countNonZero(dense(cells)) / static_cast<double>(cells.area());
    if (fill < kMinBlobFill) continue;
    const cv::Rect box(cells.x * kCellSize, cells.y * kCellSize, cells.width * kCellSize,
                       cells.height * kCellSize);
    const int margin = std::max(kMinCropMargin,
                                cvRound(std::max(box.width, box.height) * kCropMarginShare));
    scored.emplace_back(box.area(),
                        (box + cv::Size(2 * margin, 2 * margin) - cv::Point(margin, margin)) & frame);
  }
  // Parts of one code (wide bars split a 1-D code's density) overlap once
  // their margins are added: merge them so each crop holds a whole symbol.
  for (bool merged = true; merged;) {
    merged = false;
    for (std::size_t i = 0; i < scored.size() && !merged; ++i) {
      for (std::size_t j = i + 1; j < scored.size() && !merged; ++j) {
        if ((scored[i].second & scored[j].second).area() > 0) {
          scored[i].second |= scored[j].second;
          scored[i].first += scored[j].first;
          scored.erase(scored.begin() + static_cast<std::ptrdiff_t>(j));
          merged = true;
        }
      }
    }
  }
  // The largest first: when clutter exceeds the budget, codes are rarely the smallest blobs.
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<cv::Rect> candidates;
  for (const auto& entry : scored) {
    if (static_cast<int>(candidates.size()) >= kMaxCandidates) break;
    candidates.push_back(entry.second);
  }
  return candidates;
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
  return candidateRegions(grey);
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
    for (const cv::Rect& crop : candidateRegions(grey)) {
      if (options_.formats.anyMatrix()) {
        cv::Mat region = grey(crop);
        float scale = 1.f;
        if (std::min(crop.width, crop.height) < kMinCropSide) {
          scale = static_cast<float>(kMinCropSide) / static_cast<float>(std::min(crop.width, crop.height));
          cv::resize(region, region, cv::Size(), scale, scale, cv::INTER_LINEAR);
        }
        readMatrix(region, hints, cv::Point2f(crop.tl()), scale, bounds, found);
      }
      if (linear_) {
        const int step = std::max(1, std::min(crop.width, crop.height) / std::max(1, options_.linear_scan_lines));
        linear_->read(grey(crop), crop.tl(), step, found);
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
