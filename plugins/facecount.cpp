/**
 * SECTION:element-facecount
 * @title: facecount
 *
 * Counts faces overall and per zone (a face is in a zone when its box centre
 * is inside the zone's polygon) on every frame. It never changes pixels.
 *
 * Faces are detected on a downscaled copy of the frame (BlazeFace CNN by
 * default, or OpenCV's Haar cascade) and followed between detections by their
 * appearance on a quarter-size grey copy. A detector pass is the expensive
 * step, so it runs where it is needed: at once on a tile where something
 * moved that no tracked face accounts for (a person walking in) or where a
 * tracked face was lost (`motion-scan`), and on one tile every `interval`
 * frames regardless, which corrects drift and notices faces that appeared
 * without moving. The first frame scans every tile.
 *
 * Per frame it attaches one GstVideoRegionOfInterestMeta per face (roi_type
 * `face`, params `vigil-object` with `score` and `track_id`) and one analysis
 * summary `faces` with `count` (int) and `zones` (structure: zone name -> int);
 * the summary's `publish` flag carries the emit policy for `eventpublish`.
 *
 * Tiling (`auto` cuts a 16:9 frame into two near-square tiles) lets small
 * faces reach the model at a usable size. The default `tile-scan=rotate`
 * scans one tile per pass, the one scanned longest ago; `tile-scan=all` makes
 * periodic scans cover every tile.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=queue.mkv ! decodebin ! videoconvert ! \
 *   facecount zones="queue-1=0.05,0.1 0.5,0.1 0.5,0.9 0.05,0.9" ! \
 *   fakesink
 * ]|
 */
#include "facecount.hpp"

#include "vigil/analytics/registry.hpp"
#include "vigil/events/keys.hpp"
#include "vigil/faces/face_counter.hpp"
#include "vigil/faces/face_detector.hpp"
#include "vigil/faces/zones.hpp"
#include "vigil/gst/frame.hpp"
#include "vigil/gst/meta.hpp"
#include "vigil/gst/ptr.hpp"

#include <gst/video/video.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

GST_DEBUG_CATEGORY_STATIC(vigil_face_count_debug);
#define GST_CAT_DEFAULT vigil_face_count_debug

namespace {

// This element's row in the analytics table: its factory name, event kind and ROI type.
using vigil::analytics::kFaces;

namespace faces = vigil::faces;

constexpr const char* kZonesStructure = "zones";
constexpr guint kMaxMinFaceSize = 4096;
constexpr guint kMaxSmoothing = 100;

// What the user sets: the counter's per-frame settings (their defaults are
// vigil::faces::CounterSettings' initialisers), the model, and the zones'
// text. `interval` is the base's, given to the counter on each frame.
struct Settings : faces::CounterSettings {
  faces::Backend backend = faces::Backend::BlazeFace;
  std::string model_location;  // empty: the backend's default model
  std::string zones_text;
};

void parseZoneText(Settings& settings) {
  settings.zones = std::make_shared<std::vector<faces::Zone>>(faces::parseZones(settings.zones_text));
}

// Read by the `stats` property from any thread; written by the streaming thread.
struct Counters {
  std::atomic<std::uint64_t> frames{0};
  std::atomic<std::uint64_t> scans{0};         // detector passes, one tile each
  std::atomic<std::uint64_t> motion_scans{0};  // of which for motion or a lost face
};

struct Private {
  vigil::gst::SharedSettings<Settings> settings;
  std::unique_ptr<faces::FaceCounter> counter;  // stream state: from start() to stop()
  Counters counters;
};

}  // namespace

struct _VigilFaceCount {
  VigilAnalyser parent;
  Private* priv;
};

G_DEFINE_TYPE(VigilFaceCount, vigil_face_count, VIGIL_TYPE_ANALYSER)
GST_ELEMENT_REGISTER_DEFINE(facecount, kFaces.element, GST_RANK_NONE, VIGIL_TYPE_FACE_COUNT)

