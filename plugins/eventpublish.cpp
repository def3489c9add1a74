/**
 * SECTION:element-eventpublish
 *
 * Publishes what the analysers upstream found as Vigil events (schema v1,
 * docs/EVENTS.md) on a ZeroMQ PUB socket: one event per analysis summary that
 * asks to be published (`faces`, `plates`, `codes`), and the source's `status`
 * with a periodic heartbeat. Video passes through untouched.
 *
 * The streaming thread never waits for the network: events go to a bounded
 * queue served by the publisher's own thread, and are dropped (and counted,
 * visible to subscribers as sequence gaps) when it is full. Every
 * eventpublish in a process that names the same endpoint shares one socket.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc ! facecount ! eventpublish endpoint=tcp://127.0.0.1:5555 source-id=cam1 ! fakesink
 * ]|
 */
#include "eventpublish.hpp"

#include "vigil/analytics/registry.hpp"
#include "vigil/events/keys.hpp"
#include "vigil/events/publisher.hpp"
#include "vigil/gst/guard.hpp"
#include "vigil/gst/meta.hpp"
#include "vigil/gst/ptr.hpp"

#include <gst/video/video.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

GST_DEBUG_CATEGORY_STATIC(vigil_event_publish_debug);
#define GST_CAT_DEFAULT vigil_event_publish_debug

namespace {

constexpr const char* kDefaultEndpoint = "tcp://127.0.0.1:5555";
constexpr const char* kDefaultSourceId = "default";
constexpr guint kDefaultHeartbeatMs = 5000;
constexpr guint kMaxHeartbeatMs = 3600 * 1000;
constexpr auto kStopFlushTimeout = std::chrono::milliseconds(500);
constexpr guint kDefaultHistoryMs = 60000;
constexpr guint kMaxHistoryMs = 24 * 3600 * 1000;
constexpr guint kDefaultHistoryMaxEvents = 100000;
constexpr guint64 kDefaultHistoryMaxBytes = 64u << 20;

enum {
  PROP_0,
  PROP_ENDPOINT,
  PROP_BOUND_ENDPOINT,
  PROP_SNAPSHOT_ENDPOINT,
  PROP_BOUND_SNAPSHOT_ENDPOINT,
  PROP_SOURCE_ID,
  PROP_HEARTBEAT_INTERVAL,
  PROP_HISTORY,
  PROP_HISTORY_MAX_EVENTS,
  PROP_HISTORY_MAX_BYTES,
  PROP_CURVE_SERVER_KEY,
  PROP_CURVE_AUTHORIZED_KEYS,
  PROP_CURVE_ALLOW,
  PROP_STATS,
};

enum { SIGNAL_PUBLISH_STATUS, N_SIGNALS };
guint signals[N_SIGNALS];

struct Settings {
  std::string endpoint = kDefaultEndpoint;
  std::string snapshot_endpoint;
  std::string source_id = kDefaultSourceId;
  guint heartbeat_ms = kDefaultHeartbeatMs;
  guint history_ms = kDefaultHistoryMs;
  guint history_max_events = kDefaultHistoryMaxEvents;
  guint64 history_max_bytes = kDefaultHistoryMaxBytes;
  std::string curve_server_key;       // secret key file; empty: no CURVE
  std::string curve_authorized_keys;  // directory of client NAME.pub files
  std::string curve_allow;            // comma-separated addresses / CIDR ranges
};

std::string stringOf(const GValue* value) { return g_value_get_string(value) ? g_value_get_string(value) : ""; }

std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = std::min(text.find(',', start), text.size());
    std::string item = text.substr(start, comma - start);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) items.push_back(item);
    start = comma + 1;
  }
  return items;
}

// What the heartbeat reports, written by the streaming thread, read by the
// heartbeat thread: plain atomics, no lock on the per-frame path.
struct Counters {
  std::atomic<std::uint64_t> analysed{0};          // buffers seen here
  std::atomic<std::uint64_t> last_frame{0};        // source frame number of the newest buffer
  std::atomic<std::uint64_t> dropped_upstream{0};  // frame-number gaps: dropped before us
  std::atomic<std::int64_t> width{0};
  std::atomic<std::int64_t> height{0};
  std::atomic<std::uint64_t> events{0};
};

}  // namespace

struct _VigilEventPublish {
  GstBaseTransform parent;
  struct EventPublishPrivate* priv;
};

