// vigil-notifier: configuration errors, the rules engine in-process, and the
// real process against a real publisher, a webhook receiver and a fake
// Telegram server (hysteresis, sinks isolated, source down, codes, late
// joiner snapshot, kill -9 and restart, chat /subscribe kept across restarts).
#include "harness.hpp"
#include "http_fakes.hpp"
#include "vigil/notifier/config.hpp"
#include "vigil/notifier/engine.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <thread>
#include <cstdlib>

namespace vigil::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr auto kDeadline = 10s;
constexpr auto kPublishStep = 20ms;
constexpr std::int64_t kNsPerMs = 1'000'000;

std::string notifierBinary() { return builtBinary("subscribers/notifier/vigil-notifier"); }

// ---------- configuration ----------

TEST(NotifierConfig, ExampleConfigLoads) {
  setenv("VIGIL_TELEGRAM_TOKEN", "123:example", 1);
  const auto config = notifier::loadConfig(sourcePath("configs/notifier-rules.yaml"));
  EXPECT_EQ(config.sinks.size(), 4u);
  ASSERT_GE(config.rules.size(), 4u);  // three rules and one subscription
  EXPECT_EQ(config.rules[0].name, "checkout-queue");
  EXPECT_EQ(config.rules[0].alert_at, 5);
  EXPECT_EQ(config.rules[0].clear_at, 2);
  EXPECT_EQ(config.rules[0].hold, 20s);
  EXPECT_EQ(config.rules[1].type, notifier::RuleType::kSourceDown);
  EXPECT_NE(config.rules[2].pattern, nullptr);
  EXPECT_TRUE(config.rules[3].from_subscription);
  auto [status, out] = runCommand({notifierBinary(), "--rules", sourcePath("configs/notifier-rules.yaml"), "--check"});
  EXPECT_EQ(status, 0) << out;
}

std::string configError(const std::string& yaml) {
  try {
    notifier::parseConfig(yaml, "rules.yaml");
  } catch (const notifier::ConfigError& error) {
    return error.what();
  }
  return "(no error)";
}

// Count rules count what analytics publish: the kinds come from the analytics
// registry, and `status` (no analytic's kind) is refused with the list.
TEST(NotifierConfig, CountRulesTakeTheKindsOfTheAnalytics) {
  const std::string head = "sinks:\n  console: {type: log}\nrules:\n  - {name: q, type: count, alert_at: 1, kind: ";
  for (const char* kind : {"faces", "plates", "codes"}) {
    EXPECT_EQ(configError(head + kind + "}\n"), "(no error)") << kind;
  }
  const std::string error = configError(head + "status}\n");
  EXPECT_NE(error.find("rules[0].kind: expected faces, plates or codes"), std::string::npos) << error;
}

TEST(NotifierConfig, BadFilesNameTheKeyAndTheLine) {
  const std::string sinks = "sinks:\n  console: {type: log}\n";
  EXPECT_NE(configError(sinks + "rules:\n  - name: q\n    type: count\n    alert_a: 5\n").find("rules.yaml:6:5: rules[0].alert_a: unknown key"), std::string::npos)
      << configError(sinks + "rules:\n  - name: q\n    type: count\n    alert_a: 5\n");
  EXPECT_NE(configError(sinks + "rules:\n  - name: q\n    type: count\n    alert_at: lots\n").find("rules.yaml:6:15: rules[0].alert_at: expected an integer"), std::string::npos)
      << configError(sinks + "rules:\n  - name: q\n    type: count\n    alert_at: lots\n");
  EXPECT_NE(configError(sinks + "rules:\n  - name: q\n    type: count\n    alert_at: 3\n    clear_at: 3\n").find("rules[0].clear_at: must be below alert_at"), std::string::npos);
  EXPECT_NE(configError(sinks + "rules:\n  - name: q\n    type: count\n    alert_at: 3\n    hold: soon\n").find("rules.yaml:7:11: rules[0].hold: invalid duration 'soon'"), std::string::npos)
      << configError(sinks + "rules:\n  - name: q\n    type: count\n    alert_at: 3\n    hold: soon\n");
  EXPECT_NE(configError(sinks + "rules:\n  - name: c\n    type: code\n    pattern: '(['\n").find("rules[0].pattern: invalid regex"), std::string::npos);
  // RE2 has no look-around or back-references (what keeps it linear): said at load, with the line.
  EXPECT_NE(configError(sinks + "rules:\n  - name: c\n    type: code\n    pattern: '(?=A)B'\n").find("rules[0].pattern: invalid regex (RE2 syntax)"), std::string::npos);
  EXPECT_NE(configError(sinks + "rules:\n  - name: q\n    type: count\n    alert_at: 3\n    sinks: [pager]\n").find("rules[0].sinks: no sink named 'pager'"), std::string::npos);
  EXPECT_NE(configError("sinks:\n  hook: {type: webhook}\nrules: []\n").find("sinks.hook.url: missing"), std::string::npos);
  EXPECT_NE(configError("sinks:\n  x: {type: pigeon}\n").find("rules.yaml:2:13: sinks.x.type: unknown sink type 'pigeon'"), std::string::npos)
      << configError("sinks:\n  x: {type: pigeon}\n");
  EXPECT_NE(configError("sinks: [\n").find("rules.yaml:"), std::string::npos);
  unsetenv("VIGIL_TELEGRAM_TOKEN");
  EXPECT_NE(configError("sinks:\n  tg: {type: telegram}\nrules:\n  - {name: d, type: source-down, hold: 1s}\n").find("sinks.tg.token: no bot token"), std::string::npos);

  TempDir dir;
  writeFile(dir.file("bad.yaml"), sinks + "rules:\n  - name: q\n    type: count\n    alert_a: 5\n");
  auto [status, out] = runCommand({notifierBinary(), "--rules", dir.file("bad.yaml"), "--check"});
  EXPECT_EQ(status, 2);
  EXPECT_NE(out.find("bad.yaml:6:5: rules[0].alert_a: unknown key"), std::string::npos) << out;
  EXPECT_EQ(runCommand({notifierBinary(), "--help"}).first, 0);
}

