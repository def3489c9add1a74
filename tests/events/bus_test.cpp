// Both ends of the event bus over real loopback sockets. Raw ZeroMQ sockets
// stand in for a hostile or buggy peer. No sleeps: every wait is a poll with a
// deadline, and the slow-joiner problem is handled by publishing until the
// subscriber has received something.
#include "vigil/events/publisher.hpp"
#include "vigil/events/subscriber.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace vigil::events {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kAnyLocalPort = "tcp://127.0.0.1:*";
constexpr auto kDeadline = std::chrono::seconds(10);
constexpr milliseconds kPoll{20};
constexpr const char* kWarmupSource = "warmup";

Header headerFor(std::string_view kind, std::string_view source) {
  Header header;
  header.kind = std::string(kind);
  header.source = std::string(source);
  header.ts_ns = wallClockNowNs();
  header.width = 640;
  header.height = 480;
  return header;
}

SubscriberOptions subscriberTo(const std::string& endpoint, const std::string& prefix = "vigil/") {
  SubscriberOptions options;
  options.endpoints = {endpoint};
  options.topic_prefixes = {prefix};
  // Quick reconnects keep the restart test short.
  options.reconnect_interval = milliseconds(10);
  options.reconnect_interval_max = milliseconds(100);
  return options;
}

std::shared_ptr<Publisher> localPublisher(std::size_t queue_capacity = PublisherOptions{}.queue_capacity) {
  PublisherOptions options;
  options.endpoint = kAnyLocalPort;
  options.queue_capacity = queue_capacity;
  return Publisher::acquire(options);
}

// Next event on `topic` within the deadline, skipping others (e.g. late warm-ups).
std::optional<Received> nextOn(Subscriber& subscriber, const std::string& topic,
                               Clock::duration timeout = kDeadline) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    auto received = subscriber.next(kPoll);
    if (received && received->event.topic == topic) return received;
  }
  return std::nullopt;
}

// Slow-joiner handshake: publish on a warm-up topic until one arrives, so the
// subscription is known to be in place before the real check starts.
::testing::AssertionResult handshake(Publisher& publisher, Subscriber& subscriber,
                                     std::string_view kind = kind::kStatus) {
  const auto deadline = Clock::now() + kDeadline;
  while (Clock::now() < deadline) {
    publisher.publish(headerFor(kind, kWarmupSource), Body().set("state", "starting"));
    if (auto received = subscriber.next(kPoll); received && received->event.header.source == kWarmupSource) {
      return ::testing::AssertionSuccess();
    }
  }
  return ::testing::AssertionFailure() << "no warm-up event reached the subscriber";
}

// A PUB socket that sends whatever bytes a test crafts.
class RawPublisher {
 public:
  RawPublisher() {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.bind(kAnyLocalPort);
    endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
  }
  const std::string& endpoint() const { return endpoint_; }

  void send(const std::vector<std::string>& frames) {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      const auto flags = i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
      ASSERT_TRUE(socket_.send(zmq::buffer(frames[i]), flags).has_value());
    }
  }

  // A well-formed event with the run and seq a test chooses.
  void sendEvent(std::string_view kind, std::string_view source, std::uint64_t seq,
                 const std::string& run = "feedfacecafe0001") {
    Header header = headerFor(kind, source);
    header.run = run;
    header.seq = seq;
    send({topicFor(kind, source), encode(header, Body().set("count", 1))});
  }

  ::testing::AssertionResult handshake(Subscriber& subscriber) {
    const auto deadline = Clock::now() + kDeadline;
    for (std::uint64_t seq = 1; Clock::now() < deadline; ++seq) {
      sendEvent(kind::kStatus, kWarmupSource, seq);
      if (auto received = subscriber.next(kPoll); received && received->event.header.source == kWarmupSource) {
        return ::testing::AssertionSuccess();
      }
    }
    return ::testing::AssertionFailure() << "no warm-up event reached the subscriber";
  }

 private:
  zmq::context_t context_{1};
  zmq::socket_t socket_{context_, zmq::socket_type::pub};
  std::string endpoint_;
};

