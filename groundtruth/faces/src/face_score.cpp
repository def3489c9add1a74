#include "vigil/groundtruth/face_score.hpp"

#include "vigil/groundtruth/face_layer.hpp"
#include "vigil/tracking/iou_tracker.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace vigil::groundtruth {

bool isEvaluatedFace(const TruthObject& object) {
  return object.kind == kFaceKind && object.format != kSmallFace && !object.occluded;
}

std::string FaceScore::summary() const {
  char text[256];
  std::snprintf(text, sizeof text,
                "frames=%lld faces=%lld found=%lld recall=%.3f precision=%.3f "
                "false_positives=%lld mean_count_error=%.3f",
                static_cast<long long>(frames), static_cast<long long>(truth_faces),
                static_cast<long long>(matched), recall(), precision(),
                static_cast<long long>(false_positives), meanCountError());
  return text;
}

void FaceScorer::add(const FrameTruth& truth, const std::vector<cv::Rect2f>& detections) {
  add(truth, detections, static_cast<int>(detections.size()));
}

void FaceScorer::add(const FrameTruth& truth, const std::vector<cv::Rect2f>& detections,
                     int reported_count) {
  std::vector<const TruthObject*> faces;
  for (const auto& object : truth.objects) {
    if (object.kind == kFaceKind) faces.push_back(&object);
  }
  // Greedy matching, best overlap first.
  std::vector<tracking::Candidate> pairs;
  for (std::size_t f = 0; f < faces.size(); ++f) {
    for (std::size_t d = 0; d < detections.size(); ++d) {
      const float overlap = tracking::iou(cv::Rect2f(faces[f]->box), detections[d]);
      if (overlap >= min_iou_) pairs.push_back({overlap, f, d});
    }
  }
  std::vector<bool> face_taken(faces.size(), false);
  std::vector<bool> detection_taken(detections.size(), false);
  std::int64_t hits = 0;
  std::int64_t on_dont_care = 0;
  for (const auto& [f, d] : tracking::greedyMatch(std::move(pairs), tracking::Best::Highest, face_taken,
                                                  detection_taken)) {
    if (isEvaluatedFace(*faces[f])) {
      ++hits;
    } else {
      ++on_dont_care;
    }
  }
  const auto evaluated = static_cast<std::int64_t>(
      std::count_if(faces.begin(), faces.end(), [](const TruthObject* f) { return isEvaluatedFace(*f); }));
  const auto unmatched = static_cast<std::int64_t>(
      std::count(detection_taken.begin(), detection_taken.end(), false));

  ++score_.frames;
  score_.truth_faces += evaluated;
  score_.matched += hits;
  score_.detections += static_cast<std::int64_t>(detections.size()) - on_dont_care;
  score_.false_positives += unmatched;
  // Don't-care faces the analyser found are not part of the expected count;
  // the ones it missed do not lower it either.
  const std::int64_t counted = std::max<std::int64_t>(0, reported_count - on_dont_care);
  score_.count_error_sum += static_cast<double>(std::llabs(counted - evaluated));
}

FaceRunScore scoreFaceRun(const std::vector<FrameTruth>& truth, const std::vector<FaceFrameResult>& results,
                          double min_iou) {
  FaceScorer scorer(min_iou);
  FaceRunScore run;
  for (std::size_t f = 0; f < std::min(truth.size(), results.size()); ++f) {
    const int count = results[f].count >= 0 ? results[f].count : static_cast<int>(results[f].boxes.size());
    scorer.add(truth[f], results[f].boxes, count);
    if (truth[f].objects.empty()) {
      ++run.face_free_frames;
      run.phantoms += static_cast<std::int64_t>(results[f].boxes.size());
    }
  }
  run.all = scorer.score();
  return run;
}

}  // namespace vigil::groundtruth
