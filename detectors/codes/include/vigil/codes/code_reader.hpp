// Reads barcodes and 2-D codes in a grey image. 2-D codes (QR, DataMatrix,
// Aztec, PDF417) go to zxing-cpp; 1-D codes (EAN/UPC, Code 128, Code 39, ITF)
// go to zbar. Debian's zxing-cpp 1.4 is built with assertions that can abort()
// the process on large 1-D codes, so zxing is never asked for a 1-D format.
#pragma once

#include "vigil/codes/format.hpp"
#include "vigil/codes/gs1.hpp"

#include <opencv2/core.hpp>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace vigil::codes {

namespace detail {
class LinearScanner;  // zbar, kept in its own file: its C++ header clashes with zxing's macros
}

// Where the decoders look.
enum class SearchMode {
  // Find regions of dense local contrast first and decode only those crops:
  // cost follows the codes in view, and zxing 1.4 finds DataMatrix and Aztec
  // only in crops (its detectors start from the image centre).
  Candidates,
  // Hand the whole image to both decoders (QR, PDF417 and 1-D only in practice).
  WholeFrame,
};

struct ReaderOptions {
  FormatSet formats = FormatSet::all();
  SearchMode search = SearchMode::Candidates;
  // Candidates mode: zbar scans this many rows and as many columns across
  // each candidate region (a 1-D code needs one line crossing all its bars).
  int linear_scan_lines = 32;
  // WholeFrame mode: zbar scans every n-th row and column.
  int linear_scan_step = 2;
  // ITF (Interleaved 2 of 5) has no start pattern strong enough to stop a
  // scan line reading only part of it: accept only this length and, at 14
  // digits (ITF-14), only a valid GS1 check digit.
  int itf_length = 14;
  // Code 39 has no check character: a scan line over text or a fence can
  // spell a valid one- or two-character symbol (the field corpus' dev split
  // read "R" off a background). Shorter reads are dropped.
  int code39_min_length = 3;
  // Candidates mode: a crop that read nothing and whose edges share one
  // clear orientation is read again turned upright (zbar scans only rows
  // and columns; zxing 1.4's PDF417 and Aztec detectors fail when turned).
  bool read_turned = true;
};

struct Code {
  Format format = Format::QRCode;
  // The symbol's content as read: AIM symbology identifier ("]Q1", "]C1",
  // "]E0", ...) followed by the raw bytes (GS = 0x1D for FNC1 in GS1 data).
  std::string text;
  // Whether the symbol announced GS1 data (FNC1 in first position).
  bool gs1 = false;
  std::array<cv::Point2f, 4> corners{};  // as located by the decoder
  cv::Rect box;                          // bounding rectangle of the corners, in image pixels

  // The content without the symbology identifier.
  std::string payload() const;
  // Parsed GS1 data when gs1 is true.
  std::optional<Gs1Data> gs1Data() const;
  // A stable identity for comparing reads: the GS1 bracket form for GS1
  // symbols, else the payload.
  std::string canonicalText() const;
};

class CodeReader {
 public:
  explicit CodeReader(ReaderOptions options = {});
  ~CodeReader();
  CodeReader(const CodeReader&) = delete;
  CodeReader& operator=(const CodeReader&) = delete;

  // `grey` is CV_8UC1 (any row stride). Throws std::invalid_argument for
  // other types. Codes found twice (e.g. by two passes) are reported once.
  std::vector<Code> read(const cv::Mat& grey);

  // The regions Candidates mode decodes (for diagnostics and tests).
  std::vector<cv::Rect> candidates(const cv::Mat& grey) const;

  const ReaderOptions& options() const { return options_; }

 private:
  ReaderOptions options_;
  std::unique_ptr<detail::LinearScanner> linear_;
};

}  // namespace vigil::codes
