// vigil-recorder as a real process: bus -> recorder -> SQLite, the query CLI,
// the HTTP API, kill -9 and restart, a locked database, retention, and
// malformed/oversized messages from a raw ZeroMQ publisher.
#include "harness.hpp"
#include "vigil/recorder/http_api.hpp"
#include "vigil/recorder/store.hpp"

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>
#include <zmq.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <regex>

namespace vigil::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr auto kDeadline = 15s;
const std::string kProbeSource = "probe";

std::string recorderBinary() { return builtBinary("subscribers/recorder/vigil-recorder"); }

std::int64_t countEvents(const std::string& db, recorder::EventFilter filter = {}) {
  try {
    recorder::EventStore store(db, recorder::EventStore::Open::kExisting);
    return store.total(filter);
  } catch (const std::exception&) {
    return -1;  // not created yet
  }
}

recorder::EventFilter kindFilter(const std::string& kind) {
  recorder::EventFilter filter;
  filter.kind = kind;
  return filter;
}

class RecorderTest : public ::testing::Test {
 protected:
  std::unique_ptr<ChildProcess> startRecorder(const std::string& endpoint,
                                              std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{recorderBinary(), "--connect", endpoint, "--db", db_};
    if (std::find(extra.begin(), extra.end(), "--flush-interval") == extra.end()) {
      extra.insert(extra.end(), {"--flush-interval", "20ms"});
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    // Fresh log files per start, so that a restart is not satisfied by old lines.
    const std::string name = "recorder-" + std::to_string(++starts_);
    return std::make_unique<ChildProcess>(argv, dir_.file(name + ".out"), dir_.file(name + ".err"));
  }

  // The slow joiner: publish probe status events until one is recorded.
  void waitSubscribed(Bus& bus, const ChildProcess& recorder) {
    ASSERT_TRUE(pollUntil(
        [&] { return recorder.err().find("recording topic vigil/status/probe") != std::string::npos; },
        kDeadline, [&] { bus.publish("status", kProbeSource, *statusBody("playing")); }))
        << recorder.err();
  }

  std::vector<std::string> query(std::vector<std::string> args) {
    std::vector<std::string> argv{recorderBinary(), "query", "--db", db_};
    argv.insert(argv.end(), args.begin(), args.end());
    auto [status, out] = runCommand(argv);
    EXPECT_EQ(status, 0) << out;
    return {out};
  }

  json queryJson(std::vector<std::string> args) {
    args.push_back("--format");
    args.push_back("json");
    return json::parse(query(args).front());
  }

  TempDir dir_;
  int starts_ = 0;
  std::string db_ = dir_.file("events.db");
};

TEST_F(RecorderTest, RecordsEventsAndAnswersQueriesInEveryFormat) {
  Bus bus;
  auto recorder = startRecorder(bus.endpoint(), {"--http", "127.0.0.1:0"});
  waitSubscribed(bus, *recorder);

  constexpr int kFrames = 40;
  for (int frame = 0; frame < kFrames; ++frame) {
    bus.publish("faces", "checkout-1", *facesBody(frame % 4, {{"queue-1", frame % 3}, {"queue-2", 1}}),
                static_cast<std::uint64_t>(frame));
  }
  bus.publish("codes", "checkout-1", *codesBody({{"QRCode", "VIGIL-42", "appeared", 7}}), 5);
  bus.publish("status", "checkout-1", *statusBody("playing", "ok"));
  ASSERT_TRUE(bus.flush());
  ASSERT_TRUE(pollUntil([&] { return countEvents(db_, kindFilter("faces")) == kFrames; }, kDeadline))
      << recorder->err();
  ASSERT_TRUE(pollUntil([&] { return countEvents(db_, kindFilter("codes")) == 1; }, kDeadline));

  // "Which frames had N faces": frames 2, 6, 10, ... had 2.
  const json two = queryJson({"--kind", "faces", "--source", "checkout-1", "--count", "2"});
  ASSERT_EQ(two.size(), static_cast<std::size_t>(kFrames / 4));
  for (const auto& event : two) {
    EXPECT_EQ(event["count"], 2);
    EXPECT_EQ(event["frame"].get<int>() % 4, 2);
    EXPECT_EQ(event["kind"], "faces");
    EXPECT_EQ(event["source"], "checkout-1");
    EXPECT_TRUE(event.contains("run") && event.contains("seq") && event.contains("id"));
    EXPECT_EQ(event["zones"]["queue-2"], 1);
  }
  // "How many had N".
  EXPECT_EQ(queryJson({"--kind", "faces", "--count", "2", "--report", "total"})["total"], kFrames / 4);
  const json histogram = queryJson({"--kind", "faces", "--report", "histogram"});
  ASSERT_EQ(histogram.size(), 4u);
  EXPECT_EQ(histogram[3]["count"], 3);
  EXPECT_EQ(histogram[3]["events"], kFrames / 4);
  // min-count, zone counts, code text, time range.
  EXPECT_EQ(queryJson({"--kind", "faces", "--min-count", "3"}).size(), static_cast<std::size_t>(kFrames / 4));
  EXPECT_EQ(queryJson({"--zone", "queue-1", "--min-count", "2"}).size(), 13u);  // frames 2,5,...,38
  const json code = queryJson({"--code", "VIGIL-42"});
  ASSERT_EQ(code.size(), 1u);
  EXPECT_EQ(code[0]["objects"][0]["text"], "VIGIL-42");
  EXPECT_TRUE(queryJson({"--code", "nope"}).empty());
  EXPECT_TRUE(queryJson({"--since", "-1h", "--kind", "faces"}).size() == kFrames);
  EXPECT_TRUE(queryJson({"--until", "-1h"}).empty());

  // CSV: a header and one line per event; table: a header, a rule, the rows.
  const auto csv = lines(query({"--kind", "faces", "--count", "1", "--format", "csv"}).front());
  ASSERT_EQ(csv.size(), 1u + kFrames / 4);
  EXPECT_EQ(csv[0], "id,time,source,kind,run,seq,frame,count,detail");
  EXPECT_NE(csv[1].find(",checkout-1,faces,"), std::string::npos);
  const auto table = lines(query({"--code", "VIGIL-42", "--format", "table"}).front());
  ASSERT_EQ(table.size(), 3u);
  EXPECT_EQ(table[0].rfind("id", 0), 0u);
  EXPECT_NE(table[2].find("QRCode:VIGIL-42(appeared)"), std::string::npos);

  // HTTP API: the bound port is printed on stdout.
  std::smatch match;
  std::string out;
  ASSERT_TRUE(pollUntil([&] { out = recorder->out(); return std::regex_search(out, match, std::regex(R"(http://127\.0\.0\.1:(\d+))")); }, kDeadline));
  httplib::Client http("127.0.0.1", std::stoi(match[1]));
  auto events = http.Get("/api/events?kind=faces&count=3");
  ASSERT_TRUE(events);
  ASSERT_EQ(events->status, 200);
  EXPECT_EQ(json::parse(events->body).size(), static_cast<std::size_t>(kFrames / 4));
  auto total = http.Get("/api/events/total?kind=faces&min_count=1");
  ASSERT_TRUE(total);
  EXPECT_EQ(json::parse(total->body)["total"], kFrames * 3 / 4);
  auto zones = http.Get("/api/zones/aggregates?source=checkout-1&zone=queue-1&bucket=5m");
  ASSERT_TRUE(zones);
  const json aggregates = json::parse(zones->body);
  ASSERT_GE(aggregates.size(), 1u);
  EXPECT_EQ(aggregates[0]["max"], 2);
  std::int64_t samples = 0;
  for (const auto& bucket : aggregates) samples += bucket["samples"].get<std::int64_t>();
  EXPECT_EQ(samples, kFrames);
  auto bad = http.Get("/api/events?since=yesterday");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);

