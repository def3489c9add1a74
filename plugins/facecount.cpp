/**
 * SECTION:element-facecount
 * @title: facecount
 *
 * Detects faces on a downscaled copy of each analysed frame (BlazeFace CNN by
 * default, or OpenCV's Haar cascade), tracks them between analysed frames
 * (following each face's appearance on a small grey copy of every frame), and
 * counts them overall and per zone (a face is in a zone when its box centre is
 * inside the zone's polygon). It never changes pixels.
 *
 * Per frame it attaches one GstVideoRegionOfInterestMeta per face (roi_type
 * `face`, params `vigil-object` with `score` and `track_id`) and one analysis
 * summary `faces` with `count` (int) and `zones` (structure: zone name -> int);
 * the summary's `publish` flag carries the emit policy for `eventpublish`.
 *
 * With tiling (`auto` cuts a 16:9 frame into two near-square tiles) the
 * default `tile-scan=rotate` runs the detector on one tile per analysed frame
 * in turn, so the cost is one detector pass per analysed frame; each tile is
 * scanned every `interval` x tiles frames and faces elsewhere are followed.
 * `tile-scan=all` scans every tile on every analysed frame.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=queue.mkv ! decodebin ! videoconvert ! \
 *   facecount interval=3 zones="queue-1=0.05,0.1 0.5,0.1 0.5,0.9 0.05,0.9" ! \
 *   fakesink
 * ]|
 */
#include "facecount.hpp"

#include "vigil/faces/count_smoother.hpp"
#include "vigil/faces/face_detector.hpp"
#include "vigil/faces/face_tracker.hpp"
#include "vigil/faces/zones.hpp"
#include "vigil/gst/frame.hpp"
#include "vigil/gst/guard.hpp"
#include "vigil/gst/meta.hpp"
#include "vigil/gst/ptr.hpp"

#include <gst/video/video.h>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

GST_DEBUG_CATEGORY_STATIC(vigil_face_count_debug);
#define GST_CAT_DEFAULT vigil_face_count_debug

