// vigil-notifier: watches the event bus, applies the rules of a YAML file and
// sends alerts (and their clears) to log, stdout, webhooks, Telegram or a command.
//
//   vigil-notifier --connect tcp://127.0.0.1:5556 --snapshot tcp://127.0.0.1:5557
//                  --rules configs/notifier-rules.yaml
#include "vigil/events/schema.hpp"
#include "vigil/events/subscriber.hpp"
#include "vigil/notifier/config.hpp"
#include "vigil/notifier/engine.hpp"
#include "vigil/notifier/sinks.hpp"
#include "vigil/subscribers/receive.hpp"
#include "vigil/subscribers/recovery.hpp"
#include "vigil/subscribers/shutdown.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <iostream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>

namespace {

namespace nt = vigil::notifier;
namespace sub = vigil::subscribers;
using std::chrono::milliseconds;

// The engine's clock resolution for time-only transitions (hold, clear hold,
// silence): a notification is at most this late beyond the event that would
// complete it only when no event arrives.
constexpr milliseconds kTickInterval{20};
constexpr milliseconds kSnapshotTimeout{2000};
constexpr std::size_t kMaxDrain = 10000;  // events applied per turn before the clock is looked at
constexpr milliseconds kDrainTimeout{5000};
constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;

const nt::SinkConfig* findSink(const nt::NotifierConfig& config, const std::string& name) {
  for (const auto& sink : config.sinks) {
    if (sink.name == name) return &sink;
  }
  return nullptr;
}

bool mayChatSubscribe(const nt::SinkConfig& sink, std::int64_t chat_id) {
  return sink.open_subscriptions ||
         std::find(sink.chat_ids.begin(), sink.chat_ids.end(), chat_id) != sink.chat_ids.end();
}

std::string subscriptionText(const nt::Rule& rule) {
  return rule.source + (rule.zone.empty() ? "" : " zone " + rule.zone) +
         (rule.exact ? " at exactly " : " at ") + std::to_string(rule.alert_at) + (rule.exact ? "" : " or more");
}

constexpr const char* kSubscribeUsage =
    "usage: /subscribe SOURCE [ZONE] COUNT (COUNT or more) or =COUNT (exactly COUNT), COUNT >= 1";

// /subscribe SOURCE [ZONE] COUNT|=COUNT, /unsubscribe [SOURCE [ZONE]], /list.
// True when the chat's subscriptions changed.
bool handleCommand(const nt::ChatCommand& command, const nt::NotifierConfig& config,
                   nt::Engine& engine, nt::Dispatcher& dispatcher) {
  std::istringstream in(command.text);
  std::string verb;
  std::vector<std::string> args;
  in >> verb;
  for (std::string word; in >> word;) args.push_back(word);
  verb = verb.substr(0, verb.find('@'));  // "/subscribe@VigilBot" in groups
  const auto now = vigil::events::wallClockNowNs();
  auto mine = [&](const nt::Rule& rule) {
    return rule.from_subscription && rule.chat_ids.size() == 1 && rule.chat_ids[0] == command.chat_id &&
           !rule.sinks.empty() && rule.sinks[0] == command.sink;
  };
  std::string reply;
  bool changed = false;
  const nt::SinkConfig* sink = findSink(config, command.sink);
  if (verb == "/subscribe" && sink && !mayChatSubscribe(*sink, command.chat_id)) {
    // Any Telegram user can message the bot: only the listed chats subscribe.
    reply = "this chat (" + std::to_string(command.chat_id) +
            ") may not subscribe here; ask the operator to add it to the sink's chat_ids";
  } else if (verb == "/subscribe" && (args.size() == 2 || args.size() == 3)) {
    // "=3": exactly three (say, a cashier alone at the till); "3": three or more.
    const bool exact = !args.back().empty() && args.back()[0] == '=';
    const std::string count_text = exact ? args.back().substr(1) : args.back();
    std::int64_t count = 0;
    std::size_t parsed = 0;
    try {
      count = std::stoll(count_text, &parsed);
    } catch (const std::exception&) {
      count = 0;
    }
    if (parsed != count_text.size()) count = 0;
    const std::string zone = args.size() == 3 ? args[1] : "";
    if (!vigil::events::isValidSourceId(args[0]) || count < 1) {
      reply = kSubscribeUsage;
    } else {
      const auto same = [&](const nt::Rule& rule) { return mine(rule) && rule.source == args[0] && rule.zone == zone; };
      std::size_t of_chat = 0, of_sink = 0, replaced = 0;
      for (const auto& rule : engine.rules()) {
        if (!rule.from_subscription || rule.sinks.size() != 1 || rule.sinks[0] != command.sink) continue;
        ++of_sink;
        of_chat += mine(rule);
        replaced += same(rule);
      }
      if (sink && of_chat - replaced >= sink->max_subscriptions_per_chat) {
        reply = "too many subscriptions for this chat (at most " + std::to_string(sink->max_subscriptions_per_chat) +
                "); /unsubscribe first";
      } else if (sink && of_sink - replaced >= sink->max_subscriptions) {
        reply = "this bot has reached its limit of " + std::to_string(sink->max_subscriptions) + " subscriptions";
      } else {
        engine.removeRules(same, now);
        auto rule = nt::subscriptionRule(config, command.chat_id, args[0], zone, count, command.sink, exact);
        reply = "subscribed: " + subscriptionText(rule);
        engine.addRule(std::move(rule));
        changed = true;
      }
    }
  } else if (verb == "/unsubscribe") {
    const auto removed = engine.removeRules([&](const nt::Rule& rule) {
      return mine(rule) && (args.empty() || rule.source == args[0]) && (args.size() < 2 || rule.zone == args[1]);
    }, now);
    reply = "removed " + std::to_string(removed) + " subscription(s)";
    changed = removed > 0;
  } else if (verb == "/list") {
    for (const auto& rule : engine.rules()) {
      if (mine(rule)) reply += subscriptionText(rule) + "\n";
    }
    if (reply.empty()) reply = "no subscriptions";
  } else {
    reply = "commands: /subscribe SOURCE [ZONE] COUNT|=COUNT, /unsubscribe [SOURCE [ZONE]], /list";
  }
  spdlog::info("chat {} via '{}': {} -> {}", command.chat_id, command.sink,
               vigil::events::logSafe(command.text), vigil::events::logSafe(reply));
  dispatcher.reply(command.sink, command.chat_id, reply);
  return changed;
}

// A chat subscription made with /subscribe (those in the rules file are not
// saved: the file declares them).
struct SavedSubscription {
  std::int64_t chat_id = 0;
  std::string sink, source, zone;
  std::int64_t count = 1;
  bool exact = false;  // exactly count, not count or more
};

// --state FILE: the active alerts and the chats' /subscribe subscriptions,
// rewritten (atomically) whenever they change, so that a restarted notifier
// neither repeats an alert nor forgets its clear, and keeps its subscribers.
// {"alerts": [...], "subscriptions": [...]}; a bare array (the first format)
// is read as alerts.
struct SavedState {
  std::vector<nt::ActiveAlert> alerts;
  std::vector<SavedSubscription> subscriptions;
};

SavedState readState(const std::string& path) {
  SavedState saved;
  std::ifstream in(path);
  if (!in) return saved;
  const auto state = nlohmann::json::parse(in, nullptr, false);
  const bool legacy = state.is_array();
  if (!legacy && !(state.is_object() && state.value("alerts", nlohmann::json::array()).is_array() &&
                   state.value("subscriptions", nlohmann::json::array()).is_array())) {
    spdlog::warn("state file {} is unreadable; starting without active alerts or chat subscriptions", path);
    return saved;
  }
  // An entry of the wrong shape is skipped, not a reason to refuse to start.
  std::size_t skipped = 0;
  const auto& alerts = legacy ? state : state.value("alerts", nlohmann::json::array());
  for (const auto& item : alerts) {
    try {
      saved.alerts.push_back({item.at("alert_id").get<std::string>(), item.at("rule").get<std::string>(),
                              item.value("source", ""), item.value("zone", ""),
                              item.value("since", std::int64_t{0})});
    } catch (const nlohmann::json::exception&) {
      ++skipped;
    }
  }
  if (!legacy) {
    for (const auto& item : state.value("subscriptions", nlohmann::json::array())) {
      try {
        saved.subscriptions.push_back({item.at("chat_id").get<std::int64_t>(), item.at("sink").get<std::string>(),
                                       item.at("source").get<std::string>(), item.value("zone", ""),
                                       item.at("count").get<std::int64_t>(), item.value("exact", false)});
      } catch (const nlohmann::json::exception&) {
        ++skipped;
      }
    }
  }
  if (skipped > 0) spdlog::warn("state file {}: skipped {} unreadable entries", path, skipped);
  return saved;
}

void writeState(const std::string& path, const std::vector<nt::ActiveAlert>& alerts,
                const std::vector<SavedSubscription>& subscriptions) {
  nlohmann::json state = {{"alerts", nlohmann::json::array()}, {"subscriptions", nlohmann::json::array()}};
  for (const auto& alert : alerts) {
    state["alerts"].push_back({{"alert_id", alert.alert_id}, {"rule", alert.rule}, {"source", alert.source},
                               {"zone", alert.zone}, {"since", alert.since_ns}});
  }
  for (const auto& subscription : subscriptions) {
    state["subscriptions"].push_back({{"chat_id", subscription.chat_id}, {"sink", subscription.sink},
                                      {"source", subscription.source}, {"zone", subscription.zone},
                                      {"count", subscription.count}, {"exact", subscription.exact}});
  }
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << state.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    if (!out) {
      spdlog::error("cannot write the state file {}", temporary);
      return;
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) spdlog::error("cannot replace the state file {}", path);
}

// The engine's subscriptions made by chat commands: subscription rules the
// rules file does not declare.
std::vector<SavedSubscription> commandSubscriptions(const nt::Engine& engine, const std::set<std::string>& declared) {
  std::vector<SavedSubscription> subscriptions;
  for (const auto& rule : engine.rules()) {
    if (!rule.from_subscription || declared.count(rule.name) || rule.chat_ids.size() != 1 || rule.sinks.size() != 1) {
      continue;
    }
    subscriptions.push_back({rule.chat_ids[0], rule.sinks[0], rule.source, rule.zone, rule.alert_at, rule.exact});
  }
  return subscriptions;
}

// Subscriptions saved by an earlier run, for sinks that can still take them;
// one the rules file now declares (`declared`: its rule names) is left to it.
std::size_t restoreSubscriptions(const std::vector<SavedSubscription>& saved, const nt::NotifierConfig& config,
                                 std::set<std::string> declared, nt::Engine& engine) {
  std::size_t restored = 0, over_limit = 0, not_allowed = 0;
  std::map<std::string, std::size_t> per_sink;
  std::map<std::pair<std::string, std::int64_t>, std::size_t> per_chat;
  for (const auto& subscription : saved) {
    const auto sink = std::find_if(config.sinks.begin(), config.sinks.end(),
                                   [&](const nt::SinkConfig& s) { return s.name == subscription.sink; });
    if (sink == config.sinks.end() || sink->type != nt::SinkType::kTelegram ||
        !vigil::events::isValidSourceId(subscription.source) || subscription.count < 1) {
      spdlog::warn("dropping the saved subscription of chat {} to {}: its sink '{}' is gone or it is invalid",
                   subscription.chat_id, subscription.source, subscription.sink);
      continue;
    }
    if (!mayChatSubscribe(*sink, subscription.chat_id)) {
      ++not_allowed;  // one summary line below: the file may hold thousands
      continue;
    }
    std::size_t& of_sink = per_sink[subscription.sink];
    std::size_t& of_chat = per_chat[{subscription.sink, subscription.chat_id}];
    if (of_sink >= sink->max_subscriptions || of_chat >= sink->max_subscriptions_per_chat) {
      ++over_limit;
      continue;
    }
    auto rule = nt::subscriptionRule(config, subscription.chat_id, subscription.source, subscription.zone,
                                     subscription.count, subscription.sink, subscription.exact);
    if (!declared.insert(rule.name).second) continue;
    engine.addRule(std::move(rule));
    ++of_sink;
    ++of_chat;
    ++restored;
  }
  if (over_limit > 0) spdlog::warn("dropped {} saved subscriptions beyond the sinks' limits", over_limit);
  if (not_allowed > 0) {
    spdlog::warn("dropped {} saved subscriptions of chats not in their sink's chat_ids", not_allowed);
  }
  return restored;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vigil-notifier: turns Vigil events into alerts (rules in YAML) sent to log, "
               "stdout, webhooks, Telegram or a command"};
  std::vector<std::string> endpoints;
  std::string snapshot_endpoint, rules_path, state_path, log_level = "info";
  bool check_only = false;
  app.add_option("--connect", endpoints, "Event bus endpoint(s) to subscribe to");
  app.add_option("--snapshot", snapshot_endpoint,
                 "Publisher snapshot endpoint: learn the current state at start (late joiner)");
  vigil::events::CurveClientOptions curve;
  app.add_option("--curve-key", curve.secret_key_file,
                 "This subscriber's CURVE secret key (vigil keygen NAME: NAME.key; its NAME.pub must be in the "
                 "publisher's bus.curve.authorized_keys). Needs --server-key")
      ->check(CLI::ExistingFile);
  app.add_option("--server-key", curve.server_key_file, "The publisher's CURVE public key (the NAME.pub of its bus.curve.server_key)")
      ->check(CLI::ExistingFile);
  app.add_option("--rules", rules_path, "Rules file (YAML); see configs/notifier-rules.yaml")->required();
  app.add_option("--state", state_path,
                 "File keeping the active alerts (one clear per alert, no repeats) and the chats' "
                 "/subscribe subscriptions across restarts");
  app.add_flag("--check", check_only, "Validate the rules file and exit");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->default_str("info");
  CLI11_PARSE(app, argc, argv);