TEST(NotifierConfig, DuplicateKeysBadDurationsAndBadChatIdsAreErrors) {
  const std::string sinks = "sinks:\n  console: {type: log}\n";
  EXPECT_NE(configError(sinks + "rules:\n  - name: q\n    type: count\n    alert_at: 3\n    alert_at: 5\n")
                .find("rules.yaml:7:5: rules[0].alert_at: duplicate key (first at line 6)"), std::string::npos)
      << configError(sinks + "rules:\n  - name: q\n    type: count\n    alert_at: 3\n    alert_at: 5\n");
  EXPECT_NE(configError("sinks:\n  ? {a: 1}\n  : {type: log}\nrules: []\n").find("rules.yaml:2:5: sinks: a key must be plain text"),
            std::string::npos)
      << configError("sinks:\n  ? {a: 1}\n  : {type: log}\nrules: []\n");
  EXPECT_NE(configError("sinks:\n  a: {type: log}\n  a: {type: stdout}\nrules: [{name: d, type: source-down, hold: 1s}]\n")
                .find("rules.yaml:3:3: sinks.a: duplicate key (first at line 2)"), std::string::npos);
  for (const std::string hold : {"nan", "inf", "1e30h", "-1s"}) {
    const std::string error = configError(sinks + "rules:\n  - {name: d, type: source-down, hold: " + hold + "}\n");
    EXPECT_NE(error.find("rules[0].hold: invalid duration '" + hold + "'"), std::string::npos) << error;
  }
  EXPECT_NE(configError("sinks:\n  hook: {type: webhook, url: 'http://127.0.0.1:1/', timeout: 0s}\n"
                        "rules: [{name: d, type: source-down, hold: 1s}]\n")
                .find("sinks.hook.timeout: must be at least 10ms"), std::string::npos);

  TempDir dir;
  const std::string tg = "sinks:\n  tg: {type: telegram, token: 'T'}\nrules:\n  - {name: d, type: source-down, hold: 1s}\n";
  writeFile(dir.file("tg.yaml"), tg);
  setenv("VIGIL_TELEGRAM_CHAT_IDS", "12,abc", 1);
  EXPECT_NE(configError(tg).find("rules.yaml:2:7: sinks.tg.chat_ids: VIGIL_TELEGRAM_CHAT_IDS: 'abc' is not a chat id"),
            std::string::npos) << configError(tg);
  auto [status, out] = runCommand({notifierBinary(), "--rules", dir.file("tg.yaml"), "--check"});
  EXPECT_EQ(status, 2) << "a clear error, not an abort: " << out;
  EXPECT_NE(out.find("'abc' is not a chat id"), std::string::npos) << out;
  setenv("VIGIL_TELEGRAM_CHAT_IDS", " 12, -100345 ", 1);
  EXPECT_EQ(notifier::parseConfig(tg, "rules.yaml").sinks[0].chat_ids, (std::vector<std::int64_t>{12, -100345}));
  unsetenv("VIGIL_TELEGRAM_CHAT_IDS");
}

// ---------- the engine in-process (deterministic time) ----------

events::Event makeEvent(const std::string& kind, const std::string& source, const events::Body& body,
                        std::int64_t ts_ns, std::uint64_t seq = 1) {
  events::Header header;
  header.kind = kind;
  header.source = source;
  header.run = "r";
  header.seq = seq;
  header.ts_ns = ts_ns;
  const std::string bytes = events::encode(header, body);
  auto decoded = events::decode(events::topicFor(kind, source), bytes.data(), bytes.size());
  return std::move(*decoded.event);
}

notifier::Rule queueRule() {
  notifier::Rule rule;
  rule.name = "queue";
  rule.kind = "faces";
  rule.source = "cam";
  rule.zone = "q1";
  rule.alert_at = 5;
  rule.clear_at = 2;
  rule.hold = 1000ms;
  rule.clear_hold = 500ms;
  return rule;
}

TEST(NotifierEngine, HoveringAtTheThresholdGivesOneAlertAndOneClear) {
  std::vector<notifier::Notification> out;
  notifier::Engine engine({queueRule()}, [&](notifier::Notification n) { out.push_back(std::move(n)); }, 0);
  std::int64_t t = 1'000 * kNsPerMs;
  auto feed = [&](std::int64_t count) {
    engine.onEvent(makeEvent("faces", "cam", *facesBody(count, {{"q1", count}}), t));
    t += 100 * kNsPerMs;
  };
  for (int i = 0; i < 50; ++i) feed(i % 2 ? 5 : 4);  // 5 never lasts 1 s
  EXPECT_TRUE(out.empty());
  for (int i = 0; i < 11; ++i) feed(6);               // 1 s at >= 5
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, notifier::Notification::Type::kAlert);
  EXPECT_EQ(out[0].value, 6);
  for (int i = 0; i < 50; ++i) feed(3 + i % 3);       // 3..5: above clear_at, no repeat
  for (int i = 0; i < 50; ++i) feed(i % 2 ? 2 : 3);   // 2 never lasts 0.5 s
  EXPECT_EQ(out.size(), 1u);
  for (int i = 0; i < 6; ++i) feed(1);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].type, notifier::Notification::Type::kClear);
  EXPECT_EQ(out[1].alert_id, out[0].alert_id);
  for (int i = 0; i < 50; ++i) feed(i % 2 ? 5 : 4);
  EXPECT_EQ(out.size(), 2u);
}

