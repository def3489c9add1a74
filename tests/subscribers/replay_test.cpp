// No event lost between a real pipeline and the real recorder (issue 13): a
// gst pipeline with eventpublish (in this process, so that its own `stats`
// count can be read), the vigil-recorder binary on the same TCP bus, its real
// SQLite file. Every case ends with the recorder holding, per run and topic,
// seq 1..N with no hole, and as many events as eventpublish says it published.
// Skipped when the plugin is not on GST_PLUGIN_PATH.
#include "harness.hpp"
#include "vigil/recorder/store.hpp"

#include <gst/gst.h>
#include <gtest/gtest.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <csignal>
#include <random>
#include <set>

namespace vigil::testing {
namespace {

using namespace std::chrono_literals;
constexpr auto kDeadline = 20s;
constexpr const char* kSource = "replay-cam";

bool pluginAvailable() {
  for (const char* name : {"facecount", "eventpublish"}) {
    GstElementFactory* factory = gst_element_factory_find(name);
    if (!factory) return false;
    gst_object_unref(factory);
  }
  return true;
}

std::string localEndpoint() { return "tcp://127.0.0.1:" + std::to_string(freeTcpPort()); }

// A live pipeline publishing faces (every frame) and status heartbeats.
class Pipeline {
 public:
  Pipeline(const std::string& endpoint, const std::string& snapshot_endpoint, const std::string& extra = "") {
    const std::string description =
        "videotestsrc is-live=true ! video/x-raw,width=160,height=120,framerate=50/1 ! "
        "facecount emit=every-frame ! eventpublish name=publish endpoint=" + endpoint +
        " snapshot-endpoint=" + snapshot_endpoint + " source-id=" + kSource +
        " heartbeat-interval=100 " + extra + " ! fakesink";
    GError* error = nullptr;
    pipeline_ = gst_parse_launch(description.c_str(), &error);
    if (error) {
      ADD_FAILURE() << error->message;
      g_error_free(error);
    }
  }
  ~Pipeline() {
    if (pipeline_) {
      gst_element_set_state(pipeline_, GST_STATE_NULL);
      gst_object_unref(pipeline_);
    }
  }
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  bool play() { return gst_element_set_state(pipeline_, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE; }

  // Ends the stream and stops: eventpublish sends `eos` and `stopped` last.
  bool stop() {
    gst_element_send_event(pipeline_, gst_event_new_eos());
    GstBus* bus = gst_element_get_bus(pipeline_);
    GstMessage* message = gst_bus_timed_pop_filtered(
        bus, GST_SECOND * 10, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
    const bool eos = message && GST_MESSAGE_TYPE(message) == GST_MESSAGE_EOS;
    if (message) gst_message_unref(message);
    gst_object_unref(bus);
    gst_element_set_state(pipeline_, GST_STATE_NULL);
    return eos;
  }

  // eventpublish's own count: events that took a seq (published or dropped).
  std::uint64_t published() const {
    GstElement* publish = gst_bin_get_by_name(GST_BIN(pipeline_), "publish");
    GstStructure* stats = nullptr;
    g_object_get(publish, "stats", &stats, nullptr);
    guint64 accepted = 0, dropped = 0;
    gst_structure_get_uint64(stats, "events-published", &accepted);
    gst_structure_get_uint64(stats, "events-dropped", &dropped);
    gst_structure_free(stats);
    gst_object_unref(publish);
    return accepted + dropped;
  }

 private:
  GstElement* pipeline_ = nullptr;
};

// What the recorder's database holds of kSource: seqs per (run, topic).
struct Held {
  std::map<std::pair<std::string, std::string>, std::vector<std::int64_t>> seqs;
  std::int64_t total = 0;

  // "topic run: N events, seq A..B" per run and topic, for failure messages.
  std::string describe() const {
    std::string text;
    for (const auto& [key, list] : seqs) {
      text += key.second + " " + key.first + ": " + std::to_string(list.size()) + " events, seq " +
              std::to_string(list.front()) + ".." + std::to_string(list.back()) + "\n";
    }
    return text;
  }

  // Every run's topic holds 1..N exactly once.
  ::testing::AssertionResult contiguous() const {
    for (const auto& [key, list] : seqs) {
      for (std::size_t i = 0; i < list.size(); ++i) {
        if (list[i] != static_cast<std::int64_t>(i) + 1) {
          return ::testing::AssertionFailure() << key.second << " run " << key.first << ": seq " << list[i]
                                               << " at position " << i + 1 << " of " << list.size();
        }
      }
    }
    return ::testing::AssertionSuccess();
  }
};

Held held(const std::string& db) {
  Held result;
  try {
    recorder::EventStore store(db, recorder::EventStore::Open::kExisting);
    recorder::EventFilter filter;
    filter.source = kSource;
    for (const auto& row : store.query(filter)) {
      result.seqs[{row.run, row.topic}].push_back(row.seq);
      ++result.total;
    }
  } catch (const std::exception&) {
    return {};  // not created yet
  }
  for (auto& [key, list] : result.seqs) std::sort(list.begin(), list.end());
  return result;
}

// The publisher's run and the newest seq of every topic, as its snapshot socket says.
struct Newest {
  std::string run;
  std::map<std::string, std::int64_t> seqs;
};

Newest newestSeqs(const std::string& snapshot) {
  Newest newest;
  zmq::context_t context;
  zmq::socket_t dealer(context, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.connect(snapshot);
  const std::string request = "SNAPSHOT";
  const std::string prefix = "vigil/";
  if (!zmq::send_multipart(dealer, std::vector<zmq::const_buffer>{zmq::buffer(request), zmq::buffer(prefix)})) {
    return newest;
  }
  zmq::pollitem_t item{dealer.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, std::chrono::duration_cast<std::chrono::milliseconds>(kDeadline)) != 1) return newest;
  std::vector<zmq::message_t> reply;
  if (!zmq::recv_multipart(dealer, std::back_inserter(reply))) return newest;
  for (std::size_t i = 1; i + 1 < reply.size(); i += 2) {
    const auto decoded = events::decode(reply[i].to_string_view(), reply[i + 1].data(), reply[i + 1].size());
    if (!decoded.event) continue;
    newest.run = decoded.event->header.run;
    newest.seqs[decoded.event->topic] = static_cast<std::int64_t>(decoded.event->header.seq);
  }
  return newest;
}

// Every topic of the publisher's run holds seq 1..newest.
bool holdsThrough(const Held& now, const Newest& newest) {
  for (const auto& [topic, last] : newest.seqs) {
    const auto found = now.seqs.find({newest.run, topic});
    if (found == now.seqs.end() || static_cast<std::int64_t>(found->second.size()) < last ||
        found->second[static_cast<std::size_t>(last) - 1] != last) {
      return false;
    }
  }
  return true;
}

class ReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!pluginAvailable()) GTEST_SKIP() << "facecount/eventpublish not on GST_PLUGIN_PATH";
  }

