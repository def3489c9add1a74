// The `vigil` command: run pipelines from a config, check a config, serve a
// file over RTSP, and the self-contained demo (the vigil-demo executable).
#include "config.hpp"
#include "image_input.hpp"
#include "rtsp_server.hpp"
#include "runner.hpp"
#include "still_analyser.hpp"

#include "vigil/events/curve.hpp"

#include <CLI/CLI.hpp>
#include <gst/gst.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <unistd.h>
#include <vector>

namespace {

int runCommand(const std::string& config_path, const std::string& duration) {
  using namespace vigil::pipeline;
  Config config = loadConfig(config_path, &validateAnalyticOption);
  RunOptions options;
  if (!duration.empty()) {
    options.duration = parseDuration(duration);
    if (!options.duration) throw ConfigError("--for: '" + duration + "' is not a duration (e.g. 30s, 5m)");
  }
  spdlog::info("vigil {}: {} source(s), bus {}", VIGIL_VERSION, config.sources.size(), config.bus.endpoint);
  Runner runner(std::move(config));
  const int code = runner.run(options);
  for (const auto& source : runner.summary().sources) {
    spdlog::info("[{}] {} frames, {} reconnects{}", source.id, source.frames, source.reconnects,
                 source.failed ? ", failed: " + source.failure : "");
  }
  return code;
}

int checkCommand(const std::string& config_path) {
  using namespace vigil::pipeline;
  const Config config = loadConfig(config_path, &validateAnalyticOption);
  std::size_t analytics = 0;
  for (const auto& source : config.sources) analytics += source.analytics.size();
  std::printf("%s: ok (%zu sources, %zu analytics, bus %s)\n", config_path.c_str(), config.sources.size(), analytics,
              config.bus.endpoint.c_str());
  return 0;
}

int serveCommand(const std::string& file, const std::string& address, int port, const std::string& mount) {
  using namespace vigil::pipeline;
  if (!std::filesystem::exists(file)) throw std::runtime_error("no such file: " + file);
  RtspServer server(address, port);
  server.mount(mount, RtspServer::fileLaunch(std::filesystem::absolute(file).string()), true);
  server.start();
  std::printf("serving %s at %s\n", file.c_str(), server.url(mount).c_str());
  std::fflush(stdout);
  // Serve until SIGINT/SIGTERM.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  int received = 0;
  sigwait(&signals, &received);
  return 0;
}

struct AnalyzeArguments {
  std::vector<std::string> images;
  std::string analytics = "faces,codes,plates";
  std::string zones;
  std::string anonymize_dir;
  std::string format = "jpeg";
  std::string mode;
  std::string cover_image;
  bool redact_faces = false;
  std::int64_t max_pixels = vigil::pipeline::kDefaultMaxImagePixels;
};

// `vigil analyze`: one JSON object per image on stdout, in the order given;
// a refused image is an object with `error` (and a line on stderr), and the
// others still go through. Exit 1 when any image failed.
int analyzeCommand(const AnalyzeArguments& arguments) {
  using namespace vigil::pipeline;
  StillOptions options;
  try {
    options.analytics = stillAnalyticsNamed(arguments.analytics);
  } catch (const std::invalid_argument& error) {
    throw ConfigError(std::string("--analytics: ") + error.what());
  }
  const auto format = stillFormatNamed(arguments.format);
  if (!format) throw ConfigError("--format: '" + arguments.format + "' is not one of jpeg, webp, png");
  for (AnalyticConfig& analytic : options.analytics) {
    if (analytic.name == "faces" && !arguments.zones.empty()) analytic.properties.emplace_back("zones", arguments.zones);
  }
  options.anonymize = !arguments.anonymize_dir.empty();
  if (!arguments.mode.empty()) options.redaction_properties.emplace_back("mode", arguments.mode);
  if (!arguments.cover_image.empty()) options.redaction_properties.emplace_back("image-location", arguments.cover_image);
  if (arguments.redact_faces) options.redaction_properties.emplace_back("redact-roi-types", "face");
  options.max_pixels = arguments.max_pixels;
  if (options.anonymize) std::filesystem::create_directories(arguments.anonymize_dir);
  const StillAnalyser analyser(std::move(options));

  int failed = 0;
  for (const std::string& path : arguments.images) {
    nlohmann::json line = {{"image", path}};
    try {
      std::ifstream in(path, std::ios::binary);
      if (!in) throw ImageError(404, "cannot open " + path);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      StillResult result = analyser.analyse(bytes, !arguments.anonymize_dir.empty());
      line.update(result.report);
      if (!arguments.anonymize_dir.empty()) {
        const std::filesystem::path out = std::filesystem::path(arguments.anonymize_dir) /
                                          (std::filesystem::path(path).stem().string() + "." + stillExtension(*format));
        std::error_code same_error;
        if (std::filesystem::equivalent(out, path, same_error)) {
          throw std::runtime_error("would overwrite the input " + path + " (choose another --anonymize directory)");
        }
        const std::vector<unsigned char> encoded = encodeStill(result.redacted, *format);
        std::ofstream file(out, std::ios::binary | std::ios::trunc);
        file.write(reinterpret_cast<const char*>(encoded.data()), static_cast<std::streamsize>(encoded.size()));
        if (!file) throw std::runtime_error("cannot write " + out.string());
        line["anonymized"] = out.string();
      }
    } catch (const std::exception& error) {
      ++failed;
      line["error"] = error.what();
      std::fprintf(stderr, "error: %s: %s\n", path.c_str(), error.what());
    }
    std::cout << line.dump() << std::endl;
  }
  return failed ? 1 : 0;
}

// `vigil demo` is vigil-demo, run from beside this binary with the same
// arguments: the demo renders its clip with the ground-truth generators (zint,
// freetype), which the production runner does not link.
int demoCommand(const std::vector<std::string>& arguments, const std::string& log_level) {
  std::error_code ignored;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ignored);
  const std::filesystem::path demo = self.parent_path() / "vigil-demo";
  if (self.empty() || !std::filesystem::exists(demo, ignored)) {
    throw std::runtime_error("`vigil demo` runs vigil-demo, which is not beside " + self.string() +
                             " (build or install the vigil-demo target)");
  }
  std::vector<std::string> words{demo.string(), "--log-level", log_level};
  words.insert(words.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  execv(demo.c_str(), argv.data());
  throw std::runtime_error("cannot run " + demo.string() + ": " + std::strerror(errno));
}

// A CURVE key pair for the bus: NAME.key stays on this host, NAME.pub goes
// to the hosts that must trust it (docs/EVENTS.md section 10).
int keygenCommand(const std::string& name, const std::string& directory) {
  if (!vigil::events::curveAvailable()) {
    throw std::runtime_error("this libzmq has no CURVE support (zmq_has(\"curve\") is false)");
  }
  const auto files = vigil::events::writeCurveKeyPair(vigil::events::generateCurveKeyPair(), directory, name);
  std::printf("secret key: %s (mode 0600, keep it here)\npublic key: %s (copy it to the other side)\n",
              files.secret_path.c_str(), files.public_path.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Vigil: real-time video analytics on GStreamer (faces, plates, codes -> events on ZeroMQ)"};
  app.set_version_flag("--version", VIGIL_VERSION);
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();

  std::string config_path;
  std::string duration;
  CLI::App* run = app.add_subcommand("run", "Run the pipelines of a config until every source ends or SIGINT/SIGTERM");
  run->add_option("config", config_path, "YAML config (see configs/)")->required();
  run->add_option("--for", duration, "Stop by itself after this long (e.g. 30s, 5m)");

  CLI::App* check = app.add_subcommand("check", "Validate a config; errors name the key, its path and line");
  check->add_option("config", config_path, "YAML config")->required();

  std::string file;
  std::string address = "127.0.0.1";
  int port = 8554;
  std::string mount = "/stream";
  CLI::App* serve = app.add_subcommand("serve", "Serve an H.264 MKV/MP4 file over RTSP (a stand-in camera)");
  serve->add_option("file", file, "Video file")->required();
  serve->add_option("--address", address, "Address to listen on")->capture_default_str();
  serve->add_option("--port", port, "Port (0: any free port)")->capture_default_str();
  serve->add_option("--mount", mount, "Mount path")->capture_default_str();

  AnalyzeArguments analyze_arguments;
  CLI::App* analyze = app.add_subcommand(
      "analyze", "Analyse still images (JPEG, PNG, WebP) through the same elements as video; one JSON object per "
                 "image on stdout");
  analyze->add_option("images", analyze_arguments.images, "Image files")->required();
  analyze->add_option("--analytics", analyze_arguments.analytics, "Comma-separated: faces, codes, plates")
      ->capture_default_str();
  analyze->add_option("--zones", analyze_arguments.zones,
                      "Face zones as facecount's zones property: \"name=x,y x,y x,y;name2=...\" (normalised)");
  analyze->add_option("--anonymize", analyze_arguments.anonymize_dir,
                      "Write each redacted image to this directory (plates; faces too with --redact-faces)");
  analyze->add_option("--format", analyze_arguments.format, "Redacted image format: jpeg, webp, png")
      ->capture_default_str();
  analyze->add_option("--mode", analyze_arguments.mode, "Redaction as plateblur's mode: blur, pixelate, fill, image");
  analyze->add_option("--cover-image", analyze_arguments.cover_image, "Picture for --mode image (plateblur's image-location)");
  analyze->add_flag("--redact-faces", analyze_arguments.redact_faces, "Redact faces as well as plates");
  analyze->add_option("--max-pixels", analyze_arguments.max_pixels,
                      "Refuse larger images (read from the header, before decoding)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  std::string key_name;
  std::string key_directory = ".";
  CLI::App* keygen = app.add_subcommand(
      "keygen", "Make a CURVE key pair for the event bus: NAME.key (secret, 0600) and NAME.pub (docs/EVENTS.md)");
  keygen->add_option("name", key_name, "Key name, e.g. the host's (files NAME.key and NAME.pub)")->required();
  keygen->add_option("--out", key_directory, "Directory to write the files into (created if missing)")
      ->capture_default_str();

  // Everything after `demo` (--help included) is vigil-demo's to parse.
  CLI::App* demo = app.add_subcommand(
      "demo", "Self-contained demo: generated clip served over RTSP, the pipeline, recorder and notifier, summary "
              "(vigil demo --help: its options)");
  demo->prefix_command();
  demo->set_help_flag();

  CLI11_PARSE(app, argc, argv);
  if (*demo) {
    try {
      return demoCommand(demo->remaining(), log_level);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "error: %s\n", error.what());
      return 1;
    }
  }
  if (*keygen) {
    try {
      return keygenCommand(key_name, key_directory);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "error: %s\n", error.what());
      return 1;
    }
  }
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  gst_init(&argc, &argv);
  vigil::pipeline::ensurePluginLoaded();
  try {
    if (*run) return runCommand(config_path, duration);
    if (*check) return checkCommand(config_path);
    if (*serve) return serveCommand(file, address, port, mount);
    if (*analyze) return analyzeCommand(analyze_arguments);
  } catch (const vigil::pipeline::ConfigError& error) {
    std::fprintf(stderr, "config error: %s\n", error.what());
    return 2;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
  return 0;
}
