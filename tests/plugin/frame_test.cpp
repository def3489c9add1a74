// vigil::gst frame helpers: a region of a mapped frame as BGR (what facecount
// hands its detector, one tile at a time) matches the same region cut from
// the whole picture, for planar and packed formats; corners snap to even
// pixels and report what was used; a region off the frame is refused.
#include "vigil/gst/frame.hpp"
#include "vigil/gst/ptr.hpp"

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include <stdexcept>

namespace {

namespace vgst = vigil::gst;

constexpr int kWidth = 640;
constexpr int kHeight = 360;

// Smooth colours, so resizing and chroma subsampling change little.
cv::Mat picture() {
  cv::Mat bgr(kHeight, kWidth, CV_8UC3);
  for (int y = 0; y < kHeight; ++y) {
    for (int x = 0; x < kWidth; ++x) {
      bgr.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>(x * 255 / kWidth), static_cast<uchar>(y * 255 / kHeight),
                                          static_cast<uchar>(128 + 100 * ((x / 160 + y / 120) % 2)));
    }
  }
  cv::GaussianBlur(bgr, bgr, cv::Size(9, 9), 0);
  return bgr;
}

// A buffer holding `bgr` in `format`, with GStreamer's default strides.
vgst::BufferPtr bufferOf(const cv::Mat& bgr, GstVideoFormat format, GstVideoInfo* info) {
  gst_video_info_set_format(info, format, kWidth, kHeight);
  vgst::BufferPtr buffer(gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(info), nullptr));
  GstVideoFrame frame;
  EXPECT_TRUE(gst_video_frame_map(&frame, info, buffer.get(), GST_MAP_WRITE));
  if (format == GST_VIDEO_FORMAT_I420) {
    cv::Mat i420;
    cv::cvtColor(bgr, i420, cv::COLOR_BGR2YUV_I420);
    const cv::Mat y = i420.rowRange(0, kHeight);
    const cv::Mat u(kHeight / 2, kWidth / 2, CV_8UC1, i420.ptr(kHeight));
    const cv::Mat v(kHeight / 2, kWidth / 2, CV_8UC1, i420.ptr(kHeight) + kWidth * kHeight / 4);
    y.copyTo(vgst::planeView(&frame, 0));
    u.copyTo(vgst::planeView(&frame, 1));
    v.copyTo(vgst::planeView(&frame, 2));
  } else {
    cv::Mat bgrx;
    cv::cvtColor(bgr, bgrx, cv::COLOR_BGR2BGRA);
    bgrx.copyTo(vgst::planeView(&frame, 0));
  }
  gst_video_frame_unmap(&frame);
  return buffer;
}

double meanDifference(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat difference;
  cv::absdiff(a, b, difference);
  const cv::Scalar mean = cv::mean(difference);
  return (mean[0] + mean[1] + mean[2]) / 3;
}

class RegionBgr : public ::testing::TestWithParam<GstVideoFormat> {};

TEST_P(RegionBgr, MatchesTheSameRegionOfTheWholePicture) {
  const cv::Mat bgr = picture();
  GstVideoInfo info;
  vgst::BufferPtr buffer = bufferOf(bgr, GetParam(), &info);
  GstVideoFrame frame;
  ASSERT_TRUE(gst_video_frame_map(&frame, &info, buffer.get(), GST_MAP_READ));

  cv::Rect used;
  const cv::Mat region = vgst::regionBgr(&frame, cv::Rect(101, 51, 200, 120), 0, &used);
  EXPECT_EQ(used, cv::Rect(100, 50, 201, 121)) << "corner snapped to even pixels, far edge kept";
  ASSERT_EQ(region.size(), vgst::downscaledSize(used.width, used.height, 0));
  cv::Mat expected;
  cv::resize(bgr(used), expected, region.size(), 0, 0, cv::INTER_AREA);
  EXPECT_LT(meanDifference(region, expected), 4.0);

  const cv::Mat small = vgst::regionBgr(&frame, cv::Rect(320, 0, 320, 360), 90, &used);
  EXPECT_EQ(used, cv::Rect(320, 0, 320, 360));
  EXPECT_EQ(small.size(), cv::Size(80, 90));
  cv::resize(bgr(used), expected, small.size(), 0, 0, cv::INTER_AREA);
  EXPECT_LT(meanDifference(small, expected), 4.0);

  const cv::Mat clipped = vgst::regionBgr(&frame, cv::Rect(600, 300, 100, 100), 0, &used);
  EXPECT_EQ(used, cv::Rect(600, 300, 40, 60)) << "clipped to the frame";
  EXPECT_EQ(clipped.size(), cv::Size(40, 60));

  EXPECT_THROW(vgst::regionBgr(&frame, cv::Rect(700, 0, 50, 50), 0), std::invalid_argument);
  const cv::Mat whole = vgst::downscaledBgr(&frame, 320);
  EXPECT_EQ(whole.size(), cv::Size(320, 180));
  gst_video_frame_unmap(&frame);
}

INSTANTIATE_TEST_SUITE_P(Formats, RegionBgr, ::testing::Values(GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_BGRx),
                         [](const auto& test) { return std::string(gst_video_format_to_string(test.param)); });

}  // namespace