TEST(Bus, EventsArriveWithSeqFromOnePerTopic) {
  constexpr std::uint64_t kPerTopic = 200;
  auto publisher = localPublisher();
  Subscriber subscriber(subscriberTo(publisher->boundEndpoint()));
  ASSERT_TRUE(handshake(*publisher, subscriber));

  const std::vector<std::string> topics = {topicFor("faces", "cam-a"), topicFor("codes", "cam-b")};
  for (std::uint64_t i = 0; i < kPerTopic; ++i) {
    ASSERT_TRUE(publisher->publish(headerFor("faces", "cam-a"), Body().set("count", 1)));
    ASSERT_TRUE(publisher->publish(headerFor("codes", "cam-b"), Body().set("count", 0)));
  }
  std::map<std::string, std::uint64_t> next_seq = {{topics[0], 1}, {topics[1], 1}};
  const auto deadline = Clock::now() + kDeadline;
  while ((next_seq[topics[0]] <= kPerTopic || next_seq[topics[1]] <= kPerTopic) && Clock::now() < deadline) {
    auto received = subscriber.next(kPoll);
    if (!received || received->event.header.source == kWarmupSource) continue;
    const Event& event = received->event;
    ASSERT_EQ(event.header.seq, next_seq[event.topic]++) << event.topic;
    EXPECT_EQ(event.header.run, publisher->runId());
    EXPECT_EQ(received->missed_before, 0u);
    EXPECT_FALSE(received->publisher_restarted);
    EXPECT_FALSE(received->from_snapshot);
  }
  for (const auto& topic : topics) {
    const TopicState& state = subscriber.topics().at(topic);
    EXPECT_EQ(state.received, kPerTopic) << topic;
    EXPECT_EQ(state.last_seq, kPerTopic) << topic;
    EXPECT_EQ(state.gaps, 0u) << topic;
    EXPECT_EQ(state.missed, 0u) << topic;
    EXPECT_EQ(state.restarts, 0u) << topic;
  }
  EXPECT_EQ(subscriber.stats().missed, 0u);
  EXPECT_EQ(subscriber.stats().malformed, 0u);
  ASSERT_TRUE(publisher->flush(kDeadline));
  EXPECT_EQ(publisher->stats().dropped, 0u);
  EXPECT_EQ(publisher->stats().sent, publisher->stats().published);
}

TEST(Bus, AcquireSharesOnePublisherPerEndpoint) {
  auto first = localPublisher();
  auto by_bound = Publisher::acquire(PublisherOptions{first->boundEndpoint(), "", 10000, 8192});
  auto by_requested = localPublisher();
  EXPECT_EQ(first.get(), by_bound.get()) << "same resolved endpoint";
  EXPECT_EQ(first.get(), by_requested.get()) << "same requested endpoint";
  EXPECT_EQ(first->requestedEndpoint(), kAnyLocalPort);
  EXPECT_NE(first->boundEndpoint().find("tcp://127.0.0.1:"), std::string::npos) << first->boundEndpoint();
  EXPECT_EQ(first->boundEndpoint().find('*'), std::string::npos) << "the port is resolved";

  // One sequence per topic, whoever publishes through the shared object.
  Subscriber subscriber(subscriberTo(first->boundEndpoint()));
  ASSERT_TRUE(handshake(*first, subscriber));
  first->publish(headerFor("faces", "shared"), Body());
  by_bound->publish(headerFor("faces", "shared"), Body());
  for (std::uint64_t seq : {1u, 2u}) {
    auto received = nextOn(subscriber, topicFor("faces", "shared"));
    ASSERT_TRUE(received);
    EXPECT_EQ(received->event.header.seq, seq);
  }

  // A different endpoint is a different publisher.
  const std::string ipc = "ipc:///tmp/vigil-events-test-" + std::to_string(::getpid());
  auto other = Publisher::acquire(PublisherOptions{ipc, "", 10000, 8192});
  EXPECT_NE(other.get(), first.get());
  EXPECT_NE(other->runId(), first->runId());

  // When the last user lets go, the endpoint is free for a new publisher.
  const std::string endpoint = first->boundEndpoint();
  const std::string run = first->runId();
  first.reset();
  by_bound.reset();
  by_requested.reset();
  auto again = Publisher::acquire(PublisherOptions{endpoint, "", 10000, 8192});
  EXPECT_NE(again->runId(), run);
  EXPECT_EQ(again->boundEndpoint(), endpoint);
}

TEST(Bus, AcquireReportsAnEndpointInUse) {
  RawPublisher squatter;
  try {
    Publisher::acquire(PublisherOptions{squatter.endpoint(), "", 10000, 8192});
    FAIL() << "binding a taken port must fail";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find(squatter.endpoint()), std::string::npos) << error.what();
  }
  EXPECT_THROW(Publisher::acquire(PublisherOptions{"bogus://nowhere", "", 10000, 8192}), std::runtime_error);
  EXPECT_THROW(Subscriber(subscriberTo("bogus://nowhere")), std::runtime_error);
}

TEST(Bus, PublisherRestartIsARestartNotAGap) {
  const std::string topic = topicFor("faces", "cam-r");
  auto first = localPublisher();
  const std::string endpoint = first->boundEndpoint();
  const std::string first_run = first->runId();
  Subscriber subscriber(subscriberTo(endpoint));
  ASSERT_TRUE(handshake(*first, subscriber));
  for (int i = 0; i < 3; ++i) first->publish(headerFor("faces", "cam-r"), Body());
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    auto received = nextOn(subscriber, topic);
    ASSERT_TRUE(received);
    EXPECT_EQ(received->event.header.seq, seq);
  }

  first.reset();  // the pipeline process stops ...
  auto second = Publisher::acquire(PublisherOptions{endpoint, "", 10000, 8192});  // ... and starts again
  ASSERT_NE(second->runId(), first_run);
  ASSERT_TRUE(handshake(*second, subscriber)) << "the subscriber reconnects by itself";
  second->publish(headerFor("faces", "cam-r"), Body());
  auto received = nextOn(subscriber, topic);
  ASSERT_TRUE(received);
  EXPECT_EQ(received->event.header.run, second->runId());
  EXPECT_EQ(received->event.header.seq, 1u) << "seq starts again with the run";
  EXPECT_TRUE(received->publisher_restarted);
  EXPECT_EQ(received->missed_before, 0u);
  const TopicState& state = subscriber.topics().at(topic);
  EXPECT_EQ(state.run, second->runId());
  EXPECT_EQ(state.restarts, 1u);
  EXPECT_EQ(state.gaps, 0u);
  EXPECT_EQ(state.missed, 0u);
  EXPECT_EQ(state.received, 4u);
}

