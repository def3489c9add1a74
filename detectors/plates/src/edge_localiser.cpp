// The `edges` backend: a classical plate localiser designed for recall at low
// cost. Characters are rows of tall vertical strokes, so on a luma pyramid:
//   1. |d/dx| (Sobel) above a contrast threshold: vertical edges;
//   2. opened with a vertical line: only edges at least a stroke tall remain
//      (noise and horizontal edges go);
//   3. closed with a horizontal line: the strokes of one row merge;
//   4. blobs kept when shaped like a character row and crossed by many
//      strokes (a lone box edge or a pole is one stroke).
// Each pyramid level finds rows of one octave of character heights; the row
// is then grown to the plate around it (borders, US state line).
#include "backends.hpp"
#include "vigil/vision/nms.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <stdexcept>

namespace vigil::plates {
namespace {

constexpr int kDefaultMaxSide = 960;    // 720p luma at 3/4: full resolution costs
                                        // ~10x more (allocator page faults in
                                        // OpenCV morphology) for +2 % recall
constexpr int kPyramidLevels = 3;       // three octaves of character height
constexpr int kMinLevelSide = 160;      // stop the pyramid below this size
constexpr double kEdgeThreshold = 56;   // Sobel |dx| (8-bit, saturated)
constexpr int kStrokeMinHeight = 4;     // pixels at a level: shorter edges are noise
constexpr int kLongEdge = 35;           // edges this tall are poles, bodies, borders
constexpr int kCharacterGap = 9;        // pixels at a level merged into one row
constexpr int kRowMinHeight = 5;        // character row height at a level
constexpr int kRowMaxHeight = 26;
constexpr int kRowMinWidth = 7;         // opening width: cuts thin vertical bridges
                                        // (plate borders, poles) between rows
constexpr double kRowMinAspect = 1.0;   // width / height of a character row
constexpr double kRowMaxAspect = 14.0;
constexpr double kRowMinFill = 0.4;     // blob area / its bounding box
constexpr int kMinStrokes = 4;          // stroke edges across the row (2 characters:
                                        // a plate cut by a pole still counts)
constexpr int kStrokesForFullScore = 14;
// Character row -> plate: the plate border around the row, and for US
// plates the state line above it.
constexpr double kPlateGrowX = 0.12;
constexpr double kPlateGrowY = 0.7;
constexpr float kNmsIou = 0.3f;
// A box mostly inside a better one is dropped too (a word inside its plate).
constexpr float kNmsInside = 0.8f;
constexpr float kDefaultScoreThreshold = 0.35f;

// Longest run count of edge pixels along a few rows of the blob.
int countStrokes(const cv::Mat& strokes, const cv::Rect& row) {
  int best = 0;
  for (int sample = 1; sample <= 3; ++sample) {
    const int y = row.y + row.height * sample / 4;
    const uchar* line = strokes.ptr<uchar>(y);
    int runs = 0;
    bool inside = false;
    for (int x = row.x; x < row.x + row.width; ++x) {
      const bool on = line[x] != 0;
      if (on && !inside) ++runs;
      inside = on;
    }
    best = std::max(best, runs);
  }
  return best;
}

class EdgeLocaliser final : public PlateDetector {
 public:
  explicit EdgeLocaliser(const DetectorOptions& options)
      : max_side_(options.max_side >= 0 ? options.max_side : kDefaultMaxSide),
        score_threshold_(options.score_threshold >= 0.f ? options.score_threshold
                                                        : kDefaultScoreThreshold),
        stroke_kernel_(cv::getStructuringElement(cv::MORPH_RECT, {1, kStrokeMinHeight})),
        long_kernel_(cv::getStructuringElement(cv::MORPH_RECT, {1, kLongEdge})),
        gap_kernel_(cv::getStructuringElement(cv::MORPH_RECT, {kCharacterGap, 1})),
        row_kernel_(cv::getStructuringElement(cv::MORPH_RECT, {kRowMinWidth, 1})) {}

  InputSpec input() const override { return {false, max_side_}; }
  std::string name() const override { return kBackendEdges; }

