// eventpublish under GstHarness, with a real SUB socket on loopback.
#include "bus_listener.hpp"
#include "vigil/analytics/registry.hpp"
#include "vigil/gst/meta.hpp"
#include "vigil/gst/ptr.hpp"

#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace {

using vigil::testing::BusListener;

constexpr const char* kCaps = "video/x-raw,format=I420,width=320,height=240,framerate=30/1";

// gst_harness_new_parse() wraps the element in a bin: find the publisher by name.
vigil::gst::ElementPtr publisherIn(GstHarness* harness) {
  return vigil::gst::ElementPtr(gst_bin_get_by_name(GST_BIN(harness->element), "publish"));
}

std::string boundEndpoint(GstElement* bin) {
  vigil::gst::ElementPtr publisher(gst_bin_get_by_name(GST_BIN(bin), "publish"));
  gchar* endpoint = nullptr;
  g_object_get(publisher.get(), "bound-endpoint", &endpoint, nullptr);
  vigil::gst::CharPtr owned(endpoint);
  return owned ? owned.get() : "";
}

class EventPublishTest : public ::testing::Test {
 protected:
  // A harness around a fresh eventpublish on any free loopback port; the
  // heartbeat doubles as the slow-joiner handshake.
  void SetUp() override {
    harness_ = gst_harness_new_parse(
        "eventpublish name=publish endpoint=tcp://127.0.0.1:* source-id=cam-1 heartbeat-interval=20");
    ASSERT_NE(harness_, nullptr);
    gst_harness_set_src_caps_str(harness_, kCaps);
    gst_harness_play(harness_);
    endpoint_ = boundEndpoint(harness_->element);
    ASSERT_EQ(endpoint_.rfind("tcp://127.0.0.1:", 0), 0u) << endpoint_;
    listener_ = std::make_unique<BusListener>(endpoint_);
    ASSERT_TRUE(listener_->waitForKind("status")) << "no heartbeat reached the subscriber";
  }

  void TearDown() override {
    listener_.reset();
    if (harness_) gst_harness_teardown(harness_);
  }

  static std::string boundEndpoint(GstElement* element) { return ::boundEndpoint(element); }

  GstBuffer* frame(guint64 number) {
    GstBuffer* buffer = gst_harness_create_buffer(harness_, 320 * 240 * 3 / 2);
    GST_BUFFER_OFFSET(buffer) = number;
    GST_BUFFER_PTS(buffer) = number * GST_SECOND / 30;
    return buffer;
  }

  void push(GstBuffer* buffer) {
    ASSERT_EQ(gst_harness_push(harness_, buffer), GST_FLOW_OK);
    gst_buffer_unref(gst_harness_pull(harness_));
  }

  GstHarness* harness_ = nullptr;
  std::string endpoint_;
  std::unique_ptr<BusListener> listener_;
};

TEST_F(EventPublishTest, PublishesAnalysisSummaryWithItsObjects) {
  GstBuffer* buffer = frame(42);
  vigil::gst::setCaptureTimeNs(buffer, 1'700'000'000'000'000'000LL);
  GstStructure* faces = vigil::gst::addAnalysis(buffer, "faces", vigil::analytics::kFaces.roi_type, true);
  GstStructure* zones = gst_structure_new("zones", "queue-1", G_TYPE_INT, 2, "queue-2", G_TYPE_INT, 0, nullptr);
  gst_structure_set(faces, "count", G_TYPE_INT, 2, "zones", GST_TYPE_STRUCTURE, zones, nullptr);
  gst_structure_free(zones);
  vigil::gst::addObject(buffer, vigil::analytics::kFaces.roi_type, 10, 20, 30, 40, 0.9, 7);
  GstStructure* second = vigil::gst::addObject(buffer, vigil::analytics::kFaces.roi_type, 100, 120, 50, 60, 0.75, 8);
  gst_structure_set(second, "note", G_TYPE_STRING, "extra keys travel", nullptr);
  // Held back: stays on the buffer for downstream elements, not in the event.
  GstStructure* hidden = vigil::gst::addObject(buffer, vigil::analytics::kFaces.roi_type, 1, 1, 5, 5, 0.5, 9);
  gst_structure_set(hidden, vigil::gst::kFieldPublish, G_TYPE_BOOLEAN, FALSE, nullptr);
  // Another analyser's object must not leak into the faces event.
  vigil::gst::addObject(buffer, vigil::analytics::kPlates.roi_type, 200, 200, 60, 20, 0.8, 1);
  push(buffer);

  auto event = listener_->waitForKind("faces");
  ASSERT_TRUE(event);
  EXPECT_EQ(event->topic, "vigil/faces/cam-1");
  EXPECT_EQ(event->header.source, "cam-1");
  EXPECT_EQ(event->header.frame, 42u);
  EXPECT_EQ(event->header.width, 320);
  EXPECT_EQ(event->header.height, 240);
  EXPECT_EQ(event->header.ts_ns, 1'700'000'000'000'000'000LL);
  ASSERT_TRUE(event->header.pts_ns);
  EXPECT_EQ(*event->header.pts_ns, static_cast<std::int64_t>(42 * GST_SECOND / 30));
  EXPECT_EQ(event->getInt("count"), 2);
  EXPECT_EQ(event->find("publish"), nullptr) << "control fields are not published";
  EXPECT_EQ(event->find("roi_type"), nullptr) << "control fields are not published";
  const msgpack::object* zone_map = event->find("zones");
  ASSERT_NE(zone_map, nullptr);
  EXPECT_EQ(vigil::events::asInt(vigil::events::findKey(*zone_map, "queue-1")), 2);
  EXPECT_EQ(vigil::events::asInt(vigil::events::findKey(*zone_map, "queue-2")), 0);

  const msgpack::object* objects = event->find("objects");
  ASSERT_NE(objects, nullptr);
  ASSERT_EQ(objects->type, msgpack::type::ARRAY);
  ASSERT_EQ(objects->via.array.size, 2u);
  const msgpack::object& first = objects->via.array.ptr[0];
  const msgpack::object* box = vigil::events::findKey(first, "box");
  ASSERT_NE(box, nullptr);
  ASSERT_EQ(box->via.array.size, 4u);
  EXPECT_EQ(vigil::events::asInt(&box->via.array.ptr[0]), 10);
  EXPECT_EQ(vigil::events::asInt(&box->via.array.ptr[3]), 40);
  EXPECT_DOUBLE_EQ(*vigil::events::asDouble(vigil::events::findKey(first, "score")), 0.9);
  EXPECT_EQ(vigil::events::asInt(vigil::events::findKey(first, "track_id")), 7);
  EXPECT_EQ(vigil::events::asString(vigil::events::findKey(objects->via.array.ptr[1], "note")), "extra keys travel");
}