  std::unique_ptr<ChildProcess> startRecorder(const std::vector<std::string>& endpoints) {
    std::vector<std::string> argv{builtBinary("subscribers/recorder/vigil-recorder"), "--db", db_,
                                  "--snapshot", snapshot_, "--flush-interval", "20ms"};
    for (const auto& endpoint : endpoints) {
      argv.push_back("--connect");
      argv.push_back(endpoint);
    }
    // Fresh log files per start, so that a restart is not satisfied by old lines.
    const std::string name = "recorder-" + std::to_string(++starts_);
    auto recorder = std::make_unique<ChildProcess>(argv, dir_.file(name + ".out"), dir_.file(name + ".err"));
    EXPECT_TRUE(pollUntil([&] { return recorder->err().find("recording tcp://") != std::string::npos; }, kDeadline))
        << recorder->err();
    return recorder;
  }

  // Waits until the recorder holds everything the running pipeline sent so
  // far: stopping the pipeline ends its history, so a recorder still
  // catching up then would lose what it had not fetched yet.
  // The recorder must be live too (subscribed, not only caught up by its
  // first request): it holds faces events published after this call began.
  void waitCaughtUp(ChildProcess& recorder) {
    constexpr std::int64_t kLive = 10;  // 0.2 s of faces
    Newest newest = newestSeqs(snapshot_);
    ASSERT_FALSE(newest.seqs.empty());
    const std::string faces = events::topicFor("faces", kSource);
    newest.seqs[faces] += kLive;
    ASSERT_TRUE(pollUntil([&] { return holdsThrough(held(db_), newest); }, kDeadline))
        << held(db_).describe() << recorder.err();
  }

  // Waits until the database holds `published` events of kSource, then checks them.
  void expectEverything(std::uint64_t published, ChildProcess& recorder) {
    ASSERT_TRUE(pollUntil([&] { return held(db_).total >= static_cast<std::int64_t>(published); }, kDeadline))
        << "held " << held(db_).total << " of " << published << "\n" << held(db_).describe() << recorder.err();
    const Held now = held(db_);
    EXPECT_EQ(now.total, static_cast<std::int64_t>(published)) << "no more, no fewer than eventpublish counted";
    EXPECT_TRUE(now.contiguous());
  }

