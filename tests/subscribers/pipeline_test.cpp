// Events published by a real pipeline (videotestsrc ! facecount !
// eventpublish in gst-launch-1.0) reach vigil-recorder and vigil-notifier.
// Skipped when the plugin is not on GST_PLUGIN_PATH.
#include "harness.hpp"
#include "http_fakes.hpp"
#include "vigil/recorder/store.hpp"

#include <gst/gst.h>
#include <gtest/gtest.h>

#include <csignal>

namespace vigil::testing {
namespace {

using namespace std::chrono_literals;
constexpr auto kDeadline = 20s;

bool elementAvailable(const char* name) {
  GstElementFactory* factory = gst_element_factory_find(name);
  if (!factory) return false;
  gst_object_unref(factory);
  return true;
}

std::int64_t countEvents(const std::string& db, const std::string& source, const std::string& kind) {
  try {
    recorder::EventStore store(db, recorder::EventStore::Open::kExisting);
    recorder::EventFilter filter;
    filter.source = source;
    filter.kind = kind;
    return store.total(filter);
  } catch (const std::exception&) {
    return -1;
  }
}

TEST(SubscribersWithRealPipeline, RecorderAndNotifierSeeFacecountEvents) {
  if (!elementAvailable("facecount") || !elementAvailable("eventpublish")) {
    GTEST_SKIP() << "facecount/eventpublish not on GST_PLUGIN_PATH";
  }
  TempDir dir;
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(freeTcpPort());
  const std::string db = dir.file("events.db");
  WebhookReceiver hook;
  writeFile(dir.file("rules.yaml"),
            "sinks:\n  hook: {type: webhook, url: '" + hook.url() + "'}\n"
            // Sources seen on the bus only: a named source would (rightly) alert
            // while gst-launch is still starting on a loaded machine.
            "rules:\n  - {name: pipe-down, type: source-down, source: '*', hold: 500ms}\n");
  // Both connect first; ZeroMQ keeps retrying until the pipeline binds.
  ChildProcess recorder({builtBinary("subscribers/recorder/vigil-recorder"), "--connect", endpoint, "--db", db,
                         "--flush-interval", "20ms"}, dir.file("rec.out"), dir.file("rec.err"));
  ChildProcess notifier({builtBinary("subscribers/notifier/vigil-notifier"), "--connect", endpoint, "--rules",
                         dir.file("rules.yaml")}, dir.file("not.out"), dir.file("not.err"));
  ASSERT_TRUE(pollUntil([&] { return notifier.err().find("watching tcp://") != std::string::npos &&
                                     recorder.err().find("recording tcp://") != std::string::npos; }, kDeadline));
  // A live 25 fps source for 3 s: the subscribers connect within its first frames.
  ChildProcess pipeline({"/usr/bin/gst-launch-1.0", "-q", "videotestsrc", "is-live=true", "num-buffers=75", "!",
                         "video/x-raw,width=320,height=240,framerate=25/1", "!", "facecount", "emit=every-frame",
                         "zones=queue-1=0,0 1,0 1,1 0,1", "!", "eventpublish", "endpoint=" + endpoint,
                         "source-id=pipe-cam", "!", "fakesink"},
                        dir.file("gst.out"), dir.file("gst.err"));
  EXPECT_EQ(pipeline.wait(kDeadline), 0) << pipeline.err();
  ASSERT_TRUE(pollUntil([&] { return countEvents(db, "pipe-cam", "faces") > 0 && countEvents(db, "pipe-cam", "status") > 0; },
                        kDeadline)) << recorder.err();
  // No faces in a test pattern: the negative case, counted 0 in the zone.
  recorder::EventStore store(db, recorder::EventStore::Open::kExisting);
  recorder::EventFilter with_faces;
  with_faces.source = "pipe-cam";
  with_faces.kind = "faces";
  with_faces.min_count = 1;
  EXPECT_EQ(store.total(with_faces), 0);
  const auto zones = store.zoneAggregates({}, 300'000'000'000);
  ASSERT_FALSE(zones.empty());
  EXPECT_EQ(zones[0].zone, "queue-1");
  EXPECT_EQ(zones[0].max, 0);
  // The pipeline ended: no longer playing, so the source-down rule fires.
  ASSERT_TRUE(pollUntil([&] { return hook.count("alert") == 1; }, kDeadline)) << notifier.err();
  EXPECT_EQ(hook.posts()[0].body["source"], "pipe-cam");
  recorder.signal(SIGTERM);
  notifier.signal(SIGTERM);
  EXPECT_EQ(recorder.wait(kDeadline), 0);
  EXPECT_EQ(notifier.wait(kDeadline), 0);
  EXPECT_EQ(hook.count("clear"), 1u) << "the open alert is closed on shutdown";
}

}  // namespace
}  // namespace vigil::testing
