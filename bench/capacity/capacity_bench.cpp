// How many live cameras one machine carries.
//
// Serves one 1280x720 H.264 clip as N RTSP cameras on a local gst-rtsp-server
// (in this process), runs the real `vigil run` binary on them as a child
// process, reads the status heartbeats and every event from the bus, and
// reports, per analytics mix, the largest N that keeps up:
//   - every source analyses >= 95 % of its input frames (steady state), and
//   - event latency p99 (capture `ts` -> received here) <= 100 ms.
// CPU is the child's own (utime + stime from /proc), so the camera server and
// this process's subscriber are not counted. Per-stage cost comes from the
// difference between mixes at the same N: "none" is receive + decode + bridge
// + publish; each analytic's own cost is its mix minus "none".
//
//   capacity_bench [--clip FILE.mkv] [--seconds 14] [--max 16] [--republish]
//                  [--mixes none,faces,codes,plates,all]
// Without --clip, the demo's checkout scene is rendered (faces, plates, codes).
#include "rtsp_server.hpp"
#include "vigil/events/subscriber.hpp"
#include "vigil/groundtruth/clip.hpp"
#include "vigil/groundtruth/codes.hpp"
#include "vigil/groundtruth/face_layer.hpp"
#include "vigil/groundtruth/plates.hpp"

#include <gst/gst.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr double kFps = 30.0;
constexpr double kKeepUpFraction = 0.95;
constexpr double kLatencyP99LimitMs = 100.0;
// Heartbeats before this are start-up (model loading, RTSP negotiation).
constexpr double kWarmupSeconds = 5.0;

struct Options {
  std::string clip;
  double seconds = 15;
  int max_sources = 16;
  bool republish = false;
  std::vector<std::string> mixes{"none", "faces", "codes", "plates", "all"};
  fs::path vigil;
  fs::path workdir = fs::temp_directory_path() / "vigil-capacity";
};

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  for (std::string part; std::getline(stream, part, separator);) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

std::string analyticsYaml(const std::string& mix) {
  if (mix == "none") return "[]";
  if (mix == "all") return "[faces, codes, plates]";
  return "[" + mix + "]";
}

// The demo's checkout scene, at 30 fps: people queueing, cars with plates,
// labels with codes.
void renderClip(const fs::path& path, double seconds) {
  const cv::Size size(1280, 720);
  const auto frames = static_cast<std::int64_t>(seconds * kFps);
  constexpr std::uint32_t kSeed = 2027;
  vigil::groundtruth::Scene scene(size, kFps, kSeed);
  vigil::groundtruth::PlateLayerOptions plates;
  plates.frames = frames;
  plates.vehicles = std::max<int>(4, static_cast<int>(seconds / 3));
  scene.add(std::make_unique<vigil::groundtruth::PlateLayer>(size, kSeed, plates));
  vigil::groundtruth::FaceLayerOptions faces;
  faces.frames = frames;
  faces.seed = kSeed;
  scene.add(std::make_unique<vigil::groundtruth::FaceLayer>(size, vigil::groundtruth::loadFaceSprites(), faces));
  vigil::groundtruth::CodeSceneOptions codes;
  codes.size = size;
  codes.fps = kFps;
  codes.seed = kSeed;
  codes.formats = vigil::codes::parseFormatList("qr,datamatrix,ean13,code128");
  codes.codes_per_format = 2;
  codes.visible_frames = std::max<std::int64_t>(60, frames / 6);
  scene.add(std::make_unique<vigil::groundtruth::CodeLayer>(vigil::groundtruth::makeCodePlacements(codes)));
  vigil::groundtruth::ClipOptions clip;
  clip.frames = frames;
  clip.keyframe_interval = static_cast<int>(kFps);
  clip.bitrate_kbps = 3000;  // a camera's typical 720p bitrate
  vigil::groundtruth::writeClip(scene, path.string(), clip);
}

std::string freeEndpoint(zmq::context_t& context) {
  zmq::socket_t probe(context, zmq::socket_type::pub);
  probe.set(zmq::sockopt::linger, 0);
  probe.bind("tcp://127.0.0.1:*");
  return probe.get(zmq::sockopt::last_endpoint);
}