  TempDir dir_;
  std::string db_ = dir_.file("events.db");
  std::string endpoint_ = localEndpoint();
  std::string snapshot_ = localEndpoint();
  int starts_ = 0;
};

TEST_F(ReplayTest, RecorderStartedBeforeThePipelineKeepsItsFirstEvents) {
  auto recorder = startRecorder({endpoint_});
  Pipeline pipeline(endpoint_, snapshot_);
  ASSERT_TRUE(pipeline.play());
  // Let it run for a few heartbeats: the recorder joins while it publishes.
  ASSERT_TRUE(pollUntil([&] { return held(db_).total >= 50; }, kDeadline)) << recorder->err();
  waitCaughtUp(*recorder);
  ASSERT_TRUE(pipeline.stop());
  expectEverything(pipeline.published(), *recorder);
  // The very first event of each topic is there.
  const Held now = held(db_);
  EXPECT_EQ(now.seqs.size(), 2u) << "faces and status, one run";
  for (const auto& [key, list] : now.seqs) EXPECT_EQ(list.front(), 1) << key.second;
  recorder->signal(SIGTERM);
  EXPECT_EQ(recorder->wait(kDeadline), 0) << recorder->err();
}

TEST_F(ReplayTest, RecorderKilledTenTimesDuringOneRunLosesNothing) {
  constexpr int kKills = 10;
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 random(seed);
  std::uniform_int_distribution<std::int64_t> grow(1, 40);

  auto recorder = startRecorder({endpoint_});
  std::string logs;  // of every recorder started
  Pipeline pipeline(endpoint_, snapshot_);
  ASSERT_TRUE(pipeline.play());
  for (int kill = 0; kill < kKills; ++kill) {
    // A random moment: once the database grew by a random number of events.
    const std::int64_t target = held(db_).total + grow(random);
    ASSERT_TRUE(pollUntil([&] { return held(db_).total >= target; }, kDeadline)) << recorder->err();
    recorder->signal(SIGKILL);
    ASSERT_EQ(recorder->wait(kDeadline), 128 + SIGKILL);
    logs += recorder->err();
    recorder = startRecorder({endpoint_});
  }
  // Caught up with what was published so far before the stream ends, so
  // that the run's last events reach a recorder that is up.
  waitCaughtUp(*recorder);
  ASSERT_TRUE(pipeline.stop());
  expectEverything(pipeline.published(), *recorder);
  logs += recorder->err();
  EXPECT_NE(logs.find("recovered from the publisher's history"), std::string::npos) << logs;

  const auto [status, report] = runCommand({builtBinary("subscribers/recorder/vigil-recorder"), "query", "--db", db_,
                                            "--report", "topics", "--format", "csv"});
  EXPECT_EQ(status, 0) << report;
  EXPECT_NE(report.find("recovered"), std::string::npos) << report;
  recorder::EventStore store(db_, recorder::EventStore::Open::kExisting);
  for (const auto& topic : store.topics()) EXPECT_EQ(topic.missed, 0) << topic.topic;
}

TEST_F(ReplayTest, PipelineRestartIsANewRunRecordedWhole) {
  auto recorder = startRecorder({endpoint_});
  std::uint64_t published = 0;
  std::set<std::string> runs;
  for (int start = 0; start < 2; ++start) {
    Pipeline pipeline(endpoint_, snapshot_);
    ASSERT_TRUE(pipeline.play());
    const std::int64_t before = held(db_).total;
    ASSERT_TRUE(pollUntil([&] { return held(db_).total >= before + 30; }, kDeadline)) << recorder->err();
    waitCaughtUp(*recorder);
    ASSERT_TRUE(pipeline.stop());
    published += pipeline.published();
    // The old publisher is gone once stopped: its last events must be in first.
    ASSERT_TRUE(pollUntil([&] { return held(db_).total >= static_cast<std::int64_t>(published); }, kDeadline))
        << recorder->err();
  }
  expectEverything(published, *recorder);
  for (const auto& [key, list] : held(db_).seqs) runs.insert(key.first);
  EXPECT_EQ(runs.size(), 2u);
  recorder::EventStore store(db_, recorder::EventStore::Open::kExisting);
  for (const auto& topic : store.topics()) {
    EXPECT_EQ(topic.restarts, 1) << topic.topic;
    EXPECT_EQ(topic.missed, 0) << topic.topic;
  }
}

TEST_F(ReplayTest, ForgedHighSeqIsRefusedAndLaterEventsAreKept) {
  // The forger is a second publisher the recorder listens to.
  zmq::context_t context;
  zmq::socket_t forger(context, zmq::socket_type::pub);
  forger.set(zmq::sockopt::linger, 0);
  forger.bind("tcp://127.0.0.1:*");
  const std::string forger_endpoint = forger.get(zmq::sockopt::last_endpoint);
  auto recorder = startRecorder({endpoint_, forger_endpoint});
  Pipeline pipeline(endpoint_, snapshot_);
  ASSERT_TRUE(pipeline.play());
  ASSERT_TRUE(pollUntil([&] { return held(db_).total >= 10; }, kDeadline)) << recorder->err();
  const std::string run = held(db_).seqs.begin()->first.first;

  // The real run id, the highest seq there is: sent until the recorder says it refused it.
  events::Header header;
  header.kind = "faces";
  header.source = kSource;
  header.run = run;
  header.seq = static_cast<std::uint64_t>(INT64_MAX);
  header.ts_ns = events::wallClockNowNs();
  const std::string topic = events::topicFor("faces", kSource);
  events::Body body;
  body.set("count", std::int64_t{7});
  const std::string forged = events::encode(header, body);
  const std::string refused = "refused an event claiming run " + run + " seq " + std::to_string(INT64_MAX);
  ASSERT_TRUE(pollUntil([&] { return recorder->err().find(refused) != std::string::npos; }, kDeadline, [&] {
    forger.send(zmq::buffer(topic), zmq::send_flags::sndmore);
    forger.send(zmq::buffer(forged));
  })) << recorder->err();
  const std::int64_t at_forgery = held(db_).total;
  ASSERT_TRUE(pollUntil([&] { return held(db_).total >= at_forgery + 30; }, kDeadline))
      << "events after the forgery are stored\n" << recorder->err();
  waitCaughtUp(*recorder);
  ASSERT_TRUE(pipeline.stop());
  expectEverything(pipeline.published(), *recorder);
  for (const auto& [key, list] : held(db_).seqs) EXPECT_LT(list.back(), INT64_MAX) << key.second;
}

TEST_F(ReplayTest, BeyondTheHistoryTheLossIsCountedExactly) {
  // A history of 1 s: a recorder down for longer loses the rest. (Started
  // first, it joins well within that second: nothing is lost at the start.)
  auto recorder = startRecorder({endpoint_});
  Pipeline pipeline(endpoint_, snapshot_, "history=1000");
  ASSERT_TRUE(pipeline.play());
  ASSERT_TRUE(pollUntil([&] { return held(db_).total >= 20; }, kDeadline)) << recorder->err();
  recorder->signal(SIGKILL);
  ASSERT_EQ(recorder->wait(kDeadline), 128 + SIGKILL);
  // Down while 150 more events are published: more than 2 s at 50 faces and
  // 10 heartbeats a second, so that the oldest of them left the history.
  const std::uint64_t at_kill = pipeline.published();
  ASSERT_TRUE(pollUntil([&] { return pipeline.published() >= at_kill + 150; }, kDeadline));
  recorder = startRecorder({endpoint_});
  const std::int64_t after_restart = held(db_).total;
  ASSERT_TRUE(pollUntil([&] { return held(db_).total >= after_restart + 20; }, kDeadline)) << recorder->err();
  ASSERT_TRUE(pollUntil([&] {
    const Newest newest = newestSeqs(snapshot_);
    const Held now = held(db_);
    for (const auto& [topic, last] : newest.seqs) {
      const auto found = now.seqs.find({newest.run, topic});
      if (found == now.seqs.end() || found->second.back() < last) return false;
    }
    return !newest.seqs.empty();
  }, kDeadline)) << "the recorder reached the newest events" << recorder->err();
  ASSERT_TRUE(pipeline.stop());
  const std::uint64_t published = pipeline.published();
  // The last event of every topic is always kept, so it arrives: then the
  // stored and the missed add up to eventpublish's count exactly.
  std::int64_t missed = 0;
  ASSERT_TRUE(pollUntil([&] {
    try {
      recorder::EventStore store(db_, recorder::EventStore::Open::kExisting);
      missed = 0;
      for (const auto& topic : store.topics()) {
        if (topic.topic.find(kSource) != std::string::npos) missed += topic.missed;
      }
    } catch (const std::exception&) {
      return false;
    }
    return held(db_).total + missed == static_cast<std::int64_t>(published);
  }, kDeadline)) << "held " << held(db_).total << " + missed " << missed << " != " << published << "\n"
                 << held(db_).describe() << recorder->err();
  EXPECT_GT(missed, 0) << "the recorder was down for longer than the history";
  EXPECT_NE(recorder->err().find("the publisher did not replay them"), std::string::npos) << recorder->err();
  const auto [status, report] = runCommand({builtBinary("subscribers/recorder/vigil-recorder"), "query", "--db", db_,
                                            "--report", "topics"});
  EXPECT_EQ(status, 0) << report;
  EXPECT_NE(report.find("\"missed\":"), std::string::npos) << report;
}

}  // namespace
}  // namespace vigil::testing
