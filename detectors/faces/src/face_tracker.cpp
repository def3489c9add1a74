#include "vigil/faces/face_tracker.hpp"

#include "vigil/vision/change_mask.hpp"
#include "vigil/tracking/iou_tracker.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

namespace vigil::faces {

FaceTracker::FaceTracker(FaceTrackerOptions options) : options_(options) {}

std::vector<FaceTrack> FaceTracker::predict(std::int64_t frame) const {
  std::vector<FaceTrack> moved = tracks_;
  for (FaceTrack& track : moved) {
    const auto frames = static_cast<float>(frame - track.last_seen_frame);
    track.box.x += track.velocity.x * frames;
    track.box.y += track.velocity.y * frames;
  }
  return moved;
}

const std::vector<FaceTrack>& FaceTracker::update(const std::vector<FaceDetection>& detections,
                                                  std::int64_t frame, const cv::Rect2f& scanned,
                                                  const cv::Rect2f& frame_box) {
  const std::vector<FaceTrack> predicted = predict(frame);
  std::vector<bool> track_taken(tracks_.size(), false);
  std::vector<bool> detection_taken(detections.size(), false);

  // For a pair greedyMatch() took (it marks both sides taken).
  auto continueTrack = [&](std::size_t t, std::size_t d) {
    FaceTrack& track = tracks_[t];
    const FaceDetection& detection = detections[d];
    const auto frames = static_cast<float>(std::max<std::int64_t>(1, frame - track.last_seen_frame));
    const cv::Point2f moved = (tracking::centre(detection.box) - tracking::centre(track.box)) / frames;
    // The first re-detection gives the whole velocity: blending it up from
    // zero would leave a walker behind its box for several scans.
    track.velocity = track.hits < 2 ? moved
                                    : track.velocity * options_.velocity_smoothing +
                                          moved * (1.f - options_.velocity_smoothing);
    track.box = detection.box;
    track.score = detection.score;
    track.appearance.release();  // taken again by follow() from this frame
    ++track.hits;
    track.misses = 0;
    track.unfollowed = 0;
    track.last_seen_frame = frame;
  };

  // Overlap first, best first (greedy is near-optimal at queue densities).
  std::vector<tracking::Candidate> pairs;
  for (std::size_t t = 0; t < predicted.size(); ++t) {
    for (std::size_t d = 0; d < detections.size(); ++d) {
      const float overlap = tracking::iou(predicted[t].box, detections[d].box);
      if (overlap >= options_.min_iou) pairs.push_back({overlap, t, d});
    }
  }
  for (const auto& [t, d] : tracking::greedyMatch(std::move(pairs), tracking::Best::Highest, track_taken,
                                                  detection_taken)) {
    continueTrack(t, d);
  }

  // Then by distance, in face heights, nearest first.
  pairs.clear();
  for (std::size_t t = 0; t < predicted.size(); ++t) {
    if (track_taken[t]) continue;
    const float elapsed = static_cast<float>(frame - tracks_[t].last_seen_frame);
    for (std::size_t d = 0; d < detections.size(); ++d) {
      if (detection_taken[d]) continue;
      const float track_height = std::max(1.f, predicted[t].box.height);
      const float detection_height = std::max(1.f, detections[d].box.height);
      const float size_ratio = std::max(track_height, detection_height) / std::min(track_height, detection_height);
      if (size_ratio > options_.max_size_ratio) continue;
      const cv::Point2f offset = tracking::centre(detections[d].box) - tracking::centre(predicted[t].box);
      const float heights = std::hypot(offset.x, offset.y) / std::max(track_height, detection_height);
      if (heights <= options_.gate_base + options_.gate_per_frame * elapsed) pairs.push_back({heights, t, d});
    }
  }
  for (const auto& [t, d] : tracking::greedyMatch(std::move(pairs), tracking::Best::Lowest, track_taken,
                                                  detection_taken)) {
    continueTrack(t, d);
  }

  std::vector<FaceTrack> kept;
  kept.reserve(tracks_.size() + detections.size());
  for (std::size_t t = 0; t < tracks_.size(); ++t) {
    FaceTrack& track = tracks_[t];
    if ((predicted[t].box & frame_box).empty()) continue;  // walked out of the picture
    if (!track_taken[t] && scanned.contains(tracking::centre(predicted[t].box)) && ++track.misses > options_.max_misses) {
      continue;
    }
    kept.push_back(track);
  }
  for (std::size_t d = 0; d < detections.size(); ++d) {
    if (detection_taken[d]) continue;
    FaceTrack track;
    track.id = next_id_++;
    track.box = detections[d].box;
    track.score = detections[d].score;
    track.hits = 1;
    track.last_seen_frame = frame;
    kept.push_back(track);
  }
  tracks_ = std::move(kept);
  return tracks_;
}

void FaceTracker::follow(const cv::Mat& grey, const cv::Mat& changed, float scale, std::int64_t frame) {
  if (grey.empty()) return;
  const cv::Rect image(0, 0, grey.cols, grey.rows);
  auto toGrey = [&](const cv::Rect2f& box) {
    return cv::Rect(cv::Point(static_cast<int>(std::lround(box.x * scale)), static_cast<int>(std::lround(box.y * scale))),
                    cv::Size(static_cast<int>(std::lround(box.width * scale)),
                             static_cast<int>(std::lround(box.height * scale))));
  };
  for (FaceTrack& track : tracks_) {
    if (track.last_seen_frame == frame) {
      if (track.appearance.empty()) {
        // A face cut by the picture's edge keeps the part that is visible.
        const cv::Rect box = toGrey(track.box);
        const cv::Rect patch = box & image;
        if (patch.area() > 0) {
          track.appearance = grey(patch).clone();
          track.appearance_offset = patch.tl() - box.tl();
        }
      }
      continue;
    }
    if (track.appearance.empty()) {
      ++track.unfollowed;
      continue;
    }
    // Held on the previous frame, and nothing changed around it since: the
    // face is still there, standing.
    if (track.unfollowed == 0 && track.last_seen_frame == frame - 1 && !changed.empty() &&
        changed.size() == grey.size()) {
      const cv::Rect was = toGrey(track.box);
      const int margin = std::max(1, static_cast<int>(options_.search_margin * std::max(was.width, was.height)));
      const cv::Rect around(was.x - margin, was.y - margin, was.width + 2 * margin, was.height + 2 * margin);
      if ((around & image).area() > 0 && vision::changedPixels(changed, around) == 0) {
        track.velocity = cv::Point2f();
        track.last_seen_frame = frame;
        track.unfollowed = 0;
        continue;
      }
    }
    const auto frames = static_cast<float>(frame - track.last_seen_frame);
    cv::Rect2f predicted = track.box;
    predicted.x += track.velocity.x * frames;
    predicted.y += track.velocity.y * frames;
    const cv::Rect at = toGrey(predicted);
    const cv::Point patch_at = at.tl() + track.appearance_offset;
    const int margin = std::max(options_.min_search_margin,
                                static_cast<int>(options_.search_margin * std::max(at.width, at.height)));
    const cv::Rect window = cv::Rect(patch_at.x - margin, patch_at.y - margin, track.appearance.cols + 2 * margin,
                                     track.appearance.rows + 2 * margin) & image;
    if (window.width < track.appearance.cols || window.height < track.appearance.rows) {
      ++track.unfollowed;
      continue;
    }
    cv::Mat scores;
    cv::matchTemplate(grey(window), track.appearance, scores, cv::TM_CCOEFF_NORMED);
    double best = 0.0;
    cv::Point where;
    cv::minMaxLoc(scores, nullptr, &best, nullptr, &where);
    if (best < options_.min_appearance_match) {
      ++track.unfollowed;
      continue;
    }
    const cv::Point found_patch = window.tl() + where - track.appearance_offset;
    const cv::Point2f found(found_patch.x / scale, found_patch.y / scale);
    const cv::Point2f moved = (found - track.box.tl()) / frames;
    track.velocity = track.velocity * options_.velocity_smoothing + moved * (1.f - options_.velocity_smoothing);
    track.box.x = found.x;
    track.box.y = found.y;
    track.last_seen_frame = frame;
    track.unfollowed = 0;
  }
}

}  // namespace vigil::faces