TEST(Bus, SeqJumpIsCountedAsAnExactGap) {
  RawPublisher raw;
  Subscriber subscriber(subscriberTo(raw.endpoint()));
  ASSERT_TRUE(raw.handshake(subscriber));
  const std::string topic = topicFor("faces", "gappy");
  // 3-4 and 7-8 never sent; 6 sent twice; 10 follows 9.
  for (std::uint64_t seq : {1, 2, 5, 6, 6, 9, 10}) raw.sendEvent("faces", "gappy", seq);

  std::vector<std::uint64_t> seqs;
  std::vector<std::uint64_t> missed_before;
  while (seqs.size() < 6) {
    auto received = nextOn(subscriber, topic);
    ASSERT_TRUE(received) << "after " << seqs.size() << " events";
    seqs.push_back(received->event.header.seq);
    missed_before.push_back(received->missed_before);
  }
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{1, 2, 5, 6, 9, 10})) << "the duplicate 6 is not handed out";
  EXPECT_EQ(missed_before, (std::vector<std::uint64_t>{0, 0, 2, 0, 2, 0}));
  const TopicState& state = subscriber.topics().at(topic);
  EXPECT_EQ(state.missed, 4u);
  EXPECT_EQ(state.gaps, 2u);
  EXPECT_EQ(state.received, 6u);
  EXPECT_EQ(state.restarts, 0u);
  EXPECT_EQ(subscriber.stats().stale, 1u);
  EXPECT_EQ(subscriber.stats().missed, 4u);
  EXPECT_EQ(subscriber.stats().gaps, 2u);
}

// A hostile seq (up to INT64_MAX) in run after run cannot wrap the counters.
TEST(Bus, LossCountersSaturateInsteadOfWrapping) {
  RawPublisher raw;
  Subscriber subscriber(subscriberTo(raw.endpoint()));
  ASSERT_TRUE(raw.handshake(subscriber));
  const std::string topic = topicFor("faces", "huge-gaps");
  constexpr auto kMaxSeq = static_cast<std::uint64_t>(INT64_MAX);
  // With nobody to confirm it, a jump counts only when the next event follows it.
  for (const std::string run : {"run1", "run2", "run3"}) {
    raw.sendEvent("faces", "huge-gaps", 1, run);
    raw.sendEvent("faces", "huge-gaps", kMaxSeq - 1, run);
    raw.sendEvent("faces", "huge-gaps", kMaxSeq, run);
  }
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(nextOn(subscriber, topic)) << "event " << i;
  const TopicState& state = subscriber.topics().at(topic);
  EXPECT_EQ(state.untrusted, 3u) << "each lone jump was held back";
  EXPECT_EQ(state.missed, kCounterMax) << "3 gaps of INT64_MAX - 2 stop at the maximum";
  EXPECT_EQ(subscriber.stats().missed, kCounterMax);
  EXPECT_EQ(state.gaps, 3u);
  EXPECT_EQ(state.restarts, 2u);
}

// Topics are chosen by the sender: beyond max_topics they are dropped and
// counted, and the topics already tracked go on as before.
TEST(Bus, TopicsBeyondTheCapAreDroppedAndCounted) {
  RawPublisher raw;
  SubscriberOptions options = subscriberTo(raw.endpoint());
  options.max_topics = 8;
  Subscriber subscriber(options);
  int overflow_reports = 0;
  subscriber.onReject([&](DecodeStatus status, const std::string&) {
    overflow_reports += status == DecodeStatus::kTooManyTopics;
  });
  ASSERT_TRUE(raw.handshake(subscriber));  // one topic: the warm-up's
  ASSERT_EQ(subscriber.topics().size(), 1u);
  constexpr int kInvented = 20;
  for (int i = 0; i < kInvented; ++i) raw.sendEvent("faces", "flood-" + std::to_string(i), 1);
  raw.sendEvent(kind::kStatus, kWarmupSource, 1'000'000);
  std::set<std::string> delivered;
  for (;;) {
    auto received = subscriber.next(kDeadline);
    ASSERT_TRUE(received) << "the known topic still gets through";
    if (received->event.header.source == kWarmupSource) {
      if (received->event.header.seq == 1'000'000) break;
      continue;  // a late warm-up
    }
    delivered.insert(received->event.topic);
  }
  EXPECT_EQ(delivered.size(), 7u) << "up to the cap of 8 with the warm-up topic";
  EXPECT_EQ(subscriber.topics().size(), 8u);
  EXPECT_EQ(subscriber.stats().topic_overflow, kInvented - 7u);
  EXPECT_EQ(overflow_reports, kInvented - 7);
}

