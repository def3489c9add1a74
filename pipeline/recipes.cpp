#include "recipes.hpp"

#include "elements.hpp"
#include "rtsp_server.hpp"
#include "vigil/analytics/registry.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace vigil::pipeline {

namespace {

constexpr guint kOutputQueueFrames = 5;
constexpr guint kFileKeyframeInterval = 30;  // frames; also bounds how far a segment overshoots

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

AnalyticsPipeline buildAnalyticsPipeline(const SourceConfig& source, const BusConfig& bus, OutputServer* rtsp_outputs) {
  AnalyticsPipeline built;
  built.pipeline = gst::adoptFloating(gst_pipeline_new(("analytics-" + source.id).c_str()));
  GstBin* bin = GST_BIN(built.pipeline.get());

  built.appsrc = makeElement("appsrc", "frames");
  // A bounded queue that drops the oldest frame when the analytics fall behind:
  // latency stays flat and the gap shows in the frame numbers (heartbeat
  // dropped_frames). Not leaky: the source waits instead (offline files).
  g_object_set(built.appsrc.get(), "format", GST_FORMAT_TIME, "is-live", source.realtime ? TRUE : FALSE, "max-buffers",
               static_cast<guint64>(source.queue_frames), "max-bytes", static_cast<guint64>(0), "max-time",
               static_cast<guint64>(0), nullptr);
  if (source.leaky) {
    gst_util_set_object_arg(G_OBJECT(built.appsrc.get()), "leaky-type", "downstream");
  } else {
    g_object_set(built.appsrc.get(), "block", TRUE, nullptr);
  }
  gst_bin_add(bin, GST_ELEMENT(gst_object_ref(built.appsrc.get())));
  GstElement* previous = built.appsrc.get();

  for (const AnalyticConfig& analytic : source.analytics) {
    gst::ElementPtr element = makeElement(analytic.element.c_str());
    for (const auto& [property, value] : analytic.properties) {
      try {
        setPropertyFromText(element.get(), property, value);
      } catch (const std::exception& error) {
        throw ConfigError(source.id + ": " + analytic.name + ": " + error.what());
      }
    }
    gst_bin_add(bin, GST_ELEMENT(gst_object_ref(element.get())));
    if (!gst_element_link(previous, element.get())) {
      throw std::runtime_error(source.id + ": cannot link " + analytic.element);
    }
    previous = element.get();
  }

  built.publish = makeElement("eventpublish", "publish");
  g_object_set(built.publish.get(), "endpoint", bus.endpoint.c_str(), "snapshot-endpoint", bus.snapshot_endpoint.c_str(),
               "source-id", source.id.c_str(), "heartbeat-interval", static_cast<guint>(bus.heartbeat.count()),
               "history", static_cast<guint>(bus.history.count()), nullptr);
  if (!bus.curve_server_key.empty()) {
    std::string allow;
    for (const auto& entry : bus.curve_allow) allow += (allow.empty() ? "" : ",") + entry;
    g_object_set(built.publish.get(), "curve-server-key", bus.curve_server_key.c_str(), "curve-authorized-keys",
                 bus.curve_authorized_keys.c_str(), "curve-allow", allow.c_str(), nullptr);
  }
  gst_bin_add(bin, GST_ELEMENT(gst_object_ref(built.publish.get())));
  gst_element_link(previous, built.publish.get());

  // Outputs hang off a tee after the last analytic: only redacted frames reach them.
  gst::ElementPtr tee = makeElement("tee");
  gst_bin_add(bin, GST_ELEMENT(gst_object_ref(tee.get())));
  gst_element_link(built.publish.get(), tee.get());
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
      if (!gst_element_link(last, element)) throw std::runtime_error(source.id + ": cannot link output branch");
      last = element;
    }
    return queue;
  };
  gst::ElementPtr sink = makeElement("fakesink");
  g_object_set(sink.get(), "sync", FALSE, "async", FALSE, nullptr);
  branch({&sink}, true);
  const bool redacts = std::any_of(source.analytics.begin(), source.analytics.end(), [](const AnalyticConfig& a) {
    const analytics::Analytic* analytic = analytics::byName(a.name);
    return analytic && analytic->pixels == analytics::Pixels::kRedact;
  });
  if (!source.outputs.empty() && !redacts) {
    std::string redactors;
    for (const analytics::Analytic& analytic : analytics::all()) {
      if (analytic.pixels != analytics::Pixels::kRedact) continue;
      redactors += (redactors.empty() ? "" : ", ") + std::string(analytic.name);
    }
    spdlog::warn("[{}] outputs carry the video unredacted: no redacting analytic ({}) on this source", source.id,
                 redactors);
  }
  for (const OutputConfig& output : source.outputs) {
    if (output.type == OutputConfig::Type::kFile) {
      createRecordingDirectory(source.id, output.path);
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
      gst::ElementPtr queue = branch({&scale, &convert, &caps_lock, &encoder, &parse, &mux}, source.leaky);
      gst::PadPtr queue_src(gst_element_get_static_pad(queue.get(), "src"));
      auto* lock = new RecordingCapsLock{gst::ElementPtr(GST_ELEMENT(gst_object_ref(caps_lock.get()))), nullptr};
      gst_pad_add_probe(queue_src.get(), GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, &lockRecordingCaps, lock,
                        &RecordingCapsLock::destroy);
    } else if (output.type == OutputConfig::Type::kRtsp) {
      if (!rtsp_outputs) throw std::runtime_error(source.id + ": rtsp output without an RTSP server");
      gst::ElementPtr sink_to_server = makeElement("intervideosink");
      g_object_set(sink_to_server.get(), "channel",
                   rtsp_outputs->addMount(source.id, output.path, output.bitrate_kbps).c_str(), nullptr);
      branch({&sink_to_server}, true);
    } else {
      // Snapshots: the newest redacted frame, kept by this sink and encoded
      // only when asked for (HttpServer, through snapshotSample()).
      built.snapshot_sink = makeElement("fakesink", ("snapshot-" + source.id).c_str());
      g_object_set(built.snapshot_sink.get(), "sync", FALSE, "async", FALSE, "enable-last-sample", TRUE, nullptr);
      branch({&built.snapshot_sink}, true);
    }
  }
  return built;
}

}  // namespace vigil::pipeline
