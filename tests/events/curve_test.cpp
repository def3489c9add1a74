// The bus with CURVE and ZAP over real loopback sockets: who gets in, who
// does not, and what the publisher says about the ones it turned away. No
// sleeps: every wait is a poll with a deadline on a real condition.
#include "vigil/events/curve.hpp"
#include "vigil/events/publisher.hpp"
#include "vigil/events/subscriber.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>
#include <mutex>
#include <string>
#include <vector>

namespace vigil::events {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
namespace fs = std::filesystem;

constexpr const char* kAnyLocalPort = "tcp://127.0.0.1:*";
constexpr auto kDeadline = std::chrono::seconds(10);
constexpr milliseconds kPoll{20};
constexpr const char* kWarmupSource = "warmup";

Header headerFor(std::string_view kind, std::string_view source) {
  Header header;
  header.kind = std::string(kind);
  header.source = std::string(source);
  header.ts_ns = wallClockNowNs();
  return header;
}

// A fresh directory with a server key pair, an authorized client ("trusted")
// whose .pub is in authorized/, and a stranger whose key is not.
class CurveKeys {
 public:
  CurveKeys() {
    char pattern[] = "/tmp/vigil-curve-XXXXXX";
    root_ = ::mkdtemp(pattern);
    writeCurveKeyPair(generateCurveKeyPair(), root_, "server");
    writeCurveKeyPair(generateCurveKeyPair(), root_, "trusted");
    writeCurveKeyPair(generateCurveKeyPair(), root_, "stranger");
    fs::create_directory(authorized());
    fs::copy_file(root_ / "trusted.pub", fs::path(authorized()) / "trusted.pub");
  }
  ~CurveKeys() { fs::remove_all(root_); }

  std::string path(const std::string& file) const { return (root_ / file).string(); }
  std::string authorized() const { return (root_ / "authorized").string(); }

  CurveClientOptions client(const std::string& name) const {
    return {path(name + ".key"), path("server.pub")};
  }

 private:
  fs::path root_;
};

// Refusal messages as the publisher reports them (from its ZAP thread).
struct RefusalLog {
  std::mutex mutex;
  std::vector<std::string> lines;
  std::function<void(const std::string&)> handler() {
    return [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(mutex);
      lines.push_back(line);
    };
  }
  std::vector<std::string> copy() {
    std::lock_guard<std::mutex> lock(mutex);
    return lines;
  }
};

std::shared_ptr<Publisher> curvePublisher(const CurveKeys& keys, RefusalLog* log,
                                          std::vector<std::string> allow = {}) {
  PublisherOptions options;
  options.endpoint = kAnyLocalPort;
  options.snapshot_endpoint = kAnyLocalPort;
  options.curve.secret_key_file = keys.path("server.key");
  options.curve.authorized_keys_dir = keys.authorized();
  options.curve.allow = std::move(allow);
  if (log) options.curve.on_refused = log->handler();
  return Publisher::acquire(options);
}

SubscriberOptions subscriberTo(const Publisher& publisher, CurveClientOptions curve, bool with_snapshot = false) {
  SubscriberOptions options;
  options.endpoints = {publisher.boundEndpoint()};
  if (with_snapshot) options.snapshot_endpoint = publisher.boundSnapshotEndpoint();
  options.reconnect_interval = milliseconds(10);
  options.reconnect_interval_max = milliseconds(100);
  options.replay_timeout = milliseconds(300);
  options.curve = std::move(curve);
  return options;
}

::testing::AssertionResult handshake(Publisher& publisher, Subscriber& subscriber) {
  const auto deadline = Clock::now() + kDeadline;
  while (Clock::now() < deadline) {
    publisher.publish(headerFor(kind::kStatus, kWarmupSource), Body().set("state", "starting"));
    if (auto received = subscriber.next(kPoll); received && received->event.header.source == kWarmupSource) {
      return ::testing::AssertionSuccess();
    }
  }
  return ::testing::AssertionFailure() << "no warm-up event reached the subscriber";
}

// Events of `source` taken from `subscriber` until `count` arrived or the deadline.
std::size_t receiveFrom(Subscriber& subscriber, const std::string& source, std::size_t count) {
  std::size_t received = 0;
  const auto deadline = Clock::now() + kDeadline;
  while (received < count && Clock::now() < deadline) {
    if (auto event = subscriber.next(kPoll); event && event->event.header.source == source) ++received;
  }
  return received;
}

// Whatever `subscriber` has now, without waiting for more than a poll.
std::size_t drain(Subscriber& subscriber) {
  std::size_t received = 0;
  while (subscriber.next(kPoll)) ++received;
  return received;
}

bool waitFor(const std::function<bool()>& condition) {
  const auto deadline = Clock::now() + kDeadline;
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::yield();
  }
  return condition();
}

