#include "image_input.hpp"

#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cstring>
#include <vector>

namespace vigil::pipeline {

namespace {

// A JPEG's end-of-image marker is looked for in its last bytes: some cameras
// append data after it, but a cut-off file has none there (libjpeg would
// otherwise fill the missing rows with grey and call it decoded).
constexpr std::size_t kJpegTailBytes = 4096;

std::uint32_t bigEndian16(const unsigned char* p) { return (std::uint32_t(p[0]) << 8) | p[1]; }
std::uint32_t bigEndian32(const unsigned char* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}
std::uint32_t littleEndian24(const unsigned char* p) {
  return std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16);
}

bool startsWith(std::string_view bytes, std::string_view prefix) {
  return bytes.size() >= prefix.size() && bytes.compare(0, prefix.size(), prefix) == 0;
}

[[noreturn]] void malformed(ImageType type, const std::string& why) {
  throw ImageError(400, std::string("malformed ") + imageTypeName(type) + ": " + why);
}

// Walks the markers up to the first start-of-frame, which holds the size.
ImageHeader jpegHeader(std::string_view bytes) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t at = 2;
  while (at + 4 <= bytes.size()) {
    if (data[at] != 0xFF) malformed(ImageType::kJpeg, "no marker where one was expected");
    const unsigned char marker = data[at + 1];
    if (marker == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {  // no length
      at += 2;
      continue;
    }
    const std::uint32_t length = bigEndian16(data + at + 2);
    if (length < 2) malformed(ImageType::kJpeg, "a segment shorter than its length field");
    const bool start_of_frame = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (start_of_frame) {
      if (at + 9 > bytes.size()) break;
      ImageHeader header{ImageType::kJpeg, static_cast<int>(bigEndian16(data + at + 7)),
                         static_cast<int>(bigEndian16(data + at + 5))};
      return header;
    }
    if (marker == 0xDA || marker == 0xD9) malformed(ImageType::kJpeg, "no frame header before the image data");
    at += 2 + length;
  }
  throw ImageError(422, "truncated JPEG: it ends before its frame header");
}

ImageHeader pngHeader(std::string_view bytes) {
  // Signature (8), IHDR length (4), "IHDR", width (4), height (4).
  if (bytes.size() < 24) throw ImageError(422, "truncated PNG: it ends before its IHDR header");
  if (bytes.compare(12, 4, "IHDR") != 0) malformed(ImageType::kPng, "the first chunk is not IHDR");
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::uint32_t width = bigEndian32(data + 16);
  const std::uint32_t height = bigEndian32(data + 20);
  if (width > 0x7fffffffu || height > 0x7fffffffu) malformed(ImageType::kPng, "size out of range");
  return {ImageType::kPng, static_cast<int>(width), static_cast<int>(height)};
}

ImageHeader webpHeader(std::string_view bytes) {
  // "RIFF" size "WEBP", then the first chunk: lossy "VP8 ", lossless "VP8L"
  // or extended "VP8X", each with the size in its own layout.
  if (bytes.size() < 30) throw ImageError(422, "truncated WebP: it ends before its header");
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::string_view chunk = bytes.substr(12, 4);
  const unsigned char* payload = data + 20;
  if (chunk == "VP8 ") {
    if (payload[3] != 0x9d || payload[4] != 0x01 || payload[5] != 0x2a) malformed(ImageType::kWebp, "bad VP8 start code");
    return {ImageType::kWebp, static_cast<int>((payload[6] | (payload[7] << 8)) & 0x3fff),
            static_cast<int>((payload[8] | (payload[9] << 8)) & 0x3fff)};
  }
  if (chunk == "VP8L") {
    if (payload[0] != 0x2f) malformed(ImageType::kWebp, "bad VP8L signature");
    const std::uint32_t bits = payload[1] | (payload[2] << 8) | (payload[3] << 16) | (std::uint32_t(payload[4]) << 24);
    return {ImageType::kWebp, static_cast<int>((bits & 0x3fff) + 1), static_cast<int>(((bits >> 14) & 0x3fff) + 1)};
  }
  if (chunk == "VP8X") {
    return {ImageType::kWebp, static_cast<int>(littleEndian24(payload + 4) + 1),
            static_cast<int>(littleEndian24(payload + 7) + 1)};
  }
  malformed(ImageType::kWebp, "unknown first chunk");
}

// The whole file is there: JPEG end marker, PNG IEND chunk, RIFF length.
void requireComplete(std::string_view bytes, ImageType type) {
  switch (type) {
    case ImageType::kJpeg: {
      const std::string_view tail = bytes.substr(bytes.size() - std::min(bytes.size(), kJpegTailBytes));
      if (tail.find("\xFF\xD9") == std::string_view::npos) {
        throw ImageError(422, "truncated JPEG: no end-of-image marker (the file is cut off)");
      }
      break;
    }
    case ImageType::kPng: {
      const std::string_view tail = bytes.substr(bytes.size() - std::min<std::size_t>(bytes.size(), 64));
      if (tail.find("IEND") == std::string_view::npos) throw ImageError(422, "truncated PNG: no IEND chunk");
      break;
    }
    case ImageType::kWebp: {
      const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
      const std::uint64_t riff = std::uint64_t(data[4]) | (std::uint64_t(data[5]) << 8) |
                                 (std::uint64_t(data[6]) << 16) | (std::uint64_t(data[7]) << 24);
      if (riff + 8 > bytes.size()) throw ImageError(422, "truncated WebP: shorter than its RIFF header says");
      break;
    }
  }
}

}  // namespace