// utime + stime of a live process, in seconds; < 0 once it is gone.
double processCpuSeconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return -1;
  // Fields after the command name, which may contain spaces, closed by ')'.
  std::istringstream fields(line.substr(line.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int index = 3; fields >> field; ++index) {
    if (index == 14) utime = std::stoull(field);
    if (index == 15) {
      stime = std::stoull(field);
      break;
    }
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<std::size_t>(p * (values.size() - 1) + 0.5))];
}

struct Trial {
  int sources = 0;
  double min_analysed_fraction = 0;  // worst source
  double analysed_fps_total = 0;
  double latency_p50_ms = 0;
  double latency_p99_ms = 0;
  double cpu_ms_per_frame = 0;       // child CPU over the steady window / frames analysed in it
  double cores_used = 0;
  bool ran = false;
  bool keeps_up() const {
    return ran && min_analysed_fraction >= kKeepUpFraction && latency_p99_ms <= kLatencyP99LimitMs;
  }
};

struct SourceWindow {
  double first_time = -1, last_time = -1;
  std::int64_t first_analysed = 0, last_analysed = 0;
  double input_fps_sum = 0, analysed_fps_sum = 0;
  int heartbeats = 0;
};

Trial runTrial(const Options& options, vigil::pipeline::RtspServer& cameras, const std::string& mix, int sources) {
  zmq::context_t context(1);
  const std::string bus = freeEndpoint(context);
  std::ostringstream yaml;
  yaml << "bus: {endpoint: \"" << bus << "\", heartbeat: 1s}\n";
  if (options.republish) yaml << "rtsp_server: {address: 127.0.0.1, port: 0}\n";
  yaml << "sources:\n";
  for (int i = 0; i < sources; ++i) {
    yaml << "  - id: cam" << i << "\n"
         << "    uri: " << cameras.url("/cam" + std::to_string(i)) << "\n"
         << "    analytics: " << analyticsYaml(mix) << "\n";
    if (options.republish) yaml << "    outputs: [{type: rtsp, mount: /out" << i << "}]\n";
  }
  const fs::path config = options.workdir / ("capacity-" + mix + "-" + std::to_string(sources) + ".yaml");
  std::ofstream(config) << yaml.str();

  vigil::events::SubscriberOptions subscriber_options;
  subscriber_options.endpoints = {bus};
  subscriber_options.reconnect_interval_max = std::chrono::milliseconds(200);
  vigil::events::Subscriber subscriber(subscriber_options);

  const std::string duration = std::to_string(static_cast<int>(options.seconds)) + "s";
  const fs::path log = options.workdir / ("capacity-" + mix + "-" + std::to_string(sources) + ".log");
  const pid_t child = fork();
  if (child == 0) {
    FILE* out = std::fopen(log.c_str(), "w");
    if (out) {
      dup2(fileno(out), STDOUT_FILENO);
      dup2(fileno(out), STDERR_FILENO);
    }
    execl(options.vigil.c_str(), options.vigil.c_str(), "run", config.c_str(), "--for", duration.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }

  const auto started = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - started).count(); };
  std::map<std::string, SourceWindow> windows;
  std::vector<double> latency_ms;
  double cpu_at_window_start = -1, window_start = -1, cpu_at_window_end = -1, window_end = -1;
  int status = 0;
  bool exited = false;
  // Re-served streams only cost their encoder while a client watches them.
  std::vector<GstElement*> viewers;
  while (!exited) {
    if (auto received = subscriber.next(std::chrono::milliseconds(50))) {
      const auto& event = received->event;
      const double now = elapsed();
      if (now >= kWarmupSeconds && event.header.kind != "status") {
        latency_ms.push_back((vigil::events::wallClockNowNs() - event.header.ts_ns) / 1e6);
      }
      const bool heartbeat = event.find("heartbeat") && event.find("heartbeat")->type == msgpack::type::BOOLEAN &&
                             event.find("heartbeat")->via.boolean;
      if (heartbeat && now >= kWarmupSeconds) {
        SourceWindow& window = windows[event.header.source];
        const std::int64_t analysed = event.getInt("analysed_frames").value_or(0);
        if (window.first_time < 0) {
          window.first_time = now;
          window.first_analysed = analysed;
        } else {
          window.input_fps_sum += event.getDouble("input_fps").value_or(0);
          window.analysed_fps_sum += event.getDouble("analysed_fps").value_or(0);
          ++window.heartbeats;
        }
        window.last_time = now;
        window.last_analysed = analysed;
      }
    }
    const double now = elapsed();
    if (options.republish && viewers.empty() && now >= 2.0) {
      // The runner binds its RTSP server on a free port and logs the URL.
      std::ifstream text(log);
      std::string line;
      std::string base;
      while (std::getline(text, line)) {
        constexpr const char* kMarker = "anonymized stream at ";
        const auto at = line.find(kMarker);
        if (at != std::string::npos) {
          base = line.substr(at + std::strlen(kMarker));
          base = base.substr(0, base.find('/', std::strlen("rtsp://")));
          break;
        }
      }
      if (!base.empty()) {
        for (int i = 0; i < sources; ++i) {
          const std::string launch = "rtspsrc location=" + base + "/out" + std::to_string(i) +
                                     " latency=100 ! fakesink sync=false";
          GstElement* viewer = gst_parse_launch(launch.c_str(), nullptr);
          if (viewer) {
            gst_element_set_state(viewer, GST_STATE_PLAYING);
            viewers.push_back(viewer);
          }
        }
      }
    }
    if (window_start < 0 && now >= kWarmupSeconds) {
      window_start = now;
      cpu_at_window_start = processCpuSeconds(child);
    }
    if (now < options.seconds - 1.0) {
      const double cpu = processCpuSeconds(child);
      if (cpu >= 0 && window_start >= 0) {
        cpu_at_window_end = cpu;
        window_end = now;
      }
    }
    if (waitpid(child, &status, WNOHANG) == child) exited = true;
    if (now > options.seconds + 30) {  // a runner that does not stop by itself
      kill(child, SIGKILL);
      waitpid(child, &status, 0);
      exited = true;
    }
  }
  for (GstElement* viewer : viewers) {
    gst_element_set_state(viewer, GST_STATE_NULL);
    gst_object_unref(viewer);
  }

  Trial trial;
  trial.sources = sources;
  trial.ran = static_cast<int>(windows.size()) == sources;
  trial.min_analysed_fraction = windows.empty() ? 0 : 1.0;
  for (int i = 0; i < sources; ++i) {
    const auto found = windows.find("cam" + std::to_string(i));
    if (found == windows.end() || found->second.heartbeats == 0) {
      trial.ran = false;
      trial.min_analysed_fraction = 0;
      continue;
    }
    const SourceWindow& window = found->second;
    // Input is the camera's rate; a source the runner could not keep up with
    // shows fewer frames analysed (dropped before analysis or never received).
    const double analysed_fps = window.analysed_fps_sum / window.heartbeats;
    trial.min_analysed_fraction = std::min(trial.min_analysed_fraction, analysed_fps / kFps);
    trial.analysed_fps_total += analysed_fps;
  }
  trial.latency_p50_ms = percentile(latency_ms, 0.50);
  trial.latency_p99_ms = percentile(latency_ms, 0.99);
  if (window_end > window_start && cpu_at_window_start >= 0) {
    const double cpu = cpu_at_window_end - cpu_at_window_start;
    trial.cores_used = cpu / (window_end - window_start);
    const double frames = trial.analysed_fps_total * (window_end - window_start);
    if (frames > 0) trial.cpu_ms_per_frame = cpu * 1000 / frames;
  }
  return trial;
}

