// FaceTracker with partial scans (one tile per pass), distance continuation,
// velocity from the second detection, following between detections (standing
// faces held without a search, lost faces counted, faces cut by the edge);
// and the tiles' owned parts that one-tile scans rely on.
#include "vigil/vision/change_mask.hpp"
#include "vigil/faces/face_detector.hpp"
#include "vigil/faces/face_tracker.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

namespace {

using vigil::vision::ChangeMask;
using vigil::faces::FaceDetection;
using vigil::faces::FaceTracker;

const cv::Rect2f kFrame(0.f, 0.f, 1280.f, 720.f);
const cv::Rect2f kLeftHalf(0.f, 0.f, 640.f, 720.f);
const cv::Rect2f kRightHalf(640.f, 0.f, 640.f, 720.f);

TEST(FaceTracker, FacesOutsideTheScannedRegionAreCarriedNotMissed) {
  FaceTracker tracker;
  tracker.update({{cv::Rect2f(100, 300, 60, 60), 0.9f}, {cv::Rect2f(900, 300, 60, 60), 0.9f}}, 0, kFrame, kFrame);
  for (std::int64_t frame = 3; frame <= 30; frame += 3) {
    tracker.update({{cv::Rect2f(100, 300, 60, 60), 0.9f}}, frame, kLeftHalf, kFrame);
  }
  ASSERT_EQ(tracker.tracks().size(), 2u);
  for (const auto& track : tracker.tracks()) EXPECT_EQ(track.misses, 0) << "track " << track.id;
  // Scanned and not found: a miss, and gone after max_misses.
  for (std::int64_t frame = 33; frame <= 45; frame += 3) tracker.update({}, frame, kRightHalf, kFrame);
  ASSERT_EQ(tracker.tracks().size(), 1u);
  EXPECT_LT(tracker.tracks()[0].box.x, 640.f);
}

TEST(FaceTracker, WalkerKeepsItsTrackAndGetsItsWholeVelocity) {
  FaceTracker tracker;
  // 20 px per frame upwards, detections 6 frames apart: 120 px, twice the
  // face height, so no overlap with the unmoved box.
  tracker.update({{cv::Rect2f(300, 600, 60, 60), 0.9f}}, 0, kFrame, kFrame);
  tracker.update({{cv::Rect2f(300, 480, 60, 60), 0.9f}}, 6, kFrame, kFrame);
  ASSERT_EQ(tracker.tracks().size(), 1u) << "continued by distance";
  EXPECT_EQ(tracker.tracks()[0].hits, 2);
  EXPECT_NEAR(tracker.tracks()[0].velocity.y, -20.f, 0.01f);
  const auto predicted = tracker.predict(9);
  EXPECT_NEAR(predicted[0].box.y, 420.f, 0.01f);
  // A distant face of another size starts its own track.
  tracker.update({{cv::Rect2f(300, 360, 60, 60), 0.9f}, {cv::Rect2f(1100, 100, 150, 150), 0.9f}}, 12, kFrame,
                 kFrame);
  EXPECT_EQ(tracker.tracks().size(), 2u);
}

TEST(FaceTracker, FollowsAFaceThatStopsBetweenDetections) {
  cv::Mat grey(180, 320, CV_8UC1, cv::Scalar(90));
  const auto drawFace = [&](cv::Mat& image, cv::Point at) {
    image.setTo(90);
    cv::circle(image, at + cv::Point(8, 8), 8, cv::Scalar(220), cv::FILLED);
    cv::circle(image, at + cv::Point(5, 6), 2, cv::Scalar(20), cv::FILLED);
    cv::circle(image, at + cv::Point(11, 6), 2, cv::Scalar(20), cv::FILLED);
    cv::line(image, at + cv::Point(5, 12), at + cv::Point(11, 12), cv::Scalar(20), 1);
  };
  constexpr float kScale = 0.25f;
  FaceTracker tracker;
  ChangeMask changes;
  // Detected walking up 20 px per frame, then it stops: the prediction would
  // run on, following its appearance keeps it on the face.
  tracker.update({{cv::Rect2f(400, 600, 64, 64), 0.9f}}, 0, kFrame, kFrame);
  drawFace(grey, cv::Point(100, 150));
  changes.update(grey);
  tracker.update({{cv::Rect2f(400, 480, 64, 64), 0.9f}}, 6, kFrame, kFrame);
  drawFace(grey, cv::Point(100, 120));
  tracker.follow(grey, changes.update(grey), kScale, 6);
  for (std::int64_t frame = 7; frame <= 11; ++frame) {
    drawFace(grey, cv::Point(100, 120 - 5 * static_cast<int>(std::min<std::int64_t>(frame - 6, 2))));
    tracker.follow(grey, changes.update(grey), kScale, frame);
  }
  const auto at = tracker.predict(11);
  ASSERT_EQ(at.size(), 1u);
  EXPECT_NEAR(at[0].box.y, 440.f, 8.f) << "stopped 40 px above the last detection";
  EXPECT_EQ(at[0].unfollowed, 0);
}

TEST(FaceTracker, AStandingFaceIsHeldAndOneThatLeftIsLost) {
  constexpr float kScale = 0.25f;
  cv::Mat grey(180, 320, CV_8UC1, cv::Scalar(90));
  cv::circle(grey, cv::Point(108, 108), 8, cv::Scalar(220), cv::FILLED);
  cv::circle(grey, cv::Point(105, 106), 2, cv::Scalar(20), cv::FILLED);
  FaceTracker tracker;
  ChangeMask changes;
  tracker.update({{cv::Rect2f(400, 400, 64, 64), 0.9f}}, 0, kFrame, kFrame);
  tracker.follow(grey, changes.update(grey), kScale, 0);
  for (std::int64_t frame = 1; frame <= 5; ++frame) tracker.follow(grey, changes.update(grey), kScale, frame);
  ASSERT_EQ(tracker.tracks().size(), 1u);
  EXPECT_EQ(tracker.tracks()[0].unfollowed, 0) << "nothing changed: still there";
  EXPECT_EQ(tracker.tracks()[0].last_seen_frame, 5);
  EXPECT_FLOAT_EQ(tracker.tracks()[0].box.y, 400.f);

  // The person walks off: the background where the face was no longer
  // matches, and once the picture is still again the track must not be taken
  // for a standing face.
  grey.setTo(90);
  for (std::int64_t frame = 6; frame <= 9; ++frame) tracker.follow(grey, changes.update(grey), kScale, frame);
  ASSERT_EQ(tracker.tracks().size(), 1u);
  EXPECT_EQ(tracker.tracks()[0].unfollowed, 4) << "lost on every frame since it left";
}

TEST(FaceTracker, FollowsAFaceCutByThePictureEdge) {
  constexpr float kScale = 0.25f;
  cv::Mat grey(180, 320, CV_8UC1, cv::Scalar(90));
  // A textured 20x20 (grey pixels) face walking in from the left, 4 px a frame.
  cv::Mat face(20, 20, CV_8UC1);
  cv::randu(face, 0, 255);
  const auto draw = [&](int left) {
    grey.setTo(90);
    const cv::Rect where(left, 100, 20, 20);
    const cv::Rect visible = where & cv::Rect(0, 0, grey.cols, grey.rows);
    face(cv::Rect(visible.tl() - where.tl(), visible.size())).copyTo(grey(visible));
  };
  FaceTracker tracker;
  ChangeMask changes;
  draw(-8);  // 12 of 20 columns in the picture; the box runs off the left edge
  tracker.update({{cv::Rect2f(-32, 400, 80, 80), 0.9f}}, 0, kFrame, kFrame);
  tracker.follow(grey, changes.update(grey), kScale, 0);
  for (std::int64_t frame = 1; frame <= 3; ++frame) {
    draw(-8 + 4 * static_cast<int>(frame));
    tracker.follow(grey, changes.update(grey), kScale, frame);
  }
  ASSERT_EQ(tracker.tracks().size(), 1u);
  EXPECT_EQ(tracker.tracks()[0].unfollowed, 0);
  EXPECT_NEAR(tracker.tracks()[0].box.x, -32.f + 3 * 16.f, 4.f) << "moved in with its visible part";
}

TEST(FaceDetectorTiles, OwnedPartsCoverTheImageOnce) {
  vigil::faces::DetectorOptions options;
  options.backend = vigil::faces::Backend::Haar;
  auto detector = vigil::faces::makeFaceDetector(options);
  const cv::Size size(461, 259);
  for (const vigil::faces::TileGrid grid : {vigil::faces::TileGrid{1, 1}, vigil::faces::TileGrid{2, 1},
                                            vigil::faces::TileGrid{2, 2}, vigil::faces::TileGrid{3, 2}}) {
    detector->setTiles(grid);
    const auto tiles = detector->tiles(size);
    ASSERT_EQ(tiles.size(), static_cast<std::size_t>(grid.cols * grid.rows));
    cv::Mat covered(size, CV_32S, cv::Scalar(0));
    for (const auto& tile : tiles) {
      EXPECT_EQ(tile.owned & tile.rect, tile.owned) << "a tile owns only what it sees";
      covered(tile.owned) += 1;
    }
    double least = 0, most = 0;
    cv::minMaxLoc(covered, &least, &most);
    EXPECT_EQ(least, 1.0) << grid.cols << "x" << grid.rows;
    EXPECT_EQ(most, 1.0) << grid.cols << "x" << grid.rows;
  }
  const cv::Mat blank(size, CV_8UC3, cv::Scalar::all(0));
  EXPECT_TRUE(detector->detectWhole(blank(detector->tiles(size)[0].rect)).empty()) << "nothing on a blank tile";
}

}  // namespace