TEST(NotifierEngine, ExactlyAlertsOnTheCountAndClearsOnAnyOther) {
  std::vector<notifier::Notification> out;
  const auto config = notifier::parseConfig(
      "sinks:\n  log: {type: log}\n"
      "rules:\n  - {name: alone, type: count, source: cam, zone: q1, exactly: 1, hold: 0s, clear_hold: 0s}\n",
      "rules.yaml");
  ASSERT_TRUE(config.rules[0].exact);
  notifier::Engine engine(config.rules, [&](notifier::Notification n) { out.push_back(std::move(n)); }, 0);
  std::int64_t t = 1'000 * kNsPerMs;
  for (std::int64_t count : {0, 2, 3, 1, 1, 2, 0, 1}) {
    engine.onEvent(makeEvent("faces", "cam", *facesBody(count, {{"q1", count}}), t));
    t += 100 * kNsPerMs;
  }
  ASSERT_EQ(out.size(), 3u);  // 0, 2, 3: nothing; 1: alert; 2: clear; 0: nothing; 1: alert
  EXPECT_EQ(out[0].type, notifier::Notification::Type::kAlert);
  EXPECT_EQ(out[0].value, 1);
  EXPECT_EQ(out[1].type, notifier::Notification::Type::kClear);
  EXPECT_EQ(out[1].value, 2);
  EXPECT_EQ(out[2].type, notifier::Notification::Type::kAlert);
}