GType vigil_face_backend_get_type(void) {
  static GType type = 0;
  if (g_once_init_enter(&type)) {
    static const GEnumValue values[] = {
        {static_cast<gint>(faces::Backend::BlazeFace),
         "BlazeFace CNN (ONNX, installed by scripts/models/blazeface.sh)", "blazeface"},
        {static_cast<gint>(faces::Backend::Haar), "OpenCV Haar frontal-face cascade (Debian opencv-data)", "haar"},
        {0, nullptr, nullptr}};
    g_once_init_leave(&type, g_enum_register_static("VigilFaceBackend", values));
  }
  return type;
}

GType vigil_face_tiling_get_type(void) {
  static GType type = 0;
  if (g_once_init_enter(&type)) {
    static const GEnumValue values[] = {
        {static_cast<gint>(faces::Tiling::Off), "Whole frame in one pass", "off"},
        {static_cast<gint>(faces::Tiling::Auto), "Near-square tiles: 2x1 for 16:9, none for 4:3 (one pass per tile)",
         "auto"},
        {static_cast<gint>(faces::Tiling::Grid2x1), "2x1 overlapping tiles", "2x1"},
        {static_cast<gint>(faces::Tiling::Grid2x2), "2x2 overlapping tiles (smaller faces, 4x the cost)", "2x2"},
        {static_cast<gint>(faces::Tiling::Grid3x2), "3x2 overlapping tiles (wide frames, 6x the cost)", "3x2"},
        {0, nullptr, nullptr}};
    g_once_init_leave(&type, g_enum_register_static("VigilFaceTiling", values));
  }
  return type;
}

