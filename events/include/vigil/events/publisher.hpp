// The publishing side of the event bus: one ZeroMQ PUB socket per endpoint per
// process, shared by every source that publishes there.
#pragma once

#include "vigil/events/codec.hpp"
#include "vigil/events/curve.hpp"
#include "vigil/events/schema.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace vigil::events {

struct PublisherOptions {
  std::string endpoint;           // tcp://host:port, tcp://127.0.0.1:* or ipc://path; bound
  std::string snapshot_endpoint;  // optional ROUTER serving snapshots and replays (Clone pattern)
  int send_high_water_mark = 10000;  // ZeroMQ drops beyond this per subscriber
  std::size_t queue_capacity = 8192; // events waiting for the sender thread; beyond: dropped and counted
  // Replay history, kept only with a snapshot endpoint: per topic, every event
  // sent in the last history_duration, within both caps (the newest event of a
  // topic is always kept: it is the snapshot).
  std::chrono::milliseconds history_duration{60000};
  std::size_t history_max_events = 100000;
  std::size_t history_max_bytes = 64u << 20;
  // CURVE on both sockets, with only authorized client keys let in
  // (docs/EVENTS.md section 10). Key files are read when the publisher binds.
  CurveServerOptions curve{};
};

struct PublisherStats {
  std::uint64_t published = 0;        // accepted into the queue
  std::uint64_t sent = 0;             // handed to ZeroMQ
  std::uint64_t dropped = 0;          // queue full: the producer did not wait
  std::uint64_t send_failures = 0;    // ZeroMQ refused the message
  std::uint64_t snapshots_served = 0;
  std::uint64_t replays_served = 0;
  std::uint64_t clients_refused = 0;  // CURVE clients the ZAP handler turned away
};

// Snapshot protocol (see docs/EVENTS.md): a DEALER sends one message
// ["SNAPSHOT", topic-prefix]; the ROUTER answers with one multipart message
// ["SNAPSHOT-REPLY", topic1, event1, topic2, event2, ...] holding the newest
// event of every topic under the prefix.
inline constexpr std::string_view kSnapshotRequest = "SNAPSHOT";
inline constexpr std::string_view kSnapshotReply = "SNAPSHOT-REPLY";

// Replay protocol, version 1 (docs/EVENTS.md section 6), on the same socket.
// Request: ["REPLAY", "1", topic, run, from-seq, to-seq], seqs as decimal
// text, to-seq 0 meaning "up to the newest". Reply: ["REPLAY-REPLY", "1",
// topic, status, publisher-run, oldest, newest, event...] where oldest is the
// lowest seq still held for the topic, newest the highest seq sent on it (both
// 0 when none), and the events are those held in [from, to], in seq order, at
// most kReplayMaxEvents of them: ask again from the last seq + 1 for more.
inline constexpr std::string_view kReplayRequest = "REPLAY";
inline constexpr std::string_view kReplayReply = "REPLAY-REPLY";
inline constexpr std::string_view kReplayVersion = "1";
inline constexpr std::string_view kReplayOk = "ok";
inline constexpr std::string_view kReplayUnknownRun = "unknown-run";  // run is not this publisher's
inline constexpr std::string_view kReplayBadRequest = "bad-request";  // also: another version
inline constexpr std::size_t kReplayMaxEvents = 1000;

class Publisher {
 public:
  // Returns the publisher already serving `options.endpoint` in this process,
  // or binds a new one. Throws std::runtime_error with the ZeroMQ reason when
  // binding fails (address in use, bad endpoint).
  static std::shared_ptr<Publisher> acquire(const PublisherOptions& options);

  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  const std::string& requestedEndpoint() const;
  // The resolved endpoint, e.g. tcp://127.0.0.1:41231 for tcp://127.0.0.1:*.
  const std::string& boundEndpoint() const;
  const std::string& boundSnapshotEndpoint() const;
  const std::string& runId() const;

  // Assigns run and seq, queues the event and returns at once: the caller's
  // thread never waits for the network. False if the queue was full (counted).
  bool publish(Header header, const Body& body);

  // Waits until everything queued so far was handed to ZeroMQ (tests, shutdown).
  bool flush(std::chrono::milliseconds timeout);

  PublisherStats stats() const;

 private:
  struct State;
  explicit Publisher(const PublisherOptions& options);
  std::unique_ptr<State> state_;
};

}  // namespace vigil::events
