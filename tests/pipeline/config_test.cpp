// Config loading: good configs parse to what they say; every bad one is
// rejected with the key's path and line.
#include "config.hpp"
#include "runner.hpp"

#include "vigil/events/curve.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace {

using vigil::pipeline::ConfigError;
using vigil::pipeline::parseConfig;

std::string errorOf(const std::string& yaml) {
  try {
    parseConfig(yaml, "test.yaml", &vigil::pipeline::validateAnalyticOption);
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "";
}

TEST(Config, MinimalConfigGetsDefaults) {
  const auto config = parseConfig("sources:\n  - id: cam1\n    uri: rtsp://10.0.0.5/stream\n", "t.yaml");
  ASSERT_EQ(config.sources.size(), 1u);
  EXPECT_EQ(config.bus.endpoint, "tcp://127.0.0.1:5555");
  const auto& source = config.sources[0];
  EXPECT_EQ(source.type, vigil::pipeline::SourceType::kRtsp);
  EXPECT_EQ(source.on_eos, vigil::pipeline::EosPolicy::kReconnect) << "a camera comes back after EOS";
  EXPECT_TRUE(source.leaky);
  EXPECT_EQ(source.line, 2);
}

TEST(Config, FilesStopAtEndOfStream) {
  const auto config = parseConfig("sources:\n  - {id: f, uri: /tmp/clip.mkv}\n", "t.yaml");
  EXPECT_EQ(config.sources[0].type, vigil::pipeline::SourceType::kFile);
  EXPECT_EQ(config.sources[0].on_eos, vigil::pipeline::EosPolicy::kStop);
}

TEST(Config, DurationsAndNestedOptions) {
  const auto config = parseConfig(R"(bus:
  endpoint: ipc:///tmp/vigil.sock
  heartbeat: 250ms
  history: 2m
sources:
  - id: cam-2
    uri: testsrc://ball
    watchdog: 2s
    reconnect: {initial: 100ms, max: 1m}
    rtsp: {latency: 50ms, transport: tcp}
)", "t.yaml");
  EXPECT_EQ(config.bus.heartbeat.count(), 250);
  EXPECT_EQ(config.bus.history.count(), 120000);
  const auto& source = config.sources[0];
  EXPECT_EQ(source.watchdog.count(), 2000);
  EXPECT_EQ(source.reconnect_initial.count(), 100);
  EXPECT_EQ(source.reconnect_max.count(), 60000);
  EXPECT_EQ(source.rtsp_latency_ms, 50);
  EXPECT_EQ(source.rtsp_transport, "tcp");
}

struct BadConfig {
  const char* name;
  const char* yaml;
  const char* expected;  // substring of the error: path and line
};

class BadConfigTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BadConfigTest, NamesTheKeyAndLine) {
  const std::string error = errorOf(GetParam().yaml);
  ASSERT_FALSE(error.empty()) << "accepted a bad config";
  EXPECT_NE(error.find(GetParam().expected), std::string::npos) << error;
}

