#include "source_session.hpp"

#include "rtsp_server.hpp"
#include "vigil/analytics/registry.hpp"
#include "vigil/events/schema.hpp"
#include "vigil/gst/message.hpp"
#include "vigil/gst/meta.hpp"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <thread>
#include <stdexcept>

namespace vigil::pipeline {

namespace {

constexpr guint kWatchdogTickMs = 250;
constexpr GstClockTime kDrainTimeout = 3 * GST_SECOND;
constexpr guint kOutputQueueFrames = 5;
constexpr guint kFileKeyframeInterval = 30;  // frames; also bounds how far a segment overshoots

std::int64_t steadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

gst::ElementPtr makeElement(const char* factory, const char* name) {
  GstElement* element = gst_element_factory_make(factory, name);
  if (!element) {
    throw std::runtime_error(std::string("GStreamer element '") + factory +
                             "' is not available (is its plugin installed? for Vigil's own elements, is "
                             "libgstvigil.so on GST_PLUGIN_PATH?)");
  }
  return gst::adoptFloating(element);
}

// Sets a property from text using the property's own type (enums by nick),
// so configs never carry magic numbers.
void setPropertyFromText(GstElement* element, const std::string& property, const std::string& value) {
  GParamSpec* spec = g_object_class_find_property(G_OBJECT_GET_CLASS(element), property.c_str());
  if (!spec) throw std::runtime_error("element has no property '" + property + "'");
  GValue parsed = G_VALUE_INIT;
  g_value_init(&parsed, spec->value_type);
  if (!gst_value_deserialize(&parsed, value.c_str())) {
    g_value_unset(&parsed);
    throw std::runtime_error("'" + value + "' is not a valid value for '" + property + "'");
  }
  g_object_set_property(G_OBJECT(element), property.c_str(), &parsed);
  g_value_unset(&parsed);
}

namespace {

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

// A recording keeps the caps it started with: matroskamux and mp4mux refuse
// new stream headers mid-file, and x264 writes size, colour and frame rate
// into them. So the first caps fix the geometry and colour of the capsfilter
// ahead of the encoder (a source that comes back at another size is scaled,
// letterboxed, into the first), and later caps keep the first frame-rate
// label (timestamps carry the real timing).
struct RecordingCapsLock {
  gst::ElementPtr filter;
  gst::CapsPtr first;  // streaming thread only
  static void destroy(gpointer lock) { delete static_cast<RecordingCapsLock*>(lock); }
};

GstPadProbeReturn lockRecordingCaps(GstPad*, GstPadProbeInfo* info, gpointer data) {
  GstEvent* event = GST_PAD_PROBE_INFO_EVENT(info);
  if (!event || GST_EVENT_TYPE(event) != GST_EVENT_CAPS) return GST_PAD_PROBE_OK;
  auto* lock = static_cast<RecordingCapsLock*>(data);
  GstCaps* caps = nullptr;
  gst_event_parse_caps(event, &caps);
  if (!caps || gst_caps_is_empty(caps)) return GST_PAD_PROBE_OK;
  const GstStructure* structure = gst_caps_get_structure(caps, 0);
  if (!lock->first) {
    lock->first.reset(gst_caps_copy(caps));
    GstStructure* fixed = gst_structure_new_empty("video/x-raw");
    for (const char* field : {"format", "width", "height", "pixel-aspect-ratio", "colorimetry", "chroma-site"}) {
      if (const GValue* value = gst_structure_get_value(structure, field)) gst_structure_set_value(fixed, field, value);
    }
    gst::CapsPtr locked(gst_caps_new_full(fixed, nullptr));
    g_object_set(lock->filter.get(), "caps", locked.get(), nullptr);
    return GST_PAD_PROBE_OK;
  }
  const GValue* first_rate = gst_structure_get_value(gst_caps_get_structure(lock->first.get(), 0), "framerate");
  const GValue* rate = gst_structure_get_value(structure, "framerate");
  if (first_rate && (!rate || gst_value_compare(rate, first_rate) != GST_VALUE_EQUAL)) {
    gst::CapsPtr relabelled(gst_caps_copy(caps));
    gst_caps_set_value(relabelled.get(), "framerate", first_rate);
    gst_event_unref(event);
    GST_PAD_PROBE_INFO_DATA(info) = gst_event_new_caps(relabelled.get());
  }
  return GST_PAD_PROBE_OK;
}

// splitmuxsink does not create directories.
void createRecordingDirectory(const std::string& source_id, const std::string& location) {
  const std::filesystem::path directory = std::filesystem::path(location).parent_path();
  if (directory.empty() || directory.string().find('%') != std::string::npos) return;
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) {
    throw std::runtime_error(source_id + ": cannot create the recording directory " + directory.string() + ": " +
                             error.message());
  }
}

}  // namespace

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

struct FeedContext {
  std::shared_ptr<FrameBridge> bridge;
  std::uint64_t generation = 0;
  gst::ElementPtr convert;  // decoded pads link here
  std::string source_id;