namespace {

enum class Emit { EveryFrame, OnChange };
enum class TileScan { All, Rotate };
enum TilingValue { kTilingOff = 0, kTilingAuto = 1, kTiling2x1 = 2, kTiling2x2 = 3, kTiling3x2 = 4 };

constexpr const char* kAnalysisKind = "faces";
constexpr const char* kFieldCount = "count";
constexpr const char* kFieldZones = "zones";
constexpr const char* kZonesStructure = "zones";

constexpr vigil::faces::Backend kDefaultBackend = vigil::faces::Backend::BlazeFace;
constexpr double kDefaultScoreThreshold = 0.5;
constexpr guint kDefaultInterval = 3;
constexpr guint kMaxInterval = 1000;
constexpr guint kDefaultMinFaceSize = 0;
constexpr guint kMaxMinFaceSize = 4096;
constexpr TilingValue kDefaultTiling = kTilingAuto;
constexpr TileScan kDefaultTileScan = TileScan::Rotate;
constexpr Emit kDefaultEmit = Emit::OnChange;
constexpr guint kDefaultHeartbeatMs = 5000;
// Upper median of two: a new face counts at once, a face must be missing on
// two analysed frames in a row before the count drops (measured on the bench
// clip: count error 0.16 at 2, 0.32 at 3, whose extra lag costs more than the
// flicker it saves).
constexpr guint kDefaultSmoothing = 2;
constexpr guint kMaxSmoothing = 100;

// BlazeFace sees 256x256 per tile, so the analysed copy only needs each tile
// to be about that size; the Haar cascade wants more pixels (its smallest
// window is 24 px).
constexpr int kBlazeFaceTileSide = 256;
constexpr double kTileShare = 0.8;  // a tile's share of the frame not shared with its neighbour
constexpr int kHaarAnalysisSide = 640;
// Tracks survive this many analysed frames unmatched: one missed detection
// keeps its id, a face that left is forgotten quickly.
constexpr int kTrackMaxMisses = 3;
constexpr float kTrackMinIou = 0.2f;
// Between detections faces are followed on a grey copy at this share of the
// frame size (1280x720 -> 320x180: ~0.2 ms per frame for the copy; faces of
// 48 px become 12 px templates, enough to hold a walking face).
constexpr double kFollowScale = 0.25;

vigil::faces::FaceTrackerOptions trackerOptions() {
  vigil::faces::FaceTrackerOptions options;
  options.min_iou = kTrackMinIou;
  options.max_misses = kTrackMaxMisses;
  return options;
}

// `auto` cuts a wide frame into near-square tiles: the model's input is
// square, so a 16:9 frame in one pass wastes 44 % of it on padding, and two
// tiles see faces 1.8x larger (48 px faces in 720p go from ~10 px to ~17 px
// at the model, where BlazeFace stops missing them).
vigil::faces::TileGrid tileGrid(TilingValue tiling, int width, int height) {
  switch (tiling) {
    case kTilingAuto: {
      const double aspect = static_cast<double>(std::max(width, height)) / std::max(1, std::min(width, height));
      const int across = std::max(1, static_cast<int>(std::lround(aspect)));
      return width >= height ? vigil::faces::TileGrid{across, 1} : vigil::faces::TileGrid{1, across};
    }
    case kTiling2x1: return {2, 1};
    case kTiling2x2: return {2, 2};
    case kTiling3x2: return {3, 2};
    case kTilingOff: break;
  }
  return {1, 1};
}

struct Settings {
  vigil::faces::Backend backend = kDefaultBackend;
  std::string model_location;  // empty: the backend's default model
  double score_threshold = kDefaultScoreThreshold;
  guint interval = kDefaultInterval;
  guint min_face_size = kDefaultMinFaceSize;
  TilingValue tiling = kDefaultTiling;
  TileScan tile_scan = kDefaultTileScan;
  std::string zones_text;
  // Parsed zones, shared so that the per-frame copy of Settings is cheap.
  std::shared_ptr<const std::vector<vigil::faces::Zone>> zones =
      std::make_shared<std::vector<vigil::faces::Zone>>();
  std::string zones_error;  // why zones_text was rejected; start() refuses it
  Emit emit = kDefaultEmit;
  guint heartbeat_ms = kDefaultHeartbeatMs;
  guint smoothing = kDefaultSmoothing;
};

// Stream state: created in start(), touched only by the streaming thread,
// dropped in stop().
struct Running {
  std::unique_ptr<vigil::faces::FaceDetector> detector;
  vigil::faces::FaceTracker tracker{trackerOptions()};
  std::int64_t frame = 0;
  std::optional<std::int64_t> last_detection_frame;
  std::uint64_t scans = 0;  // analysed frames so far: picks the tile in rotation
  std::vector<vigil::faces::FaceTrack> visible;  // tracks standing at the last detection
  const std::vector<vigil::faces::Zone>* zones = nullptr;  // what the smoothers below count
  std::shared_ptr<const std::vector<vigil::faces::Zone>> zones_holder;
  guint smoothing = 0;
  vigil::faces::CountSmoother total;
  std::vector<vigil::faces::CountSmoother> per_zone;
  int count = 0;
  std::vector<int> zone_counts;
  // Emit policy: what was last published, and when (stream or wall time, ns).
  bool published_once = false;
  int published_count = 0;
  std::vector<int> published_zone_counts;
  GstClockTime published_at = GST_CLOCK_TIME_NONE;
};

struct Private {
  std::mutex settings_mutex;
  Settings settings;
  std::unique_ptr<Running> running;
};

}  // namespace

struct _VigilFaceCount {
  GstVideoFilter parent;
  Private* priv;
};

G_DEFINE_TYPE(VigilFaceCount, vigil_face_count, GST_TYPE_VIDEO_FILTER)
GST_ELEMENT_REGISTER_DEFINE(facecount, "facecount", GST_RANK_NONE, VIGIL_TYPE_FACE_COUNT)