// ZMQ_MAXMSGSIZE: a frame far above the limit is refused by ZeroMQ before it
// is read (the connection drops and comes back), instead of being received
// whole and then counted as too large.
TEST(Bus, HugeFrameIsRefusedUnreadAndTheSubscriberRecovers) {
  RawPublisher raw;
  Subscriber subscriber(subscriberTo(raw.endpoint()));
  ASSERT_TRUE(raw.handshake(subscriber));
  const SubscriberStats before = subscriber.stats();
  raw.send({topicFor("faces", "huge"), std::string(64u << 20, '\xc0')});
  ASSERT_TRUE(raw.handshake(subscriber)) << "events flow again after the reconnect";
  raw.sendEvent("faces", "after-huge", 1);
  ASSERT_TRUE(nextOn(subscriber, topicFor("faces", "after-huge")));
  EXPECT_EQ(subscriber.stats().too_large, before.too_large) << "the 64 MiB frame never reached decode()";
  EXPECT_EQ(subscriber.stats().malformed, before.malformed);
}

// ZeroMQ deletes whatever is at an ipc:// path before binding, and the socket
// followed the umask: a regular file is never replaced, the socket is 0600.
TEST(Bus, IpcBindNeverReplacesAFileAndIsOwnerOnly) {
  char directory_template[] = "/tmp/vigil-ipc-XXXXXX";
  ASSERT_NE(::mkdtemp(directory_template), nullptr);
  const std::string directory = directory_template;
  const std::string file = directory + "/precious.txt";
  {
    std::FILE* out = std::fopen(file.c_str(), "w");
    ASSERT_NE(out, nullptr);
    std::fputs("keep me\n", out);
    std::fclose(out);
  }
  PublisherOptions options;
  options.endpoint = "ipc://" + file;
  try {
    Publisher::acquire(options);
    ADD_FAILURE() << "bound over a regular file";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("exists and is not a socket"), std::string::npos) << error.what();
  }
  struct stat info {};
  ASSERT_EQ(::lstat(file.c_str(), &info), 0) << "the file is still there";
  EXPECT_TRUE(S_ISREG(info.st_mode));

  const mode_t previous = ::umask(022);
  options.endpoint = "ipc://" + directory + "/bus.sock";
  options.snapshot_endpoint = "ipc://" + directory + "/snapshot.sock";
  {
    auto publisher = Publisher::acquire(options);
    for (const char* name : {"/bus.sock", "/snapshot.sock"}) {
      ASSERT_EQ(::lstat((directory + name).c_str(), &info), 0) << name;
      EXPECT_TRUE(S_ISSOCK(info.st_mode)) << name;
      EXPECT_EQ(info.st_mode & 0777, 0600u) << name;
    }
  }
  ::umask(previous);
  // A stale socket (the previous run's) may be replaced.
  EXPECT_NO_THROW(Publisher::acquire(options));
  std::system(("rm -rf " + directory).c_str());
}

TEST(Bus, FirstSightOfATopicIsNotAGap) {
  // A subscriber that joins at seq 41 never saw 1..40: not a loss it can count.
  RawPublisher raw;
  Subscriber subscriber(subscriberTo(raw.endpoint()));
  ASSERT_TRUE(raw.handshake(subscriber));
  raw.sendEvent("plates", "late", 41);
  raw.sendEvent("plates", "late", 42);
  for (std::uint64_t seq : {41u, 42u}) {
    auto received = nextOn(subscriber, topicFor("plates", "late"));
    ASSERT_TRUE(received);
    EXPECT_EQ(received->event.header.seq, seq);
    EXPECT_EQ(received->missed_before, 0u);
  }
  EXPECT_EQ(subscriber.topics().at(topicFor("plates", "late")).gaps, 0u);
}

std::string eventBody(std::string_view kind, std::string_view source, std::int64_t version = 1) {
  Header header = headerFor(kind, source);
  header.run = "feedfacecafe0001";
  header.seq = 1;
  std::string body = encode(header, Body());
  if (version != 1) {
    // `v` is the first key: a fixmap header, fixstr "v", then a positive fixint.
    constexpr std::size_t kVersionOffset = 3;
    body[kVersionOffset] = static_cast<char>(version);
  }
  return body;
}

