// Plate detectors on rendered plates (positive) and plate-free scenes
// (negative), backend selection errors, and YOLO output decoding.
#include "vigil/groundtruth/plates.hpp"
#include "vigil/plates/detector.hpp"
#include "vigil/plates/yolo.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

namespace {

using vigil::groundtruth::PlateStyle;

// A plate of `width` pixels pasted onto a textured background.
cv::Mat sceneWithPlate(PlateStyle style, int width, cv::Rect& where) {
  cv::Mat frame = vigil::groundtruth::makeBackground({1280, 720}, 3);
  const cv::Mat plate = vigil::groundtruth::renderPlate(style, style == PlateStyle::Us ? "7ABC123" : "AB12 CDE");
  cv::Mat scaled;
  cv::resize(plate, scaled, cv::Size(width, width * plate.rows / plate.cols), 0, 0, cv::INTER_AREA);
  where = cv::Rect(500, 400, scaled.cols, scaled.rows);
  scaled.copyTo(frame(where));
  return frame;
}

bool covers(const std::vector<vigil::plates::PlateDetection>& found, double scale, const cv::Rect& plate) {
  for (const auto& d : found) {
    const cv::Rect2f box(d.box.x / scale, d.box.y / scale, d.box.width / scale, d.box.height / scale);
    if ((box & cv::Rect2f(plate)).area() >= 0.7f * plate.area()) return true;
  }
  return false;
}

class EdgeLocaliserTest : public ::testing::TestWithParam<std::tuple<PlateStyle, int>> {};

TEST_P(EdgeLocaliserTest, FindsRenderedPlate) {
  const auto [style, width] = GetParam();
  cv::Rect plate;
  const cv::Mat frame = sceneWithPlate(style, width, plate);
  auto detector = vigil::plates::makePlateDetector("edges");
  double scale = 1.0;
  const auto found = detector->detect(vigil::plates::prepareInput(frame, detector->input(), &scale));
  EXPECT_TRUE(covers(found, scale, plate))
      << vigil::groundtruth::plateStyleName(style) << " plate " << width << " px wide not found ("
      << found.size() << " detections)";
}

INSTANTIATE_TEST_SUITE_P(StylesAndSizes, EdgeLocaliserTest,
                         ::testing::Combine(::testing::Values(PlateStyle::Eu, PlateStyle::UkFront,
                                                              PlateStyle::UkRear, PlateStyle::Us),
                                            ::testing::Values(70, 140, 260)));

TEST(EdgeLocaliser, IgnoresPlateFreeScene) {
  vigil::groundtruth::Scene scene({1280, 720}, 30.0, 5);
  vigil::groundtruth::PlateLayerOptions options;
  options.with_plates = false;
  options.frames = 30;
  scene.add(std::make_unique<vigil::groundtruth::PlateLayer>(cv::Size(1280, 720), 5, options));
  auto detector = vigil::plates::makePlateDetector("edges");
  double covered = 0.0;
  for (int frame = 0; frame < 30; frame += 5) {
    vigil::groundtruth::FrameTruth truth;
    const cv::Mat image = scene.render(frame, truth);
    ASSERT_TRUE(truth.objects.empty());
    double scale = 1.0;
    for (const auto& d : detector->detect(vigil::plates::prepareInput(image, detector->input(), &scale))) {
      covered += d.box.area() / (scale * scale) / (1280.0 * 720.0);
    }
  }
  EXPECT_LT(covered / 6, 0.01) << "false detections cover too much of plate-free frames";
}

TEST(EdgeLocaliser, FlatImageHasNoPlates) {
  auto detector = vigil::plates::makePlateDetector("edges");
  EXPECT_TRUE(detector->detect(cv::Mat(540, 960, CV_8UC1, cv::Scalar(128))).empty());
}

TEST(PlateDetector, HaarBackendLoadsAndRunsOnNegative) {
  auto detector = vigil::plates::makePlateDetector("haar");
  EXPECT_TRUE(detector->detect(cv::Mat(360, 640, CV_8UC1, cv::Scalar(90))).empty());
}

TEST(PlateDetector, BadBackendsAreClearErrors) {
  EXPECT_THROW(vigil::plates::makePlateDetector("nonsense"), std::invalid_argument);
  EXPECT_THROW(vigil::plates::makePlateDetector("onnx"), std::runtime_error);
  vigil::plates::DetectorOptions missing;
  missing.model_path = "/nonexistent/plates.onnx";
  EXPECT_THROW(vigil::plates::makePlateDetector("onnx", missing), std::runtime_error);
  missing.model_path = "/nonexistent/cascade.xml";
  EXPECT_THROW(vigil::plates::makePlateDetector("haar", missing), std::runtime_error);
  auto detector = vigil::plates::makePlateDetector("edges");
  EXPECT_THROW(detector->detect(cv::Mat()), std::invalid_argument);
}

// ---- YOLO decoding on synthetic tensors ----

cv::Mat tensor(int a, int b) {
  const int sizes[] = {1, a, b};
  return cv::Mat(3, sizes, CV_32F, cv::Scalar(0));
}

TEST(YoloDecode, V5RowsWithObjectnessAndLetterbox) {
  // 640x640 input for a 1280x720 source: scale 0.5, 140 px bars above and below.
  const auto letterbox = vigil::plates::fitLetterbox({1280, 720}, 640);
  ASSERT_DOUBLE_EQ(letterbox.scale, 0.5);
  ASSERT_DOUBLE_EQ(letterbox.pad_y, 140.0);
  cv::Mat out = tensor(100, 6);  // N=100 boxes, one class
  float* row = out.ptr<float>() + 7 * 6;
  row[0] = 320; row[1] = 320; row[2] = 50; row[3] = 20; row[4] = 0.9f; row[5] = 0.8f;
  float* weak = out.ptr<float>() + 8 * 6;
  weak[0] = 100; weak[1] = 200; weak[2] = 10; weak[3] = 10; weak[4] = 0.2f; weak[5] = 0.9f;
  EXPECT_EQ(vigil::plates::detectYoloLayout(out), vigil::plates::YoloLayout::V5RowsPerBox);
  const auto found = vigil::plates::decodeYolo(out, letterbox, 0.5f);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NEAR(found[0].score, 0.72f, 1e-5);
  EXPECT_NEAR(found[0].box.x, (320 - 25) / 0.5, 1e-3);
  EXPECT_NEAR(found[0].box.y, (320 - 10 - 140) / 0.5, 1e-3);
  EXPECT_NEAR(found[0].box.width, 100, 1e-3);
  EXPECT_NEAR(found[0].box.height, 40, 1e-3);
}

TEST(YoloDecode, V8ColumnsWithoutObjectness) {
  const auto letterbox = vigil::plates::fitLetterbox({640, 640}, 640);
  cv::Mat out = tensor(6, 300);  // 4 + 2 classes, 300 boxes
  auto set = [&](int field, int box, float value) { out.ptr<float>()[field * 300 + box] = value; };
  set(0, 42, 100); set(1, 42, 50); set(2, 42, 40); set(3, 42, 20);
  set(4, 42, 0.1f); set(5, 42, 0.7f);  // best class is the second
  EXPECT_EQ(vigil::plates::detectYoloLayout(out), vigil::plates::YoloLayout::V8ColumnsPerBox);
  const auto found = vigil::plates::decodeYolo(out, letterbox, 0.5f);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NEAR(found[0].score, 0.7f, 1e-6);
  EXPECT_NEAR(found[0].box.x, 80, 1e-3);
  EXPECT_NEAR(found[0].box.y, 40, 1e-3);
}

TEST(YoloDecode, RejectsOtherShapes) {
  const int sizes[] = {1, 3, 3};
  EXPECT_THROW(vigil::plates::detectYoloLayout(cv::Mat(3, sizes, CV_32F)), std::invalid_argument);
  EXPECT_THROW(vigil::plates::detectYoloLayout(cv::Mat(4, 4, CV_32F)), std::invalid_argument);
}

}  // namespace
