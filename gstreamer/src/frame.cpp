#include "vigil/gst/frame.hpp"

#include "vigil/vision/geometry.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <stdexcept>

namespace vigil::gst {

cv::Mat planeView(const GstVideoFrame* frame, int plane) {
  const GstVideoInfo* info = &frame->info;
  const GstVideoFormatInfo* format = info->finfo;
  // Which component lives in this plane decides its size and pixel stride.
  int component = -1;
  for (guint c = 0; c < GST_VIDEO_FORMAT_INFO_N_COMPONENTS(format); ++c) {
    if (static_cast<int>(GST_VIDEO_FORMAT_INFO_PLANE(format, c)) == plane) {
      component = static_cast<int>(c);
      break;
    }
  }
  if (component < 0) throw std::invalid_argument("video frame has no such plane");
  const int width = GST_VIDEO_FRAME_COMP_WIDTH(frame, component);
  const int height = GST_VIDEO_FRAME_COMP_HEIGHT(frame, component);
  const int pixel_stride = GST_VIDEO_FRAME_COMP_PSTRIDE(frame, component);
  const int row_stride = GST_VIDEO_FRAME_PLANE_STRIDE(frame, plane);
  return cv::Mat(height, width, CV_8UC(pixel_stride), GST_VIDEO_FRAME_PLANE_DATA(frame, plane),
                 static_cast<size_t>(row_stride));
}

cv::Size downscaledSize(int width, int height, int max_side) {
  return vision::downscaledSize(width, height, max_side);
}

namespace {

cv::Mat resizedTo(const cv::Mat& source, cv::Size size) {
  if (source.size() == size) return source;
  cv::Mat out;
  cv::resize(source, out, size, 0, 0, cv::INTER_AREA);
  return out;
}

}  // namespace

cv::Mat downscaledBgr(const GstVideoFrame* frame, int max_side) {
  return regionBgr(frame, cv::Rect(0, 0, GST_VIDEO_FRAME_WIDTH(frame), GST_VIDEO_FRAME_HEIGHT(frame)), max_side);
}

cv::Mat regionBgr(const GstVideoFrame* frame, const cv::Rect& region, int max_side, cv::Rect* used) {
  // Even corners, so the chroma planes' region is exact.
  const cv::Rect area =
      vision::evenRegion(region, cv::Size(GST_VIDEO_FRAME_WIDTH(frame), GST_VIDEO_FRAME_HEIGHT(frame)));
  if (area.empty()) throw std::invalid_argument("video region outside the frame");
  if (used) *used = area;
  const cv::Size target = downscaledSize(area.width, area.height, max_side);
  const cv::Size chroma(target.width / 2, target.height / 2);
  const cv::Rect chroma_area(area.x / 2, area.y / 2, std::max(1, area.width / 2), std::max(1, area.height / 2));
  cv::Mat bgr;
  switch (GST_VIDEO_FRAME_FORMAT(frame)) {
    case GST_VIDEO_FORMAT_I420: {
      // Downscale the planes first, then convert the small frame: cheaper than
      // converting the full frame, and the result is contiguous I420.
      cv::Mat i420(target.height * 3 / 2, target.width, CV_8UC1);
      cv::Mat y = i420.rowRange(0, target.height);
      cv::resize(planeView(frame, 0)(area), y, target, 0, 0, cv::INTER_AREA);
      const int quarter = chroma.area();
      cv::Mat u(chroma, CV_8UC1, i420.ptr(target.height));
      cv::Mat v(chroma, CV_8UC1, i420.ptr(target.height) + quarter);
      cv::resize(planeView(frame, 1)(chroma_area), u, chroma, 0, 0, cv::INTER_AREA);
      cv::resize(planeView(frame, 2)(chroma_area), v, chroma, 0, 0, cv::INTER_AREA);
      cv::cvtColor(i420, bgr, cv::COLOR_YUV2BGR_I420);
      break;
    }
    case GST_VIDEO_FORMAT_NV12: {
      cv::Mat nv12(target.height * 3 / 2, target.width, CV_8UC1);
      cv::Mat y = nv12.rowRange(0, target.height);
      cv::resize(planeView(frame, 0)(area), y, target, 0, 0, cv::INTER_AREA);
      cv::Mat uv(chroma, CV_8UC2, nv12.ptr(target.height));
      cv::resize(planeView(frame, 1)(chroma_area), uv, chroma, 0, 0, cv::INTER_AREA);
      cv::cvtColor(nv12, bgr, cv::COLOR_YUV2BGR_NV12);
      break;
    }
    case GST_VIDEO_FORMAT_BGR: bgr = resizedTo(planeView(frame, 0)(area), target).clone(); break;
    case GST_VIDEO_FORMAT_BGRx:
    case GST_VIDEO_FORMAT_BGRA:
      cv::cvtColor(resizedTo(planeView(frame, 0)(area), target), bgr, cv::COLOR_BGRA2BGR);
      break;
    case GST_VIDEO_FORMAT_RGB:
      cv::cvtColor(resizedTo(planeView(frame, 0)(area), target), bgr, cv::COLOR_RGB2BGR);
      break;
    case GST_VIDEO_FORMAT_RGBx:
    case GST_VIDEO_FORMAT_RGBA:
      cv::cvtColor(resizedTo(planeView(frame, 0)(area), target), bgr, cv::COLOR_RGBA2BGR);
      break;
    case GST_VIDEO_FORMAT_GRAY8:
      cv::cvtColor(resizedTo(planeView(frame, 0)(area), target), bgr, cv::COLOR_GRAY2BGR);
      break;
    default: throw std::invalid_argument("unsupported video format for analysis");
  }
  return bgr;
}

cv::Mat lumaView(const GstVideoFrame* frame) {
  switch (GST_VIDEO_FRAME_FORMAT(frame)) {
    case GST_VIDEO_FORMAT_I420:
    case GST_VIDEO_FORMAT_NV12:
    case GST_VIDEO_FORMAT_GRAY8: return planeView(frame, 0);
    default: {
      cv::Mat grey;
      cv::Mat packed = planeView(frame, 0);
      switch (GST_VIDEO_FRAME_FORMAT(frame)) {
        case GST_VIDEO_FORMAT_BGR: cv::cvtColor(packed, grey, cv::COLOR_BGR2GRAY); break;
        case GST_VIDEO_FORMAT_RGB: cv::cvtColor(packed, grey, cv::COLOR_RGB2GRAY); break;
        case GST_VIDEO_FORMAT_BGRx:
        case GST_VIDEO_FORMAT_BGRA: cv::cvtColor(packed, grey, cv::COLOR_BGRA2GRAY); break;
        case GST_VIDEO_FORMAT_RGBx:
        case GST_VIDEO_FORMAT_RGBA: cv::cvtColor(packed, grey, cv::COLOR_RGBA2GRAY); break;
        default: throw std::invalid_argument("unsupported video format for analysis");
      }
      return grey;
    }
  }
}

}  // namespace vigil::gst
