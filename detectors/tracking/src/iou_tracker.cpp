#include "vigil/tracking/iou_tracker.hpp"

#include <algorithm>

namespace vigil::tracking {

float iou(const cv::Rect2f& a, const cv::Rect2f& b) {
  const float intersection = (a & b).area();
  const float united = a.area() + b.area() - intersection;
  return united > 0.f ? intersection / united : 0.f;
}

std::vector<std::pair<std::size_t, std::size_t>> greedyMatch(std::vector<Candidate> candidates, Best best,
                                                             std::vector<bool>& a_taken, std::vector<bool>& b_taken) {
  if (best == Best::Highest) {
    std::sort(candidates.begin(), candidates.end(), [](const Candidate& x, const Candidate& y) { return x.rank > y.rank; });
  } else {
    std::sort(candidates.begin(), candidates.end(), [](const Candidate& x, const Candidate& y) { return x.rank < y.rank; });
  }
  std::vector<std::pair<std::size_t, std::size_t>> matched;
  for (const Candidate& candidate : candidates) {
    if (a_taken[candidate.a] || b_taken[candidate.b]) continue;
    a_taken[candidate.a] = b_taken[candidate.b] = true;
    matched.emplace_back(candidate.a, candidate.b);
  }
  return matched;
}

IouTracker::IouTracker(TrackerOptions options) : options_(options) {}

void IouTracker::reset() {
  tracks_.clear();
  ended_.clear();
}

const std::vector<Track>& IouTracker::update(const std::vector<Detection>& detections,
                                             std::int64_t frame) {
  // Candidate pairs against predicted boxes, best overlap first (greedy is
  // within a few percent of Hungarian at these object counts, and O(n m log).
  const std::vector<Track> predicted = predict(frame);
  std::vector<Candidate> pairs;
  for (std::size_t t = 0; t < predicted.size(); ++t) {
    for (std::size_t d = 0; d < detections.size(); ++d) {
      const auto& key = detections[d].key;
      if (!key.empty() && !predicted[t].key.empty() && key != predicted[t].key) continue;
      const float overlap = iou(predicted[t].box, detections[d].box);
      if (overlap >= options_.min_iou) pairs.push_back({overlap, t, d});
    }
  }

  std::vector<bool> track_taken(tracks_.size(), false);
  std::vector<bool> detection_taken(detections.size(), false);
  for (const auto& [t, d] : greedyMatch(std::move(pairs), Best::Highest, track_taken, detection_taken)) {
    Track& track = tracks_[t];
    const Detection& detection = detections[d];
    const float frames = static_cast<float>(std::max<std::int64_t>(1, frame - track.last_seen_frame));
    const cv::Point2f moved = (detection.box.tl() - track.box.tl()) / frames;
    track.velocity = track.velocity * options_.velocity_smoothing +
                     moved * (1.f - options_.velocity_smoothing);
    track.box = detection.box;
    track.score = detection.score;
    if (track.key.empty()) track.key = detection.key;
    ++track.hits;
    track.misses = 0;
    track.last_seen_frame = frame;
  }

  std::vector<Track> kept;
  kept.reserve(tracks_.size() + detections.size());
  for (std::size_t t = 0; t < tracks_.size(); ++t) {
    Track& track = tracks_[t];
    if (!track_taken[t] && ++track.misses > options_.max_misses) {
      ended_.push_back(track);
      continue;
    }
    kept.push_back(track);
  }
  for (std::size_t d = 0; d < detections.size(); ++d) {
    if (detection_taken[d]) continue;
    Track track;
    track.id = next_id_++;
    track.box = detections[d].box;
    track.score = detections[d].score;
    track.key = detections[d].key;
    track.hits = 1;
    track.first_frame = track.last_seen_frame = frame;
    kept.push_back(track);
  }
  tracks_ = std::move(kept);
  return tracks_;
}

std::vector<Track> IouTracker::predict(std::int64_t frame) const {
  std::vector<Track> moved = tracks_;
  for (Track& track : moved) {
    const float frames = static_cast<float>(frame - track.last_seen_frame);
    track.box.x += track.velocity.x * frames;
    track.box.y += track.velocity.y * frames;
  }
  return moved;
}

std::vector<Track> IouTracker::takeEnded() {
  std::vector<Track> ended;
  ended.swap(ended_);
  return ended;
}

}  // namespace vigil::tracking