TEST(Bus, MalformedAndOversizedMessagesAreCountedAndSkipped) {
  RawPublisher raw;
  Subscriber subscriber(subscriberTo(raw.endpoint()));
  std::map<DecodeStatus, int> rejected;
  subscriber.onReject([&](DecodeStatus status, const std::string& detail) {
    EXPECT_FALSE(detail.empty());
    ++rejected[status];
  });
  ASSERT_TRUE(raw.handshake(subscriber));
  const SubscriberStats before = subscriber.stats();
  const std::string topic = topicFor("faces", "hostile");
  const DecodeLimits limits;

  raw.send({topic, "not msgpack at all"});                           // malformed
  raw.send({topic, std::string("\xdb\xff\xff\xff\xff", 5)});         // declares a 4 GiB string
  raw.send({topic, std::string(100000, '\x91')});                    // nesting bomb
  raw.send({topic, std::string("\x80", 1)});                         // a map, but not an event
  raw.send({topic, eventBody("faces", "someone-else")});             // topic mismatch
  raw.send({topic, eventBody("faces", "hostile", 2)});               // schema v2
  raw.send({topic, std::string(limits.max_bytes + 1, '\xc0')});      // too large
  raw.send({topic});                                                 // one frame
  raw.send({topic, eventBody("faces", "hostile"), "extra"});         // three frames
  raw.sendEvent("faces", "hostile", 7);                              // and then a good one

  auto received = nextOn(subscriber, topic);
  ASSERT_TRUE(received) << "a good event after bad ones still arrives";
  EXPECT_EQ(received->event.header.seq, 7u);
  const SubscriberStats& after = subscriber.stats();
  EXPECT_EQ(after.malformed - before.malformed, 5u) << "not msgpack, limits, not an event, wrong topic";
  EXPECT_EQ(after.newer_version - before.newer_version, 1u);
  EXPECT_EQ(after.too_large - before.too_large, 1u);
  EXPECT_EQ(after.bad_framing - before.bad_framing, 2u);
  EXPECT_EQ(subscriber.topics().at(topic).received, 1u) << "only the good event is accounted";
  // The hook hears the precise reason; bad framing is reported as malformed.
  EXPECT_EQ(rejected[DecodeStatus::kMalformed], 3 + 2);
  EXPECT_EQ(rejected[DecodeStatus::kNotAnEvent], 1);
  EXPECT_EQ(rejected[DecodeStatus::kTopicMismatch], 1);
  EXPECT_EQ(rejected[DecodeStatus::kNewerVersion], 1);
  EXPECT_EQ(rejected[DecodeStatus::kTooLarge], 1);
}

TEST(Bus, PrefixFilterDeliversOnlyMatchingTopics) {
  auto publisher = localPublisher();
  Subscriber subscriber(subscriberTo(publisher->boundEndpoint(), "vigil/faces/"));
  ASSERT_TRUE(handshake(*publisher, subscriber, kind::kFaces));
  for (int i = 0; i < 5; ++i) {
    publisher->publish(headerFor("status", "cam-p"), Body().set("state", "playing"));
    publisher->publish(headerFor("faces", "cam-p"), Body().set("count", i));
  }
  for (std::uint64_t seq = 1; seq <= 5; ++seq) {
    auto received = subscriber.next(kDeadline / 2);
    while (received && received->event.header.source == kWarmupSource) received = subscriber.next(kDeadline / 2);
    ASSERT_TRUE(received);
    // Per-connection order is kept, so a status event would show up in between.
    EXPECT_EQ(received->event.topic, topicFor("faces", "cam-p"));
    EXPECT_EQ(received->event.header.seq, seq);
  }
  EXPECT_EQ(subscriber.topics().count(topicFor("status", "cam-p")), 0u);
}

TEST(Bus, SnapshotGivesALateJoinerTheNewestEventPerTopic) {
  PublisherOptions options;
  options.endpoint = kAnyLocalPort;
  options.snapshot_endpoint = kAnyLocalPort;
  auto publisher = Publisher::acquire(options);
  ASSERT_FALSE(publisher->boundSnapshotEndpoint().empty());
  for (int i = 0; i < 3; ++i) publisher->publish(headerFor("faces", "cam-s"), Body().set("count", i));
  for (const char* state : {"starting", "playing"}) {
    publisher->publish(headerFor("status", "cam-s"), Body().set("state", state));
  }
  publisher->publish(headerFor("codes", "dock"), Body().set("count", 1));
  ASSERT_TRUE(publisher->flush(kDeadline));

  SubscriberOptions late = subscriberTo(publisher->boundEndpoint());
  late.snapshot_endpoint = publisher->boundSnapshotEndpoint();
  late.catch_up = false;  // the snapshot asked for by hand only
  Subscriber subscriber(late);
  // The newest event per topic, preceded by what the history holds before it.
  std::map<std::string, Received> newest;
  std::vector<std::uint64_t> faces_seqs;
  for (Received& received : subscriber.snapshot(kDeadline)) {
    if (received.event.topic == topicFor("faces", "cam-s")) faces_seqs.push_back(received.event.header.seq);
    EXPECT_NE(received.from_snapshot, received.replayed);
    if (received.from_snapshot) newest.emplace(received.event.topic, std::move(received));
  }
  EXPECT_EQ(faces_seqs, (std::vector<std::uint64_t>{1, 2, 3}));
  ASSERT_EQ(newest.size(), 3u);
  EXPECT_EQ(newest.at(topicFor("faces", "cam-s")).event.header.seq, 3u);
  EXPECT_EQ(newest.at(topicFor("faces", "cam-s")).event.getInt("count"), 2);
  EXPECT_EQ(newest.at(topicFor("status", "cam-s")).event.getString("state"), "playing");
  EXPECT_EQ(newest.at(topicFor("codes", "dock")).event.header.seq, 1u);
  EXPECT_EQ(subscriber.topics().at(topicFor("faces", "cam-s")).last_seq, 3u) << "live events continue from here";

  // Live events then carry on from the snapshot: same run, no restart.
  ASSERT_TRUE(handshake(*publisher, subscriber));
  publisher->publish(headerFor("faces", "cam-s"), Body().set("count", 3));
  auto live = nextOn(subscriber, topicFor("faces", "cam-s"));
  ASSERT_TRUE(live);
  EXPECT_FALSE(live->from_snapshot);
  EXPECT_FALSE(live->publisher_restarted);
  EXPECT_GT(live->event.header.seq, 3u);

  // The prefix narrows the snapshot too.
  SubscriberOptions faces_only = subscriberTo(publisher->boundEndpoint(), "vigil/faces/");
  faces_only.snapshot_endpoint = publisher->boundSnapshotEndpoint();
  Subscriber narrow(faces_only);
  const auto faces = narrow.snapshot(kDeadline);
  ASSERT_EQ(faces.size(), 4u) << "the live event above is the fourth";
  for (const auto& received : faces) EXPECT_EQ(received.event.topic, topicFor("faces", "cam-s"));

  // Without a snapshot endpoint there is nothing to ask.
  Subscriber plain(subscriberTo(publisher->boundEndpoint()));
  EXPECT_TRUE(plain.snapshot(kDeadline).empty());
}

