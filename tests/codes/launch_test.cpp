// `first_seen` in a plain launch line: `appsrc ! codereader ! eventpublish`,
// parsed like gst-launch-1.0 parses it, buffers with stream time only and no
// runner to stamp a capture time. The event must still carry epoch
// nanoseconds, equal to its own `ts` (docs/EVENTS.md), not stream time.
#include "bus_listener.hpp"
#include "vigil/events/keys.hpp"
#include "vigil/groundtruth/codes.hpp"
#include "vigil/groundtruth/scene.hpp"
#include "vigil/gst/ptr.hpp"

#include <gst/app/gstappsrc.h>
#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include <chrono>
#include <string>

namespace {

namespace gt = vigil::groundtruth;
namespace key = vigil::events::key;

const cv::Size kFrameSize(640, 360);
constexpr GstClockTime kFrameDuration = GST_SECOND / 25;

GstBuffer* bufferOf(const cv::Mat& bgr, std::uint64_t frame) {
  const gsize bytes = bgr.total() * bgr.elemSize();
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, bytes, nullptr);
  gst_buffer_fill(buffer, 0, bgr.data, bytes);
  GST_BUFFER_PTS(buffer) = frame * kFrameDuration;  // stream time: 0, 40 ms, ...
  GST_BUFFER_DURATION(buffer) = kFrameDuration;
  return buffer;
}

std::string boundEndpoint(GstElement* pipeline) {
  vigil::gst::ElementPtr publisher(gst_bin_get_by_name(GST_BIN(pipeline), "publish"));
  gchar* endpoint = nullptr;
  g_object_get(publisher.get(), "bound-endpoint", &endpoint, nullptr);
  vigil::gst::CharPtr owned(endpoint);
  return endpoint ? endpoint : "";
}

TEST(CodeReaderLaunchLine, FirstSeenIsEpochNanosecondsEqualToTheEventTs) {
  GError* error = nullptr;
  vigil::gst::ElementPtr pipeline(gst_parse_launch(
      "appsrc name=src format=time caps=video/x-raw,format=BGR,width=640,height=360,framerate=25/1 "
      "! videoconvert ! codereader formats=qr ! eventpublish name=publish endpoint=tcp://127.0.0.1:* "
      "heartbeat-interval=20 ! fakesink",
      &error));
  ASSERT_EQ(error, nullptr) << error->message;
  ASSERT_EQ(gst_element_set_state(pipeline.get(), GST_STATE_PLAYING), GST_STATE_CHANGE_ASYNC);
  vigil::gst::ElementPtr src(gst_bin_get_by_name(GST_BIN(pipeline.get()), "src"));

  const std::string endpoint = boundEndpoint(pipeline.get());
  ASSERT_EQ(endpoint.rfind("tcp://127.0.0.1:", 0), 0u) << endpoint;
  vigil::testing::BusListener listener(endpoint);

  // Blank frames until the subscriber hears the publisher (the slow joiner
  // would otherwise miss the one event a code's appearance makes).
  const cv::Mat blank = gt::makeBackground(kFrameSize, 3);
  std::uint64_t frame = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  bool connected = false;
  while (!connected && std::chrono::steady_clock::now() < deadline) {
    ASSERT_EQ(gst_app_src_push_buffer(GST_APP_SRC(src.get()), bufferOf(blank, frame++)), GST_FLOW_OK);
    connected = listener.waitFor([](const auto&) { return true; }, std::chrono::milliseconds(50)).has_value();
  }
  ASSERT_TRUE(connected) << "no event from " << endpoint;

  cv::Mat with_code = blank.clone();
  cv::Mat symbol;
  cv::cvtColor(gt::renderSymbol({vigil::codes::Format::QRCode, "LAUNCH LINE", false}, 4), symbol,
               cv::COLOR_GRAY2BGR);
  symbol.copyTo(with_code(cv::Rect(cv::Point(200, 80), symbol.size())));
  const std::int64_t before = g_get_real_time() * 1000;
  ASSERT_EQ(gst_app_src_push_buffer(GST_APP_SRC(src.get()), bufferOf(with_code, frame++)), GST_FLOW_OK);
  const auto event = listener.waitForKind("codes");
  const std::int64_t after = (g_get_real_time() + 1) * 1000;
  ASSERT_TRUE(event.has_value()) << "no codes event";

  const msgpack::object* objects = event->find(key::detections::kObjects);
  ASSERT_NE(objects, nullptr);
  ASSERT_EQ(objects->type, msgpack::type::ARRAY);
  ASSERT_EQ(objects->via.array.size, 1u);
  const msgpack::object& code = objects->via.array.ptr[0];
  EXPECT_EQ(vigil::events::asString(vigil::events::findKey(code, key::codes::kText)), "LAUNCH LINE");
  const auto first_seen = vigil::events::asInt(vigil::events::findKey(code, key::codes::kFirstSeen));
  ASSERT_TRUE(first_seen.has_value());
  EXPECT_GE(*first_seen, before) << "first_seen is not epoch ns (stream time would be ~"
                                 << (frame - 1) * kFrameDuration << ")";
  EXPECT_LE(*first_seen, after);
  EXPECT_EQ(*first_seen, event->header.ts_ns) << "the code was first read on this event's frame";

  gst_app_src_end_of_stream(GST_APP_SRC(src.get()));
  gst_element_set_state(pipeline.get(), GST_STATE_NULL);
}

}  // namespace
