// Greedy IoU tracker shared by the analysers: stable ids across frames, boxes
// carried forward (with their last velocity) between detections, and a record
// of tracks that ended so "left" events can be emitted once.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace vigil::tracking {

struct Detection {
  cv::Rect2f box;
  float score = 0.f;
  // Optional identity (e.g. decoded code text): when both sides have one, they
  // must be equal to match, whatever the overlap.
  std::string key;
};

struct Track {
  std::int64_t id = 0;
  cv::Rect2f box;
  cv::Point2f velocity;        // pixels per frame, smoothed
  float score = 0.f;
  std::string key;
  int hits = 0;                // detections matched so far
  int misses = 0;              // consecutive updates without a match
  std::int64_t first_frame = 0;
  std::int64_t last_seen_frame = 0;
};

struct TrackerOptions {
  float min_iou = 0.2f;        // least overlap that continues a track
  int max_misses = 15;         // updates a track survives unmatched
  float velocity_smoothing = 0.5f;
};

class IouTracker {
 public:
  explicit IouTracker(TrackerOptions options = {});

  // Matches detections of `frame` to tracks, starts tracks for the rest and
  // expires tracks missed more than max_misses times. Returns the live tracks.
  const std::vector<Track>& update(const std::vector<Detection>& detections, std::int64_t frame);

  // Live tracks with boxes moved to where they should be at `frame`, for the
  // frames between detections. Does not change the tracker.
  std::vector<Track> predict(std::int64_t frame) const;

  const std::vector<Track>& tracks() const { return tracks_; }

  // Tracks that expired since the last call.
  std::vector<Track> takeEnded();

  void reset();

 private:
  TrackerOptions options_;
  std::vector<Track> tracks_;
  std::vector<Track> ended_;
  std::int64_t next_id_ = 1;
};

// Intersection over union of two boxes (0 when both are empty).
float iou(const cv::Rect2f& a, const cv::Rect2f& b);
// A box's centre.
inline cv::Point2f centre(const cv::Rect2f& box) { return {box.x + box.width / 2, box.y + box.height / 2}; }

// A candidate pairing of item `a` of one list with item `b` of another
// (a track and a detection, a true object and a detection), and its rank.
struct Candidate {
  float rank = 0.f;
  std::size_t a = 0;
  std::size_t b = 0;
};
enum class Best { Highest, Lowest };

// Greedy one-to-one matching: candidates best rank first, each taken unless
// its `a` or its `b` already is. `a_taken` and `b_taken` (sized to the lists)
// say which items were taken before and are updated. Within a few percent of
// an optimal assignment at the object counts of a frame, in O(n log n).
std::vector<std::pair<std::size_t, std::size_t>> greedyMatch(std::vector<Candidate> candidates, Best best,
                                                             std::vector<bool>& a_taken, std::vector<bool>& b_taken);

}  // namespace vigil::tracking
