#include "vigil/groundtruth/codes.hpp"

#include "vigil/codes/gs1.hpp"

#include <opencv2/imgproc.hpp>
#include <zint.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>

namespace vigil::groundtruth {

namespace {

using codes::Format;

constexpr int kLinearQuietModules = 12;   // EAN needs 11 on the left; Code 128 needs 10
constexpr int kMatrixQuietModules = 4;    // QR's quiet zone; more than DataMatrix needs
constexpr double kLinearHeightRatio = 0.45;  // bar height / symbol width, like a retail label
constexpr int kMinLinearHeightModules = 24;
constexpr std::uint8_t kDark = 25;        // printed black is never 0 under real light
constexpr std::uint8_t kLight = 235;

// Scene layout: six slots, each holding one symbol at a time.
constexpr int kSlotColumns = 2;
constexpr int kSlotRows = 3;
constexpr float kTravelShare = 0.25f;     // share of the slot width a symbol moves over
constexpr float kSlotMargin = 8.f;
constexpr std::int64_t kSlotGapFrames = 3;  // frames a slot stays empty between symbols

// "Hard" distortions, drawn per symbol.
constexpr float kMaxMatrixAngle = 40.f;
// Codes held to a camera or lying on a conveyor are turned every way; 30
// degrees is what the field asks of 1-D and stacked codes (zbar's row and
// column scan lines alone fail beyond a few degrees on long symbols).
constexpr float kMaxLinearAngle = 30.f;
constexpr float kMaxStackedAngle = 30.f;
constexpr float kMaxSpin = 0.3f;          // degrees per frame
constexpr float kMaxTilt = 0.2f;
constexpr float kMaxBlurSigma = 0.7f;
constexpr float kMaxNoiseSigma = 8.f;
constexpr float kGlareShare = 0.3f;       // placements with glare
constexpr float kMinGlare = 0.4f;
constexpr float kMaxGlare = 0.9f;
constexpr float kOcclusionShare = 0.25f;  // placements a hand passes over
constexpr float kMinOcclusion = 0.15f;
constexpr float kMaxOcclusion = 0.4f;
const cv::Scalar kOccluderBgr(90, 120, 170);  // skin-like, mid grey in luma

struct ZintSymbol {
  zint_symbol* symbol = ZBarcode_Create();
  ~ZintSymbol() { ZBarcode_Delete(symbol); }
  ZintSymbol() = default;
  ZintSymbol(const ZintSymbol&) = delete;
  ZintSymbol& operator=(const ZintSymbol&) = delete;
};

int zintSymbology(const CodeSymbol& symbol) {
  switch (symbol.format) {
    case Format::QRCode: return BARCODE_QRCODE;
    case Format::DataMatrix: return BARCODE_DATAMATRIX;
    case Format::Aztec: return BARCODE_AZTEC;
    case Format::PDF417: return BARCODE_PDF417;
    case Format::EAN13:
    case Format::EAN8: return BARCODE_EANX_CHK;  // payload carries its check digit
    case Format::UPCA: return BARCODE_UPCA_CHK;
    case Format::UPCE: return BARCODE_UPCE;
    case Format::Code128: return symbol.gs1 ? BARCODE_GS1_128 : BARCODE_CODE128;
    case Format::Code39: return BARCODE_CODE39;
    case Format::ITF: return BARCODE_C25INTER;
  }
  throw std::invalid_argument("unknown code format");
}

bool moduleSet(const zint_symbol* symbol, int row, int column) {
  // zint packs each row's modules as bits, least significant first.
  return ((symbol->encoded_data[row][column >> 3] >> (column & 7)) & 1) != 0;
}

std::string digits(std::mt19937& random, int count) {
  std::uniform_int_distribution<int> digit(0, 9);
  std::string out;
  for (int i = 0; i < count; ++i) out += static_cast<char>('0' + digit(random));
  return out;
}

std::string withCheckDigit(const std::string& body) {
  for (char check = '0'; check <= '9'; ++check) {
    if (codes::gs1CheckDigitValid(body + check)) return body + check;
  }
  return body + '0';
}

std::string alphanumeric(std::mt19937& random, int count, bool upper_only) {
  static constexpr std::string_view kUpper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  static constexpr std::string_view kMixed =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-./";
  const std::string_view alphabet = upper_only ? kUpper : kMixed;
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  std::string out;
  for (int i = 0; i < count; ++i) out += alphabet[pick(random)];
  return out;
}

// A valid YYMMDD, sometimes with DD = 00 ("end of month").
std::string date(std::mt19937& random) {
  std::uniform_int_distribution<int> year(20, 35);
  std::uniform_int_distribution<int> month(1, 12);
  std::uniform_int_distribution<int> day(0, 28);
  char text[sizeof "YYMMDD"];
  std::snprintf(text, sizeof text, "%02d%02d%02d", year(random), month(random), day(random));
  return text;
}

std::string gs1Payload(std::mt19937& random, int variant) {
  switch (variant % 4) {
    case 0:
      return "(01)" + withCheckDigit(digits(random, 13)) + "(17)" + date(random) + "(10)" +
             alphanumeric(random, 6, true);
    case 1:
      return "(00)" + withCheckDigit(digits(random, 17));
    case 2:
      // The shape the original service read: GDTI with serial, expiry, amount.
      return "(253)" + withCheckDigit(digits(random, 12)) + digits(random, 5) + "(17)" +
             date(random) + "(3902)" + digits(random, 6);
    default:
      return "(01)" + withCheckDigit(digits(random, 13)) + "(3103)" + digits(random, 6) + "(21)" +
             alphanumeric(random, 8, true);
  }
}

bool supportsGs1(Format format) {
  return format == Format::QRCode || format == Format::DataMatrix || format == Format::Code128;
}

std::string plainPayload(std::mt19937& random, Format format) {
  switch (format) {
    case Format::QRCode: return "https://vigil.example/" + alphanumeric(random, 12, false);
    case Format::DataMatrix: return "LOT-" + alphanumeric(random, 10, true);
    case Format::Aztec: return "TICKET " + alphanumeric(random, 14, true);
    case Format::PDF417: return "DOC " + alphanumeric(random, 16, true);
    case Format::EAN13: return withCheckDigit(std::to_string(std::uniform_int_distribution<int>(1, 9)(random)) + digits(random, 11));
    case Format::EAN8: return withCheckDigit(std::to_string(std::uniform_int_distribution<int>(1, 9)(random)) + digits(random, 6));
    case Format::UPCA: return withCheckDigit(std::to_string(std::uniform_int_distribution<int>(1, 9)(random)) + digits(random, 10));
    case Format::UPCE: {
      // Number system 0, and a last digit 5..9 keeps the compression simple.
      const std::string body = "0" + digits(random, 4) + std::to_string(std::uniform_int_distribution<int>(1, 9)(random)) +
                               std::to_string(std::uniform_int_distribution<int>(5, 9)(random));
      return body;  // zint appends the check digit; see expected text below
    }
    case Format::Code128: return "PKG-" + alphanumeric(random, 8, false);
    case Format::Code39: return "C39-" + alphanumeric(random, 6, true);
    case Format::ITF: return withCheckDigit(digits(random, 13));  // ITF-14
  }
  return "";
}

std::array<cv::Point2f, 4> placedQuad(const CodePlacement& placement, cv::Size image,
                                      std::int64_t frame) {
  const cv::Point2f centre = placement.path.at(frame);
  const float angle = (placement.angle_deg +
                       placement.spin_deg_per_frame * static_cast<float>(frame - placement.path.start)) *
                      static_cast<float>(CV_PI / 180.0);
  const float half_w = image.width / 2.f;
  const float half_h = image.height / 2.f;
  const float top_half_w = half_w * (1.f - placement.tilt);  // far edge looks shorter
  const std::array<cv::Point2f, 4> local = {cv::Point2f(-top_half_w, -half_h),
                                            cv::Point2f(top_half_w, -half_h),
                                            cv::Point2f(half_w, half_h), cv::Point2f(-half_w, half_h)};
  std::array<cv::Point2f, 4> placed;
  const float c = std::cos(angle);
  const float s = std::sin(angle);
  for (std::size_t i = 0; i < local.size(); ++i) {
    placed[i] = centre + cv::Point2f(local[i].x * c - local[i].y * s, local[i].x * s + local[i].y * c);
  }
  return placed;
}

}  // namespace

cv::Mat symbolModules(const CodeSymbol& symbol) {
  ZintSymbol zint;
  zint.symbol->symbology = zintSymbology(symbol);
  zint.symbol->show_hrt = 0;
  if (symbol.format == Format::DataMatrix) zint.symbol->option_3 = DM_SQUARE;
  // A label-like PDF417 block rather than zint's default long strip.
  constexpr int kPdf417DataColumns = 3;
  if (symbol.format == Format::PDF417) zint.symbol->option_2 = kPdf417DataColumns;
  if (symbol.gs1) zint.symbol->input_mode = GS1_MODE | GS1PARENS_MODE;
  const int status = ZBarcode_Encode(zint.symbol, reinterpret_cast<const unsigned char*>(symbol.payload.data()),
                                     static_cast<int>(symbol.payload.size()));
  if (status >= ZINT_ERROR) {
    throw std::runtime_error("zint cannot encode '" + symbol.payload + "' as " +
                             codes::formatName(symbol.format) + ": " + zint.symbol->errtxt);
  }
  const bool matrix = codes::isMatrix(symbol.format);
  const int quiet = matrix ? kMatrixQuietModules : kLinearQuietModules;
  const int width = zint.symbol->width;
  std::vector<int> row_heights;
  if (matrix) {
    for (int row = 0; row < zint.symbol->rows; ++row) {
      row_heights.push_back(std::max(1, cvRound(zint.symbol->row_height[row])));
    }
  } else {
    row_heights.push_back(std::max(kMinLinearHeightModules, cvRound(width * kLinearHeightRatio)));
  }
  int height = 0;
  for (int h : row_heights) height += h;
  cv::Mat modules(height + 2 * quiet, width + 2 * quiet, CV_8UC1, cv::Scalar(kLight));
  int y = quiet;
  for (int row = 0; row < static_cast<int>(row_heights.size()); ++row) {
    for (int column = 0; column < width; ++column) {
      if (moduleSet(zint.symbol, row, column)) {
        modules(cv::Rect(quiet + column, y, 1, row_heights[static_cast<std::size_t>(row)])).setTo(kDark);
      }
    }
    y += row_heights[static_cast<std::size_t>(row)];
  }
  return modules;
}

cv::Mat renderSymbol(const CodeSymbol& symbol, int module_px) {
  cv::Mat modules = symbolModules(symbol);
  cv::Mat scaled;
  cv::resize(modules, scaled, cv::Size(), module_px, module_px, cv::INTER_NEAREST);
  return scaled;
}

CodeLayer::CodeLayer(std::vector<CodePlacement> placements) : placements_(std::move(placements)) {
  for (const auto& placement : placements_) {
    Prepared prepared;
    prepared.placement = placement;
    prepared.image = renderSymbol(placement.symbol, placement.module_px);
    const int quiet = (codes::isMatrix(placement.symbol.format) ? kMatrixQuietModules : kLinearQuietModules) *
                      placement.module_px;
    prepared.data = cv::Rect2f(static_cast<float>(quiet), static_cast<float>(quiet),
                               static_cast<float>(prepared.image.cols - 2 * quiet),
                               static_cast<float>(prepared.image.rows - 2 * quiet));
    prepared_.push_back(std::move(prepared));
  }
}

void CodeLayer::render(cv::Mat& bgr, std::int64_t frame, std::vector<TruthObject>& truth) {
  const cv::Rect frame_rect(cv::Point(), bgr.size());
  for (const Prepared& prepared : prepared_) {
    const CodePlacement& placement = prepared.placement;
    if (!placement.path.visibleAt(frame)) continue;
    const cv::Size image = prepared.image.size();
    const auto quad = placedQuad(placement, image, frame);
    const std::array<cv::Point2f, 4> source = {
        cv::Point2f(0, 0), cv::Point2f(static_cast<float>(image.width), 0),
        cv::Point2f(static_cast<float>(image.width), static_cast<float>(image.height)),
        cv::Point2f(0, static_cast<float>(image.height))};
    const cv::Mat homography = cv::getPerspectiveTransform(source.data(), quad.data());
    const cv::Rect outer = cv::boundingRect(std::vector<cv::Point2f>(quad.begin(), quad.end()));
    const int blur_margin = 4;
    const cv::Rect roi = (outer + cv::Size(2 * blur_margin, 2 * blur_margin) -
                          cv::Point(blur_margin, blur_margin)) & frame_rect;
    if (roi.empty()) continue;

    // Warp symbol and coverage into the ROI, then blend: anti-aliased edges.
    cv::Mat shift = (cv::Mat_<double>(3, 3) << 1, 0, -roi.x, 0, 1, -roi.y, 0, 0, 1);
    const cv::Mat to_roi = shift * homography;
    cv::Mat patch;
    cv::Mat coverage;
    cv::warpPerspective(prepared.image, patch, to_roi, roi.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                        cv::Scalar(0));
    cv::warpPerspective(cv::Mat(image, CV_8UC1, cv::Scalar(255)), coverage, to_roi, roi.size(),
                        cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(0));
    cv::Mat target = bgr(roi);
    cv::Mat patch_f;
    cv::Mat coverage_f;
    cv::Mat target_f;
    patch.convertTo(patch_f, CV_32F);
    coverage.convertTo(coverage_f, CV_32F, 1.0 / 255.0);
    target.convertTo(target_f, CV_32F);
    cv::Mat patch3;
    cv::Mat coverage3;
    cv::cvtColor(patch_f, patch3, cv::COLOR_GRAY2BGR);
    cv::cvtColor(coverage_f, coverage3, cv::COLOR_GRAY2BGR);
    cv::Mat blended = target_f.mul(cv::Scalar::all(1.0) - coverage3) + patch3.mul(coverage3);
    const cv::Rect2f& data = prepared.data;
    // Symbol-relative (0..1 over the data area) to ROI pixels.
    auto inRoi = [&](std::vector<cv::Point2f> relative) {
      for (auto& point : relative) {
        point = cv::Point2f(data.x + point.x * data.width, data.y + point.y * data.height);
      }
      std::vector<cv::Point2f> placed;
      cv::perspectiveTransform(relative, placed, to_roi);
      return placed;
    };
    if (placement.glare > 0.f) {
      const cv::Point2f centre = inRoi({placement.glare_at})[0];
      const float radius = placement.glare_radius * std::hypot(static_cast<float>(outer.width),
                                                                static_cast<float>(outer.height));
      cv::Mat highlight(blended.size(), CV_32F, cv::Scalar(0));
      for (int y = 0; y < highlight.rows; ++y) {
        auto* row = highlight.ptr<float>(y);
        for (int x = 0; x < highlight.cols; ++x) {
          const float d2 = (x - centre.x) * (x - centre.x) + (y - centre.y) * (y - centre.y);
          row[x] = 255.f * placement.glare * std::exp(-d2 / (2.f * radius * radius));
        }
      }
      cv::Mat highlight3;
      cv::cvtColor(highlight, highlight3, cv::COLOR_GRAY2BGR);
      blended += highlight3;
    }
    const std::int64_t visible = placement.path.end - placement.path.start;
    const std::int64_t since_start = frame - placement.path.start;
    const bool covered = placement.occlusion > 0.f && since_start >= visible / 3 && since_start < 2 * visible / 3;
    if (covered) {
      // Beyond the symbol's top, bottom and left edges, so its outline is not traced.
      const float share = placement.occlusion;
      const std::vector<cv::Point2f> hand = inRoi({{-0.2f, -0.2f}, {share, -0.2f}, {share, 1.2f}, {-0.2f, 1.2f}});
      std::vector<cv::Point> polygon;
      for (const auto& point : hand) polygon.emplace_back(cvRound(point.x), cvRound(point.y));
      cv::fillConvexPoly(blended, polygon, kOccluderBgr, cv::LINE_AA);
    }
    if (placement.blur_sigma > 0.f) {
      cv::GaussianBlur(blended, blended, cv::Size(), placement.blur_sigma);
    }
    if (placement.noise_sigma > 0.f) {
      cv::Mat noise(blended.size(), blended.type());
      cv::theRNG().state = static_cast<std::uint64_t>(placement.id) * 7919u + static_cast<std::uint64_t>(frame);
      cv::randn(noise, cv::Scalar::all(0), cv::Scalar::all(placement.noise_sigma));
      blended += noise;
    }
    blended.convertTo(target, CV_8UC3);

    // Truth: the symbol proper (no quiet zone), present only if wholly in view.
    std::vector<cv::Point2f> corners = {data.tl(), cv::Point2f(data.br().x, data.y), data.br(),
                                        cv::Point2f(data.x, data.br().y)};
    std::vector<cv::Point2f> placed;
    cv::perspectiveTransform(corners, placed, homography);
    TruthObject object;
    object.kind = kKindCode;
    object.id = placement.id;
    object.box = cv::boundingRect(placed);
    object.text = placement.symbol.expectedText();
    object.format = codes::formatName(placement.symbol.format);
    object.occluded = covered || (outer & frame_rect) != outer;
    truth.push_back(std::move(object));
  }
}

std::vector<CodePlacement> makeCodePlacements(const CodeSceneOptions& options) {
  std::mt19937 random(options.seed);
  std::uniform_real_distribution<float> unit(0.f, 1.f);
  auto between = [&](float low, float high) { return low + (high - low) * unit(random); };

  std::vector<CodeSymbol> symbols;
  int gs1_variant = 0;
  for (int i = 0; i < options.codes_per_format; ++i) {
    for (Format format : options.formats.formats()) {
      CodeSymbol symbol;
      symbol.format = format;
      symbol.gs1 = supportsGs1(format) && i % 2 == 1;
      symbol.payload = symbol.gs1 ? gs1Payload(random, gs1_variant++) : plainPayload(random, format);
      if (format == Format::UPCE) {
        // zint computes UPC-E's check digit; readers report all 8 digits.
        ZintSymbol zint;
        zint.symbol->symbology = BARCODE_UPCE;
        ZBarcode_Encode(zint.symbol, reinterpret_cast<const unsigned char*>(symbol.payload.data()),
                        static_cast<int>(symbol.payload.size()));
        symbol.payload = reinterpret_cast<const char*>(zint.symbol->text);
      }
      symbols.push_back(std::move(symbol));
    }
  }

  const cv::Size2f slot(static_cast<float>(options.size.width) / kSlotColumns,
                        static_cast<float>(options.size.height) / kSlotRows);
  std::vector<CodePlacement> placements;
  std::int64_t next_id = 1;
  for (std::size_t i = 0; i < symbols.size(); ++i) {
    const int slot_index = static_cast<int>(i % (kSlotColumns * kSlotRows));
    const auto round = static_cast<std::int64_t>(i / (kSlotColumns * kSlotRows));
    const cv::Point2f slot_origin(static_cast<float>(slot_index % kSlotColumns) * slot.width,
                                  static_cast<float>(slot_index / kSlotColumns) * slot.height);
    CodePlacement placement;
    placement.id = next_id++;
    placement.symbol = symbols[i];
    const bool matrix = codes::isMatrix(placement.symbol.format);
    if (options.hard) {
      const bool stacked = placement.symbol.format == Format::PDF417;
      const float max_angle = stacked ? kMaxStackedAngle : matrix ? kMaxMatrixAngle : kMaxLinearAngle;
      placement.angle_deg = between(-max_angle, max_angle);
      placement.spin_deg_per_frame = matrix && !stacked ? between(-kMaxSpin, kMaxSpin) : 0.f;
      placement.tilt = between(0.f, kMaxTilt);
      placement.blur_sigma = between(0.f, kMaxBlurSigma);
      placement.noise_sigma = between(0.f, kMaxNoiseSigma);
      if (unit(random) < kGlareShare) {
        placement.glare = between(kMinGlare, kMaxGlare);
        placement.glare_at = cv::Point2f(between(0.f, 1.f), between(0.f, 1.f));
        placement.glare_radius = between(0.1f, 0.3f);
      }
      if (unit(random) < kOcclusionShare) placement.occlusion = between(kMinOcclusion, kMaxOcclusion);
    }
    // Largest module size in range that keeps the symbol (turned, over its
    // whole travel) inside its slot.
    const cv::Mat modules = symbolModules(placement.symbol);
    const float travel = slot.width * kTravelShare;
    const float spin_total = std::abs(placement.spin_deg_per_frame) * static_cast<float>(options.visible_frames);
    const float angle = (std::abs(placement.angle_deg) + spin_total) * static_cast<float>(CV_PI / 180.0);
    int module_px = std::uniform_int_distribution<int>(options.min_module_px, options.max_module_px)(random);
    auto extent = [&](int px) {
      const float w = static_cast<float>(modules.cols * px);
      const float h = static_cast<float>(modules.rows * px);
      return cv::Size2f(w * std::cos(angle) + h * std::sin(angle), w * std::sin(angle) + h * std::cos(angle));
    };
    while (module_px > options.min_module_px &&
           (extent(module_px).width + travel > slot.width - 2 * kSlotMargin ||
            extent(module_px).height > slot.height - 2 * kSlotMargin)) {
      --module_px;
    }
    placement.module_px = module_px;
    const cv::Size2f size = extent(module_px);
    const float room_x = std::max(0.f, slot.width - 2 * kSlotMargin - size.width - travel);
    const float room_y = std::max(0.f, slot.height - 2 * kSlotMargin - size.height);
    const cv::Point2f start = slot_origin + cv::Point2f(kSlotMargin + size.width / 2 + between(0.f, room_x),
                                                        kSlotMargin + size.height / 2 + between(0.f, room_y));
    const bool rightwards = unit(random) < 0.5f;
    placement.path.from = rightwards ? start : start + cv::Point2f(travel, 0.f);
    placement.path.to = rightwards ? start + cv::Point2f(travel, 0.f) : start;
    placement.path.start = round * (options.visible_frames + kSlotGapFrames);
    placement.path.end = placement.path.start + options.visible_frames;
    placements.push_back(std::move(placement));
  }
  return placements;
}

std::int64_t codeSceneLength(const std::vector<CodePlacement>& placements) {
  std::int64_t length = 0;
  for (const auto& placement : placements) length = std::max(length, placement.path.end);
  return length;
}

Scene makeCodeScene(const CodeSceneOptions& options, const std::vector<CodePlacement>& placements) {
  Scene scene(options.size, options.fps, options.seed);
  scene.add(std::make_unique<CodeLayer>(placements));
  return scene;
}

CodeScore scoreCodes(const std::vector<FrameTruth>& truth,
                     const std::vector<std::vector<CodeRead>>& reads) {
  CodeScore score;
  std::map<std::int64_t, const TruthObject*> present;  // id -> object
  std::set<std::int64_t> read_ids;
  std::set<std::string> wrong;
  for (std::size_t f = 0; f < truth.size(); ++f) {
    const auto& objects = truth[f].objects;
    for (const auto& object : objects) {
      if (object.kind == kKindCode && !object.occluded) present.emplace(object.id, &object);
    }
    if (f >= reads.size()) continue;
    for (const CodeRead& read : reads[f]) {
      const auto match = std::find_if(objects.begin(), objects.end(), [&](const TruthObject& object) {
        return object.kind == kKindCode && object.format == read.format && object.text == read.text;
      });
      if (match == objects.end()) {
        wrong.insert(read.format + ":" + read.text);
      } else {
        read_ids.insert(match->id);
      }
    }
  }
  for (const auto& [id, object] : present) {
    CodeTally& tally = score.per_format[object->format];
    ++tally.present;
    ++score.total.present;
    if (read_ids.count(id)) {
      ++tally.read;
      ++score.total.read;
    } else {
      score.missed.push_back(object->format + ":" + object->text);
    }
  }
  for (const auto& entry : wrong) {
    ++score.total.wrong;
    ++score.per_format[entry.substr(0, entry.find(':'))].wrong;
    score.wrong_reads.push_back(entry);
  }
  return score;
}

CodeScore readAndScore(const Scene& scene, std::int64_t frames, codes::CodeReader& reader) {
  std::vector<FrameTruth> truth;
  std::vector<std::vector<CodeRead>> reads;
  for (std::int64_t frame = 0; frame < frames; ++frame) {
    FrameTruth frame_truth;
    cv::Mat grey;
    cv::cvtColor(scene.render(frame, frame_truth), grey, cv::COLOR_BGR2GRAY);
    std::vector<CodeRead> frame_reads;
    for (const auto& code : reader.read(grey)) {
      frame_reads.push_back({frame, codes::formatName(code.format), code.canonicalText(), code.box});
    }
    truth.push_back(std::move(frame_truth));
    reads.push_back(std::move(frame_reads));
  }
  return scoreCodes(truth, reads);
}

std::string describe(const CodeScore& score) {
  std::string report;
  for (const auto& [format, tally] : score.per_format) {
    report += format + " " + std::to_string(tally.read) + "/" + std::to_string(tally.present) + "; ";
  }
  for (const auto& missed : score.missed) report += "\nmissed " + missed;
  for (const auto& wrong : score.wrong_reads) report += "\nwrong " + wrong;
  return report;
}

}  // namespace vigil::groundtruth