  std::vector<PlateDetection> detect(const cv::Mat& image) override {
    if (image.empty()) throw std::invalid_argument("plate detector given an empty image");
    if (image.channels() == 1 && image.depth() == CV_8U) {
      grey_ = image;  // no copy: the detector only reads it
    } else {
      double ignored = 1.0;
      grey_ = prepareInput(image, {false, 0}, &ignored);
    }
    std::vector<PlateDetection> found;
    const cv::Mat* level = &grey_;
    double to_image = 1.0;  // image pixels per level pixel
    for (int index = 0; index < kPyramidLevels; ++index) {
      if (std::min(level->cols, level->rows) < kMinLevelSide / 2) break;
      findRows(*level, to_image, found);
      if (index + 1 < kPyramidLevels) {
        cv::Mat& smaller = pyramid_[index];
        cv::resize(*level, smaller, cv::Size(level->cols / 2, level->rows / 2), 0, 0, cv::INTER_AREA);
        level = &smaller;
        to_image *= 2.0;
      }
    }
    grey_.release();
    const cv::Rect2f bounds(0.f, 0.f, static_cast<float>(image.cols), static_cast<float>(image.rows));
    for (auto& detection : found) detection.box &= bounds;
    return vision::suppressOverlaps(std::move(found), kNmsIou, kNmsInside);
  }

 private:
  void findRows(const cv::Mat& grey, double to_image, std::vector<PlateDetection>& found) {
    cv::Sobel(grey, gradient_, CV_16S, 1, 0, 3);
    cv::convertScaleAbs(gradient_, edges_);
    cv::threshold(edges_, edges_, kEdgeThreshold, 255, cv::THRESH_BINARY);
    cv::morphologyEx(edges_, strokes_, cv::MORPH_OPEN, stroke_kernel_);
    // Without the long edges, a pole in front of a plate or the plate's own
    // border does not join the characters to other rows.
    cv::morphologyEx(edges_, long_edges_, cv::MORPH_OPEN, long_kernel_);
    cv::subtract(strokes_, long_edges_, strokes_);
    cv::morphologyEx(strokes_, rows_, cv::MORPH_CLOSE, gap_kernel_);
    cv::morphologyEx(rows_, rows_, cv::MORPH_OPEN, row_kernel_);
    contours_.clear();
    cv::findContours(rows_, contours_, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    for (const auto& contour : contours_) {
      const cv::Rect row = cv::boundingRect(contour);
      if (row.height < kRowMinHeight || row.height > kRowMaxHeight) continue;
      const double aspect = static_cast<double>(row.width) / row.height;
      if (aspect < kRowMinAspect || aspect > kRowMaxAspect) continue;
      const double fill = static_cast<double>(cv::countNonZero(rows_(row))) / row.area();
      if (fill < kRowMinFill) continue;
      const int strokes = countStrokes(strokes_, row);
      if (strokes < kMinStrokes) continue;
      const float score = static_cast<float>(
          std::min(1.0, static_cast<double>(strokes) / kStrokesForFullScore) * std::min(1.0, fill + 0.2));
      if (score < score_threshold_) continue;
      const double grow_x = row.width * kPlateGrowX;
      const double grow_y = row.height * kPlateGrowY;
      const cv::Rect2f plate(static_cast<float>((row.x - grow_x) * to_image),
                             static_cast<float>((row.y - grow_y) * to_image),
                             static_cast<float>((row.width + 2 * grow_x) * to_image),
                             static_cast<float>((row.height + 2 * grow_y) * to_image));
      found.push_back({plate, score});
    }
  }

  int max_side_;
  float score_threshold_;
  cv::Mat stroke_kernel_;
  cv::Mat long_kernel_;
  cv::Mat gap_kernel_;
  cv::Mat row_kernel_;
  // Scratch buffers reused across frames (one detector per stream).
  cv::Mat grey_, gradient_, edges_, strokes_, long_edges_, rows_;
  cv::Mat pyramid_[kPyramidLevels];
  std::vector<std::vector<cv::Point>> contours_;
};

}  // namespace

std::unique_ptr<PlateDetector> makeEdgeLocaliser(const DetectorOptions& options) {
  return std::make_unique<EdgeLocaliser>(options);
}

}  // namespace vigil::plates
