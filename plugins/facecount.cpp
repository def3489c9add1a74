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
#include "vigil/faces/change_mask.hpp"
#include "vigil/faces/count_smoother.hpp"
#include "vigil/faces/face_detector.hpp"
#include "vigil/faces/face_tracker.hpp"
#include "vigil/faces/scan_planner.hpp"
#include "vigil/events/keys.hpp"
#include "vigil/faces/zones.hpp"
#include "vigil/gst/frame.hpp"
#include "vigil/gst/guard.hpp"
#include "vigil/gst/meta.hpp"
#include "vigil/gst/ptr.hpp"
#include "vigil/tracking/iou_tracker.hpp"

#include <gst/video/video.h>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

GST_DEBUG_CATEGORY_STATIC(vigil_face_count_debug);
#define GST_CAT_DEFAULT vigil_face_count_debug

namespace {

// This element's row in the analytics table: its factory name, event kind and ROI type.
using vigil::analytics::kFaces;

enum class Emit { EveryFrame, OnChange };
enum class TileScan { All, Rotate };
enum TilingValue { kTilingOff = 0, kTilingAuto = 1, kTiling2x1 = 2, kTiling2x2 = 3, kTiling3x2 = 4 };

constexpr const char* kZonesStructure = "zones";

constexpr vigil::faces::Backend kDefaultBackend = vigil::faces::Backend::BlazeFace;
constexpr double kDefaultScoreThreshold = 0.5;
// Faces the CNN scores below this need a Haar cascade's second opinion: on
// real face-free photographs (the field corpus' dev split) BlazeFace found
// 0.7 phantom faces per frame at 0.5, all scoring below 0.85; see
// vigil::faces::FaceConfirmer and bench/field.
constexpr double kDefaultConfirmBelow = 0.8;
// One periodic tile scan a second at 30 fps: arrivals are scanned for motion,
// so the periodic scan only has to catch what motion cannot show (measured
// on the bench clips: the same recall as interval 3, at a third of the passes).
constexpr guint kDefaultInterval = 30;
constexpr guint kMaxInterval = 1000;
constexpr guint kDefaultMinFaceSize = 0;
constexpr guint kMaxMinFaceSize = 4096;
constexpr TilingValue kDefaultTiling = kTilingAuto;
constexpr TileScan kDefaultTileScan = TileScan::Rotate;
constexpr Emit kDefaultEmit = Emit::OnChange;
constexpr guint kDefaultHeartbeatMs = 5000;
// Upper median of two: a new face counts at once, a face must be missing on
// two frames in a row before the count drops, so one frame's flicker never
// reaches an alert.
constexpr guint kDefaultSmoothing = 2;
constexpr guint kMaxSmoothing = 100;
constexpr bool kDefaultMotionScan = true;

// BlazeFace sees 256x256 per tile, so the analysed copy only needs each tile
// to be about that size; the Haar cascade wants more pixels (its smallest
// window is 24 px).
constexpr int kBlazeFaceTileSide = 256;
constexpr double kTileShare = 0.8;  // a tile's share of the frame not shared with its neighbour
constexpr int kHaarAnalysisSide = 640;
// Tracks survive this many scans of their tile unmatched: one missed
// detection keeps its id, a face that left is forgotten quickly.
constexpr int kTrackMaxMisses = 3;
constexpr float kTrackMinIou = 0.2f;
// A face the follower lost stays counted this many frames (a blink, a hand
// in front of it) while its tile is scanned again.
constexpr int kMaxUnfollowedFrames = 3;
// A lost face less than this share inside the picture is leaving it.
constexpr float kLeavingShare = 0.5f;
constexpr float kWholeShare = 0.98f;  // in the picture, but for rounding

// Between detections faces are followed, and motion looked for, on a
// quarter-size copy of the luma plane (1280x720 -> 320x180; faces of 48 px
// become 12 px templates, enough to hold a walking face). Each pixel is the
// mean of a 4x4 block:
// two exact halvings with bilinear interpolation average 2x2 blocks each, the
// same result as INTER_AREA at a tenth of its cost (~0.04 ms at 720p).
cv::Mat quarterSize(const cv::Mat& luma) {
  cv::Mat half, quarter;
  cv::resize(luma, half, cv::Size(luma.cols / 2, luma.rows / 2), 0, 0, cv::INTER_LINEAR);
  cv::resize(half, quarter, cv::Size(half.cols / 2, half.rows / 2), 0, 0, cv::INTER_LINEAR);
  return quarter;
}

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
  double confirm_below = kDefaultConfirmBelow;
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
  bool motion_scan = kDefaultMotionScan;
};

