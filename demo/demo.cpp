// `vigil demo`: a checkout camera from nothing. Generates a clip with known
// ground truth (people queueing, passing cars with plates, labels with codes),
// serves it over RTSP, runs the pipeline on it with both subscriber processes
// attached, and prints what every part saw.
#include "demo.hpp"

#include "config.hpp"
#include "rtsp_server.hpp"
#include "runner.hpp"
#include "vigil/events/keys.hpp"
#include "vigil/events/subscriber.hpp"
#include "vigil/groundtruth/clip.hpp"
#include "vigil/groundtruth/codes.hpp"
#include "vigil/groundtruth/face_layer.hpp"
#include "vigil/groundtruth/plates.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <zmq.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace vigil::pipeline {

namespace {

namespace fs = std::filesystem;

constexpr double kFps = 25.0;
constexpr int kWidth = 1280;
constexpr int kHeight = 720;
constexpr std::uint32_t kSeed = 2026;

// The demo's alert rules: short holds, so a 20 s clip shows them firing.
constexpr const char* kRules = R"yaml(sinks:
  log:
    type: log
  file:
    type: command
    command: [sh, -c, 'printf "%s\n" "$VIGIL_NOTIFICATION" >> "$VIGIL_DEMO_ALERTS"']
    timeout: 5s
rules:
  - name: queue-left-busy
    type: count
    kind: faces
    source: checkout-1
    zone: queue-left
    alert_at: 2
    hold: 2s
    clear_at: 1
    clear_hold: 2s
    cooldown: 5s
    sinks: [log, file]
  - name: gs1-label-read
    type: code
    source: "*"
    pattern: "^\\(01\\)"
    clear_hold: 5s
    sinks: [log, file]
  - name: camera-down
    type: source-down
    source: checkout-1
    hold: 5s
    clear_hold: 2s
    sinks: [log, file]
)yaml";

// A free loopback TCP port, read back from a socket bound to port 0.
std::string freeEndpoint(zmq::context_t& context) {
  zmq::socket_t probe(context, zmq::socket_type::pub);
  probe.set(zmq::sockopt::linger, 0);
  probe.bind("tcp://127.0.0.1:*");
  return probe.get(zmq::sockopt::last_endpoint);
}

fs::path siblingBinary(const char* argv0, const std::string& name) {
  std::error_code ignored;
  fs::path exe = fs::read_symlink("/proc/self/exe", ignored);
  if (exe.empty()) exe = fs::absolute(argv0);
  const fs::path dir = exe.parent_path();
  for (const fs::path& candidate : {dir / name, dir.parent_path() / "subscribers" / name,
                                    dir.parent_path() / "subscribers" / (name.substr(6)) / name}) {
    if (fs::exists(candidate, ignored)) return candidate;
  }
  throw std::runtime_error("cannot find " + name + " next to " + dir.string());
}

// A child process with its output in a log file.
struct Child {
  pid_t pid = -1;
  std::string name;

  Child(const std::string& label, const std::vector<std::string>& argv, const fs::path& log,
        const std::vector<std::pair<std::string, std::string>>& env = {})
      : name(label) {
    pid = fork();
    if (pid == 0) {
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
      }
      for (const auto& [key, value] : env) setenv(key.c_str(), value.c_str(), 1);
      std::vector<char*> args;
      for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    if (pid < 0) throw std::runtime_error("cannot start " + label);
  }