TEST(Bus, SnapshotProtocolOnTheWire) {
  // The protocol as docs/EVENTS.md states it, spoken by a bare DEALER.
  PublisherOptions options;
  options.endpoint = kAnyLocalPort;
  options.snapshot_endpoint = kAnyLocalPort;
  auto publisher = Publisher::acquire(options);
  publisher->publish(headerFor("status", "cam-w"), Body().set("state", "playing"));
  publisher->publish(headerFor("faces", "cam-w"), Body().set("count", 1));
  ASSERT_TRUE(publisher->flush(kDeadline));

  zmq::context_t context;
  zmq::socket_t dealer(context, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.connect(publisher->boundSnapshotEndpoint());
  const std::vector<std::string> request = {"SNAPSHOT", "vigil/status/"};
  ASSERT_TRUE(zmq::send_multipart(dealer, std::vector<zmq::const_buffer>{zmq::buffer(request[0]),
                                                                         zmq::buffer(request[1])}));
  zmq::pollitem_t item{dealer.handle(), 0, ZMQ_POLLIN, 0};
  ASSERT_EQ(zmq::poll(&item, 1, std::chrono::duration_cast<milliseconds>(kDeadline)), 1);
  std::vector<zmq::message_t> reply;
  ASSERT_TRUE(zmq::recv_multipart(dealer, std::back_inserter(reply)));
  ASSERT_EQ(reply.size(), 3u) << "SNAPSHOT-REPLY, then one topic/event pair";
  EXPECT_EQ(reply[0].to_string(), "SNAPSHOT-REPLY");
  EXPECT_EQ(reply[1].to_string(), topicFor("status", "cam-w"));
  const DecodeResult decoded = decode(reply[1].to_string_view(), reply[2].data(), reply[2].size());
  ASSERT_EQ(decoded.status, DecodeStatus::kOk) << decoded.detail;
  EXPECT_EQ(decoded.event->getString("state"), "playing");
  // The counter moves just after the reply leaves: wait for it, briefly.
  const auto deadline = Clock::now() + kDeadline;
  while (publisher->stats().snapshots_served == 0 && Clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(publisher->stats().snapshots_served, 1u);
}

std::shared_ptr<Publisher> replayingPublisher(std::size_t history_max_events = PublisherOptions{}.history_max_events) {
  PublisherOptions options;
  options.endpoint = kAnyLocalPort;
  options.snapshot_endpoint = kAnyLocalPort;
  options.history_max_events = history_max_events;
  return Publisher::acquire(options);
}

SubscriberOptions replayingSubscriberTo(const Publisher& publisher) {
  SubscriberOptions options = subscriberTo(publisher.boundEndpoint());
  options.snapshot_endpoint = publisher.boundSnapshotEndpoint();
  return options;
}

// One request on the snapshot socket, spoken by a bare DEALER as docs/EVENTS.md says.
std::vector<zmq::message_t> askSnapshotSocket(const std::string& endpoint, const std::vector<std::string>& frames) {
  zmq::context_t context;
  zmq::socket_t dealer(context, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.connect(endpoint);
  std::vector<zmq::const_buffer> parts;
  for (const auto& frame : frames) parts.push_back(zmq::buffer(frame));
  std::vector<zmq::message_t> reply;
  if (!zmq::send_multipart(dealer, parts)) return reply;
  zmq::pollitem_t item{dealer.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, std::chrono::duration_cast<milliseconds>(kDeadline)) != 1) return reply;
  (void)zmq::recv_multipart(dealer, std::back_inserter(reply));
  return reply;
}

TEST(Replay, ProtocolOnTheWire) {
  auto publisher = replayingPublisher();
  for (int i = 0; i < 5; ++i) publisher->publish(headerFor("faces", "cam-r"), Body().set("count", i));
  ASSERT_TRUE(publisher->flush(kDeadline));
  const std::string topic = topicFor("faces", "cam-r");
  const std::string run = publisher->runId();

  auto reply = askSnapshotSocket(publisher->boundSnapshotEndpoint(), {"REPLAY", "1", topic, run, "2", "4"});
  ASSERT_EQ(reply.size(), 7u + 3u) << "header frames, then seq 2, 3, 4";
  EXPECT_EQ(reply[0].to_string(), "REPLAY-REPLY");
  EXPECT_EQ(reply[1].to_string(), "1");
  EXPECT_EQ(reply[2].to_string(), topic);
  EXPECT_EQ(reply[3].to_string(), "ok");
  EXPECT_EQ(reply[4].to_string(), run);
  EXPECT_EQ(reply[5].to_string(), "1") << "oldest held";
  EXPECT_EQ(reply[6].to_string(), "5") << "newest sent";
  for (std::uint64_t i = 0; i < 3; ++i) {
    const DecodeResult decoded = decode(topic, reply[7 + i].data(), reply[7 + i].size());
    ASSERT_EQ(decoded.status, DecodeStatus::kOk) << decoded.detail;
    EXPECT_EQ(decoded.event->header.seq, 2 + i);
  }
  // to-seq 0: up to the newest.
  EXPECT_EQ(askSnapshotSocket(publisher->boundSnapshotEndpoint(), {"REPLAY", "1", topic, run, "4", "0"}).size(), 9u);
  // A run that is not the publisher's is answered, with no events.
  reply = askSnapshotSocket(publisher->boundSnapshotEndpoint(), {"REPLAY", "1", topic, "0123456789abcdef", "1", "0"});
  ASSERT_EQ(reply.size(), 7u);
  EXPECT_EQ(reply[3].to_string(), "unknown-run");
  EXPECT_EQ(reply[4].to_string(), run);
  // Another version, or a seq that is not a number, is a bad request.
  for (const auto& bad : std::vector<std::vector<std::string>>{{"REPLAY", "2", topic, run, "1", "0"},
                                                               {"REPLAY", "1", topic, run, "one", "0"},
                                                               {"REPLAY", "1", topic, run, "-1", "0"}}) {
    reply = askSnapshotSocket(publisher->boundSnapshotEndpoint(), bad);
    ASSERT_EQ(reply.size(), 7u);
    EXPECT_EQ(reply[3].to_string(), "bad-request");
  }
}

TEST(Replay, ALateSubscriberGetsTheRunFromSeqOneInOrderWithoutDuplicates) {
  auto publisher = replayingPublisher();
  const std::string topic = topicFor("codes", "cam-late");
  for (int i = 0; i < 20; ++i) publisher->publish(headerFor("codes", "cam-late"), Body().set("count", i));
  ASSERT_TRUE(publisher->flush(kDeadline));
  Subscriber subscriber(replayingSubscriberTo(*publisher));
  // The first live event (seq 21) asks for 1..20 first; the catch-up on
  // connect may come first and hand out the same: either way, once each.
  std::vector<std::uint64_t> seqs;
  const auto deadline = Clock::now() + kDeadline;
  while (seqs.size() < 22 && Clock::now() < deadline) {
    publisher->publish(headerFor("codes", "cam-late"), Body().set("count", 99));
    for (auto received = subscriber.next(kPoll); received; received = subscriber.next(milliseconds(0))) {
      if (received->event.topic == topic) seqs.push_back(received->event.header.seq);
    }
  }
  ASSERT_GE(seqs.size(), 22u);
  for (std::size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], i + 1) << "at " << i;
  const TopicState& state = subscriber.topics().at(topic);
  EXPECT_EQ(state.missed, 0u);
  EXPECT_GE(state.recovered, 20u);
}

TEST(Replay, BeyondTheHistoryTheLossIsCountedExactly) {
  constexpr std::size_t kHistory = 5;
  auto publisher = replayingPublisher(kHistory);
  const std::string topic = topicFor("faces", "cam-h");
  for (int i = 0; i < 20; ++i) publisher->publish(headerFor("faces", "cam-h"), Body().set("count", i));
  ASSERT_TRUE(publisher->flush(kDeadline));
  SubscriberOptions options = replayingSubscriberTo(*publisher);
  options.catch_up = false;
  Subscriber subscriber(options);
  subscriber.resume(topic, publisher->runId(), 3);  // stored up to seq 3 earlier
  ASSERT_TRUE(handshake(*publisher, subscriber));
  publisher->publish(headerFor("faces", "cam-h"), Body().set("count", 20));  // seq 21
  std::vector<std::uint64_t> seqs;
  std::uint64_t missed = 0;
  while (seqs.empty() || seqs.back() < 21) {
    auto received = nextOn(subscriber, topic);
    ASSERT_TRUE(received);
    seqs.push_back(received->event.header.seq);
    missed += received->missed_before;
  }
  // Held when asked: 17..21 (five events, the live one included); 4..16 are gone.
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{17, 18, 19, 20, 21}));
  EXPECT_EQ(missed, 13u);
  EXPECT_EQ(subscriber.topics().at(topic).recovered, 4u);
}