  bool current() const { return bridge->generation.load() == generation; }
  static void destroy(gpointer context) { delete static_cast<FeedContext*>(context); }
  static void destroyClosure(gpointer context, GClosure*) { destroy(context); }
};

namespace {

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

}  // namespace

bool waitForSourceTeardowns(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (teardowns_in_flight.load() > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // shutdown path only
  }
  return true;
}

int sourceTeardownsInFlight() { return teardowns_in_flight.load(); }

SourceSession::SourceSession(SourceConfig source, BusConfig bus, OutputServer* rtsp_outputs,
                             std::function<void(SourceSession&)> on_finished)
    : source_(std::move(source)),
      bus_(std::move(bus)),
      rtsp_outputs_(rtsp_outputs),
      on_finished_(std::move(on_finished)),
      redacted_uri_(redactUri(source_.uri)),
      bridge_(std::make_shared<FrameBridge>()) {
  bridge_->rtsp_latency_ms = static_cast<guint>(source_.rtsp_latency_ms);
  if (source_.rtsp_transport != "auto") bridge_->rtsp_protocols = source_.rtsp_transport;
  bridge_->tcp_timeout_us = static_cast<guint64>(source_.watchdog.count()) * 1000;
}

SourceSession::~SourceSession() {
  for (guint* id : {&watchdog_timer_, &restart_timer_, &analytics_watch_, &source_watch_}) {
    if (*id) g_source_remove(*id);
    *id = 0;
  }
  teardownSource();
  if (analytics_) gst_element_set_state(analytics_.get(), GST_STATE_NULL);
}

std::string SourceSession::redact(std::string text) const {
  // Error texts from rtspsrc and friends may quote the URI, credentials included.
  if (redacted_uri_ != source_.uri) {
    for (auto at = text.find(source_.uri); at != std::string::npos; at = text.find(source_.uri, at)) {
      text.replace(at, source_.uri.size(), redacted_uri_);
    }
    for (const std::string& secret : uriSecrets(source_.uri)) {
      if (secret.empty()) continue;
      for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
        text.replace(at, secret.size(), "***");
      }
    }
  }
  return text;
}

std::string SourceSession::boundEndpoint() const {
  if (!publish_) return "";
  gchar* endpoint = nullptr;
  g_object_get(publish_.get(), "bound-endpoint", &endpoint, nullptr);
  gst::CharPtr owned(endpoint);
  return owned ? owned.get() : "";
}

const OutputConfig* SourceSession::snapshotOutput() const {
  for (const OutputConfig& output : source_.outputs) {
    if (output.type == OutputConfig::Type::kSnapshot) return &output;
  }
  return nullptr;
}