enum {
  PROP_0,
  PROP_BACKEND,
  PROP_MODEL_LOCATION,
  PROP_SCORE_THRESHOLD,
  PROP_INTERVAL,
  PROP_MIN_FACE_SIZE,
  PROP_TILING,
  PROP_TILE_SCAN,
  PROP_ZONES,
  PROP_EMIT,
  PROP_HEARTBEAT_INTERVAL,
  PROP_SMOOTHING,
};

GType vigil_face_backend_get_type(void) {
  static GType type = 0;
  if (g_once_init_enter(&type)) {
    static const GEnumValue values[] = {
        {static_cast<gint>(vigil::faces::Backend::BlazeFace),
         "BlazeFace CNN (ONNX, installed by scripts/models/blazeface.sh)", "blazeface"},
        {static_cast<gint>(vigil::faces::Backend::Haar),
         "OpenCV Haar frontal-face cascade (Debian opencv-data)", "haar"},
        {0, nullptr, nullptr}};
    g_once_init_leave(&type, g_enum_register_static("VigilFaceBackend", values));
  }
  return type;
}

GType vigil_face_tiling_get_type(void) {
  static GType type = 0;
  if (g_once_init_enter(&type)) {
    static const GEnumValue values[] = {
        {kTilingOff, "Whole frame in one pass", "off"},
        {kTilingAuto, "Near-square tiles: 2x1 for 16:9, none for 4:3 (one pass per tile)", "auto"},
        {kTiling2x1, "2x1 overlapping tiles", "2x1"},
        {kTiling2x2, "2x2 overlapping tiles (smaller faces, 4x the cost)", "2x2"},
        {kTiling3x2, "3x2 overlapping tiles (wide frames, 6x the cost)", "3x2"},
        {0, nullptr, nullptr}};
    g_once_init_leave(&type, g_enum_register_static("VigilFaceTiling", values));
  }
  return type;
}

GType vigil_face_tile_scan_get_type(void) {
  static GType type = 0;
  if (g_once_init_enter(&type)) {
    static const GEnumValue values[] = {
        {static_cast<gint>(TileScan::All), "Every tile on every analysed frame (one pass per tile)", "all"},
        {static_cast<gint>(TileScan::Rotate),
         "One tile per analysed frame in turn, tracked faces carried in the others (one pass per frame)",
         "rotate"},
        {0, nullptr, nullptr}};
    g_once_init_leave(&type, g_enum_register_static("VigilFaceTileScan", values));
  }
  return type;
}

GType vigil_face_emit_get_type(void) {
  static GType type = 0;
  if (g_once_init_enter(&type)) {
    static const GEnumValue values[] = {
        {static_cast<gint>(Emit::EveryFrame), "Publish every analysed frame", "every-frame"},
        {static_cast<gint>(Emit::OnChange),
         "Publish when a count changes, and at the heartbeat interval", "on-change"},
        {0, nullptr, nullptr}};
    g_once_init_leave(&type, g_enum_register_static("VigilFaceEmit", values));
  }
  return type;
}

