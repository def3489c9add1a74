// Greedy non-maximum suppression, the one every detector uses: of boxes that
// overlap, the best-scoring is kept.
#pragma once

#include <opencv2/core.hpp>

#include <algorithm>
#include <vector>

namespace vigil::vision {

// `detections` (anything with a cv::Rect2f `box` and a float `score`), best
// score first, without those whose IoU with a better one exceeds `max_iou`,
// or of which more than `max_inside` lies inside a better one (a plate's word
// inside its plate; the default 1 never drops for that).
template <typename Detection>
std::vector<Detection> suppressOverlaps(std::vector<Detection> detections, float max_iou, float max_inside = 1.f) {
  std::sort(detections.begin(), detections.end(),
            [](const Detection& a, const Detection& b) { return a.score > b.score; });
  std::vector<Detection> kept;
  for (const Detection& candidate : detections) {
    const bool overlaps = std::any_of(kept.begin(), kept.end(), [&](const Detection& better) {
      const float intersection = (candidate.box & better.box).area();
      const float united = candidate.box.area() + better.box.area() - intersection;
      const float inside = intersection / std::max(1.f, std::min(candidate.box.area(), better.box.area()));
      return (united > 0.f && intersection / united > max_iou) || inside > max_inside;
    });
    if (!overlaps) kept.push_back(candidate);
  }
  return kept;
}

}  // namespace vigil::vision
