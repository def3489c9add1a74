#include "vigil/recorder/ingest.hpp"

#include "vigil/events/subscriber.hpp"
#include "vigil/recorder/store.hpp"
#include "vigil/subscribers/receive.hpp"
#include "vigil/subscribers/recovery.hpp"
#include "vigil/subscribers/shutdown.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <set>
#include <thread>

namespace vigil::recorder {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Longest single wait on the bus, so that signals are noticed promptly.
constexpr milliseconds kMaxWait{100};
constexpr milliseconds kFirstRetryBackoff{50};
// Events drained from the socket per loop turn before looking at the clock.
constexpr std::size_t kDrainBurst = 512;

class Ingest {
 public:
  explicit Ingest(const RecorderOptions& options)
      : options_(options), subscriber_(subscriberOptions(options)), recovery_(subscriber_) {
    subscriber_.onReject([this](events::DecodeStatus status, const std::string& detail) {
      // Rate-limited: a hostile publisher must not flood the log.
      if (++rejected_ <= 10 || rejected_ % 1000 == 0) {
        spdlog::warn("skipped a message ({}): {} [{} skipped so far]", events::toString(status),
                     detail, rejected_);
      }
    });
    if (!options.db_path.empty()) {
      store_.emplace(options.db_path, EventStore::Open::kCreate, options.busy_timeout, options.allow_symlink_db);
      // Carry on from the last stored event of every topic: what the publisher
      // sent meanwhile is replayed (within its history) or counted as lost.
      for (const TopicRecord& topic : store_->topics()) {
        subscriber_.resume(topic.topic, topic.run, static_cast<std::uint64_t>(topic.last_seq));
      }
    }
  }

  int run() {
    auto next_retention = Clock::now();
    while (!subscribers::shutdownRequested()) {
      receive();
      const auto now = Clock::now();
      if (flushDue(now)) flush(now);
      if ((options_.ttl || options_.max_bytes) && store_ && now >= next_retention) {
        retention();
        next_retention = now + options_.retention_interval;
      }
    }
    return shutdown();
  }

 private:
  static events::SubscriberOptions subscriberOptions(const RecorderOptions& options) {
    events::SubscriberOptions subscriber;
    subscriber.endpoints = options.endpoints;
    subscriber.topic_prefixes = options.topic_prefixes;
    subscriber.snapshot_endpoint = options.snapshot_endpoint;
    subscriber.curve = options.curve;
    return subscriber;
  }

  void receive() {
    if (pending_.size() >= options_.max_pending) {
      // Back-pressure: leave messages in ZeroMQ until the database takes writes.
      waitUntil(std::min(retry_at_, Clock::now() + kMaxWait));
      return;
    }
    milliseconds wait = kMaxWait;
    if (!pending_.empty()) {
      const auto due = std::max(first_pending_at_ + options_.flush_interval, retry_at_);
      wait = std::clamp(std::chrono::duration_cast<milliseconds>(due - Clock::now()),
                        milliseconds(0), kMaxWait);
    }
    // While the database takes writes, reading stops at a full batch, so the
    // open (unwritten) batch never exceeds batch_size; while it refuses writes,
    // reading goes on up to max_pending.
    const bool retrying = Clock::now() < retry_at_;
    const std::size_t limit = retrying ? options_.max_pending : options_.batch_size;
    for (std::size_t burst = 0; burst < kDrainBurst && (!store_ || pending_.size() < limit);
         ++burst) {
      auto received = subscribers::nextEvent(subscriber_, burst == 0 ? wait : milliseconds(0));
      if (!received) break;
      accept(*received);
    }
    if (print_pending_) {
      std::fflush(stdout);
      print_pending_ = false;
    }
  }

  void accept(const events::Received& received) {
    const events::Event& event = received.event;
    if (seen_topics_.insert(event.topic).second) {
      spdlog::info("recording topic {} (run {})", event.topic, event.header.run);
    }
    recovery_.note(received);
    if (options_.print) {
      std::string line = events::toJson(event.map());
      line += '\n';
      std::fwrite(line.data(), 1, line.size(), stdout);
      print_pending_ = true;
    }
    if (!store_) return;
    if (pending_.empty()) first_pending_at_ = Clock::now();
    pending_.push_back(makeIncoming(event, events::wallClockNowNs()));
    pending_.back().replayed = received.replayed;
  }

  bool flushDue(Clock::time_point now) const {
    if (pending_.empty() || now < retry_at_) return false;
    return pending_.size() >= options_.batch_size ||
           now >= first_pending_at_ + options_.flush_interval;
  }

