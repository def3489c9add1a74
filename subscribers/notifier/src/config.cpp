#include "vigil/notifier/config.hpp"

#include "vigil/analytics/registry.hpp"
#include "vigil/events/schema.hpp"
#include "vigil/subscribers/parse.hpp"

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace vigil::notifier {

namespace {

constexpr std::size_t kMaxQueueCapacity = 1'000'000;
constexpr int kMaxRetries = 100;
// A zero timeout fails every delivery at once; a long poll shorter than a
// second is a busy loop against Telegram.
constexpr Duration kMinTimeout{10};
constexpr Duration kMinPollTimeout{1000};
constexpr std::size_t kMaxSubscriptions = 100'000;

// Every error names the file, the line and column, and the key path.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const YAML::Node& node, const std::string& path,
                         const std::string& message) const {
    std::ostringstream text;
    text << file_;
    const YAML::Mark mark = node.Mark();
    if (!node.IsNull() || mark.line >= 0) {
      if (mark.line >= 0) text << ':' << mark.line + 1 << ':' << mark.column + 1;
    }
    text << ": " << path << ": " << message;
    throw ConfigError(text.str());
  }

  void onlyKeys(const YAML::Node& map, const std::string& path,
                const std::set<std::string>& allowed) const {
    if (!map.IsMap()) fail(map, path, "expected a map");
    for (const auto& entry : map) {
      const auto key = entry.first.as<std::string>();
      if (!allowed.count(key)) {
        std::string list;
        for (const auto& name : allowed) list += (list.empty() ? "" : ", ") + name;
        fail(entry.first, path + "." + key, "unknown key (known: " + list + ")");
      }
    }
  }

  std::string string(const YAML::Node& node, const std::string& path) const {
    if (!node.IsScalar()) fail(node, path, "expected a string");
    return node.as<std::string>();
  }

  std::int64_t integer(const YAML::Node& node, const std::string& path, std::int64_t min) const {
    std::int64_t value = 0;
    if (!node.IsScalar() || !YAML::convert<std::int64_t>::decode(node, value)) {
      fail(node, path, "expected an integer");
    }
    if (value < min) fail(node, path, "must be at least " + std::to_string(min));
    return value;
  }

  bool boolean(const YAML::Node& node, const std::string& path) const {
    bool value = false;
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
      fail(node, path, "expected true or false");
    }
    return value;
  }

  Duration duration(const YAML::Node& node, const std::string& path, Duration min = Duration(0)) const {
    Duration value{0};
    try {
      value = subscribers::parseDuration(string(node, path));
    } catch (const std::invalid_argument& error) {
      fail(node, path, error.what());
    }
    if (value < min) fail(node, path, "must be at least " + std::to_string(min.count()) + "ms");
    return value;
  }

  // Every key is plain text and appears once in its mapping. Two equal keys:
  // yaml-cpp keeps both and a lookup sees one, so one of the two values would
  // be silently ignored.
  void plainUniqueKeys(const YAML::Node& node, const std::string& path) const {
    if (node.IsSequence()) {
      for (std::size_t i = 0; i < node.size(); ++i) plainUniqueKeys(node[i], path + "[" + std::to_string(i) + "]");
    } else if (node.IsMap()) {
      std::map<std::string, YAML::Mark> seen;
      for (const auto& entry : node) {
        // YAML allows lists and mappings as keys ("? [a, b]: x"); no key of
        // ours is one, and reading one as text would throw past the line number.
        if (!entry.first.IsScalar()) fail(entry.first, path, "a key must be plain text, not a list or mapping");
        const auto key = entry.first.Scalar();
        const std::string key_path = path.empty() ? key : path + "." + key;
        const auto [first, inserted] = seen.emplace(key, entry.first.Mark());
        if (!inserted) {
          fail(entry.first, key_path, "duplicate key (first at line " + std::to_string(first->second.line + 1) + ")");
        }
        plainUniqueKeys(entry.second, key_path);
      }
    }
  }

  std::vector<std::string> strings(const YAML::Node& node, const std::string& path) const {
    std::vector<std::string> values;
    if (node.IsScalar()) return {node.as<std::string>()};
    if (!node.IsSequence()) fail(node, path, "expected a list of strings");
    for (std::size_t i = 0; i < node.size(); ++i) {
      values.push_back(string(node[i], path + "[" + std::to_string(i) + "]"));
    }
    return values;
  }

  std::vector<std::int64_t> integers(const YAML::Node& node, const std::string& path) const {
    std::vector<std::int64_t> values;
    if (node.IsScalar()) return {integer(node, path, INT64_MIN)};
    if (!node.IsSequence()) fail(node, path, "expected a list of integers");
    for (std::size_t i = 0; i < node.size(); ++i) {
      values.push_back(integer(node[i], path + "[" + std::to_string(i) + "]", INT64_MIN));
    }
    return values;
  }

 private:
  std::string file_;
};

