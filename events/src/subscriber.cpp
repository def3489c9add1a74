#include "vigil/events/subscriber.hpp"

#include "vigil/events/publisher.hpp"

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace vigil::events {

namespace {

// How long after a dropped connection ZeroMQ must have announced its own
// reconnect attempt (beyond the reconnect interval) before we make one.
constexpr std::chrono::milliseconds kReconnectGrace{1000};

// Adds without wrapping: a counter stops at kCounterMax.
void addSaturating(std::uint64_t& counter, std::uint64_t amount) {
  counter = amount >= kCounterMax - std::min(counter, kCounterMax) ? kCounterMax : counter + amount;
}

}  // namespace

struct Subscriber::State {
  SubscriberOptions options;
  zmq::context_t context{1};
  zmq::socket_t socket{context, zmq::socket_type::sub};
  // Connection events of `socket`. ZeroMQ ends a connection whose peer sent a
  // frame above ZMQ_MAXMSGSIZE as a protocol error and, unlike any other
  // drop, never reconnects it: one hostile frame would cut the subscriber off
  // for good. So a drop that ZeroMQ does not follow with a reconnect attempt
  // within a grace period is reconnected here. Only then: disconnecting a
  // session that is still alive could tear its pipe in the middle of a
  // multipart message (libzmq asserts in fq.cpp).
  zmq::socket_t monitor{context, zmq::socket_type::pair};
  std::map<std::string, std::chrono::steady_clock::time_point> dropped;  // endpoint -> reconnect deadline
  SubscriberStats stats;
  std::map<std::string, TopicState> topics;
  RejectHandler on_reject;

  void startMonitor() {
    const std::string address = "inproc://vigil-subscriber-monitor-" +
                                std::to_string(reinterpret_cast<std::uintptr_t>(this));
    const int events = ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_DELAYED |
                       ZMQ_EVENT_CONNECT_RETRIED;
    if (zmq_socket_monitor(socket.handle(), address.c_str(), events) != 0) {
      throw std::runtime_error(std::string("cannot monitor the subscriber socket: ") + zmq_strerror(zmq_errno()));
    }
    monitor.set(zmq::sockopt::linger, 0);
    monitor.connect(address);
  }

  void onMonitorEvent() {
    std::vector<zmq::message_t> parts;
    if (!zmq::recv_multipart(monitor, std::back_inserter(parts), zmq::recv_flags::dontwait) ||
        parts.size() != 2 || parts[0].size() < sizeof(std::uint16_t)) {
      return;
    }
    std::uint16_t event = 0;
    std::memcpy(&event, parts[0].data(), sizeof event);
    const std::string endpoint = parts[1].to_string();
    if (event == ZMQ_EVENT_DISCONNECTED) {
      // ZeroMQ announces its own retry at once (CONNECT_RETRIED); a second
      // and a reconnect interval without it means it gave the endpoint up.
      dropped[endpoint] = std::chrono::steady_clock::now() + options.reconnect_interval + kReconnectGrace;
    } else {
      dropped.erase(endpoint);
    }
  }

  // Connects afresh the endpoints ZeroMQ gave up; returns the time until the
  // next one is due (for the poll), or `limit`.
  std::chrono::milliseconds reviveDropped(std::chrono::milliseconds limit) {
    const auto now = std::chrono::steady_clock::now();
    for (auto it = dropped.begin(); it != dropped.end();) {
      if (now < it->second) {
        limit = std::min(limit, std::chrono::duration_cast<std::chrono::milliseconds>(it->second - now) +
                                    std::chrono::milliseconds(1));
        ++it;
        continue;
      }
      const bool ours = std::find(options.endpoints.begin(), options.endpoints.end(), it->first) !=
                        options.endpoints.end();
      if (ours) {
        try {
          socket.disconnect(it->first);  // the dead session's bookkeeping
        } catch (const zmq::error_t&) {
        }
        socket.connect(it->first);
        addSaturating(stats.reconnects, 1);
      }
      it = dropped.erase(it);
    }
    return limit;
  }

  void reject(DecodeStatus status, const std::string& detail) {
    switch (status) {
      case DecodeStatus::kTooLarge: addSaturating(stats.too_large, 1); break;
      case DecodeStatus::kNewerVersion: addSaturating(stats.newer_version, 1); break;
      case DecodeStatus::kTooManyTopics: addSaturating(stats.topic_overflow, 1); break;
      default: addSaturating(stats.malformed, 1); break;
    }
    if (on_reject) on_reject(status, detail);
  }

  // Not exactly two frames: counted once, as bad framing (not also as malformed).
  void rejectFraming(const std::string& detail) {
    addSaturating(stats.bad_framing, 1);
    if (on_reject) on_reject(DecodeStatus::kMalformed, detail);
  }

  // Sequence accounting for one decoded event. False: stale, skip it.
  bool account(Received& received) {
    const Header& header = received.event.header;
    auto found = topics.find(received.event.topic);
    if (found == topics.end()) {
      if (topics.size() >= options.max_topics) {
        reject(DecodeStatus::kTooManyTopics,
               "topic " + received.event.topic + " is beyond the " + std::to_string(options.max_topics) +
                   " topics tracked");
        return false;
      }
      found = topics.emplace(received.event.topic, TopicState{}).first;
    }
    TopicState& topic = found->second;
    if (topic.received == 0 && topic.run.empty()) {
      // First sight of this topic: whatever came before we never subscribed to.
      topic.run = header.run;
    } else if (topic.run != header.run) {
      // A new run is a publisher restart, not lost messages.
      topic.run = header.run;
      addSaturating(topic.restarts, 1);
      addSaturating(stats.restarts, 1);
      received.publisher_restarted = true;
    } else if (header.seq <= topic.last_seq) {
      addSaturating(stats.stale, 1);
      return false;
    } else if (header.seq - 1 > topic.last_seq) {
      received.missed_before = header.seq - topic.last_seq - 1;
      addSaturating(topic.missed, received.missed_before);
      addSaturating(topic.gaps, 1);
      addSaturating(stats.missed, received.missed_before);
      addSaturating(stats.gaps, 1);
    }
    topic.last_seq = header.seq;
    addSaturating(topic.received, 1);
    addSaturating(stats.received, 1);
    return true;
  }

  std::optional<Received> decodeParts(const zmq::message_t& topic, const zmq::message_t& body,
                                      bool from_snapshot) {
    DecodeResult result = decode(topic.to_string_view(), body.data(), body.size(), options.limits);
    if (result.status != DecodeStatus::kOk) {
      reject(result.status, result.detail);
      return std::nullopt;
    }
    Received received{std::move(*result.event), 0, false, from_snapshot};
    if (!account(received)) return std::nullopt;
    return received;
  }
};

Subscriber::Subscriber(SubscriberOptions options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = std::move(options);
  s.socket.set(zmq::sockopt::rcvhwm, s.options.receive_high_water_mark);
  s.socket.set(zmq::sockopt::reconnect_ivl, static_cast<int>(s.options.reconnect_interval.count()));
  s.socket.set(zmq::sockopt::reconnect_ivl_max,
               static_cast<int>(s.options.reconnect_interval_max.count()));
  s.socket.set(zmq::sockopt::linger, 0);
  // Without it ZeroMQ reads a frame of any declared size into memory before
  // decode() can refuse it (300 MiB frames were received whole).
  const std::size_t max_frame =
      s.options.max_frame_bytes ? s.options.max_frame_bytes : 2 * s.options.limits.max_bytes;
  s.socket.set(zmq::sockopt::maxmsgsize,
               static_cast<std::int64_t>(std::min<std::size_t>(max_frame, INT64_MAX)));
  for (const auto& prefix : s.options.topic_prefixes) s.socket.set(zmq::sockopt::subscribe, prefix);
  s.startMonitor();
  for (const auto& endpoint : s.options.endpoints) {
    try {
      s.socket.connect(endpoint);
    } catch (const zmq::error_t& error) {
      throw std::runtime_error("cannot connect to '" + endpoint + "': " + error.what());
    }
  }
}

Subscriber::~Subscriber() = default;

const SubscriberStats& Subscriber::stats() const { return state_->stats; }
const std::map<std::string, TopicState>& Subscriber::topics() const { return state_->topics; }
void Subscriber::onReject(RejectHandler handler) { state_->on_reject = std::move(handler); }

std::optional<Received> Subscriber::next(std::chrono::milliseconds timeout) {
  State& s = *state_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    const auto wait = s.reviveDropped(std::max(left, std::chrono::milliseconds(0)));
    zmq::pollitem_t items[] = {{s.socket.handle(), 0, ZMQ_POLLIN, 0},
                               {s.monitor.handle(), 0, ZMQ_POLLIN, 0}};
    const int ready = zmq::poll(items, 2, wait);
    if (ready <= 0) {
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      continue;
    }
    if (items[1].revents & ZMQ_POLLIN) s.onMonitorEvent();
    if (!(items[0].revents & ZMQ_POLLIN)) {
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      continue;
    }

    zmq::message_t topic;
    zmq::message_t body;
    if (!s.socket.recv(topic, zmq::recv_flags::dontwait)) continue;
    if (!topic.more()) {
      s.rejectFraming("single-frame message");
      continue;
    }
    (void)s.socket.recv(body, zmq::recv_flags::none);  // multipart: the rest is already here
    if (body.more()) {
      // More than two frames: drop the whole message.
      zmq::message_t rest;
      do {
        (void)s.socket.recv(rest, zmq::recv_flags::none);
      } while (rest.more());
      s.rejectFraming("more than two frames");
      continue;
    }
    if (auto received = s.decodeParts(topic, body, false)) return received;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
  }
}

