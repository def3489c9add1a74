// codereader under GstHarness: one published event per appearance (and one
// when a code leaves, if asked), GS1 data as a nested structure, the region
// property, and nothing published where there is no code.
#include "vigil/analytics/registry.hpp"
#include "vigil/groundtruth/codes.hpp"
#include "vigil/groundtruth/scene.hpp"
#include "vigil/gst/meta.hpp"
#include "vigil/gst/ptr.hpp"

#include <gst/check/gstharness.h>
#include <opencv2/imgproc.hpp>
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

namespace codes = vigil::codes;
namespace gt = vigil::groundtruth;
namespace vgst = vigil::gst;

const cv::Size kFrameSize(1280, 720);
constexpr const char* kCaps = "video/x-raw,format=BGR,width=1280,height=720,framerate=25/1";
constexpr GstClockTime kFrameDuration = GST_SECOND / 25;
constexpr int kModulePx = 3;

struct CodeObject {
  std::string format;
  std::string text;
  std::string raw;
  std::string state;
  bool publish = true;
  gint64 first_seen = -1;
  gint64 track_id = -1;
  vgst::StructurePtr gs1;
};

struct Output {
  std::vector<CodeObject> objects;
  bool has_summary = false;
  bool publish = false;
  int count = -1;
};

Output readOutput(GstBuffer* buffer) {
  Output output;
  gpointer state = nullptr;
  while (GstMeta* meta = gst_buffer_iterate_meta_filtered(buffer, &state,
                                                          GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) {
    auto* roi = reinterpret_cast<GstVideoRegionOfInterestMeta*>(meta);
    EXPECT_STREQ(g_quark_to_string(roi->roi_type), vigil::analytics::kCodes.roi_type);
    const GstStructure* params = vgst::objectParams(roi);
    if (!params) {
      ADD_FAILURE() << "code without vigil-object params";
      continue;
    }
    CodeObject object;
    object.format = gst_structure_get_string(params, "format");
    object.text = gst_structure_get_string(params, "text");
    const char* raw = gst_structure_get_string(params, "raw");
    object.raw = raw ? raw : "";
    object.state = gst_structure_get_string(params, "state");
    gboolean publish = TRUE;
    gst_structure_get_boolean(params, vgst::kFieldPublish, &publish);
    object.publish = publish;
    EXPECT_TRUE(gst_structure_get_int64(params, "first_seen", &object.first_seen));
    EXPECT_TRUE(gst_structure_get_int64(params, vgst::kFieldTrackId, &object.track_id));
    if (const GValue* gs1 = gst_structure_get_value(params, "gs1")) {
      object.gs1.reset(gst_structure_copy(gst_value_get_structure(gs1)));
    }
    output.objects.push_back(std::move(object));
  }
  for (GstStructure* analysis : vgst::analyses(buffer)) {
    if (std::string(vgst::analysisKind(analysis)) != "codes") continue;
    output.has_summary = true;
    gboolean publish = FALSE;
    gst_structure_get_boolean(analysis, vgst::kFieldPublish, &publish);
    output.publish = publish;
    gst_structure_get_int(analysis, "count", &output.count);
  }
  return output;
}

GstBuffer* bufferOf(const cv::Mat& bgr, std::int64_t frame) {
  const gsize bytes = bgr.total() * bgr.elemSize();
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, bytes, nullptr);
  gst_buffer_fill(buffer, 0, bgr.data, bytes);
  GST_BUFFER_PTS(buffer) = static_cast<GstClockTime>(frame) * kFrameDuration;
  GST_BUFFER_DURATION(buffer) = kFrameDuration;
  return buffer;
}

// A still code pasted on a background for frames [from, to).
class StillCode {
 public:
  StillCode(const gt::CodeSymbol& symbol, cv::Point where, std::int64_t from, std::int64_t to)
      : from_(from), to_(to), background_(gt::makeBackground(kFrameSize, 9)) {
    cv::Mat grey = gt::renderSymbol(symbol, kModulePx);
    cv::cvtColor(grey, image_, cv::COLOR_GRAY2BGR);
    where_ = cv::Rect(where, image_.size());
  }
  cv::Mat frame(std::int64_t index) const {
    cv::Mat bgr = background_.clone();
    if (index >= from_ && index < to_) image_.copyTo(bgr(where_));
    return bgr;
  }