  // Writes everything pending, one transaction per batch_size events. False
  // when the database refused (the rest stays pending for the retry).
  bool flush(Clock::time_point now) {
    while (!pending_.empty()) {
      const std::size_t take = std::min(pending_.size(), options_.batch_size);
      batch_.assign(std::make_move_iterator(pending_.begin()),
                    std::make_move_iterator(pending_.begin() + static_cast<std::ptrdiff_t>(take)));
      try {
        store_->write(batch_);
      } catch (const SqliteError& error) {
        // Move the batch back into its (moved-from) slots and retry with backoff.
        std::move(batch_.begin(), batch_.end(), pending_.begin());
        batch_.clear();
        backoff_ = backoff_.count() == 0 ? kFirstRetryBackoff
                                         : std::min(backoff_ * 2, options_.retry_backoff_max);
        retry_at_ = now + backoff_;
        ++failed_writes_;
        spdlog::error("cannot write {} events ({}{}); {} held in memory, retrying in {} ms", take,
                      error.what(), error.transient() ? "" : ", not a transient error",
                      pending_.size(), backoff_.count());
        return false;
      }
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(take));
      written_ += take;
      batch_.clear();
      if (failed_writes_ > 0) {
        spdlog::info("database writable again after {} failed attempts", failed_writes_);
        failed_writes_ = 0;
      }
      backoff_ = milliseconds(0);
      retry_at_ = Clock::time_point{};
    }
    first_pending_at_ = Clock::now();
    return true;
  }

  void retention() {
    try {
      std::optional<std::int64_t> cutoff;
      if (options_.ttl) {
        cutoff = events::wallClockNowNs() - static_cast<std::int64_t>(options_.ttl->count()) * 1'000'000;
      }
      const auto result = store_->applyRetention(cutoff, options_.max_bytes);
      if (result.expired || result.evicted) {
        spdlog::info("retention: {} events expired (TTL), {} evicted (size cap)", result.expired,
                     result.evicted);
      }
    } catch (const SqliteError& error) {
      spdlog::warn("retention postponed: {}", error.what());
    }
  }

  void waitUntil(Clock::time_point until) {
    // Nothing to read while back-pressured; the bus keeps the messages.
    while (Clock::now() < until && !subscribers::shutdownRequested()) {
      std::this_thread::sleep_for(std::min<Clock::duration>(until - Clock::now(), milliseconds(10)));
    }
  }

  int shutdown() {
    // Drain what already reached the socket, then write it all.
    for (;;) {
      auto received = subscribers::nextEvent(subscriber_, milliseconds(0));
      if (!received || pending_.size() >= options_.max_pending) break;
      accept(*received);
    }
    std::fflush(stdout);
    const auto deadline = Clock::now() + options_.shutdown_flush_timeout;
    while (store_ && !pending_.empty()) {
      const auto now = Clock::now();
      if (now >= deadline) break;
      if (now >= retry_at_) {
        flush(now);
      } else {
        std::this_thread::sleep_for(std::min<Clock::duration>(retry_at_ - now, kMaxWait));
      }
    }
    const auto& stats = subscriber_.stats();
    spdlog::info("stopped: {} events received ({} recovered by replay), {} written, {} lost ({} "
                 "gaps, {} publisher restarts), {} refused as untrusted, {} replay requests "
                 "unanswered, {} malformed, {} too large, {} bad framing, {} beyond the topic limit",
                 stats.received, stats.recovered, written_, stats.missed, stats.gaps, stats.restarts,
                 stats.untrusted, stats.replay_unanswered, stats.malformed, stats.too_large, stats.bad_framing,
                 stats.topic_overflow);
    if (!pending_.empty()) {
      spdlog::error("{} events could not be written before shutdown", pending_.size());
      return 1;
    }
    return 0;
  }

  const RecorderOptions& options_;
  events::Subscriber subscriber_;
  subscribers::RecoveryLog recovery_;
  std::optional<EventStore> store_;
  std::deque<IncomingEvent> pending_;
  std::vector<IncomingEvent> batch_;
  Clock::time_point first_pending_at_{};
  Clock::time_point retry_at_{};
  milliseconds backoff_{0};
  std::uint64_t failed_writes_ = 0;
  std::uint64_t written_ = 0;
  std::uint64_t rejected_ = 0;
  std::set<std::string> seen_topics_;
  bool print_pending_ = false;
};

}  // namespace

int runRecorder(const RecorderOptions& options) {
  Ingest ingest(options);
  return ingest.run();
}

}  // namespace vigil::recorder
