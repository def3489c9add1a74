// Decides, frame by frame, which tile the face detector scans. A detector
// pass is the expensive step (BlazeFace: ~13 ms of CPU per tile), and between
// passes the tracker follows the faces it has, so passes are spent where they
// buy something:
//  - at once, a tile where the picture changed and no tracked face accounts
//    for the change (a person walking in is scanned while still entering, so
//    the count does not wait for a rotation to come round to their tile), or
//    where the tracker lost sight of a face;
//  - periodically, one tile every `interval` frames, the one scanned longest
//    ago first: this corrects drift and notices faces that appeared without
//    moving or that turned away.
// Motion scans are spaced by `motion_gap` frames per tile, and at most one
// tile is scanned per frame; periodic scans are never put off by more than one
// interval. The cost therefore follows the scene: a still queue costs the
// periodic scans alone, and a picture that never stops changing anywhere
// (a screen, moving foliage) at most one pass per frame; without `on_motion`
// the cost is fixed at one pass per interval.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <optional>
#include <vector>

namespace vigil::faces {

struct ScanPlannerOptions {
  int interval = 30;        // frames between periodic scans (each scans one tile)
  bool scan_all = false;    // periodic scans cover every tile instead of one
  bool on_motion = true;    // scan tiles with unexplained motion or a lost face at once
  // Least frames between two motion scans of one tile: a face walking in is
  // often too little in the picture at the first scan, and fully in (so
  // counted) two or three frames later.
  int motion_gap = 2;
  // Changed area, in frame pixels, a tile must gather since its last scan
  // before motion scans it: about a 55 px face, so a face walking in is
  // scanned once enough of it is in the picture for the detector to find.
  double motion_area = 3000.0;
  // Around a tracked face, changes are its own movement: its box grown by
  // this share of its size on each side, and more below (neck, shoulders).
  float explained_margin = 1.0f;
  float explained_below = 2.0f;
};

// What the detector should scan on one frame.
struct ScanPlan {
  std::vector<std::size_t> tiles;  // indices into the tiles given to plan(); empty: no pass
  bool for_motion = false;         // chosen for unexplained motion or a lost face
};

class ScanPlanner {
 public:
  explicit ScanPlanner(ScanPlannerOptions options = {});

  // `changed`: this frame's ChangeMask (may be empty), at `scale` of frame
  // pixels. In frame pixels: `tiles`, the part of the frame each tile answers
  // for; `tracked`, where the tracked faces are on this frame (changes around
  // them are their own movement); `lost`, faces the tracker lost sight of
  // (their tiles are scanned as if something moved there). The first frame,
  // and a change in the number of tiles, scans every tile.
  ScanPlan plan(const cv::Mat& changed, float scale, const std::vector<cv::Rect2f>& tiles,
                const std::vector<cv::Rect2f>& tracked, const std::vector<cv::Rect2f>& lost,
                std::int64_t frame);

  const ScanPlannerOptions& options() const { return options_; }
  void setOptions(const ScanPlannerOptions& options) { options_ = options; }

 private:
  void scanned(std::size_t tile, std::int64_t frame);

  ScanPlannerOptions options_;
  cv::Mat unexplained_mask_;             // reused: changed pixels less tracked faces
  std::vector<std::int64_t> last_scan_;  // per tile
  std::vector<double> unexplained_;      // per tile: changed area since its last scan, frame px
  std::optional<std::int64_t> last_periodic_;
};

}  // namespace vigil::faces