  spdlog::set_default_logger(spdlog::stderr_color_mt("vigil-notifier"));
  spdlog::set_level(spdlog::level::from_str(log_level));

  nt::NotifierConfig config;
  try {
    config = nt::loadConfig(rules_path);
  } catch (const nt::ConfigError& error) {
    std::cerr << "vigil-notifier: " << error.what() << "\n";
    return kExitUsage;
  }
  if (check_only) {
    std::cout << rules_path << ": " << config.rules.size() << " rules, " << config.sinks.size() << " sinks: OK\n";
    return 0;
  }
  if (endpoints.empty()) {
    std::cerr << "--connect is required (see --help)\n";
    return kExitUsage;
  }

  try {
    sub::installShutdownHandlers();
    nt::Dispatcher dispatcher(config.sinks);
    bool state_changed = false;
    nt::Engine engine(config.rules,
                      [&](nt::Notification n) {
                        state_changed = true;
                        dispatcher.dispatch(n);
                      },
                      vigil::events::wallClockNowNs());
    std::set<std::string> declared;
    for (const auto& rule : config.rules) declared.insert(rule.name);
    if (!state_path.empty()) {
      const SavedState saved = readState(state_path);
      // Subscriptions first: their open alerts are restored onto them.
      const auto subscriptions = restoreSubscriptions(saved.subscriptions, config, declared, engine);
      if (subscriptions > 0) spdlog::info("restored {} chat subscriptions from {}", subscriptions, state_path);
      if (!saved.alerts.empty()) spdlog::info("restored {} active alerts from {}", saved.alerts.size(), state_path);
      engine.restore(saved.alerts, vigil::events::wallClockNowNs());
    }
    auto save = [&] {
      if (state_changed && !state_path.empty()) {
        writeState(state_path, engine.active(), commandSubscriptions(engine, declared));
      }
      state_changed = false;
    };

    vigil::events::SubscriberOptions options;
    options.endpoints = endpoints;
    options.snapshot_endpoint = snapshot_endpoint;
    options.curve = curve;
    // Connected (and subscribed) before the snapshot is asked for, so nothing
    // published in between is missed; older duplicates are dropped by seq.
    // The snapshot at start is asked for explicitly below; gaps and new runs
    // are still replayed from the publisher's history.
    options.catch_up = false;
    vigil::events::Subscriber subscriber(options);
    sub::RecoveryLog recovery(subscriber);
    std::set<std::string> seen_topics;
    std::uint64_t rejected = 0;
    subscriber.onReject([&](vigil::events::DecodeStatus status, const std::string& detail) {
      if (++rejected <= 10 || rejected % 1000 == 0) {
        spdlog::warn("skipped a message ({}): {}", vigil::events::toString(status), detail);
      }
    });
    if (!snapshot_endpoint.empty()) {
      const auto snapshot = subscriber.snapshot(kSnapshotTimeout);
      spdlog::info("snapshot: current state of {} topics", snapshot.size());
      for (const auto& received : snapshot) {
        seen_topics.insert(received.event.topic);
        recovery.note(received);
        // Replayed events happened: code reads among them fire their rules.
        engine.onEvent(received.event, received.from_snapshot);
      }
      save();
    }
    spdlog::info("watching {} with {} rules, {} sinks", endpoints.front(), config.rules.size(), config.sinks.size());

    auto next_tick = std::chrono::steady_clock::now();
    while (!sub::shutdownRequested()) {
      const auto wait = std::chrono::duration_cast<milliseconds>(next_tick - std::chrono::steady_clock::now());
      // Everything already received is applied before a tick, so that a tick
      // never judges a hold on a value that a queued event already changed.
      for (std::size_t drained = 0; drained < kMaxDrain; ++drained) {
        auto received = sub::nextEvent(subscriber, drained == 0 ? std::max(wait, milliseconds(0)) : milliseconds(0));
        if (!received) break;
        if (seen_topics.insert(received->event.topic).second) {
          spdlog::info("watching topic {} (run {})", received->event.topic, received->event.header.run);
        }
        recovery.note(*received);
        engine.onEvent(received->event);
        save();
      }
      if (std::chrono::steady_clock::now() >= next_tick) {
        engine.tick(vigil::events::wallClockNowNs());
        for (const auto& command : dispatcher.takeCommands()) {
          if (handleCommand(command, config, engine, dispatcher)) state_changed = true;
        }
        save();
        next_tick = std::chrono::steady_clock::now() + kTickInterval;
      }
    }
    if (state_path.empty()) {
      // Nobody will remember these alerts: close each with its clear now.
      engine.shutdown(vigil::events::wallClockNowNs());
    } else {
      // The next start restores them from the state file and clears them then.
      state_changed = true;
    }
    save();
    dispatcher.stop(kDrainTimeout);
    const auto& stats = subscriber.stats();
    spdlog::info("stopped: {} events, {} alerts, {} clears, {} held back by cooldowns; bus: {} lost ({} gaps), {} recovered by replay, {} refused as "
                 "untrusted, {} malformed, {} too large, {} bad framing, {} beyond the topic limit",
                 stats.received, engine.stats().alerts, engine.stats().clears,
                 engine.stats().suppressed_by_cooldown, stats.missed,
                 stats.gaps, stats.recovered, stats.untrusted, stats.malformed, stats.too_large, stats.bad_framing, stats.topic_overflow);
    for (const auto& [name, sink] : dispatcher.stats()) {
      spdlog::info("sink '{}': {} delivered, {} failed, {} dropped", name, sink.delivered, sink.failed, sink.dropped);
    }
    return 0;
  } catch (const std::exception& error) {
    spdlog::error("{}", error.what());
    return kExitFailure;
  }
}