  // SIGTERM, then wait (bounded); returns the exit status.
  int stop() {
    if (pid <= 0) return -1;
    kill(pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    pid = -1;
    return -1;
  }

  ~Child() { stop(); }
};

// What an in-process subscriber saw on the bus: the demo's own view.
struct BusTally {
  std::map<std::string, std::uint64_t> events_by_kind;
  std::vector<double> latency_ms;  // capture wall-clock ts -> received
  std::int64_t max_faces = 0;
  std::map<std::string, std::int64_t> max_by_zone;
  std::int64_t max_plates = 0;
  std::map<std::string, std::string> codes;  // text -> format
  std::set<std::string> gs1_codes;
  std::vector<std::string> states;
  events::SubscriberStats stats;
};

// `replayed`: fetched from the publisher's history after the fact, so its
// arrival says nothing about the live latency.
void tally(BusTally& out, const events::Event& event, bool replayed) {
  namespace key = events::key;
  ++out.events_by_kind[event.header.kind];
  if (!replayed) out.latency_ms.push_back((events::wallClockNowNs() - event.header.ts_ns) / 1e6);
  const std::string& kind = event.header.kind;
  if (kind == events::kind::kStatus) {
    const auto state = event.getString(key::status::kState).value_or("");
    const msgpack::object* heartbeat = event.find(key::status::kHeartbeat);
    if (heartbeat && heartbeat->type == msgpack::type::BOOLEAN && heartbeat->via.boolean) return;
    if (out.states.empty() || out.states.back() != state) out.states.push_back(state);
  } else if (kind == events::kind::kFaces) {
    out.max_faces = std::max(out.max_faces, event.getInt(key::faces::kCount).value_or(0));
    if (const msgpack::object* zones = event.find(key::faces::kZones); zones && zones->type == msgpack::type::MAP) {
      for (std::uint32_t i = 0; i < zones->via.map.size; ++i) {
        const auto name = events::asString(&zones->via.map.ptr[i].key).value_or("?");
        out.max_by_zone[name] = std::max(out.max_by_zone[name], events::asInt(&zones->via.map.ptr[i].val).value_or(0));
      }
    }
  } else if (kind == events::kind::kPlates) {
    out.max_plates = std::max(out.max_plates, event.getInt(key::plates::kCount).value_or(0));
  } else if (kind == events::kind::kCodes) {
    const msgpack::object* objects = event.find(key::codes::kObjects);
    if (!objects || objects->type != msgpack::type::ARRAY) return;
    for (std::uint32_t i = 0; i < objects->via.array.size; ++i) {
      const msgpack::object& object = objects->via.array.ptr[i];
      const auto state = events::asString(events::findKey(object, key::codes::kState));
      if (state.value_or(key::codes::kStateAppeared) != key::codes::kStateAppeared) continue;
      // `text` is what the code says (GS1 in bracket form), as the ground truth has it.
      const auto text = events::asString(events::findKey(object, key::codes::kText)).value_or("");
      const auto format = events::asString(events::findKey(object, key::codes::kFormat)).value_or("");
      out.codes[text] = format;
      if (events::findKey(object, key::codes::kGs1)) out.gs1_codes.insert(text);
    }
  }
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<std::size_t>(p * (values.size() - 1) + 0.5))];
}

}  // namespace