TEST(Curve, KeygenWritesAPrivateSecretAndItsPublicKey) {
  ASSERT_TRUE(curveAvailable()) << "Debian's libzmq is built with CURVE";
  CurveKeys keys;
  struct stat secret {};
  ASSERT_EQ(::stat(keys.path("server.key").c_str(), &secret), 0);
  EXPECT_EQ(secret.st_mode & 0777, 0600u);
  const CurveKeyPair derived = readCurveSecretKey(keys.path("server.key"));
  EXPECT_EQ(derived.public_key, readCurveKey(keys.path("server.pub")));
  // An existing key is never replaced.
  EXPECT_THROW(writeCurveKeyPair(generateCurveKeyPair(), fs::path(keys.path("")).string(), "server"),
               std::runtime_error);
  EXPECT_EQ(readCurveSecretKey(keys.path("server.key")).secret_key, derived.secret_key);
}

TEST(Curve, AMalformedKeyFileIsAnErrorNamingIt) {
  CurveKeys keys;
  const std::string bad = keys.path("bad.pub");
  { std::ofstream(bad) << "# comment\nnot-a-key\n"; }
  try {
    readCurveKey(bad);
    FAIL() << "a malformed key was accepted";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find(bad), std::string::npos) << error.what();
  }
}

TEST(Curve, AnAuthorizedSubscriberReceivesEveryEventAndAnAnonymousOneNone) {
  constexpr std::size_t kEvents = 50;
  CurveKeys keys;
  RefusalLog log;
  auto publisher = curvePublisher(keys, &log);
  Subscriber trusted(subscriberTo(*publisher, keys.client("trusted")));
  Subscriber anonymous(subscriberTo(*publisher, {}));
  ASSERT_TRUE(handshake(*publisher, trusted));

  for (std::size_t i = 0; i < kEvents; ++i) {
    ASSERT_TRUE(publisher->publish(headerFor("faces", "cam-a"), Body().set("count", 1)));
  }
  EXPECT_EQ(receiveFrom(trusted, "cam-a", kEvents), kEvents);
  // The authorized subscriber has everything, the warm-ups included: the
  // anonymous one, connected just as long, has had the same chance.
  EXPECT_EQ(drain(anonymous), 0u);
  EXPECT_EQ(anonymous.stats().received, 0u);
  EXPECT_EQ(anonymous.stats().malformed, 0u);
}

TEST(Curve, AnUnknownKeyIsRefusedLoggedAndCounted) {
  CurveKeys keys;
  RefusalLog log;
  auto publisher = curvePublisher(keys, &log);
  Subscriber stranger(subscriberTo(*publisher, keys.client("stranger")));
  Subscriber trusted(subscriberTo(*publisher, keys.client("trusted")));
  ASSERT_TRUE(handshake(*publisher, trusted));
  ASSERT_TRUE(waitFor([&] {
    stranger.next(milliseconds(1));  // lets its socket work
    return publisher->stats().clients_refused >= 1 && !log.copy().empty();
  }));
  const std::string line = log.copy().front();
  const std::string prefix = z85Text(readCurveSecretKey(keys.path("stranger.key")).public_key).substr(0, 8);
  EXPECT_NE(line.find(prefix), std::string::npos) << line;
  EXPECT_NE(line.find("127.0.0.1"), std::string::npos) << line;
  EXPECT_NE(line.find("not in the authorized keys"), std::string::npos) << line;

  for (int i = 0; i < 10; ++i) publisher->publish(headerFor("faces", "cam-a"), Body().set("count", 1));
  EXPECT_EQ(receiveFrom(trusted, "cam-a", 10), 10u);
  EXPECT_EQ(drain(stranger), 0u);
  // The stranger learns it was refused.
  EXPECT_TRUE(waitFor([&] {
    stranger.next(milliseconds(1));
    return stranger.stats().handshake_failures >= 1;
  }));
}