// VIGIL_TELEGRAM_CHAT_IDS=12,-100345: every item a whole integer, or a clear
// error naming the variable and the item (std::stoll threw out of main).
std::vector<std::int64_t> chatIdsFromEnv(const Reader& reader, const YAML::Node& node, const std::string& path) {
  std::vector<std::int64_t> ids;
  const char* text = std::getenv("VIGIL_TELEGRAM_CHAT_IDS");
  if (!text) return ids;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    while (!item.empty() && item.front() == ' ') item.erase(0, 1);
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (item.empty()) continue;
    std::size_t used = 0;
    std::int64_t id = 0;
    try {
      id = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size()) {
      reader.fail(node, path, "VIGIL_TELEGRAM_CHAT_IDS: '" + events::logSafe(item, 40) +
                                  "' is not a chat id (expected integers separated by commas)");
    }
    ids.push_back(id);
  }
  return ids;
}

SinkConfig readSink(const Reader& reader, const std::string& name, const YAML::Node& node) {
  const std::string path = "sinks." + name;
  reader.onlyKeys(node, path,
                  {"type", "queue_capacity", "url", "headers", "timeout", "retries", "backoff",
                   "backoff_max", "token", "token_env", "base_url", "chat_ids", "poll_updates",
                   "poll_timeout", "open_subscriptions", "max_subscriptions", "max_subscriptions_per_chat",
                   "command"});
  SinkConfig sink;
  sink.name = name;
  if (!node["type"]) reader.fail(node, path + ".type", "missing (log, stdout, webhook, telegram, command)");
  const std::string type = reader.string(node["type"], path + ".type");
  if (type == "log") {
    sink.type = SinkType::kLog;
  } else if (type == "stdout") {
    sink.type = SinkType::kStdout;
  } else if (type == "webhook") {
    sink.type = SinkType::kWebhook;
  } else if (type == "telegram") {
    sink.type = SinkType::kTelegram;
  } else if (type == "command") {
    sink.type = SinkType::kCommand;
  } else {
    reader.fail(node["type"], path + ".type",
                "unknown sink type '" + type + "' (log, stdout, webhook, telegram, command)");
  }
  if (node["queue_capacity"]) {
    sink.queue_capacity = static_cast<std::size_t>(
        reader.integer(node["queue_capacity"], path + ".queue_capacity", 1));
    if (sink.queue_capacity > kMaxQueueCapacity) {
      reader.fail(node["queue_capacity"], path + ".queue_capacity", "too large");
    }
  }
  if (node["timeout"]) sink.timeout = reader.duration(node["timeout"], path + ".timeout", kMinTimeout);
  if (node["retries"]) {
    sink.retries = static_cast<int>(reader.integer(node["retries"], path + ".retries", 0));
    if (sink.retries > kMaxRetries) reader.fail(node["retries"], path + ".retries", "too many");
  }
  if (node["backoff"]) sink.backoff = reader.duration(node["backoff"], path + ".backoff");
  if (node["backoff_max"]) sink.backoff_max = reader.duration(node["backoff_max"], path + ".backoff_max");

  switch (sink.type) {
    case SinkType::kWebhook: {
      if (!node["url"]) reader.fail(node, path + ".url", "missing (http://host:port/path)");
      sink.url = reader.string(node["url"], path + ".url");
      if (sink.url.rfind("http://", 0) != 0 && sink.url.rfind("https://", 0) != 0) {
        reader.fail(node["url"], path + ".url", "must start with http:// or https://");
      }
      if (const auto headers = node["headers"]) {
        if (!headers.IsMap()) reader.fail(headers, path + ".headers", "expected a map name: value");
        for (const auto& header : headers) {
          const auto key = header.first.as<std::string>();
          sink.headers[key] = reader.string(header.second, path + ".headers." + key);
        }
      }
      break;
    }
    case SinkType::kTelegram: {
      if (node["token"]) {
        sink.token = reader.string(node["token"], path + ".token");
      } else {
        const std::string env = node["token_env"] ? reader.string(node["token_env"], path + ".token_env")
                                                  : "VIGIL_TELEGRAM_TOKEN";
        sink.hidden_env.push_back(env);
        if (const char* value = std::getenv(env.c_str())) sink.token = value;
        if (sink.token.empty()) {
          reader.fail(node, path + ".token",
                      "no bot token: set `token`, or the environment variable " + env);
        }
      }
      if (node["base_url"]) sink.base_url = reader.string(node["base_url"], path + ".base_url");
      while (!sink.base_url.empty() && sink.base_url.back() == '/') sink.base_url.pop_back();
      sink.chat_ids = node["chat_ids"] ? reader.integers(node["chat_ids"], path + ".chat_ids")
                                       : chatIdsFromEnv(reader, node, path + ".chat_ids");
      if (node["poll_updates"]) sink.poll_updates = reader.boolean(node["poll_updates"], path + ".poll_updates");
      if (node["poll_timeout"]) sink.poll_timeout = reader.duration(node["poll_timeout"], path + ".poll_timeout", kMinPollTimeout);
      if (node["open_subscriptions"]) {
        sink.open_subscriptions = reader.boolean(node["open_subscriptions"], path + ".open_subscriptions");
      }
      if (node["max_subscriptions"]) {
        sink.max_subscriptions = static_cast<std::size_t>(
            reader.integer(node["max_subscriptions"], path + ".max_subscriptions", 0));
        if (sink.max_subscriptions > kMaxSubscriptions) {
          reader.fail(node["max_subscriptions"], path + ".max_subscriptions",
                      "at most " + std::to_string(kMaxSubscriptions));
        }
      }
      if (node["max_subscriptions_per_chat"]) {
        sink.max_subscriptions_per_chat = static_cast<std::size_t>(
            reader.integer(node["max_subscriptions_per_chat"], path + ".max_subscriptions_per_chat", 0));
      }
      if (sink.poll_updates && !sink.open_subscriptions && sink.chat_ids.empty()) {
        reader.fail(node, path + ".chat_ids",
                    "poll_updates takes /subscribe only from the chats listed here (or VIGIL_TELEGRAM_CHAT_IDS); "
                    "list them, or set open_subscriptions: true to take any chat");
      }
      break;
    }
    case SinkType::kCommand: {
      if (!node["command"]) reader.fail(node, path + ".command", "missing (a list: program and arguments)");
      sink.command = reader.strings(node["command"], path + ".command");
      if (sink.command.empty()) reader.fail(node["command"], path + ".command", "empty");
      break;
    }
    default:
      break;
  }
  return sink;
}

