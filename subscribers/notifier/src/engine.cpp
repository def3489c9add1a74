#include "vigil/notifier/engine.hpp"

#include "vigil/events/keys.hpp"
#include "vigil/events/schema.hpp"
#include "vigil/subscribers/event_fields.hpp"
#include "vigil/subscribers/parse.hpp"

#include <algorithm>
#include <climits>

namespace vigil::notifier {

namespace {

constexpr std::int64_t kNsPerMs = 1'000'000;
// "Never alerted": far enough in the past that any cooldown has passed.
constexpr std::int64_t kLongAgo = INT64_MIN / 4;

enum class Phase { kIdle, kPending, kActive, kClearing };

std::int64_t ns(Duration duration) { return static_cast<std::int64_t>(duration.count()) * kNsPerMs; }

std::string secondsText(Duration duration) {
  const auto ms = duration.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

struct Instance {
  std::string source, zone;
  Phase phase = Phase::kIdle;
  std::int64_t since = 0;          // start of pending / clearing
  std::int64_t now = 0;            // latest time seen: never runs backwards
  std::int64_t last_alert = kLongAgo;
  bool cooldown_reported = false;
  std::string alert_id;
  std::int64_t alert_since = 0;
  // count rules
  std::optional<std::int64_t> value;
  // source-down rules
  std::int64_t last_seen = 0;
  std::string state;               // last status state, empty before any
  std::int64_t state_since = 0;
  std::string detail;
  // code rules
  std::int64_t last_match = 0;
  std::string matched_text, matched_format;
};

struct RuleState {
  Rule rule;
  std::map<std::string, Instance> instances;  // by source + '/' + zone
  std::uint64_t next_alert_number = 1;
};

}  // namespace


struct Engine::State {
  std::vector<std::unique_ptr<RuleState>> rules;
  Emit emit;
  std::int64_t start_ns = 0;
  EngineStats stats;

  Instance& instance(RuleState& rule, const std::string& source, const std::string& zone) {
    auto [it, created] = rule.instances.try_emplace(source + "/" + zone);
    if (created) {
      it->second.source = source;
      it->second.zone = zone;
      it->second.last_seen = start_ns;
      it->second.now = start_ns;
    }
    return it->second;
  }

  Notification base(const RuleState& rule, const Instance& inst, Notification::Type type,
                    std::int64_t t) const {
    Notification n;
    n.type = type;
    n.alert_id = inst.alert_id;
    n.rule = rule.rule.name;
    n.rule_type = std::string(toString(rule.rule.type));
    n.source = inst.source;
    n.zone = inst.zone;
    n.kind = rule.rule.type == RuleType::kCount ? rule.rule.kind : "";
    n.event_ts_ns = t;
    n.emitted_ns = events::wallClockNowNs();
    n.sinks = rule.rule.sinks;
    n.chat_ids = rule.rule.chat_ids;
    return n;
  }

  std::string where(const Instance& inst) const {
    return inst.zone.empty() ? inst.source : inst.source + "/" + inst.zone;
  }

  // False when a cooldown holds the alert back (the condition stays pending).
  bool raise(RuleState& rule, Instance& inst, std::int64_t t, const std::string& message) {
    if (t - inst.last_alert < ns(rule.rule.cooldown)) {
      if (!inst.cooldown_reported) {
        ++stats.suppressed_by_cooldown;
        inst.cooldown_reported = true;
      }
      return false;
    }
    inst.cooldown_reported = false;
    inst.alert_id = rule.rule.name + "/" + where(inst) + "#" + std::to_string(rule.next_alert_number++);
    inst.alert_since = t;
    inst.last_alert = t;
    inst.phase = Phase::kActive;
    Notification n = base(rule, inst, Notification::Type::kAlert, t);
    n.message = "ALERT " + rule.rule.name + ": " + message;
    if (rule.rule.type == RuleType::kCount) {
      n.value = inst.value;
      n.threshold = rule.rule.alert_at;
    }
    n.code_text = inst.matched_text;
    ++stats.alerts;
    emit(std::move(n));
    return true;
  }

  void clear(RuleState& rule, Instance& inst, std::int64_t t, const std::string& reason,
             const std::string& message) {
    Notification n = base(rule, inst, Notification::Type::kClear, t);
    n.reason = reason;
    n.message = "CLEAR " + rule.rule.name + ": " + message;
    if (rule.rule.type == RuleType::kCount) {
      n.value = inst.value;
      n.threshold = rule.rule.exact ? rule.rule.alert_at : rule.rule.clear_at;
    }
    n.code_text = inst.matched_text;
    inst.phase = Phase::kIdle;
    inst.alert_id.clear();
    ++stats.clears;
    emit(std::move(n));
  }