GType vigil_face_tile_scan_get_type(void) {
  static GType type = 0;
  if (g_once_init_enter(&type)) {
    static const GEnumValue values[] = {
        {static_cast<gint>(faces::TileScan::All), "Periodic scans cover every tile (one pass per tile)", "all"},
        {static_cast<gint>(faces::TileScan::Rotate),
         "Each scan covers one tile, the one scanned longest ago; tracked faces are carried in the others",
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
        {static_cast<gint>(faces::Emit::EveryFrame), "Publish every frame's count", "every-frame"},
        {static_cast<gint>(faces::Emit::OnChange), "Publish when a count changes, and at the heartbeat interval",
         "on-change"},
        {0, nullptr, nullptr}};
    g_once_init_leave(&type, g_enum_register_static("VigilFaceEmit", values));
  }
  return type;
}

namespace {

Private* privateOf(gpointer self) { return VIGIL_FACE_COUNT(self)->priv; }

// Every frame: the counter follows faces on each and decides itself when a
// detector pass is due (every `interval` frames, sooner on motion).
void countFrame(VigilAnalyser* base, GstBuffer* buffer, const GstVideoFrame* frame) {
  Private* priv = privateOf(base);
  Settings settings = priv->settings.copy();
  settings.interval = vigil_analyser_interval(base);
  if (!priv->counter) throw std::logic_error("a frame arrived before start()");

  GstClockTime now = GST_BUFFER_PTS(buffer);
  if (!GST_CLOCK_TIME_IS_VALID(now)) now = static_cast<GstClockTime>(g_get_monotonic_time()) * GST_USECOND;
  // Colour is converted only for the tiles the counter scans, straight from the mapped planes.
  const faces::RegionReader colour = [frame](const cv::Rect& region, int max_side, cv::Rect* used) {
    return vigil::gst::regionBgr(frame, region, max_side, used);
  };
  const faces::CountedFrame counted = priv->counter->count(vigil::gst::lumaView(frame), colour, settings, now);
  if (counted.scans > 0) {
    priv->counters.scans += counted.scans;
    if (counted.for_motion) priv->counters.motion_scans += counted.scans;
    GST_LOG_OBJECT(base, "frame %" G_GUINT64_FORMAT ": %zu faces in %zu tile(s)%s", vigil_analyser_frames(base),
                   counted.detected, counted.scans, counted.for_motion ? ", for motion" : "");
  }

  const cv::Rect2f frame_box(0.f, 0.f, static_cast<float>(GST_VIDEO_FRAME_WIDTH(frame)),
                             static_cast<float>(GST_VIDEO_FRAME_HEIGHT(frame)));
  for (const auto& track : counted.faces) {
    const cv::Rect box = cv::Rect(track.box & frame_box);
    if (box.empty()) continue;
    vigil::gst::addObject(buffer, kFaces.roi_type, box.x, box.y, box.width, box.height, track.score, track.id);
  }
  GstStructure* summary = vigil::gst::addAnalysis(buffer, kFaces.event_kind, kFaces.roi_type, counted.publish);
  vigil::gst::StructurePtr zones(gst_structure_new_empty(kZonesStructure));
  const std::vector<faces::Zone>& zone_list = priv->counter->zones();
  for (std::size_t z = 0; z < zone_list.size(); ++z) {
    gst_structure_set(zones.get(), zone_list[z].name.c_str(), G_TYPE_INT, counted.zone_counts[z], nullptr);
  }
  gst_structure_set(summary, vigil::events::key::faces::kCount, G_TYPE_INT, counted.count,
                    vigil::events::key::faces::kZones, GST_TYPE_STRUCTURE, zones.get(), nullptr);
  ++priv->counters.frames;
}

gboolean startCounting(VigilAnalyser* base) {
  Private* priv = privateOf(base);
  const Settings settings = priv->settings.copy();
  faces::DetectorOptions options;
  options.backend = settings.backend;
  options.model_path = settings.model_location;
  options.score_threshold = static_cast<float>(settings.score_threshold);
  options.confirm_below = static_cast<float>(settings.confirm_below);
  std::unique_ptr<faces::FaceDetector> detector;
  try {
    detector = faces::makeFaceDetector(options);
  } catch (const faces::ModelError& error) {
    GST_ELEMENT_ERROR(base, RESOURCE, OPEN_READ,
                      ("cannot load the %s face model: %s", faces::backendName(settings.backend), error.what()),
                      ("set model-location, or run scripts/models/blazeface.sh"));
    return FALSE;
  }
  GST_INFO_OBJECT(base, "loaded %s face detector from %s", faces::backendName(settings.backend),
                  detector->modelPath().c_str());
  priv->counter = std::make_unique<faces::FaceCounter>(std::move(detector));
  priv->counters.frames = 0;
  priv->counters.scans = 0;
  priv->counters.motion_scans = 0;
  return TRUE;
}

void stopCounting(VigilAnalyser* base) { privateOf(base)->counter.reset(); }

void readStats(GObject* object, GValue* value) {
  const Counters& counters = privateOf(object)->counters;
  g_value_take_boxed(value, gst_structure_new("vigil-face-count-stats", "frames", G_TYPE_UINT64,
                                              static_cast<guint64>(counters.frames.load()), "scans", G_TYPE_UINT64,
                                              static_cast<guint64>(counters.scans.load()), "motion-scans",
                                              G_TYPE_UINT64, static_cast<guint64>(counters.motion_scans.load()),
                                              nullptr));
}

// Each property once: the base installs, sets and reads them.
const vigil::gst::ElementProperties& properties() {
  using vigil::gst::Mutable;
  static const auto table =
      vigil::gst::PropertyTable<Settings>(
          [](GObject* object) -> vigil::gst::SharedSettings<Settings>& { return privateOf(object)->settings; })
          .choice("backend", "Backend", "Face detector: the BlazeFace CNN or the Haar cascade fallback",
                  vigil_face_backend_get_type, &Settings::backend, Mutable::kReady)
          .text("model-location", "Model location",
                "Model file for the backend (ONNX for blazeface, cascade XML for haar); unset: the installed "
                "default ($VIGIL_MODEL_DIR/blazeface-back-256.onnx, opencv-data's "
                "haarcascade_frontalface_alt2.xml)",
                &Settings::model_location, nullptr, Mutable::kReady)
          .number("score-threshold", "Score threshold", "Least detector confidence for a face (blazeface only)",
                  &Settings::score_threshold, 0.0, 1.0)
          .number("confirm-below", "Confirm below",
                  "Faces scoring under this are kept only if a Haar cascade (opencv-data) also finds a face "
                  "there: stops phantom faces on animals, fur and textures (blazeface only; 0 = off)",
                  &Settings::confirm_below, 0.0, 1.0)
          .count("min-face-size", "Minimum face size",
                 "Ignore faces smaller than this many frame pixels (0: no limit)", &Settings::min_face_size, 0,
                 kMaxMinFaceSize)
          .choice("tiling", "Tiling",
                  "Split the frame into overlapping tiles so small faces in wide frames are found (one "
                  "detector pass per tile; auto: near-square tiles)",
                  vigil_face_tiling_get_type, &Settings::tiling)
          .choice("tile-scan", "Tile scan",
                  "With tiling: periodic scans cover one tile (the one scanned longest ago; tracked faces are "
                  "carried in the others) or every tile",
                  vigil_face_tile_scan_get_type, &Settings::tile_scan)
          .text("zones", "Zones",
                "Named polygons in normalised coordinates, counted separately: \"name=x,y x,y x,y "
                "...;name2=...\"; a face is in a zone when its box centre is inside",
                &Settings::zones_text, parseZoneText)
          .choice("emit", "Emit", "When a frame's count is marked for publishing", vigil_face_emit_get_type,
                  &Settings::emit)
          .count("heartbeat-interval", "Heartbeat interval",
                 "With emit=on-change, publish an unchanged count after this many milliseconds of stream time "
                 "(0: never)",
                 &Settings::heartbeat_ms, 0, G_MAXUINT)
          .count("smoothing", "Smoothing",
                 "Counts are the median of the last N frames, the upper one for even N (2: a new face counts "
                 "at once, a drop needs two frames; 1: no smoothing)",
                 &Settings::smoothing, 1, kMaxSmoothing)
          .flag("motion-scan", "Motion scan",
                "Also scan a tile at once when something moves there that no tracked face accounts for, or a "
                "tracked face is lost there, so arrivals are counted without waiting for the periodic scan (at "
                "most one tile per frame)",
                &Settings::motion_scan)
          .readOnly("stats", readStats, [](GParamFlags flags) {
            return g_param_spec_boxed("stats", "Statistics",
                                      "Frames counted, detector passes (one tile each) and how many of them were "
                                      "for motion or a lost face, since start",
                                      GST_TYPE_STRUCTURE, flags);
          });
  return table;
}

}  // namespace

static void vigil_face_count_init(VigilFaceCount* self) { self->priv = new Private(); }

static void vigil_face_count_finalize(GObject* object) {
  delete VIGIL_FACE_COUNT(object)->priv;
  G_OBJECT_CLASS(vigil_face_count_parent_class)->finalize(object);
}

static void vigil_face_count_class_init(VigilFaceCountClass* klass) {
  GObjectClass* object_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  VigilAnalyserClass* analyser_class = VIGIL_ANALYSER_CLASS(klass);

  GST_DEBUG_CATEGORY_INIT(vigil_face_count_debug, "facecount", 0, "Vigil face counter");
  object_class->finalize = vigil_face_count_finalize;

  gst_element_class_set_static_metadata(
      element_class, "Face counter", "Filter/Analyzer/Video",
      "Counts faces overall and per zone; attaches face regions and a count summary",
      "Vigil <https://github.com/vigil>");

  // The READ map, the exception guard and the properties come from
  // VigilAnalyser; every frame comes here (faces are followed on each) and
  // the counter schedules its detector passes with `interval`.
  vigil_analyser_class_install(analyser_class, faces::CounterSettings{}.interval, &properties());
  analyser_class->every_frame = TRUE;
  analyser_class->start_analysis = startCounting;
  analyser_class->stop_analysis = stopCounting;
  analyser_class->analyse = countFrame;

  gst_type_mark_as_plugin_api(VIGIL_TYPE_FACE_BACKEND, static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(VIGIL_TYPE_FACE_TILING, static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(VIGIL_TYPE_FACE_TILE_SCAN, static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(VIGIL_TYPE_FACE_EMIT, static_cast<GstPluginAPIFlags>(0));
}