Rule readRule(const Reader& reader, const YAML::Node& node, const std::string& path,
              const std::set<std::string>& sink_names) {
  reader.onlyKeys(node, path,
                  {"name", "type", "kind", "source", "zone", "alert_at", "clear_at", "exactly", "hold",
                   "clear_hold", "cooldown", "pattern", "format", "sinks", "chat_ids"});
  Rule rule;
  if (!node["name"]) reader.fail(node, path + ".name", "missing");
  rule.name = reader.string(node["name"], path + ".name");
  if (!node["type"]) reader.fail(node, path + ".type", "missing (count, source-down, code)");
  const std::string type = reader.string(node["type"], path + ".type");
  if (type == "count") {
    rule.type = RuleType::kCount;
  } else if (type == "source-down") {
    rule.type = RuleType::kSourceDown;
  } else if (type == "code") {
    rule.type = RuleType::kCode;
  } else {
    reader.fail(node["type"], path + ".type", "unknown rule type '" + type + "' (count, source-down, code)");
  }
  if (node["source"]) rule.source = reader.string(node["source"], path + ".source");
  if (node["hold"]) rule.hold = reader.duration(node["hold"], path + ".hold");
  if (node["clear_hold"]) rule.clear_hold = reader.duration(node["clear_hold"], path + ".clear_hold");
  if (node["cooldown"]) rule.cooldown = reader.duration(node["cooldown"], path + ".cooldown");
  if (node["chat_ids"]) rule.chat_ids = reader.integers(node["chat_ids"], path + ".chat_ids");
  if (node["sinks"]) {
    rule.sinks = reader.strings(node["sinks"], path + ".sinks");
    for (std::size_t i = 0; i < rule.sinks.size(); ++i) {
      if (!sink_names.count(rule.sinks[i])) {
        reader.fail(node["sinks"].IsSequence() ? node["sinks"][i] : node["sinks"],
                    path + ".sinks", "no sink named '" + rule.sinks[i] + "'");
      }
    }
  }

  auto forbid = [&](const char* key) {
    if (node[key]) reader.fail(node[key], path + "." + key, "not used by a " + type + " rule");
  };
  switch (rule.type) {
    case RuleType::kCount: {
      forbid("pattern");
      forbid("format");
      if (node["kind"]) rule.kind = reader.string(node["kind"], path + ".kind");
      // Every analytic's events carry `count`: any of their kinds can be counted.
      if (!analytics::byEventKind(rule.kind)) {
        reader.fail(node["kind"], path + ".kind", "expected " + analytics::eventKindsText());
      }
      if (node["zone"]) rule.zone = reader.string(node["zone"], path + ".zone");
      if (node["exactly"]) {
        // Alert while the count is this value, clear when it is any other.
        for (const char* key : {"alert_at", "clear_at"}) {
          if (node[key]) reader.fail(node[key], path + "." + key, "not used with exactly");
        }
        rule.exact = true;
        rule.alert_at = reader.integer(node["exactly"], path + ".exactly", 0);
        break;
      }
      if (!node["alert_at"]) {
        reader.fail(node, path + ".alert_at", "missing (alert when count >= alert_at, or exactly: N)");
      }
      rule.alert_at = reader.integer(node["alert_at"], path + ".alert_at", 1);
      rule.clear_at = node["clear_at"] ? reader.integer(node["clear_at"], path + ".clear_at", 0)
                                       : rule.alert_at - 1;
      if (rule.clear_at >= rule.alert_at) {
        reader.fail(node["clear_at"], path + ".clear_at",
                    "must be below alert_at (" + std::to_string(rule.alert_at) + ")");
      }
      break;
    }
    case RuleType::kSourceDown:
      for (const char* key : {"kind", "zone", "alert_at", "clear_at", "exactly", "pattern", "format"}) forbid(key);
      if (!node["hold"]) reader.fail(node, path + ".hold", "missing (down for how long, e.g. 30s)");
      break;
    case RuleType::kCode: {
      for (const char* key : {"kind", "zone", "alert_at", "clear_at", "exactly", "hold"}) forbid(key);
      if (!node["pattern"]) reader.fail(node, path + ".pattern", "missing (a regular expression)");
      rule.pattern_text = reader.string(node["pattern"], path + ".pattern");
      try {
        rule.pattern = compilePattern(rule.pattern_text);
      } catch (const ConfigError& error) {
        reader.fail(node["pattern"], path + ".pattern", error.what());
      }
      if (node["format"]) rule.format = reader.string(node["format"], path + ".format");
      if (!node["clear_hold"]) rule.clear_hold = Duration(10000);  // clear once unseen this long
      break;
    }
  }
  return rule;
}

}  // namespace

