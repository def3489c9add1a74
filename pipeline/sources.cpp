#include "sources.hpp"

#include "elements.hpp"
#include "vigil/events/schema.hpp"
#include "vigil/gst/meta.hpp"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>
#include <thread>

namespace vigil::pipeline {

namespace {

std::int64_t steadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string sourceUriOf(const SourceConfig& source) {
  if (source.type != SourceType::kFile || source.uri.rfind("file://", 0) == 0) return source.uri;
  GError* raw = nullptr;
  gst::CharPtr uri(gst_filename_to_uri(source.uri.c_str(), &raw));
  gst::ErrorPtr error(raw);
  if (!uri) throw std::runtime_error("not a usable file path: " + std::string(error ? error->message : ""));
  return uri.get();
}

// testsrc://PATTERN?width=W&height=H&fps=F: a live synthetic camera.
gst::ElementPtr makeTestPattern(GstBin* bin, const std::string& uri) {
  std::string rest = uri.substr(std::string("testsrc://").size());
  std::string pattern = rest.substr(0, rest.find('?'));
  int width = 1280, height = 720, fps = 30;
  if (const auto query = rest.find('?'); query != std::string::npos) {
    std::string params = rest.substr(query + 1);
    std::replace(params.begin(), params.end(), '&', ',');
    gst::StructurePtr fields(gst_structure_new_from_string(("q, " + params).c_str()));
    if (fields) {
      gst_structure_get_int(fields.get(), "width", &width);
      gst_structure_get_int(fields.get(), "height", &height);
      gst_structure_get_int(fields.get(), "fps", &fps);
    }
  }
  gst::ElementPtr source = makeElement("videotestsrc");
  g_object_set(source.get(), "is-live", TRUE, nullptr);
  if (!pattern.empty()) setPropertyFromText(source.get(), "pattern", pattern);
  gst::ElementPtr caps = makeElement("capsfilter");
  gst::CapsPtr filter(gst_caps_new_simple("video/x-raw", "width", G_TYPE_INT, width, "height", G_TYPE_INT, height,
                                          "framerate", GST_TYPE_FRACTION, fps, 1, nullptr));
  g_object_set(caps.get(), "caps", filter.get(), nullptr);
  gst_bin_add_many(bin, GST_ELEMENT(gst_object_ref(source.get())), GST_ELEMENT(gst_object_ref(caps.get())), nullptr);
  gst_element_link(source.get(), caps.get());
  return caps;
}

void pushFrame(FeedContext& feed, GstSample* sample) {
  FrameBridge& bridge = *feed.bridge;
  GstBuffer* decoded = gst_sample_get_buffer(sample);
  GstCaps* caps = gst_sample_get_caps(sample);
  if (!decoded || !caps || !feed.current()) return;
  {
    std::lock_guard<std::mutex> lock(bridge.caps_mutex);
    if (!bridge.last_caps || !gst_caps_is_equal(bridge.last_caps.get(), caps)) {
      bridge.last_caps.reset(gst_caps_ref(caps));
      gst_app_src_set_caps(GST_APP_SRC(bridge.appsrc.get()), caps);
    }
  }
  // A shallow copy: pixels are shared, only the metadata is ours to set.
  GstBuffer* frame = gst_buffer_copy(decoded);
  GST_BUFFER_OFFSET(frame) = bridge.frame_counter++;
  GST_BUFFER_OFFSET_END(frame) = GST_BUFFER_OFFSET_NONE;
  // Timestamps in the analytics pipeline's running time: monotonic however
  // often the source restarts.
  GstClockTime pts = GST_CLOCK_TIME_NONE;
  const GstClockTime base = bridge.base_time.load();
  if (bridge.clock && GST_CLOCK_TIME_IS_VALID(base)) {
    const GstClockTime now = gst_clock_get_time(bridge.clock.get());
    if (now >= base) pts = now - base;
  }
  GST_BUFFER_PTS(frame) = pts;
  GST_BUFFER_DTS(frame) = GST_CLOCK_TIME_NONE;
  gst::setCaptureTimeNs(frame, events::wallClockNowNs());
  const std::int64_t now_ns = steadyNowNs();
  bridge.last_frame_steady_ns = now_ns;
  if (bridge.frames_since_source_start++ == 0) bridge.first_frame_steady_ns = now_ns;
  gst_app_src_push_buffer(GST_APP_SRC(bridge.appsrc.get()), frame);  // takes the buffer
}

GstFlowReturn onNewSample(GstAppSink* sink, gpointer context) {
  gst::SamplePtr sample(gst_app_sink_pull_sample(sink));
  if (sample) pushFrame(*static_cast<FeedContext*>(context), sample.get());
  return GST_FLOW_OK;
}

void onPadAdded(GstElement*, GstPad* pad, gpointer context) {
  auto* feed = static_cast<FeedContext*>(context);
  gst::CapsPtr caps(gst_pad_get_current_caps(pad));
  if (!caps) caps.reset(gst_pad_query_caps(pad, nullptr));
  const GstStructure* structure = caps ? gst_caps_get_structure(caps.get(), 0) : nullptr;
  if (!structure || !g_str_has_prefix(gst_structure_get_name(structure), "video/")) return;  // audio etc.
  gst::PadPtr sink_pad(gst_element_get_static_pad(feed->convert.get(), "sink"));
  if (gst_pad_is_linked(sink_pad.get())) return;  // one video stream per source
  if (GST_PAD_LINK_FAILED(gst_pad_link(pad, sink_pad.get()))) {
    spdlog::warn("[{}] cannot link the decoded video", feed->source_id);
  }
}

void onSourceSetup(GstElement*, GstElement* source, gpointer context) {
  const FrameBridge& bridge = *static_cast<FeedContext*>(context)->bridge;
  GObjectClass* klass = G_OBJECT_GET_CLASS(source);
  if (g_object_class_find_property(klass, "latency")) {
    g_object_set(source, "latency", bridge.rtsp_latency_ms, nullptr);
  }
  if (g_object_class_find_property(klass, "protocols") && !bridge.rtsp_protocols.empty()) {
    gst_util_set_object_arg(G_OBJECT(source), "protocols", bridge.rtsp_protocols.c_str());
  }
  if (g_object_class_find_property(klass, "tcp-timeout")) {
    // Fail fast on a camera that accepts TCP but never answers; the watchdog
    // catches one that goes quiet later.
    g_object_set(source, "tcp-timeout", bridge.tcp_timeout_us, nullptr);
  }
}

std::atomic<int> teardowns_in_flight{0};

}  // namespace

// Setting a pipeline to NULL can block, for long or for good: rtspsrc in
// GStreamer 1.22 can deadlock when told to stop while its own task is
// re-establishing a dropped connection. Never on the main loop, then: the
// thread owns the last reference, and a stuck one costs a thread, not the
// source, which is rebuilt at once.
void disposeInBackground(gst::ElementPtr pipeline) {
  ++teardowns_in_flight;
  std::thread([owned = std::move(pipeline)]() mutable {
    gst_element_set_state(owned.get(), GST_STATE_NULL);
    owned.reset();
    --teardowns_in_flight;
  }).detach();
}

bool waitForSourceTeardowns(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (teardowns_in_flight.load() > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // shutdown path only
  }
  return true;
}

int sourceTeardownsInFlight() { return teardowns_in_flight.load(); }

void configureBridge(FrameBridge& bridge, const SourceConfig& source) {
  bridge.rtsp_latency_ms = static_cast<guint>(source.rtsp_latency_ms);
  bridge.rtsp_protocols = source.rtsp_transport != "auto" ? source.rtsp_transport : "";
  bridge.tcp_timeout_us = static_cast<guint64>(source.watchdog.count()) * 1000;
}

gst::ElementPtr buildSourcePipeline(const SourceConfig& source, const std::shared_ptr<FrameBridge>& bridge) {
  gst::ElementPtr pipeline = gst::adoptFloating(gst_pipeline_new(("source-" + source.id).c_str()));
  GstBin* bin = GST_BIN(pipeline.get());
  gst::ElementPtr convert = makeElement("videoconvert");
  // Each callback owns a context naming this pipeline's generation.
  auto feed = [&] {
    auto* context = new FeedContext{bridge, bridge->generation.load(), nullptr, source.id};
    context->convert.reset(GST_ELEMENT(gst_object_ref(convert.get())));
    return context;
  };
  gst::ElementPtr caps = makeElement("capsfilter");
  gst::CapsPtr i420(gst_caps_from_string("video/x-raw,format=I420"));
  g_object_set(caps.get(), "caps", i420.get(), nullptr);
  gst::ElementPtr sink = makeElement("appsink");
  // Files paced like a camera when realtime; otherwise as fast as analysed.
  const bool sync = source.type == SourceType::kFile && source.realtime;
  g_object_set(sink.get(), "sync", sync ? TRUE : FALSE, "max-buffers", 2u, "drop", source.leaky ? TRUE : FALSE,
               "emit-signals", FALSE, nullptr);
  GstAppSinkCallbacks callbacks{};
  callbacks.new_sample = &onNewSample;
  gst_app_sink_set_callbacks(GST_APP_SINK(sink.get()), &callbacks, feed(), &FeedContext::destroy);
  gst_bin_add_many(bin, GST_ELEMENT(gst_object_ref(convert.get())), GST_ELEMENT(gst_object_ref(caps.get())),
                   GST_ELEMENT(gst_object_ref(sink.get())), nullptr);
  gst_element_link_many(convert.get(), caps.get(), sink.get(), nullptr);
  auto connect = [&](GstElement* element, const char* signal, GCallback callback) {
    g_signal_connect_data(element, signal, callback, feed(), &FeedContext::destroyClosure, GConnectFlags(0));
  };

  switch (source.type) {
    case SourceType::kTestPattern: {
      gst::ElementPtr head = makeTestPattern(bin, source.uri);
      gst_element_link(head.get(), convert.get());
      break;
    }
    case SourceType::kV4l2: {
      gst::ElementPtr camera = makeElement("v4l2src");
      const std::string device =
          source.uri.rfind("v4l2://", 0) == 0 ? source.uri.substr(std::string("v4l2://").size()) : source.uri;
      g_object_set(camera.get(), "device", device.c_str(), nullptr);
      gst::ElementPtr decode = makeElement("decodebin");
      connect(decode.get(), "pad-added", G_CALLBACK(&onPadAdded));
      gst_bin_add_many(bin, GST_ELEMENT(gst_object_ref(camera.get())), GST_ELEMENT(gst_object_ref(decode.get())),
                       nullptr);
      gst_element_link(camera.get(), decode.get());
      break;
    }
    default: {
      gst::ElementPtr decode = makeElement("uridecodebin");
      g_object_set(decode.get(), "uri", sourceUriOf(source).c_str(), nullptr);
      connect(decode.get(), "pad-added", G_CALLBACK(&onPadAdded));
      connect(decode.get(), "source-setup", G_CALLBACK(&onSourceSetup));
      gst_bin_add(bin, GST_ELEMENT(gst_object_ref(decode.get())));
      break;
    }
  }
  return pipeline;
}

}  // namespace vigil::pipeline
