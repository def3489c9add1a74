#include "vigil/events/publisher.hpp"

#include "zap_handler.hpp"

#include <sys/stat.h>
#include <zmq.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

namespace vigil::events {

namespace {

// The file system path of an ipc:// endpoint; empty for anything else, for
// abstract sockets (@name) and for the wildcard.
std::string ipcPath(const std::string& endpoint) {
  constexpr std::string_view kIpc = "ipc://";
  if (endpoint.compare(0, kIpc.size(), kIpc) != 0) return "";
  std::string path = endpoint.substr(kIpc.size());
  if (path.empty() || path[0] == '@' || path == "*") return "";
  return path;
}

// ZeroMQ unlinks whatever is at an ipc:// path before binding: a typo'd
// endpoint would delete a file. Only a stale socket may be replaced.
void checkIpcPath(const std::string& endpoint) {
  const std::string path = ipcPath(endpoint);
  struct stat info {};
  if (path.empty() || ::lstat(path.c_str(), &info) != 0 || S_ISSOCK(info.st_mode)) return;
  throw std::runtime_error("cannot bind '" + endpoint + "': " + path +
                           " exists and is not a socket (binding would delete it)");
}

// The socket file follows the umask (0755 was seen): owner only, so that no
// other local user reads the events or asks for snapshots.
void restrictIpcSocket(const std::string& endpoint) {
  const std::string path = ipcPath(endpoint);
  if (!path.empty() && ::chmod(path.c_str(), S_IRUSR | S_IWUSR) != 0) {
    throw std::runtime_error("cannot restrict " + path + " to its owner: " + std::strerror(errno));
  }
}

}  // namespace

namespace {

struct QueuedEvent {
  std::string topic;
  Header header;
  std::string body;
  std::size_t body_pairs = 0;
};

// How long the sender thread sleeps when idle before it looks at snapshot
// requests again. Events wake it at once; only snapshot replies wait this long.
constexpr auto kIdlePoll = std::chrono::milliseconds(10);
// On shutdown, ZeroMQ may keep trying to deliver queued messages this long.
constexpr int kLingerMs = 500;

using Clock = std::chrono::steady_clock;

// One sent event, kept for replay: its seq, when it was sent, its bytes.
struct HistoryEntry {
  std::uint64_t seq = 0;
  Clock::time_point sent_at;
  std::string encoded;
};

struct TopicHistory {
  std::deque<HistoryEntry> events;  // strictly increasing seq
  std::size_t bytes = 0;
  std::uint64_t newest = 0;         // highest seq handed to ZeroMQ
};

// A decimal seq as the replay protocol writes it; nullopt for anything else.
std::optional<std::uint64_t> parseSeq(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

}  // namespace

struct Publisher::State {
  PublisherOptions options;
  std::string run_id = newRunId();
  std::string bound_endpoint;
  std::string bound_snapshot_endpoint;

  zmq::context_t context{1};
  // Before the sockets: it must be bound before they accept anyone, and
  // outlive them (members are destroyed in reverse order).
  std::unique_ptr<ZapHandler> zap;
  zmq::socket_t pub{context, zmq::socket_type::pub};
  std::optional<zmq::socket_t> snapshot;

  // Producers only touch this queue (briefly, under the mutex); the sockets
  // belong to the sender thread alone, as ZeroMQ sockets are not thread-safe.
  mutable std::mutex mutex;
  std::condition_variable wake;
  std::condition_variable drained;
  std::deque<QueuedEvent> queue;
  std::unordered_map<std::string, std::uint64_t> seq_by_topic;
  bool stopping = false;
  bool sending = false;  // the sender holds an event taken off the queue
  PublisherStats stats;

  // Sender-thread only: what was sent per topic, for snapshots (the newest
  // entry) and replays (all of it).
  std::map<std::string, TopicHistory> history;

  std::thread sender;

