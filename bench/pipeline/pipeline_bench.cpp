// Pipeline overhead and event latency, measured in one run on this machine.
//   1. fps and CPU ms/frame of decode-only (the reference) vs `vigil run` with
//      no analytics on the same 720p clip; the ratio is what Vigil's own
//      plumbing (appsink/appsrc bridge, metadata, eventpublish) costs.
//   2. event latency, capture wall-clock `ts` -> subscriber receive, p50/p99,
//      on loopback, for a live 720p30 source with facecount publishing every
//      frame: once plain, once with the snapshot socket, its replay history
//      and a subscriber that replays and confirms (issue 13: <= 5 ms at p99).
// `pipeline_bench --latency-only` skips 1.
#include "config.hpp"
#include "runner.hpp"
#include "vigil/events/subscriber.hpp"
#include "vigil/groundtruth/clip.hpp"
#include "vigil/gst/ptr.hpp"

#include <arpa/inet.h>
#include <gst/gst.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
constexpr int kFrames = 300;
constexpr int kRuns = 5;

double cpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

struct Measure {
  double fps = 0;
  double cpu_ms_per_frame = 0;
};

template <typename Fn>
Measure measure(Fn&& run) {
  const double cpu_before = cpuSeconds();
  const auto wall_before = std::chrono::steady_clock::now();
  run();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_before).count();
  return {kFrames / wall, (cpuSeconds() - cpu_before) * 1000 / kFrames};
}

void decodeOnly(const std::string& clip) {
  vigil::gst::CharPtr description(g_strdup_printf(
      "filesrc location=\"%s\" ! matroskademux ! h264parse ! avdec_h264 ! fakesink sync=false", clip.c_str()));
  vigil::gst::ElementPtr pipeline(gst_parse_launch(description.get(), nullptr));
  gst_object_ref_sink(pipeline.get());
  gst_element_set_state(pipeline.get(), GST_STATE_PLAYING);
  vigil::gst::BusPtr bus(gst_element_get_bus(pipeline.get()));
  vigil::gst::MessagePtr done(gst_bus_timed_pop_filtered(
      bus.get(), GST_CLOCK_TIME_NONE, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR)));
  gst_element_set_state(pipeline.get(), GST_STATE_NULL);
}

void vigilRun(const std::string& yaml) {
  vigil::pipeline::Runner runner(vigil::pipeline::parseConfig(yaml, "bench.yaml"));
  if (runner.run() != 0 || runner.summary().sources.at(0).frames != static_cast<std::uint64_t>(kFrames)) {
    std::fprintf(stderr, "vigil run failed or lost frames: no figures\n");
    std::exit(1);
  }
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<std::size_t>(p * (values.size() - 1) + 0.5))];
}

// A TCP port free a moment ago on 127.0.0.1 (the snapshot endpoint must be
// known to the subscriber; the runner reports only the bus endpoints).
int freeTcpPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

struct Latency {
  std::vector<double> ms;
  std::uint64_t missed = 0, recovered = 0;
};