INSTANTIATE_TEST_SUITE_P(
    Errors, BadConfigTest,
    ::testing::Values(
        BadConfig{"UnknownTopLevel", "bus: {}\nsourcez: []\n", "test.yaml:2:1: sourcez: unknown key"},
        BadConfig{"MissingSources", "bus: {endpoint: tcp://127.0.0.1:1}\n", "sources: missing"},
        BadConfig{"MissingUri", "sources:\n  - id: a\n", "test.yaml:2:5: sources[0]: missing 'uri'"},
        BadConfig{"BadId", "sources:\n  - id: a/b\n    uri: x.mkv\n", "test.yaml:2:9: sources[0].id"},
        BadConfig{"DuplicateId", "sources:\n  - {id: a, uri: x.mkv}\n  - {id: a, uri: y.mkv}\n",
                  "sources[1].id: duplicate source id 'a'"},
        BadConfig{"BadDuration", "sources:\n  - id: a\n    uri: x.mkv\n    watchdog: soon\n",
                  "test.yaml:4:15: sources[0].watchdog: 'soon' is not a duration"},
        BadConfig{"UnknownSourceKey", "sources:\n  - id: a\n    uri: x.mkv\n    analytcs: [faces]\n",
                  "test.yaml:4:5: sources[0].analytcs: unknown key"},
        BadConfig{"UnknownAnalytic", "sources:\n  - id: a\n    uri: x.mkv\n    analytics: [cars]\n",
                  "test.yaml:4:17: sources[0].analytics[0]: unknown analytic 'cars'"},
        BadConfig{"TwiceListed", "sources:\n  - id: a\n    uri: x.mkv\n    analytics: [faces, faces]\n",
                  "sources[0].analytics[1]: 'faces' is listed twice"},
        BadConfig{"BadBusEndpoint", "bus: {endpoint: 'udp://x'}\nsources: [{id: a, uri: x.mkv}]\n",
                  "bus.endpoint: expected tcp://"},
        BadConfig{"BadZonePoint",
                  "sources:\n  - id: a\n    uri: x.mkv\n    analytics:\n      - faces:\n          zones:\n"
                  "            - {name: q1, polygon: [[0, 0], [2, 0], [1, 1]]}\n",
                  "test.yaml:7:44: sources[0].analytics[0].faces.zones[0].polygon[1]: expected [x, y]"},
        BadConfig{"ZoneTooFewPoints",
                  "sources:\n  - id: a\n    uri: x.mkv\n    analytics:\n      - faces:\n          zones:\n"
                  "            - {name: q1, polygon: [[0, 0], [1, 0]]}\n",
                  "faces.zones[0].polygon: expected at least 3 points"},
        BadConfig{"BadOutput", "sources:\n  - id: a\n    uri: x.mkv\n    outputs: [{type: ftp, path: /x}]\n",
                  "sources[0].outputs[0].type: unknown output type 'ftp'"},
        BadConfig{"RtspMountWithoutSlash",
                  "sources:\n  - id: a\n    uri: x.mkv\n    outputs: [{type: rtsp, mount: cam}]\n",
                  "outputs[0].mount: an RTSP mount starts with '/'"},
        BadConfig{"SegmentWithoutNumber",
                  "sources:\n  - id: a\n    uri: x.mkv\n    outputs:\n      - {type: file, path: /rec/a.mkv}\n",
                  "test.yaml:5:28: sources[0].outputs[0].path: needs exactly one segment number"},
        BadConfig{"SegmentWithStringDirective",
                  "sources:\n  - id: a\n    uri: x.mkv\n    outputs:\n      - {type: file, path: /rec/%s-%05d.mkv}\n",
                  "sources[0].outputs[0].path: needs exactly one segment number"},
        BadConfig{"FormatAgainstExtension",
                  "sources:\n  - id: a\n    uri: x.mkv\n    outputs:\n"
                  "      - {type: file, path: /rec/a-%d.mp4, format: mkv}\n",
                  "test.yaml:5:51: sources[0].outputs[0].format: format mkv does not match"},
        BadConfig{"SnapshotFormat",
                  "http: {}\nsources:\n  - id: a\n    uri: x.mkv\n    outputs: [{type: snapshot, path: /s, format: png}]\n",
                  "sources[0].outputs[0].format: unsupported format 'png' (expected jpeg or webp)"},
        BadConfig{"SnapshotWithoutHttp",
                  "sources:\n  - id: a\n    uri: x.mkv\n    outputs: [{type: snapshot, path: /s}]\n",
                  "test.yaml:4:15: sources[0].outputs[0]: snapshots are taken on request over HTTP"},
        BadConfig{"TwoSnapshotOutputs",
                  "http: {}\nsources:\n  - id: a\n    uri: x.mkv\n"
                  "    outputs: [{type: snapshot, path: /s}, {type: snapshot, path: /t}]\n",
                  "sources[0].outputs[1]: only one snapshot output per source"},
        BadConfig{"MountUsedTwice",
                  "sources:\n  - {id: a, uri: x.mkv, outputs: [{type: rtsp, mount: /m}]}\n"
                  "  - {id: b, uri: y.mkv, outputs: [{type: rtsp, mount: /m}]}\n",
                  "test.yaml:3:35: sources[1].outputs[0].mount: mount '/m' is already used"},
        BadConfig{"HttpUnknownKey", "http: {adress: 0.0.0.0}\nsources: [{id: a, uri: x.mkv}]\n",
                  "test.yaml:1:8: http.adress: unknown key"},
        BadConfig{"HttpPortRange", "http: {port: 70000}\nsources: [{id: a, uri: x.mkv}]\n",
                  "test.yaml:1:14: http.port: must be between 0 and 65535"},
        BadConfig{"YamlSyntax", "sources:\n  - id: a\n   uri: [\n", "test.yaml:3:"},
        // Durations: ranges, and no nan, infinity or absurd values.
        BadConfig{"WatchdogZero", "sources:\n  - id: a\n    uri: x.mkv\n    watchdog: 0s\n",
                  "test.yaml:4:15: sources[0].watchdog: '0s' is out of range (100ms to 24h)"},
        BadConfig{"WatchdogNan", "sources:\n  - id: a\n    uri: x.mkv\n    watchdog: nan\n",
                  "test.yaml:4:15: sources[0].watchdog: 'nan' is not a duration"},
        BadConfig{"WatchdogInfinite", "sources:\n  - id: a\n    uri: x.mkv\n    watchdog: inf\n",
                  "sources[0].watchdog: 'inf' is not a duration"},
        BadConfig{"WatchdogAbsurd", "sources:\n  - id: a\n    uri: x.mkv\n    watchdog: 1e30h\n",
                  "sources[0].watchdog: '1e30h' is not a duration"},
        BadConfig{"ReconnectInitialZero", "sources:\n  - id: a\n    uri: x.mkv\n    reconnect: {initial: 0ms}\n",
                  "test.yaml:4:26: sources[0].reconnect.initial: '0ms' is out of range (10ms to 24h)"},
        BadConfig{"HeartbeatTooShort", "bus: {heartbeat: 5ms}\nsources: [{id: a, uri: x.mkv}]\n",
                  "test.yaml:1:18: bus.heartbeat: 0s (off) or at least 10ms"},
        BadConfig{"HttpTokenFileMissing", "http: {token_file: /nonexistent/vigil.token}\nsources: [{id: a, uri: x.mkv}]\n",
                  "test.yaml:1:20: http.token_file: cannot read /nonexistent/vigil.token"},
        BadConfig{"DuplicateKey", "sources:\n  - id: a\n    uri: x.mkv\n    uri: y.mkv\n",
                  "test.yaml:4:5: sources[0].uri: duplicate key (first at line 3)"},
        // Found by tests/fuzz (pipeline_config): a list as a key threw past the line number.
        BadConfig{"ListAsKey", "sources: [{id: a, uri: x.mkv}]\n? [a, b]\n: 1\n",
                  "test.yaml:2:3: (top level): a key must be plain text, not a list or mapping"},
        BadConfig{"DuplicateTopLevelKey", "http: {}\nsources: [{id: a, uri: x.mkv}]\nhttp: {port: 1}\n",
                  "test.yaml:3:1: http: duplicate key (first at line 1)"},
        BadConfig{"ZoneNameWithControl",
                  "sources:\n  - id: a\n    uri: x.mkv\n    analytics:\n      - faces:\n          zones:\n"
                  "            - {name: \"q\\t1\", polygon: [[0, 0], [2, 0], [1, 1]]}\n",
                  "faces.zones[0].name: zone names are 1-64 bytes of UTF-8 without control characters"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(Config, ZonesBecomeTheElementPropertyText) {
  // Without a validator: the analytics elements need not exist for parsing.
  const auto config = parseConfig(R"(sources:
  - id: a
    uri: x.mkv
    analytics:
      - faces:
          score_threshold: 0.6
          zones:
            - {name: queue-1, polygon: [[0.1, 0.2], [0.5, 0.2], [0.5, 0.9]]}
            - {name: queue-2, polygon: [[0.6, 0.2], [0.9, 0.2], [0.9, 0.9]]}
      - codes: {formats: [qr, ean13]}
)", "t.yaml");
  const auto& analytics = config.sources[0].analytics;
  ASSERT_EQ(analytics.size(), 2u);
  EXPECT_EQ(analytics[0].element, "facecount");
  ASSERT_EQ(analytics[0].properties.size(), 2u);
  EXPECT_EQ(analytics[0].properties[0].first, "score-threshold");
  EXPECT_EQ(analytics[0].properties[0].second, "0.6");
  EXPECT_EQ(analytics[0].properties[1].second, "queue-1=0.1,0.2 0.5,0.2 0.5,0.9;queue-2=0.6,0.2 0.9,0.2 0.9,0.9");
  EXPECT_EQ(analytics[1].element, "codereader");
  EXPECT_EQ(analytics[1].properties[0].second, "qr,ean13");
}

TEST(Config, OutputsAndHttp) {
  const auto config = parseConfig(R"(http: {address: 0.0.0.0, port: 0}
rtsp_server: {port: 0}
sources:
  - id: a
    uri: x.mkv
    outputs:
      - {type: file, path: /rec/a-%05d.mp4, segment: 2m}
      - {type: file, path: /rec/b-%%-%d.mkv}
      - {type: rtsp, mount: /a}
      - {type: snapshot, path: /snapshots, format: webp}
)", "t.yaml");
  EXPECT_TRUE(config.http.enabled);
  EXPECT_EQ(config.http.address, "0.0.0.0");
  EXPECT_EQ(config.http.port, 0);
  EXPECT_EQ(config.rtsp_server.port, 0);
  const auto& outputs = config.sources[0].outputs;
  ASSERT_EQ(outputs.size(), 4u);
  EXPECT_EQ(outputs[0].format, "mp4") << "the extension picks the container";
  EXPECT_EQ(outputs[0].segment.count(), 120);
  EXPECT_EQ(outputs[1].format, "mkv");
  EXPECT_EQ(outputs[2].path, "/a");
  EXPECT_EQ(outputs[3].format, "webp");
  EXPECT_EQ(outputs[3].line, 10);
  EXPECT_FALSE(parseConfig("sources: [{id: a, uri: x.mkv}]\n", "t.yaml").http.enabled) << "off unless configured";
}

TEST(Config, AnalyticOptionsCheckedAgainstTheElement) {
  vigil::pipeline::ensurePluginLoaded();
  // eventpublish stands in for any element: unknown property, bad type, range.
  EXPECT_NE(vigil::pipeline::validateAnalyticOption("eventpublish", "heartbeat-intervall", "5").find(
                "unknown option 'heartbeat_intervall' for eventpublish (known: "),
            std::string::npos);
  EXPECT_NE(vigil::pipeline::validateAnalyticOption("eventpublish", "heartbeat-interval", "soon").find(
                "'soon' is not a valid value for 'heartbeat_interval'"),
            std::string::npos);
  EXPECT_NE(vigil::pipeline::validateAnalyticOption("eventpublish", "heartbeat-interval", "99999999").find(
                "out of range"),
            std::string::npos);
  EXPECT_EQ(vigil::pipeline::validateAnalyticOption("eventpublish", "heartbeat-interval", "100"), "");
  EXPECT_NE(vigil::pipeline::validateAnalyticOption("nosuchelement", "x", "1").find("is not available"),
            std::string::npos);
}

TEST(Config, CredentialsAreRedacted) {
  using vigil::pipeline::redactUri;
  EXPECT_EQ(redactUri("rtsp://admin:hunter2@10.0.0.5:554/stream1"), "rtsp://***@10.0.0.5:554/stream1");
  EXPECT_EQ(redactUri("rtsp://10.0.0.5/a@b"), "rtsp://10.0.0.5/a@b") << "an @ in the path is not a credential";
  EXPECT_EQ(redactUri("/data/clip.mkv"), "/data/clip.mkv");
  // Credentials in the query string are redacted like user:password.
  EXPECT_EQ(redactUri("rtsp://10.0.0.5/s?user=bob&password=hunter2&channel=1"),
            "rtsp://10.0.0.5/s?user=bob&password=***&channel=1");
  EXPECT_EQ(redactUri("https://cam.example/live?token=abc123#frag"), "https://cam.example/live?token=***#frag");
  EXPECT_EQ(redactUri("http://a:b@cam/x?API_KEY=k1&Secret=s2&sig=s3&pwd=p"),
            "http://***@cam/x?API_KEY=***&Secret=***&sig=***&pwd=***");
  EXPECT_EQ(redactUri("rtsp://cam/s?channel=1&subtype=0"), "rtsp://cam/s?channel=1&subtype=0");
  EXPECT_EQ(vigil::pipeline::uriSecrets("rtsp://u:p@cam/s?access_token=t0k&x=1"),
            (std::vector<std::string>{"u:p", "t0k"}));
}

TEST(Config, Durations) {
  using vigil::pipeline::parseDuration;
  EXPECT_EQ(parseDuration("1.5s")->count(), 1500);
  EXPECT_EQ(parseDuration("2")->count(), 2000);
  EXPECT_EQ(parseDuration("2h")->count(), 7200000);
  EXPECT_FALSE(parseDuration("-1s"));
  EXPECT_FALSE(parseDuration("5 parsecs"));
  EXPECT_FALSE(parseDuration(""));
  EXPECT_FALSE(parseDuration("nan"));
  EXPECT_FALSE(parseDuration("inf"));
  EXPECT_FALSE(parseDuration("infinity"));
  EXPECT_FALSE(parseDuration("1e30h")) << "no overflowing conversion";
  EXPECT_EQ(parseDuration("365d"), std::nullopt) << "no day unit here";
}

}  // namespace

namespace bus_security {

// Key files made by the events library, as `vigil keygen` makes them.
struct KeyDirectory {
  std::filesystem::path root;
  KeyDirectory() {
    char pattern[] = "/tmp/vigil-config-keys-XXXXXX";
    root = ::mkdtemp(pattern);
    vigil::events::writeCurveKeyPair(vigil::events::generateCurveKeyPair(), root.string(), "server");
    vigil::events::writeCurveKeyPair(vigil::events::generateCurveKeyPair(), (root / "authorized").string(), "client");
  }
  ~KeyDirectory() { std::filesystem::remove_all(root); }
  std::string busWith(const std::string& curve) const {
    return "bus:\n  endpoint: tcp://0.0.0.0:5555\n  snapshot_endpoint: tcp://0.0.0.0:5556\n" + curve +
           "sources:\n  - {id: cam, uri: testsrc://ball}\n";
  }
  std::string curve(const std::string& extra = "") const {
    return "  curve:\n    server_key: " + (root / "server.key").string() + "\n    authorized_keys: " +
           (root / "authorized").string() + "\n" + extra;
  }
};

TEST(ConfigBusSecurity, ANonLoopbackBusWithoutCurveIsRefusedWithHowToMakeKeys) {
  const std::string error = errorOf("bus:\n  endpoint: tcp://0.0.0.0:5555\nsources:\n  - {id: cam, uri: testsrc://ball}\n");
  EXPECT_NE(error.find("test.yaml:2:"), std::string::npos) << error;
  EXPECT_NE(error.find("bus.endpoint"), std::string::npos) << error;
  EXPECT_NE(error.find("vigil keygen"), std::string::npos) << error;
  EXPECT_NE(error.find("insecure: true"), std::string::npos) << error;
  for (const char* endpoint : {"tcp://*:5555", "tcp://192.168.1.20:5555"}) {
    EXPECT_NE(errorOf(std::string("bus:\n  endpoint: ") + endpoint + "\nsources:\n  - {id: cam, uri: testsrc://ball}\n")
                  .find("vigil keygen"),
              std::string::npos)
        << endpoint;
  }
  // The snapshot socket answers anyone too.
  EXPECT_NE(errorOf("bus:\n  snapshot_endpoint: tcp://0.0.0.0:5556\nsources:\n  - {id: cam, uri: testsrc://ball}\n")
                .find("bus.snapshot_endpoint"),
            std::string::npos);
}

TEST(ConfigBusSecurity, InsecureTrueAcceptsIt) {
  const auto config = parseConfig(
      "bus:\n  endpoint: tcp://0.0.0.0:5555\n  insecure: true\nsources:\n  - {id: cam, uri: testsrc://ball}\n", "t.yaml");
  EXPECT_TRUE(config.bus.insecure);
  EXPECT_TRUE(config.bus.curve_server_key.empty());
}

TEST(ConfigBusSecurity, CurveKeysAreReadAtLoad) {
  KeyDirectory keys;
  const auto config = parseConfig(keys.busWith(keys.curve("    allow: [10.0.0.0/8, 127.0.0.1]\n")), "t.yaml");
  EXPECT_EQ(config.bus.curve_server_key, (keys.root / "server.key").string());
  EXPECT_EQ(config.bus.curve_authorized_keys, (keys.root / "authorized").string());
  EXPECT_EQ(config.bus.curve_allow, (std::vector<std::string>{"10.0.0.0/8", "127.0.0.1"}));

  // A missing key file, an empty directory, a bad range: errors with their key.
  std::string missing = keys.curve();
  missing.replace(missing.find("server.key"), 10, "nothere.key");
  EXPECT_NE(errorOf(keys.busWith(missing)).find("bus.curve.server_key"), std::string::npos);
  std::filesystem::create_directory(keys.root / "empty");
  std::string empty = keys.curve();
  empty.replace(empty.find("authorized\n"), 10, "empty");
  EXPECT_NE(errorOf(keys.busWith(empty)).find("holds no NAME.pub"), std::string::npos) << errorOf(keys.busWith(empty));
  EXPECT_NE(errorOf(keys.busWith(keys.curve("    allow: [10.0.0.0/40]\n"))).find("bus.curve.allow[0]"),
            std::string::npos);
  EXPECT_NE(errorOf(keys.busWith("  curve: {server_key: x}\n")).find("bus.curve.authorized_keys"), std::string::npos);
}

}  // namespace bus_security
