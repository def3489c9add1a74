// Notification sinks, each on its own worker thread with its own bounded
// queue: a slow or failing sink (a webhook timing out, Telegram refusing)
// never blocks another sink, the rules engine or the bus.
#pragma once

#include "vigil/notifier/config.hpp"
#include "vigil/notifier/notification.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace vigil::notifier {

struct SinkStats {
  std::uint64_t queued = 0;
  std::uint64_t delivered = 0;
  std::uint64_t failed = 0;    // gave up after the retries
  std::uint64_t dropped = 0;   // queue full: oldest notification dropped
  std::uint64_t attempts = 0;
};

// One delivery mechanism. deliver() runs on the sink's worker thread and
// returns true on success; `stopping` turns true when the process shuts down
// (retry loops should give up waiting).
class Sink {
 public:
  virtual ~Sink() = default;
  virtual bool deliver(const Notification& notification, const std::atomic<bool>& stopping) = 0;
};

std::unique_ptr<Sink> makeSink(const SinkConfig& config);

// Telegram chat commands (/subscribe, /unsubscribe, /list), read with
// getUpdates on the sink's own polling thread and handed to the main loop.
struct ChatCommand {
  std::string sink;
  std::int64_t chat_id = 0;
  std::string text;
};

class Dispatcher {
 public:
  explicit Dispatcher(const std::vector<SinkConfig>& sinks);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Non-blocking: queues to every named sink (every sink if none is named).
  void dispatch(const Notification& notification);
  // Sends a plain text reply to one chat through a telegram sink (queued).
  void reply(const std::string& sink, std::int64_t chat_id, const std::string& text);

  // Chat commands received since the last call (never blocks).
  std::vector<ChatCommand> takeCommands();

  // Lets the queues drain up to `timeout`, then stops the workers.
  void stop(std::chrono::milliseconds timeout);

  std::map<std::string, SinkStats> stats() const;

 private:
  struct Worker;
  struct Poller;
  std::map<std::string, std::unique_ptr<Worker>> workers_;
  std::vector<std::unique_ptr<Poller>> pollers_;
};

}  // namespace vigil::notifier
