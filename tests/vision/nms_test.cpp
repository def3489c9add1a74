// vigil::vision::suppressOverlaps: best score first, overlapping boxes
// dropped by IoU, boxes inside a better one dropped only when asked.
#include "vigil/vision/nms.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace {

struct Box {
  cv::Rect2f box;
  float score = 0.f;
};

TEST(SuppressOverlaps, KeepsTheBestOfOverlappingBoxesAndEveryDisjointOne) {
  const std::vector<Box> found = {{{0, 0, 100, 100}, 0.6f},
                                  {{10, 10, 100, 100}, 0.9f},  // IoU 0.68 with the first
                                  {{300, 0, 50, 50}, 0.7f}};
  const std::vector<Box> kept = vigil::vision::suppressOverlaps(found, 0.3f);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_FLOAT_EQ(kept[0].score, 0.9f) << "best score first";
  EXPECT_FLOAT_EQ(kept[1].score, 0.7f);
}

TEST(SuppressOverlaps, KeepsBoxesThatOverlapLessThanTheLimit) {
  const std::vector<Box> found = {{{0, 0, 100, 100}, 0.9f}, {{60, 0, 100, 100}, 0.8f}};  // IoU 0.25
  EXPECT_EQ(vigil::vision::suppressOverlaps(found, 0.3f).size(), 2u);
  EXPECT_EQ(vigil::vision::suppressOverlaps(found, 0.2f).size(), 1u);
}

TEST(SuppressOverlaps, DropsABoxInsideABetterOneOnlyWhenAsked) {
  // A word inside its plate: IoU 0.1, but wholly inside.
  const std::vector<Box> found = {{{0, 0, 200, 50}, 0.9f}, {{20, 10, 50, 20}, 0.5f}};
  EXPECT_EQ(vigil::vision::suppressOverlaps(found, 0.3f).size(), 2u) << "by default only IoU counts";
  EXPECT_EQ(vigil::vision::suppressOverlaps(found, 0.3f, 0.8f).size(), 1u);
}

TEST(SuppressOverlaps, NothingInNothingOut) {
  EXPECT_TRUE(vigil::vision::suppressOverlaps(std::vector<Box>{}, 0.3f).empty());
}

}  // namespace
