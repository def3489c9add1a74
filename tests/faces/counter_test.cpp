// vigil::faces::FaceCounter on cv::Mat, without GStreamer: generated scenes
// with real face crops and known boxes in, counts per frame and per zone out;
// nothing on face-free frames; the emit policy and the detector's schedule.
#include "vigil/faces/face_counter.hpp"
#include "vigil/groundtruth/face_layer.hpp"
#include "vigil/groundtruth/face_score.hpp"
#include "vigil/groundtruth/scene.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include <map>
#include <memory>
#include <string>

namespace {

namespace gt = vigil::groundtruth;
namespace faces = vigil::faces;

const cv::Size kFrameSize(1280, 720);
constexpr int kFps = 30;
constexpr std::uint32_t kSeed = 5;

std::unique_ptr<faces::FaceCounter> makeCounter() {
  return std::make_unique<faces::FaceCounter>(faces::makeFaceDetector(faces::DetectorOptions{}));
}

faces::CountedFrame countBgr(faces::FaceCounter& counter, const cv::Mat& bgr, const faces::CounterSettings& settings,
                             std::int64_t frame) {
  cv::Mat luma;
  cv::cvtColor(bgr, luma, cv::COLOR_BGR2GRAY);
  return counter.count(luma, faces::bgrRegions(bgr), settings, static_cast<std::uint64_t>(frame) * 1000000000ull / kFps);
}

TEST(FaceCounter, CountsKnownFacesOverallAndPerZone) {
  gt::Scene scene(kFrameSize, kFps, kSeed);
  gt::FaceLayerOptions options;
  options.frames = 200;
  options.seed = kSeed;
  options.spots = 8;
  auto layer = std::make_unique<gt::FaceLayer>(kFrameSize, gt::loadFaceSprites(), options);
  const std::string zone_text = layer->queueZones();
  scene.add(std::move(layer));

  faces::CounterSettings settings;
  settings.interval = 1;
  settings.smoothing = 1;
  settings.emit = faces::Emit::EveryFrame;
  settings.zones = std::make_shared<std::vector<faces::Zone>>(faces::parseZones(zone_text));
  const auto counter = makeCounter();
  int frames_with_faces = 0;
  for (std::int64_t frame = 60; frame < 100; ++frame) {
    gt::FrameTruth truth;
    const faces::CountedFrame counted = countBgr(*counter, scene.render(frame, truth), settings, frame);
    EXPECT_TRUE(counted.publish) << "emit=every-frame publishes every frame";
    EXPECT_EQ(counted.count, static_cast<int>(counted.faces.size())) << "frame " << frame;
    ASSERT_EQ(counted.zone_counts.size(), settings.zones->size());
    ASSERT_EQ(counter->zones().size(), settings.zones->size());
    // Faces that must be found bound the count from below; small or cut
    // faces ("don't care") may be found too.
    int must = 0, may = 0;
    std::map<std::string, int> must_in, may_in;
    for (const auto& object : truth.objects) {
      const bool evaluated = gt::isEvaluatedFace(object);
      (evaluated ? must : may) += 1;
      const cv::Point2f centre((object.box.x + object.box.width / 2.f) / kFrameSize.width,
                               (object.box.y + object.box.height / 2.f) / kFrameSize.height);
      for (const auto& zone : *settings.zones) {
        if (zone.contains(centre)) (evaluated ? must_in : may_in)[zone.name] += 1;
      }
    }
    EXPECT_GE(counted.count, must) << "frame " << frame;
    EXPECT_LE(counted.count, must + may) << "frame " << frame;
    for (std::size_t z = 0; z < settings.zones->size(); ++z) {
      const std::string& name = (*settings.zones)[z].name;
      EXPECT_GE(counted.zone_counts[z], must_in[name]) << "frame " << frame << " zone " << name;
      EXPECT_LE(counted.zone_counts[z], must_in[name] + may_in[name]) << "frame " << frame << " zone " << name;
    }
    frames_with_faces += must > 0 ? 1 : 0;
  }
  EXPECT_GE(frames_with_faces, 30) << "the scene should show faces in most frames";
}

TEST(FaceCounter, NothingOnFaceFreeFrames) {
  faces::CounterSettings settings;
  settings.interval = 1;
  settings.smoothing = 1;
  const auto counter = makeCounter();
  for (std::uint32_t seed = 20; seed < 26; ++seed) {
    const faces::CountedFrame counted = countBgr(*counter, gt::makeBackground(kFrameSize, seed), settings, seed);
    EXPECT_TRUE(counted.faces.empty()) << "false positive on background " << seed;
    EXPECT_EQ(counted.count, 0);
    EXPECT_GT(counted.scans, 0u) << "interval 1 scans every frame";
  }
}

// On a still picture the detector runs on the first frame (every tile) and
// then once per interval; counts are published on the first frame and then
// at the heartbeat only.
TEST(FaceCounter, StillPictureCostsPeriodicScansAndHeartbeats) {
  faces::CounterSettings settings;
  settings.interval = 30;
  settings.heartbeat_ms = 1000;  // 30 frames at 30 fps
  const auto counter = makeCounter();
  const cv::Mat still = gt::makeBackground(kFrameSize, 7);
  std::size_t scans = 0;
  std::vector<std::int64_t> published;
  for (std::int64_t frame = 0; frame < 61; ++frame) {
    const faces::CountedFrame counted = countBgr(*counter, still, settings, frame);
    scans += counted.scans;
    EXPECT_FALSE(counted.for_motion) << "nothing moves, frame " << frame;
    if (counted.publish) published.push_back(frame);
  }
  EXPECT_EQ(scans, 2u + 2u) << "both 16:9 tiles at first, then one tile every 30 frames";
  EXPECT_EQ(published, (std::vector<std::int64_t>{0, 30, 60}));
}

TEST(FaceCounter, RefusesWhatItCannotCount) {
  EXPECT_THROW(faces::FaceCounter(nullptr), std::invalid_argument);
  const auto counter = makeCounter();
  const cv::Mat colour(kFrameSize, CV_8UC3, cv::Scalar::all(128));
  EXPECT_THROW(counter->count(colour, faces::bgrRegions(colour), {}, 0), std::invalid_argument)
      << "the luma plane is one channel";
}

}  // namespace