namespace {

Private* privateOf(gpointer self) { return VIGIL_FACE_COUNT(self)->priv; }

int analysisSide(const Settings& settings, const vigil::faces::TileGrid& grid) {
  if (settings.backend == vigil::faces::Backend::Haar) return kHaarAnalysisSide;
  const int tiles_across = std::max(grid.cols, grid.rows);
  // Overlapping tiles: n tiles span (1 + (n-1) * kTileShare) tile widths.
  return static_cast<int>(std::ceil(kBlazeFaceTileSide * (1.0 + (tiles_across - 1) * kTileShare)));
}

void resetSmoothing(Running& running, const Settings& settings) {
  running.zones_holder = settings.zones;
  running.zones = settings.zones.get();
  running.smoothing = settings.smoothing;
  running.total = vigil::faces::CountSmoother(settings.smoothing);
  running.per_zone.assign(running.zones->size(), vigil::faces::CountSmoother(settings.smoothing));
  running.zone_counts.assign(running.zones->size(), 0);
  running.published_once = false;
}

// Detects, tracks and updates the smoothed counts on an analysed frame.
void analyse(GstVideoFrame* frame, Running& running, const Settings& settings) {
  const vigil::faces::TileGrid grid =
      tileGrid(settings.tiling, GST_VIDEO_FRAME_WIDTH(frame), GST_VIDEO_FRAME_HEIGHT(frame));
  const int side = analysisSide(settings, grid);
  const cv::Mat bgr = vigil::gst::downscaledBgr(frame, side);
  const double to_frame = static_cast<double>(GST_VIDEO_FRAME_WIDTH(frame)) / bgr.cols;
  vigil::faces::FaceDetector& detector = *running.detector;
  detector.setScoreThreshold(static_cast<float>(settings.score_threshold));
  detector.setMinFaceSize(static_cast<int>(std::lround(settings.min_face_size / to_frame)));
  detector.setTiles(grid);

  // In rotation, one tile per analysed frame: the tracker carries faces in
  // the other tiles, which keep their standing until their tile's next scan.
  // The first analysed frame scans every tile, so the count is whole at once.
  const bool rotate = settings.tile_scan == TileScan::Rotate && grid.cols * grid.rows > 1 && running.scans > 0;
  std::vector<vigil::faces::Face> faces;
  const float width = static_cast<float>(GST_VIDEO_FRAME_WIDTH(frame));
  const float height = static_cast<float>(GST_VIDEO_FRAME_HEIGHT(frame));
  const cv::Rect2f frame_box(0.f, 0.f, width, height);
  cv::Rect2f scanned = frame_box;
  const auto scale = static_cast<float>(to_frame);
  if (rotate) {
    const std::vector<vigil::faces::Tile> tiles = detector.tiles(bgr.size());
    const std::size_t index = static_cast<std::size_t>(running.scans % tiles.size());
    faces = detector.detectInTile(bgr, index);
    const cv::Rect& owned = tiles[index].owned;
    scanned = cv::Rect2f(owned.x * scale, owned.y * scale, owned.width * scale, owned.height * scale);
  } else {
    faces = detector.detect(bgr);
  }
  ++running.scans;
  std::vector<vigil::faces::FaceDetection> detections;
  for (const vigil::faces::Face& face : faces) {
    detections.push_back({cv::Rect2f(face.box.x * scale, face.box.y * scale,
                                     face.box.width * scale, face.box.height * scale),
                          face.score});
  }
  running.tracker.update(detections, running.frame, scanned, frame_box);
  running.visible.clear();
  for (const auto& track : running.tracker.predict(running.frame)) {
    if (track.misses == 0) running.visible.push_back(track);
  }
  running.last_detection_frame = running.frame;
  GST_LOG("frame %" G_GINT64_FORMAT ": %zu faces at %dx%d%s", running.frame, detections.size(),
          bgr.cols, bgr.rows, rotate ? " (one tile)" : "");

  std::vector<int> raw_zone_counts(running.zones->size(), 0);
  for (const auto& track : running.visible) {
    const cv::Point2f centre((track.box.x + track.box.width / 2) / width,
                             (track.box.y + track.box.height / 2) / height);
    for (std::size_t z = 0; z < running.zones->size(); ++z) {
      if ((*running.zones)[z].contains(centre)) ++raw_zone_counts[z];
    }
  }
  running.count = running.total.push(static_cast<int>(running.visible.size()));
  for (std::size_t z = 0; z < raw_zone_counts.size(); ++z) {
    running.zone_counts[z] = running.per_zone[z].push(raw_zone_counts[z]);
  }
}

// The emit policy for an analysed frame.
bool shouldPublish(Running& running, const Settings& settings, GstClockTime now) {
  if (settings.emit == Emit::EveryFrame) return true;
  const bool changed = !running.published_once || running.count != running.published_count ||
                       running.zone_counts != running.published_zone_counts;
  const bool heartbeat_due =
      settings.heartbeat_ms > 0 && GST_CLOCK_TIME_IS_VALID(now) &&
      GST_CLOCK_TIME_IS_VALID(running.published_at) &&
      (now < running.published_at ||  // stream time went back (seek): restart the beat
       now - running.published_at >= settings.heartbeat_ms * GST_MSECOND);
  return changed || heartbeat_due;
}

GstFlowReturn processFrame(VigilFaceCount* self, GstBuffer* buffer) {
  Private* priv = self->priv;
  Settings settings;
  {
    std::lock_guard<std::mutex> lock(priv->settings_mutex);
    settings = priv->settings;
  }
  Running* running = priv->running.get();
  GstVideoFilter* filter = GST_VIDEO_FILTER(self);
  if (!running || !running->detector || !filter->negotiated) return GST_FLOW_NOT_NEGOTIATED;

  if (running->zones != settings.zones.get() || running->smoothing != settings.smoothing) {
    resetSmoothing(*running, settings);
  }
  // An analyser only reads pixels: a READ map never copies shared memory.
  GstVideoFrame frame;
  if (!gst_video_frame_map(&frame, &filter->in_info, buffer, GST_MAP_READ)) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("cannot map the video frame for reading"), (nullptr));
    return GST_FLOW_ERROR;
  }
  // The grey frame the tracker follows faces on between detections.
  cv::Mat grey;
  cv::resize(vigil::gst::lumaView(&frame), grey, cv::Size(), kFollowScale, kFollowScale, cv::INTER_AREA);
  const bool due = !running->last_detection_frame ||
                   running->frame - *running->last_detection_frame >=
                       static_cast<std::int64_t>(std::max(1u, settings.interval));
  try {
    if (due) analyse(&frame, *running, settings);
    running->tracker.follow(grey, static_cast<float>(kFollowScale), running->frame);
  } catch (...) {
    gst_video_frame_unmap(&frame);
    throw;
  }
  gst_video_frame_unmap(&frame);

  // Between detections, tracked boxes move on with their last velocity.
  std::vector<vigil::faces::FaceTrack> boxes = running->visible;
  {
    const auto predicted = running->tracker.predict(running->frame);
    for (auto& track : boxes) {
      const auto moved = std::find_if(predicted.begin(), predicted.end(),
                                      [&](const auto& p) { return p.id == track.id; });
      if (moved != predicted.end()) track.box = moved->box;
    }
  }
  const cv::Rect2f frame_box(0.f, 0.f, static_cast<float>(GST_VIDEO_INFO_WIDTH(&filter->in_info)),
                             static_cast<float>(GST_VIDEO_INFO_HEIGHT(&filter->in_info)));
  for (const auto& track : boxes) {
    const cv::Rect box = cv::Rect(track.box & frame_box);
    if (box.empty()) continue;
    vigil::gst::addObject(buffer, vigil::gst::kRoiFace, box.x, box.y, box.width, box.height,
                          track.score, track.id);
  }

  GstClockTime now = GST_BUFFER_PTS(buffer);
  if (!GST_CLOCK_TIME_IS_VALID(now)) now = static_cast<GstClockTime>(g_get_monotonic_time()) * GST_USECOND;
  const bool publish = due && shouldPublish(*running, settings, now);
  if (publish) {
    running->published_once = true;
    running->published_count = running->count;
    running->published_zone_counts = running->zone_counts;
    running->published_at = now;
  }
  GstStructure* summary =
      vigil::gst::addAnalysis(buffer, kAnalysisKind, vigil::gst::kRoiFace, publish);
  vigil::gst::StructurePtr zones(gst_structure_new_empty(kZonesStructure));
  for (std::size_t z = 0; z < running->zones->size(); ++z) {
    gst_structure_set(zones.get(), (*running->zones)[z].name.c_str(), G_TYPE_INT,
                      running->zone_counts[z], nullptr);
  }
  gst_structure_set(summary, kFieldCount, G_TYPE_INT, running->count, kFieldZones,
                    GST_TYPE_STRUCTURE, zones.get(), nullptr);
  ++running->frame;
  return GST_FLOW_OK;
}

}  // namespace

