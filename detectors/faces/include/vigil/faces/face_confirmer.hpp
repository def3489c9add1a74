// A second opinion on a face the CNN is unsure of. BlazeFace also answers
// 0.5-0.8 on animal faces, fur, paintings and some textures (measured on the
// field corpus' dev split: every phantom on a face-free real photo scored
// below 0.85), where a human face in a poor picture scores the same. OpenCV's
// Haar cascades (frontal and profile, Debian's opencv-data) fail in a
// different way: they rarely fire on those phantoms, so a mid-score face is
// kept only if one of them also finds a face on it.
#pragma once

#include <opencv2/core.hpp>

#include <memory>
#include <string>

namespace vigil::faces {

class FaceConfirmer {
 public:
  // Loads both cascades from Debian's opencv-data (or `data_dir`, holding
  // haarcascades/); throws ModelError naming a missing or broken file.
  explicit FaceConfirmer(const std::string& data_dir = "");
  ~FaceConfirmer();
  FaceConfirmer(const FaceConfirmer&) = delete;
  FaceConfirmer& operator=(const FaceConfirmer&) = delete;

  // True when a cascade finds a face on `face` (pixels of `bgr`, CV_8UC3),
  // looked at with a margin around it and at a fixed scale, so the check
  // costs the same (about a millisecond) for a face of any size.
  bool confirms(const cv::Mat& bgr, const cv::Rect2f& face);

 private:
  struct Cascades;
  std::shared_ptr<Cascades> cascades_;  // leased from a pool: loaded once per process and reused
};

}  // namespace vigil::faces
