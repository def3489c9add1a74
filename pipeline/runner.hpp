// `vigil run`: one isolated SourceSession per configured source, a GLib main
// loop, clean shutdown on SIGINT/SIGTERM, exit when every source has ended.
#pragma once

#include "config.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace vigil::pipeline {

// Makes Vigil's own plugin visible to GStreamer when it is not on
// GST_PLUGIN_PATH: next to the binary in a build tree, or where it was installed.
void ensurePluginLoaded();

// Checks one analytic option against the element's GParamSpec: the property
// exists, is writable, and the value parses and is in range. Empty if fine.
std::string validateAnalyticOption(const std::string& element, const std::string& property,
                                   const std::string& value);

struct RunOptions {
  std::optional<std::chrono::milliseconds> duration;  // stop by itself after this long
  // Called on the main loop once every source is running, with the endpoints
  // bound (useful to tests and to the demo).
  std::function<void(const std::vector<std::string>& bound_endpoints)> on_started;
};

struct RunSummary {
  struct Source {
    std::string id;
    std::uint64_t frames = 0;
    std::uint64_t reconnects = 0;
    double last_recovery_seconds = -1;
    bool failed = false;
    std::string failure;
  };
  std::vector<Source> sources;
  bool interrupted = false;
};

class Runner {
 public:
  explicit Runner(Config config);
  ~Runner();
  // Blocks until every source has finished, a signal arrives or the duration
  // passes. Returns 0 when no source failed.
  int run(const RunOptions& options = {});
  // Thread-safe: asks the loop to stop all sources cleanly.
  void requestStop();
  const RunSummary& summary() const { return summary_; }
  // Ports actually bound (useful with port 0), valid from on_started until
  // run() returns; -1 when that server is not running.
  int rtspPort() const { return rtsp_port_.load(); }
  int httpPort() const { return http_port_.load(); }

 private:
  struct State;
  Config config_;
  std::unique_ptr<State> state_;
  RunSummary summary_;
  std::atomic<int> rtsp_port_{-1};
  std::atomic<int> http_port_{-1};
};

}  // namespace vigil::pipeline
