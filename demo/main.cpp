// vigil-demo: the demo as its own executable. `vigil demo` runs this program
// from beside itself, so the production runner links none of the ground-truth
// generators the demo renders its clip with (zint, freetype).
#include "demo.hpp"
#include "runner.hpp"

#include <CLI/CLI.hpp>
#include <gst/gst.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
  CLI::App app{"Vigil demo: a generated checkout clip served over RTSP, the pipeline, recorder and notifier on it, "
               "and a summary of what each saw"};
  app.name("vigil demo");
  app.set_version_flag("--version", VIGIL_VERSION);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();
  vigil::pipeline::DemoOptions options;
  app.add_option("--workdir", options.workdir, "Where the clip, database and logs go")->capture_default_str();
  app.add_option("--seconds", options.seconds, "Clip length")->capture_default_str()->check(CLI::Range(1, 3600));
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  gst_init(&argc, &argv);
  vigil::pipeline::ensurePluginLoaded();
  try {
    return vigil::pipeline::runDemo(options, argv[0]);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
}