int runDemo(const DemoOptions& options, const char* argv0) {
  const fs::path workdir = fs::absolute(options.workdir);
  fs::create_directories(workdir);
  const auto frames = static_cast<std::int64_t>(options.seconds * kFps);
  const fs::path clip = workdir / "checkout.mkv";
  const fs::path truth = workdir / "checkout.truth.jsonl";

  // 1. A checkout camera's view with known ground truth.
  spdlog::info("demo: generating a {} s {}x{} clip with faces, plates and codes in {}", options.seconds, kWidth,
               kHeight, workdir.string());
  const cv::Size size(kWidth, kHeight);
  groundtruth::Scene scene(size, kFps, kSeed);
  groundtruth::PlateLayerOptions plates;
  plates.frames = frames;
  plates.vehicles = std::max(3, options.seconds / 4);
  scene.add(std::make_unique<groundtruth::PlateLayer>(size, kSeed, plates));
  groundtruth::FaceLayerOptions faces;
  faces.frames = frames;
  faces.seed = kSeed;
  auto face_layer = std::make_unique<groundtruth::FaceLayer>(size, groundtruth::loadFaceSprites(), faces);
  const std::string zones = face_layer->queueZones();
  scene.add(std::move(face_layer));
  groundtruth::CodeSceneOptions codes;
  codes.size = size;
  codes.fps = kFps;
  codes.seed = kSeed;
  codes.formats = codes::parseFormatList("qr,datamatrix,ean13,code128");
  codes.codes_per_format = 2;
  codes.hard = false;
  codes.visible_frames = std::max<std::int64_t>(30, frames / 10);
  scene.add(std::make_unique<groundtruth::CodeLayer>(groundtruth::makeCodePlacements(codes)));
  groundtruth::ClipOptions clip_options;
  clip_options.frames = frames;
  clip_options.keyframe_interval = static_cast<int>(kFps);
  groundtruth::writeClip(scene, clip.string(), clip_options, truth.string());

  std::set<std::int64_t> true_faces, true_plates;
  std::map<std::string, std::string> true_codes;  // wholly in frame at some point
  std::set<std::string> drawn_codes;              // drawn at all, even cut by the edge
  for (const auto& frame : groundtruth::readTruth(truth.string())) {
    for (const auto& object : frame.objects) {
      if (object.kind == "face" && object.format != groundtruth::kSmallFace) true_faces.insert(object.id);
      if (object.kind == "plate") true_plates.insert(object.id);
      if (object.kind == "code") drawn_codes.insert(object.text);
      if (object.kind == "code" && !object.occluded) true_codes[object.text] = object.format;
    }
  }

  // 2. The clip as a camera: a local RTSP server.
  RtspServer camera("127.0.0.1", 0);
  camera.mount("/checkout", RtspServer::fileLaunch(clip.string()));
  camera.start();
  const std::string camera_url = camera.url("/checkout");
  spdlog::info("demo: camera at {}", camera_url);

  // 3. The subscribers, as separate processes on the bus.
  zmq::context_t context(1);
  const std::string bus = freeEndpoint(context);
  const std::string snapshot = freeEndpoint(context);
  const fs::path rules = workdir / "rules.yaml";
  std::ofstream(rules) << kRules;
  const fs::path db = workdir / "events.db";
  const fs::path alerts = workdir / "alerts.jsonl";
  std::error_code ignored;
  fs::remove(db, ignored);
  fs::remove(alerts, ignored);
  const fs::path recorder_bin = siblingBinary(argv0, "vigil-recorder");
  const fs::path notifier_bin = siblingBinary(argv0, "vigil-notifier");
  // Both subscribers start before the pipeline and catch up from its history
  // (the snapshot socket), so the first events of the run are stored too.
  Child recorder("vigil-recorder",
                 {recorder_bin.string(), "--connect", bus, "--snapshot", snapshot, "--db", db.string()},
                 workdir / "recorder.log");
  Child notifier("vigil-notifier",
                 {notifier_bin.string(), "--connect", bus, "--snapshot", snapshot, "--rules", rules.string()},
                 workdir / "notifier.log", {{"VIGIL_DEMO_ALERTS", alerts.string()}});

  // 4. The pipeline, with the demo's own subscriber watching the bus.
  const std::string yaml = "bus: {endpoint: \"" + bus + "\", snapshot_endpoint: \"" + snapshot +
                           "\", heartbeat: 1s}\n"
                           "sources:\n"
                           "  - id: checkout-1\n"
                           "    uri: " + camera_url + "\n"
                           "    on_eos: stop\n"
                           "    analytics:\n"
                           "      - faces: {zones: \"" + zones + "\"}\n"
                           "      - codes\n"
                           "      - plates\n"
                           "    outputs:\n"
                           "      - {type: file, path: \"" + (workdir / "anonymized-%02d.mkv").string() + "\", segment: 5m}\n"
                           "      - {type: snapshot, path: \"" + (workdir / "snapshots").string() + "\", format: jpeg}\n"
                           "http: {address: 127.0.0.1, port: 0}\n";
  std::ofstream(workdir / "pipeline.yaml") << yaml;
  Config config = parseConfig(yaml, (workdir / "pipeline.yaml").string(), &validateAnalyticOption);

  BusTally seen;
  std::atomic<bool> watching{true};
  std::thread watcher([&] {
    events::SubscriberOptions subscriber_options;
    subscriber_options.endpoints = {bus};
    // Connecting races the pipeline's first events: like the recorder, the
    // summary's own watcher catches up from the publisher's history.
    subscriber_options.snapshot_endpoint = snapshot;
    events::Subscriber subscriber(subscriber_options);
    while (watching) {
      if (auto received = subscriber.next(std::chrono::milliseconds(100))) {
        tally(seen, received->event, received->replayed);
      }
    }
    seen.stats = subscriber.stats();
  });

  spdlog::info("demo: running the pipeline (faces, codes, plates) until the camera's stream ends");
  Runner runner(std::move(config));
  RunOptions run_options;
  run_options.duration = std::chrono::seconds(options.seconds + 60);  // never hang a demo
  // Midway, ask for a snapshot of the redacted stream, as a user would.
  std::string snapshot_saved;
  std::atomic<bool> run_over{false};
  std::thread snapshotter;
  run_options.on_started = [&](const std::vector<std::string>&) {
    snapshotter = std::thread([&, http_port = runner.httpPort()] {
      const auto when = std::chrono::steady_clock::now() + std::chrono::seconds(options.seconds / 2);
      while (!run_over && std::chrono::steady_clock::now() < when) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (run_over) return;
      httplib::Client client("127.0.0.1", http_port);
      if (auto response = client.Post("/sources/checkout-1/snapshot"); response && response->status == 201) {
        snapshot_saved = nlohmann::json::parse(response->body).value("path", std::string());
      }
    });
  };
  const int code = runner.run(run_options);
  run_over = true;
  if (snapshotter.joinable()) snapshotter.join();
  // Let the last events reach the subscribers before stopping them.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  watching = false;
  watcher.join();
  const int recorder_exit = recorder.stop();
  const int notifier_exit = notifier.stop();

  // 5. The summary.
  const auto& source = runner.summary().sources.at(0);
  std::printf("\n===================== Vigil demo summary =====================\n");
  std::printf("clip           %s (%lld frames, %dx%d @ %.0f fps)\n", clip.c_str(), static_cast<long long>(frames),
              kWidth, kHeight, kFps);
  std::printf("camera         %s\n", camera_url.c_str());
  std::printf("pipeline       %llu frames analysed, %llu reconnects, %s\n",
              static_cast<unsigned long long>(source.frames), static_cast<unsigned long long>(source.reconnects),
              source.failed ? ("FAILED: " + source.failure).c_str() : "ok");
  std::printf("bus            %s\n", bus.c_str());
  std::printf("events         ");
  for (const auto& [kind, count] : seen.events_by_kind) {
    std::printf("%s=%llu  ", kind.c_str(), static_cast<unsigned long long>(count));
  }
  std::printf("\n               lost in gaps: %llu, malformed: %llu\n",
              static_cast<unsigned long long>(seen.stats.missed), static_cast<unsigned long long>(seen.stats.malformed));
  std::printf("latency        capture -> subscriber: p50 %.1f ms, p99 %.1f ms\n", percentile(seen.latency_ms, 0.5),
              percentile(seen.latency_ms, 0.99));
  std::string states;
  for (const auto& state : seen.states) states += (states.empty() ? "" : " -> ") + state;
  std::printf("status         %s\n", states.c_str());
  std::printf("faces          max %lld at once (%zu people >= 48 px walked through);",
              static_cast<long long>(seen.max_faces), true_faces.size());
  for (const auto& [zone, count] : seen.max_by_zone) std::printf(" %s max %lld", zone.c_str(), static_cast<long long>(count));
  std::printf("\nplates         max %lld at once (%zu vehicles with plates); plate text is never published\n",
              static_cast<long long>(seen.max_plates), true_plates.size());
  std::size_t matched = 0;
  for (const auto& [text, format] : true_codes) matched += seen.codes.count(text);
  std::printf("codes          %zu distinct read, %zu of %zu in the clip, %zu GS1\n", seen.codes.size(), matched,
              true_codes.size(), seen.gs1_codes.size());
  for (const auto& [text, format] : seen.codes) {
    std::printf("                 %-12s %s%s\n", format.c_str(), text.c_str(),
                true_codes.count(text)    ? ""
                : drawn_codes.count(text) ? "   (only ever partly in frame)"
                                          : "   (WRONG READ: not in the clip)");
  }
  std::size_t alert_lines = 0;
  std::map<std::string, int> alert_kinds;
  if (std::ifstream in(alerts); in) {
    std::string line;
    while (std::getline(in, line)) {
      ++alert_lines;
      try {
        const auto json = nlohmann::json::parse(line);
        ++alert_kinds[json.value("rule", std::string("?")) + " " + json.value("type", std::string("?"))];
      } catch (const std::exception&) {
        ++alert_kinds["unparsed"];
      }
    }
  }
  std::printf("notifier       %zu notifications", alert_lines);
  for (const auto& [what, count] : alert_kinds) std::printf("  %s x%d", what.c_str(), count);
  std::printf("   (exit %d, log %s)\n", notifier_exit, (workdir / "notifier.log").c_str());
  std::printf("anonymized     %s (plates redacted before any frame left the pipeline)\n",
              (workdir / "anonymized-00.mkv").c_str());
  std::printf("snapshot      %s%s\n", snapshot_saved.empty() ? " (none taken)" : " ", snapshot_saved.c_str());
  std::printf("recorder       %s (exit %d, log %s)\n", db.c_str(), recorder_exit, (workdir / "recorder.log").c_str());
  std::printf("               try: %s query --db %s --kind faces --min-count 2 --format table\n",
              recorder_bin.c_str(), db.c_str());
  std::printf("===============================================================\n");
  std::fflush(stdout);
  // The recorder's own answer, as a user would ask it.
  Child query("vigil-recorder query",
              {recorder_bin.string(), "query", "--db", db.string(), "--kind", "codes", "--format", "table"},
              workdir / "query.txt");
  int status = 0;
  waitpid(query.pid, &status, 0);
  query.pid = -1;
  if (std::ifstream in(workdir / "query.txt"); in) {
    std::printf("\n$ vigil-recorder query --db %s --kind codes --format table\n%s\n", db.c_str(),
                std::string(std::istreambuf_iterator<char>(in), {}).c_str());
  }
  return code == 0 && recorder_exit == 0 && notifier_exit == 0 ? 0 : 1;
}

}  // namespace vigil::pipeline
