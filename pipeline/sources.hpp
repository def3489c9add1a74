// Source recipes: the *source pipeline* of one source (RTSP, file, V4L2
// camera or test pattern, decoded to I420, ending in an appsink) and the
// bridge that carries its frames into the analytics pipeline's appsrc. A
// source pipeline is disposable: the session builds a new one after every
// failure and disposes of the old one in the background.
#pragma once

#include "config.hpp"
#include "vigil/gst/ptr.hpp"

#include <gst/gst.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace vigil::pipeline {

// What a source pipeline's streaming thread needs, and nothing of the session:
// a torn-down pipeline may still deliver a frame while it shuts down in the
// background, after the session has moved on (or is gone).
struct FrameBridge {
  gst::ElementPtr appsrc;
  gst::ClockPtr clock;
  std::atomic<GstClockTime> base_time{GST_CLOCK_TIME_NONE};
  // Bumped at every teardown: callbacks of older source pipelines go quiet.
  std::atomic<std::uint64_t> generation{0};
  std::atomic<std::uint64_t> frame_counter{0};
  std::atomic<std::int64_t> last_frame_steady_ns{0};
  std::atomic<std::uint64_t> frames_since_source_start{0};
  std::atomic<std::int64_t> first_frame_steady_ns{0};
  std::mutex caps_mutex;
  gst::CapsPtr last_caps;
  // Settings the source-setup callback applies.
  guint rtsp_latency_ms = 0;
  std::string rtsp_protocols;  // empty: rtspsrc's default
  guint64 tcp_timeout_us = 0;
};

// What each callback of one source pipeline holds: the bridge, and the
// generation of the pipeline it was made for.
struct FeedContext {
  std::shared_ptr<FrameBridge> bridge;
  std::uint64_t generation = 0;
  gst::ElementPtr convert;  // decoded pads link here
  std::string source_id;

  bool current() const { return bridge->generation.load() == generation; }
  static void destroy(gpointer context) { delete static_cast<FeedContext*>(context); }
  static void destroyClosure(gpointer context, GClosure*) { destroy(context); }
};

// Configures the bridge for `source` (RTSP latency, transports, timeouts).
void configureBridge(FrameBridge& bridge, const SourceConfig& source);

// A new source pipeline for `source`, not yet playing, feeding `bridge` for
// its current generation. Throws std::runtime_error when an element is
// missing or the source's address is unusable.
gst::ElementPtr buildSourcePipeline(const SourceConfig& source, const std::shared_ptr<FrameBridge>& bridge);

// Stops `pipeline` and drops it on a background thread (see the .cpp for why).
void disposeInBackground(gst::ElementPtr pipeline);
// At exit: wait for the background disposals, bounded; false if some never finished.
bool waitForSourceTeardowns(std::chrono::milliseconds timeout);
int sourceTeardownsInFlight();

}  // namespace vigil::pipeline
