// Synthetic scenes with known ground truth, for tests, benches and the demo.
// A scene is a background plus layers (faces, plates, codes); each layer draws
// its objects for a frame and reports exactly where it drew them.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vigil::groundtruth {

struct TruthObject {
  std::string kind;      // "face", "plate", "code"
  std::int64_t id = 0;   // stable across the frames the object is visible in
  cv::Rect box;          // pixels in the rendered frame
  std::string text;      // plate text, code payload (empty for faces)
  std::string format;    // code format (e.g. "QRCode", "EAN-13"), plate style
  bool occluded = false; // partly hidden: scorers may treat it separately
};

struct FrameTruth {
  std::int64_t frame = 0;
  std::vector<TruthObject> objects;
};

class Layer {
 public:
  virtual ~Layer() = default;
  // Draws this layer's objects for `frame` onto `bgr` and appends their truth.
  virtual void render(cv::Mat& bgr, std::int64_t frame, std::vector<TruthObject>& truth) = 0;
};

class Scene {
 public:
  Scene(cv::Size size, double fps, std::uint32_t seed);
  void add(std::unique_ptr<Layer> layer);
  // Deterministic: the same frame index always renders the same image.
  cv::Mat render(std::int64_t frame, FrameTruth& truth) const;
  cv::Size size() const { return size_; }
  double fps() const { return fps_; }
  std::uint32_t seed() const { return seed_; }

 private:
  cv::Size size_;
  double fps_;
  std::uint32_t seed_;
  cv::Mat background_;
  std::vector<std::unique_ptr<Layer>> layers_;
};

// A textured, non-uniform background (gradients, shelves, noise), so detectors
// cannot win by finding "anything that is not flat".
cv::Mat makeBackground(cv::Size size, std::uint32_t seed);

// A point moving along a known path: linear from `from` to `to` over
// [start, end) frames; outside that range the object is not visible.
struct Path {
  cv::Point2f from;
  cv::Point2f to;
  std::int64_t start = 0;
  std::int64_t end = 0;
  bool visibleAt(std::int64_t frame) const { return frame >= start && frame < end; }
  cv::Point2f at(std::int64_t frame) const;
};

}  // namespace vigil::groundtruth