  // Delete by id (CLI), by range (HTTP).
  const auto first_id = two[0]["id"].get<std::int64_t>();
  auto [status, deleted] = runCommand({recorderBinary(), "delete", "--db", db_, "--id", std::to_string(first_id)});
  EXPECT_EQ(status, 0);
  EXPECT_EQ(json::parse(deleted)["deleted"], 1);
  EXPECT_EQ(queryJson({"--kind", "faces", "--count", "2"}).size(), static_cast<std::size_t>(kFrames / 4 - 1));
  auto range = http.Delete("/api/events?from_id=" + std::to_string(first_id) + "&to_id=" + std::to_string(first_id + 3));
  ASSERT_TRUE(range);
  EXPECT_EQ(json::parse(range->body)["deleted"], 3);
  auto [refused_status, refused] = runCommand({recorderBinary(), "delete", "--db", db_});
  EXPECT_NE(refused_status, 0) << "delete without a selection must be refused";

  recorder->signal(SIGTERM);
  EXPECT_EQ(recorder->wait(kDeadline), 0) << recorder->err();
}

TEST_F(RecorderTest, KillNineLosesAtMostTheOpenBatchAndRestartsAreTold) {
  constexpr int kBatch = 100;
  auto bus = std::make_unique<Bus>();
  // A flush interval far longer than the test: only full batches are written.
  // --print shows exactly what reached the recorder's memory.
  auto recorder = startRecorder(bus->endpoint(), {"--batch-size", std::to_string(kBatch),
                                                  "--flush-interval", "1h", "--print"});
  ASSERT_TRUE(pollUntil(
      [&] { return recorder->err().find("recording topic vigil/status/probe") != std::string::npos; },
      kDeadline, [&] { bus->publish("status", kProbeSource, *statusBody("playing")); }))
      << recorder->err();

  constexpr int kPublished = 3 * kBatch + kBatch / 2;
  for (int frame = 1; frame <= kPublished; ++frame) {
    bus->publish("faces", "cam-9", *facesBody(1), static_cast<std::uint64_t>(frame));
  }
  ASSERT_TRUE(bus->flush());
  const auto received = [&] { return static_cast<std::int64_t>(lines(recorder->out()).size()); };
  ASSERT_TRUE(pollUntil([&] { return recorder->out().find("\"seq\":" + std::to_string(kPublished) + ",") != std::string::npos; }, kDeadline));
  const std::int64_t in_memory = received();
  const std::int64_t written = in_memory - in_memory % kBatch;
  ASSERT_TRUE(pollUntil([&] { return countEvents(db_) == written; }, kDeadline));
  recorder->signal(SIGKILL);
  EXPECT_EQ(recorder->wait(kDeadline), 128 + SIGKILL);

  // Exactly the full batches survive; the loss is the open batch, < batch size.
  EXPECT_EQ(countEvents(db_), written);
  EXPECT_LT(in_memory - countEvents(db_), kBatch);
  const auto kept = countEvents(db_, kindFilter("faces"));
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db_.c_str(), &raw), SQLITE_OK);
    sqlite3_stmt* check = nullptr;
    sqlite3_prepare_v2(raw, "PRAGMA integrity_check", -1, &check, nullptr);
    ASSERT_EQ(sqlite3_step(check), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(check, 0)), "ok");
    sqlite3_finalize(check);
    sqlite3_close(raw);
  }

  // Restart on the same database: what the kill lost shows up as a "missed"
  // gap on the topic, counted from the stored last seq.
  recorder = startRecorder(bus->endpoint());
  waitSubscribed(*bus, *recorder);
  bus->publish("faces", "cam-9", *facesBody(2), kPublished + 1);
  ASSERT_TRUE(pollUntil([&] { return countEvents(db_, kindFilter("faces")) == kept + 1; }, kDeadline));
  json gaps = queryJson({"--report", "gaps", "--source", "cam-9"});
  ASSERT_EQ(gaps.size(), 1u) << gaps.dump();
  EXPECT_EQ(gaps[0]["kind"], "missed");
  EXPECT_EQ(gaps[0]["after_seq"], kept);
  EXPECT_EQ(gaps[0]["next_seq"], kPublished + 1);
  EXPECT_EQ(gaps[0]["missed"], kPublished - kept);

  // A publisher restart (new run, seq from 1) is a restart, not a loss.
  const std::string endpoint = bus->endpoint();
  const std::string old_run = bus->publisher().runId();
  bus.reset();  // the publisher unbinds; a new one (new run) binds the same port
  bus = std::make_unique<Bus>(endpoint, "");
  const std::string restarted = "vigil/status/probe: publisher restarted, new run " + bus->publisher().runId();
  ASSERT_TRUE(pollUntil([&] { return recorder->err().find(restarted) != std::string::npos; }, kDeadline,
                        [&] { bus->publish("status", kProbeSource, *statusBody("playing")); }))
      << recorder->err();
  bus->publish("faces", "cam-9", *facesBody(3), 1);
  ASSERT_TRUE(pollUntil([&] { return countEvents(db_, kindFilter("faces")) == kept + 2; }, kDeadline));
  gaps = queryJson({"--report", "gaps", "--source", "cam-9"});
  ASSERT_EQ(gaps.size(), 2u) << gaps.dump();
  EXPECT_EQ(gaps[1]["kind"], "restart");
  EXPECT_EQ(gaps[1]["previous_run"], old_run);
  EXPECT_EQ(gaps[1]["missed"], 0);
  recorder->signal(SIGINT);
  EXPECT_EQ(recorder->wait(kDeadline), 0) << recorder->err();
}

