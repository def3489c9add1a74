// The plateblur element from the built plugin, through GstHarness: plates are
// redacted in place, metas attached, other ROI types redacted on request,
// and bad settings fail at start with a clear error.
#include "vigil/analytics/registry.hpp"
#include "vigil/groundtruth/plates.hpp"
#include "vigil/gst/meta.hpp"
#include "vigil/gst/ptr.hpp"

#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include <memory>

namespace {

constexpr int kWidth = 1280;
constexpr int kHeight = 720;
const cv::Rect kPlateBox(560, 420, 160, 34);
const cv::Rect kFaceBox(200, 100, 120, 150);

struct HarnessFree {
  void operator()(GstHarness* h) const { gst_harness_teardown(h); }
};
using HarnessPtr = std::unique_ptr<GstHarness, HarnessFree>;

cv::Mat sceneBgr(bool with_plate) {
  cv::Mat frame = vigil::groundtruth::makeBackground({kWidth, kHeight}, 21);
  if (with_plate) {
    const cv::Mat plate = vigil::groundtruth::renderPlate(vigil::groundtruth::PlateStyle::UkRear, "AB12 CDE");
    cv::Mat scaled;
    cv::resize(plate, scaled, kPlateBox.size(), 0, 0, cv::INTER_AREA);
    scaled.copyTo(frame(kPlateBox));
  }
  return frame;
}

GstBuffer* i420Buffer(const cv::Mat& bgr, std::int64_t index) {
  cv::Mat i420;
  cv::cvtColor(bgr, i420, cv::COLOR_BGR2YUV_I420);
  const gsize bytes = i420.total();
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, bytes, nullptr);
  gst_buffer_fill(buffer, 0, i420.data, bytes);
  GST_BUFFER_PTS(buffer) = static_cast<GstClockTime>(index) * GST_SECOND / 30;
  GST_BUFFER_DURATION(buffer) = GST_SECOND / 30;
  return buffer;
}

// Luma plane of an I420 buffer of kWidth x kHeight (default strides).
cv::Mat lumaOf(GstBuffer* buffer) {
  GstMapInfo map;
  EXPECT_TRUE(gst_buffer_map(buffer, &map, GST_MAP_READ));
  cv::Mat luma = cv::Mat(kHeight, kWidth, CV_8UC1, map.data).clone();
  gst_buffer_unmap(buffer, &map);
  return luma;
}

cv::Mat lumaOf(const cv::Mat& bgr) {
  cv::Mat grey;
  cv::cvtColor(bgr, grey, cv::COLOR_BGR2YUV_I420);
  return grey.rowRange(0, kHeight).clone();
}

HarnessPtr makeHarness(const char* properties) {
  HarnessPtr h(gst_harness_new_parse((std::string("plateblur detect-timeout=10000 ") + properties).c_str()));
  gst_harness_set_src_caps_str(h.get(), "video/x-raw,format=I420,width=1280,height=720,framerate=30/1");
  return h;
}