struct EventPublishPrivate {
  std::mutex settings_mutex;
  Settings settings;

  // Running state: valid between start() and stop().
  std::shared_ptr<vigil::events::Publisher> publisher;
  // The publisher's counters when it was last released: `stats` still tells
  // what a finished run published.
  vigil::events::PublisherStats final_stats;
  std::string source_id;  // copied at start: topics never change mid-stream
  Counters counters;
  bool has_frame_number = false;
  std::uint64_t own_frame_counter = 0;

  std::mutex state_mutex;  // guards status_state only; never held while publishing
  std::string status_state;

  std::mutex heartbeat_mutex;
  std::condition_variable heartbeat_wake;
  bool heartbeat_stop = false;
  std::thread heartbeat;
};

G_DEFINE_TYPE(VigilEventPublish, vigil_event_publish, GST_TYPE_BASE_TRANSFORM)
GST_ELEMENT_REGISTER_DEFINE(eventpublish, "eventpublish", GST_RANK_NONE, VIGIL_TYPE_EVENT_PUBLISH)

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(GST_VIDEO_FORMATS_ALL)));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(GST_VIDEO_FORMATS_ALL)));

namespace {

using Packer = msgpack::packer<msgpack::sbuffer>;

void packString(Packer& packer, const char* text) {
  const auto size = static_cast<std::uint32_t>(std::strlen(text));
  packer.pack_str(size);
  packer.pack_str_body(text, size);
}

void packValue(Packer& packer, const GValue* value, int depth);

void packStructure(Packer& packer, const GstStructure* structure, int depth,
                   std::initializer_list<const char*> skip = {}) {
  std::vector<int> fields;
  const int n = gst_structure_n_fields(structure);
  for (int i = 0; i < n; ++i) {
    const char* name = gst_structure_nth_field_name(structure, i);
    bool skipped = false;
    for (const char* s : skip) skipped = skipped || std::strcmp(s, name) == 0;
    if (!skipped) fields.push_back(i);
  }
  packer.pack_map(static_cast<std::uint32_t>(fields.size()));
  for (int i : fields) {
    const char* name = gst_structure_nth_field_name(structure, i);
    packString(packer, name);
    packValue(packer, gst_structure_get_value(structure, name), depth + 1);
  }
}

// GValue -> msgpack, for the kind-specific keys analysers put in their metas.
// Depth is bounded so a self-referencing structure cannot recurse forever.
void packValue(Packer& packer, const GValue* value, int depth) {
  constexpr int kMaxDepth = 8;
  const GType type = G_VALUE_TYPE(value);
  if (depth > kMaxDepth) {
    packer.pack_nil();
  } else if (type == G_TYPE_INT) {
    packer.pack(g_value_get_int(value));
  } else if (type == G_TYPE_UINT) {
    packer.pack(g_value_get_uint(value));
  } else if (type == G_TYPE_INT64) {
    packer.pack(static_cast<std::int64_t>(g_value_get_int64(value)));
  } else if (type == G_TYPE_UINT64) {
    packer.pack(static_cast<std::uint64_t>(g_value_get_uint64(value)));
  } else if (type == G_TYPE_DOUBLE) {
    packer.pack(g_value_get_double(value));
  } else if (type == G_TYPE_FLOAT) {
    packer.pack(static_cast<double>(g_value_get_float(value)));
  } else if (type == G_TYPE_BOOLEAN) {
    if (g_value_get_boolean(value)) packer.pack_true(); else packer.pack_false();
  } else if (type == G_TYPE_STRING) {
    const char* text = g_value_get_string(value);
    if (text) packString(packer, text); else packer.pack_nil();
  } else if (type == GST_TYPE_STRUCTURE) {
    const GstStructure* nested = gst_value_get_structure(value);
    if (nested) packStructure(packer, nested, depth); else packer.pack_nil();
  } else if (type == GST_TYPE_ARRAY || type == GST_TYPE_LIST) {
    const bool is_array = type == GST_TYPE_ARRAY;
    const guint n = is_array ? gst_value_array_get_size(value) : gst_value_list_get_size(value);
    packer.pack_array(n);
    for (guint i = 0; i < n; ++i) {
      packValue(packer, is_array ? gst_value_array_get_value(value, i) : gst_value_list_get_value(value, i),
                depth + 1);
    }
  } else {
    vigil::gst::CharPtr text(gst_value_serialize(value));
    if (text) packString(packer, text.get()); else packer.pack_nil();
  }
}

// Header keys and `objects` belong to the publisher: an analyser field of the
// same name would make a map with a duplicate key, which subscribers reject.
bool reservedKey(const char* name) {
  namespace key = vigil::events::key;
  static constexpr std::string_view kReserved[] = {key::kVersion, key::kKind,  key::kSource, key::kRun,
                                                   key::kSeq,     key::kTs,    key::kPts,    key::kFrame,
                                                   key::kWidth,   key::kHeight, key::detections::kObjects};
  for (std::string_view reserved : kReserved) {
    if (reserved == name) return true;
  }
  return false;
}

bool objectPublished(const GstStructure* params) {
  gboolean publish = TRUE;
  if (params && gst_structure_has_field_typed(params, vigil::gst::kFieldPublish, G_TYPE_BOOLEAN)) {
    gst_structure_get_boolean(params, vigil::gst::kFieldPublish, &publish);
  }
  return publish;
}

// `objects`: every ROI of the given type that is not held back, as a map with
// `box`, `score`, `track_id` and whatever else the analyser added.
void packObjects(vigil::events::Body& body, GstBuffer* buffer, GQuark roi_type) {
  std::vector<GstVideoRegionOfInterestMeta*> rois;
  for (GstVideoRegionOfInterestMeta* roi : vigil::gst::regionsOfInterest(buffer)) {
    if (roi->roi_type == roi_type && objectPublished(vigil::gst::objectParams(roi))) rois.push_back(roi);
  }
  namespace key = vigil::events::key;
  Packer& packer = body.key(key::detections::kObjects);
  packer.pack_array(static_cast<std::uint32_t>(rois.size()));
  for (GstVideoRegionOfInterestMeta* roi : rois) {
    const GstStructure* params = vigil::gst::objectParams(roi);
    std::vector<int> extra;
    if (params) {
      const int n = gst_structure_n_fields(params);
      for (int i = 0; i < n; ++i) {
        const char* name = gst_structure_nth_field_name(params, i);
        // `box` comes from the meta itself; a param of that name would repeat the key.
        if (std::strcmp(name, vigil::gst::kFieldPublish) != 0 && std::strcmp(name, key::object::kBox) != 0) {
          extra.push_back(i);
        }
      }
    }
    const bool has_score = params && gst_structure_has_field(params, vigil::gst::kFieldScore);
    const bool has_track = params && gst_structure_has_field(params, vigil::gst::kFieldTrackId);
    packer.pack_map(static_cast<std::uint32_t>(1 + extra.size() + (has_score ? 0 : 1) + (has_track ? 0 : 1)));
    packString(packer, key::object::kBox);
    packer.pack_array(4);
    packer.pack(roi->x);
    packer.pack(roi->y);
    packer.pack(roi->w);
    packer.pack(roi->h);
    // Stock elements (e.g. facedetect) attach no params: still a valid object.
    if (!has_score) {
      packString(packer, vigil::gst::kFieldScore);
      packer.pack(1.0);
    }
    if (!has_track) {
      packString(packer, vigil::gst::kFieldTrackId);
      packer.pack(static_cast<std::int64_t>(roi->id));
    }
    for (int i : extra) {
      const char* name = gst_structure_nth_field_name(params, i);
      packString(packer, name);
      packValue(packer, gst_structure_get_value(params, name), 1);
    }
  }
}

// The kind an analytic publishes its ROI type under; an unknown ROI type
// (another vendor's element) is its own kind.
std::string kindForRoiType(const char* roi_type) {
  const vigil::analytics::Analytic* analytic = vigil::analytics::byRoiType(roi_type);
  return analytic ? analytic->event_kind : roi_type;
}

void publishStatus(EventPublishPrivate* priv, const std::string& state, const std::string& detail, bool heartbeat,
                   double input_fps = 0, double analysed_fps = 0) {
  if (!priv->publisher) return;
  vigil::events::Header header;
  header.kind = std::string(vigil::events::kind::kStatus);
  header.source = priv->source_id;
  header.ts_ns = vigil::events::wallClockNowNs();
  header.frame = priv->counters.last_frame.load();
  header.width = priv->counters.width.load();
  header.height = priv->counters.height.load();
  namespace key = vigil::events::key::status;
  vigil::events::Body body;
  body.set(key::kState, state).set(key::kDetail, detail).set(key::kHeartbeat, heartbeat);
  if (heartbeat) {
    body.set(key::kInputFps, input_fps)
        .set(key::kAnalysedFps, analysed_fps)
        .set(key::kDroppedFrames, priv->counters.dropped_upstream.load())
        .set(key::kAnalysedFrames, priv->counters.analysed.load())
        .set(key::kEventsDropped, priv->publisher->stats().dropped);
  }
  priv->publisher->publish(std::move(header), body);
}

void setStatus(EventPublishPrivate* priv, const std::string& state, const std::string& detail) {
  {
    std::lock_guard<std::mutex> lock(priv->state_mutex);
    priv->status_state = state;
  }
  publishStatus(priv, state, detail, false);
}

std::string currentStatus(EventPublishPrivate* priv) {
  std::lock_guard<std::mutex> lock(priv->state_mutex);
  return priv->status_state;
}

void heartbeatLoop(EventPublishPrivate* priv, std::chrono::milliseconds interval) {
  auto last_time = std::chrono::steady_clock::now();
  std::uint64_t last_analysed = priv->counters.analysed.load();
  std::uint64_t last_frame = priv->counters.last_frame.load();
  std::unique_lock<std::mutex> lock(priv->heartbeat_mutex);
  while (!priv->heartbeat_wake.wait_for(lock, interval, [&] { return priv->heartbeat_stop; })) {
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - last_time).count();
    const std::uint64_t analysed = priv->counters.analysed.load();
    const std::uint64_t frame = priv->counters.last_frame.load();
    const double analysed_fps = seconds > 0 ? (analysed - last_analysed) / seconds : 0;
    // Input rate from source frame numbers: counts frames dropped upstream too.
    const double input_fps = seconds > 0 && frame >= last_frame ? (frame - last_frame) / seconds : 0;
    last_time = now;
    last_analysed = analysed;
    last_frame = frame;
    lock.unlock();
    publishStatus(priv, currentStatus(priv), "heartbeat", true, input_fps, analysed_fps);
    lock.lock();
  }
}

