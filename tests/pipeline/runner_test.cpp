// The runner against real sources: a local RTSP server (gst-rtsp-server) that
// goes away mid-stream and comes back, a camera that never answers, a file.
#include "bus_listener.hpp"
#include "config.hpp"
#include "rtsp_server.hpp"
#include "runner.hpp"
#include "vigil/groundtruth/clip.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using vigil::testing::BusListener;

constexpr int kClipFrames = 300;  // 20 s at 15 fps: outlives every test's stream
constexpr double kClipFps = 15;

class RunnerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    vigil::pipeline::ensurePluginLoaded();
    workdir_ = new fs::path(fs::temp_directory_path() / ("vigil-runner-test-" + std::to_string(getpid())));
    fs::create_directories(*workdir_);
    clip_ = new std::string((*workdir_ / "clip.mkv").string());
    vigil::groundtruth::Scene scene({320, 240}, kClipFps, 7);
    vigil::groundtruth::ClipOptions options;
    options.frames = kClipFrames;
    options.bitrate_kbps = 500;
    options.keyframe_interval = 15;
    vigil::groundtruth::writeClip(scene, *clip_, options);
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    fs::remove_all(*workdir_, ignored);
    delete clip_;
    delete workdir_;
  }

  // Runs the config on its own thread; returns the bound bus endpoint.
  std::string startRunner(const std::string& yaml) {
    runner_ = std::make_unique<vigil::pipeline::Runner>(
        vigil::pipeline::parseConfig(yaml, "test.yaml", &vigil::pipeline::validateAnalyticOption));
    std::promise<std::string> endpoint;
    auto bound = endpoint.get_future();
    thread_ = std::thread([this, &endpoint] {
      vigil::pipeline::RunOptions options;
      options.on_started = [&endpoint](const std::vector<std::string>& endpoints) {
        endpoint.set_value(endpoints.at(0));
      };
      exit_code_ = runner_->run(options);
    });
    return bound.get();
  }

  int stopRunner() {
    runner_->requestStop();
    thread_.join();
    return exit_code_;
  }

  void TearDown() override {
    if (thread_.joinable()) stopRunner();
  }

  static fs::path* workdir_;
  static std::string* clip_;
  std::unique_ptr<vigil::pipeline::Runner> runner_;
  std::thread thread_;
  int exit_code_ = -1;
};

fs::path* RunnerTest::workdir_ = nullptr;
std::string* RunnerTest::clip_ = nullptr;

bool isState(const vigil::events::Event& event, const std::string& state) {
  return event.header.kind == "status" && event.getString("state") == state;
}

TEST_F(RunnerTest, RtspSourceComesBackAfterTheServerReturns) {
  vigil::pipeline::RtspServer server("127.0.0.1", 0);
  server.mount("/cam", vigil::pipeline::RtspServer::fileLaunch(*clip_));
  server.start();
  const std::string endpoint = startRunner(R"(bus: {endpoint: "tcp://127.0.0.1:*", heartbeat: 100ms}
sources:
  - id: door
    uri: )" + server.url("/cam") + R"(
    watchdog: 1s
    reconnect: {initial: 100ms, max: 400ms}
    rtsp: {transport: tcp, latency: 100ms}
    analytics:
      - faces: {emit: every-frame, interval: 1}
)");
  BusListener listener(endpoint, "vigil/");
  auto playing = listener.waitFor([](const auto& e) {
    return isState(e, "playing") && e.getDouble("analysed_fps").value_or(0) > 0;
  });
  ASSERT_TRUE(playing) << "frames never flowed from the RTSP source";
  const std::uint64_t frame_before = playing->header.frame;

  server.stop();
  auto reconnecting = listener.waitFor([](const auto& e) { return isState(e, "reconnecting"); });
  ASSERT_TRUE(reconnecting) << "the drop was not reported";
  EXPECT_FALSE(reconnecting->getString("detail").value_or("").empty());

  const auto returned = std::chrono::steady_clock::now();
  server.start();
  auto back = listener.waitFor([&](const auto& e) {
    return isState(e, "playing") && e.header.frame > frame_before + 1;
  }, std::chrono::seconds(20));
  ASSERT_TRUE(back) << "the source did not come back";
  const double recovery = std::chrono::duration<double>(std::chrono::steady_clock::now() - returned).count();
  std::printf("source back %.2f s after the RTSP server returned\n", recovery);
  RecordProperty("recovery_seconds", std::to_string(recovery));

  // Let a few more frames through, then check: frame numbers and timestamps
  // carry on across the reconnect, because the analytics side never restarted.
  ASSERT_TRUE(listener.waitFor([&](const auto& e) {
    return e.header.kind == "faces" && e.header.frame > back->header.frame + 10;
  }));
  std::int64_t last_frame = -1;
  std::int64_t last_pts = -1;
  int faces_events = 0;
  for (const auto& event : listener.seen()) {
    if (event.header.kind != "faces") continue;
    ++faces_events;
    EXPECT_GT(static_cast<std::int64_t>(event.header.frame), last_frame) << "frame numbers went backwards";
    ASSERT_TRUE(event.header.pts_ns);
    EXPECT_GT(*event.header.pts_ns, last_pts) << "timestamps went backwards at frame " << event.header.frame;
    last_frame = static_cast<std::int64_t>(event.header.frame);
    last_pts = *event.header.pts_ns;
  }
  EXPECT_GT(faces_events, 10);
  EXPECT_EQ(stopRunner(), 0);
  const auto& summary = runner_->summary().sources.at(0);
  EXPECT_GE(summary.reconnects, 1u);
  EXPECT_GT(summary.last_recovery_seconds, 0);
}