const char* imageTypeName(ImageType type) {
  switch (type) {
    case ImageType::kJpeg: return "JPEG";
    case ImageType::kPng: return "PNG";
    case ImageType::kWebp: return "WebP";
  }
  return "image";
}

ImageHeader readImageHeader(std::string_view bytes) {
  if (bytes.empty()) throw ImageError(400, "empty: no image data");
  ImageHeader header;
  if (startsWith(bytes, "\xFF\xD8\xFF")) {
    header = jpegHeader(bytes);
  } else if (startsWith(bytes, "\x89PNG\r\n\x1a\n")) {
    header = pngHeader(bytes);
  } else if (startsWith(bytes, "RIFF") && bytes.size() >= 12 && bytes.compare(8, 4, "WEBP") == 0) {
    header = webpHeader(bytes);
  } else {
    throw ImageError(415, "not an image: expected JPEG, PNG or WebP data");
  }
  if (header.width <= 0 || header.height <= 0) malformed(header.type, "zero width or height");
  return header;
}

cv::Mat decodeImage(std::string_view bytes, std::int64_t max_pixels) {
  const ImageHeader header = readImageHeader(bytes);
  const std::int64_t pixels = std::int64_t(header.width) * header.height;
  if (pixels > max_pixels) {
    throw ImageError(413, std::string(imageTypeName(header.type)) + " of " + std::to_string(header.width) + "x" +
                              std::to_string(header.height) + " (" + std::to_string(pixels) +
                              " pixels) is over the limit of " + std::to_string(max_pixels) +
                              " pixels (images.max_pixels)");
  }
  requireComplete(bytes, header.type);
  cv::Mat bgr;
  try {
    const cv::Mat raw(1, static_cast<int>(bytes.size()), CV_8UC1,
                      const_cast<char*>(bytes.data()));  // imdecode only reads it
    bgr = cv::imdecode(raw, cv::IMREAD_COLOR);
  } catch (const cv::Exception& error) {
    throw ImageError(422, std::string("cannot decode the ") + imageTypeName(header.type) + ": " + error.what());
  }
  if (bgr.empty()) throw ImageError(422, std::string("cannot decode the ") + imageTypeName(header.type));
  return bgr;
}

}  // namespace vigil::pipeline