EventPublishPrivate* privateOf(gpointer object) { return VIGIL_EVENT_PUBLISH(object)->priv; }

}  // namespace

static void vigil_event_publish_set_property(GObject* object, guint id, const GValue* value, GParamSpec* pspec) {
  EventPublishPrivate* priv = privateOf(object);
  std::lock_guard<std::mutex> lock(priv->settings_mutex);
  switch (id) {
    case PROP_ENDPOINT: priv->settings.endpoint = g_value_get_string(value) ? g_value_get_string(value) : ""; break;
    case PROP_SNAPSHOT_ENDPOINT:
      priv->settings.snapshot_endpoint = g_value_get_string(value) ? g_value_get_string(value) : "";
      break;
    case PROP_SOURCE_ID: priv->settings.source_id = g_value_get_string(value) ? g_value_get_string(value) : ""; break;
    case PROP_HEARTBEAT_INTERVAL: priv->settings.heartbeat_ms = g_value_get_uint(value); break;
    case PROP_HISTORY: priv->settings.history_ms = g_value_get_uint(value); break;
    case PROP_HISTORY_MAX_EVENTS: priv->settings.history_max_events = g_value_get_uint(value); break;
    case PROP_HISTORY_MAX_BYTES: priv->settings.history_max_bytes = g_value_get_uint64(value); break;
    case PROP_CURVE_SERVER_KEY: priv->settings.curve_server_key = stringOf(value); break;
    case PROP_CURVE_AUTHORIZED_KEYS: priv->settings.curve_authorized_keys = stringOf(value); break;
    case PROP_CURVE_ALLOW: priv->settings.curve_allow = stringOf(value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec); break;
  }
}

