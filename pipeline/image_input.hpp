// Still images in: what `vigil analyze` and the HTTP image API accept, checked
// before anything is decoded. JPEG, PNG and WebP only; the size is read from
// the header, so a 20000x20000 bomb is refused without allocating its pixels.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace vigil::pipeline {

// 40 megapixels: a 7680x4320 (8K) frame passes, 20000x20000 does not.
inline constexpr std::int64_t kDefaultMaxImagePixels = 40'000'000;

// Why an image was refused; `status` is the HTTP answer (400 empty or
// malformed, 413 over the pixel limit, 415 not a supported image, 422 one that
// does not decode, e.g. truncated).
class ImageError : public std::runtime_error {
 public:
  ImageError(int status, const std::string& what) : std::runtime_error(what), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

enum class ImageType { kJpeg, kPng, kWebp };
const char* imageTypeName(ImageType type);  // "JPEG", "PNG", "WebP"

struct ImageHeader {
  ImageType type = ImageType::kJpeg;
  int width = 0;
  int height = 0;
};

// Type and size from the first bytes. Throws ImageError (empty, not an
// image, no readable size).
ImageHeader readImageHeader(std::string_view bytes);

// Header checked (size against `max_pixels`, JPEG end marker, PNG end chunk,
// WebP length) then decoded to BGR. Throws ImageError.
cv::Mat decodeImage(std::string_view bytes, std::int64_t max_pixels = kDefaultMaxImagePixels);

}  // namespace vigil::pipeline