  void run();
  void remember(const std::string& topic, std::uint64_t seq, std::string encoded);
  void serveSnapshots();
  void replyReplay(const std::vector<zmq::message_t>& request);
};

namespace {

std::mutex& registryMutex() {
  static std::mutex mutex;
  return mutex;
}

std::map<std::string, std::weak_ptr<Publisher>>& registry() {
  static std::map<std::string, std::weak_ptr<Publisher>> publishers;
  return publishers;
}

}  // namespace

std::shared_ptr<Publisher> Publisher::acquire(const PublisherOptions& options) {
  std::lock_guard<std::mutex> lock(registryMutex());
  auto& publishers = registry();
  // Asked by the requested or the resolved endpoint: either way, one socket.
  for (auto it = publishers.begin(); it != publishers.end();) {
    auto existing = it->second.lock();
    if (!existing) {
      it = publishers.erase(it);
      continue;
    }
    if (it->first == options.endpoint || existing->boundEndpoint() == options.endpoint) {
      return existing;
    }
    ++it;
  }
  std::shared_ptr<Publisher> created(new Publisher(options));
  publishers[options.endpoint] = created;
  return created;
}

Publisher::Publisher(const PublisherOptions& options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = options;
  CurveKeyPair server_key;
  if (options.curve.enabled()) {
    server_key = readCurveSecretKey(options.curve.secret_key_file);
    std::vector<AddressRange> allow;
    for (const std::string& entry : options.curve.allow) allow.push_back(parseAddressRange(entry));
    s.zap = std::make_unique<ZapHandler>(s.context, readAuthorizedKeys(options.curve.authorized_keys_dir),
                                         std::move(allow), options.curve.on_refused);
  }
  auto serveCurve = [&](zmq::socket_t& socket) {
    if (!s.zap) return;
    socket.set(zmq::sockopt::curve_server, 1);
    socket.set(zmq::sockopt::curve_secretkey, zmq::buffer(server_key.secret_key));
  };
  try {
    s.pub.set(zmq::sockopt::sndhwm, options.send_high_water_mark);
    serveCurve(s.pub);
    s.pub.set(zmq::sockopt::linger, kLingerMs);
    checkIpcPath(options.endpoint);
    s.pub.bind(options.endpoint);
    s.bound_endpoint = s.pub.get(zmq::sockopt::last_endpoint);
    restrictIpcSocket(s.bound_endpoint);
    if (!options.snapshot_endpoint.empty()) {
      s.snapshot.emplace(s.context, zmq::socket_type::router);
      s.snapshot->set(zmq::sockopt::linger, 0);
      s.snapshot->set(zmq::sockopt::router_mandatory, 0);
      serveCurve(*s.snapshot);
      checkIpcPath(options.snapshot_endpoint);
      s.snapshot->bind(options.snapshot_endpoint);
      s.bound_snapshot_endpoint = s.snapshot->get(zmq::sockopt::last_endpoint);
      restrictIpcSocket(s.bound_snapshot_endpoint);
    }
  } catch (const zmq::error_t& error) {
    throw std::runtime_error("cannot bind event bus endpoint '" + options.endpoint + "': " +
                             error.what());
  }
  // Sockets were created on this thread; starting the thread is the full memory
  // barrier ZeroMQ requires before a socket moves to another thread.
  s.sender = std::thread([&s] { s.run(); });
}

Publisher::~Publisher() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stopping = true;
  }
  state_->wake.notify_all();
  state_->sender.join();
}

const std::string& Publisher::requestedEndpoint() const { return state_->options.endpoint; }
const std::string& Publisher::boundEndpoint() const { return state_->bound_endpoint; }
const std::string& Publisher::boundSnapshotEndpoint() const {
  return state_->bound_snapshot_endpoint;
}
const std::string& Publisher::runId() const { return state_->run_id; }

bool Publisher::publish(Header header, const Body& body) {
  QueuedEvent event;
  event.topic = topicFor(header.kind, header.source);
  event.body.assign(body.bytes());
  event.body_pairs = body.pairs();
  header.run = state_->run_id;
  event.header = std::move(header);
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    // The sequence number is taken even when the event is dropped here, so a
    // subscriber sees the loss as a gap, exactly as for drops inside ZeroMQ.
    event.header.seq = ++state_->seq_by_topic[event.topic];
    if (state_->queue.size() >= state_->options.queue_capacity) {
      ++state_->stats.dropped;
      return false;
    }
    state_->queue.push_back(std::move(event));
    ++state_->stats.published;
  }
  state_->wake.notify_one();
  return true;
}

bool Publisher::flush(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(state_->mutex);
  return state_->drained.wait_for(lock, timeout,
                                  [&] { return state_->queue.empty() && !state_->sending; });
}

PublisherStats Publisher::stats() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  PublisherStats stats = state_->stats;
  if (state_->zap) stats.clients_refused = state_->zap->refused();
  return stats;
}

void Publisher::State::run() {
  for (;;) {
    QueuedEvent event;
    {
      std::unique_lock<std::mutex> lock(mutex);
      if (queue.empty()) {
        drained.notify_all();
        wake.wait_for(lock, kIdlePoll, [&] { return stopping || !queue.empty(); });
      }
      if (queue.empty()) {
        if (stopping) break;
        lock.unlock();
        serveSnapshots();
        continue;
      }
      event = std::move(queue.front());
      queue.pop_front();
      sending = true;
    }

    std::string encoded = encode(event.header, event.body, event.body_pairs);
    bool ok = false;
    try {
      // PUB never blocks: at the high-water mark ZeroMQ drops, and the per-topic
      // seq lets subscribers count the loss.
      ok = pub.send(zmq::buffer(event.topic), zmq::send_flags::sndmore | zmq::send_flags::dontwait)
               .has_value() &&
           pub.send(zmq::buffer(encoded), zmq::send_flags::dontwait).has_value();
    } catch (const zmq::error_t&) {
      ok = false;
    }
    if (snapshot) remember(event.topic, event.header.seq, std::move(encoded));
    {
      std::lock_guard<std::mutex> lock(mutex);
      sending = false;
      if (ok) {
        ++stats.sent;
      } else {
        ++stats.send_failures;
      }
    }
    serveSnapshots();
  }
  drained.notify_all();
}