static void vigil_event_publish_get_property(GObject* object, guint id, GValue* value, GParamSpec* pspec) {
  EventPublishPrivate* priv = privateOf(object);
  std::lock_guard<std::mutex> lock(priv->settings_mutex);
  switch (id) {
    case PROP_ENDPOINT: g_value_set_string(value, priv->settings.endpoint.c_str()); break;
    case PROP_BOUND_ENDPOINT:
      g_value_set_string(value, priv->publisher ? priv->publisher->boundEndpoint().c_str() : nullptr);
      break;
    case PROP_SNAPSHOT_ENDPOINT: g_value_set_string(value, priv->settings.snapshot_endpoint.c_str()); break;
    case PROP_BOUND_SNAPSHOT_ENDPOINT:
      g_value_set_string(value, priv->publisher ? priv->publisher->boundSnapshotEndpoint().c_str() : nullptr);
      break;
    case PROP_SOURCE_ID: g_value_set_string(value, priv->settings.source_id.c_str()); break;
    case PROP_HEARTBEAT_INTERVAL: g_value_set_uint(value, priv->settings.heartbeat_ms); break;
    case PROP_HISTORY: g_value_set_uint(value, priv->settings.history_ms); break;
    case PROP_HISTORY_MAX_EVENTS: g_value_set_uint(value, priv->settings.history_max_events); break;
    case PROP_HISTORY_MAX_BYTES: g_value_set_uint64(value, priv->settings.history_max_bytes); break;
    case PROP_CURVE_SERVER_KEY: g_value_set_string(value, priv->settings.curve_server_key.c_str()); break;
    case PROP_CURVE_AUTHORIZED_KEYS: g_value_set_string(value, priv->settings.curve_authorized_keys.c_str()); break;
    case PROP_CURVE_ALLOW: g_value_set_string(value, priv->settings.curve_allow.c_str()); break;
    case PROP_STATS: {
      const auto stats = priv->publisher ? priv->publisher->stats() : priv->final_stats;
      g_value_take_boxed(
          value, gst_structure_new("vigil-publish-stats", "events-published", G_TYPE_UINT64,
                                   static_cast<guint64>(stats.published), "events-sent", G_TYPE_UINT64,
                                   static_cast<guint64>(stats.sent), "events-dropped", G_TYPE_UINT64,
                                   static_cast<guint64>(stats.dropped), "replays-served", G_TYPE_UINT64,
                                   static_cast<guint64>(stats.replays_served), "clients-refused", G_TYPE_UINT64,
                                   static_cast<guint64>(stats.clients_refused), "frames-analysed", G_TYPE_UINT64,
                                   static_cast<guint64>(priv->counters.analysed.load()),
                                   "frames-dropped-upstream", G_TYPE_UINT64,
                                   static_cast<guint64>(priv->counters.dropped_upstream.load()), nullptr));
      break;
    }
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec); break;
  }
}