 private:
  std::int64_t from_, to_;
  cv::Mat background_;
  cv::Mat image_;
  cv::Rect where_;
};

class CodeReaderElement : public ::testing::Test {
 protected:
  void TearDown() override {
    if (harness_) gst_harness_teardown(harness_);
  }
  void start(const std::string& properties) {
    harness_ = gst_harness_new_parse(("codereader name=reader " + properties).c_str());
    ASSERT_NE(harness_, nullptr);
    gst_harness_set_src_caps_str(harness_, kCaps);
    gst_harness_play(harness_);
  }
  std::vector<Output> run(const StillCode& scene, std::int64_t frames) {
    std::vector<Output> outputs;
    for (std::int64_t f = 0; f < frames; ++f) {
      EXPECT_EQ(gst_harness_push(harness_, bufferOf(scene.frame(f), f)), GST_FLOW_OK);
      vgst::BufferPtr out(gst_harness_pull(harness_));
      EXPECT_NE(out, nullptr);
      if (out) outputs.push_back(readOutput(out.get()));
    }
    return outputs;
  }
  GstHarness* harness_ = nullptr;
};

TEST_F(CodeReaderElement, OneEventPerAppearanceAndOneWhenItLeaves) {
  const gt::CodeSymbol qr{codes::Format::QRCode, "DOCK-7 PALLET 42", false};
  const StillCode scene(qr, cv::Point(400, 200), 5, 30);
  start("report-left=true lost-after=3");
  const gint64 before = g_get_real_time() * 1000;
  const auto outputs = run(scene, 45);
  const gint64 after = (g_get_real_time() + 1) * 1000;
  gint64 first_seen = -1;

  int published = 0;
  int appeared = 0;
  int left = 0;
  for (std::size_t f = 0; f < outputs.size(); ++f) {
    const Output& out = outputs[f];
    ASSERT_TRUE(out.has_summary) << "frame " << f;
    if (out.publish) ++published;
    for (const auto& object : out.objects) {
      EXPECT_EQ(object.format, "qr");
      EXPECT_EQ(object.text, "DOCK-7 PALLET 42");
      EXPECT_EQ(object.raw, "]Q1DOCK-7 PALLET 42");
      // Epoch ns of the frame it was first read on (these buffers carry only
      // stream time, 5 frames in), the same on every frame of the appearance.
      EXPECT_GE(object.first_seen, before);
      EXPECT_LE(object.first_seen, after);
      if (first_seen < 0) first_seen = object.first_seen;
      EXPECT_EQ(object.first_seen, first_seen);
      if (object.state == "appeared") {
        ++appeared;
        EXPECT_TRUE(object.publish);
        EXPECT_TRUE(out.publish);
        EXPECT_EQ(f, 5u) << "read on the first frame it is visible";
      } else if (object.state == "left") {
        ++left;
        EXPECT_TRUE(object.publish);
        EXPECT_TRUE(out.publish);
        EXPECT_GE(f, 30u);
      } else {
        EXPECT_EQ(object.state, "visible");
        EXPECT_FALSE(object.publish) << "an already announced code stays out of events";
      }
    }
    if (f >= 6 && f < 30) {
      EXPECT_EQ(out.count, 1) << "frame " << f;
    }
  }
  EXPECT_EQ(appeared, 1);
  EXPECT_EQ(left, 1);
  EXPECT_EQ(published, 2) << "one event when read, one when gone";
}

TEST_F(CodeReaderElement, NoLeftEventUnlessAsked) {
  const gt::CodeSymbol ean{codes::Format::EAN13, "5901234123457", false};
  const StillCode scene(ean, cv::Point(300, 300), 2, 10);
  start("lost-after=2");
  int published = 0;
  for (const auto& out : run(scene, 20)) {
    published += out.publish ? 1 : 0;
    for (const auto& object : out.objects) EXPECT_NE(object.state, "left");
  }
  EXPECT_EQ(published, 1);
}

