// Decoding of YOLO-style detector outputs, for the user-supplied ONNX backend.
// Two layouts are recognised from the tensor shape:
//   YOLOv5 [1, N, 5 + C]: per row cx, cy, w, h, objectness, C class scores;
//   YOLOv8 [1, 4 + C, N]: per column cx, cy, w, h, C class scores (no objectness).
// Boxes are in network-input pixels; the letterbox maps them back.
#pragma once

#include "vigil/plates/detector.hpp"

#include <opencv2/core.hpp>

#include <vector>

namespace vigil::plates {

enum class YoloLayout { V5RowsPerBox, V8ColumnsPerBox };

// Which layout a [1, a, b] output has: rows are boxes when a > b (N is
// always far larger than the per-box width). Throws on other shapes.
YoloLayout detectYoloLayout(const cv::Mat& output);

// How the source image was fitted into the square network input.
struct Letterbox {
  double scale = 1.0;  // network pixels per source pixel
  double pad_x = 0.0;  // network pixels left of the image
  double pad_y = 0.0;
  cv::Size source;     // for clamping
};

// Fits `source` into a `side` x `side` square keeping the aspect ratio.
Letterbox fitLetterbox(cv::Size source, int side);

// Every box whose score (objectness x best class, or best class for v8)
// reaches `score_threshold`, mapped to source pixels, before NMS.
std::vector<PlateDetection> decodeYolo(const cv::Mat& output, const Letterbox& letterbox,
                                       float score_threshold);

}  // namespace vigil::plates
