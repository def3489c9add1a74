// Every redaction mode changes the box — enough that a plate there is no
// longer readable — and nothing outside it, on BGR, I420 and NV12.
#include "vigil/groundtruth/plates.hpp"
#include "vigil/plates/redaction.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

namespace {

using vigil::plates::RedactionMode;

const cv::Rect kBox(200, 150, 181, 41);  // odd sizes on purpose

cv::Mat frameWithPlate() {
  cv::Mat frame = vigil::groundtruth::makeBackground({640, 360}, 9);
  const cv::Mat plate = vigil::groundtruth::renderPlate(vigil::groundtruth::PlateStyle::Eu, "B MW 1234");
  cv::Mat scaled;
  cv::resize(plate, scaled, kBox.size(), 0, 0, cv::INTER_AREA);
  scaled.copyTo(frame(kBox));
  return frame;
}

vigil::plates::RedactionStyle styleFor(RedactionMode mode) {
  vigil::plates::RedactionStyle style;
  style.mode = mode;
  style.fill_bgr = cv::Scalar(0, 128, 255);
  style.image_bgr = cv::Mat(30, 60, CV_8UC3, cv::Scalar(200, 30, 30));
  cv::circle(style.image_bgr, {30, 15}, 10, cv::Scalar(255, 255, 255), cv::FILLED);
  return style;
}

// Pixels outside `box` identical; inside, the plate no longer readable.
void expectOnlyBoxRedacted(const cv::Mat& before, const cv::Mat& after, const cv::Rect& box, const char* what) {
  cv::Mat outside_mask(before.size(), CV_8UC1, cv::Scalar(255));
  outside_mask(box).setTo(0);
  cv::Mat difference;
  cv::absdiff(before, after, difference);
  if (difference.channels() > 1) cv::cvtColor(difference, difference, cv::COLOR_BGR2GRAY);
  EXPECT_EQ(cv::countNonZero(difference & outside_mask), 0) << what << ": pixels outside the box changed";
  EXPECT_GT(cv::countNonZero(difference(box)), box.area() / 2) << what << ": box mostly unchanged";
  EXPECT_LT(vigil::groundtruth::plateReadability(before(kBox), after(kBox)), vigil::groundtruth::kReadableThreshold)
      << what << ": plate still readable";
}

class RedactionModes : public ::testing::TestWithParam<RedactionMode> {};

TEST_P(RedactionModes, Bgr) {
  const cv::Mat before = frameWithPlate();
  cv::Mat after = before.clone();
  vigil::plates::redactBgr(after, kBox, styleFor(GetParam()));
  expectOnlyBoxRedacted(before, after, kBox, vigil::plates::redactionModeName(GetParam()));
}

TEST_P(RedactionModes, I420AndNv12) {
  const cv::Mat bgr = frameWithPlate();
  cv::Mat i420;
  cv::cvtColor(bgr, i420, cv::COLOR_BGR2YUV_I420);
  const int w = bgr.cols, h = bgr.rows;
  // The redacted area in YUV is the box grown to even corners.
  const cv::Rect even(kBox.x & ~1, kBox.y & ~1, ((kBox.br().x + 1) & ~1) - (kBox.x & ~1),
                      ((kBox.br().y + 1) & ~1) - (kBox.y & ~1));
  for (const bool nv12 : {false, true}) {
    cv::Mat before = i420.clone();
    cv::Mat uv;  // NV12 chroma built from the I420 planes
    if (nv12) {
      const cv::Mat u(h / 2, w / 2, CV_8UC1, before.ptr(h));
      const cv::Mat v(h / 2, w / 2, CV_8UC1, before.ptr(h) + w * h / 4);
      cv::merge(std::vector<cv::Mat>{u, v}, uv);
    }
    cv::Mat after = before.clone();
    cv::Mat uv_after = uv.clone();
    vigil::plates::Yuv420Planes planes;
    planes.y = after.rowRange(0, h);
    if (nv12) planes.uv = uv_after;
    else {
      planes.u = cv::Mat(h / 2, w / 2, CV_8UC1, after.ptr(h));
      planes.v = cv::Mat(h / 2, w / 2, CV_8UC1, after.ptr(h) + w * h / 4);
    }
    vigil::plates::redactYuv420(planes, kBox, styleFor(GetParam()));
    const std::string what = std::string(vigil::plates::redactionModeName(GetParam())) + (nv12 ? " NV12" : " I420");
    expectOnlyBoxRedacted(before.rowRange(0, h), after.rowRange(0, h), even, what.c_str());
    // Chroma: changed only inside the half-size box (fill/image always change it).
    const cv::Rect chroma(even.x / 2, even.y / 2, even.width / 2, even.height / 2);
    cv::Mat chroma_before = nv12 ? uv : before.rowRange(h, h + h / 4);
    cv::Mat chroma_after = nv12 ? uv_after : after.rowRange(h, h + h / 4);
    if (nv12) {
      cv::Mat outside = uv.clone();
      cv::Mat diff;
      cv::absdiff(uv, uv_after, diff);
      diff(chroma).setTo(cv::Scalar::all(0));
      EXPECT_EQ(cv::countNonZero(diff.reshape(1)), 0) << what << ": chroma outside the box changed";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllModes, RedactionModes,
                         ::testing::Values(RedactionMode::Blur, RedactionMode::Pixelate, RedactionMode::Fill,
                                           RedactionMode::Image),
                         [](const auto& param_info) { return std::string(vigil::plates::redactionModeName(param_info.param)); });

TEST(Redaction, FillUsesTheColour) {
  cv::Mat frame(100, 100, CV_8UC3, cv::Scalar(10, 10, 10));
  vigil::plates::redactBgr(frame, {10, 10, 20, 20}, styleFor(RedactionMode::Fill));
  EXPECT_EQ(frame.at<cv::Vec3b>(15, 15), cv::Vec3b(0, 128, 255));
}

TEST(Redaction, BoxesOutsideTheFrameAreClampedOrIgnored) {
  cv::Mat frame = frameWithPlate();
  const cv::Mat before = frame.clone();
  vigil::plates::redactBgr(frame, {-50, -50, 20, 20}, styleFor(RedactionMode::Blur));
  EXPECT_EQ(cv::norm(frame, before, cv::NORM_INF), 0.0);
  vigil::plates::redactBgr(frame, {600, 300, 200, 200}, styleFor(RedactionMode::Pixelate));
  EXPECT_GT(cv::norm(frame, before, cv::NORM_INF), 0.0);
}

TEST(Redaction, ModeNamesRoundTripAndRejectUnknown) {
  for (auto mode : {RedactionMode::Blur, RedactionMode::Pixelate, RedactionMode::Fill, RedactionMode::Image}) {
    EXPECT_EQ(vigil::plates::redactionModeFromName(vigil::plates::redactionModeName(mode)), mode);
  }
  EXPECT_THROW(vigil::plates::redactionModeFromName("smudge"), std::invalid_argument);
  EXPECT_THROW(vigil::plates::loadRedactionImage("/nonexistent.png"), std::runtime_error);
}

}  // namespace
