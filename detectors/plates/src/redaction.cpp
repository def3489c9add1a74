#include "vigil/plates/redaction.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace vigil::plates {
namespace {

// Blur sigma as a fraction of the box height: with the default padding a
// character is about half the box tall, so this smears each one over its
// neighbours (validated by the leak scorer, groundtruth/plates).
constexpr double kBlurSigmaPerHeight = 0.25;
constexpr double kMinBlurSigma = 3.0;
// Above this sigma, blur a shrunk copy instead: same look, cost independent
// of the box size (a whole-frame fallback must stay cheap).
constexpr double kDirectBlurMaxSigma = 3.0;
constexpr double kShrunkSigma = 1.5;
// Pixelation: about three blocks over the box height.
constexpr int kBlocksPerHeight = 3;
constexpr int kMinBlock = 4;

double blurSigma(int height) { return std::max(kMinBlurSigma, height * kBlurSigmaPerHeight); }
int blockSize(int height) { return std::max(kMinBlock, height / kBlocksPerHeight); }

void blurRegion(cv::Mat region, double sigma) {
  if (region.empty()) return;
  if (sigma <= kDirectBlurMaxSigma) {
    cv::GaussianBlur(region, region, cv::Size(), sigma, sigma, cv::BORDER_REPLICATE);
    return;
  }
  const double shrink = sigma / kShrunkSigma;
  const cv::Size small(std::max(1, static_cast<int>(region.cols / shrink)),
                       std::max(1, static_cast<int>(region.rows / shrink)));
  cv::Mat reduced;
  cv::resize(region, reduced, small, 0, 0, cv::INTER_AREA);
  cv::GaussianBlur(reduced, reduced, cv::Size(), kShrunkSigma, kShrunkSigma, cv::BORDER_REPLICATE);
  cv::resize(reduced, region, region.size(), 0, 0, cv::INTER_LINEAR);
}

void pixelateRegion(cv::Mat region, int block) {
  if (region.empty()) return;
  const cv::Size small(std::max(1, (region.cols + block - 1) / block),
                       std::max(1, (region.rows + block - 1) / block));
  cv::Mat reduced;
  cv::resize(region, reduced, small, 0, 0, cv::INTER_AREA);
  cv::resize(reduced, region, region.size(), 0, 0, cv::INTER_NEAREST);
}

// The fill colour in the YUV of OpenCV's BGR->I420 conversion (BT.601, video range).
cv::Vec3b fillYuv(const cv::Scalar& bgr) {
  cv::Mat pixels(2, 2, CV_8UC3, bgr);
  cv::Mat i420;
  cv::cvtColor(pixels, i420, cv::COLOR_BGR2YUV_I420);
  return {i420.at<uchar>(0, 0), i420.at<uchar>(2, 0), i420.at<uchar>(2, 1)};
}

}  // namespace

RedactionMode redactionModeFromName(const std::string& name) {
  if (name == "blur") return RedactionMode::Blur;
  if (name == "pixelate") return RedactionMode::Pixelate;
  if (name == "fill") return RedactionMode::Fill;
  if (name == "image") return RedactionMode::Image;
  throw std::invalid_argument("unknown redaction mode '" + name +
                              "' (known: blur, pixelate, fill, image)");
}

const char* redactionModeName(RedactionMode mode) {
  switch (mode) {
    case RedactionMode::Blur: return "blur";
    case RedactionMode::Pixelate: return "pixelate";
    case RedactionMode::Fill: return "fill";
    case RedactionMode::Image: return "image";
  }
  return "blur";
}

cv::Mat loadRedactionImage(const std::string& path) {
  cv::Mat image = cv::imread(path, cv::IMREAD_COLOR);
  if (image.empty()) throw std::runtime_error("cannot read the redaction image '" + path + "'");
  return image;
}

cv::Rect padded(const cv::Rect2f& box, float fraction, int min_pixels) {
  const float grow_x = std::max(box.width * fraction, static_cast<float>(min_pixels));
  const float grow_y = std::max(box.height * fraction, static_cast<float>(min_pixels));
  const int x0 = static_cast<int>(std::floor(box.x - grow_x));
  const int y0 = static_cast<int>(std::floor(box.y - grow_y));
  const int x1 = static_cast<int>(std::ceil(box.x + box.width + grow_x));
  const int y1 = static_cast<int>(std::ceil(box.y + box.height + grow_y));
  return {x0, y0, x1 - x0, y1 - y0};
}

void redactGrey(cv::Mat& grey, const cv::Rect& box, const RedactionStyle& style) {
  const cv::Rect area = box & cv::Rect(0, 0, grey.cols, grey.rows);
  if (area.empty()) return;
  cv::Mat region = grey(area);
  switch (style.mode) {
    case RedactionMode::Blur: blurRegion(region, blurSigma(area.height)); break;
    case RedactionMode::Pixelate: pixelateRegion(region, blockSize(area.height)); break;
    case RedactionMode::Fill: region.setTo(fillYuv(style.fill_bgr)[0]); break;
    case RedactionMode::Image: {
      if (style.image_bgr.empty()) throw std::invalid_argument("image redaction without an image");
      cv::Mat scaled, grey_image;
      cv::resize(style.image_bgr, scaled, area.size(), 0, 0, cv::INTER_AREA);
      cv::cvtColor(scaled, grey_image, cv::COLOR_BGR2GRAY);
      grey_image.copyTo(region);
      break;
    }
  }
}

