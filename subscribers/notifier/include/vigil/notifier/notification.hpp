// What the rules engine emits and the sinks deliver.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vigil::notifier {

struct Notification {
  enum class Type { kAlert, kClear };
  Type type = Type::kAlert;
  std::string alert_id;       // shared by an alert and its one clear
  std::string rule;
  std::string rule_type;      // count, source-down, code
  std::string source;
  std::string zone;
  std::string kind;
  std::optional<std::int64_t> value;      // count rules: the count at that moment
  std::optional<std::int64_t> threshold;  // alert_at for alerts, clear_at for clears
  std::string code_text;      // code rules
  std::string reason;         // clears: "condition", "shutdown", "rule removed"
  std::string message;        // one line for people
  std::int64_t event_ts_ns = 0;    // time of the event (or tick) that completed the condition
  std::int64_t emitted_ns = 0;     // wall clock when the engine emitted it
  std::vector<std::string> sinks;  // empty: every sink
  std::vector<std::int64_t> chat_ids;  // telegram: instead of the sink's chat ids

  std::string toJson() const;
};

}  // namespace vigil::notifier