static gboolean vigil_event_publish_start(GstBaseTransform* transform) {
  EventPublishPrivate* priv = privateOf(transform);
  return vigil::gst::guarded(GST_ELEMENT(transform), "eventpublish start", FALSE, [&]() -> gboolean {
    Settings settings;
    {
      std::lock_guard<std::mutex> lock(priv->settings_mutex);
      settings = priv->settings;
    }
    if (!vigil::events::isValidSourceId(settings.source_id)) {
      GST_ELEMENT_ERROR(transform, RESOURCE, SETTINGS,
                        ("Invalid source-id '%s'", settings.source_id.c_str()),
                        ("a source id is 1-64 characters of letters, digits, '-', '_' and '.'"));
      return FALSE;
    }
    vigil::events::PublisherOptions options;
    options.endpoint = settings.endpoint;
    options.snapshot_endpoint = settings.snapshot_endpoint;
    options.history_duration = std::chrono::milliseconds(settings.history_ms);
    options.history_max_events = settings.history_max_events;
    options.history_max_bytes = settings.history_max_bytes;
    options.curve.secret_key_file = settings.curve_server_key;
    options.curve.authorized_keys_dir = settings.curve_authorized_keys;
    options.curve.allow = splitList(settings.curve_allow);
    if (options.curve.enabled() && options.curve.authorized_keys_dir.empty()) {
      GST_ELEMENT_ERROR(transform, RESOURCE, SETTINGS, ("curve-server-key needs curve-authorized-keys"),
                        ("a CURVE bus lets in only the client keys of that directory"));
      return FALSE;
    }
    std::shared_ptr<vigil::events::Publisher> publisher;
    try {
      publisher = vigil::events::Publisher::acquire(options);
    } catch (const std::exception& error) {
      GST_ELEMENT_ERROR(transform, RESOURCE, OPEN_WRITE, ("Cannot publish events on '%s'", settings.endpoint.c_str()),
                        ("%s", error.what()));
      return FALSE;
    }
    GST_INFO_OBJECT(transform, "publishing on %s as source '%s'", publisher->boundEndpoint().c_str(),
                    settings.source_id.c_str());
    {
      std::lock_guard<std::mutex> lock(priv->settings_mutex);
      priv->publisher = std::move(publisher);
    }
    priv->source_id = settings.source_id;
    priv->has_frame_number = false;
    priv->own_frame_counter = 0;
    setStatus(priv, std::string(vigil::events::state::kStarting), "pipeline starting");
    if (settings.heartbeat_ms > 0) {
      priv->heartbeat_stop = false;
      priv->heartbeat = std::thread(heartbeatLoop, priv, std::chrono::milliseconds(settings.heartbeat_ms));
    }
    return TRUE;
  });
}

