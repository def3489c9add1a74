// One source, isolated: a fragile *source pipeline* (RTSP, camera, file,
// decoder; sources.hpp) that is torn down and rebuilt whenever it fails,
// feeding a stable *analytics pipeline* (analysers, publisher, outputs;
// recipes.hpp) through appsink/appsrc. The analytics side never restarts, so
// frame numbers, timestamps, tracks and event sequence numbers carry on
// across reconnects. The session is the state machine between them: start,
// watchdog, reconnect with backoff, end of stream, stop.
#pragma once

#include "config.hpp"
#include "sources.hpp"
#include "vigil/gst/ptr.hpp"

#include <gst/gst.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace vigil::pipeline {

class OutputServer;
struct FrameBridge;

class SourceSession {
 public:
  struct Stats {
    std::uint64_t frames_in = 0;
    std::uint64_t reconnects = 0;
    double last_recovery_seconds = -1;  // failure detected -> frames again
  };

  // `on_finished` runs on the main loop when the session has ended for good
  // (file EOS with on_eos: stop, analytics error, or stop()).
  SourceSession(SourceConfig source, BusConfig bus, OutputServer* rtsp_outputs,
                std::function<void(SourceSession&)> on_finished);
  ~SourceSession();
  SourceSession(const SourceSession&) = delete;
  SourceSession& operator=(const SourceSession&) = delete;

  // Both on the main loop thread. start() throws ConfigError/runtime_error when
  // the analytics pipeline cannot be built (unknown element, bad property).
  void start();
  void stop();  // graceful: drains the analytics pipeline, publishes `stopped`

  const std::string& id() const { return source_.id; }
  bool finished() const { return finished_; }
  bool failed() const { return failed_; }
  const std::string& failure() const { return failure_; }
  std::string boundEndpoint() const;
  Stats stats() const;

  // The `snapshot` output, or null when the source has none.
  const OutputConfig* snapshotOutput() const;
  // Thread-safe (the HTTP endpoint calls it): the newest frame that reached
  // the snapshot output, redacted like every output; null when there is none
  // (no snapshot output, no frame yet, or the session has stopped).
  gst::SamplePtr snapshotSample() const;

 private:
  void startSource();
  void teardownSource();
  void scheduleRestart(const std::string& reason);
  void finish(bool failed, const std::string& why);
  void publishStatus(const char* state, const std::string& detail);
  void noteRecovery();
  std::string redact(std::string text) const;

  static gboolean onSourceBus(GstBus*, GstMessage*, gpointer self);
  static gboolean onAnalyticsBus(GstBus*, GstMessage*, gpointer self);
  static gboolean onWatchdog(gpointer self);
  static gboolean onRestartTimer(gpointer self);

  SourceConfig source_;
  BusConfig bus_;
  OutputServer* rtsp_outputs_;
  std::function<void(SourceSession&)> on_finished_;
  std::string redacted_uri_;

  gst::ElementPtr analytics_;
  gst::ElementPtr appsrc_;
  gst::ElementPtr publish_;
  gst::ElementPtr snapshot_sink_;  // set once in start(), then read from any thread
  gst::ElementPtr source_pipeline_;
  guint analytics_watch_ = 0;
  guint source_watch_ = 0;
  guint watchdog_timer_ = 0;
  guint restart_timer_ = 0;

  // Shared with the source pipelines' streaming threads, which may outlive a
  // teardown (it runs in the background): they never touch the session.
  std::shared_ptr<FrameBridge> bridge_;

  // Main loop only.
  std::chrono::steady_clock::time_point source_started_;
  std::chrono::steady_clock::time_point failure_detected_;
  bool recovering_ = false;
  int restart_attempts_ = 0;
  bool stopping_ = false;
  bool finished_ = false;
  bool failed_ = false;
  std::string failure_;
  std::uint64_t reconnects_ = 0;
  double last_recovery_seconds_ = -1;
};

}  // namespace vigil::pipeline