TEST(NotifierEngine, CooldownShutdownAndSourceDown) {
  std::vector<notifier::Notification> out;
  notifier::Rule rule = queueRule();
  rule.hold = 0ms;
  rule.clear_hold = 0ms;
  rule.cooldown = 10s;
  notifier::Rule down;
  down.name = "down";
  down.type = notifier::RuleType::kSourceDown;
  down.source = "cam";
  down.hold = 2s;
  const std::int64_t start = 1'000'000 * kNsPerMs;
  notifier::Engine engine({rule, down}, [&](notifier::Notification n) { out.push_back(std::move(n)); }, start);
  auto faces = [&](std::int64_t count, std::int64_t at) {
    engine.onEvent(makeEvent("faces", "cam", *facesBody(count, {{"q1", count}}), at));
  };
  auto status = [&](const std::string& state, std::int64_t at) {
    engine.onEvent(makeEvent("status", "cam", *statusBody(state), at));
  };
  status("playing", start);
  faces(6, start + 1 * kNsPerMs);
  faces(0, start + 2 * kNsPerMs);
  faces(6, start + 3 * kNsPerMs);  // within the cooldown: held back
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(engine.stats().suppressed_by_cooldown, 1u);
  engine.tick(start + 10'001 * kNsPerMs);  // cooldown over and still high: alert;
  ASSERT_EQ(out.size(), 4u);                 // and cam silent for 10 s: down
  EXPECT_EQ(out[2].rule, "queue");
  EXPECT_EQ(out[2].type, notifier::Notification::Type::kAlert);
  EXPECT_EQ(out[3].rule, "down");
  EXPECT_NE(out[3].message.find("no status for 2s"), std::string::npos) << out[3].message;
  status("playing", start + 10'002 * kNsPerMs);
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[4].type, notifier::Notification::Type::kClear);
  EXPECT_EQ(out[4].alert_id, out[3].alert_id);
  status("error", start + 10'003 * kNsPerMs);
  engine.tick(start + 12'004 * kNsPerMs);  // not playing for 2 s
  ASSERT_EQ(out.size(), 6u);
  EXPECT_NE(out[5].message.find("state error"), std::string::npos);
  engine.shutdown(start + 13'000 * kNsPerMs);  // both open alerts get their clear
  ASSERT_EQ(out.size(), 8u);
  EXPECT_EQ(out[6].reason, "shutdown");
  EXPECT_TRUE(engine.active().empty());
}

// ---------- the process ----------

// std::regex recursed per character: a 30 000-character text overflowed the
// stack (segfault), and a backtracking pattern took exponential time. RE2
// matches the longest texts the event decoder lets through, in time linear in their length.
TEST(NotifierEngine, LongCodeTextsAreMatchedWithoutRecursion) {
  std::vector<notifier::Notification> out;
  notifier::Rule rule;
  rule.name = "x";
  rule.type = notifier::RuleType::kCode;
  rule.pattern_text = "((A|B)|(C|D))+X";
  rule.pattern = notifier::compilePattern(rule.pattern_text);
  notifier::Engine engine({rule}, [&](notifier::Notification n) { out.push_back(std::move(n)); }, 0);
  engine.onEvent(makeEvent("codes", "cam", *codesBody({{"QRCode", std::string(30000, 'A') + "Y", "appeared", 1}}), 1));
  EXPECT_TRUE(out.empty());
  engine.onEvent(makeEvent("codes", "cam", *codesBody({{"QRCode", std::string(30000, 'A') + "X", "appeared", 2}}), 2));
  ASSERT_EQ(out.size(), 1u);
  // The classic exponential case for backtracking engines.
  notifier::Rule nested = rule;
  nested.name = "nested";
  nested.pattern_text = "^(a+)+$";
  nested.pattern = notifier::compilePattern(nested.pattern_text);
  std::vector<notifier::Notification> nested_out;
  notifier::Engine nested_engine({nested}, [&](notifier::Notification n) { nested_out.push_back(std::move(n)); }, 0);
  nested_engine.onEvent(makeEvent("codes", "cam", *codesBody({{"QRCode", std::string(30000, 'a') + "!", "appeared", 1}}), 1));
  EXPECT_TRUE(nested_out.empty());
}

class NotifierProcessTest : public ::testing::Test {
 protected:
  std::unique_ptr<ChildProcess> start(const std::string& rules, std::vector<std::string> extra = {}) {
    const std::string name = "notifier-" + std::to_string(++starts_);
    writeFile(dir_.file(name + ".yaml"), rules);
    std::vector<std::string> argv{notifierBinary(), "--connect", bus_.endpoint(), "--rules", dir_.file(name + ".yaml")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<ChildProcess>(argv, dir_.file(name + ".out"), dir_.file(name + ".err"));
  }

  // The slow joiner: probe events (a new source per start, as a restarted
  // notifier already knows the old probe topic from the snapshot) until one is seen.
  void waitWatching(ChildProcess& notifier) {
    const std::string probe = "probe-" + std::to_string(starts_);
    // After the snapshot (which would otherwise already hold the probe topic).
    ASSERT_TRUE(pollUntil([&] { return notifier.err().find("watching tcp://") != std::string::npos; }, kDeadline));
    ASSERT_TRUE(pollUntil([&] { return notifier.err().find("watching topic vigil/status/" + probe) != std::string::npos; },
                          kDeadline, [&] { bus_.publish("status", probe, *statusBody("playing")); }))
        << notifier.err() << (notifier.running() ? "(running)" : "(exited)");
  }

  // Publishes faces events every kPublishStep until `done` (or the deadline).
  bool publishFacesUntil(const std::string& source, const std::map<std::string, std::int64_t>& zones,
                         std::int64_t count, const std::function<bool()>& done) {
    return pollUntil(done, kDeadline, [&] { publishFacesFor(source, zones, count, kPublishStep); });
  }
  void publishFacesFor(const std::string& source, const std::map<std::string, std::int64_t>& zones,
                       std::int64_t count, std::chrono::milliseconds duration) {
    const auto until = std::chrono::steady_clock::now() + duration;
    do {
      bus_.publish("faces", source, *facesBody(count, zones), ++frame_);
      std::this_thread::sleep_for(kPublishStep);  // paces the stream: a frame rate, not synchronisation
    } while (std::chrono::steady_clock::now() < until);
  }

  TempDir dir_;
  Bus bus_;
  int starts_ = 0;
  std::uint64_t frame_ = 0;
};

TEST_F(NotifierProcessTest, HysteresisAllSinksAndAFailingSinkDoesNotBlock) {
  WebhookReceiver hook;
  WebhookReceiver slow(3s);  // answers after 3 s: the sink times out and retries
  FakeTelegram telegram;
  const std::string command_out = dir_.file("command.jsonl");
  const std::string rules =
      "sinks:\n"
      "  hook: {type: webhook, url: '" + hook.url() + "', timeout: 1s, retries: 0}\n"
      "  slow: {type: webhook, url: '" + slow.url() + "', timeout: 200ms, retries: 5, backoff: 50ms}\n"
      "  refused: {type: webhook, url: 'http://127.0.0.1:1/hook', timeout: 200ms, retries: 3, backoff: 50ms}\n"
      "  tg: {type: telegram, token: 'TEST:TOKEN', base_url: '" + telegram.origin() + "', chat_ids: [42, 43]}\n"
      "  cmd: {type: command, command: [/bin/sh, -c, 'printf \"%s\\n\" \"$VIGIL_NOTIFICATION\" >> " + command_out + "']}\n"
      "  out: {type: stdout}\n"
      "rules:\n"
      "  - {name: queue, type: count, kind: faces, source: checkout-1, zone: queue-1, alert_at: 5, hold: 300ms,\n"
      "     clear_at: 2, clear_hold: 300ms, sinks: [slow, refused, hook, tg, cmd, out]}\n";
  auto notifier = start(rules);
  waitWatching(*notifier);
  auto hover = [&](std::int64_t a, std::int64_t b) {
    for (int i = 0; i < 30; ++i) publishFacesFor("checkout-1", {{"queue-1", i % 2 ? a : b}}, i % 2 ? a : b, 0ms);
  };
  hover(5, 4);  // never 300 ms at >= 5
  ASSERT_TRUE(publishFacesUntil("checkout-1", {{"queue-1", 6}}, 6, [&] { return hook.count("alert") == 1; }))
      << notifier->err();
  hover(5, 3);  // above clear_at: neither a clear nor a repeat
  hover(2, 3);  // 2 never lasts 300 ms
  EXPECT_EQ(hook.count("clear"), 0u);
  ASSERT_TRUE(publishFacesUntil("checkout-1", {{"queue-1", 1}}, 1, [&] { return hook.count("clear") == 1; }));
  hover(5, 4);
  ASSERT_TRUE(bus_.flush());
  // The other sinks got theirs too, while `slow` and `refused` were failing.
  EXPECT_TRUE(pollUntil([&] { return telegram.sentTo(43).size() == 2 && lines(readFile(command_out)).size() == 2 &&
                                     lines(notifier->out()).size() == 2; }, kDeadline));
  notifier->signal(SIGTERM);
  EXPECT_EQ(notifier->wait(kDeadline), 0) << notifier->err();

  const auto posts = hook.posts();
  ASSERT_EQ(posts.size(), 2u) << "duplicates or missing notifications";
  EXPECT_EQ(posts[0].body["type"], "alert");
  EXPECT_EQ(posts[0].body["source"], "checkout-1");
  EXPECT_EQ(posts[0].body["zone"], "queue-1");
  EXPECT_EQ(posts[0].body["threshold"], 5);
  EXPECT_EQ(posts[1].body["type"], "clear");
  EXPECT_EQ(posts[1].body["alert_id"], posts[0].body["alert_id"]);
  // Alert latency from the event that completed the hold to receipt.
  const double latency_ms = static_cast<double>(posts[0].wall_ns - posts[0].body["event_ts"].get<std::int64_t>()) / kNsPerMs;
  EXPECT_LT(latency_ms, 500.0) << "slow sinks must not delay the others";
  const auto to42 = telegram.sentTo(42);
  ASSERT_EQ(to42.size(), 2u);
  EXPECT_EQ(to42[0].token, "TEST:TOKEN");
  EXPECT_EQ(to42[0].text.rfind("ALERT queue: checkout-1/queue-1 faces = 6", 0), 0u) << to42[0].text;
  EXPECT_EQ(to42[1].text.rfind("CLEAR queue", 0), 0u);
  const auto commands = lines(readFile(command_out));
  EXPECT_EQ(json::parse(commands[0])["type"], "alert");
  EXPECT_EQ(json::parse(lines(notifier->out())[1])["type"], "clear");
  EXPECT_EQ(notifier->err().find("TEST:TOKEN"), std::string::npos) << "the bot token must never be logged";
  EXPECT_NE(notifier->err().find("sink 'refused': 0 delivered, 2 failed"), std::string::npos) << notifier->err();
}

// What anyone on the bus could send killed the notifier: a source with an
// invalid UTF-8 byte (JSON exception, exit 1) and a 30 000-character code text
// (segfault in std::regex_search). Neither may; the long text is matched like
// any other (RE2); nor may a text forge log lines.
TEST_F(NotifierProcessTest, HostileEventsNeitherKillNorForgeLogLines) {
  WebhookReceiver hook;
  const std::string rules =
      "sinks:\n  hook: {type: webhook, url: '" + hook.url() + "', timeout: 1s}\n  log: {type: log}\n"
      "rules:\n"
      "  - {name: crowd, type: count, source: '*', alert_at: 1}\n"
      "  - {name: x-code, type: code, pattern: '.*X', clear_hold: 10s}\n";
  // --state: the alert ids (source included) are written as JSON on the main thread.
  auto notifier = start(rules, {"--state", dir_.file("hostile.state")});
  waitWatching(*notifier);
  bus_.publish("faces", "cam\xff", *facesBody(3), ++frame_);
  bus_.publish("faces", "cam\x1b[31m\n[error] forged", *facesBody(3), ++frame_);
  bus_.publish("codes", "cam-long", *codesBody({{"QRCode", std::string(30000, 'A') + "X", "appeared", 1}}));
  bus_.publish("codes", "cam-ansi", *codesBody({{"QRCode", "X\x1b[2J\n[error] forged line", "appeared", 1}}));
  bus_.publish("faces", "cam-good", *facesBody(2), ++frame_);
  ASSERT_TRUE(pollUntil([&] {
    std::size_t crowd = 0, code = 0;
    for (const auto& post : hook.posts()) {
      crowd += post.body["rule"] == "crowd";
      code += post.body["rule"] == "x-code";
    }
    return crowd == 1 && code == 2;
  }, kDeadline)) << notifier->err() << (notifier->running() ? "(running)" : "(exited)");
  ASSERT_TRUE(notifier->running());
  notifier->signal(SIGTERM);
  EXPECT_EQ(notifier->wait(kDeadline), 0) << notifier->err();
  for (const auto& post : hook.posts()) {
    if (post.body["rule"] == "crowd") {
      EXPECT_EQ(post.body["source"], "cam-good");
    }
    if (post.body["rule"] == "x-code") {
      EXPECT_TRUE(post.body["source"] == "cam-ansi" || post.body["source"] == "cam-long") << post.body.dump();
    }
  }
  const std::string log = notifier->err();
  EXPECT_EQ(log.find('\x1b'), std::string::npos) << "no terminal escape reaches the log";
  EXPECT_EQ(log.find("\n[error] forged"), std::string::npos) << log;
  EXPECT_NE(log.find("X\\x1b[2J\\x0a[error] forged line"), std::string::npos) << log;
  EXPECT_NE(log.find("2 malformed"), std::string::npos) << log;
}

TEST_F(NotifierProcessTest, SourceDownCodesSnapshotAndKillNineRestart) {
  WebhookReceiver hook;
  // Known before the notifier starts: the late joiner learns it from the snapshot.
  bus_.publish("faces", "cam-q", *facesBody(5), 1);
  ASSERT_TRUE(bus_.flush());
  const std::string rules =
      "sinks:\n  hook: {type: webhook, url: '" + hook.url() + "', timeout: 1s}\n"
      "rules:\n"
      "  - {name: crowd, type: count, source: cam-q, alert_at: 3, clear_at: 0}\n"
      "  - {name: down, type: source-down, source: cam-d, hold: 300ms}\n"
      "  - {name: recall, type: code, pattern: '^RECALL-[0-9]+$', clear_hold: 300ms}\n";
  const std::string state = dir_.file("notifier.state");
  const std::vector<std::string> extra{"--snapshot", bus_.snapshotEndpoint(), "--state", state};
  auto notifier = start(rules, extra);
  auto alerts_of = [&](const std::string& rule, const std::string& type) {
    std::size_t n = 0;
    for (const auto& post : hook.posts()) n += post.body["rule"] == rule && post.body["type"] == type;
    return n;
  };
  ASSERT_TRUE(pollUntil([&] { return alerts_of("crowd", "alert") == 1; }, kDeadline)) << notifier->err();
  waitWatching(*notifier);

  // cam-d never seen: down after 300 ms; playing again: clear.
  ASSERT_TRUE(pollUntil([&] { return alerts_of("down", "alert") == 1; }, kDeadline));
  ASSERT_TRUE(pollUntil([&] { return alerts_of("down", "clear") == 1; }, kDeadline,
                        [&] { bus_.publish("status", "cam-d", *statusBody("playing")); }));

  // Codes: a non-matching read raises nothing; a matching one alerts, then clears.
  bus_.publish("codes", "cam-c", *codesBody({{"QRCode", "OK-1", "appeared", 1}}));
  bus_.publish("codes", "cam-c", *codesBody({{"QRCode", "RECALL-77", "appeared", 2}}));
  ASSERT_TRUE(pollUntil([&] { return alerts_of("recall", "clear") == 1; }, kDeadline));
  EXPECT_EQ(alerts_of("recall", "alert"), 1u);

  // kill -9 with "crowd" active; the restart restores it from the state file
  // (and sees count 5 again in the snapshot): no duplicate alert...
  ASSERT_TRUE(pollUntil([&] { return readFile(state).find("crowd") != std::string::npos; }, kDeadline));
  notifier->signal(SIGKILL);
  EXPECT_EQ(notifier->wait(kDeadline), 128 + SIGKILL);
  notifier = start(rules, extra);
  // (cam-d, silent again since the test stopped its status, may be down too.)
  ASSERT_TRUE(pollUntil([&] { return notifier->err().find("restored ") != std::string::npos; }, kDeadline))
      << notifier->err();
  waitWatching(*notifier);
  // ... and exactly one clear, with the original alert id, when the count drops.
  ASSERT_TRUE(pollUntil([&] { return alerts_of("crowd", "clear") == 1; }, kDeadline,
                        [&] { bus_.publish("faces", "cam-q", *facesBody(0), ++frame_); }));
  EXPECT_EQ(alerts_of("crowd", "alert"), 1u);
  std::string alert_id, clear_id;
  for (const auto& post : hook.posts()) {
    if (post.body["rule"] == "crowd") (post.body["type"] == "alert" ? alert_id : clear_id) = post.body["alert_id"];
  }
  EXPECT_EQ(alert_id, clear_id);
  notifier->signal(SIGINT);
  EXPECT_EQ(notifier->wait(kDeadline), 0);
}

TEST_F(NotifierProcessTest, ChatsSubscribeFromConfigAndWithCommands) {
  FakeTelegram telegram;
  const std::string rules =
      "sinks:\n  tg: {type: telegram, token: 'T0K', base_url: '" + telegram.origin() + "', poll_updates: true, poll_timeout: 1s,\n"
      "       chat_ids: [7, 9]}\n"
      "subscription_defaults: {hold: 0s, clear_hold: 0s}\n"
      "subscriptions:\n  - {chat_id: 7, source: cam-s, zone: door, count: 2}\n";
  auto notifier = start(rules);
  waitWatching(*notifier);
  telegram.pushCommand(9, "/subscribe cam-s 4");
  ASSERT_TRUE(pollUntil([&] { return !telegram.sentTo(9).empty(); }, kDeadline)) << notifier->err();
  EXPECT_EQ(telegram.sentTo(9)[0].text, "subscribed: cam-s at 4 or more");
  bus_.publish("faces", "cam-s", *facesBody(4, {{"door", 3}}), ++frame_);
  ASSERT_TRUE(pollUntil([&] { return telegram.sentTo(7).size() == 1 && telegram.sentTo(9).size() == 2; }, kDeadline));
  EXPECT_NE(telegram.sentTo(7)[0].text.find("cam-s/door faces = 3"), std::string::npos) << telegram.sentTo(7)[0].text;
  EXPECT_NE(telegram.sentTo(9)[1].text.find("ALERT"), std::string::npos);
  telegram.pushCommand(9, "/list");
  ASSERT_TRUE(pollUntil([&] { return telegram.sentTo(9).size() == 3; }, kDeadline));
  EXPECT_EQ(telegram.sentTo(9)[2].text, "cam-s at 4 or more\n");
  telegram.pushCommand(9, "/unsubscribe cam-s");
  // Unsubscribing closes the open alert: its one clear, then the reply.
  ASSERT_TRUE(pollUntil([&] { return telegram.sentTo(9).size() == 5; }, kDeadline));
  EXPECT_NE(telegram.sentTo(9)[3].text.find("CLEAR"), std::string::npos);
  EXPECT_EQ(telegram.sentTo(9)[4].text, "removed 1 subscription(s)");
  // "Exactly N": an alert when the count is 2, a clear when it is anything else.
  telegram.pushCommand(9, "/subscribe cam-x =2");
  ASSERT_TRUE(pollUntil([&] { return telegram.sentTo(9).size() == 6; }, kDeadline)) << notifier->err();
  EXPECT_EQ(telegram.sentTo(9)[5].text, "subscribed: cam-x at exactly 2");
  bus_.publish("faces", "cam-x", *facesBody(3), ++frame_);
  bus_.publish("faces", "cam-x", *facesBody(2), ++frame_);
  ASSERT_TRUE(pollUntil([&] { return telegram.sentTo(9).size() == 7; }, kDeadline)) << notifier->err();
  EXPECT_NE(telegram.sentTo(9)[6].text.find("cam-x faces = 2 (= 2"), std::string::npos) << telegram.sentTo(9)[6].text;
  bus_.publish("faces", "cam-x", *facesBody(3), ++frame_);
  ASSERT_TRUE(pollUntil([&] { return telegram.sentTo(9).size() == 8; }, kDeadline)) << notifier->err();
  EXPECT_NE(telegram.sentTo(9)[7].text.find("CLEAR"), std::string::npos) << telegram.sentTo(9)[7].text;
  telegram.pushCommand(9, "/subscribe cam-x =two");
  ASSERT_TRUE(pollUntil([&] { return telegram.sentTo(9).size() == 9; }, kDeadline)) << notifier->err();
  EXPECT_NE(telegram.sentTo(9)[8].text.find("usage: /subscribe"), std::string::npos) << telegram.sentTo(9)[8].text;
  notifier->signal(SIGTERM);
  EXPECT_EQ(notifier->wait(kDeadline), 0);
  // Chat 7's alert was still open: closed on shutdown.
  EXPECT_EQ(telegram.sentTo(7).size(), 2u);
}

// Any Telegram user can message the bot: only listed chats subscribe, within
// bounds; the token shows neither in the log (not even echoed back by an
// error) nor in the environment of a command sink's child.
TEST_F(NotifierProcessTest, TelegramAllowListBoundsAndNoTokenLeaks) {
  FakeTelegram telegram;
  telegram.failChat(6);
  const std::string token = "424242:SECRET-BOT-TOKEN";
  const std::string env_file = dir_.file("child.env");
  const std::string rules =
      "sinks:\n  tg: {type: telegram, token_env: MY_BOT_TOKEN, base_url: '" + telegram.origin() + "', poll_updates: true,\n"
      "       poll_timeout: 1s, retries: 0, chat_ids: [5], max_subscriptions_per_chat: 2}\n"
      "  cmd: {type: command, command: [/bin/sh, -c, 'env > " + env_file + "']}\n"
      "subscription_defaults: {hold: 0s, clear_hold: 0s}\n"
      "rules:\n  - {name: any, type: count, source: cam-env, alert_at: 1, sinks: [cmd]}\n";
  writeFile(dir_.file("tg.yaml"), rules);
  ChildProcess notifier({notifierBinary(), "--connect", bus_.endpoint(), "--rules", dir_.file("tg.yaml")},
                        dir_.file("tg.out"), dir_.file("tg.err"),
                        {{"MY_BOT_TOKEN", token}, {"VIGIL_TELEGRAM_TOKEN", "other:TOKEN-TOO"}});
  ASSERT_TRUE(pollUntil([&] { return notifier.err().find("watching tcp://") != std::string::npos; }, kDeadline))
      << notifier.err();

  telegram.pushCommand(6, "/subscribe cam-t 1");  // not listed
  for (const char* source : {"cam-t", "cam-u", "cam-v"}) telegram.pushCommand(5, std::string("/subscribe ") + source + " 1");
  ASSERT_TRUE(pollUntil([&] { return telegram.sentTo(6).size() == 1 && telegram.sentTo(5).size() == 3; }, kDeadline))
      << notifier.err();
  EXPECT_NE(telegram.sentTo(6)[0].text.find("may not subscribe"), std::string::npos) << telegram.sentTo(6)[0].text;
  EXPECT_EQ(telegram.sentTo(5)[0].text, "subscribed: cam-t at 1 or more");
  EXPECT_EQ(telegram.sentTo(5)[1].text, "subscribed: cam-u at 1 or more");
  EXPECT_NE(telegram.sentTo(5)[2].text.find("too many subscriptions"), std::string::npos) << telegram.sentTo(5)[2].text;
  // The failed reply to chat 6 was logged, its echoed URL without the token.
  ASSERT_TRUE(pollUntil([&] { return notifier.err().find("chat not found for") != std::string::npos; }, kDeadline))
      << notifier.err();

  ASSERT_TRUE(pollUntil([&] { return !readFile(env_file).empty(); }, kDeadline,
                        [&] { bus_.publish("faces", "cam-env", *facesBody(1), ++frame_); }))
      << notifier.err();
  notifier.signal(SIGTERM);
  EXPECT_EQ(notifier.wait(kDeadline), 0) << notifier.err();
  const std::string env = readFile(env_file);
  EXPECT_NE(env.find("VIGIL_RULE=any"), std::string::npos) << env;
  EXPECT_EQ(env.find("MY_BOT_TOKEN"), std::string::npos) << env;
  EXPECT_EQ(env.find("VIGIL_TELEGRAM_TOKEN"), std::string::npos) << env;
  EXPECT_EQ(env.find("SECRET-BOT-TOKEN"), std::string::npos) << env;
  const std::string log = notifier.err();
  EXPECT_EQ(log.find("SECRET-BOT-TOKEN"), std::string::npos) << log;
  EXPECT_NE(log.find("/bot***/sendMessage"), std::string::npos) << log;
}

TEST(NotifierConfig, PollingForCommandsNeedsAnAllowList) {
  const std::string error = configError(
      "sinks:\n  tg: {type: telegram, token: 'T', poll_updates: true}\nrules:\n  - {name: d, type: source-down, hold: 1s}\n");
  EXPECT_NE(error.find("rules.yaml:2:7: sinks.tg.chat_ids: poll_updates takes /subscribe only from the chats listed"),
            std::string::npos) << error;
  const auto open = notifier::parseConfig(
      "sinks:\n  tg: {type: telegram, token: 'T', poll_updates: true, open_subscriptions: true, max_subscriptions: 5}\n"
      "  cmd: {type: command, command: [/bin/true]}\nrules:\n  - {name: d, type: source-down, hold: 1s}\n",
      "rules.yaml");
  EXPECT_TRUE(open.sinks[0].open_subscriptions);
  EXPECT_EQ(open.sinks[0].max_subscriptions, 5u);
  EXPECT_EQ(open.sinks[1].hidden_env, (std::vector<std::string>{"VIGIL_TELEGRAM_TOKEN"}));
}

// A chat's /subscribe lives in the --state file: after a restart the chat is
// still subscribed (and alerted) without asking again; subscriptions the rules
// file declares are not copied into it.
TEST_F(NotifierProcessTest, CommandSubscriptionsSurviveARestart) {
  FakeTelegram telegram;
  const std::string rules =
      "sinks:\n  tg: {type: telegram, token: 'T0K', base_url: '" + telegram.origin() + "', poll_updates: true, poll_timeout: 1s,\n"
      "       chat_ids: [7, 11]}\n"
      "subscription_defaults: {hold: 0s, clear_hold: 0s}\n"
      "subscriptions:\n  - {chat_id: 7, source: cam-r, count: 9}\n";
  const std::string state = dir_.file("subscriptions.state");
  auto notifier = start(rules, {"--state", state});
  waitWatching(*notifier);
  telegram.pushCommand(11, "/subscribe cam-r entrance 2");
  ASSERT_TRUE(pollUntil([&] { return !telegram.sentTo(11).empty(); }, kDeadline)) << notifier->err();
  EXPECT_EQ(telegram.sentTo(11)[0].text, "subscribed: cam-r zone entrance at 2 or more");
  telegram.pushCommand(11, "/subscribe cam-q =3");
  ASSERT_TRUE(pollUntil([&] { return telegram.sentTo(11).size() == 2; }, kDeadline)) << notifier->err();
  ASSERT_TRUE(pollUntil([&] { return readFile(state).find("cam-q") != std::string::npos; }, kDeadline));
  EXPECT_NE(readFile(state).find("entrance"), std::string::npos);
  EXPECT_EQ(readFile(state).find("\"chat_id\":7"), std::string::npos) << "declared in the rules file, not saved";
  notifier->signal(SIGTERM);
  ASSERT_EQ(notifier->wait(kDeadline), 0);
  // Entries of the wrong shape (a hand edit, another version) are skipped.
  auto saved = nlohmann::json::parse(readFile(state));
  saved["subscriptions"].push_back({{"chat_id", "eleven"}, {"sink", "tg"}});
  saved["alerts"].push_back(5);
  writeFile(state, saved.dump());

  auto restarted = start(rules, {"--state", state});
  waitWatching(*restarted);
  EXPECT_NE(restarted->err().find("restored 2 chat subscriptions"), std::string::npos) << restarted->err();
  EXPECT_NE(restarted->err().find("skipped 2 unreadable entries"), std::string::npos) << restarted->err();
  EXPECT_EQ(restarted->err().find("/subscribe cam-r"), std::string::npos)
      << "the first run confirmed the command to Telegram (its next getUpdates): it is not run again";
  ASSERT_TRUE(publishFacesUntil("cam-r", {{"entrance", 2}}, 2, [&] { return telegram.sentTo(11).size() == 3; }))
      << restarted->err();
  EXPECT_NE(telegram.sentTo(11)[2].text.find("ALERT"), std::string::npos)
      << telegram.sentTo(11)[2].text << "\n" << restarted->err();
  telegram.pushCommand(11, "/list");
  ASSERT_TRUE(pollUntil([&] { return telegram.sentTo(11).size() == 4; }, kDeadline));
  EXPECT_EQ(telegram.sentTo(11)[3].text, "cam-r zone entrance at 2 or more\ncam-q at exactly 3\n");
  restarted->signal(SIGTERM);
  EXPECT_EQ(restarted->wait(kDeadline), 0);
}

}  // namespace
}  // namespace vigil::testing