void Publisher::State::serveSnapshots() {
  if (!snapshot) return;
  // Bounded: at most a few requests per wake-up, so publishing keeps flowing.
  for (int i = 0; i < 8; ++i) {
    std::vector<zmq::message_t> request;
    try {
      zmq::message_t part;
      if (!snapshot->recv(part, zmq::recv_flags::dontwait)) return;
      request.push_back(std::move(part));
      while (request.back().more() && request.size() < 8) {
        zmq::message_t next;
        if (!snapshot->recv(next, zmq::recv_flags::dontwait)) break;
        request.push_back(std::move(next));
      }
      // Drain whatever a hostile client sent beyond the parts we read.
      while (request.back().more()) {
        zmq::message_t rest;
        if (!snapshot->recv(rest, zmq::recv_flags::dontwait)) break;
        if (!rest.more()) break;
      }
      if (request.size() >= 2 && request[1].to_string_view() == kReplayRequest) {
        replyReplay(request);
        continue;
      }
      if (request.size() < 2 || request[1].to_string_view() != kSnapshotRequest) continue;
      const std::string prefix = request.size() >= 3 ? request[2].to_string() : std::string();
      std::vector<zmq::const_buffer> reply;
      reply.push_back(zmq::buffer(request[0].data(), request[0].size()));
      reply.push_back(zmq::buffer(kSnapshotReply));
      for (const auto& [topic, kept] : history) {
        if (topic.compare(0, prefix.size(), prefix) != 0 || kept.events.empty()) continue;
        reply.push_back(zmq::buffer(topic));
        reply.push_back(zmq::buffer(kept.events.back().encoded));
      }
      for (std::size_t index = 0; index < reply.size(); ++index) {
        const auto flags = index + 1 < reply.size()
                               ? zmq::send_flags::sndmore | zmq::send_flags::dontwait
                               : zmq::send_flags::dontwait;
        snapshot->send(reply[index], flags);
      }
      std::lock_guard<std::mutex> lock(mutex);
      ++stats.snapshots_served;
    } catch (const zmq::error_t&) {
      return;
    }
  }
}

void Publisher::State::remember(const std::string& topic, std::uint64_t seq, std::string encoded) {
  TopicHistory& kept = history[topic];
  const auto now = Clock::now();
  kept.bytes += encoded.size();
  kept.events.push_back({seq, now, std::move(encoded)});
  kept.newest = seq;
  // Oldest first, but never the newest: it is the topic's snapshot.
  while (kept.events.size() > 1 &&
         (kept.events.size() > options.history_max_events || kept.bytes > options.history_max_bytes ||
          now - kept.events.front().sent_at > options.history_duration)) {
    kept.bytes -= kept.events.front().encoded.size();
    kept.events.pop_front();
  }
}

void Publisher::State::replyReplay(const std::vector<zmq::message_t>& request) {
  // request: identity, "REPLAY", version, topic, run, from, to
  std::string_view status = kReplayOk;
  std::optional<std::uint64_t> from, to;
  if (request.size() != 7 || request[2].to_string_view() != kReplayVersion) {
    status = kReplayBadRequest;
  } else {
    from = parseSeq(request[5].to_string_view());
    to = parseSeq(request[6].to_string_view());
    if (!from || !to) {
      status = kReplayBadRequest;
    } else if (request[4].to_string_view() != run_id) {
      status = kReplayUnknownRun;
    }
  }
  const std::string topic = request.size() > 3 ? request[3].to_string() : std::string();
  const auto found = history.find(topic);
  const TopicHistory* kept = found != history.end() ? &found->second : nullptr;
  const std::string oldest =
      std::to_string(kept && !kept->events.empty() ? kept->events.front().seq : 0);
  const std::string newest = std::to_string(kept ? kept->newest : 0);

  std::vector<zmq::const_buffer> reply{zmq::buffer(request[0].data(), request[0].size()),
                                       zmq::buffer(kReplayReply), zmq::buffer(kReplayVersion),
                                       zmq::buffer(topic), zmq::buffer(status), zmq::buffer(run_id),
                                       zmq::buffer(oldest), zmq::buffer(newest)};
  if (status == kReplayOk && kept) {
    const std::uint64_t last = *to == 0 ? kept->newest : *to;
    auto it = std::lower_bound(kept->events.begin(), kept->events.end(), *from,
                               [](const HistoryEntry& entry, std::uint64_t seq) { return entry.seq < seq; });
    for (std::size_t taken = 0; it != kept->events.end() && it->seq <= last && taken < kReplayMaxEvents;
         ++it, ++taken) {
      reply.push_back(zmq::buffer(it->encoded));
    }
  }
  for (std::size_t index = 0; index < reply.size(); ++index) {
    const auto flags = index + 1 < reply.size() ? zmq::send_flags::sndmore | zmq::send_flags::dontwait
                                                : zmq::send_flags::dontwait;
    snapshot->send(reply[index], flags);
  }
  std::lock_guard<std::mutex> lock(mutex);
  ++stats.replays_served;
}

}  // namespace vigil::events
