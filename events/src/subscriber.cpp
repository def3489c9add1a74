#include "vigil/events/subscriber.hpp"

#include "vigil/events/publisher.hpp"

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <deque>

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
  UntrustedHandler on_untrusted;
  HandshakeFailedHandler on_handshake_failed;
  std::deque<Received> ready;          // admitted, in order, not yet handed out
  std::optional<zmq::socket_t> dealer;  // snapshot and replay requests
  bool catch_up_due = false;           // the bus (re)connected: ask what we missed
  // ...and again once the first message shows the subscription in place: an
  // event published between the first catch-up and then reached neither.
  bool catch_up_on_message = false;
  std::chrono::steady_clock::time_point catch_up_at{};
  std::optional<CurveKeyPair> curve_key;  // this client's, when on a CURVE bus
  CurveKey server_key{};

  void clientCurve(zmq::socket_t& target) const {
    if (!curve_key) return;
    target.set(zmq::sockopt::curve_serverkey, zmq::buffer(server_key));
    target.set(zmq::sockopt::curve_publickey, zmq::buffer(curve_key->public_key));
    target.set(zmq::sockopt::curve_secretkey, zmq::buffer(curve_key->secret_key));
  }

  void startMonitor() {
    const std::string address = "inproc://vigil-subscriber-monitor-" +
                                std::to_string(reinterpret_cast<std::uintptr_t>(this));
    const int events = ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_DELAYED |
                       ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                       ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
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
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH || event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
        event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
      addSaturating(stats.handshake_failures, 1);
      if (on_handshake_failed) {
        on_handshake_failed(endpoint, event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                                          ? "the publisher refused this subscriber's CURVE key or address"
                                          : "the security handshake failed (CURVE on one side only, or wrong "
                                            "server key)");
      }
      return;
    }
    if (event == ZMQ_EVENT_DISCONNECTED) {
      // ZeroMQ announces its own retry at once (CONNECT_RETRIED); a second
      // and a reconnect interval without it means it gave the endpoint up.
      dropped[endpoint] = std::chrono::steady_clock::now() + options.reconnect_interval + kReconnectGrace;
    } else {
      dropped.erase(endpoint);
      if (event == ZMQ_EVENT_CONNECTED && options.catch_up) {
        catch_up_due = true;
        catch_up_on_message = true;
        catch_up_at = std::chrono::steady_clock::now();
      }
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

  // --- replay and confirmation (docs/EVENTS.md section 6) ---

  // What the publisher answered about one topic and run.
  struct Replay {
    bool answered = false;
    bool unknown_run = false;
    std::uint64_t newest = 0;
    std::vector<Event> events;  // increasing seq, within the range asked
  };

  zmq::socket_t& requestSocket() {
    if (!dealer) {
      dealer.emplace(context, zmq::socket_type::dealer);
      dealer->set(zmq::sockopt::linger, 0);
      dealer->set(zmq::sockopt::reconnect_ivl, static_cast<int>(options.reconnect_interval.count()));
      dealer->set(zmq::sockopt::reconnect_ivl_max, static_cast<int>(options.reconnect_interval_max.count()));
      // Every frame of a reply is one event (or a short field): bounded like one.
      dealer->set(zmq::sockopt::maxmsgsize,
                  static_cast<std::int64_t>(std::min<std::size_t>(options.limits.max_bytes, INT64_MAX)));
      clientCurve(*dealer);
      dealer->connect(options.snapshot_endpoint);
    }
    return *dealer;
  }

  // One request on the snapshot socket; nullopt when no reply came in time.
  // A request that timed out is made once more on a new socket: the old one
  // may still get the late reply, which would then answer the wrong question.
  std::optional<std::vector<zmq::message_t>> request(const std::vector<std::string>& frames) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (auto reply = requestOnce(frames)) return reply;
      dealer.reset();
    }
    return std::nullopt;
  }

  std::optional<std::vector<zmq::message_t>> requestOnce(const std::vector<std::string>& frames) {
    zmq::socket_t& requests = requestSocket();
    try {
      std::vector<zmq::const_buffer> parts;
      for (const auto& frame : frames) parts.push_back(zmq::buffer(frame));
      if (!zmq::send_multipart(requests, parts, zmq::send_flags::dontwait)) return std::nullopt;
      zmq::pollitem_t item{requests.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, options.replay_timeout) <= 0) return std::nullopt;
      std::vector<zmq::message_t> reply;
      if (!zmq::recv_multipart(requests, std::back_inserter(reply))) return std::nullopt;
      return reply;
    } catch (const zmq::error_t& error) {
      if (error.num() == EINTR) throw;  // a signal: the caller's loop decides
      return std::nullopt;
    }
  }

  // Asks the publisher for the events of `topic` in `run` with seq in
  // [from, to], in as many requests as the reply cap needs.
  Replay fetch(const std::string& topic, const std::string& run, std::uint64_t from, std::uint64_t to) {
    Replay result;
    for (std::uint64_t cursor = from; cursor <= to;) {
      auto reply = request({std::string(kReplayRequest), std::string(kReplayVersion), topic, run,
                            std::to_string(cursor), std::to_string(to)});
      if (!reply) {
        addSaturating(stats.replay_unanswered, 1);
        return result;
      }
      const auto& parts = *reply;
      const auto newest = parts.size() >= 7 ? parseSeq(parts[6].to_string_view()) : std::nullopt;
      if (parts.size() < 7 || parts[0].to_string_view() != kReplayReply ||
          parts[1].to_string_view() != kReplayVersion || parts[2].to_string_view() != topic || !newest) {
        reject(DecodeStatus::kMalformed, "bad replay reply for " + topic);
        return result;
      }
      const auto status = parts[3].to_string_view();
      if (status == kReplayUnknownRun) {
        result.answered = true;
        result.unknown_run = true;
        return result;
      }
      if (status != kReplayOk) {
        reject(DecodeStatus::kMalformed, "replay refused for " + topic + ": " + std::string(status));
        return result;
      }
      result.answered = true;
      result.newest = *newest;
      std::size_t taken = 0;
      for (std::size_t i = 7; i < parts.size(); ++i, ++taken) {
        DecodeResult decoded = decode(topic, parts[i].data(), parts[i].size(), options.limits);
        if (decoded.status != DecodeStatus::kOk) {
          reject(decoded.status, decoded.detail);
          continue;
        }
        const Header& header = decoded.event->header;
        const bool in_order = result.events.empty() || header.seq > result.events.back().header.seq;
        if (header.run != run || header.seq < cursor || header.seq > to || !in_order) {
          reject(DecodeStatus::kMalformed, "replayed event outside the range asked for " + topic);
          continue;
        }
        result.events.push_back(std::move(*decoded.event));
      }
      // A full reply may have more behind it.
      if (taken < kReplayMaxEvents || result.events.empty()) return result;
      cursor = result.events.back().header.seq + 1;
    }
    return result;
  }

  static std::optional<std::uint64_t> parseSeq(std::string_view text) {
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
  }

  void untrusted(TopicState& topic, const Event& event, const std::string& reason) {
    addSaturating(topic.untrusted, 1);
    addSaturating(stats.untrusted, 1);
    if (on_untrusted) on_untrusted(event, reason);
  }

  // Sequence accounting for one event that is handed out, in order.
  void deliver(TopicState& topic, Event event, bool from_snapshot, bool replayed) {
    Received received{std::move(event), 0, false, from_snapshot, replayed};
    const Header& header = received.event.header;
    if (topic.run.empty()) {
      // First sight of this topic: whatever came before we never subscribed to.
      topic.run = header.run;
    } else {
      if (topic.run != header.run) {
        // A new run: the publisher restarted and counts from 1 again.
        topic.run = header.run;
        topic.last_seq = 0;
        addSaturating(topic.restarts, 1);
        addSaturating(stats.restarts, 1);
        received.publisher_restarted = true;
      }
      if (header.seq - 1 > topic.last_seq) {
        received.missed_before = header.seq - topic.last_seq - 1;
        addSaturating(topic.missed, received.missed_before);
        addSaturating(topic.gaps, 1);
        addSaturating(stats.missed, received.missed_before);
        addSaturating(stats.gaps, 1);
      }
    }
    topic.last_seq = header.seq;
    topic.suspect_seq = 0;
    addSaturating(topic.received, 1);
    addSaturating(stats.received, 1);
    if (replayed) {
      addSaturating(topic.recovered, 1);
      addSaturating(stats.recovered, 1);
    }
    ready.push_back(std::move(received));
  }

  // Decides what one received event means for its topic and queues, in seq
  // order, what is to be handed out: replayed events first when a gap, a new
  // topic or a new run asks for them, then the event itself, unless the
  // publisher says it never sent it.
  void admit(Event event, bool from_snapshot) {
    auto found = topics.find(event.topic);
    if (found == topics.end()) {
      if (topics.size() >= options.max_topics) {
        reject(DecodeStatus::kTooManyTopics,
               "topic " + event.topic + " is beyond the " + std::to_string(options.max_topics) +
                   " topics tracked");
        return;
      }
      found = topics.emplace(event.topic, TopicState{}).first;
    }
    TopicState& topic = found->second;
    const Header& header = event.header;
    const bool first_sight = topic.run.empty();
    const bool new_run = !first_sight && topic.run != header.run;
    if (!first_sight && !new_run && header.seq <= topic.last_seq) {
      addSaturating(stats.stale, 1);
      return;
    }
    const std::uint64_t from = first_sight || new_run ? 1 : topic.last_seq + 1;
    if (!first_sight && !new_run && header.seq == from) {
      deliver(topic, std::move(event), from_snapshot, false);  // the common case: no question asked
      return;
    }
    if (!options.snapshot_endpoint.empty() && header.seq == 0) {
      untrusted(topic, event, "seq 0 is never published (seqs start at 1)");
      return;
    }
    if (!options.snapshot_endpoint.empty()) {
      Replay replay = fetch(event.topic, header.run, from, header.seq);
      if (replay.answered) {
        if (replay.unknown_run) {
          untrusted(topic, event, "run " + header.run + " is not the publisher's");
          return;
        }
        if (header.seq > replay.newest) {
          untrusted(topic, event, "seq " + std::to_string(header.seq) + " was never published (newest is " +
                                      std::to_string(replay.newest) + ")");
          return;
        }
        for (Event& missed : replay.events) {
          if (missed.header.seq < header.seq) deliver(topic, std::move(missed), false, true);
        }
        deliver(topic, std::move(event), from_snapshot, false);
        return;
      }
    }
    // Nobody to ask: a jump too large to be a loss must be followed before it counts.
    if (!first_sight && !new_run && header.seq - topic.last_seq > options.max_unconfirmed_gap &&
        (topic.suspect_seq == 0 || header.seq != topic.suspect_seq + 1)) {
      topic.suspect_seq = header.seq;
      untrusted(topic, event, "seq jumps from " + std::to_string(topic.last_seq) + " to " +
                                  std::to_string(header.seq) + " and the publisher did not confirm it");
      return;
    }
    deliver(topic, std::move(event), from_snapshot, false);
  }

  void admitParts(const zmq::message_t& topic, const zmq::message_t& body, bool from_snapshot) {
    DecodeResult result = decode(topic.to_string_view(), body.data(), body.size(), options.limits);
    if (result.status != DecodeStatus::kOk) {
      reject(result.status, result.detail);
      return;
    }
    admit(std::move(*result.event), from_snapshot);
  }

  // Asks for the newest event of every topic and admits them: known topics
  // behind the publisher are replayed, new ones from their first event held.
  bool catchUp() {
    const std::string prefix = options.topic_prefixes.size() == 1 ? options.topic_prefixes[0] : "";
    auto reply = request({std::string(kSnapshotRequest), prefix});
    if (!reply) return false;
    const auto& parts = *reply;
    if (parts.empty() || parts[0].to_string_view() != kSnapshotReply || parts.size() % 2 != 1) {
      reject(DecodeStatus::kMalformed, "bad snapshot reply");
      return false;
    }
    for (std::size_t i = 1; i + 1 < parts.size(); i += 2) {
      bool wanted = false;
      const auto name = parts[i].to_string_view();
      for (const auto& wanted_prefix : options.topic_prefixes) {
        wanted = wanted || name.compare(0, wanted_prefix.size(), wanted_prefix) == 0;
      }
      if (wanted) admitParts(parts[i], parts[i + 1], true);
    }
    addSaturating(stats.catch_ups, 1);
    return true;
  }

  void catchUpIfDue() {
    if (!catch_up_due || options.snapshot_endpoint.empty() || std::chrono::steady_clock::now() < catch_up_at) {
      return;
    }
    if (catchUp()) {
      catch_up_due = false;
    } else {
      catch_up_at = std::chrono::steady_clock::now() + options.reconnect_interval_max;
    }
  }
};

