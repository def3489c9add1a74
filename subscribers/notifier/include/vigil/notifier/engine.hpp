// The rules engine: per rule and per source (and zone) a small state machine
// idle -> pending (hold) -> active -> clearing (clear hold) -> idle, so that a
// count hovering at a threshold neither repeats nor flaps, and every alert is
// followed by exactly one clear (at the latest when the engine stops).
//
// Time is wall-clock ns: the event's `ts` for events, now for ticks; it never
// runs backwards within one instance. Single-threaded: call from one thread.
#pragma once

#include "vigil/events/codec.hpp"
#include "vigil/notifier/config.hpp"
#include "vigil/notifier/notification.hpp"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace vigil::notifier {

struct EngineStats {
  std::uint64_t alerts = 0;
  std::uint64_t clears = 0;
  std::uint64_t suppressed_by_cooldown = 0;  // conditions that held but fell in a cooldown
};

struct ActiveAlert {
  std::string alert_id, rule, source, zone;
  std::int64_t since_ns = 0;
};

class Engine {
 public:
  using Emit = std::function<void(Notification)>;
  Engine(std::vector<Rule> rules, Emit emit, std::int64_t start_ns);
  ~Engine();

  // `from_snapshot`: the newest event of its topic, from the publisher's
  // snapshot (late joiner). It sets current state; a code read in a snapshot
  // is history and raises nothing.
  void onEvent(const events::Event& event, bool from_snapshot = false);
  void tick(std::int64_t now_ns);

  void addRule(Rule rule);
  // Removes rules matching `predicate`; their active alerts are cleared.
  std::size_t removeRules(const std::function<bool(const Rule&)>& predicate, std::int64_t now_ns);
  std::vector<Rule> rules() const;

  // Clears every active alert (reason "shutdown") so each alert has its clear.
  void shutdown(std::int64_t now_ns);

  std::vector<ActiveAlert> active() const;
  // Alerts raised by a previous run of the process (--state file): they are
  // active again, so a condition still true raises no duplicate, and each
  // still gets its one clear. Alerts of rules that no longer exist are cleared.
  void restore(const std::vector<ActiveAlert>& alerts, std::int64_t now_ns);
  const EngineStats& stats() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace vigil::notifier