gst::SamplePtr SourceSession::snapshotSample() const {
  if (!snapshot_sink_) return nullptr;
  GstSample* sample = nullptr;
  g_object_get(snapshot_sink_.get(), "last-sample", &sample, nullptr);  // basesink guards it with its lock
  return gst::SamplePtr(sample);
}

SourceSession::Stats SourceSession::stats() const {
  return Stats{bridge_->frame_counter.load(), reconnects_, last_recovery_seconds_};
}

void SourceSession::publishStatus(const char* state, const std::string& detail) {
  if (publish_) g_signal_emit_by_name(publish_.get(), "publish-status", state, redact(detail).c_str());
}

void SourceSession::buildAnalytics() {
  analytics_ = gst::adoptFloating(gst_pipeline_new(("analytics-" + source_.id).c_str()));
  GstBin* bin = GST_BIN(analytics_.get());

  appsrc_ = makeElement("appsrc", "frames");
  // A bounded queue that drops the oldest frame when the analytics fall behind:
  // latency stays flat and the gap shows in the frame numbers (heartbeat
  // dropped_frames). Not leaky: the source waits instead (offline files).
  g_object_set(appsrc_.get(), "format", GST_FORMAT_TIME, "is-live", source_.realtime ? TRUE : FALSE, "max-buffers",
               static_cast<guint64>(source_.queue_frames), "max-bytes", static_cast<guint64>(0), "max-time",
               static_cast<guint64>(0), nullptr);
  if (source_.leaky) {
    gst_util_set_object_arg(G_OBJECT(appsrc_.get()), "leaky-type", "downstream");
  } else {
    g_object_set(appsrc_.get(), "block", TRUE, nullptr);
  }
  gst_bin_add(bin, GST_ELEMENT(gst_object_ref(appsrc_.get())));
  bridge_->appsrc.reset(GST_ELEMENT(gst_object_ref(appsrc_.get())));
  GstElement* previous = appsrc_.get();

  for (const AnalyticConfig& analytic : source_.analytics) {
    gst::ElementPtr element = makeElement(analytic.element.c_str());
    for (const auto& [property, value] : analytic.properties) {
      try {
        setPropertyFromText(element.get(), property, value);
      } catch (const std::exception& error) {
        throw ConfigError(source_.id + ": " + analytic.name + ": " + error.what());
      }
    }
    gst_bin_add(bin, GST_ELEMENT(gst_object_ref(element.get())));
    if (!gst_element_link(previous, element.get())) {
      throw std::runtime_error(source_.id + ": cannot link " + analytic.element);
    }
    previous = element.get();
  }

  publish_ = makeElement("eventpublish", "publish");
  g_object_set(publish_.get(), "endpoint", bus_.endpoint.c_str(), "snapshot-endpoint", bus_.snapshot_endpoint.c_str(),
               "source-id", source_.id.c_str(), "heartbeat-interval", static_cast<guint>(bus_.heartbeat.count()),
               "history", static_cast<guint>(bus_.history.count()), nullptr);
  if (!bus_.curve_server_key.empty()) {
    std::string allow;
    for (const auto& entry : bus_.curve_allow) allow += (allow.empty() ? "" : ",") + entry;
    g_object_set(publish_.get(), "curve-server-key", bus_.curve_server_key.c_str(), "curve-authorized-keys",
                 bus_.curve_authorized_keys.c_str(), "curve-allow", allow.c_str(), nullptr);
  }
  gst_bin_add(bin, GST_ELEMENT(gst_object_ref(publish_.get())));
  gst_element_link(previous, publish_.get());

  // Outputs hang off a tee after the last analytic: only redacted frames reach them.
  gst::ElementPtr tee = makeElement("tee");
  gst_bin_add(bin, GST_ELEMENT(gst_object_ref(tee.get())));
  gst_element_link(publish_.get(), tee.get());
  // Each output on its own queue, so a slow one never stalls the analytics.
  // A recording follows the source's `leaky`: with leaky: false every frame
  // is recorded and a slow encoder slows the source instead.
  // Returns the branch's queue.
  auto branch = [&](std::initializer_list<gst::ElementPtr*> chain, bool may_drop) {
    gst::ElementPtr queue = makeElement("queue");
    if (may_drop) gst_util_set_object_arg(G_OBJECT(queue.get()), "leaky", "downstream");
    g_object_set(queue.get(), "max-size-buffers", kOutputQueueFrames, "max-size-time", static_cast<guint64>(0),
                 "max-size-bytes", 0u, nullptr);
    GstElement* last = tee.get();
    std::vector<GstElement*> elements{queue.get()};
    for (auto* element : chain) elements.push_back(element->get());
    for (GstElement* element : elements) {
      gst_bin_add(bin, GST_ELEMENT(gst_object_ref(element)));
      if (!gst_element_link(last, element)) throw std::runtime_error(source_.id + ": cannot link output branch");
      last = element;
    }
    return queue;
  };
  gst::ElementPtr sink = makeElement("fakesink");
  g_object_set(sink.get(), "sync", FALSE, "async", FALSE, nullptr);
  branch({&sink}, true);
  const bool redacts = std::any_of(source_.analytics.begin(), source_.analytics.end(), [](const AnalyticConfig& a) {
    const analytics::Analytic* analytic = analytics::byName(a.name);
    return analytic && analytic->pixels == analytics::Pixels::kRedact;
  });
  if (!source_.outputs.empty() && !redacts) {
    std::string redactors;
    for (const analytics::Analytic& analytic : analytics::all()) {
      if (analytic.pixels != analytics::Pixels::kRedact) continue;
      redactors += (redactors.empty() ? "" : ", ") + std::string(analytic.name);
    }
    spdlog::warn("[{}] outputs carry the video unredacted: no redacting analytic ({}) on this source", source_.id,
                 redactors);
  }
  for (const OutputConfig& output : source_.outputs) {
    if (output.type == OutputConfig::Type::kFile) {
      createRecordingDirectory(source_.id, output.path);
      gst::ElementPtr scale = makeElement("videoscale");
      gst::ElementPtr convert = makeElement("videoconvert");
      gst::ElementPtr caps_lock = makeElement("capsfilter");
      gst::ElementPtr encoder = makeElement("x264enc");
      gst_util_set_object_arg(G_OBJECT(encoder.get()), "speed-preset", "ultrafast");
      gst_util_set_object_arg(G_OBJECT(encoder.get()), "tune", "zerolatency");
      g_object_set(encoder.get(), "bitrate", static_cast<guint>(output.bitrate_kbps), "key-int-max",
                   kFileKeyframeInterval, nullptr);
      gst::ElementPtr parse = makeElement("h264parse");
      gst::ElementPtr mux = makeElement("splitmuxsink");
      // A segment closes at the first keyframe after max-size-time; keyframes
      // are requested then, so segments stay close to `segment` long.
      g_object_set(mux.get(), "location", output.path.c_str(), "max-size-time",
                   static_cast<guint64>(output.segment.count()) * GST_SECOND, "send-keyframe-requests", TRUE, nullptr);
      gst::ElementPtr muxer = makeElement(output.format == "mp4" ? "mp4mux" : "matroskamux");
      g_object_set(mux.get(), "muxer", muxer.get(), nullptr);
      gst::ElementPtr queue = branch({&scale, &convert, &caps_lock, &encoder, &parse, &mux}, source_.leaky);
      gst::PadPtr queue_src(gst_element_get_static_pad(queue.get(), "src"));
      auto* lock = new RecordingCapsLock{gst::ElementPtr(GST_ELEMENT(gst_object_ref(caps_lock.get()))), nullptr};
      gst_pad_add_probe(queue_src.get(), GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, &lockRecordingCaps, lock,
                        &RecordingCapsLock::destroy);
    } else if (output.type == OutputConfig::Type::kRtsp) {
      if (!rtsp_outputs_) throw std::runtime_error(source_.id + ": rtsp output without an RTSP server");
      gst::ElementPtr sink_to_server = makeElement("intervideosink");
      g_object_set(sink_to_server.get(), "channel",
                   rtsp_outputs_->addMount(source_.id, output.path, output.bitrate_kbps).c_str(), nullptr);
      branch({&sink_to_server}, true);
    } else {
      // Snapshots: the newest redacted frame, kept by this sink and encoded
      // only when asked for (HttpServer, through snapshotSample()).
      snapshot_sink_ = makeElement("fakesink", ("snapshot-" + source_.id).c_str());
      g_object_set(snapshot_sink_.get(), "sync", FALSE, "async", FALSE, "enable-last-sample", TRUE, nullptr);
      branch({&snapshot_sink_}, true);
    }
  }
}

