// Acceptance test of the analytics registry and the analyser base: a toy
// analytic (a motion counter) that exists only in this test is added by
// touching its row, its element, its detector and this test, nothing else.
// The real config loader accepts it, the real runner builds and runs it, the
// real plugin's eventpublish publishes it, a real subscriber receives it, and
// the notifier accepts count rules on its kind.
#include "bus_listener.hpp"
#include "config.hpp"
#include "runner.hpp"
#include "toy/motion_counter.hpp"
#include "toy/motioncount.hpp"
#include "vigil/events/keys.hpp"
#include "vigil/gst/analyser.hpp"
#include "vigil/gst/meta.hpp"
#include "vigil/gst/ptr.hpp"
#include "vigil/notifier/config.hpp"

#include <gst/check/gstharness.h>
#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include <future>
#include <thread>

namespace {

using vigil::toy::kMotion;

cv::Mat squareAt(int x) {
  cv::Mat grey(120, 160, CV_8UC1, cv::Scalar(20));
  cv::rectangle(grey, cv::Rect(x, 40, 20, 20), cv::Scalar(230), cv::FILLED);
  return grey;
}

TEST(ToyMotionCounter, StillFramesHaveNoMotion) {
  vigil::toy::MotionCounter counter(25);
  EXPECT_TRUE(counter.update(squareAt(30)).empty()) << "the first frame has nothing to compare with";
  EXPECT_TRUE(counter.update(squareAt(30)).empty());
  EXPECT_TRUE(counter.update(squareAt(30)).empty());
}

TEST(ToyMotionCounter, AMovingSquareShowsWhereItWasAndWhereItIs) {
  vigil::toy::MotionCounter counter(25);
  counter.update(squareAt(30));
  const auto boxes = counter.update(squareAt(70));
  ASSERT_EQ(boxes.size(), 2u) << "where the square was and where it is now";
  for (const cv::Rect& box : boxes) {
    EXPECT_EQ(box.y, 40);
    EXPECT_EQ(box.height, 20);
  }
  vigil::toy::MotionCounter strict(1000);
  strict.update(squareAt(30));
  EXPECT_TRUE(strict.update(squareAt(70)).empty()) << "regions below min-area are not counted";
}

// Frames of GRAY8 160x120 into the element; returns the analysis summaries'
// counts per output buffer (-1: no summary on that buffer).
std::vector<int> runHarness(const std::vector<int>& square_x, guint interval) {
  vigil::toy::registerMotionAnalytic();
  GstHarness* harness = gst_harness_new(kMotion.element);
  g_object_set(harness->element, "interval", interval, nullptr);
  gst_harness_set_src_caps_str(harness, "video/x-raw,format=GRAY8,width=160,height=120,framerate=10/1");
  std::vector<int> counts;
  for (int x : square_x) {
    const cv::Mat frame = squareAt(x);  // 160 is a multiple of 4: no row padding
    GstBuffer* buffer = gst_buffer_new_memdup(frame.data, frame.total());
    GstBuffer* out = gst_harness_push_and_pull(harness, buffer);
    int count = -1;
    for (GstStructure* summary : vigil::gst::analyses(out)) {
      EXPECT_STREQ(vigil::gst::analysisKind(summary), kMotion.event_kind);
      gst_structure_get_int(summary, vigil::events::key::detections::kCount, &count);
    }
    int regions = 0;
    for (GstVideoRegionOfInterestMeta* roi : vigil::gst::regionsOfInterest(out)) {
      EXPECT_STREQ(g_quark_to_string(roi->roi_type), kMotion.roi_type);
      ++regions;
    }
    if (count >= 0) {
      EXPECT_EQ(regions, count);
    }
    counts.push_back(count);
    gst_buffer_unref(out);
  }
  gst_harness_teardown(harness);
  return counts;
}

TEST(ToyMotionElement, CountsMovingRegionsOnEveryFrame) {
  EXPECT_EQ(runHarness({30, 30, 70, 70}, 1), (std::vector<int>{0, 0, 2, 0}));
}

TEST(ToyMotionElement, TheBaseAnalysesEveryIntervalthFrameOnly) {
  // Frames 1 and 4 are analysed; frame 4 compares with frame 1.
  EXPECT_EQ(runHarness({30, 50, 60, 70, 70}, 3), (std::vector<int>{0, -1, -1, 2, -1}));
}

TEST(ToyAnalytic, TheRunnerRunsItFromAConfigAndItsEventsReachTheBus) {
  vigil::toy::registerMotionAnalytic();
  vigil::pipeline::ensurePluginLoaded();
  const std::string yaml =
      "bus: {endpoint: \"tcp://127.0.0.1:*\", heartbeat: 0s}\n"
      "sources:\n"
      "  - id: toy-cam\n"
      "    uri: testsrc://ball?width=320&height=240&fps=30\n"
      "    analytics:\n"
      "      - motion: {min_area: 10}\n";
  vigil::pipeline::Config config =
      vigil::pipeline::parseConfig(yaml, "toy.yaml", &vigil::pipeline::validateAnalyticOption);
  ASSERT_EQ(config.sources.at(0).analytics.at(0).element, kMotion.element);

  vigil::pipeline::Runner runner(std::move(config));
  std::promise<std::string> endpoint;
  auto bound = endpoint.get_future();
  std::thread thread([&] {
    vigil::pipeline::RunOptions options;
    options.on_started = [&](const std::vector<std::string>& endpoints) { endpoint.set_value(endpoints.at(0)); };
    runner.run(options);
  });
  vigil::testing::BusListener listener(bound.get(), "vigil/motion/");
  const auto moving = listener.waitFor([](const vigil::events::Event& event) {
    return event.getInt(vigil::events::key::detections::kCount).value_or(0) > 0;
  });
  runner.requestStop();
  thread.join();
  ASSERT_TRUE(moving) << "no motion event with a count on the bus";
  EXPECT_EQ(moving->topic, "vigil/motion/toy-cam");
  EXPECT_EQ(moving->header.kind, kMotion.event_kind);
  const msgpack::object* objects = moving->find(vigil::events::key::detections::kObjects);
  ASSERT_NE(objects, nullptr);
  ASSERT_EQ(objects->type, msgpack::type::ARRAY);
  EXPECT_EQ(static_cast<std::int64_t>(objects->via.array.size), *moving->getInt(vigil::events::key::detections::kCount));
}

// The plugin links its own copy of vigil::gst: its analysers and this test's
// toy must derive from one VigilAnalyser type, registered once, without a
// GLib warning (which the test main turns into a failure).
TEST(ToyAnalytic, SharesTheAnalyserBaseWithThePluginsElements) {
  vigil::toy::registerMotionAnalytic();
  vigil::pipeline::ensurePluginLoaded();
  auto reader = vigil::gst::adoptFloating(gst_element_factory_make("codereader", nullptr));
  auto toy = vigil::gst::adoptFloating(gst_element_factory_make(kMotion.element, nullptr));
  ASSERT_TRUE(reader && toy);
  EXPECT_TRUE(g_type_is_a(G_OBJECT_TYPE(reader.get()), VIGIL_TYPE_ANALYSER));
  EXPECT_TRUE(g_type_is_a(G_OBJECT_TYPE(toy.get()), VIGIL_TYPE_ANALYSER));
  EXPECT_EQ(g_type_parent(G_OBJECT_TYPE(reader.get())), g_type_parent(G_OBJECT_TYPE(toy.get())));
  guint interval = 0;
  g_object_set(reader.get(), "interval", 7u, nullptr);
  g_object_get(reader.get(), "interval", &interval, nullptr);
  EXPECT_EQ(interval, 7u) << "the base's property, on the plugin's element";
}

TEST(ToyAnalytic, TheConfigLoaderAndTheNotifierKnowItsNames) {
  vigil::toy::registerMotionAnalytic();
  EXPECT_EQ(vigil::pipeline::elementForAnalytic("motion"), "motioncount");
  try {
    vigil::pipeline::parseConfig("sources:\n  - {id: a, uri: \"testsrc://ball\", analytics: [motions]}\n", "t.yaml");
    ADD_FAILURE() << "an unknown analytic was accepted";
  } catch (const vigil::pipeline::ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("expected faces, plates, codes or motion"), std::string::npos)
        << error.what();
  }
  const auto rules = vigil::notifier::parseConfig(
      "sinks:\n  console: {type: log}\nrules:\n  - {name: busy, type: count, kind: motion, alert_at: 3}\n",
      "rules.yaml");
  ASSERT_EQ(rules.rules.size(), 1u);
  EXPECT_EQ(rules.rules[0].kind, kMotion.event_kind);
}

}  // namespace