static gboolean vigil_event_publish_stop(GstBaseTransform* transform) {
  EventPublishPrivate* priv = privateOf(transform);
  return vigil::gst::guarded(GST_ELEMENT(transform), "eventpublish stop", FALSE, [&]() -> gboolean {
    if (priv->heartbeat.joinable()) {
      {
        std::lock_guard<std::mutex> lock(priv->heartbeat_mutex);
        priv->heartbeat_stop = true;
      }
      priv->heartbeat_wake.notify_all();
      priv->heartbeat.join();
    }
    if (priv->publisher) {
      setStatus(priv, std::string(vigil::events::state::kStopped), "pipeline stopped");
      priv->publisher->flush(kStopFlushTimeout);
    }
    std::lock_guard<std::mutex> lock(priv->settings_mutex);
    if (priv->publisher) priv->final_stats = priv->publisher->stats();
    priv->publisher.reset();
    return TRUE;
  });
}

static gboolean vigil_event_publish_sink_event(GstBaseTransform* transform, GstEvent* event) {
  EventPublishPrivate* priv = privateOf(transform);
  if (GST_EVENT_TYPE(event) == GST_EVENT_EOS) {
    setStatus(priv, std::string(vigil::events::state::kEos), "end of stream");
  } else if (GST_EVENT_TYPE(event) == GST_EVENT_CAPS) {
    GstCaps* caps = nullptr;
    gst_event_parse_caps(event, &caps);
    GstVideoInfo info;
    if (caps && gst_video_info_from_caps(&info, caps)) {
      priv->counters.width = GST_VIDEO_INFO_WIDTH(&info);
      priv->counters.height = GST_VIDEO_INFO_HEIGHT(&info);
    }
  }
  return GST_BASE_TRANSFORM_CLASS(vigil_event_publish_parent_class)->sink_event(transform, event);
}