TEST_F(RecorderTest, LockedDatabaseIsReportedAndRetriedWithoutLoss) {
  Bus bus;
  auto recorder = startRecorder(bus.endpoint());
  waitSubscribed(bus, *recorder);
  ASSERT_TRUE(pollUntil([&] { return countEvents(db_) > 0; }, kDeadline));

  sqlite3* locker = nullptr;
  ASSERT_EQ(sqlite3_open(db_.c_str(), &locker), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(locker, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  constexpr int kEvents = 500;
  for (int frame = 0; frame < kEvents; ++frame) bus.publish("faces", "locked-cam", *facesBody(frame % 5), frame);
  ASSERT_TRUE(bus.flush());
  EXPECT_TRUE(pollUntil([&] { return recorder->err().find("cannot write") != std::string::npos; }, kDeadline))
      << recorder->err();
  ASSERT_EQ(sqlite3_exec(locker, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(locker);
  EXPECT_TRUE(pollUntil([&] { return countEvents(db_, kindFilter("faces")) == kEvents; }, kDeadline))
      << recorder->err();
  EXPECT_TRUE(pollUntil([&] { return recorder->err().find("database writable again") != std::string::npos; }, kDeadline));
  recorder->signal(SIGTERM);
  EXPECT_EQ(recorder->wait(kDeadline), 0);
}

TEST_F(RecorderTest, FullDiskIsReportedAndRetriedWithoutLoss) {
  // A file-size limit stands in for a full disk (writes fail with EFBIG);
  // raising it afterwards is the operator freeing space.
  Bus bus;
  auto recorder = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/bin/prlimit", "--fsize=300000:unlimited", recorderBinary(), "--connect", bus.endpoint(),
                               "--db", db_, "--flush-interval", "20ms"},
      dir_.file("full.out"), dir_.file("full.err"));
  waitSubscribed(bus, *recorder);
  const std::string padding(2000, 'p');
  constexpr int kEvents = 1000;  // ~2 MB: far beyond the limit
  for (int frame = 0; frame < kEvents; ++frame) {
    auto body = facesBody(frame);
    body->set("padding", padding);
    bus.publish("faces", "full-cam", *body, frame);
    if (frame % 500 == 499) {
      ASSERT_TRUE(bus.flush());
    }
  }
  ASSERT_TRUE(bus.flush());
  ASSERT_TRUE(pollUntil([&] { return recorder->err().find("cannot write") != std::string::npos; }, kDeadline))
      << recorder->err();
  EXPECT_NE(recorder->err().find("full"), std::string::npos) << recorder->err();
  EXPECT_TRUE(recorder->running()) << "a full disk must not kill the recorder";
  auto [status, out] = runCommand({"/usr/bin/prlimit", "--pid", std::to_string(recorder->pid()), "--fsize=unlimited"});
  ASSERT_EQ(status, 0) << out;
  EXPECT_TRUE(pollUntil([&] { return countEvents(db_, kindFilter("faces")) == kEvents; }, kDeadline))
      << recorder->err();
  recorder->signal(SIGTERM);
  EXPECT_EQ(recorder->wait(kDeadline), 0) << recorder->err();
}

TEST_F(RecorderTest, RetentionAppliesTtlAndSizeCapWhileRunning) {
  Bus bus;
  auto recorder = startRecorder(bus.endpoint(), {"--ttl", "30m", "--max-size", "400KB", "--retention-interval", "50ms"});
  waitSubscribed(bus, *recorder);
  const std::int64_t two_hours_ago = events::wallClockNowNs() - 2LL * 3600 * 1'000'000'000;
  for (int frame = 0; frame < 10; ++frame) bus.publish("faces", "old-cam", *facesBody(1), frame, two_hours_ago);
  ASSERT_TRUE(bus.flush());
  recorder::EventFilter old_cam;
  old_cam.source = "old-cam";
  ASSERT_TRUE(pollUntil([&] { return recorder->err().find("expired (TTL)") != std::string::npos; }, kDeadline));
  EXPECT_TRUE(pollUntil([&] { return countEvents(db_, old_cam) == 0; }, kDeadline));

  // ~1.5 MB of events against a 400 KB cap: the oldest go, the newest stay.
  const std::string padding(1000, 'x');
  constexpr int kBig = 1500;
  for (int frame = 0; frame < kBig; ++frame) {
    auto body = facesBody(frame);
    body->set("padding", padding);
    bus.publish("faces", "big-cam", *body, frame);
    if (frame % 500 == 499) {
      ASSERT_TRUE(bus.flush());
    }
  }
  ASSERT_TRUE(bus.flush());
  recorder::EventFilter last;
  last.source = "big-cam";
  last.count = kBig - 1;
  ASSERT_TRUE(pollUntil([&] { return countEvents(db_, last) == 1; }, kDeadline));
  std::uint64_t used = 0;
  EXPECT_TRUE(pollUntil([&] {
    recorder::EventStore store(db_, recorder::EventStore::Open::kExisting);
    used = store.usedBytes();
    return used <= 400'000;
  }, kDeadline)) << used;
  recorder::EventFilter first;
  first.source = "big-cam";
  first.count = 0;
  EXPECT_EQ(countEvents(db_, first), 0);
  recorder->signal(SIGTERM);
  EXPECT_EQ(recorder->wait(kDeadline), 0);
}

TEST_F(RecorderTest, MalformedAndOversizedMessagesAreCountedAndSkipped) {
  zmq::context_t context;
  zmq::socket_t raw(context, zmq::socket_type::pub);
  raw.bind("tcp://127.0.0.1:*");
  const std::string endpoint = raw.get(zmq::sockopt::last_endpoint);
  auto recorder = startRecorder(endpoint);

  events::Header header;
  header.kind = "status";
  header.source = kProbeSource;
  header.run = "raw-run";
  header.ts_ns = events::wallClockNowNs();
  std::uint64_t seq = 0;
  auto send_valid = [&](const std::string& kind, const std::string& source, const events::Body& body) {
    header.kind = kind;
    header.source = source;
    header.seq = ++seq;
    const std::string topic = events::topicFor(kind, source);
    const std::string encoded = events::encode(header, body);
    raw.send(zmq::buffer(topic), zmq::send_flags::sndmore);
    raw.send(zmq::buffer(encoded));
  };
  ASSERT_TRUE(pollUntil([&] { return recorder->err().find("recording topic vigil/status/probe") != std::string::npos; },
                        kDeadline, [&] { send_valid("status", kProbeSource, *statusBody("playing")); }));

  const std::string topic = "vigil/faces/bad-cam";
  raw.send(zmq::buffer(topic), zmq::send_flags::sndmore);
  raw.send(zmq::str_buffer("\xc1 not msgpack"));                 // malformed
  raw.send(zmq::buffer(topic));                                    // one frame only
  raw.send(zmq::buffer(topic), zmq::send_flags::sndmore);          // three frames
  raw.send(zmq::str_buffer("a"), zmq::send_flags::sndmore);
  raw.send(zmq::str_buffer("b"));
  const std::string oversized(2 << 20, '\x01');                  // 2 MiB > 1 MiB limit
  raw.send(zmq::buffer(topic), zmq::send_flags::sndmore);
  raw.send(zmq::buffer(oversized));
  {
    msgpack::sbuffer not_event;                                    // a map, but no header keys
    msgpack::pack(not_event, std::map<std::string, int>{{"v", 1}});
    raw.send(zmq::buffer(topic), zmq::send_flags::sndmore);
    raw.send(zmq::buffer(not_event.data(), not_event.size()));
  }
  send_valid("faces", "good-cam", *facesBody(4));
  ASSERT_TRUE(pollUntil([&] { return countEvents(db_, kindFilter("faces")) == 1; }, kDeadline)) << recorder->err();
  recorder->signal(SIGTERM);
  EXPECT_EQ(recorder->wait(kDeadline), 0);
  const std::string log = recorder->err();
  EXPECT_NE(log.find("2 malformed, 1 too large, 2 bad framing"), std::string::npos) << log;
  recorder::EventFilter bad;
  bad.source = "bad-cam";
  EXPECT_EQ(countEvents(db_, bad), 0);
}

// Peak resident memory of a running process, in bytes (VmHWM).
std::int64_t peakRss(pid_t pid) {
  const std::string status = readFile("/proc/" + std::to_string(pid) + "/status");
  const auto at = status.find("VmHWM:");
  if (at == std::string::npos) return -1;
  return std::stoll(status.substr(at + 6)) * 1024;
}

// What a hostile peer on the bus tried: forged ids (path, ANSI escapes and a
// newline, 5000 characters, invalid UTF-8), a 64 MiB frame, and seqs that
// would overflow the loss counters. None is stored or printed; memory stays put.
TEST_F(RecorderTest, HostileIdsHugeFramesAndHugeGapsAreHarmless) {
  zmq::context_t context;
  zmq::socket_t raw(context, zmq::socket_type::pub);
  raw.bind("tcp://127.0.0.1:*");
  auto recorder = startRecorder(raw.get(zmq::sockopt::last_endpoint));
  std::uint64_t seq = 0;
  auto send = [&](const std::string& kind, const std::string& source, const events::Body& body,
                  std::optional<std::uint64_t> at_seq = std::nullopt, const std::string& run = "raw-run") {
    events::Header header;
    header.kind = kind;
    header.source = source;
    header.run = run;
    header.seq = at_seq ? *at_seq : ++seq;
    header.ts_ns = events::wallClockNowNs();
    const std::string topic = events::topicFor(kind, source);
    const std::string encoded = events::encode(header, body);
    raw.send(zmq::buffer(topic), zmq::send_flags::sndmore);
    raw.send(zmq::buffer(encoded));
  };
  ASSERT_TRUE(pollUntil([&] { return recorder->err().find("recording topic vigil/status/probe") != std::string::npos; },
                        kDeadline, [&] { send("status", kProbeSource, *statusBody("playing")); }));

  const std::vector<std::string> forged = {"..", std::string(5000, 'x'), "cam\xff",
                                           "cam\x1b[31m\n[2024-01-01 00:00:00.000] [error] forged"};
  for (const auto& source : forged) send("faces", source, *facesBody(1));
  send("faces", "zone-cam", *facesBody(1, {{"door\n[error] forged", 1}}));
  send("codes", "text-cam", *codesBody({{"QRCode", "bad \xc0\xaf utf-8", "appeared", 1}}));
  auto skipped = [&] {
    std::size_t n = 0;
    for (const auto& line : lines(recorder->err())) n += line.find("skipped a message") != std::string::npos;
    return n;
  };
  // All six refused before the huge frame cuts the connection.
  ASSERT_TRUE(pollUntil([&] { return skipped() == 6; }, kDeadline)) << recorder->err();
  const std::string huge(64u << 20, '\xc0');
  raw.send(zmq::str_buffer("vigil/faces/huge"), zmq::send_flags::sndmore);
  raw.send(zmq::buffer(huge));
  // The huge frame dropped the connection: publish until it is back.
  ASSERT_TRUE(pollUntil([&] { return countEvents(db_, kindFilter("faces")) >= 1; }, kDeadline,
                        [&] { send("faces", "good-cam", *facesBody(4)); }))
      << recorder->err();
  constexpr auto kMaxSeq = static_cast<std::uint64_t>(INT64_MAX);
  // Nobody to confirm a jump (no --snapshot): the first is refused, the one
  // that follows it is taken, so a lone forged seq cannot move the topic.
  for (const std::string run : {"run1", "run2", "run3"}) {
    send("faces", "gap-cam", *facesBody(1), 1, run);
    send("faces", "gap-cam", *facesBody(1), kMaxSeq - 1, run);
    send("faces", "gap-cam", *facesBody(1), kMaxSeq, run);
  }
  recorder::EventFilter gap_cam;
  gap_cam.source = "gap-cam";
  ASSERT_TRUE(pollUntil([&] { return countEvents(db_, gap_cam) == 6; }, kDeadline)) << recorder->err();
  const std::int64_t peak = peakRss(recorder->pid());
  recorder->signal(SIGTERM);
  EXPECT_EQ(recorder->wait(kDeadline), 0);

  EXPECT_GT(peak, 0);
  EXPECT_LT(peak, 48 << 20) << "the 64 MiB frame must not be read into memory";
  recorder::EventStore store(db_, recorder::EventStore::Open::kExisting);
  for (const auto& source : std::vector<std::string>{"..", "zone-cam", "text-cam"}) {
    recorder::EventFilter filter;
    filter.source = source;
    EXPECT_EQ(store.total(filter), 0) << source;
  }
  recorder::EventFilter not_ours;
  not_ours.kind = "faces";
  const std::int64_t good = store.total(not_ours) - 6;
  recorder::EventFilter good_cam;
  good_cam.source = "good-cam";
  EXPECT_EQ(good, store.total(good_cam)) << "only good-cam and gap-cam faces were stored";
  for (const auto& topic : store.topics()) {
    EXPECT_GE(topic.missed, 0) << topic.topic;
    if (topic.topic == "vigil/faces/gap-cam") {
      EXPECT_EQ(topic.missed, INT64_MAX) << "saturated, not wrapped";
    }
  }
  const std::string log = recorder->err();
  EXPECT_EQ(log.find('\x1b'), std::string::npos) << "no terminal escape reaches the log";
  EXPECT_EQ(log.find("\n[2024-01-01 00:00:00.000] [error] forged"), std::string::npos) << log;
  EXPECT_EQ(log.find("\n[error] forged"), std::string::npos) << log;
  EXPECT_NE(log.find("6 malformed"), std::string::npos) << log;
  EXPECT_NE(log.find("3 refused as untrusted"), std::string::npos) << log;
}

// Writes `count` faces events of source "bulk" straight into a new store.
void fillStore(const std::string& db, std::int64_t count) {
  recorder::EventStore store(db, recorder::EventStore::Open::kCreate);
  std::vector<recorder::IncomingEvent> batch;
  for (std::int64_t i = 1; i <= count; ++i) {
    events::Header header;
    header.kind = "faces";
    header.source = "bulk";
    header.run = "bulk-run";
    header.seq = static_cast<std::uint64_t>(i);
    header.ts_ns = events::wallClockNowNs();
    const std::string bytes = events::encode(header, *facesBody(1));
    auto decoded = events::decode(events::topicFor("faces", "bulk"), bytes.data(), bytes.size());
    batch.push_back(recorder::makeIncoming(*decoded.event, header.ts_ns));
  }
  store.write(batch);
}

// Runs SQL on a database file outside the store (to make an old schema).
void execSql(const std::string& db, const std::string& sql) {
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(raw);
}

// A version 1 database (no unique index, no topics.recovered, an event stored
// twice) is migrated when the recorder opens it: one copy stays, and a second
// write of a stored (run, topic, seq) is a duplicate, never a second row.
TEST(RecorderStore, MigratesVersionOneToOneRowPerRunTopicSeq) {
  TempDir dir;
  const std::string db = dir.file("v1.db");
  fillStore(db, 3);
  execSql(db, "DROP INDEX events_run_topic_seq; ALTER TABLE topics DROP COLUMN recovered;"
              "INSERT INTO events(topic, kind, source, run, seq, ts, pts, frame, width, height, count, received_ns, raw)"
              " SELECT topic, kind, source, run, seq, ts, pts, frame, width, height, count, received_ns, raw"
              " FROM events WHERE seq = 2;"
              "PRAGMA user_version = 1;");
  {
    recorder::EventStore old(db, recorder::EventStore::Open::kExisting);
    ASSERT_EQ(old.total({}), 4) << "seq 2 twice before the migration";
  }
  recorder::EventStore store(db, recorder::EventStore::Open::kCreate);
  EXPECT_EQ(store.database().scalarInt("PRAGMA user_version"), 2);
  EXPECT_EQ(store.total({}), 3);
  fillStore(db, 4);  // seq 1..3 again, and 4
  EXPECT_EQ(store.total({}), 4);
  const auto topics = store.topics();
  ASSERT_EQ(topics.size(), 1u);
  EXPECT_EQ(topics[0].duplicates, 3);
  EXPECT_EQ(topics[0].last_seq, 4);
  EXPECT_EQ(topics[0].missed, 0);
  EXPECT_EQ(topics[0].recovered, 0);
}

// The port the recorder printed for --http 127.0.0.1:0, or -1.
int httpPort(const ChildProcess& recorder) {
  std::smatch match;
  std::string out;
  if (!pollUntil([&] { out = recorder.out(); return std::regex_search(out, match, std::regex(R"(http://127\.0\.0\.1:(\d+))")); },
                 kDeadline)) {
    return -1;
  }
  return std::stoi(match[1]);
}

// The HTTP API under abuse: limit=0 and bucket=0 no longer ask for unbounded
// answers, bodies are refused, slow clients cannot starve /api/health, and a
// foreign Host (DNS rebinding) is refused.
TEST_F(RecorderTest, HttpApiBoundsRowsBucketsBodiesSlowClientsAndHosts) {
  constexpr std::int64_t kStored = recorder::kHttpMaxRows + 50;
  fillStore(db_, kStored);
  Bus bus;
  auto recorder = startRecorder(bus.endpoint(), {"--http", "127.0.0.1:0"});
  const int port = httpPort(*recorder);
  ASSERT_GT(port, 0) << recorder->err();
  httplib::Client http("127.0.0.1", port);

  for (const char* limit : {"0", "-1", "99999999"}) {
    auto rows = http.Get(std::string("/api/events?limit=") + limit);
    ASSERT_TRUE(rows);
    EXPECT_EQ(rows->status, 200);
    EXPECT_EQ(json::parse(rows->body).size(), static_cast<std::size_t>(recorder::kHttpMaxRows)) << "limit=" << limit;
  }
  EXPECT_EQ(json::parse(http.Get("/api/events?limit=7")->body).size(), 7u);
  auto zero_bucket = http.Get("/api/zones/aggregates?bucket=0ms");
  ASSERT_TRUE(zero_bucket);
  EXPECT_EQ(zero_bucket->status, 400);
  EXPECT_NE(zero_bucket->body.find("bucket must be at least 1s"), std::string::npos) << zero_bucket->body;

  const std::string body(1 << 20, 'x');
  auto posted = http.Post("/api/events", body, "application/octet-stream");
  ASSERT_TRUE(posted);
  EXPECT_EQ(posted->status, 413) << "a 1 MiB body is refused, not read";

  auto foreign = http.Get("/api/health", {{"Host", "rebind.evil.example:" + std::to_string(port)}});
  ASSERT_TRUE(foreign);
  EXPECT_EQ(foreign->status, 403);
  auto local = http.Get("/api/health", {{"Host", "localhost:" + std::to_string(port)}});
  ASSERT_TRUE(local);
  EXPECT_EQ(local->status, 200);

  // Slow clients: connections that send half a request and then nothing.
  std::vector<int> slow;
  const auto started = std::chrono::steady_clock::now();  // every health request below counts
  for (int i = 0; i < 12; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    const std::string half = "GET /api/health HTTP/1.1\r\nHost: localhost\r\n";
    ASSERT_EQ(::send(fd, half.data(), half.size(), 0), static_cast<ssize_t>(half.size()));
    slow.push_back(fd);
    // libcpp-httplib listens with a backlog of 5: an answered request proves
    // the connections before it were accepted, so none waits for a SYN retry.
    if (slow.size() % 4 == 0) {
      ASSERT_TRUE(httplib::Client("127.0.0.1", port).Get("/api/health"));
    }
  }
  httplib::Client fresh("127.0.0.1", port);
  auto health = fresh.Get("/api/health");
  const auto waited = std::chrono::steady_clock::now() - started;
  for (int fd : slow) ::close(fd);
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_LT(waited, 1s) << "12 slow clients must not starve /api/health";
  std::printf("health with slow clients: %lld ms\n", static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()));
  recorder->signal(SIGTERM);
  EXPECT_EQ(recorder->wait(kDeadline), 0);
}

// Bearer tokens from files: none reads nothing (but health), the read token
// reads and cannot delete, the admin token deletes.
TEST_F(RecorderTest, HttpBearerTokensSeparateReadFromAdmin) {
  fillStore(db_, 3);
  writeFile(dir_.file("read.token"), "r-secret-1\n");
  writeFile(dir_.file("admin.token"), "  a-secret-2  \n");
  Bus bus;
  auto recorder = startRecorder(bus.endpoint(), {"--http", "127.0.0.1:0", "--http-token-file", dir_.file("read.token"),
                                                 "--http-admin-token-file", dir_.file("admin.token")});
  const int port = httpPort(*recorder);
  ASSERT_GT(port, 0) << recorder->err();
  httplib::Client http("127.0.0.1", port);
  auto status = [&](const std::string& method, const std::string& path, const std::string& token) {
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    auto result = method == "GET" ? http.Get(path.c_str(), headers) : http.Delete(path.c_str(), headers);
    return result ? result->status : -1;
  };
  EXPECT_EQ(status("GET", "/api/health", ""), 200) << "health stays open for probes";
  EXPECT_EQ(status("GET", "/api/events", ""), 401);
  EXPECT_EQ(status("GET", "/api/events", "r-secret-"), 401);
  EXPECT_EQ(status("GET", "/api/events", "r-secret-1x"), 401);
  EXPECT_EQ(status("GET", "/api/events", "r-secret-1"), 200);
  EXPECT_EQ(status("GET", "/api/topics", "a-secret-2"), 200);
  EXPECT_EQ(status("DELETE", "/api/events?from_id=0", ""), 401);
  EXPECT_EQ(status("DELETE", "/api/events?from_id=0", "r-secret-1"), 403);
  EXPECT_EQ(countEvents(db_), 3);
  EXPECT_EQ(status("DELETE", "/api/events?from_id=0", "a-secret-2"), 200);
  EXPECT_EQ(countEvents(db_), 0);
  EXPECT_EQ(recorder->err().find("secret"), std::string::npos) << "tokens are never logged";
  recorder->signal(SIGTERM);
  EXPECT_EQ(recorder->wait(kDeadline), 0);

  writeFile(dir_.file("empty.token"), "\n");
  auto refused = startRecorder(bus.endpoint(), {"--http", "127.0.0.1:0", "--http-token-file", dir_.file("empty.token")});
  EXPECT_EQ(refused->wait(kDeadline), 2);
  EXPECT_NE(refused->err().find("empty.token is empty"), std::string::npos) << refused->err();
}

// The database and its WAL are the owner's only, whatever the umask; a
// symbolic link at --db is not followed unless asked.
TEST_F(RecorderTest, DatabaseIsOwnerOnlyAndSymlinksAreRefused) {
  Bus bus;
  auto recorder = startRecorder(bus.endpoint());
  waitSubscribed(bus, *recorder);
  for (const std::string suffix : {"", "-wal", "-shm"}) {
    struct stat info {};
    ASSERT_EQ(::stat((db_ + suffix).c_str(), &info), 0) << suffix;
    EXPECT_EQ(info.st_mode & 0777, 0600u) << "events.db" << suffix;
  }
  recorder->signal(SIGTERM);
  EXPECT_EQ(recorder->wait(kDeadline), 0);

  const std::string target = dir_.file("elsewhere.db");
  const std::string link = dir_.file("link.db");
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  ChildProcess refused({recorderBinary(), "--connect", bus.endpoint(), "--db", link}, dir_.file("link.out"),
                       dir_.file("link.err"));
  EXPECT_EQ(refused.wait(kDeadline), 1);
  EXPECT_NE(refused.err().find("is a symbolic link; refusing to follow it"), std::string::npos) << refused.err();
  struct stat info {};
  EXPECT_NE(::stat(target.c_str(), &info), 0) << "nothing was created through the link";
  ChildProcess allowed({recorderBinary(), "--connect", bus.endpoint(), "--db", link, "--allow-symlink-db"},
                       dir_.file("allowed.out"), dir_.file("allowed.err"));
  ASSERT_TRUE(pollUntil([&] { return allowed.err().find("recording topic vigil/status/probe") != std::string::npos; },
                        kDeadline, [&] { bus.publish("status", kProbeSource, *statusBody("playing")); }))
      << allowed.err();
  allowed.signal(SIGTERM);
  EXPECT_EQ(allowed.wait(kDeadline), 0);
  EXPECT_EQ(::stat(target.c_str(), &info), 0);
}

TEST_F(RecorderTest, HttpOnANonLoopbackAddressIsWarnedAbout) {
  Bus bus;
  auto recorder = startRecorder(bus.endpoint(), {"--http", "0.0.0.0:0"});
  EXPECT_TRUE(pollUntil([&] { return recorder->err().find("reachable from other hosts, without authentication") != std::string::npos; },
                        kDeadline)) << recorder->err();
  recorder->signal(SIGTERM);
  EXPECT_EQ(recorder->wait(kDeadline), 0);
}

TEST_F(RecorderTest, PrintModeTailsEventsAsJsonLines) {
  Bus bus;
  ChildProcess tail({recorderBinary(), "--connect", bus.endpoint(), "--print"}, dir_.file("tail.out"), dir_.file("tail.err"));
  waitSubscribed(bus, tail);
  bus.publish("faces", "tail-cam", *facesBody(3, {{"door", 2}}), 77);
  ASSERT_TRUE(pollUntil([&] { return tail.out().find("tail-cam") != std::string::npos; }, kDeadline));
  for (const auto& line : lines(tail.out())) {
    const json event = json::parse(line);
    EXPECT_TRUE(event.contains("kind") && event.contains("seq") && event.contains("run"));
    if (event["source"] == "tail-cam") {
      EXPECT_EQ(event["count"], 3);
      EXPECT_EQ(event["frame"], 77);
      EXPECT_EQ(event["zones"]["door"], 2);
    }
  }
  tail.signal(SIGINT);
  EXPECT_EQ(tail.wait(kDeadline), 0);
}

TEST(RecorderCli, AnswersHelpAndRejectsBadArguments) {
  auto [status, help] = runCommand({recorderBinary(), "--help"});
  EXPECT_EQ(status, 0);
  EXPECT_NE(help.find("--connect"), std::string::npos);
  EXPECT_EQ(runCommand({recorderBinary(), "query", "--help"}).first, 0);
  EXPECT_NE(runCommand({recorderBinary(), "query", "--db", "/nonexistent/x.db"}).first, 0);
  EXPECT_NE(runCommand({recorderBinary(), "--connect", "tcp://127.0.0.1:1", "--db", "/tmp/x.db", "--ttl", "soon"}).first, 0);
}

}  // namespace
}  // namespace vigil::testing
