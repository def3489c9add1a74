#include "vigil/notifier/notification.hpp"

#include "vigil/subscribers/parse.hpp"

#include <nlohmann/json.hpp>

namespace vigil::notifier {

std::string Notification::toJson() const {
  nlohmann::json out{
      {"type", type == Type::kAlert ? "alert" : "clear"},
      {"alert_id", alert_id},
      {"rule", rule},
      {"rule_type", rule_type},
      {"source", source},
      {"message", message},
      {"event_ts", event_ts_ns},
      {"event_time", subscribers::formatTime(event_ts_ns)},
      {"emitted_ts", emitted_ns},
  };
  if (!zone.empty()) out["zone"] = zone;
  if (!kind.empty()) out["kind"] = kind;
  if (value) out["value"] = *value;
  if (threshold) out["threshold"] = *threshold;
  if (!code_text.empty()) out["code"] = code_text;
  if (!reason.empty()) out["reason"] = reason;
  // Strings come from the bus and are checked UTF-8 on decode; should one
  // slip through anyway it is replaced, never thrown (that killed the process).
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace vigil::notifier