  void evaluateCount(RuleState& rule, Instance& inst, std::int64_t t) {
    if (!inst.value) return;
    const Rule& r = rule.rule;
    const bool high = r.exact ? *inst.value == r.alert_at : *inst.value >= r.alert_at;
    const bool low = r.exact ? *inst.value != r.alert_at : *inst.value <= r.clear_at;
    const std::string alert_condition = (r.exact ? "= " : ">= ") + std::to_string(r.alert_at);
    const std::string clear_condition = r.exact ? "!= " + std::to_string(r.alert_at) : "<= " + std::to_string(r.clear_at);
    const std::string what = where(inst) + " " + r.kind + " = " + std::to_string(*inst.value);
    switch (inst.phase) {
      case Phase::kIdle:
        if (!high) return;
        inst.phase = Phase::kPending;
        inst.since = t;
        [[fallthrough]];
      case Phase::kPending:
        if (!high) {
          inst.phase = Phase::kIdle;
          return;
        }
        if (t - inst.since >= ns(r.hold)) {
          raise(rule, inst, t, what + " (" + alert_condition + " for " + secondsText(r.hold) + ")");
        }
        return;
      case Phase::kActive:
        if (!low) return;
        inst.phase = Phase::kClearing;
        inst.since = t;
        [[fallthrough]];
      case Phase::kClearing:
        if (!low) {
          inst.phase = Phase::kActive;
          return;
        }
        if (t - inst.since >= ns(r.clear_hold)) {
          clear(rule, inst, t, "condition",
                what + " (" + clear_condition + " for " + secondsText(r.clear_hold) + ")");
        }
        return;
    }
  }

  void evaluateSourceDown(RuleState& rule, Instance& inst, std::int64_t t) {
    const Rule& r = rule.rule;
    const bool silent = t - inst.last_seen >= ns(r.hold);
    const bool not_playing = !inst.state.empty() && inst.state != events::state::kPlaying &&
                             t - inst.state_since >= ns(r.hold);
    const bool up = !silent && inst.state == events::state::kPlaying;
    switch (inst.phase) {
      case Phase::kIdle:
      case Phase::kPending:
        if (silent || not_playing) {
          const std::string why = not_playing ? "state " + inst.state +
                                                    (inst.detail.empty() ? "" : " (" + inst.detail + ")") +
                                                    " for " + secondsText(r.hold)
                                              : "no status for " + secondsText(r.hold);
          inst.phase = Phase::kPending;  // stays pending while a cooldown holds it back
          raise(rule, inst, t, inst.source + " is down: " + why);
        } else {
          inst.phase = Phase::kIdle;
        }
        return;
      case Phase::kActive:
        if (!up) return;
        inst.phase = Phase::kClearing;
        inst.since = t;
        [[fallthrough]];
      case Phase::kClearing:
        if (!up) {
          inst.phase = Phase::kActive;
          return;
        }
        if (t - inst.since >= ns(r.clear_hold)) clear(rule, inst, t, "condition", inst.source + " is playing again");
        return;
    }
  }

  void evaluateCode(RuleState& rule, Instance& inst, std::int64_t t) {
    if (inst.phase == Phase::kActive && t - inst.last_match >= ns(rule.rule.clear_hold)) {
      clear(rule, inst, t, "condition",
            inst.source + ": no code matching /" + rule.rule.pattern_text + "/ for " +
                secondsText(rule.rule.clear_hold));
    }
  }

  void evaluate(RuleState& rule, Instance& inst, std::int64_t t) {
    inst.now = std::max(inst.now, t);
    switch (rule.rule.type) {
      case RuleType::kCount: evaluateCount(rule, inst, inst.now); break;
      case RuleType::kSourceDown: evaluateSourceDown(rule, inst, inst.now); break;
      case RuleType::kCode: evaluateCode(rule, inst, inst.now); break;
    }
  }