Subscriber::Subscriber(SubscriberOptions options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = std::move(options);
  if (s.options.curve.enabled()) {
    if (s.options.curve.secret_key_file.empty() || s.options.curve.server_key_file.empty()) {
      throw std::runtime_error("a CURVE subscriber needs both its own secret key and the publisher's public key");
    }
    s.curve_key = readCurveSecretKey(s.options.curve.secret_key_file);
    s.server_key = readCurveKey(s.options.curve.server_key_file);
    s.clientCurve(s.socket);
  }
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
void Subscriber::onUntrusted(UntrustedHandler handler) { state_->on_untrusted = std::move(handler); }
void Subscriber::onHandshakeFailed(HandshakeFailedHandler handler) {
  state_->on_handshake_failed = std::move(handler);
}

void Subscriber::resume(const std::string& topic, const std::string& run, std::uint64_t last_seq) {
  TopicState& state = state_->topics[topic];
  state.run = run;
  state.last_seq = last_seq;
}

std::optional<Received> Subscriber::next(std::chrono::milliseconds timeout) {
  State& s = *state_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    s.catchUpIfDue();
    if (!s.ready.empty()) {
      Received received = std::move(s.ready.front());
      s.ready.pop_front();
      return received;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (s.catch_up_due && !s.options.snapshot_endpoint.empty()) {
      left = std::min(left, std::chrono::duration_cast<std::chrono::milliseconds>(
                                s.catch_up_at - std::chrono::steady_clock::now()) +
                                std::chrono::milliseconds(1));
    }
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
    s.admitParts(topic, body, false);
    if (s.catch_up_on_message) {
      s.catch_up_on_message = false;
      s.catch_up_due = true;
      s.catch_up_at = std::chrono::steady_clock::now();
    }
    if (s.ready.empty() && std::chrono::steady_clock::now() >= deadline) return std::nullopt;
  }
}

std::vector<Received> Subscriber::snapshot(std::chrono::milliseconds timeout) {
  State& s = *state_;
  std::vector<Received> events;
  if (s.options.snapshot_endpoint.empty()) return events;
  const auto saved = s.options.replay_timeout;
  s.options.replay_timeout = timeout;
  const bool answered = s.catchUp();
  s.options.replay_timeout = saved;
  if (answered) s.catch_up_due = false;
  // Everything admitted so far, in order: events read earlier and not yet
  // handed out stay ahead of the snapshot's.
  for (auto& received : s.ready) events.push_back(std::move(received));
  s.ready.clear();
  return events;
}

}  // namespace vigil::events
