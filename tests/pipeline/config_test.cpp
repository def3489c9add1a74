// Config loading: good configs parse to what they say; every bad one is
// rejected with the key's path and line.
#include "config.hpp"
#include "runner.hpp"

#include <gtest/gtest.h>

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
sources:
  - id: cam-2
    uri: testsrc://ball
    watchdog: 2s
    reconnect: {initial: 100ms, max: 1m}
    rtsp: {latency: 50ms, transport: tcp}
)", "t.yaml");
  EXPECT_EQ(config.bus.heartbeat.count(), 250);
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
        BadConfig{"YamlSyntax", "sources:\n  - id: a\n   uri: [\n", "test.yaml:3:"}),
    [](const auto& info) { return std::string(info.param.name); });

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
}

TEST(Config, Durations) {
  using vigil::pipeline::parseDuration;
  EXPECT_EQ(parseDuration("1.5s")->count(), 1500);
  EXPECT_EQ(parseDuration("2")->count(), 2000);
  EXPECT_EQ(parseDuration("2h")->count(), 7200000);
  EXPECT_FALSE(parseDuration("-1s"));
  EXPECT_FALSE(parseDuration("5 parsecs"));
  EXPECT_FALSE(parseDuration(""));
}

}  // namespace