static GstFlowReturn vigil_face_count_transform_ip(GstBaseTransform* transform, GstBuffer* buffer) {
  return vigil::gst::guarded(GST_ELEMENT(transform), "facecount", GST_FLOW_ERROR,
                             [&] { return processFrame(VIGIL_FACE_COUNT(transform), buffer); });
}

static gboolean vigil_face_count_start(GstBaseTransform* transform) {
  return vigil::gst::guarded(GST_ELEMENT(transform), "facecount start", FALSE, [&]() -> gboolean {
    Private* priv = privateOf(transform);
    Settings settings;
    {
      std::lock_guard<std::mutex> lock(priv->settings_mutex);
      settings = priv->settings;
    }
    if (!settings.zones_error.empty()) {
      GST_ELEMENT_ERROR(transform, RESOURCE, SETTINGS, ("invalid zones: %s", settings.zones_error.c_str()),
                        ("zones=\"%s\"", settings.zones_text.c_str()));
      return FALSE;
    }
    auto running = std::make_unique<Running>();
    vigil::faces::DetectorOptions options;
    options.backend = settings.backend;
    options.model_path = settings.model_location;
    options.score_threshold = static_cast<float>(settings.score_threshold);
    try {
      running->detector = vigil::faces::makeFaceDetector(options);
    } catch (const vigil::faces::ModelError& error) {
      GST_ELEMENT_ERROR(transform, RESOURCE, OPEN_READ,
                        ("cannot load the %s face model: %s", vigil::faces::backendName(settings.backend),
                         error.what()),
                        ("set model-location, or run scripts/models/blazeface.sh"));
      return FALSE;
    }
    GST_INFO_OBJECT(transform, "loaded %s face detector from %s",
                    vigil::faces::backendName(settings.backend), running->detector->modelPath().c_str());
    resetSmoothing(*running, settings);
    priv->running = std::move(running);
    return TRUE;
  });
}

