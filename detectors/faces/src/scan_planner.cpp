#include "vigil/faces/scan_planner.hpp"

#include "vigil/vision/change_mask.hpp"
#include "vigil/tracking/iou_tracker.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace vigil::faces {

namespace {

// The grey pixels a frame-pixel box covers (rounded outwards), clipped to `image`.
cv::Rect toGrey(const cv::Rect2f& box, float scale, const cv::Rect& image) {
  const cv::Point top_left(static_cast<int>(std::floor(box.x * scale)), static_cast<int>(std::floor(box.y * scale)));
  const cv::Point bottom_right(static_cast<int>(std::ceil((box.x + box.width) * scale)),
                               static_cast<int>(std::ceil((box.y + box.height) * scale)));
  return cv::Rect(top_left, bottom_right) & image;
}

}  // namespace

ScanPlanner::ScanPlanner(ScanPlannerOptions options) : options_(options) {}

void ScanPlanner::scanned(std::size_t tile, std::int64_t frame) {
  last_scan_[tile] = frame;
  unexplained_[tile] = 0.0;
}

ScanPlan ScanPlanner::plan(const cv::Mat& changed, float scale, const std::vector<cv::Rect2f>& tiles,
                           const std::vector<cv::Rect2f>& tracked, const std::vector<cv::Rect2f>& lost,
                           std::int64_t frame) {
  ScanPlan plan;
  if (tiles.empty()) return plan;
  if (last_scan_.size() != tiles.size() || !last_periodic_ || frame < *last_periodic_) {
    last_scan_.assign(tiles.size(), frame);
    unexplained_.assign(tiles.size(), 0.0);
    last_periodic_ = frame;
    plan.tiles.resize(tiles.size());
    std::iota(plan.tiles.begin(), plan.tiles.end(), std::size_t{0});
    return plan;
  }

  if (options_.on_motion && !changed.empty()) {
    // What changed, less what the tracked faces' own movement explains, added
    // up per tile until the tile is scanned.
    changed.copyTo(unexplained_mask_);
    const cv::Rect image(0, 0, changed.cols, changed.rows);
    for (const cv::Rect2f& face : tracked) {
      const cv::Rect2f explained(face.x - face.width * options_.explained_margin,
                                 face.y - face.height * options_.explained_margin,
                                 face.width * (1 + 2 * options_.explained_margin),
                                 face.height * (1 + options_.explained_margin + options_.explained_below));
      const cv::Rect area = toGrey(explained, scale, image);
      if (!area.empty()) unexplained_mask_(area).setTo(0);
    }
    const double frame_pixels_per_grey_pixel = 1.0 / (static_cast<double>(scale) * scale);
    for (std::size_t t = 0; t < tiles.size(); ++t) {
      unexplained_[t] += vision::changedPixels(unexplained_mask_, toGrey(tiles[t], scale, image)) * frame_pixels_per_grey_pixel;
    }
  }
  if (options_.on_motion) {
    for (const cv::Rect2f& face : lost) {
      for (std::size_t t = 0; t < tiles.size(); ++t) {
        if (tiles[t].contains(tracking::centre(face))) unexplained_[t] = std::max(unexplained_[t], options_.motion_area);
      }
    }
  }

  const std::int64_t interval = std::max(1, options_.interval);
  const std::int64_t since_periodic = frame - *last_periodic_;
  const bool periodic_due = since_periodic >= interval;
  if (periodic_due && options_.scan_all) {
    for (std::size_t t = 0; t < tiles.size(); ++t) {
      plan.tiles.push_back(t);
      scanned(t, frame);
    }
    last_periodic_ = frame;
    return plan;
  }

  // The tile with the most unexplained change, if it has enough and was not
  // scanned too recently. A periodic scan may wait for it, but only up to one
  // interval: a scene that never stops moving cannot starve the other tiles.
  std::optional<std::size_t> moving;
  if (options_.on_motion && since_periodic < 2 * interval) {
    for (std::size_t t = 0; t < tiles.size(); ++t) {
      if (unexplained_[t] < options_.motion_area) continue;
      if (frame - last_scan_[t] < std::max(1, options_.motion_gap)) continue;
      if (!moving || unexplained_[t] > unexplained_[*moving]) moving = t;
    }
  }
  if (moving) {
    plan.tiles.push_back(*moving);
    plan.for_motion = true;
    scanned(*moving, frame);
    return plan;
  }
  if (periodic_due) {
    const auto stalest = static_cast<std::size_t>(
        std::min_element(last_scan_.begin(), last_scan_.end()) - last_scan_.begin());
    plan.tiles.push_back(stalest);
    scanned(stalest, frame);
    last_periodic_ = frame;
  }
  return plan;
}

}  // namespace vigil::faces