  void add(Rule rule) {
    auto state = std::make_unique<RuleState>();
    state->rule = std::move(rule);
    // A named source is watched from the start: never seen counts as down.
    if (state->rule.type == RuleType::kSourceDown && state->rule.source != "*") {
      instance(*state, state->rule.source, "");
    }
    rules.push_back(std::move(state));
  }
};

Engine::Engine(std::vector<Rule> rules, Emit emit, std::int64_t start_ns)
    : state_(std::make_unique<State>()) {
  state_->emit = std::move(emit);
  state_->start_ns = start_ns;
  for (auto& rule : rules) state_->add(std::move(rule));
}

Engine::~Engine() = default;

void Engine::addRule(Rule rule) { state_->add(std::move(rule)); }

std::vector<Rule> Engine::rules() const {
  std::vector<Rule> result;
  for (const auto& rule : state_->rules) result.push_back(rule->rule);
  return result;
}

std::size_t Engine::removeRules(const std::function<bool(const Rule&)>& predicate, std::int64_t now_ns) {
  std::size_t removed = 0;
  auto& rules = state_->rules;
  for (auto it = rules.begin(); it != rules.end();) {
    if (!predicate((*it)->rule)) {
      ++it;
      continue;
    }
    for (auto& [key, inst] : (*it)->instances) {
      if (inst.phase == Phase::kActive || inst.phase == Phase::kClearing) {
        state_->clear(**it, inst, now_ns, "rule removed", state_->where(inst) + ": rule removed");
      }
    }
    it = rules.erase(it);
    ++removed;
  }
  return removed;
}

void Engine::onEvent(const events::Event& event, bool from_snapshot) {
  State& s = *state_;
  const events::Header& header = event.header;
  const std::int64_t t = header.ts_ns;
  for (auto& rule_state : s.rules) {
    const Rule& rule = rule_state->rule;
    if (rule.source != "*" && rule.source != header.source) continue;
    switch (rule.type) {
      case RuleType::kCount: {
        if (header.kind != rule.kind) break;
        const auto value = rule.zone.empty() ? subscribers::eventCount(event)
                                             : subscribers::zoneCount(event, rule.zone);
        if (!value) break;  // this event says nothing about this zone
        Instance& inst = s.instance(*rule_state, header.source, rule.zone);
        inst.value = *value;
        s.evaluate(*rule_state, inst, t);
        break;
      }
      case RuleType::kSourceDown: {
        if (header.kind != events::kind::kStatus) break;
        Instance& inst = s.instance(*rule_state, header.source, "");
        const auto status = subscribers::statusFields(event);
        inst.last_seen = std::max(inst.last_seen, t);
        if (status.state != inst.state) {
          inst.state = status.state;
          inst.state_since = t;
        }
        inst.detail = status.detail;
        s.evaluate(*rule_state, inst, t);
        break;
      }
      case RuleType::kCode: {
        if (header.kind != events::kind::kCodes || from_snapshot) break;
        for (const auto& read : subscribers::codeReads(event)) {
          if (read.state == events::key::codes::kStateLeft) continue;
          if (!rule.format.empty() && read.format != rule.format) continue;
          if (!searchPattern(*rule.pattern, read.text)) continue;
          Instance& inst = s.instance(*rule_state, header.source, "");
          inst.last_match = std::max(inst.last_match, t);
          inst.now = std::max(inst.now, t);
          if (inst.phase == Phase::kIdle) {
            inst.matched_text = read.text;
            inst.matched_format = read.format;
            s.raise(*rule_state, inst, inst.now,
                    header.source + " read " + read.format + " '" + read.text + "'");
          }
        }
        break;
      }
    }
  }
}

void Engine::tick(std::int64_t now_ns) {
  for (auto& rule_state : state_->rules) {
    for (auto& [key, inst] : rule_state->instances) state_->evaluate(*rule_state, inst, now_ns);
  }
}

void Engine::shutdown(std::int64_t now_ns) {
  for (auto& rule_state : state_->rules) {
    for (auto& [key, inst] : rule_state->instances) {
      if (inst.phase == Phase::kActive || inst.phase == Phase::kClearing) {
        state_->clear(*rule_state, inst, now_ns, "shutdown",
                      state_->where(inst) + ": notifier stopping");
      }
    }
  }
}

std::vector<ActiveAlert> Engine::active() const {
  std::vector<ActiveAlert> result;
  for (const auto& rule_state : state_->rules) {
    for (const auto& [key, inst] : rule_state->instances) {
      if (inst.phase == Phase::kActive || inst.phase == Phase::kClearing) {
        result.push_back({inst.alert_id, rule_state->rule.name, inst.source, inst.zone, inst.alert_since});
      }
    }
  }
  return result;
}

void Engine::restore(const std::vector<ActiveAlert>& alerts, std::int64_t now_ns) {
  State& s = *state_;
  for (const auto& alert : alerts) {
    auto found = std::find_if(s.rules.begin(), s.rules.end(),
                              [&](const auto& rule) { return rule->rule.name == alert.rule; });
    if (found == s.rules.end()) {
      // The rule is gone: its alert still gets its clear.
      Notification n;
      n.type = Notification::Type::kClear;
      n.alert_id = alert.alert_id;
      n.rule = alert.rule;
      n.source = alert.source;
      n.zone = alert.zone;
      n.reason = "rule removed";
      n.message = "CLEAR " + alert.rule + ": rule no longer configured";
      n.event_ts_ns = now_ns;
      n.emitted_ns = events::wallClockNowNs();
      ++s.stats.clears;
      s.emit(std::move(n));
      continue;
    }
    RuleState& rule = **found;
    Instance& inst = s.instance(rule, alert.source, alert.zone);
    inst.phase = Phase::kActive;
    inst.alert_id = alert.alert_id;
    inst.alert_since = alert.since_ns;
    inst.last_alert = alert.since_ns;
    inst.last_match = std::max(inst.last_match, alert.since_ns);
    const auto hash = alert.alert_id.rfind('#');
    if (hash != std::string::npos) {
      try {
        rule.next_alert_number = std::max<std::uint64_t>(
            rule.next_alert_number, std::stoull(alert.alert_id.substr(hash + 1)) + 1);
      } catch (const std::exception&) {
      }
    }
  }
}

const EngineStats& Engine::stats() const { return state_->stats; }

}  // namespace vigil::notifier
