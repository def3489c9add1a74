// Scores face detections against FaceLayer ground truth: recall and precision
// at an IoU threshold (greedy matching, best overlap first) and the per-frame
// count error. Small faces (format kSmallFace) and faces cut by the frame edge
// (occluded) are "don't care": not needed for recall, not counted, and a
// detection on one is neither a hit nor a false positive.
#pragma once

#include "vigil/groundtruth/face_run.hpp"
#include "vigil/groundtruth/scene.hpp"

#include <opencv2/core.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace vigil::groundtruth {

struct FaceScore {
  std::int64_t frames = 0;
  std::int64_t truth_faces = 0;      // evaluated faces over all frames
  std::int64_t matched = 0;          // evaluated faces found
  std::int64_t detections = 0;       // detections not on a don't-care face
  std::int64_t false_positives = 0;
  double count_error_sum = 0.0;      // sum over frames of |reported - truth|
  double recall() const { return truth_faces ? double(matched) / truth_faces : 1.0; }
  double precision() const { return detections ? double(detections - false_positives) / detections : 1.0; }
  double meanCountError() const { return frames ? count_error_sum / frames : 0.0; }
  std::string summary() const;
};

class FaceScorer {
 public:
  explicit FaceScorer(double min_iou = 0.3) : min_iou_(min_iou) {}

  // One frame: its truth, the detected boxes, and the count the analyser
  // reported (e.g. smoothed); a reported count includes don't-care faces it
  // found, so those are taken off before comparing.
  void add(const FrameTruth& truth, const std::vector<cv::Rect2f>& detections, int reported_count);
  // Same, with the count taken as the number of detections.
  void add(const FrameTruth& truth, const std::vector<cv::Rect2f>& detections);

  const FaceScore& score() const { return score_; }

 private:
  double min_iou_;
  FaceScore score_;
};

// One analysis run scored against its clip's truth, frame by frame (an
// analyser that reports no count, like facedetect, is counted by its boxes),
// plus its phantom faces: detections on frames whose truth holds no face.
struct FaceRunScore {
  FaceScore all;
  std::int64_t face_free_frames = 0;
  std::int64_t phantoms = 0;
  double phantomsPerFaceFreeFrame() const {
    return face_free_frames ? static_cast<double>(phantoms) / static_cast<double>(face_free_frames) : 0.0;
  }
};
FaceRunScore scoreFaceRun(const std::vector<FrameTruth>& truth, const std::vector<FaceFrameResult>& results,
                          double min_iou = 0.3);

// True when a truth face counts for recall and count (not small, not cut).
bool isEvaluatedFace(const TruthObject& object);

}  // namespace vigil::groundtruth
