#include "snapshot.hpp"

#include "vigil/gst/frame.hpp"
#include "vigil/gst/ptr.hpp"

#include <gst/video/video.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace vigil::pipeline {

namespace {

constexpr int kJpegQuality = 90;
constexpr int kWebpQuality = 90;
constexpr GstClockTime kConvertTimeout = 2 * GST_SECOND;
constexpr int kMaxNameAttempts = 1000;

// I420 planes (any strides) into one packed I420 image, then BGR.
cv::Mat bgrFromI420(const GstVideoFrame* frame) {
  const int width = GST_VIDEO_FRAME_WIDTH(frame);
  const int height = GST_VIDEO_FRAME_HEIGHT(frame);
  cv::Mat packed(height * 3 / 2, width, CV_8UC1);
  gst::planeView(frame, 0).copyTo(packed.rowRange(0, height));
  // The chroma planes follow the luma, each a quarter of it, row-major.
  const int chroma_width = width / 2;
  const int chroma_height = height / 2;
  unsigned char* out = packed.ptr(height);
  for (int plane = 1; plane <= 2; ++plane) {
    const cv::Mat chroma = gst::planeView(frame, plane);
    for (int row = 0; row < chroma_height; ++row) {
      std::copy_n(chroma.ptr(row), chroma_width, out);
      out += chroma_width;
    }
  }
  cv::Mat bgr;
  cv::cvtColor(packed, bgr, cv::COLOR_YUV2BGR_I420);
  return bgr;
}

// Any raw format: let GStreamer convert the sample to packed BGR.
cv::Mat bgrFromAny(GstSample* sample) {
  gst::CapsPtr bgr_caps(gst_caps_from_string("video/x-raw,format=BGR"));
  GError* raw = nullptr;
  gst::SamplePtr converted(gst_video_convert_sample(sample, bgr_caps.get(), kConvertTimeout, &raw));
  gst::ErrorPtr error(raw);
  if (!converted) {
    throw std::runtime_error(std::string("cannot convert the frame: ") + (error ? error->message : "unknown"));
  }
  GstVideoInfo info;
  if (!gst_video_info_from_caps(&info, gst_sample_get_caps(converted.get()))) {
    throw std::runtime_error("converted frame has no video caps");
  }
  GstVideoFrame frame;
  if (!gst_video_frame_map(&frame, &info, gst_sample_get_buffer(converted.get()), GST_MAP_READ)) {
    throw std::runtime_error("cannot map the converted frame");
  }
  cv::Mat bgr = gst::planeView(&frame, 0).clone();
  gst_video_frame_unmap(&frame);
  return bgr;
}

cv::Mat bgrOf(GstSample* sample) {
  GstCaps* caps = gst_sample_get_caps(sample);
  GstBuffer* buffer = gst_sample_get_buffer(sample);
  GstVideoInfo info;
  if (!caps || !buffer || !gst_video_info_from_caps(&info, caps)) {
    throw std::runtime_error("the snapshot sample is not raw video");
  }
  const bool even = GST_VIDEO_INFO_WIDTH(&info) % 2 == 0 && GST_VIDEO_INFO_HEIGHT(&info) % 2 == 0;
  if (GST_VIDEO_INFO_FORMAT(&info) != GST_VIDEO_FORMAT_I420 || !even) return bgrFromAny(sample);
  GstVideoFrame frame;
  if (!gst_video_frame_map(&frame, &info, buffer, GST_MAP_READ)) throw std::runtime_error("cannot map the frame");
  cv::Mat bgr;
  try {
    bgr = bgrFromI420(&frame);
  } catch (...) {
    gst_video_frame_unmap(&frame);
    throw;
  }
  gst_video_frame_unmap(&frame);
  return bgr;
}

std::string utcStamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%S", &utc);
  char with_millis[48];
  std::snprintf(with_millis, sizeof with_millis, "%s.%03dZ", text, static_cast<int>(millis));
  return with_millis;
}

}  // namespace

std::optional<SnapshotFormat> snapshotFormatNamed(const std::string& name) {
  if (name == "jpeg") return SnapshotFormat::kJpeg;
  if (name == "webp") return SnapshotFormat::kWebp;
  return std::nullopt;
}

const char* snapshotExtension(SnapshotFormat format) { return format == SnapshotFormat::kJpeg ? "jpg" : "webp"; }

const char* snapshotMimeType(SnapshotFormat format) {
  return format == SnapshotFormat::kJpeg ? "image/jpeg" : "image/webp";
}

cv::Mat snapshotBgr(GstSample* sample) { return bgrOf(sample); }

std::vector<unsigned char> encodeSnapshot(GstSample* sample, SnapshotFormat format) {
  if (!sample) throw std::runtime_error("no frame to encode");
  const cv::Mat bgr = bgrOf(sample);
  std::vector<unsigned char> bytes;
  const std::vector<int> params = format == SnapshotFormat::kJpeg
                                      ? std::vector<int>{cv::IMWRITE_JPEG_QUALITY, kJpegQuality}
                                      : std::vector<int>{cv::IMWRITE_WEBP_QUALITY, kWebpQuality};
  bool encoded = false;
  try {
    encoded = cv::imencode(std::string(".") + snapshotExtension(format), bgr, bytes, params);
  } catch (const cv::Exception& error) {
    throw std::runtime_error(std::string("cannot encode the snapshot: ") + error.what());
  }
  if (!encoded || bytes.empty()) throw std::runtime_error("cannot encode the snapshot");
  return bytes;
}

std::string saveSnapshot(const std::vector<unsigned char>& bytes, const std::string& directory,
                         const std::string& source_id, SnapshotFormat format) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::create_directories(directory, error);
  if (error) throw std::runtime_error("cannot create " + directory + ": " + error.message());
  const std::string stem = source_id + "-" + utcStamp();
  const std::string extension = std::string(".") + snapshotExtension(format);
  fs::path path = fs::path(directory) / (stem + extension);
  for (int attempt = 1; fs::exists(path, error); ++attempt) {
    if (attempt > kMaxNameAttempts) throw std::runtime_error("no free snapshot name in " + directory);
    path = fs::path(directory) / (stem + "-" + std::to_string(attempt) + extension);
  }
  // Written under a temporary name and renamed: a reader never sees half a picture.
  const fs::path partial = path.string() + ".part";
  {
    std::ofstream out(partial, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + partial.string());
  }
  fs::rename(partial, path, error);
  if (error) {
    fs::remove(partial, error);
    throw std::runtime_error("cannot write " + path.string());
  }
  return path.string();
}

}  // namespace vigil::pipeline
