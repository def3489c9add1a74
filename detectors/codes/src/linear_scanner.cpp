#include "linear_scanner.hpp"

#include <opencv2/imgproc.hpp>
#include <zbar.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace vigil::codes::detail {

namespace {

struct ZbarFormat {
  Format format;
  zbar::zbar_symbol_type_t zbar;
  const char* identifier;      // AIM symbology identifier for plain data
  const char* gs1_identifier;  // ... and for GS1 data (FNC1 in first position)
};
constexpr ZbarFormat kZbarFormats[] = {
    {Format::EAN13, zbar::ZBAR_EAN13, "]E0", "]E0"},
    {Format::EAN8, zbar::ZBAR_EAN8, "]E4", "]E4"},
    {Format::UPCA, zbar::ZBAR_UPCA, "]E0", "]E0"},
    {Format::UPCE, zbar::ZBAR_UPCE, "]E0", "]E0"},
    {Format::Code128, zbar::ZBAR_CODE128, "]C0", "]C1"},
    {Format::Code39, zbar::ZBAR_CODE39, "]A0", "]A0"},
    {Format::ITF, zbar::ZBAR_I25, "]I0", "]I0"},
};

constexpr int kItf14Length = 14;

zbar::zbar_image_scanner_t* scannerOf(void* opaque) {
  return static_cast<zbar::zbar_image_scanner_t*>(opaque);
}

struct ImageDeleter {
  void operator()(zbar::zbar_image_t* image) const { zbar::zbar_image_destroy(image); }
};

}  // namespace

LinearScanner::LinearScanner(const ReaderOptions& options)
    : scanner_(zbar::zbar_image_scanner_create()), itf_length_(options.itf_length) {
  if (!scanner_) throw std::runtime_error("zbar: cannot create an image scanner");
  auto* scanner = scannerOf(scanner_);
  zbar::zbar_image_scanner_set_config(scanner, zbar::ZBAR_NONE, zbar::ZBAR_CFG_ENABLE, 0);
  for (const auto& entry : kZbarFormats) {
    if (options.formats.contains(entry.format)) {
      zbar::zbar_image_scanner_set_config(scanner, entry.zbar, zbar::ZBAR_CFG_ENABLE, 1);
    }
  }
  if (itf_length_ > 0) {
    zbar::zbar_image_scanner_set_config(scanner, zbar::ZBAR_I25, zbar::ZBAR_CFG_MIN_LEN, itf_length_);
    zbar::zbar_image_scanner_set_config(scanner, zbar::ZBAR_I25, zbar::ZBAR_CFG_MAX_LEN, itf_length_);
  }
  if (options.code39_min_length > 0) {
    zbar::zbar_image_scanner_set_config(scanner, zbar::ZBAR_CODE39, zbar::ZBAR_CFG_MIN_LEN, options.code39_min_length);
  }
}

LinearScanner::~LinearScanner() { zbar::zbar_image_scanner_destroy(scannerOf(scanner_)); }

void LinearScanner::read(const cv::Mat& grey, cv::Point offset, int step, std::vector<Code>& out) {
  auto* scanner = scannerOf(scanner_);
  zbar::zbar_image_scanner_set_config(scanner, zbar::ZBAR_NONE, zbar::ZBAR_CFG_X_DENSITY, std::max(1, step));
  zbar::zbar_image_scanner_set_config(scanner, zbar::ZBAR_NONE, zbar::ZBAR_CFG_Y_DENSITY, std::max(1, step));
  // zbar wants one contiguous Y800 plane without row padding.
  const cv::Mat contiguous = grey.isContinuous() ? grey : grey.clone();
  std::unique_ptr<zbar::zbar_image_t, ImageDeleter> image(zbar::zbar_image_create());
  if (!image) throw std::runtime_error("zbar: cannot create an image");
  zbar::zbar_image_set_format(image.get(), zbar_fourcc('Y', '8', '0', '0'));
  zbar::zbar_image_set_size(image.get(), static_cast<unsigned>(contiguous.cols),
                            static_cast<unsigned>(contiguous.rows));
  zbar::zbar_image_set_data(image.get(), contiguous.data, contiguous.total(), nullptr);
  if (zbar::zbar_scan_image(scanner, image.get()) <= 0) return;

  const cv::Rect bounds(cv::Point(), contiguous.size());
  for (const zbar::zbar_symbol_t* symbol = zbar::zbar_image_first_symbol(image.get()); symbol;
       symbol = zbar::zbar_symbol_next(symbol)) {
    const zbar::zbar_symbol_type_t type = zbar::zbar_symbol_get_type(symbol);
    const auto match = std::find_if(std::begin(kZbarFormats), std::end(kZbarFormats),
                                    [&](const auto& entry) { return entry.zbar == type; });
    if (match == std::end(kZbarFormats)) continue;
    std::vector<cv::Point> points;
    const unsigned count = zbar::zbar_symbol_get_loc_size(symbol);
    for (unsigned i = 0; i < count; ++i) {
      points.emplace_back(zbar::zbar_symbol_get_loc_x(symbol, i), zbar::zbar_symbol_get_loc_y(symbol, i));
    }
    if (points.empty()) continue;
    Code code;
    code.format = match->format;
    code.gs1 = (zbar::zbar_symbol_get_modifiers(symbol) & (1u << zbar::ZBAR_MOD_GS1)) != 0;
    const std::string data(zbar::zbar_symbol_get_data(symbol), zbar::zbar_symbol_get_data_length(symbol));
    if (code.format == Format::ITF && itf_length_ == kItf14Length && !gs1CheckDigitValid(data)) continue;
    code.text = std::string(code.gs1 ? match->gs1_identifier : match->identifier) + data;
    // zbar locates 1-D symbols by the scan lines that crossed them.
    code.box = (cv::boundingRect(points) & bounds) + offset;
    const cv::Rect& box = code.box;
    code.corners = {cv::Point2f(box.tl()), cv::Point2f(static_cast<float>(box.br().x), static_cast<float>(box.y)),
                    cv::Point2f(box.br()), cv::Point2f(static_cast<float>(box.x), static_cast<float>(box.br().y))};
    out.push_back(std::move(code));
  }
}

}  // namespace vigil::codes::detail