// Capture -> subscriber latency of faces events from a live 720p30 source.
Latency eventLatency(bool replay) {
  const std::string snapshot = replay ? "tcp://127.0.0.1:" + std::to_string(freeTcpPort()) : "";
  const std::string live_yaml =
      "bus: {endpoint: \"tcp://127.0.0.1:*\", heartbeat: 1s" +
      (replay ? ", snapshot_endpoint: \"" + snapshot + "\"" : std::string()) + "}\n"
      "sources:\n  - id: live\n    uri: \"testsrc://smpte?width=1280&height=720&fps=30\"\n"
      "    analytics:\n      - faces: {emit: every-frame}\n";
  vigil::pipeline::Runner runner(vigil::pipeline::parseConfig(live_yaml, "bench.yaml"));
  Latency result;
  std::atomic<bool> started{false};
  std::string endpoint;
  std::thread loop([&] {
    vigil::pipeline::RunOptions options;
    options.duration = std::chrono::seconds(12);
    options.on_started = [&](const std::vector<std::string>& endpoints) {
      endpoint = endpoints.at(0);
      started = true;
    };
    runner.run(options);
  });
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  vigil::events::SubscriberOptions subscriber_options;
  subscriber_options.endpoints = {endpoint};
  subscriber_options.topic_prefixes = {"vigil/faces/"};
  subscriber_options.snapshot_endpoint = snapshot;
  vigil::events::Subscriber subscriber(subscriber_options);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until) {
    if (auto received = subscriber.next(std::chrono::milliseconds(100))) {
      // Replayed events are old on purpose: the figure is the live ones'.
      if (!received->replayed) {
        result.ms.push_back((vigil::events::wallClockNowNs() - received->event.header.ts_ns) / 1e6);
      }
    }
  }
  loop.join();
  result.missed = subscriber.stats().missed;
  result.recovered = subscriber.stats().recovered;
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  vigil::pipeline::ensurePluginLoaded();
  const fs::path workdir = fs::temp_directory_path() / ("vigil-pipeline-bench-" + std::to_string(getpid()));
  fs::create_directories(workdir);
  const std::string clip = (workdir / "clip-720p.mkv").string();
  {
    vigil::groundtruth::Scene scene({1280, 720}, 30, 11);
    vigil::groundtruth::ClipOptions options;
    options.frames = kFrames;
    vigil::groundtruth::writeClip(scene, clip, options);
  }
  const std::string run_yaml = "bus: {endpoint: \"tcp://127.0.0.1:*\", heartbeat: 1s}\n"
                               "sources:\n  - {id: bench, uri: \"" + clip + "\", realtime: false, leaky: false}\n";

  const bool latency_only = argc > 1 && std::string(argv[1]) == "--latency-only";
  if (!latency_only) {
    // 1. Overhead: alternate the two so machine noise hits both alike.
    std::vector<double> decode_fps, decode_cpu, vigil_fps, vigil_cpu;
    for (int run = 0; run < kRuns; ++run) {
      const Measure decoded = measure([&] { decodeOnly(clip); });
      const Measure vigil = measure([&] { vigilRun(run_yaml); });
      decode_fps.push_back(decoded.fps);
      decode_cpu.push_back(decoded.cpu_ms_per_frame);
      vigil_fps.push_back(vigil.fps);
      vigil_cpu.push_back(vigil.cpu_ms_per_frame);
    }
    std::printf("== Overhead: %d frames of 1280x720 H.264, median of %d runs ==\n", kFrames, kRuns);
    std::printf("%-34s %10s %14s\n", "pipeline", "fps", "CPU ms/frame");
    std::printf("%-34s %10.1f %14.2f\n", "decode only (reference)", median(decode_fps), median(decode_cpu));
    std::printf("%-34s %10.1f %14.2f\n", "vigil run, no analytics", median(vigil_fps), median(vigil_cpu));
    std::printf("ratio vigil/decode: fps x%.2f, CPU x%.2f\n\n", median(vigil_fps) / median(decode_fps),
                median(vigil_cpu) / median(decode_cpu));
  }

  // 2. Latency, plain and with replay on.
  std::printf("== Event latency: live 720p30, facecount emit=every-frame, loopback ==\n");
  std::vector<double> p99;
  for (const bool replay : {false, true}) {
    const Latency latency = eventLatency(replay);
    const char* name = replay ? "with snapshot socket and replay" : "plain";
    if (latency.ms.empty()) {
      std::printf("%s: no events received\n", name);
      continue;
    }
    p99.push_back(percentile(latency.ms, 0.99));
    std::printf("%s: %zu live events: capture -> subscriber p50 %.2f ms, p99 %.2f ms, max %.2f ms; lost: %llu, "
                "recovered by replay: %llu\n",
                name, latency.ms.size(), percentile(latency.ms, 0.5), p99.back(), percentile(latency.ms, 1.0),
                static_cast<unsigned long long>(latency.missed), static_cast<unsigned long long>(latency.recovered));
  }
  if (p99.size() == 2) std::printf("replay adds %.2f ms at p99 (target <= 5 ms)\n", p99[1] - p99[0]);
  std::error_code ignored;
  fs::remove_all(workdir, ignored);
  return 0;
}
