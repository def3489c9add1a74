// Test helper: a real SUB socket on the event bus, with the slow-joiner
// handshake done by waiting for events rather than sleeping.
#pragma once

#include "vigil/events/subscriber.hpp"

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace vigil::testing {

class BusListener {
 public:
  explicit BusListener(const std::string& endpoint, std::string prefix = "vigil/")
      : subscriber_(options(endpoint, std::move(prefix))) {}

  // Next event matching `predicate`, skipping others, within `timeout`.
  std::optional<events::Event> waitFor(const std::function<bool(const events::Event&)>& predicate,
                                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      auto received = subscriber_.next(std::max(left, std::chrono::milliseconds(1)));
      if (!received) continue;
      seen_.push_back(received->event);
      if (predicate(received->event)) return received->event;
    }
    return std::nullopt;
  }

  std::optional<events::Event> waitForKind(const std::string& kind,
                                           std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return waitFor([&](const events::Event& e) { return e.header.kind == kind; }, timeout);
  }

  std::optional<events::Event> waitForState(const std::string& state,
                                            std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return waitFor([&](const events::Event& e) {
      return e.header.kind == "status" && e.getString("state") == state;
    }, timeout);
  }

  events::Subscriber& subscriber() { return subscriber_; }
  const std::vector<events::Event>& seen() const { return seen_; }

 private:
  static events::SubscriberOptions options(const std::string& endpoint, std::string prefix) {
    events::SubscriberOptions o;
    o.endpoints = {endpoint};
    o.topic_prefixes = {std::move(prefix)};
    return o;
  }
  events::Subscriber subscriber_;
  std::vector<events::Event> seen_;
};

}  // namespace vigil::testing