std::vector<Received> Subscriber::snapshot(std::chrono::milliseconds timeout) {
  State& s = *state_;
  std::vector<Received> events;
  if (s.options.snapshot_endpoint.empty()) return events;
  zmq::socket_t dealer(s.context, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  // One reply carries every topic's newest event: bounded by the topics
  // tracked, each at most limits.max_bytes.
  dealer.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(std::min<std::size_t>(
                                           s.options.limits.max_bytes, INT64_MAX)));
  dealer.connect(s.options.snapshot_endpoint);
  const std::string prefix = s.options.topic_prefixes.size() == 1 ? s.options.topic_prefixes[0] : "";
  std::array<zmq::const_buffer, 2> request{zmq::buffer(kSnapshotRequest), zmq::buffer(prefix)};
  if (!zmq::send_multipart(dealer, request, zmq::send_flags::dontwait)) return events;
  zmq::pollitem_t item{dealer.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, timeout) <= 0) return events;
  std::vector<zmq::message_t> parts;
  try {
    (void)zmq::recv_multipart(dealer, std::back_inserter(parts));
  } catch (const zmq::error_t&) {
    return events;
  }
  if (parts.empty() || parts[0].to_string_view() != kSnapshotReply || parts.size() % 2 != 1) {
    s.reject(DecodeStatus::kMalformed, "bad snapshot reply");
    return events;
  }
  for (std::size_t i = 1; i + 1 < parts.size(); i += 2) {
    bool wanted = false;
    const auto topic = parts[i].to_string_view();
    for (const auto& wanted_prefix : s.options.topic_prefixes) {
      wanted = wanted || topic.compare(0, wanted_prefix.size(), wanted_prefix) == 0;
    }
    if (!wanted) continue;
    if (auto received = s.decodeParts(parts[i], parts[i + 1], true)) {
      events.push_back(std::move(*received));
    }
  }
  return events;
}

}  // namespace vigil::events