void SourceSession::start() {
  buildAnalytics();
  gst::BusPtr bus(gst_element_get_bus(analytics_.get()));
  analytics_watch_ = gst_bus_add_watch(bus.get(), &SourceSession::onAnalyticsBus, this);
  if (gst_element_set_state(analytics_.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    // The bus carries the reason (e.g. a model that failed to load).
    gst::MessagePtr message(gst_bus_pop_filtered(bus.get(), GST_MESSAGE_ERROR));
    std::string why = "the analytics pipeline did not start";
    if (message) {
      why = gst::errorText(message.get()).full();
    }
    throw std::runtime_error(source_.id + ": " + why);
  }
  bridge_->clock.reset(gst_element_get_clock(analytics_.get()));
  bridge_->base_time = gst_element_get_base_time(analytics_.get());
  spdlog::info("[{}] analytics started ({} analytics), publishing on {}", source_.id, source_.analytics.size(),
               boundEndpoint());
  watchdog_timer_ = g_timeout_add(kWatchdogTickMs, &SourceSession::onWatchdog, this);
  startSource();
}

void SourceSession::startSource() {
  restart_timer_ = 0;
  if (stopping_ || finished_) return;
  spdlog::info("[{}] opening {}", source_.id, redacted_uri_);
  try {
    source_pipeline_ = gst::adoptFloating(gst_pipeline_new(("source-" + source_.id).c_str()));
    GstBin* bin = GST_BIN(source_pipeline_.get());
    gst::ElementPtr convert = makeElement("videoconvert");
    // Each callback owns a context naming this pipeline's generation.
    auto feed = [&] {
      auto* context = new FeedContext{bridge_, bridge_->generation.load(), nullptr, source_.id};
      context->convert.reset(GST_ELEMENT(gst_object_ref(convert.get())));
      return context;
    };
    gst::ElementPtr caps = makeElement("capsfilter");
    gst::CapsPtr i420(gst_caps_from_string("video/x-raw,format=I420"));
    g_object_set(caps.get(), "caps", i420.get(), nullptr);
    gst::ElementPtr sink = makeElement("appsink");
    // Files paced like a camera when realtime; otherwise as fast as analysed.
    const bool sync = source_.type == SourceType::kFile && source_.realtime;
    g_object_set(sink.get(), "sync", sync ? TRUE : FALSE, "max-buffers", 2u, "drop", source_.leaky ? TRUE : FALSE,
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

    switch (source_.type) {
      case SourceType::kTestPattern: {
        gst::ElementPtr head = makeTestPattern(bin, source_.uri);
        gst_element_link(head.get(), convert.get());
        break;
      }
      case SourceType::kV4l2: {
        gst::ElementPtr camera = makeElement("v4l2src");
        const std::string device =
            source_.uri.rfind("v4l2://", 0) == 0 ? source_.uri.substr(std::string("v4l2://").size()) : source_.uri;
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
        g_object_set(decode.get(), "uri", sourceUriOf(source_).c_str(), nullptr);
        connect(decode.get(), "pad-added", G_CALLBACK(&onPadAdded));
        connect(decode.get(), "source-setup", G_CALLBACK(&onSourceSetup));
        gst_bin_add(bin, GST_ELEMENT(gst_object_ref(decode.get())));
        break;
      }
    }
  } catch (const std::exception& error) {
    teardownSource();
    scheduleRestart(error.what());
    return;
  }

  gst::BusPtr bus(gst_element_get_bus(source_pipeline_.get()));
  source_watch_ = gst_bus_add_watch(bus.get(), &SourceSession::onSourceBus, this);
  source_started_ = std::chrono::steady_clock::now();
  bridge_->frames_since_source_start = 0;
  if (gst_element_set_state(source_pipeline_.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    // The error message on the bus says why; it arrives through onSourceBus.
    spdlog::warn("[{}] source did not start", source_.id);
  }
}

void SourceSession::teardownSource() {
  if (source_watch_) {
    g_source_remove(source_watch_);
    source_watch_ = 0;
  }
  if (source_pipeline_) {
    ++bridge_->generation;  // its streaming threads stop feeding us now
    disposeInBackground(std::move(source_pipeline_));
  }
}

void SourceSession::scheduleRestart(const std::string& reason) {
  if (stopping_ || finished_ || restart_timer_) return;
  teardownSource();
  if (!recovering_) {
    recovering_ = true;
    failure_detected_ = std::chrono::steady_clock::now();
  }
  // Capped exponential backoff: quick for a blip, gentle on a dead camera.
  const std::chrono::milliseconds backoff = source_.reconnect_initial * (1LL << std::min(restart_attempts_, 20));
  const std::chrono::milliseconds delay = std::min(source_.reconnect_max, backoff);
  ++restart_attempts_;
  ++reconnects_;
  spdlog::warn("[{}] {}; reconnecting in {} ms (attempt {})", source_.id, redact(reason), delay.count(),
               restart_attempts_);
  publishStatus("reconnecting", reason);
  restart_timer_ = g_timeout_add(static_cast<guint>(delay.count()), &SourceSession::onRestartTimer, this);
}

gboolean SourceSession::onRestartTimer(gpointer self) {
  static_cast<SourceSession*>(self)->startSource();
  return G_SOURCE_REMOVE;
}

// Once frames flow again after a failure: how long the source was gone, from
// the failure being detected to the first frame of the new source pipeline.
void SourceSession::noteRecovery() {
  if (!recovering_ || bridge_->frames_since_source_start.load() == 0) return;
  recovering_ = false;
  restart_attempts_ = 0;
  const auto first_frame = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(bridge_->first_frame_steady_ns.load()));
  last_recovery_seconds_ = std::chrono::duration<double>(first_frame - failure_detected_).count();
  spdlog::info("[{}] source back after {:.2f} s", source_.id, last_recovery_seconds_);
}

void SourceSession::finish(bool failed, const std::string& why) {
  if (finished_) return;
  noteRecovery();
  finished_ = true;
  failed_ = failed;
  failure_ = failed ? redact(why) : "";
  if (restart_timer_) g_source_remove(restart_timer_);
  restart_timer_ = 0;
  if (watchdog_timer_) g_source_remove(watchdog_timer_);
  watchdog_timer_ = 0;
  if (analytics_watch_) g_source_remove(analytics_watch_);
  analytics_watch_ = 0;
  teardownSource();
  if (failed) publishStatus("error", why);
  // NULL runs eventpublish's stop(): `stopped` is published and flushed.
  if (analytics_) gst_element_set_state(analytics_.get(), GST_STATE_NULL);
  if (failed) {
    spdlog::error("[{}] stopped: {}", source_.id, failure_);
  } else {
    spdlog::info("[{}] finished ({} frames, {} reconnects)", source_.id, bridge_->frame_counter.load(), reconnects_);
  }
  if (on_finished_) on_finished_(*this);
}

void SourceSession::stop() {
  if (finished_ || stopping_) return;
  stopping_ = true;
  noteRecovery();
  teardownSource();
  // Let the analytics drain what they hold, then stop. EOS travels through
  // the pipeline; wait for it on the bus, bounded.
  gst_app_src_end_of_stream(GST_APP_SRC(appsrc_.get()));
  gst::BusPtr bus(gst_element_get_bus(analytics_.get()));
  gst::MessagePtr done(gst_bus_timed_pop_filtered(bus.get(), kDrainTimeout,
                                                  static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR)));
  finish(false, "");
}

gboolean SourceSession::onWatchdog(gpointer self) {
  auto* session = static_cast<SourceSession*>(self);
  if (session->finished_ || session->stopping_) return G_SOURCE_CONTINUE;
  if (!session->source_pipeline_) return G_SOURCE_CONTINUE;  // waiting for a restart
  const auto now = std::chrono::steady_clock::now();
  const std::uint64_t frames = session->bridge_->frames_since_source_start.load();
  session->noteRecovery();
  // No frame for `watchdog` since the last one (or since the start).
  const std::int64_t last = session->bridge_->last_frame_steady_ns.load();
  const auto since_start = now - session->source_started_;
  const auto since_frame = std::chrono::nanoseconds(steadyNowNs() - last);
  const auto quiet = frames > 0 ? std::min<std::chrono::nanoseconds>(since_frame, since_start) : since_start;
  if (quiet > session->source_.watchdog) {
    session->scheduleRestart("no frames for " + std::to_string(session->source_.watchdog.count()) + " ms");
  }
  return G_SOURCE_CONTINUE;
}

gboolean SourceSession::onSourceBus(GstBus*, GstMessage* message, gpointer self) {
  auto* session = static_cast<SourceSession*>(self);
  switch (GST_MESSAGE_TYPE(message)) {
    case GST_MESSAGE_ERROR: {
      const gst::ErrorText error = gst::errorText(message);
      spdlog::debug("[{}] source error detail: {}", session->source_.id, session->redact(error.debug));
      session->scheduleRestart("source error: " + error.message);
      break;
    }
    case GST_MESSAGE_EOS:
      switch (session->source_.on_eos) {
        case EosPolicy::kStop:
          session->teardownSource();
          gst_app_src_end_of_stream(GST_APP_SRC(session->appsrc_.get()));  // finish() on analytics EOS
          break;
        case EosPolicy::kLoop:
          gst_element_seek_simple(session->source_pipeline_.get(), GST_FORMAT_TIME,
                                  static_cast<GstSeekFlags>(GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT), 0);
          break;
        case EosPolicy::kReconnect: session->scheduleRestart("end of stream from the source"); break;
      }
      break;
    case GST_MESSAGE_WARNING: {
      GError* raw = nullptr;
      gst_message_parse_warning(message, &raw, nullptr);
      gst::ErrorPtr warning(raw);
      spdlog::warn("[{}] {}", session->source_.id, session->redact(warning ? warning->message : ""));
      break;
    }
    default: break;
  }
  return G_SOURCE_CONTINUE;
}

gboolean SourceSession::onAnalyticsBus(GstBus*, GstMessage* message, gpointer self) {
  auto* session = static_cast<SourceSession*>(self);
  switch (GST_MESSAGE_TYPE(message)) {
    case GST_MESSAGE_ERROR: {
      const std::string why = "analytics error: " + gst::errorText(message).full();
      session->analytics_watch_ = 0;
      session->finish(true, why);
      return G_SOURCE_REMOVE;
    }
    case GST_MESSAGE_EOS:
      session->analytics_watch_ = 0;
      session->finish(false, "");
      return G_SOURCE_REMOVE;
    default: break;
  }
  return G_SOURCE_CONTINUE;
}

}  // namespace vigil::pipeline
