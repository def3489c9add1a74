// Code symbologies Vigil reads, and the format-list strings users configure
// them with ("qr,datamatrix,ean13,code128" or "all").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::codes {

// One bit per symbology so a selection is a plain mask.
enum class Format : std::uint32_t {
  QRCode = 1u << 0,
  DataMatrix = 1u << 1,
  Aztec = 1u << 2,
  PDF417 = 1u << 3,
  EAN13 = 1u << 4,
  EAN8 = 1u << 5,
  UPCA = 1u << 6,
  UPCE = 1u << 7,
  Code128 = 1u << 8,
  Code39 = 1u << 9,
  ITF = 1u << 10,
};

// Every format, in the order they are documented.
const std::vector<Format>& allFormats();

// 2-D (matrix) symbologies, read by zxing-cpp; the others are 1-D, read by zbar.
bool isMatrix(Format format);

// Short lower-case name used in configs and events: "qr", "datamatrix",
// "aztec", "pdf417", "ean13", "ean8", "upca", "upce", "code128", "code39", "itf".
const char* formatName(Format format);
std::optional<Format> formatFromName(std::string_view name);

class FormatSet {
 public:
  FormatSet() = default;
  static FormatSet all();
  static FormatSet matrix();
  static FormatSet linear();

  FormatSet& add(Format format) {
    mask_ |= static_cast<std::uint32_t>(format);
    return *this;
  }
  bool contains(Format format) const { return (mask_ & static_cast<std::uint32_t>(format)) != 0; }
  bool empty() const { return mask_ == 0; }
  bool anyMatrix() const { return !(*this & matrix()).empty(); }
  bool anyLinear() const { return !(*this & linear()).empty(); }
  FormatSet operator&(FormatSet other) const { return fromMask(mask_ & other.mask_); }
  bool operator==(FormatSet other) const { return mask_ == other.mask_; }
  std::vector<Format> formats() const;

 private:
  static FormatSet fromMask(std::uint32_t mask) {
    FormatSet set;
    set.mask_ = mask;
    return set;
  }
  std::uint32_t mask_ = 0;
};

// Parses a comma-separated list of format names (spaces ignored, case
// insensitive) or "all". Throws std::invalid_argument naming the bad entry and
// the accepted names; an empty list is an error too.
FormatSet parseFormatList(std::string_view list);

// The canonical comma-separated list for a set ("all" when complete).
std::string formatListString(FormatSet set);

}  // namespace vigil::codes