TEST_F(RunnerTest, DeadCameraNeitherStopsOthersNorLeaksCredentials) {
  const std::string endpoint = startRunner(R"(bus: {endpoint: "tcp://127.0.0.1:*", heartbeat: 100ms}
sources:
  - id: alive
    uri: testsrc://ball?width=320&height=240&fps=30
  - id: dead
    uri: rtsp://admin:hunter2@127.0.0.1:9/stream
    reconnect: {initial: 50ms, max: 200ms}
)");
  BusListener listener(endpoint);
  int dead_reconnects = 0;
  ASSERT_TRUE(listener.waitFor([&](const auto& e) {
    if (e.header.source == "dead" && isState(e, "reconnecting")) ++dead_reconnects;
    return dead_reconnects >= 3;
  })) << "the dead camera is not retried";
  auto alive = listener.waitFor([](const auto& e) {
    return e.header.source == "alive" && isState(e, "playing") && e.getDouble("analysed_fps").value_or(0) > 10;
  });
  EXPECT_TRUE(alive) << "the live source stalled while the other one failed";
  EXPECT_EQ(stopRunner(), 0);
  for (const auto& event : listener.seen()) {
    EXPECT_EQ(vigil::events::toJson(event.map()).find("hunter2"), std::string::npos) << "credentials in an event";
  }
}

TEST_F(RunnerTest, SlowAnalyticDropsFramesInsteadOfQueueing) {
  // 200 fps offered, a detector on every frame: far more than it can take.
  const std::string endpoint = startRunner(R"(bus: {endpoint: "tcp://127.0.0.1:*", heartbeat: 200ms}
sources:
  - id: busy
    uri: testsrc://ball?width=640&height=480&fps=200
    queue: 2
    analytics:
      - faces: {interval: 1, emit: every-frame}
)");
  BusListener listener(endpoint, "vigil/");
  auto heartbeat = listener.waitFor([](const auto& e) {
    return isState(e, "playing") && e.getInt("dropped_frames").value_or(0) > 50;
  }, std::chrono::seconds(20));
  ASSERT_TRUE(heartbeat) << "no drops were counted";
  EXPECT_GT(heartbeat->getDouble("input_fps").value_or(0), heartbeat->getDouble("analysed_fps").value_or(0));
  // Bounded latency: events describe frames captured moments ago, not a backlog.
  auto face = listener.waitForKind("faces");
  ASSERT_TRUE(face);
  const double age_ms = (vigil::events::wallClockNowNs() - face->header.ts_ns) / 1e6;
  EXPECT_LT(age_ms, 1000) << "frames queued up instead of being dropped";
  EXPECT_EQ(stopRunner(), 0);
}

// Bytes no demuxer recognises, optionally after a valid start of the clip.
void writeCorrupt(const std::string& clip, const fs::path& path, std::size_t valid_head) {
  std::FILE* in = std::fopen(clip.c_str(), "rb");
  std::FILE* out = std::fopen(path.c_str(), "wb");
  ASSERT_TRUE(in && out);
  std::vector<unsigned char> bytes(64 * 1024);
  const std::size_t head = std::fread(bytes.data(), 1, std::min(valid_head, bytes.size()), in);
  std::fwrite(bytes.data(), 1, head, out);
  std::uint32_t state = 12345;
  for (auto& byte : bytes) {
    state = state * 1664525u + 1013904223u;
    byte = static_cast<unsigned char>(state >> 24);
  }
  std::fwrite(bytes.data(), 1, bytes.size(), out);
  std::fclose(in);
  std::fclose(out);
}

