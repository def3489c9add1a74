#include "vigil/faces/face_counter.hpp"

#include "vigil/tracking/iou_tracker.hpp"
#include "vigil/vision/geometry.hpp"
#include "vigil/vision/nms.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace vigil::faces {

namespace {

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
constexpr std::uint64_t kNsPerMs = 1000000;

// Between detections faces are followed, and motion looked for, on a
// quarter-size copy of the luma plane (1280x720 -> 320x180; faces of 48 px
// become 12 px templates, enough to hold a walking face). Each pixel is the
// mean of a 4x4 block: two exact halvings with bilinear interpolation average
// 2x2 blocks each, the same result as INTER_AREA at a tenth of its cost
// (~0.04 ms at 720p).
cv::Mat quarterSize(const cv::Mat& luma) {
  cv::Mat half, quarter;
  cv::resize(luma, half, cv::Size(luma.cols / 2, luma.rows / 2), 0, 0, cv::INTER_LINEAR);
  cv::resize(half, quarter, cv::Size(half.cols / 2, half.rows / 2), 0, 0, cv::INTER_LINEAR);
  return quarter;
}

FaceTrackerOptions trackerOptions() {
  FaceTrackerOptions options;
  options.min_iou = kTrackMinIou;
  options.max_misses = kTrackMaxMisses;
  return options;
}

// `auto` cuts a wide frame into near-square tiles: the model's input is
// square, so a 16:9 frame in one pass wastes 44 % of it on padding, and two
// tiles see faces 1.8x larger (48 px faces in 720p go from ~10 px to ~17 px
// at the model, where BlazeFace stops missing them).
TileGrid tileGrid(Tiling tiling, int width, int height) {
  switch (tiling) {
    case Tiling::Auto: {
      const double aspect = static_cast<double>(std::max(width, height)) / std::max(1, std::min(width, height));
      const int across = std::max(1, static_cast<int>(std::lround(aspect)));
      return width >= height ? TileGrid{across, 1} : TileGrid{1, across};
    }
    case Tiling::Grid2x1: return {2, 1};
    case Tiling::Grid2x2: return {2, 2};
    case Tiling::Grid3x2: return {3, 2};
    case Tiling::Off: break;
  }
  return {1, 1};
}

int analysisSide(Backend backend, const TileGrid& grid) {
  if (backend == Backend::Haar) return kHaarAnalysisSide;
  const int tiles_across = std::max(grid.cols, grid.rows);
  // Overlapping tiles: n tiles span (1 + (n-1) * kTileShare) tile widths.
  return static_cast<int>(std::ceil(kBlazeFaceTileSide * (1.0 + (tiles_across - 1) * kTileShare)));
}

ScanPlannerOptions plannerOptions(const CounterSettings& settings) {
  ScanPlannerOptions options;
  options.interval = static_cast<int>(settings.interval);
  options.scan_all = settings.tile_scan == TileScan::All;
  options.on_motion = settings.motion_scan;
  return options;
}

}  // namespace

// One detector pass over a part of the frame: `region` (frame pixels),
// converted to BGR at `side` pixels on its longer side, answering for the
// faces whose centre lies in `owned`.
struct FaceCounter::ScanRegion {
  cv::Rect region;
  int side = 0;
  cv::Rect2f owned;
};

RegionReader bgrRegions(const cv::Mat& bgr) {
  if (bgr.type() != CV_8UC3) throw std::invalid_argument("bgrRegions expects a BGR (CV_8UC3) image");
  return [bgr](const cv::Rect& region, int max_side, cv::Rect* used) {
    // Even corners, as the element's reader of 4:2:0 planes does.
    const cv::Rect area = vision::evenRegion(region, bgr.size());
    if (area.empty()) throw std::invalid_argument("region outside the image");
    if (used) *used = area;
    const cv::Size target = vision::downscaledSize(area.width, area.height, max_side);
    cv::Mat out;
    cv::resize(bgr(area), out, target, 0, 0, cv::INTER_AREA);
    return out;
  };
}