TEST(Replay, ForgedSeqOrRunIsRefusedAndDoesNotMuteTheTopic) {
  auto publisher = replayingPublisher();
  RawPublisher forger;
  SubscriberOptions options = replayingSubscriberTo(*publisher);
  options.endpoints.push_back(forger.endpoint());
  Subscriber subscriber(options);
  std::vector<std::string> reasons;
  subscriber.onUntrusted([&](const Event&, const std::string& reason) { reasons.push_back(reason); });
  const std::string topic = topicFor("faces", "cam-f");
  ASSERT_TRUE(handshake(*publisher, subscriber));
  // The forger is connected once one of its warm-ups was refused.
  const auto connected = Clock::now() + kDeadline;
  while (subscriber.stats().untrusted == 0 && Clock::now() < connected) {
    forger.sendEvent("status", "forger", 1, publisher->runId());
    subscriber.next(kPoll);
  }
  ASSERT_GT(subscriber.stats().untrusted, 0u);
  reasons.clear();
  publisher->publish(headerFor("faces", "cam-f"), Body().set("count", 1));
  ASSERT_TRUE(nextOn(subscriber, topic));

  forger.sendEvent("faces", "cam-f", static_cast<std::uint64_t>(INT64_MAX), publisher->runId());
  forger.sendEvent("faces", "cam-f", 2, "0123456789abcdef");
  // The two forgeries are refused once the publisher answered for each.
  const auto deadline = Clock::now() + kDeadline;
  while (subscriber.topics().at(topic).untrusted < 2 && Clock::now() < deadline) subscriber.next(kPoll);
  ASSERT_EQ(subscriber.topics().at(topic).untrusted, 2u);
  ASSERT_EQ(reasons.size(), 2u);
  EXPECT_NE(reasons[0].find("never published"), std::string::npos) << reasons[0];
  EXPECT_NE(reasons[1].find("not the publisher's"), std::string::npos) << reasons[1];

  // The real events go on being handed out.
  for (std::uint64_t seq = 2; seq <= 4; ++seq) {
    publisher->publish(headerFor("faces", "cam-f"), Body().set("count", 1));
    auto received = nextOn(subscriber, topic);
    ASSERT_TRUE(received) << "seq " << seq;
    EXPECT_EQ(received->event.header.seq, seq);
    EXPECT_EQ(received->missed_before, 0u);
  }
}

