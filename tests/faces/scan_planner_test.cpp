// ScanPlanner: where detector passes go (first frame whole, periodic scans of
// the stalest tile, unexplained motion and lost faces at once, spacing and no
// starvation), and ChangeMask, whose output it reads.
#include "vigil/vision/change_mask.hpp"
#include "vigil/faces/scan_planner.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include <map>
#include <vector>

namespace {

using vigil::vision::ChangeMask;
using vigil::faces::ScanPlan;
using vigil::faces::ScanPlanner;
using vigil::faces::ScanPlannerOptions;

// A 1280x720 frame seen through a 320x180 grey copy, cut into two tiles.
constexpr float kScale = 0.25f;
const std::vector<cv::Rect2f> kTiles{{0.f, 0.f, 640.f, 720.f}, {640.f, 0.f, 640.f, 720.f}};

cv::Mat noChange() { return cv::Mat(180, 320, CV_8UC1, cv::Scalar(0)); }

// A change mask with a filled block, given in frame pixels.
cv::Mat changeAt(const cv::Rect& frame_pixels) {
  cv::Mat mask = noChange();
  const cv::Rect grey(frame_pixels.x / 4, frame_pixels.y / 4, frame_pixels.width / 4, frame_pixels.height / 4);
  mask(grey).setTo(255);
  return mask;
}

ScanPlannerOptions options(int interval) {
  ScanPlannerOptions o;
  o.interval = interval;
  return o;
}

TEST(ScanPlanner, FirstFrameScansEveryTileThenPeriodicScansTakeTheStalest) {
  ScanPlanner planner(options(3));
  EXPECT_EQ(planner.plan({}, kScale, kTiles, {}, {}, 0).tiles, (std::vector<std::size_t>{0, 1}));
  std::map<std::int64_t, std::size_t> scans;
  for (std::int64_t frame = 1; frame <= 12; ++frame) {
    const ScanPlan plan = planner.plan(noChange(), kScale, kTiles, {}, {}, frame);
    ASSERT_LE(plan.tiles.size(), 1u);
    if (!plan.tiles.empty()) scans[frame] = plan.tiles[0];
    EXPECT_FALSE(plan.for_motion);
  }
  EXPECT_EQ(scans, (std::map<std::int64_t, std::size_t>{{3, 0}, {6, 1}, {9, 0}, {12, 1}}));
}

TEST(ScanPlanner, UnexplainedMotionScansItsTileAtOnce) {
  ScanPlanner planner(options(30));
  planner.plan({}, kScale, kTiles, {}, {}, 0);
  EXPECT_TRUE(planner.plan(noChange(), kScale, kTiles, {}, {}, 1).tiles.empty());
  // Someone walks in at the bottom of the right half: a 64x64 px change.
  const ScanPlan plan = planner.plan(changeAt({900, 640, 64, 64}), kScale, kTiles, {}, {}, 5);
  EXPECT_EQ(plan.tiles, (std::vector<std::size_t>{1}));
  EXPECT_TRUE(plan.for_motion);
}

TEST(ScanPlanner, SmallChangesAddUpUntilTheTileIsScanned) {
  ScanPlanner planner(options(30));
  planner.plan({}, kScale, kTiles, {}, {}, 0);
  // 32x32 px a frame: ~1000 px, a third of what one scan needs.
  std::vector<std::int64_t> scanned_at;
  for (std::int64_t frame = 1; frame <= 8; ++frame) {
    if (!planner.plan(changeAt({100, 300, 32, 32}), kScale, kTiles, {}, {}, frame).tiles.empty()) {
      scanned_at.push_back(frame);
    }
  }
  EXPECT_EQ(scanned_at, (std::vector<std::int64_t>{3, 6})) << "after three frames of change, twice";
}

TEST(ScanPlanner, MotionAroundATrackedFaceIsItsOwn) {
  ScanPlanner planner(options(30));
  planner.plan({}, kScale, kTiles, {}, {}, 0);
  const std::vector<cv::Rect2f> tracked{{900.f, 300.f, 64.f, 64.f}};
  for (std::int64_t frame = 1; frame <= 10; ++frame) {
    // The face and its shoulders move.
    EXPECT_TRUE(planner.plan(changeAt({880, 280, 104, 180}), kScale, kTiles, tracked, {}, frame).tiles.empty())
        << "frame " << frame;
  }
  // The same change with nobody tracked there is an arrival.
  EXPECT_FALSE(planner.plan(changeAt({880, 280, 104, 180}), kScale, kTiles, {}, {}, 11).tiles.empty());
}

TEST(ScanPlanner, ALostFaceAsksForItsTile) {
  ScanPlanner planner(options(30));
  planner.plan({}, kScale, kTiles, {}, {}, 0);
  const std::vector<cv::Rect2f> lost{{200.f, 300.f, 64.f, 64.f}};
  const ScanPlan plan = planner.plan(noChange(), kScale, kTiles, {}, lost, 4);
  EXPECT_EQ(plan.tiles, (std::vector<std::size_t>{0}));
  EXPECT_TRUE(plan.for_motion);
}

TEST(ScanPlanner, EndlessMotionIsSpacedAndCannotStarveTheOtherTile) {
  ScanPlannerOptions o = options(5);
  o.motion_gap = 3;
  ScanPlanner planner(o);
  planner.plan({}, kScale, kTiles, {}, {}, 0);
  std::vector<std::int64_t> left, right;
  for (std::int64_t frame = 1; frame <= 60; ++frame) {
    // The left half never stops moving (a fan, a screen).
    const ScanPlan plan = planner.plan(changeAt({0, 0, 640, 720}), kScale, kTiles, {}, {}, frame);
    ASSERT_LE(plan.tiles.size(), 1u) << "one pass per frame at most";
    if (plan.tiles.empty()) continue;
    (plan.tiles[0] == 0 ? left : right).push_back(frame);
  }
  for (std::size_t i = 1; i < left.size(); ++i) EXPECT_GE(left[i] - left[i - 1], 3);
  ASSERT_FALSE(right.empty());
  std::int64_t previous = 0;
  for (std::int64_t frame : right) {
    EXPECT_LE(frame - previous, 2 * 5 + 3) << "the still tile is scanned within about two intervals";
    previous = frame;
  }
}

TEST(ScanPlanner, WithoutMotionScanOnlyPeriodicScans) {
  ScanPlannerOptions o = options(4);
  o.on_motion = false;
  ScanPlanner planner(o);
  planner.plan({}, kScale, kTiles, {}, {}, 0);
  int passes = 0;
  for (std::int64_t frame = 1; frame <= 20; ++frame) {
    passes += static_cast<int>(
        planner.plan(changeAt({0, 0, 1280, 720}), kScale, kTiles, {}, {{10.f, 10.f, 50.f, 50.f}}, frame)
            .tiles.size());
  }
  EXPECT_EQ(passes, 5);
}

TEST(ScanPlanner, ScanAllCoversEveryTileOnPeriodicScans) {
  ScanPlannerOptions o = options(4);
  o.scan_all = true;
  ScanPlanner planner(o);
  planner.plan({}, kScale, kTiles, {}, {}, 0);
  for (std::int64_t frame = 1; frame <= 3; ++frame) EXPECT_TRUE(planner.plan(noChange(), kScale, kTiles, {}, {}, frame).tiles.empty());
  EXPECT_EQ(planner.plan(noChange(), kScale, kTiles, {}, {}, 4).tiles, (std::vector<std::size_t>{0, 1}));
}

TEST(ChangeMask, MarksWhatMovedBeyondTheNoiseLevel) {
  ChangeMask changes(16);
  cv::Mat grey(180, 320, CV_8UC1, cv::Scalar(100));
  EXPECT_TRUE(changes.update(grey).empty()) << "nothing to compare the first frame with";
  cv::Mat next = grey.clone();
  next += cv::Scalar(10);                                // noise-sized everywhere
  next(cv::Rect(40, 50, 10, 20)).setTo(cv::Scalar(200));  // something moved here
  const cv::Mat& mask = changes.update(next);
  ASSERT_EQ(mask.size(), grey.size());
  EXPECT_EQ(cv::countNonZero(mask), 10 * 20);
  EXPECT_EQ(vigil::vision::changedPixels(mask, cv::Rect(40, 50, 10, 20)), 200);
  EXPECT_EQ(vigil::vision::changedPixels(mask, cv::Rect(300, 160, 100, 100)), 0) << "clipped to the mask";
  EXPECT_TRUE(changes.update(cv::Mat(90, 160, CV_8UC1, cv::Scalar(0))).empty()) << "a new size starts over";
}

}  // namespace