TEST_F(RunnerTest, CorruptStreamsAreReportedAndNeverCrashTheRunner) {
  const fs::path noise = *workdir_ / "noise.mkv";         // nothing recognisable: an error, retried
  const fs::path truncated = *workdir_ / "truncated.mkv"; // a valid start, then garbage: ends
  writeCorrupt(*clip_, noise, 0);
  writeCorrupt(*clip_, truncated, 4096);
  const std::string endpoint = startRunner(R"(bus: {endpoint: "tcp://127.0.0.1:*", heartbeat: 100ms}
sources:
  - id: noise
    uri: )" + noise.string() + R"(
    reconnect: {initial: 50ms, max: 200ms}
  - id: truncated
    uri: )" + truncated.string() + R"(
  - id: fine
    uri: testsrc://ball?width=160&height=120&fps=30
)");
  BusListener listener(endpoint);
  int retries = 0;
  bool truncated_stopped = false;
  ASSERT_TRUE(listener.waitFor([&](const auto& e) {
    if (e.header.source == "noise" && isState(e, "reconnecting")) {
      EXPECT_FALSE(e.getString("detail").value_or("").empty()) << "a retry without a reason";
      ++retries;
    }
    truncated_stopped = truncated_stopped || (e.header.source == "truncated" && isState(e, "stopped"));
    return retries >= 2 && truncated_stopped;
  }, std::chrono::seconds(20))) << "retries of the noise file: " << retries
                                << ", truncated file stopped: " << truncated_stopped;
  EXPECT_TRUE(listener.waitFor([](const auto& e) {
    return e.header.source == "fine" && isState(e, "playing") && e.getDouble("analysed_fps").value_or(0) > 0;
  })) << "the healthy source suffered";
  EXPECT_EQ(stopRunner(), 0);
}

TEST_F(RunnerTest, FileSourceEndsAndTheRunnerExits) {
  const std::string endpoint = startRunner(R"(bus: {endpoint: "tcp://127.0.0.1:*", heartbeat: 50ms}
sources:
  - id: recording
    uri: )" + *clip_ + R"(
    realtime: false
    leaky: false
)");
  BusListener listener(endpoint, "vigil/status/recording");
  EXPECT_TRUE(listener.waitFor([](const auto& e) { return isState(e, "stopped"); }, std::chrono::seconds(30)));
  thread_.join();
  EXPECT_EQ(exit_code_, 0);
  EXPECT_EQ(runner_->summary().sources.at(0).frames, static_cast<std::uint64_t>(kClipFrames))
      << "not leaky: every frame of the file is analysed";
}

TEST_F(RunnerTest, SigintStopsCleanly) {
  const fs::path config = *workdir_ / "sigint.yaml";
  {
    std::FILE* file = std::fopen(config.c_str(), "w");
    std::fputs("bus: {endpoint: \"tcp://127.0.0.1:*\", heartbeat: 50ms}\n"
               "sources:\n  - {id: cam, uri: \"testsrc://ball?width=160&height=120&fps=30\"}\n", file);
    std::fclose(file);
  }
  const std::string vigil = std::string(std::getenv("VIGIL_BUILD_DIR")) + "/pipeline/vigil";
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  const pid_t child = fork();
  if (child == 0) {
    dup2(out[1], STDERR_FILENO);
    dup2(out[1], STDOUT_FILENO);
    execl(vigil.c_str(), vigil.c_str(), "run", config.c_str(), nullptr);
    _exit(127);
  }
  close(out[1]);
  // Wait until it runs (its log says so), then interrupt it.
  std::string log;
  char chunk[512];
  while (log.find("analytics started") == std::string::npos) {
    const ssize_t n = read(out[0], chunk, sizeof chunk);
    ASSERT_GT(n, 0) << "vigil exited early: " << log;
    log.append(chunk, static_cast<std::size_t>(n));
  }
  kill(child, SIGINT);
  while (true) {
    const ssize_t n = read(out[0], chunk, sizeof chunk);
    if (n <= 0) break;
    log.append(chunk, static_cast<std::size_t>(n));
  }
  close(out[0]);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 0) << log;
  EXPECT_NE(log.find("interrupted: stopping all sources"), std::string::npos) << log;
}

}  // namespace