TEST(PlateBlur, RedactsPlateInPlaceAndAttachesMetas) {
  auto h = makeHarness("mode=pixelate interval=3");
  const cv::Mat scene = sceneBgr(true);
  const cv::Mat original = lumaOf(scene);
  for (int index = 0; index < 6; ++index) {
    vigil::gst::BufferPtr out(gst_harness_push_and_pull(h.get(), i420Buffer(scene, index)));
    ASSERT_TRUE(out);
    const cv::Mat luma = lumaOf(out.get());
    EXPECT_LT(vigil::groundtruth::plateReadability(original(kPlateBox), luma(kPlateBox)),
              vigil::groundtruth::kReadableThreshold)
        << "frame " << index << ": plate left readable";
    // Only the plate's neighbourhood changed.
    cv::Mat changed = original != luma;
    EXPECT_LT(cv::countNonZero(changed), kWidth * kHeight / 50) << "frame " << index;

    int plates = 0;
    gpointer state = nullptr;
    while (GstMeta* meta = gst_buffer_iterate_meta_filtered(out.get(), &state,
                                                            GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) {
      auto* roi = reinterpret_cast<GstVideoRegionOfInterestMeta*>(meta);
      ASSERT_STREQ(g_quark_to_string(roi->roi_type), vigil::analytics::kPlates.roi_type);
      const cv::Rect box(roi->x, roi->y, roi->w, roi->h);
      EXPECT_EQ((box & kPlateBox).area(), kPlateBox.area()) << "meta box does not cover the plate";
      const GstStructure* params = vigil::gst::objectParams(roi);
      ASSERT_NE(params, nullptr);
      EXPECT_TRUE(gst_structure_has_field(params, vigil::gst::kFieldTrackId));
      EXPECT_FALSE(gst_structure_has_field(params, "text")) << "plate text must never be published";
      ++plates;
    }
    EXPECT_EQ(plates, 1) << "frame " << index;
    int summaries = 0;
    for (GstStructure* analysis : vigil::gst::analyses(out.get())) {
      ASSERT_STREQ(gst_structure_get_string(analysis, vigil::gst::kFieldKind), "plates");
      gint count = -1;
      EXPECT_TRUE(gst_structure_get_int(analysis, "count", &count));
      EXPECT_EQ(count, 1);
      gboolean publish = FALSE;
      gst_structure_get_boolean(analysis, vigil::gst::kFieldPublish, &publish);
      EXPECT_EQ(publish != FALSE, index == 0) << "published on change only";
      ++summaries;
    }
    EXPECT_EQ(summaries, 1);
  }
}

TEST(PlateBlur, PlateFreeFrameIsLeftAlone) {
  auto h = makeHarness("");
  const cv::Mat scene = sceneBgr(false);
  const cv::Mat original = lumaOf(scene);
  for (int index = 0; index < 3; ++index) {
    vigil::gst::BufferPtr out(gst_harness_push_and_pull(h.get(), i420Buffer(scene, index)));
    const cv::Mat changed = original != lumaOf(out.get());
    EXPECT_LT(cv::countNonZero(changed), kWidth * kHeight / 100) << "frame " << index;
  }
}

TEST(PlateBlur, RedactsRequestedRoiTypes) {
  const cv::Mat scene = sceneBgr(false);
  const cv::Mat original = lumaOf(scene);
  for (const bool requested : {false, true}) {
    auto h = makeHarness(requested ? "redact-roi-types=face,barcode mode=fill" : "mode=fill");
    GstBuffer* in = i420Buffer(scene, 0);
    gst_buffer_add_video_region_of_interest_meta(in, "face", kFaceBox.x, kFaceBox.y, kFaceBox.width,
                                                 kFaceBox.height);
    vigil::gst::BufferPtr out(gst_harness_push_and_pull(h.get(), in));
    const cv::Mat changed = original(kFaceBox) != lumaOf(out.get())(kFaceBox);
    if (requested) EXPECT_EQ(cv::countNonZero(changed), kFaceBox.area()) << "face not redacted";
    else EXPECT_EQ(cv::countNonZero(changed), 0) << "face redacted without being asked";
  }
}

TEST(PlateBlur, RedactsPackedRgbToo) {
  HarnessPtr h(gst_harness_new_parse("plateblur detect-timeout=10000 mode=blur"));
  gst_harness_set_src_caps_str(h.get(), "video/x-raw,format=BGR,width=1280,height=720,framerate=30/1");
  const cv::Mat scene = sceneBgr(true);
  GstBuffer* in = gst_buffer_new_allocate(nullptr, scene.total() * 3, nullptr);
  gst_buffer_fill(in, 0, scene.data, scene.total() * 3);
  vigil::gst::BufferPtr out(gst_harness_push_and_pull(h.get(), in));
  GstMapInfo map;
  ASSERT_TRUE(gst_buffer_map(out.get(), &map, GST_MAP_READ));
  const cv::Mat result(kHeight, kWidth, CV_8UC3, map.data);
  EXPECT_LT(vigil::groundtruth::plateReadability(scene(kPlateBox), result(kPlateBox)),
            vigil::groundtruth::kReadableThreshold);
  gst_buffer_unmap(out.get(), &map);
}

// Start-time errors: the pipeline posts an ERROR naming what is wrong.
std::string startError(const char* launch) {
  GError* raw = nullptr;
  vigil::gst::ElementPtr pipeline(gst_parse_launch(launch, &raw));
  vigil::gst::ErrorPtr parse_error(raw);
  EXPECT_TRUE(pipeline);
  gst_element_set_state(pipeline.get(), GST_STATE_PLAYING);
  vigil::gst::BusPtr bus(gst_element_get_bus(pipeline.get()));
  vigil::gst::MessagePtr message(gst_bus_timed_pop_filtered(
      bus.get(), 20 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_ERROR | GST_MESSAGE_EOS)));
  std::string text;
  if (message && GST_MESSAGE_TYPE(message.get()) == GST_MESSAGE_ERROR) {
    GError* error = nullptr;
    gst_message_parse_error(message.get(), &error, nullptr);
    vigil::gst::ErrorPtr owned(error);
    text = owned ? owned->message : "";
  }
  gst_element_set_state(pipeline.get(), GST_STATE_NULL);
  return text;
}

TEST(PlateBlur, BadSettingsFailAtStartWithAClearError) {
  EXPECT_NE(startError("videotestsrc num-buffers=1 ! plateblur mode=image ! fakesink").find("image-location"),
            std::string::npos);
  EXPECT_NE(startError("videotestsrc num-buffers=1 ! plateblur backend=onnx ! fakesink").find("model"),
            std::string::npos);
  EXPECT_NE(startError("videotestsrc num-buffers=1 ! plateblur backend=nonsense ! fakesink").find("nonsense"),
            std::string::npos);
}

}  // namespace