void redactBgr(cv::Mat& bgr, const cv::Rect& box, const RedactionStyle& style) {
  if (bgr.type() != CV_8UC3 && bgr.type() != CV_8UC4) {
    throw std::invalid_argument("redactBgr needs an 8-bit BGR or BGRx image");
  }
  const cv::Rect area = box & cv::Rect(0, 0, bgr.cols, bgr.rows);
  if (area.empty()) return;
  cv::Mat region = bgr(area);
  switch (style.mode) {
    case RedactionMode::Blur: blurRegion(region, blurSigma(area.height)); break;
    case RedactionMode::Pixelate: pixelateRegion(region, blockSize(area.height)); break;
    case RedactionMode::Fill: region.setTo(style.fill_bgr); break;
    case RedactionMode::Image: {
      if (style.image_bgr.empty()) throw std::invalid_argument("image redaction without an image");
      cv::Mat scaled;
      cv::resize(style.image_bgr, scaled, area.size(), 0, 0, cv::INTER_AREA);
      if (region.channels() == 4) cv::cvtColor(scaled, scaled, cv::COLOR_BGR2BGRA);
      scaled.copyTo(region);
      break;
    }
  }
}

void redactYuv420(Yuv420Planes& planes, const cv::Rect& box, const RedactionStyle& style) {
  const bool nv12 = !planes.uv.empty();
  if (planes.y.type() != CV_8UC1 || (nv12 ? planes.uv.type() != CV_8UC2
                                          : (planes.u.type() != CV_8UC1 || planes.v.type() != CV_8UC1))) {
    throw std::invalid_argument("redactYuv420 needs 8-bit Y and 4:2:0 chroma planes");
  }
  // Even corners so one chroma sample never straddles the edge of the box.
  const cv::Rect clamped = box & cv::Rect(0, 0, planes.y.cols, planes.y.rows);
  if (clamped.empty()) return;
  const int x0 = clamped.x & ~1;
  const int y0 = clamped.y & ~1;
  const int x1 = std::min((clamped.x + clamped.width + 1) & ~1, planes.y.cols & ~1);
  const int y1 = std::min((clamped.y + clamped.height + 1) & ~1, planes.y.rows & ~1);
  if (x1 <= x0 || y1 <= y0) return;
  const cv::Rect luma_box(x0, y0, x1 - x0, y1 - y0);
  const cv::Rect chroma_box(x0 / 2, y0 / 2, luma_box.width / 2, luma_box.height / 2);
  cv::Mat y = planes.y(luma_box);
  std::vector<cv::Mat> chroma;
  if (nv12) chroma.push_back(planes.uv(chroma_box));
  else chroma = {planes.u(chroma_box), planes.v(chroma_box)};

  switch (style.mode) {
    case RedactionMode::Blur: {
      const double sigma = blurSigma(luma_box.height);
      blurRegion(y, sigma);
      for (auto& plane : chroma) blurRegion(plane, sigma / 2);
      break;
    }
    case RedactionMode::Pixelate: {
      // Luma blocks of an even size so chroma blocks line up with them.
      const int block = (blockSize(luma_box.height) + 1) & ~1;
      pixelateRegion(y, block);
      for (auto& plane : chroma) pixelateRegion(plane, block / 2);
      break;
    }
    case RedactionMode::Fill: {
      const cv::Vec3b yuv = fillYuv(style.fill_bgr);
      y.setTo(yuv[0]);
      if (nv12) chroma[0].setTo(cv::Scalar(yuv[1], yuv[2]));
      else {
        chroma[0].setTo(yuv[1]);
        chroma[1].setTo(yuv[2]);
      }
      break;
    }
    case RedactionMode::Image: {
      if (style.image_bgr.empty()) throw std::invalid_argument("image redaction without an image");
      cv::Mat scaled, i420;
      cv::resize(style.image_bgr, scaled, luma_box.size(), 0, 0, cv::INTER_AREA);
      cv::cvtColor(scaled, i420, cv::COLOR_BGR2YUV_I420);
      const int h = luma_box.height;
      const int quarter = chroma_box.area();
      i420.rowRange(0, h).copyTo(y);
      const cv::Mat u(chroma_box.size(), CV_8UC1, i420.ptr(h));
      const cv::Mat v(chroma_box.size(), CV_8UC1, i420.ptr(h) + quarter);
      if (nv12) cv::merge(std::vector<cv::Mat>{u, v}, chroma[0]);
      else {
        u.copyTo(chroma[0]);
        v.copyTo(chroma[1]);
      }
      break;
    }
  }
}

}  // namespace vigil::plates
