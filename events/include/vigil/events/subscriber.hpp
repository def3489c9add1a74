// The subscribing side of the event bus: connect, filter by topic prefix,
// decode with limits, and account for every message that did not arrive.
#pragma once

#include "vigil/events/codec.hpp"
#include "vigil/events/curve.hpp"

#include <chrono>
#include <climits>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace vigil::events {

struct SubscriberOptions {
  std::vector<std::string> endpoints;                   // connected, not bound
  std::vector<std::string> topic_prefixes{"vigil/"};
  DecodeLimits limits;
  // ZeroMQ refuses frames above this (ZMQ_MAXMSGSIZE) without reading them and
  // drops the connection, which then reconnects; 0: twice limits.max_bytes, so
  // a message just above the limit is still read, counted and reported.
  std::size_t max_frame_bytes = 0;
  // Topics whose sequence is tracked; an event on a further topic is dropped
  // and counted (topic_overflow). Topics are chosen by whoever publishes, and
  // so is the run id that tells publishers apart: only a cap on all topics
  // bounds the memory a flood of invented topics can take.
  std::size_t max_topics = 4096;
  int receive_high_water_mark = 100000;
  // While nothing is connected ZeroMQ retries this often; the maximum keeps
  // its exponential backoff short, so a subscriber started before the
  // publisher connects within half a second of the publisher binding.
  std::chrono::milliseconds reconnect_interval{100};
  std::chrono::milliseconds reconnect_interval_max{500};
  // Optional: the publisher's snapshot endpoint. snapshot() asks it for the
  // newest event per topic so a late joiner starts from the current state, and
  // with it the subscriber replays what it missed (docs/EVENTS.md section 6):
  // on a gap, on a topic's or run's first event with seq > 1, and when the
  // bus (re)connects (catch_up). It also confirms every new run and every
  // jump in seq: an event the publisher did not send is refused (untrusted).
  std::string snapshot_endpoint;
  std::chrono::milliseconds replay_timeout{1000};  // per request; then: not answered
  // When the bus (re)connects, ask the snapshot socket which topics exist and
  // replay each from where this subscriber stands (see resume()).
  bool catch_up = true;
  // Without an answer from the publisher (no snapshot endpoint, or it is
  // silent) a jump of more than this in seq is held as suspect and refused,
  // unless the next event of the topic follows it: one forged seq cannot
  // move the topic's position.
  std::uint64_t max_unconfirmed_gap = 1'000'000;
  // A CURVE client on the bus and the snapshot socket: both files are needed
  // (the constructor throws, naming the file, when one cannot be read).
  CurveClientOptions curve{};
};

// What the subscriber knows of one topic.
struct TopicState {
  std::string run;               // publisher start this topic was last seen from
  std::uint64_t last_seq = 0;
  std::uint64_t received = 0;
  std::uint64_t missed = 0;      // messages lost in gaps (sum over gaps)
  std::uint64_t gaps = 0;        // number of gaps seen
  std::uint64_t restarts = 0;    // new `run`: the publisher restarted
  std::uint64_t recovered = 0;   // events replayed by the publisher after a gap
  std::uint64_t untrusted = 0;   // refused: run not confirmed, or seq never published
  std::uint64_t suspect_seq = 0; // unconfirmed jump waiting for its successor
};

struct SubscriberStats {
  std::uint64_t received = 0;    // decoded events handed out
  std::uint64_t malformed = 0;   // not msgpack, limits exceeded, not an event
  std::uint64_t too_large = 0;
  std::uint64_t newer_version = 0;
  std::uint64_t bad_framing = 0; // not exactly two frames
  std::uint64_t missed = 0;      // sum of TopicState::missed
  std::uint64_t gaps = 0;
  std::uint64_t restarts = 0;
  std::uint64_t stale = 0;       // seq at or below one already seen in this run (duplicates)
  std::uint64_t topic_overflow = 0;  // events dropped: more topics than max_topics
  std::uint64_t reconnects = 0;  // dropped connections ZeroMQ gave up (oversized frame) and we made again
  std::uint64_t recovered = 0;   // sum of TopicState::recovered
  std::uint64_t untrusted = 0;   // sum of TopicState::untrusted
  std::uint64_t replay_unanswered = 0;  // replay requests the publisher did not answer in time
  std::uint64_t catch_ups = 0;   // catch-ups answered by the publisher
  // Connections the security handshake ended: the publisher refused our
  // CURVE key or address, or one side has CURVE and the other not.
  std::uint64_t handshake_failures = 0;
};
// Counters saturate at INT64_MAX (a hostile seq cannot wrap them, and every
// value fits the signed 64-bit integers of SQLite and JSON readers).
inline constexpr std::uint64_t kCounterMax = static_cast<std::uint64_t>(INT64_MAX);

struct Received {
  Event event;
  std::uint64_t missed_before = 0;  // events of this topic lost just before this one
  bool publisher_restarted = false; // first event of a new run on this topic
  bool from_snapshot = false;
  bool replayed = false;            // recovered from the publisher's history
};

class Subscriber {
 public:
  explicit Subscriber(SubscriberOptions options);
  ~Subscriber();
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  // Next well-formed event, or nullopt when `timeout` passes first. Malformed
  // messages are counted and skipped, never returned and never thrown.
  std::optional<Received> next(std::chrono::milliseconds timeout);

  // Late-joiner state: the newest event of every topic, from the publisher's
  // snapshot socket. Empty when none is configured or it did not answer.
  std::vector<Received> snapshot(std::chrono::milliseconds timeout);

  // Where this subscriber stood on a topic before it started (e.g. the last
  // event a recorder stored): events after it are replayed, a new run is a
  // restart. Call before next().
  void resume(const std::string& topic, const std::string& run, std::uint64_t last_seq);

  // Why an event was refused as untrusted (topic, reason), for logging.
  using UntrustedHandler = std::function<void(const Event& event, const std::string& reason)>;
  void onUntrusted(UntrustedHandler handler);

  // Why a connection's security handshake failed (endpoint, reason), for logging.
  using HandshakeFailedHandler = std::function<void(const std::string& endpoint, const std::string& reason)>;
  void onHandshakeFailed(HandshakeFailedHandler handler);

  const SubscriberStats& stats() const;
  const std::map<std::string, TopicState>& topics() const;

  // Optional hook for every skipped message (status, detail), for logging.
  using RejectHandler = std::function<void(DecodeStatus status, const std::string& detail)>;
  void onReject(RejectHandler handler);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace vigil::events