static gboolean vigil_face_count_stop(GstBaseTransform* transform) {
  return vigil::gst::guarded(GST_ELEMENT(transform), "facecount stop", FALSE, [&]() -> gboolean {
    privateOf(transform)->running.reset();
    return TRUE;
  });
}

static void vigil_face_count_set_property(GObject* object, guint id, const GValue* value, GParamSpec* spec) {
  Private* priv = privateOf(object);
  std::optional<std::string> rejected_zones;
  {
    std::lock_guard<std::mutex> lock(priv->settings_mutex);
    Settings& settings = priv->settings;
    switch (id) {
      case PROP_BACKEND:
        settings.backend = static_cast<vigil::faces::Backend>(g_value_get_enum(value));
        break;
      case PROP_MODEL_LOCATION: {
        const gchar* location = g_value_get_string(value);
        settings.model_location = location ? location : "";
        break;
      }
      case PROP_SCORE_THRESHOLD: settings.score_threshold = g_value_get_double(value); break;
      case PROP_INTERVAL: settings.interval = g_value_get_uint(value); break;
      case PROP_MIN_FACE_SIZE: settings.min_face_size = g_value_get_uint(value); break;
      case PROP_TILING: settings.tiling = static_cast<TilingValue>(g_value_get_enum(value)); break;
      case PROP_TILE_SCAN: settings.tile_scan = static_cast<TileScan>(g_value_get_enum(value)); break;
      case PROP_ZONES: {
        const gchar* text = g_value_get_string(value);
        settings.zones_text = text ? text : "";
        try {
          settings.zones = std::make_shared<std::vector<vigil::faces::Zone>>(
              vigil::faces::parseZones(settings.zones_text));
          settings.zones_error.clear();
        } catch (const std::invalid_argument& error) {
          // Kept for start() to refuse; while running the previous zones stay.
          settings.zones_error = error.what();
          rejected_zones = settings.zones_error;
        }
        break;
      }
      case PROP_EMIT: settings.emit = static_cast<Emit>(g_value_get_enum(value)); break;
      case PROP_HEARTBEAT_INTERVAL: settings.heartbeat_ms = g_value_get_uint(value); break;
      case PROP_SMOOTHING: settings.smoothing = g_value_get_uint(value); break;
      default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, spec); break;
    }
  }
  if (rejected_zones) {
    GST_ELEMENT_WARNING(object, RESOURCE, SETTINGS, ("invalid zones: %s", rejected_zones->c_str()),
                        ("the previous zones stay in use while running"));
  }
}