TEST_F(EventPublishTest, SummaryThatDeclinesToPublishSendsNothing) {
  GstBuffer* quiet = frame(1);
  gst_structure_set(vigil::gst::addAnalysis(quiet, "faces", vigil::analytics::kFaces.roi_type, false), "count", G_TYPE_INT, 1,
                    nullptr);
  vigil::gst::addObject(quiet, vigil::analytics::kFaces.roi_type, 1, 1, 10, 10, 0.9, 1);
  push(quiet);
  GstBuffer* loud = frame(2);
  gst_structure_set(vigil::gst::addAnalysis(loud, "faces", vigil::analytics::kFaces.roi_type, true), "count", G_TYPE_INT, 3,
                    nullptr);
  push(loud);
  auto event = listener_->waitForKind("faces");
  ASSERT_TRUE(event);
  EXPECT_EQ(event->header.frame, 2u) << "frame 1 declined to publish";
  EXPECT_EQ(event->getInt("count"), 3);
}

TEST_F(EventPublishTest, StockElementObjectsWithoutSummaryStillPublish) {
  GstBuffer* buffer = frame(5);
  // As gst-plugins-bad facedetect does: a ROI meta with no Vigil params.
  gst_buffer_add_video_region_of_interest_meta(buffer, "face", 5, 6, 70, 80);
  push(buffer);
  auto event = listener_->waitForKind("faces");
  ASSERT_TRUE(event);
  EXPECT_EQ(event->getInt("count"), 1);
  const msgpack::object* objects = event->find("objects");
  ASSERT_NE(objects, nullptr);
  ASSERT_EQ(objects->via.array.size, 1u);
  EXPECT_DOUBLE_EQ(*vigil::events::asDouble(vigil::events::findKey(objects->via.array.ptr[0], "score")), 1.0);
}

TEST_F(EventPublishTest, SequenceNumbersCountUpPerTopic) {
  for (guint64 n = 0; n < 20; ++n) {
    GstBuffer* buffer = frame(n);
    gst_structure_set(vigil::gst::addAnalysis(buffer, "codes", vigil::analytics::kCodes.roi_type, true), "count", G_TYPE_INT,
                      0, nullptr);
    push(buffer);
  }
  std::vector<std::uint64_t> seqs;
  while (seqs.size() < 20) {
    auto event = listener_->waitForKind("codes");
    ASSERT_TRUE(event) << "only " << seqs.size() << " codes events arrived";
    seqs.push_back(event->header.seq);
  }
  for (std::size_t i = 1; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], seqs[i - 1] + 1);
  const auto& topic = listener_->subscriber().topics().at("vigil/codes/cam-1");
  EXPECT_EQ(topic.missed, 0u);
}

TEST_F(EventPublishTest, HeartbeatCountsFramesDroppedUpstream) {
  // Frame numbers 0, 1, then 10: eight frames were dropped before us.
  push(frame(0));
  push(frame(1));
  push(frame(10));
  auto heartbeat = listener_->waitFor([](const vigil::events::Event& e) {
    return e.header.kind == "status" && e.getInt("dropped_frames").value_or(0) == 8;
  });
  ASSERT_TRUE(heartbeat) << "no heartbeat reported 8 dropped frames";
  EXPECT_EQ(heartbeat->getString("state"), "playing");
  EXPECT_EQ(heartbeat->getInt("analysed_frames"), 3);
  EXPECT_TRUE(heartbeat->getDouble("input_fps"));
  EXPECT_TRUE(heartbeat->getDouble("analysed_fps"));
  EXPECT_EQ(heartbeat->header.frame, 10u);
}