FaceCounter::FaceCounter(std::unique_ptr<FaceDetector> detector)
    : detector_(std::move(detector)), tracker_(trackerOptions()) {
  if (!detector_) throw std::invalid_argument("FaceCounter needs a face detector");
}

// New zones or a new smoothing window: the smoothers start again, and so does
// the emit policy (the published counts were of other zones).
void FaceCounter::adopt(const CounterSettings& settings) {
  zones_ = settings.zones ? settings.zones : std::make_shared<std::vector<Zone>>();
  smoothing_ = settings.smoothing;
  total_ = CountSmoother(settings.smoothing);
  per_zone_.assign(zones_->size(), CountSmoother(settings.smoothing));
  zone_counts_.assign(zones_->size(), 0);
  published_once_ = false;
}

// The frame's tiles as the detector scans them, each cut from the frame and
// converted on its own.
std::vector<FaceCounter::ScanRegion> FaceCounter::tileRegions(const CounterSettings& settings, cv::Size frame) {
  const Backend backend = detector_->options().backend;
  const TileGrid grid = tileGrid(settings.tiling, frame.width, frame.height);
  const cv::Size copy = vision::downscaledSize(frame.width, frame.height, analysisSide(backend, grid));
  const float to_frame = static_cast<float>(frame.width) / static_cast<float>(copy.width);
  // A tile is cut to about the model's input size; cut it to exactly that,
  // so the detector does not resample it a second time.
  const int model_side = backend == Backend::BlazeFace ? kBlazeFaceTileSide : 0;
  detector_->setTiles(grid);
  std::vector<ScanRegion> regions;
  for (const Tile& tile : detector_->tiles(copy)) {
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
// the count is whole at once. Returns the faces found.
std::size_t FaceCounter::detect(const RegionReader& colour, const CounterSettings& settings,
                                const std::vector<ScanRegion>& tiles, const ScanPlan& plan,
                                const cv::Rect2f& frame_box) {
  FaceDetector& detector = *detector_;
  detector.setScoreThreshold(static_cast<float>(settings.score_threshold));
  detector.setConfirmBelow(static_cast<float>(settings.confirm_below));
  const bool every_tile = plan.tiles.size() == tiles.size() && tiles.size() > 1;
  const cv::Rect2f scanned = every_tile ? frame_box : tiles[plan.tiles.front()].owned;
  std::vector<Face> found;
  for (std::size_t index : plan.tiles) {
    const ScanRegion& region = tiles[index];
    cv::Rect used;
    const cv::Mat bgr = colour(region.region, region.side, &used);
    const float to_frame = static_cast<float>(used.width) / static_cast<float>(bgr.cols);
    detector.setMinFaceSize(static_cast<int>(std::lround(settings.min_face_size / to_frame)));
    for (Face face : detector.detectWhole(bgr)) {
      face.box = cv::Rect2f(used.x + face.box.x * to_frame, used.y + face.box.y * to_frame,
                            face.box.width * to_frame, face.box.height * to_frame);
      if (region.owned.contains(tracking::centre(face.box))) found.push_back(face);
    }
  }
  // Neighbouring tiles overlap: one face seen by both is reported once.
  found = vision::suppressOverlaps(std::move(found), detector.options().nms_iou);
  std::vector<FaceDetection> detections;
  for (const Face& face : found) detections.push_back({face.box, face.score});
  tracker_.update(detections, frame_, scanned, frame_box);
  return detections.size();
}

// The faces standing on this frame: tracks their last scan found, that the
// follower still holds (or lost only a moment ago), and that have not walked
// out of the picture.
std::vector<FaceTrack> FaceCounter::standingFaces(const cv::Rect2f& frame_box) const {
  std::vector<FaceTrack> standing;
  for (const auto& track : tracker_.predict(frame_)) {
    if (track.unfollowed > kMaxUnfollowedFrames) continue;
    const float inside = track.box.area() > 0.f ? (track.box & frame_box).area() / track.box.area() : 0.f;
    if (inside <= 0.f || (track.unfollowed > 0 && inside < kLeavingShare)) continue;
    standing.push_back(track);
  }
  return standing;
}

// The emit policy; counts are updated on every frame.
bool FaceCounter::shouldPublish(const CounterSettings& settings, std::uint64_t now_ns) {
  bool publish = settings.emit == Emit::EveryFrame;
  if (!publish) {
    const bool changed = !published_once_ || count_ != published_count_ || zone_counts_ != published_zone_counts_;
    const bool heartbeat_due =
        settings.heartbeat_ms > 0 && published_at_ &&
        (now_ns < *published_at_ ||  // stream time went back (seek): restart the beat
         now_ns - *published_at_ >= settings.heartbeat_ms * kNsPerMs);
    publish = changed || heartbeat_due;
  }
  if (publish) {
    published_once_ = true;
    published_count_ = count_;
    published_zone_counts_ = zone_counts_;
    published_at_ = now_ns;
  }
  return publish;
}

CountedFrame FaceCounter::count(const cv::Mat& luma, const RegionReader& colour, const CounterSettings& settings,
                                std::uint64_t now_ns) {
  if (luma.type() != CV_8UC1) throw std::invalid_argument("FaceCounter expects a grey (CV_8UC1) luma plane");
  if (!zones_ || zones_ != settings.zones || smoothing_ != settings.smoothing) adopt(settings);
  // New geometry (a camera back at another resolution): boxes, grey frames
  // and tiles of the old one mean nothing; start as on a first frame.
  if (luma.size() != frame_size_) {
    tracker_.reset();
    changes_ = vision::ChangeMask();
    planner_ = ScanPlanner();
    frame_size_ = luma.size();
  }
  const cv::Rect2f frame_box(0.f, 0.f, static_cast<float>(luma.cols), static_cast<float>(luma.rows));
  CountedFrame result;

  // The grey frame the tracker follows faces on between detections, and the
  // planner looks for unexplained motion on.
  const cv::Mat grey = quarterSize(luma);
  const std::vector<ScanRegion> tiles = tileRegions(settings, luma.size());
  std::vector<cv::Rect2f> owned;
  for (const ScanRegion& tile : tiles) owned.push_back(tile.owned);
  // Tracked faces account for the motion around them (where the follower
  // holds them, or where they are predicted to be). A face wholly in the
  // picture that the follower lost, or that its last scan did not find, asks
  // for its tile to be scanned again; one cut by the edge is leaving.
  std::vector<cv::Rect2f> tracked, lost;
  for (const auto& track : tracker_.predict(frame_)) {
    tracked.push_back(track.box);
    const bool whole = (track.box & frame_box).area() >= kWholeShare * track.box.area();
    if ((track.misses > 0 || track.unfollowed > 0) && whole) lost.push_back(track.box);
  }
  const float grey_scale = static_cast<float>(grey.cols) / static_cast<float>(luma.cols);
  const cv::Mat& changed = changes_.update(grey);
  planner_.setOptions(plannerOptions(settings));
  const ScanPlan plan = planner_.plan(changed, grey_scale, owned, tracked, lost, frame_);
  if (!plan.tiles.empty()) {
    result.detected = detect(colour, settings, tiles, plan, frame_box);
    result.scans = plan.tiles.size();
    result.for_motion = plan.for_motion;
  }
  tracker_.follow(grey, changed, grey_scale, frame_);

  result.faces = standingFaces(frame_box);
  std::vector<int> raw_zone_counts(zones_->size(), 0);
  for (const auto& track : result.faces) {
    const cv::Point2f at = tracking::centre(track.box);
    const cv::Point2f centre(at.x / frame_box.width, at.y / frame_box.height);
    for (std::size_t z = 0; z < zones_->size(); ++z) {
      if ((*zones_)[z].contains(centre)) ++raw_zone_counts[z];
    }
  }
  count_ = total_.push(static_cast<int>(result.faces.size()));
  for (std::size_t z = 0; z < raw_zone_counts.size(); ++z) zone_counts_[z] = per_zone_[z].push(raw_zone_counts[z]);
  result.count = count_;
  result.zone_counts = zone_counts_;
  result.publish = shouldPublish(settings, now_ns);
  ++frame_;
  return result;
}

}  // namespace vigil::faces
