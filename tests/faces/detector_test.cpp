// The face detector library on composited real faces (positive), face-free
// backgrounds (negative), and unusable models (a clear error, never a crash).
#include "vigil/faces/face_detector.hpp"
#include "vigil/groundtruth/face_layer.hpp"
#include "vigil/groundtruth/face_score.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

namespace faces = vigil::faces;
namespace gt = vigil::groundtruth;

const cv::Size kFrameSize(1280, 720);
constexpr std::uint32_t kSeed = 11;
constexpr std::int64_t kFrames = 240;
constexpr std::int64_t kFrameStep = 12;

// A temporary directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "vigil-faces-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Scores a detector on frames downscaled to `analysis_side` wide, as facecount does.
gt::FaceScore scoreDetector(faces::FaceDetector& detector, int analysis_side) {
  const gt::Scene scene = gt::busyQueueScene(kFrameSize, 30, kFrames, kSeed);
  gt::FaceScorer scorer;
  for (std::int64_t frame = 0; frame < kFrames; frame += kFrameStep) {
    gt::FrameTruth truth;
    const cv::Mat image = scene.render(frame, truth);
    const double scale = static_cast<double>(analysis_side) / kFrameSize.width;
    cv::Mat small;
    cv::resize(image, small, cv::Size(), scale, scale, cv::INTER_AREA);
    std::vector<cv::Rect2f> boxes;
    for (const auto& face : detector.detect(small)) {
      boxes.emplace_back(face.box.x / scale, face.box.y / scale, face.box.width / scale,
                         face.box.height / scale);
    }
    scorer.add(truth, boxes);
  }
  return scorer.score();
}

TEST(FaceDetector, BlazeFaceFindsCompositedRealFaces) {
  // As facecount runs it on 16:9 frames: two near-square tiles of ~256 px.
  faces::DetectorOptions options;
  options.tiles = {2, 1};
  auto detector = faces::makeFaceDetector(options);
  const gt::FaceScore score = scoreDetector(*detector, 462);
  ASSERT_GT(score.truth_faces, 50) << "the scene should hold enough faces to score";
  EXPECT_GE(score.recall(), 0.95) << score.summary();
  EXPECT_GE(score.precision(), 0.95) << score.summary();
}

TEST(FaceDetector, HaarFallbackFindsMostFaces) {
  faces::DetectorOptions options;
  options.backend = faces::Backend::Haar;
  auto detector = faces::makeFaceDetector(options);
  const gt::FaceScore score = scoreDetector(*detector, 640);
  // Haar is the no-download fallback: weaker, but it must still work.
  EXPECT_GE(score.recall(), 0.7) << score.summary();
  EXPECT_GE(score.precision(), 0.9) << score.summary();
}

TEST(FaceDetector, FindsNothingOnFaceFreeBackgrounds) {
  auto blazeface = faces::makeFaceDetector({});
  faces::DetectorOptions haar_options;
  haar_options.backend = faces::Backend::Haar;
  auto haar = faces::makeFaceDetector(haar_options);
  for (std::uint32_t seed = 1; seed <= 10; ++seed) {
    const cv::Mat background = gt::makeBackground(kFrameSize, seed);
    cv::Mat small;
    cv::resize(background, small, cv::Size(640, 360), 0, 0, cv::INTER_AREA);
    EXPECT_TRUE(blazeface->detect(small).empty()) << "blazeface false positive, background seed " << seed;
    EXPECT_TRUE(haar->detect(small).empty()) << "haar false positive, background seed " << seed;
  }
}