static GstFlowReturn vigil_event_publish_transform_ip(GstBaseTransform* transform, GstBuffer* buffer) {
  EventPublishPrivate* priv = privateOf(transform);
  return vigil::gst::guarded(GST_ELEMENT(transform), "eventpublish", GST_FLOW_ERROR, [&]() -> GstFlowReturn {
    // The frame number since the source started: the buffer offset when the
    // source sets it (videotestsrc, the vigil runner), else our own count.
    std::uint64_t frame;
    if (GST_BUFFER_OFFSET_IS_VALID(buffer)) {
      frame = GST_BUFFER_OFFSET(buffer);
      const std::uint64_t previous = priv->counters.last_frame.load();
      if (priv->has_frame_number && frame > previous + 1) {
        priv->counters.dropped_upstream += frame - previous - 1;
      }
      priv->has_frame_number = true;
    } else {
      frame = priv->own_frame_counter++;
    }
    priv->counters.last_frame = frame;
    ++priv->counters.analysed;
    if (currentStatus(priv) != vigil::events::state::kPlaying) {
      setStatus(priv, std::string(vigil::events::state::kPlaying), "frames flowing");
    }

    vigil::events::Header header;
    header.source = priv->source_id;
    const std::int64_t captured = vigil::gst::captureTimeNs(buffer);
    header.ts_ns = captured >= 0 ? captured : vigil::events::wallClockNowNs();
    if (GST_BUFFER_PTS_IS_VALID(buffer)) header.pts_ns = static_cast<std::int64_t>(GST_BUFFER_PTS(buffer));
    header.frame = frame;
    header.width = priv->counters.width.load();
    header.height = priv->counters.height.load();

    std::vector<GQuark> summarised;
    for (GstStructure* analysis : vigil::gst::analyses(buffer)) {
      const char* roi_type = gst_structure_get_string(analysis, vigil::gst::kFieldRoiType);
      if (roi_type) summarised.push_back(g_quark_from_string(roi_type));
      gboolean publish = FALSE;
      gst_structure_get_boolean(analysis, vigil::gst::kFieldPublish, &publish);
      if (!publish) continue;
      vigil::events::Body body;
      const int n = gst_structure_n_fields(analysis);
      for (int i = 0; i < n; ++i) {
        const char* name = gst_structure_nth_field_name(analysis, i);
        if (!std::strcmp(name, vigil::gst::kFieldRoiType) || !std::strcmp(name, vigil::gst::kFieldPublish) ||
            !std::strcmp(name, vigil::gst::kFieldKind)) {
          continue;
        }
        if (reservedKey(name)) {
          GST_WARNING_OBJECT(transform, "analysis field '%s' clashes with an event key; not published", name);
          continue;
        }
        packValue(body.key(name), gst_structure_get_value(analysis, name), 0);
      }
      if (roi_type) packObjects(body, buffer, g_quark_from_string(roi_type));
      vigil::events::Header event_header = header;
      event_header.kind = vigil::gst::analysisKind(analysis);
      priv->publisher->publish(std::move(event_header), body);
      ++priv->counters.events;
    }

    // Objects from elements that attach no summary (e.g. stock facedetect):
    // one event per frame that has any, so a plain launch line still reports.
    // Each such roi type with how many objects of it the frame has, in one pass.
    std::vector<std::pair<GQuark, std::int64_t>> bare_types;
    for (GstVideoRegionOfInterestMeta* roi : vigil::gst::regionsOfInterest(buffer)) {
      const GQuark type = roi->roi_type;
      if (std::find(summarised.begin(), summarised.end(), type) != summarised.end()) continue;
      auto seen = std::find_if(bare_types.begin(), bare_types.end(), [&](const auto& e) { return e.first == type; });
      if (seen == bare_types.end()) {
        bare_types.emplace_back(type, 1);
      } else {
        ++seen->second;
      }
    }
    for (const auto& [type, count] : bare_types) {
      vigil::events::Body body;
      body.set(vigil::events::key::detections::kCount, count);
      packObjects(body, buffer, type);
      vigil::events::Header event_header = header;
      event_header.kind = kindForRoiType(g_quark_to_string(type));
      priv->publisher->publish(std::move(event_header), body);
      ++priv->counters.events;
    }
    GST_LOG_OBJECT(transform, "frame %" G_GUINT64_FORMAT " published", frame);
    return GST_FLOW_OK;
  });
}

// Action signal for the application (the vigil runner): lifecycle states the
// element cannot see itself, such as `reconnecting` while no frames flow.
static void vigil_event_publish_publish_status(VigilEventPublish* self, const gchar* state, const gchar* detail) {
  EventPublishPrivate* priv = self->priv;
  if (!state) return;
  setStatus(priv, state, detail ? detail : "");
}

static void vigil_event_publish_init(VigilEventPublish* self) {
  self->priv = new EventPublishPrivate();
  gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), TRUE);
}

static void vigil_event_publish_finalize(GObject* object) {
  delete privateOf(object);
  G_OBJECT_CLASS(vigil_event_publish_parent_class)->finalize(object);
}