std::string_view toString(RuleType type) {
  switch (type) {
    case RuleType::kCount: return "count";
    case RuleType::kSourceDown: return "source-down";
    case RuleType::kCode: return "code";
  }
  return "?";
}

std::string_view toString(SinkType type) {
  switch (type) {
    case SinkType::kLog: return "log";
    case SinkType::kStdout: return "stdout";
    case SinkType::kWebhook: return "webhook";
    case SinkType::kTelegram: return "telegram";
    case SinkType::kCommand: return "command";
  }
  return "?";
}

Rule subscriptionRule(const NotifierConfig& config, std::int64_t chat_id, const std::string& source,
                      const std::string& zone, std::int64_t count, const std::string& sink, bool exact) {
  Rule rule;
  rule.name = "subscription:" + std::to_string(chat_id) + ":" + source + (zone.empty() ? "" : "/" + zone);
  rule.exact = exact;
  rule.type = RuleType::kCount;
  rule.kind = analytics::kFaces.event_kind;  // subscriptions count people, per zone
  rule.source = source;
  rule.zone = zone;
  rule.alert_at = std::max<std::int64_t>(count, 1);
  rule.clear_at = rule.alert_at - 1;
  rule.hold = config.subscription_hold;
  rule.clear_hold = config.subscription_clear_hold;
  rule.cooldown = config.subscription_cooldown;
  rule.sinks = {sink};
  rule.chat_ids = {chat_id};
  rule.from_subscription = true;
  return rule;
}

