// Tracks faces between detections that may cover only part of the frame (one
// tile per analysed frame, in rotation): a face outside the scanned region is
// carried forward with its velocity and keeps its standing, a face inside it
// that the detector no longer finds is a miss. Faces that walk move several
// times their own size between two scans of their region, so a track that
// overlaps no detection may still continue by distance (gated by face size and
// elapsed frames), and a track's velocity is taken in full from its second
// detection instead of being blended up from zero.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <vector>

namespace vigil::faces {

struct FaceTrack {
  std::int64_t id = 0;
  cv::Rect2f box;              // at last_seen_frame (see FaceTracker::predict for later frames)
  cv::Point2f velocity;        // box centre, pixels per frame
  float score = 0.f;
  int hits = 0;                // detections matched so far
  int misses = 0;              // consecutive scans of its region that did not find it
  std::int64_t last_seen_frame = 0;  // detected or followed
  // Consecutive frames on which follow() could not find the face (poor match,
  // or its search window ran off the picture): its box is a guess until the
  // next detection.
  int unfollowed = 0;
  cv::Mat appearance;          // grey patch at the last detection (see follow())
  cv::Point appearance_offset; // of the patch from the box's top-left, grey pixels
                               // (non-zero when the box ran off the picture)
};

struct FaceTrackerOptions {
  float min_iou = 0.2f;           // overlap that continues a track at once
  int max_misses = 3;             // scans of its region a track survives unmatched
  float velocity_smoothing = 0.5f;  // weight of the old velocity once a track has one
  // Distance continuation: a detection of similar size whose centre is within
  // (kGateBase + gate_per_frame * elapsed frames) face heights of the track.
  float gate_base = 0.5f;
  float gate_per_frame = 0.35f;
  float max_size_ratio = 1.5f;    // larger/smaller face height for a distance match
  // follow(): least normalised correlation with the detection's patch, and
  // the search margin around the predicted box (share of the face, least px).
  float min_appearance_match = 0.6f;
  float search_margin = 0.4f;
  int min_search_margin = 3;
};

struct FaceDetection {
  cv::Rect2f box;
  float score = 0.f;
};

class FaceTracker {
 public:
  explicit FaceTracker(FaceTrackerOptions options = {});

  // Detections of `frame`, found by scanning `scanned` (frame pixels): tracks
  // whose predicted centre lies in `scanned` and that match no detection take
  // a miss; tracks elsewhere are carried. Tracks predicted wholly outside
  // `frame_box` are dropped (the face left). Returns the live tracks.
  const std::vector<FaceTrack>& update(const std::vector<FaceDetection>& detections, std::int64_t frame,
                                       const cv::Rect2f& scanned, const cv::Rect2f& frame_box);

  // Between detections: moves every track not detected at `frame` to where
  // its detected appearance best matches in `grey` (a downscaled grey frame,
  // `scale` of frame pixels), searching around its predicted box, and updates
  // its velocity; tracks its last scan missed are followed too (a face the
  // detector lost for a frame is often still plainly there). A poor match
  // leaves the prediction and counts as a frame unfollowed. Where `changed`
  // (the frame's ChangeMask, may be empty) shows nothing changed around a face
  // held on the previous frame, it stands still and no search is made. Also
  // keeps the appearance of tracks detected at `frame`. A face that stops or
  // starts walking between two scans of its region is followed, not lost.
  void follow(const cv::Mat& grey, const cv::Mat& changed, float scale, std::int64_t frame);

  // Live tracks with boxes moved to `frame` by their velocity.
  std::vector<FaceTrack> predict(std::int64_t frame) const;

  const std::vector<FaceTrack>& tracks() const { return tracks_; }
  void reset() { tracks_.clear(); }

 private:
  FaceTrackerOptions options_;
  std::vector<FaceTrack> tracks_;
  std::int64_t next_id_ = 1;
};

}  // namespace vigil::faces