TEST(FaceDetector, TilingFindsSmallFaces) {
  // 24-40 px faces in a 1280-wide frame are ~5-8 px at the model's input
  // without tiling; 3x2 tiles bring them to ~12-20 px.
  gt::Scene scene(kFrameSize, 30, kSeed);
  gt::FaceLayerOptions options;
  options.frames = kFrames;
  options.seed = kSeed;
  options.small_face_share = 1.0;
  options.smallest_face_height = 32;
  scene.add(std::make_unique<gt::FaceLayer>(kFrameSize, gt::loadFaceSprites(), options));
  faces::DetectorOptions whole;
  faces::DetectorOptions tiled;
  tiled.tiles = {3, 2};
  auto whole_detector = faces::makeFaceDetector(whole);
  auto tiled_detector = faces::makeFaceDetector(tiled);
  int small_faces = 0, found_whole = 0, found_tiled = 0;
  for (std::int64_t frame = 60; frame < kFrames; frame += 3 * kFrameStep) {
    gt::FrameTruth truth;
    const cv::Mat image = scene.render(frame, truth);
    auto found = [&](const std::vector<faces::Face>& detections, const cv::Rect& box) {
      return std::any_of(detections.begin(), detections.end(), [&](const faces::Face& face) {
        const double overlap = (face.box & cv::Rect2f(box)).area();
        return overlap / (face.box.area() + box.area() - overlap) >= 0.3;
      });
    };
    const auto in_whole = whole_detector->detect(image);
    const auto in_tiles = tiled_detector->detect(image);
    for (const auto& object : truth.objects) {
      if (object.occluded) continue;
      ++small_faces;
      found_whole += found(in_whole, object.box);
      found_tiled += found(in_tiles, object.box);
    }
  }
  ASSERT_GT(small_faces, 5);
  EXPECT_GT(found_tiled, found_whole) << "tiles " << found_tiled << " vs whole " << found_whole
                                      << " of " << small_faces;
}

TEST(FaceDetector, MissingModelIsAClearError) {
  faces::DetectorOptions options;
  options.model_path = "/nonexistent/blazeface.onnx";
  try {
    faces::makeFaceDetector(options);
    FAIL() << "a missing model must throw";
  } catch (const faces::ModelError& error) {
    EXPECT_NE(std::string(error.what()).find("/nonexistent/blazeface.onnx"), std::string::npos)
        << error.what();
  }
  options.backend = faces::Backend::Haar;
  options.model_path = "/nonexistent/cascade.xml";
  EXPECT_THROW(faces::makeFaceDetector(options), faces::ModelError);
}

TEST(FaceDetector, BrokenModelIsAClearError) {
  TempDir directory;
  const std::string garbage = directory.file("broken.onnx");
  std::ofstream(garbage) << "this is not an ONNX protobuf";
  faces::DetectorOptions options;
  options.model_path = garbage;
  EXPECT_THROW(faces::makeFaceDetector(options), faces::ModelError);

  // Truncated: a real model cut in half.
  const std::string truncated = directory.file("truncated.onnx");
  {
    std::ifstream real(faces::defaultModelPath(faces::Backend::BlazeFace), std::ios::binary);
    ASSERT_TRUE(real) << "BlazeFace model not installed: run scripts/models/blazeface.sh";
    std::string bytes((std::istreambuf_iterator<char>(real)), std::istreambuf_iterator<char>());
    std::ofstream(truncated, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  }
  options.model_path = truncated;
  EXPECT_THROW(faces::makeFaceDetector(options), faces::ModelError);

  // A valid file of the wrong kind: the Haar cascade given to BlazeFace.
  options.model_path = faces::defaultModelPath(faces::Backend::Haar);
  EXPECT_THROW(faces::makeFaceDetector(options), faces::ModelError);

  options.backend = faces::Backend::Haar;
  options.model_path = garbage;
  EXPECT_THROW(faces::makeFaceDetector(options), faces::ModelError);
}

TEST(FaceDetector, BackendNamesAndBadInput) {
  EXPECT_EQ(faces::backendFromName("blazeface"), faces::Backend::BlazeFace);
  EXPECT_EQ(faces::backendFromName("haar"), faces::Backend::Haar);
  EXPECT_THROW(faces::backendFromName("yolo"), std::invalid_argument);
  auto detector = faces::makeFaceDetector({});
  EXPECT_TRUE(detector->detect(cv::Mat()).empty());
  EXPECT_THROW(detector->detect(cv::Mat(10, 10, CV_8UC1)), std::invalid_argument);
  EXPECT_NO_THROW(detector->detect(cv::Mat(1, 1, CV_8UC3, cv::Scalar::all(0))));
}

}  // namespace