static void vigil_face_count_get_property(GObject* object, guint id, GValue* value, GParamSpec* spec) {
  Private* priv = privateOf(object);
  std::lock_guard<std::mutex> lock(priv->settings_mutex);
  const Settings& settings = priv->settings;
  switch (id) {
    case PROP_BACKEND: g_value_set_enum(value, static_cast<gint>(settings.backend)); break;
    case PROP_MODEL_LOCATION:
      g_value_set_string(value, settings.model_location.empty() ? nullptr : settings.model_location.c_str());
      break;
    case PROP_SCORE_THRESHOLD: g_value_set_double(value, settings.score_threshold); break;
    case PROP_INTERVAL: g_value_set_uint(value, settings.interval); break;
    case PROP_MIN_FACE_SIZE: g_value_set_uint(value, settings.min_face_size); break;
    case PROP_TILING: g_value_set_enum(value, settings.tiling); break;
    case PROP_TILE_SCAN: g_value_set_enum(value, static_cast<gint>(settings.tile_scan)); break;
    case PROP_ZONES: g_value_set_string(value, settings.zones_text.c_str()); break;
    case PROP_EMIT: g_value_set_enum(value, static_cast<gint>(settings.emit)); break;
    case PROP_HEARTBEAT_INTERVAL: g_value_set_uint(value, settings.heartbeat_ms); break;
    case PROP_SMOOTHING: g_value_set_uint(value, settings.smoothing); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, spec); break;
  }
}

static void vigil_face_count_init(VigilFaceCount* self) {
  self->priv = new Private();
  // In place, never passthrough: base transform hands us a writable buffer
  // (metadata needs one) and transform_ip maps it READ only, so the pixels
  // are never copied.
  gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
}

static void vigil_face_count_finalize(GObject* object) {
  delete VIGIL_FACE_COUNT(object)->priv;
  G_OBJECT_CLASS(vigil_face_count_parent_class)->finalize(object);
}