TEST(Bus, QueueFullDropsAreCountedAndSeenAsGaps) {
  constexpr std::size_t kTinyQueue = 1;
  constexpr std::uint64_t kWantedDrops = 10;
  constexpr std::uint64_t kMaxBurst = 5000;  // well under the send high-water mark: ZeroMQ drops nothing
  const std::string topic = topicFor("faces", "burst");
  auto publisher = localPublisher(kTinyQueue);
  Subscriber subscriber(subscriberTo(publisher->boundEndpoint()));
  ASSERT_TRUE(handshake(*publisher, subscriber));
  // Seq 1 arrives first, so every later loss is a gap the subscriber can see.
  ASSERT_TRUE(publisher->flush(kDeadline));
  ASSERT_TRUE(publisher->publish(headerFor("faces", "burst"), Body()));
  ASSERT_TRUE(nextOn(subscriber, topic));

  const std::uint64_t dropped_before = publisher->stats().dropped;
  std::uint64_t attempts = 0;
  std::uint64_t refused = 0;
  while (attempts < kMaxBurst && refused < kWantedDrops) {
    ++attempts;
    if (!publisher->publish(headerFor("faces", "burst"), Body())) ++refused;
  }
  ASSERT_GT(refused, 0u) << "a one-slot queue overflows under a burst";
  ASSERT_TRUE(publisher->flush(kDeadline));
  ASSERT_TRUE(publisher->publish(headerFor("faces", "burst"), Body())) << "the queue drained";
  EXPECT_EQ(publisher->stats().dropped - dropped_before, refused);

  // Every publish took a seq, dropped or not: seq 1, the burst, the last one.
  const std::uint64_t final_seq = 1 + attempts + 1;
  std::uint64_t missed = 0;
  for (std::uint64_t seq = 1; seq < final_seq;) {
    auto received = nextOn(subscriber, topic);
    ASSERT_TRUE(received) << "after seq " << seq << " of " << final_seq;
    missed += received->missed_before;
    seq = received->event.header.seq;
  }
  EXPECT_EQ(missed, refused) << "each drop shows up as a missing seq";
  const TopicState& state = subscriber.topics().at(topic);
  EXPECT_EQ(state.missed, refused);
  EXPECT_GE(state.gaps, 1u);
  EXPECT_EQ(state.last_seq, final_seq);
  EXPECT_EQ(state.received + state.missed, final_seq) << "every seq arrived or is counted missing";
}

}  // namespace
}  // namespace vigil::events