std::string fmtMs(double ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f ms", ms);
  return text;
}

void printTrial(const std::string& mix, const Trial& trial) {
  std::printf("  %-7s N=%-3d analysed %5.1f%% (worst source)  total %6.1f fps  latency p50 %6.1f ms p99 %7.1f ms  "
              "CPU %5.2f ms/frame (%.2f cores)  %s\n",
              mix.c_str(), trial.sources, trial.min_analysed_fraction * 100, trial.analysed_fps_total,
              trial.latency_p50_ms, trial.latency_p99_ms, trial.cpu_ms_per_frame, trial.cores_used,
              trial.keeps_up() ? "keeps up" : "falls behind");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  Options options;
  std::error_code ignored;
  options.vigil = fs::read_symlink("/proc/self/exe", ignored).parent_path().parent_path().parent_path() /
                  "pipeline" / "vigil";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--clip") options.clip = value();
    else if (arg == "--seconds") options.seconds = std::stod(value());
    else if (arg == "--max") options.max_sources = std::stoi(value());
    else if (arg == "--republish") options.republish = true;
    else if (arg == "--mixes") options.mixes = split(value(), ',');
    else if (arg == "--vigil") options.vigil = value();
    else {
      std::fprintf(stderr,
                   "usage: capacity_bench [--clip FILE.mkv] [--seconds S] [--max N] [--republish] "
                   "[--mixes none,faces,codes,plates,all] [--vigil PATH]\n");
      return 2;
    }
  }
  if (!fs::exists(options.vigil)) {
    std::fprintf(stderr, "no vigil binary at %s (use --vigil)\n", options.vigil.c_str());
    return 1;
  }
  fs::create_directories(options.workdir);
  // The clip must outlast a trial: cameras are served from its start.
  const double clip_seconds = options.seconds + 10;
  fs::path clip = options.clip;
  if (clip.empty()) {
    clip = options.workdir / "capacity-checkout.mkv";
    if (!fs::exists(clip)) {
      std::printf("rendering a %.0f s 1280x720 30 fps checkout clip into %s\n", clip_seconds, clip.c_str());
      std::fflush(stdout);
      renderClip(clip, clip_seconds);
    }
  }

  vigil::pipeline::RtspServer cameras("127.0.0.1", 0);
  for (int i = 0; i < options.max_sources; ++i) {
    // One media per camera (not shared), as N real cameras would be.
    cameras.mount("/cam" + std::to_string(i), vigil::pipeline::RtspServer::fileLaunch(fs::absolute(clip).string()),
                  false);
  }
  cameras.start();
  std::printf("cameras: %s ... /cam%d; trials of %.0f s, steady state after %.0f s; keeps up = every source >= %.0f%% "
              "of %g fps analysed and event latency p99 <= %.0f ms%s\n",
              cameras.url("/cam0").c_str(), options.max_sources - 1, options.seconds, kWarmupSeconds,
              kKeepUpFraction * 100, kFps, kLatencyP99LimitMs, options.republish ? "; each source re-served over RTSP" : "");

  struct Result {
    int largest = 0;
    Trial at_largest;
    Trial at_one;
  };
  std::map<std::string, Result> results;
  for (const std::string& mix : options.mixes) {
    Result result;
    // Doubling, then bisection between the last N that kept up and the first that did not.
    int low = 0, high = 0;
    for (int n = 1; n <= options.max_sources; n = std::min(n * 2, options.max_sources)) {
      const Trial trial = runTrial(options, cameras, mix, n);
      printTrial(mix, trial);
      if (n == 1) result.at_one = trial;
      if (!trial.keeps_up()) {
        high = n;
        break;
      }
      low = n;
      result.at_largest = trial;
      if (n == options.max_sources) break;
    }
    while (high > low + 1) {
      const int n = (low + high) / 2;
      const Trial trial = runTrial(options, cameras, mix, n);
      printTrial(mix, trial);
      if (trial.keeps_up()) {
        low = n;
        result.at_largest = trial;
      } else {
        high = n;
      }
    }
    result.largest = low;
    results[mix] = result;
  }

  std::printf("\n| analytics | largest N that keeps up | CPU ms/frame at N=1 | CPU ms/frame at largest N | "
              "latency p99 at largest N |\n|---|---|---|---|---|\n");
  for (const std::string& mix : options.mixes) {
    const Result& result = results[mix];
    const std::string latency = mix == "none" ? "n/a (status only)" : fmtMs(result.at_largest.latency_p99_ms);
    std::printf("| %s | %d | %.2f | %.2f | %s |\n", mix.c_str(), result.largest, result.at_one.cpu_ms_per_frame,
                result.at_largest.cpu_ms_per_frame, latency.c_str());
  }
  if (results.count("none")) {
    std::printf("\nper-stage CPU ms/frame at N=1 (mix minus \"none\" = receive + decode + bridge + publish: %.2f):\n",
                results["none"].at_one.cpu_ms_per_frame);
    for (const std::string& mix : options.mixes) {
      if (mix == "none") continue;
      std::printf("  %-7s +%.2f\n", mix.c_str(),
                  results[mix].at_one.cpu_ms_per_frame - results["none"].at_one.cpu_ms_per_frame);
    }
  }
  return 0;
}