TEST(Curve, RefusalsAreLoggedAtMostOnceASecond) {
  CurveKeys keys;
  RefusalLog log;
  auto publisher = curvePublisher(keys, &log);
  std::vector<std::unique_ptr<Subscriber>> strangers;
  for (int i = 0; i < 5; ++i) {
    strangers.push_back(std::make_unique<Subscriber>(subscriberTo(*publisher, keys.client("stranger"))));
  }
  ASSERT_TRUE(waitFor([&] {
    for (auto& stranger : strangers) stranger->next(milliseconds(1));
    return publisher->stats().clients_refused >= 5;
  }));
  // Five refusals in far less than the interval several seconds would take:
  // fewer lines than refusals, and every refusal counted.
  EXPECT_LT(log.copy().size(), publisher->stats().clients_refused);
}

TEST(Curve, AnAuthorizedKeyFromAnAddressOutsideTheAllowListIsRefused) {
  CurveKeys keys;
  RefusalLog log;
  auto publisher = curvePublisher(keys, &log, {"10.0.0.0/8"});
  Subscriber trusted(subscriberTo(*publisher, keys.client("trusted")));
  ASSERT_TRUE(waitFor([&] {
    trusted.next(milliseconds(1));
    return publisher->stats().clients_refused >= 1 && !log.copy().empty();
  }));
  EXPECT_NE(log.copy().front().find("allow"), std::string::npos) << log.copy().front();
  for (int i = 0; i < 10; ++i) publisher->publish(headerFor("faces", "cam-a"), Body().set("count", 1));
  EXPECT_EQ(drain(trusted), 0u);
}

TEST(Curve, SnapshotAndReplayWorkOverCurve) {
  CurveKeys keys;
  auto publisher = curvePublisher(keys, nullptr);
  const std::string topic = topicFor("faces", "cam-a");
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(publisher->publish(headerFor("faces", "cam-a"), Body().set("count", i)));
  }
  ASSERT_TRUE(publisher->flush(milliseconds(5000)));

  // A late joiner gets the newest event from the snapshot socket, and the
  // ones before it replayed (its first sight of the topic has seq > 1)...
  Subscriber late(subscriberTo(*publisher, keys.client("trusted"), true));
  const auto snapshot = late.snapshot(milliseconds(5000));
  ASSERT_FALSE(snapshot.empty());
  EXPECT_TRUE(snapshot.back().from_snapshot);
  EXPECT_EQ(snapshot.back().event.header.seq, 5u);
  EXPECT_EQ(late.stats().untrusted, 0u);

  // ...and one that stood at seq 2 catches up when it connects: 5 from the
  // snapshot, 3 and 4 replayed before it.
  auto options = subscriberTo(*publisher, keys.client("trusted"), true);
  Subscriber resumed(options);
  resumed.resume(topic, publisher->runId(), 2);
  std::vector<std::uint64_t> replayed;
  const auto deadline = Clock::now() + kDeadline;
  while (replayed.size() < 3 && Clock::now() < deadline) {
    publisher->publish(headerFor(kind::kStatus, kWarmupSource), Body().set("state", "running"));
    while (auto received = resumed.next(kPoll)) {
      if (received->event.topic == topic && (received->replayed || received->from_snapshot)) replayed.push_back(received->event.header.seq);
    }
  }
  EXPECT_EQ(replayed, (std::vector<std::uint64_t>{3, 4, 5}));

  // A stranger's snapshot request never gets through.
  Subscriber stranger(subscriberTo(*publisher, keys.client("stranger"), true));
  EXPECT_TRUE(stranger.snapshot(milliseconds(300)).empty());
}

TEST(Curve, ASubscriberWithoutTheServerKeyIsAClearError) {
  CurveKeys keys;
  auto publisher = curvePublisher(keys, nullptr);
  EXPECT_THROW(Subscriber(subscriberTo(*publisher, {keys.path("trusted.key"), ""})), std::runtime_error);
  EXPECT_THROW(Subscriber(subscriberTo(*publisher, {keys.path("trusted.key"), keys.path("missing.pub")})),
               std::runtime_error);
}

TEST(Curve, LocalOnlyEndpoints) {
  for (const char* local : {"tcp://127.0.0.1:5555", "tcp://127.0.0.1:*", "tcp://localhost:1", "tcp://[::1]:5555",
                            "ipc:///tmp/vigil.sock", "inproc://bus", "tcp://127.1.2.3:9"}) {
    EXPECT_TRUE(isLocalOnlyEndpoint(local)) << local;
  }
  for (const char* reachable : {"tcp://0.0.0.0:5555", "tcp://*:5555", "tcp://192.168.1.10:5555", "tcp://eth0:5555",
                                "tcp://[::]:5555", "tcp://example.org:5555"}) {
    EXPECT_FALSE(isLocalOnlyEndpoint(reachable)) << reachable;
  }
}

}  // namespace
}  // namespace vigil::events