// Stream state: created in start(), touched only by the streaming thread,
// dropped in stop().
struct Running {
  std::unique_ptr<vigil::faces::FaceDetector> detector;
  vigil::faces::FaceTracker tracker{trackerOptions()};
  vigil::faces::ChangeMask changes;
  vigil::faces::ScanPlanner planner;
  cv::Size frame_size;  // of the frames the state above describes
  std::int64_t frame = 0;
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

// Read by the `stats` property from any thread; written by the streaming thread.
struct Counters {
  std::atomic<std::uint64_t> frames{0};
  std::atomic<std::uint64_t> scans{0};         // detector passes, one tile each
  std::atomic<std::uint64_t> motion_scans{0};  // of which for motion or a lost face
  void reset() {
    frames = 0;
    scans = 0;
    motion_scans = 0;
  }
};

struct Private {
  std::mutex settings_mutex;
  Settings settings;
  std::unique_ptr<Running> running;
  Counters counters;
};

}  // namespace

struct _VigilFaceCount {
  GstVideoFilter parent;
  Private* priv;
};

G_DEFINE_TYPE(VigilFaceCount, vigil_face_count, GST_TYPE_VIDEO_FILTER)
GST_ELEMENT_REGISTER_DEFINE(facecount, kFaces.element, GST_RANK_NONE, VIGIL_TYPE_FACE_COUNT)