TEST_F(EventPublishTest, ApplicationStatusThroughActionSignal) {
  g_signal_emit_by_name(publisherIn(harness_).get(), "publish-status", "reconnecting", "camera went away");
  auto event = listener_->waitForState("reconnecting");
  ASSERT_TRUE(event);
  EXPECT_EQ(event->getString("detail"), "camera went away");
  // Frames flowing again flip the state back to playing by themselves.
  push(frame(3));
  EXPECT_TRUE(listener_->waitFor([](const vigil::events::Event& e) {
    return e.header.kind == "status" && e.getString("state") == "playing" && e.getString("detail") != "heartbeat";
  }));
}

TEST_F(EventPublishTest, EndOfStreamIsReported) {
  push(frame(0));
  ASSERT_TRUE(gst_harness_push_event(harness_, gst_event_new_eos()));
  EXPECT_TRUE(listener_->waitForState("eos"));
}

TEST_F(EventPublishTest, StatsReadableWhileStreaming) {
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done) {
      GstStructure* stats = nullptr;
      g_object_get(publisherIn(harness_).get(), "stats", &stats, nullptr);
      ASSERT_NE(stats, nullptr);
      gst_structure_free(stats);
    }
  });
  for (guint64 n = 0; n < 200; ++n) {
    GstBuffer* buffer = frame(n);
    gst_structure_set(vigil::gst::addAnalysis(buffer, "faces", vigil::analytics::kFaces.roi_type, true), "count", G_TYPE_INT, 0,
                      nullptr);
    push(buffer);
  }
  done = true;
  reader.join();
  GstStructure* stats = nullptr;
  g_object_get(publisherIn(harness_).get(), "stats", &stats, nullptr);
  guint64 analysed = 0;
  gst_structure_get_uint64(stats, "frames-analysed", &analysed);
  gst_structure_free(stats);
  EXPECT_EQ(analysed, 200u);
}

TEST(EventPublishSharing, SameEndpointSharesOneSocket) {
  GstHarness* first = gst_harness_new_parse("eventpublish name=publish endpoint=tcp://127.0.0.1:* source-id=a heartbeat-interval=20");
  gst_harness_set_src_caps_str(first, kCaps);
  gst_harness_play(first);
  vigil::gst::CharPtr bound(g_strdup(boundEndpoint(first->element).c_str()));
  // The second names the resolved endpoint: same process, same socket, no
  // "address in use".
  vigil::gst::CharPtr description(
      g_strdup_printf("eventpublish name=publish endpoint=%s source-id=b heartbeat-interval=20", bound.get()));
  GstHarness* second = gst_harness_new_parse(description.get());
  gst_harness_set_src_caps_str(second, kCaps);
  gst_harness_play(second);

  BusListener listener(bound.get());
  bool heard_a = false, heard_b = false;
  ASSERT_TRUE(listener.waitFor([&](const vigil::events::Event& e) {
    heard_a = heard_a || e.header.source == "a";
    heard_b = heard_b || e.header.source == "b";
    return heard_a && heard_b;
  })) << "both sources publish through the shared socket";
  gst_harness_teardown(second);
  gst_harness_teardown(first);
}

TEST(EventPublishErrors, UnbindableEndpointIsAClearElementError) {
  vigil::gst::ElementPtr pipeline(gst_parse_launch(
      "videotestsrc num-buffers=1 ! eventpublish endpoint=tcp://256.1.1.1:1 ! fakesink", nullptr));
  ASSERT_TRUE(pipeline);
  gst_object_ref_sink(pipeline.get());
  EXPECT_EQ(gst_element_set_state(pipeline.get(), GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  vigil::gst::BusPtr bus(gst_element_get_bus(pipeline.get()));
  vigil::gst::MessagePtr message(gst_bus_pop_filtered(bus.get(), GST_MESSAGE_ERROR));
  ASSERT_TRUE(message);
  GError* raw = nullptr;
  gst_message_parse_error(message.get(), &raw, nullptr);
  vigil::gst::ErrorPtr error(raw);
  EXPECT_NE(std::string(error->message).find("tcp://256.1.1.1:1"), std::string::npos) << error->message;
  gst_element_set_state(pipeline.get(), GST_STATE_NULL);
}

TEST(EventPublishErrors, InvalidSourceIdIsRejected) {
  vigil::gst::ElementPtr pipeline(gst_parse_launch(
      "videotestsrc num-buffers=1 ! eventpublish endpoint=tcp://127.0.0.1:* source-id=\"bad/id\" ! fakesink",
      nullptr));
  gst_object_ref_sink(pipeline.get());
  EXPECT_EQ(gst_element_set_state(pipeline.get(), GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  gst_element_set_state(pipeline.get(), GST_STATE_NULL);
}

}  // namespace