static void vigil_event_publish_class_init(VigilEventPublishClass* klass) {
  GObjectClass* object_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass* transform_class = GST_BASE_TRANSFORM_CLASS(klass);
  GST_DEBUG_CATEGORY_INIT(vigil_event_publish_debug, "eventpublish", 0, "Vigil event publisher");

  object_class->set_property = vigil_event_publish_set_property;
  object_class->get_property = vigil_event_publish_get_property;
  object_class->finalize = vigil_event_publish_finalize;

  const auto flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  const auto read_only = static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property(
      object_class, PROP_ENDPOINT,
      g_param_spec_string("endpoint", "Endpoint",
                          "ZeroMQ endpoint the PUB socket binds: tcp://HOST:PORT, tcp://127.0.0.1:* "
                          "(any free port, see bound-endpoint) or ipc://PATH. Elements naming the same "
                          "endpoint in one process share one socket",
                          kDefaultEndpoint, flags));
  g_object_class_install_property(
      object_class, PROP_BOUND_ENDPOINT,
      g_param_spec_string("bound-endpoint", "Bound endpoint",
                          "The endpoint actually bound (resolves a '*' port), once started", nullptr, read_only));
  g_object_class_install_property(
      object_class, PROP_SNAPSHOT_ENDPOINT,
      g_param_spec_string("snapshot-endpoint", "Snapshot endpoint",
                          "Optional ROUTER endpoint serving the newest event per topic to late-joining "
                          "subscribers (empty: disabled)",
                          "", flags));
  g_object_class_install_property(
      object_class, PROP_BOUND_SNAPSHOT_ENDPOINT,
      g_param_spec_string("bound-snapshot-endpoint", "Bound snapshot endpoint",
                          "The snapshot endpoint actually bound, once started", nullptr, read_only));
  g_object_class_install_property(
      object_class, PROP_SOURCE_ID,
      g_param_spec_string("source-id", "Source id",
                          "Source name in topics (vigil/<kind>/<source-id>): letters, digits, '-', '_', '.'",
                          kDefaultSourceId, flags));
  g_object_class_install_property(
      object_class, PROP_HEARTBEAT_INTERVAL,
      g_param_spec_uint("heartbeat-interval", "Heartbeat interval",
                        "Milliseconds between status heartbeats (input fps, analysed fps, frames "
                        "dropped); 0 disables them",
                        0, kMaxHeartbeatMs, kDefaultHeartbeatMs, flags));
  g_object_class_install_property(
      object_class, PROP_HISTORY,
      g_param_spec_uint("history", "Replay history",
                        "Milliseconds of events kept per topic for subscribers that missed them (served on "
                        "the snapshot endpoint; see docs/EVENTS.md). The newest event of a topic is always "
                        "kept. Elements sharing an endpoint share the first one's history settings",
                        0, kMaxHistoryMs, kDefaultHistoryMs, flags));
  g_object_class_install_property(
      object_class, PROP_HISTORY_MAX_EVENTS,
      g_param_spec_uint("history-max-events", "Replay history: events",
                        "At most this many events kept per topic, however recent", 1, G_MAXUINT,
                        kDefaultHistoryMaxEvents, flags));
  g_object_class_install_property(
      object_class, PROP_HISTORY_MAX_BYTES,
      g_param_spec_uint64("history-max-bytes", "Replay history: bytes",
                          "At most this many bytes of events kept per topic, however recent", 1, G_MAXUINT64,
                          kDefaultHistoryMaxBytes, flags));
  g_object_class_install_property(
      object_class, PROP_CURVE_SERVER_KEY,
      g_param_spec_string("curve-server-key", "CURVE server key",
                          "Secret key file (vigil keygen NAME.key): the bus and snapshot sockets become CURVE "
                          "servers and let in only the keys of curve-authorized-keys (empty: no CURVE)",
                          "", flags));
  g_object_class_install_property(
      object_class, PROP_CURVE_AUTHORIZED_KEYS,
      g_param_spec_string("curve-authorized-keys", "CURVE authorized keys",
                          "Directory of the subscribers' public keys (NAME.pub), read when the element starts",
                          "", flags));
  g_object_class_install_property(
      object_class, PROP_CURVE_ALLOW,
      g_param_spec_string("curve-allow", "CURVE address allow list",
                          "Comma-separated addresses or CIDR ranges CURVE clients may connect from (empty: any)",
                          "", flags));
  g_object_class_install_property(
      object_class, PROP_STATS,
      g_param_spec_boxed("stats", "Statistics", "Events published, sent and dropped, replays served; frames analysed and dropped upstream "
                         "(after stop: those of the run that ended)",
                         GST_TYPE_STRUCTURE, read_only));

  signals[SIGNAL_PUBLISH_STATUS] = g_signal_new_class_handler(
      "publish-status", G_TYPE_FROM_CLASS(klass), static_cast<GSignalFlags>(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
      G_CALLBACK(vigil_event_publish_publish_status), nullptr, nullptr, nullptr, G_TYPE_NONE, 2, G_TYPE_STRING,
      G_TYPE_STRING);

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(element_class, "Vigil event publisher", "Filter/Video/Analytics",
                                        "Publishes analysis metadata and source status as Vigil events on ZeroMQ",
                                        "Vigil developers");

  transform_class->start = vigil_event_publish_start;
  transform_class->stop = vigil_event_publish_stop;
  transform_class->sink_event = vigil_event_publish_sink_event;
  transform_class->transform_ip = vigil_event_publish_transform_ip;
  transform_class->transform_ip_on_passthrough = TRUE;
}