TEST_F(CodeReaderElement, Gs1DataBecomesANestedStructure) {
  const gt::CodeSymbol dm{codes::Format::DataMatrix, "(01)09501101530003(17)250600(3103)001234", true};
  const StillCode scene(dm, cv::Point(500, 300), 0, 5);
  start("formats=datamatrix");
  const auto outputs = run(scene, 3);
  ASSERT_EQ(outputs[0].objects.size(), 1u);
  const CodeObject& object = outputs[0].objects[0];
  EXPECT_EQ(object.format, "datamatrix");
  EXPECT_EQ(object.text, "(01)09501101530003(17)250600(3103)001234");
  EXPECT_EQ(object.raw.substr(0, 3), "]d2");
  ASSERT_NE(object.gs1, nullptr);
  EXPECT_STREQ(gst_structure_get_string(object.gs1.get(), "01"), "09501101530003");
  EXPECT_STREQ(gst_structure_get_string(object.gs1.get(), "17"), "2025-06-30");
  EXPECT_STREQ(gst_structure_get_string(object.gs1.get(), "3103"), "1.234");
  EXPECT_FALSE(gst_structure_has_field(object.gs1.get(), "errors"));
}

TEST_F(CodeReaderElement, RegionLimitsWhereCodesAreRead) {
  const gt::CodeSymbol qr{codes::Format::QRCode, "LEFT HALF", false};
  const StillCode scene(qr, cv::Point(100, 200), 0, 10);
  start("roi=0.5,0,0.5,1");
  for (const auto& out : run(scene, 4)) {
    EXPECT_TRUE(out.objects.empty());
    EXPECT_FALSE(out.publish);
  }
}

TEST_F(CodeReaderElement, IntervalCarriesBoxesBetweenReads) {
  const gt::CodeSymbol qr{codes::Format::QRCode, "EVERY THIRD", false};
  const StillCode scene(qr, cv::Point(600, 100), 0, 20);
  start("interval=3");
  const auto outputs = run(scene, 9);
  int published = 0;
  for (const auto& out : outputs) {
    EXPECT_EQ(out.objects.size(), 1u) << "the code stays on every buffer";
    published += out.publish ? 1 : 0;
  }
  EXPECT_EQ(published, 1);
}

TEST_F(CodeReaderElement, NothingPublishedWithoutCodes) {
  const gt::CodeSymbol unused{codes::Format::QRCode, "never shown", false};
  const StillCode scene(unused, cv::Point(0, 0), 1000, 1000);
  start("report-left=true");
  for (const auto& out : run(scene, 15)) {
    EXPECT_TRUE(out.has_summary);
    EXPECT_FALSE(out.publish);
    EXPECT_EQ(out.count, 0);
    EXPECT_TRUE(out.objects.empty());
  }
}

TEST(CodeReaderSettings, BadFormatsRefuseToStartWithAClearError) {
  GError* raw = nullptr;
  vgst::ElementPtr pipeline(gst_parse_launch(
      "videotestsrc num-buffers=2 ! video/x-raw,format=I420,width=320,height=240 ! "
      "codereader formats=qr,hologram ! fakesink",
      &raw));
  vgst::ErrorPtr parse_error(raw);
  ASSERT_TRUE(pipeline && !parse_error);
  gst_element_set_state(pipeline.get(), GST_STATE_PLAYING);
  vgst::BusPtr bus(gst_element_get_bus(pipeline.get()));
  vgst::MessagePtr message(gst_bus_timed_pop_filtered(
      bus.get(), 10 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_ERROR | GST_MESSAGE_EOS)));
  ASSERT_NE(message, nullptr);
  ASSERT_EQ(GST_MESSAGE_TYPE(message.get()), GST_MESSAGE_ERROR);
  GError* error = nullptr;
  gst_message_parse_error(message.get(), &error, nullptr);
  vgst::ErrorPtr owned(error);
  EXPECT_NE(std::string(error->message).find("hologram"), std::string::npos) << error->message;
  gst_element_set_state(pipeline.get(), GST_STATE_NULL);
}

}  // namespace
