#include "vigil/subscribers/recovery.hpp"

#include <spdlog/spdlog.h>

namespace vigil::subscribers {

namespace {

// Untrusted events logged one by one, then one in this many.
constexpr std::uint64_t kUntrustedLogged = 10;
constexpr std::uint64_t kUntrustedEvery = 1000;

}  // namespace

RecoveryLog::RecoveryLog(events::Subscriber& subscriber) {
  subscriber.onUntrusted([this](const events::Event& event, const std::string& reason) {
    ++untrusted_;
    if (untrusted_ <= kUntrustedLogged || untrusted_ % kUntrustedEvery == 0) {
      spdlog::warn("{}: refused an event claiming run {} seq {}: {} [{} refused so far]", event.topic,
                   event.header.run, event.header.seq, reason, untrusted_);
    }
  });
  // ZeroMQ retries every few hundred milliseconds: the first few, then one in many.
  subscriber.onHandshakeFailed([this](const std::string& endpoint, const std::string& reason) {
    ++handshake_failures_;
    if (handshake_failures_ <= kUntrustedLogged || handshake_failures_ % kUntrustedEvery == 0) {
      spdlog::warn("{}: not let in: {} [{} times so far]", endpoint, reason, handshake_failures_);
    }
  });
}

void RecoveryLog::note(const events::Received& received) {
  const events::Event& event = received.event;
  if (received.replayed) {
    Stretch& stretch = recovering_[event.topic];
    if (stretch.count == 0) stretch.first = event.header.seq;
    stretch.last = event.header.seq;
    ++stretch.count;
  }
  if (received.publisher_restarted) {
    spdlog::info("{}: publisher restarted, new run {}", event.topic, event.header.run);
  }
  if (received.missed_before > 0) {
    spdlog::warn("{}: {} events lost before seq {} (the publisher did not replay them)", event.topic,
                 received.missed_before, event.header.seq);
  }
  if (!received.replayed) endStretch(event.topic);
}

void RecoveryLog::endStretch(const std::string& topic) {
  const auto found = recovering_.find(topic);
  if (found == recovering_.end()) return;
  const Stretch& stretch = found->second;
  spdlog::info("{}: {} missed events recovered from the publisher's history (seq {}..{})", topic, stretch.count,
               stretch.first, stretch.last);
  recovering_.erase(found);
}

}  // namespace vigil::subscribers