enum {
  PROP_0,
  PROP_BACKEND,
  PROP_MODEL_LOCATION,
  PROP_SCORE_THRESHOLD,
  PROP_CONFIRM_BELOW,
  PROP_INTERVAL,
  PROP_MIN_FACE_SIZE,
  PROP_TILING,
  PROP_TILE_SCAN,
  PROP_ZONES,
  PROP_EMIT,
  PROP_HEARTBEAT_INTERVAL,
  PROP_SMOOTHING,
  PROP_MOTION_SCAN,
  PROP_STATS,
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
        {static_cast<gint>(TileScan::All), "Periodic scans cover every tile (one pass per tile)", "all"},
        {static_cast<gint>(TileScan::Rotate),
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
        {static_cast<gint>(Emit::EveryFrame), "Publish every frame's count", "every-frame"},
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

vigil::faces::ScanPlannerOptions plannerOptions(const Settings& settings) {
  vigil::faces::ScanPlannerOptions options;
  options.interval = static_cast<int>(settings.interval);
  options.scan_all = settings.tile_scan == TileScan::All;
  options.on_motion = settings.motion_scan;
  if (const char* v = getenv("DEV_GAP")) options.motion_gap = atoi(v);
  if (const char* v = getenv("DEV_AREA")) options.motion_area = atof(v);
  return options;
}

// One detector pass over a part of the frame: `region` (frame pixels),
// converted to BGR at `side` pixels on its longer side, answering for the
// faces whose centre lies in `owned`.
struct ScanRegion {
  cv::Rect region;
  int side = 0;
  cv::Rect2f owned;
};

// The frame's tiles as the detector scans them, each cut from the frame and
// converted on its own.
std::vector<ScanRegion> tileRegions(const Settings& settings, vigil::faces::FaceDetector& detector, int width,
                                    int height) {
  const vigil::faces::TileGrid grid = tileGrid(settings.tiling, width, height);
  const cv::Size copy = vigil::gst::downscaledSize(width, height, analysisSide(settings, grid));
  const float to_frame = static_cast<float>(width) / static_cast<float>(copy.width);
  // A tile is cut to about the model's input size; cut it to exactly that,
  // so the detector does not resample it a second time.
  const int model_side = settings.backend == vigil::faces::Backend::BlazeFace ? kBlazeFaceTileSide : 0;
  detector.setTiles(grid);
  std::vector<ScanRegion> regions;
  for (const vigil::faces::Tile& tile : detector.tiles(copy)) {
    const cv::Rect& rect = tile.rect;
    const cv::Rect in_frame(cv::Point(static_cast<int>(std::floor(rect.x * to_frame)),
                                      static_cast<int>(std::floor(rect.y * to_frame))),
                            cv::Point(static_cast<int>(std::ceil((rect.x + rect.width) * to_frame)),
                                      static_cast<int>(std::ceil((rect.y + rect.height) * to_frame))));
    const int side = std::max(rect.width, rect.height);
    const cv::Rect& owned = tile.owned;
    regions.push_back({in_frame, model_side > 0 ? std::min(side, model_side) : side,
                       cv::Rect2f(owned.x * to_frame, owned.y * to_frame, owned.width * to_frame,
                                  owned.height * to_frame)});
  }
  return regions;
}

// Runs the planned detector passes and updates the tracker with what they
// found. Tracks outside the scanned part are carried and keep their standing
// until their own scan; the planner scans every tile on the first frame, so
// the count is whole at once.
void analyse(GstVideoFrame* frame, Running& running, const Settings& settings,
             const std::vector<ScanRegion>& tiles, const vigil::faces::ScanPlan& plan) {
  vigil::faces::FaceDetector& detector = *running.detector;
  detector.setScoreThreshold(static_cast<float>(settings.score_threshold));
  detector.setConfirmBelow(static_cast<float>(settings.confirm_below));
  const cv::Rect2f frame_box(0.f, 0.f, static_cast<float>(GST_VIDEO_FRAME_WIDTH(frame)),
                             static_cast<float>(GST_VIDEO_FRAME_HEIGHT(frame)));
  const bool every_tile = plan.tiles.size() == tiles.size() && tiles.size() > 1;
  const cv::Rect2f scanned = every_tile ? frame_box : tiles[plan.tiles.front()].owned;
  std::vector<vigil::faces::Face> found;
  for (std::size_t index : plan.tiles) {
    const ScanRegion& region = tiles[index];
    cv::Rect used;
    const cv::Mat bgr = vigil::gst::regionBgr(frame, region.region, region.side, &used);
    const float to_frame = static_cast<float>(used.width) / static_cast<float>(bgr.cols);
    detector.setMinFaceSize(static_cast<int>(std::lround(settings.min_face_size / to_frame)));
    for (vigil::faces::Face face : detector.detectWhole(bgr)) {
      face.box = cv::Rect2f(used.x + face.box.x * to_frame, used.y + face.box.y * to_frame,
                            face.box.width * to_frame, face.box.height * to_frame);
      if (region.owned.contains(vigil::tracking::centre(face.box))) found.push_back(face);
    }
  }
  // Neighbouring tiles overlap: one face seen by both is reported once.
  found = vigil::faces::suppressOverlaps(std::move(found), detector.options().nms_iou);
  std::vector<vigil::faces::FaceDetection> detections;
  for (const vigil::faces::Face& face : found) detections.push_back({face.box, face.score});
  running.tracker.update(detections, running.frame, scanned, frame_box);
  const cv::Rect& first = tiles[plan.tiles.front()].region;
  GST_LOG("frame %" G_GINT64_FORMAT ": %zu faces in %zu tile(s), first %dx%d at (%d,%d)%s", running.frame,
          detections.size(), plan.tiles.size(), first.width, first.height, first.x, first.y,
          plan.for_motion ? ", for motion" : "");
}

// The faces standing on this frame: tracks their last scan found, that the
// follower still holds (or lost only a moment ago), and that have not walked
// out of the picture.
std::vector<vigil::faces::FaceTrack> standingFaces(const Running& running, const cv::Rect2f& frame_box) {
  std::vector<vigil::faces::FaceTrack> standing;
  for (const auto& track : running.tracker.predict(running.frame)) {
    if (track.unfollowed > kMaxUnfollowedFrames) continue;
    const float inside = track.box.area() > 0.f ? (track.box & frame_box).area() / track.box.area() : 0.f;
    if (inside <= 0.f || (track.unfollowed > 0 && inside < kLeavingShare)) continue;
    standing.push_back(track);
  }
  return standing;
}

// Counts this frame's standing faces, overall and per zone, through the smoothers.
void updateCounts(Running& running, const std::vector<vigil::faces::FaceTrack>& standing, const cv::Rect2f& frame_box) {
  std::vector<int> raw_zone_counts(running.zones->size(), 0);
  for (const auto& track : standing) {
    const cv::Point2f at = vigil::tracking::centre(track.box);
    const cv::Point2f centre(at.x / frame_box.width, at.y / frame_box.height);
    for (std::size_t z = 0; z < running.zones->size(); ++z) {
      if ((*running.zones)[z].contains(centre)) ++raw_zone_counts[z];
    }
  }
  running.count = running.total.push(static_cast<int>(standing.size()));
  for (std::size_t z = 0; z < raw_zone_counts.size(); ++z) {
    running.zone_counts[z] = running.per_zone[z].push(raw_zone_counts[z]);
  }
}

// The emit policy: counts are updated on every frame.
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
  // New geometry (a camera back at another resolution): boxes, grey frames
  // and tiles of the old one mean nothing; start as on a first frame.
  const cv::Size frame_size(GST_VIDEO_INFO_WIDTH(&filter->in_info), GST_VIDEO_INFO_HEIGHT(&filter->in_info));
  if (frame_size != running->frame_size) {
    running->tracker.reset();
    running->changes = vigil::faces::ChangeMask();
    running->planner = vigil::faces::ScanPlanner();
    running->frame_size = frame_size;
  }
  // An analyser only reads pixels: a READ map never copies shared memory.
  GstVideoFrame frame;
  if (!gst_video_frame_map(&frame, &filter->in_info, buffer, GST_MAP_READ)) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("cannot map the video frame for reading"), (nullptr));
    return GST_FLOW_ERROR;
  }
  const cv::Rect2f frame_box(0.f, 0.f, static_cast<float>(GST_VIDEO_FRAME_WIDTH(&frame)),
                             static_cast<float>(GST_VIDEO_FRAME_HEIGHT(&frame)));
  try {
    // The grey frame the tracker follows faces on between detections, and
    // the planner looks for unexplained motion on.
    const cv::Mat grey = quarterSize(vigil::gst::lumaView(&frame));
    const std::vector<ScanRegion> tiles =
        tileRegions(settings, *running->detector, GST_VIDEO_FRAME_WIDTH(&frame), GST_VIDEO_FRAME_HEIGHT(&frame));
    std::vector<cv::Rect2f> owned;
    for (const ScanRegion& tile : tiles) owned.push_back(tile.owned);
    // Tracked faces account for the motion around them (where the follower
    // holds them, or where they are predicted to be). A face wholly in the
    // picture that the follower lost, or that its last scan did not find, asks
    // for its tile to be scanned again; one cut by the edge is leaving.
    std::vector<cv::Rect2f> tracked, lost;
    for (const auto& track : running->tracker.predict(running->frame)) {
      tracked.push_back(track.box);
      const bool whole = (track.box & frame_box).area() >= kWholeShare * track.box.area();
      if ((track.misses > 0 || track.unfollowed > 0) && whole) lost.push_back(track.box);
    }
    const float grey_scale = static_cast<float>(grey.cols) / static_cast<float>(GST_VIDEO_FRAME_WIDTH(&frame));
    const cv::Mat& changed = running->changes.update(grey);
    running->planner.setOptions(plannerOptions(settings));
    const vigil::faces::ScanPlan plan = running->planner.plan(changed, grey_scale,
                                                              owned, tracked, lost, running->frame);
    if (!plan.tiles.empty()) {
      analyse(&frame, *running, settings, tiles, plan);
      priv->counters.scans += plan.tiles.size();
      if (plan.for_motion) priv->counters.motion_scans += plan.tiles.size();
    }
    running->tracker.follow(grey, changed, grey_scale, running->frame);
  } catch (...) {
    gst_video_frame_unmap(&frame);
    throw;
  }
  gst_video_frame_unmap(&frame);

  const std::vector<vigil::faces::FaceTrack> standing = standingFaces(*running, frame_box);
  updateCounts(*running, standing, frame_box);
  for (const auto& track : standing) {
    const cv::Rect box = cv::Rect(track.box & frame_box);
    if (box.empty()) continue;
    vigil::gst::addObject(buffer, kFaces.roi_type, box.x, box.y, box.width, box.height,
                          track.score, track.id);
  }

  GstClockTime now = GST_BUFFER_PTS(buffer);
  if (!GST_CLOCK_TIME_IS_VALID(now)) now = static_cast<GstClockTime>(g_get_monotonic_time()) * GST_USECOND;
  const bool publish = shouldPublish(*running, settings, now);
  if (publish) {
    running->published_once = true;
    running->published_count = running->count;
    running->published_zone_counts = running->zone_counts;
    running->published_at = now;
  }
  GstStructure* summary =
      vigil::gst::addAnalysis(buffer, kFaces.event_kind, kFaces.roi_type, publish);
  vigil::gst::StructurePtr zones(gst_structure_new_empty(kZonesStructure));
  for (std::size_t z = 0; z < running->zones->size(); ++z) {
    gst_structure_set(zones.get(), (*running->zones)[z].name.c_str(), G_TYPE_INT,
                      running->zone_counts[z], nullptr);
  }
  gst_structure_set(summary, vigil::events::key::faces::kCount, G_TYPE_INT, running->count,
                    vigil::events::key::faces::kZones, GST_TYPE_STRUCTURE, zones.get(), nullptr);
  ++running->frame;
  ++priv->counters.frames;
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
    options.confirm_below = static_cast<float>(settings.confirm_below);
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
    priv->counters.reset();
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
      case PROP_CONFIRM_BELOW: settings.confirm_below = g_value_get_double(value); break;
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
      case PROP_MOTION_SCAN: settings.motion_scan = g_value_get_boolean(value); break;
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
  if (id == PROP_STATS) {
    const Counters& counters = priv->counters;
    g_value_take_boxed(value, gst_structure_new("vigil-face-count-stats", "frames", G_TYPE_UINT64,
                                                static_cast<guint64>(counters.frames.load()), "scans", G_TYPE_UINT64,
                                                static_cast<guint64>(counters.scans.load()), "motion-scans",
                                                G_TYPE_UINT64, static_cast<guint64>(counters.motion_scans.load()),
                                                nullptr));
    return;
  }
  std::lock_guard<std::mutex> lock(priv->settings_mutex);
  const Settings& settings = priv->settings;
  switch (id) {
    case PROP_BACKEND: g_value_set_enum(value, static_cast<gint>(settings.backend)); break;
    case PROP_MODEL_LOCATION:
      g_value_set_string(value, settings.model_location.empty() ? nullptr : settings.model_location.c_str());
      break;
    case PROP_SCORE_THRESHOLD: g_value_set_double(value, settings.score_threshold); break;
    case PROP_CONFIRM_BELOW: g_value_set_double(value, settings.confirm_below); break;
    case PROP_INTERVAL: g_value_set_uint(value, settings.interval); break;
    case PROP_MIN_FACE_SIZE: g_value_set_uint(value, settings.min_face_size); break;
    case PROP_TILING: g_value_set_enum(value, settings.tiling); break;
    case PROP_TILE_SCAN: g_value_set_enum(value, static_cast<gint>(settings.tile_scan)); break;
    case PROP_ZONES: g_value_set_string(value, settings.zones_text.c_str()); break;
    case PROP_EMIT: g_value_set_enum(value, static_cast<gint>(settings.emit)); break;
    case PROP_HEARTBEAT_INTERVAL: g_value_set_uint(value, settings.heartbeat_ms); break;
    case PROP_SMOOTHING: g_value_set_uint(value, settings.smoothing); break;
    case PROP_MOTION_SCAN: g_value_set_boolean(value, settings.motion_scan); break;
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
      object_class, PROP_CONFIRM_BELOW,
      g_param_spec_double("confirm-below", "Confirm below",
                          "Faces scoring under this are kept only if a Haar cascade (opencv-data) also "
                          "finds a face there: stops phantom faces on animals, fur and textures "
                          "(blazeface only; 0 = off)",
                          0.0, 1.0, kDefaultConfirmBelow, playing));
  g_object_class_install_property(
      object_class, PROP_INTERVAL,
      g_param_spec_uint("interval", "Interval",
                        "Scan one tile every N frames even when nothing moves (tracked faces are "
                        "followed in between; with motion-scan, tiles where something moves are "
                        "scanned sooner)",
                        1, kMaxInterval, kDefaultInterval, playing));
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
                        "With tiling: periodic scans cover one tile (the one scanned longest ago; "
                        "tracked faces are carried in the others) or every tile",
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
                        "Counts are the median of the last N frames, the upper one for even N "
                        "(2: a new face counts at once, a drop needs two frames; 1: no smoothing)", 1,
                        kMaxSmoothing, kDefaultSmoothing, playing));
  g_object_class_install_property(
      object_class, PROP_MOTION_SCAN,
      g_param_spec_boolean("motion-scan", "Motion scan",
                           "Also scan a tile at once when something moves there that no tracked face "
                           "accounts for, or a tracked face is lost there, so arrivals are counted "
                           "without waiting for the periodic scan (at most one tile per frame)",
                           kDefaultMotionScan, playing));
  g_object_class_install_property(
      object_class, PROP_STATS,
      g_param_spec_boxed("stats", "Statistics",
                         "Frames counted, detector passes (one tile each) and how many of them were for "
                         "motion or a lost face, since start",
                         GST_TYPE_STRUCTURE, static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));

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
