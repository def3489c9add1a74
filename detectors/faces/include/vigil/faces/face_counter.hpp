// Counts faces on a stream of frames, overall and per zone: what `facecount`
// does, on cv::Mat so that it can be tested without GStreamer.
//
// Faces are detected on a downscaled copy of the frame, tile by tile, and
// followed between detections by their appearance on a quarter-size grey copy.
// A detector pass is the expensive step, so it runs where it is needed: at
// once on a tile where something moved that no tracked face accounts for (a
// person walking in) or where a tracked face was lost (`motion_scan`), and on
// one tile every `interval` frames regardless (every tile with
// TileScan::All), which corrects drift and notices faces that appeared
// without moving. The first frame scans every tile. A face counts while its
// last scan found it and the follower holds it (or lost it only a moment ago),
// and not once it is walking out of the picture; counts go through a median
// smoother, and the emit policy says which frames' counts are worth publishing.
#pragma once

#include "vigil/faces/count_smoother.hpp"
#include "vigil/faces/face_detector.hpp"
#include "vigil/faces/face_tracker.hpp"
#include "vigil/faces/scan_planner.hpp"
#include "vigil/faces/zones.hpp"
#include "vigil/vision/change_mask.hpp"

#include <opencv2/core.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace vigil::faces {

// How the frame is cut into tiles for the detector. `Auto` cuts a wide frame
// into near-square tiles (2x1 for 16:9, none for 4:3).
enum class Tiling { Off = 0, Auto = 1, Grid2x1 = 2, Grid2x2 = 3, Grid3x2 = 4 };
// What a periodic scan covers: every tile, or the one scanned longest ago.
enum class TileScan { All = 0, Rotate = 1 };
// Which frames' counts are marked for publishing.
enum class Emit { EveryFrame = 0, OnChange = 1 };

// What may change from one frame to the next; read at the top of each.
struct CounterSettings {
  double score_threshold = 0.5;
  // Faces the CNN scores below this need a Haar cascade's second opinion: on
  // real face-free photographs (the field corpus' dev split) BlazeFace found
  // 0.7 phantom faces per frame at 0.5, all scoring below 0.85; see
  // FaceConfirmer and bench/field.
  double confirm_below = 0.8;
  // One periodic tile scan a second at 30 fps: arrivals are scanned for
  // motion, so the periodic scan only has to catch what motion cannot show
  // (measured on the bench clips: the same recall as interval 3, at a third
  // of the passes).
  unsigned interval = 30;
  unsigned min_face_size = 0;  // frame pixels; 0: no limit
  Tiling tiling = Tiling::Auto;
  TileScan tile_scan = TileScan::Rotate;
  // Parsed zones, shared so that a per-frame copy of the settings is cheap.
  std::shared_ptr<const std::vector<Zone>> zones = std::make_shared<std::vector<Zone>>();
  // Upper median of two: a new face counts at once, a face must be missing
  // on two frames in a row before the count drops, so one frame's flicker
  // never reaches an alert.
  unsigned smoothing = 2;
  bool motion_scan = true;
  Emit emit = Emit::OnChange;
  unsigned heartbeat_ms = 5000;  // with OnChange: publish an unchanged count after this long (0: never)
};

// A part of the frame as BGR (CV_8UC3) with its longer side at most
// `max_side`; `used` receives the frame pixels actually converted (the region
// clipped, its corner possibly rounded down to even pixels). The element
// converts straight from the mapped planes; bgrRegions() serves a BGR image.
using RegionReader = std::function<cv::Mat(const cv::Rect& region, int max_side, cv::Rect* used)>;
RegionReader bgrRegions(const cv::Mat& bgr);

// One frame's count.
struct CountedFrame {
  std::vector<FaceTrack> faces;  // standing faces; boxes in frame pixels, not clipped
  int count = 0;                 // smoothed
  std::vector<int> zone_counts;  // smoothed, per zone of zones()
  std::size_t detected = 0;      // faces the detector passes of this frame found
  std::size_t scans = 0;         // detector passes (one tile each) on this frame
  bool for_motion = false;       // the passes were for motion or a lost face
  bool publish = false;          // the emit policy marks this frame's counts
};

class FaceCounter {
 public:
  // Throws std::invalid_argument for a null detector.
  explicit FaceCounter(std::unique_ptr<FaceDetector> detector);

  // The next frame: `luma` its full-size grey plane (a view is enough),
  // `colour` its pixels on demand, `now_ns` its time (stream or wall clock,
  // nanoseconds) for the heartbeat. Not thread-safe: one counter per stream.
  CountedFrame count(const cv::Mat& luma, const RegionReader& colour, const CounterSettings& settings,
                     std::uint64_t now_ns);

  // The zones the last frame's zone_counts are in order of.
  const std::vector<Zone>& zones() const { return *zones_; }
  const FaceDetector& detector() const { return *detector_; }

 private:
  struct ScanRegion;
  void adopt(const CounterSettings& settings);
  std::vector<ScanRegion> tileRegions(const CounterSettings& settings, cv::Size frame);
  std::size_t detect(const RegionReader& colour, const CounterSettings& settings,
                     const std::vector<ScanRegion>& tiles, const ScanPlan& plan, const cv::Rect2f& frame_box);
  std::vector<FaceTrack> standingFaces(const cv::Rect2f& frame_box) const;
  bool shouldPublish(const CounterSettings& settings, std::uint64_t now_ns);

  std::unique_ptr<FaceDetector> detector_;
  FaceTracker tracker_;
  vision::ChangeMask changes_;
  ScanPlanner planner_;
  cv::Size frame_size_;  // of the frames the state above describes
  std::int64_t frame_ = 0;
  // What the smoothers count; replaced when the settings' zones or smoothing change.
  std::shared_ptr<const std::vector<Zone>> zones_;
  unsigned smoothing_ = 0;
  CountSmoother total_;
  std::vector<CountSmoother> per_zone_;
  int count_ = 0;
  std::vector<int> zone_counts_;
  // Emit policy: what was last published, and when.
  bool published_once_ = false;
  int published_count_ = 0;
  std::vector<int> published_zone_counts_;
  std::optional<std::uint64_t> published_at_;
};

}  // namespace vigil::faces
