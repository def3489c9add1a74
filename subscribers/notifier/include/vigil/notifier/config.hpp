// The notifier's YAML configuration: sinks, rules and chat subscriptions.
// Loading validates everything; a bad file is reported as
// "FILE:LINE:COLUMN: PATH: what is wrong" (YAML::Mark), never half-applied.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace re2 {
class RE2;
}

namespace vigil::notifier {

using Duration = std::chrono::milliseconds;

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class SinkType { kLog, kStdout, kWebhook, kTelegram, kCommand };

struct SinkConfig {
  std::string name;
  SinkType type = SinkType::kLog;
  std::size_t queue_capacity = 1000;       // notifications waiting; beyond: oldest dropped, counted
  // webhook
  std::string url;
  std::map<std::string, std::string> headers;
  Duration timeout{2000};                  // connect and read, per attempt
  int retries = 3;                         // attempts after the first
  Duration backoff{200};                   // doubled per retry
  Duration backoff_max{5000};
  // telegram
  std::string token;                       // from `token`, `token_env` or VIGIL_TELEGRAM_TOKEN
  std::string base_url = "https://api.telegram.org";
  std::vector<std::int64_t> chat_ids;      // from `chat_ids` or VIGIL_TELEGRAM_CHAT_IDS
  bool poll_updates = false;               // read /subscribe commands with getUpdates
  Duration poll_timeout{20000};            // long-poll wait of getUpdates
  // Who may /subscribe: the chats in chat_ids; any chat only with this flag.
  bool open_subscriptions = false;
  std::size_t max_subscriptions = 100;     // /subscribe subscriptions on this sink, all chats together
  std::size_t max_subscriptions_per_chat = 20;
  // command
  std::vector<std::string> command;        // argv; the notification is in the environment
  std::vector<std::string> hidden_env;     // variables not passed on (bot tokens), set by the loader
};

enum class RuleType { kCount, kSourceDown, kCode };

struct Rule {
  std::string name;
  RuleType type = RuleType::kCount;
  std::string kind = "faces";              // count rules: an analytic's event kind (vigil/analytics)
  std::string source = "*";                // a source id, or * for every source seen
  std::string zone;                        // count rules: a zone's count instead of the total
  std::int64_t alert_at = 1;               // alert when count >= alert_at ...
  std::int64_t clear_at = 0;               // ... clear when count <= clear_at (hysteresis)
  // Count rules: alert while count == alert_at exactly, clear when it is
  // anything else (`exactly: N`; a chat's "/subscribe SOURCE =N").
  bool exact = false;
  Duration hold{0};                        // the alert condition must last this long
  Duration clear_hold{0};                  // the clear condition must last this long
  Duration cooldown{0};                    // at least this long between two alerts of one instance
  std::string pattern_text;                // code rules: RE2 regex, searched in the text
  // RE2 matches in time linear in the text and without recursion, so no
  // text anyone sends on the bus can stall or overflow the notifier.
  std::shared_ptr<const re2::RE2> pattern;
  std::string format;                      // code rules: only this symbology (empty: any)
  std::vector<std::string> sinks;          // sink names; empty: every sink
  std::vector<std::int64_t> chat_ids;      // telegram targets instead of the sink's (subscriptions)
  bool from_subscription = false;
};

struct NotifierConfig {
  std::vector<SinkConfig> sinks;
  std::vector<Rule> rules;
  // Settings given to /subscribe rules created at run time.
  Duration subscription_hold{0};
  Duration subscription_clear_hold{5000};
  Duration subscription_cooldown{0};
};

NotifierConfig loadConfig(const std::string& path);
// A code rule's pattern, compiled; throws ConfigError with RE2's message.
std::shared_ptr<const re2::RE2> compilePattern(const std::string& text);
// Whether `text` contains a match of `pattern`.
bool searchPattern(const re2::RE2& pattern, const std::string& text);
NotifierConfig parseConfig(const std::string& yaml_text, const std::string& name_for_errors);

std::string_view toString(RuleType type);
std::string_view toString(SinkType type);

// A count rule for "chat subscribes to source/zone at count" (config or
// /subscribe): count or more, or with `exact`, exactly count.
Rule subscriptionRule(const NotifierConfig& config, std::int64_t chat_id, const std::string& source,
                      const std::string& zone, std::int64_t count, const std::string& sink, bool exact = false);

}  // namespace vigil::notifier