static void vigil_face_count_class_init(VigilFaceCountClass* klass) {
  GObjectClass* object_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass* transform_class = GST_BASE_TRANSFORM_CLASS(klass);

  GST_DEBUG_CATEGORY_INIT(vigil_face_count_debug, "facecount", 0, "Vigil face counter");

  object_class->set_property = vigil_face_count_set_property;
  object_class->get_property = vigil_face_count_get_property;
  object_class->finalize = vigil_face_count_finalize;

  const auto ready = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                              GST_PARAM_MUTABLE_READY);
  const auto playing = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                                GST_PARAM_MUTABLE_PLAYING);
  g_object_class_install_property(
      object_class, PROP_BACKEND,
      g_param_spec_enum("backend", "Backend", "Face detector: the BlazeFace CNN or the Haar cascade fallback",
                        VIGIL_TYPE_FACE_BACKEND, static_cast<gint>(kDefaultBackend), ready));
  g_object_class_install_property(
      object_class, PROP_MODEL_LOCATION,
      g_param_spec_string("model-location", "Model location",
                          "Model file for the backend (ONNX for blazeface, cascade XML for haar); "
                          "unset: the installed default ($VIGIL_MODEL_DIR/blazeface-back-256.onnx, "
                          "opencv-data's haarcascade_frontalface_alt2.xml)",
                          nullptr, ready));
  g_object_class_install_property(
      object_class, PROP_SCORE_THRESHOLD,
      g_param_spec_double("score-threshold", "Score threshold",
                          "Least detector confidence for a face (blazeface only)", 0.0, 1.0,
                          kDefaultScoreThreshold, playing));
  g_object_class_install_property(
      object_class, PROP_INTERVAL,
      g_param_spec_uint("interval", "Interval",
                        "Detect on every N-th frame; tracked boxes are carried in between", 1,
                        kMaxInterval, kDefaultInterval, playing));
  g_object_class_install_property(
      object_class, PROP_MIN_FACE_SIZE,
      g_param_spec_uint("min-face-size", "Minimum face size",
                        "Ignore faces smaller than this many frame pixels (0: no limit)", 0,
                        kMaxMinFaceSize, kDefaultMinFaceSize, playing));
  g_object_class_install_property(
      object_class, PROP_TILING,
      g_param_spec_enum("tiling", "Tiling",
                        "Split the frame into overlapping tiles so small faces in wide frames "
                        "are found (one detector pass per tile; auto: near-square tiles)",
                        VIGIL_TYPE_FACE_TILING, kDefaultTiling, playing));
  g_object_class_install_property(
      object_class, PROP_TILE_SCAN,
      g_param_spec_enum("tile-scan", "Tile scan",
                        "With tiling: scan every tile on each analysed frame, or one tile per analysed "
                        "frame in turn (each tile is then scanned every interval x tiles frames, and "
                        "tracked faces are carried in the others)",
                        VIGIL_TYPE_FACE_TILE_SCAN, static_cast<gint>(kDefaultTileScan), playing));
  g_object_class_install_property(
      object_class, PROP_ZONES,
      g_param_spec_string("zones", "Zones",
                          "Named polygons in normalised coordinates, counted separately: "
                          "\"name=x,y x,y x,y ...;name2=...\"; a face is in a zone when its box "
                          "centre is inside",
                          "", playing));
  g_object_class_install_property(
      object_class, PROP_EMIT,
      g_param_spec_enum("emit", "Emit", "When a frame's count is marked for publishing",
                        VIGIL_TYPE_FACE_EMIT, static_cast<gint>(kDefaultEmit), playing));
  g_object_class_install_property(
      object_class, PROP_HEARTBEAT_INTERVAL,
      g_param_spec_uint("heartbeat-interval", "Heartbeat interval",
                        "With emit=on-change, publish an unchanged count after this many "
                        "milliseconds of stream time (0: never)",
                        0, G_MAXUINT, kDefaultHeartbeatMs, playing));
  g_object_class_install_property(
      object_class, PROP_SMOOTHING,
      g_param_spec_uint("smoothing", "Smoothing",
                        "Counts are the median of the last N analysed frames, the upper one for even N "
                        "(2: a new face counts at once, a drop needs two analysed frames; 1: no smoothing)", 1,
                        kMaxSmoothing, kDefaultSmoothing, playing));

  gst_element_class_set_static_metadata(
      element_class, "Face counter", "Filter/Analyzer/Video",
      "Counts faces overall and per zone; attaches face regions and a count summary",
      "Vigil <https://github.com/vigil>");
  vigil::gst::CapsPtr caps(gst_caps_from_string(GST_VIDEO_CAPS_MAKE(VIGIL_ANALYSIS_FORMATS)));
  gst_element_class_add_pad_template(element_class,
                                     gst_pad_template_new("sink", GST_PAD_SINK, GST_PAD_ALWAYS, caps.get()));
  gst_element_class_add_pad_template(element_class,
                                     gst_pad_template_new("src", GST_PAD_SRC, GST_PAD_ALWAYS, caps.get()));

  transform_class->start = GST_DEBUG_FUNCPTR(vigil_face_count_start);
  transform_class->stop = GST_DEBUG_FUNCPTR(vigil_face_count_stop);
  // Replaces GstVideoFilter's transform_ip, which maps READ|WRITE whenever
  // the element is not in passthrough.
  transform_class->transform_ip = GST_DEBUG_FUNCPTR(vigil_face_count_transform_ip);
  transform_class->transform_ip_on_passthrough = FALSE;

  gst_type_mark_as_plugin_api(VIGIL_TYPE_FACE_BACKEND, static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(VIGIL_TYPE_FACE_TILING, static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(VIGIL_TYPE_FACE_TILE_SCAN, static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(VIGIL_TYPE_FACE_EMIT, static_cast<GstPluginAPIFlags>(0));
}