NotifierConfig parseConfig(const std::string& yaml_text, const std::string& name_for_errors) {
  Reader reader(name_for_errors);
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& error) {
    throw ConfigError(name_for_errors + ":" + std::to_string(error.mark.line + 1) + ":" +
                      std::to_string(error.mark.column + 1) + ": " + error.msg);
  }
  if (!root.IsMap()) reader.fail(root, "(top level)", "expected a map with sinks and rules");
  reader.plainUniqueKeys(root, "");
  reader.onlyKeys(root, "(top level)", {"sinks", "rules", "subscriptions", "subscription_defaults"});

  NotifierConfig config;
  std::set<std::string> sink_names;
  if (!root["sinks"] || !root["sinks"].IsMap() || root["sinks"].size() == 0) {
    reader.fail(root["sinks"] ? root["sinks"] : root, "sinks", "expected a map of named sinks");
  }
  for (const auto& entry : root["sinks"]) {
    const auto name = entry.first.as<std::string>();
    config.sinks.push_back(readSink(reader, name, entry.second));
    sink_names.insert(name);
  }
  // A command sink's child gets the environment minus every bot token.
  std::vector<std::string> token_variables{"VIGIL_TELEGRAM_TOKEN"};
  for (const auto& sink : config.sinks) {
    if (sink.type == SinkType::kTelegram) {
      token_variables.insert(token_variables.end(), sink.hidden_env.begin(), sink.hidden_env.end());
    }
  }
  for (auto& sink : config.sinks) {
    if (sink.type == SinkType::kCommand) sink.hidden_env = token_variables;
  }

  if (const auto defaults = root["subscription_defaults"]) {
    reader.onlyKeys(defaults, "subscription_defaults", {"hold", "clear_hold", "cooldown"});
    if (defaults["hold"]) config.subscription_hold = reader.duration(defaults["hold"], "subscription_defaults.hold");
    if (defaults["clear_hold"]) config.subscription_clear_hold = reader.duration(defaults["clear_hold"], "subscription_defaults.clear_hold");
    if (defaults["cooldown"]) config.subscription_cooldown = reader.duration(defaults["cooldown"], "subscription_defaults.cooldown");
  }

  std::set<std::string> rule_names;
  if (const auto rules = root["rules"]) {
    if (!rules.IsSequence()) reader.fail(rules, "rules", "expected a list of rules");
    for (std::size_t i = 0; i < rules.size(); ++i) {
      const std::string path = "rules[" + std::to_string(i) + "]";
      Rule rule = readRule(reader, rules[i], path, sink_names);
      if (!rule_names.insert(rule.name).second) {
        reader.fail(rules[i]["name"], path + ".name", "duplicate rule name '" + rule.name + "'");
      }
      config.rules.push_back(std::move(rule));
    }
  }

  if (const auto subscriptions = root["subscriptions"]) {
    if (!subscriptions.IsSequence()) reader.fail(subscriptions, "subscriptions", "expected a list");
    for (std::size_t i = 0; i < subscriptions.size(); ++i) {
      const std::string path = "subscriptions[" + std::to_string(i) + "]";
      const YAML::Node node = subscriptions[i];
      reader.onlyKeys(node, path, {"chat_id", "source", "zone", "count", "exactly", "sink"});
      for (const char* key : {"chat_id", "source"}) {
        if (!node[key]) reader.fail(node, path + "." + key, "missing");
      }
      if (!node["count"] == !node["exactly"]) {
        reader.fail(node, path + ".count", "give either count (that many or more) or exactly");
      }
      const bool exact = static_cast<bool>(node["exactly"]);
      const char* count_key = exact ? "exactly" : "count";
      std::string sink;
      if (node["sink"]) {
        sink = reader.string(node["sink"], path + ".sink");
      } else {
        for (const auto& candidate : config.sinks) {
          if (candidate.type == SinkType::kTelegram) sink = candidate.name;
        }
      }
      if (sink.empty() || !sink_names.count(sink)) {
        reader.fail(node, path + ".sink", "no telegram sink to deliver to");
      }
      config.rules.push_back(subscriptionRule(
          config, reader.integer(node["chat_id"], path + ".chat_id", INT64_MIN),
          reader.string(node["source"], path + ".source"),
          node["zone"] ? reader.string(node["zone"], path + ".zone") : "",
          reader.integer(node[count_key], path + "." + count_key, 1), sink, exact));
    }
  }
  if (config.rules.empty()) reader.fail(root, "rules", "no rules and no subscriptions: nothing to do");
  return config;
}

std::shared_ptr<const re2::RE2> compilePattern(const std::string& text) {
  re2::RE2::Options options;
  options.set_log_errors(false);  // the error goes into ConfigError, with the file and line
  auto pattern = std::make_shared<const re2::RE2>(text, options);
  if (!pattern->ok()) throw ConfigError("invalid regex (RE2 syntax): " + pattern->error());
  return pattern;
}

bool searchPattern(const re2::RE2& pattern, const std::string& text) { return re2::RE2::PartialMatch(text, pattern); }

NotifierConfig loadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot read the rules file");
  std::stringstream text;
  text << in.rdbuf();
  return parseConfig(text.str(), path);
}

}  // namespace vigil::notifier
