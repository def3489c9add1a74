// facecount under GstHarness: real frames with known faces in, face regions
// and the `faces` analysis summary out; emit policy; properties changed from
// another thread while frames flow; clear errors for a bad model or zones.
#include "vigil/analytics/registry.hpp"
#include "vigil/faces/zones.hpp"
#include "vigil/groundtruth/face_layer.hpp"
#include "vigil/groundtruth/face_score.hpp"
#include "vigil/gst/meta.hpp"
#include "vigil/gst/ptr.hpp"
#include "vigil/tracking/iou_tracker.hpp"

#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <map>
#include <string>
#include <thread>

namespace {

namespace gt = vigil::groundtruth;
namespace vgst = vigil::gst;

const cv::Size kFrameSize(1280, 720);
constexpr int kFps = 30;
constexpr std::uint32_t kSeed = 5;
constexpr std::int64_t kSceneFrames = 200;
constexpr const char* kCaps = "video/x-raw,format=BGR,width=1280,height=720,framerate=30/1";

struct Face {
  cv::Rect box;
  double score = 0;
  std::int64_t track_id = -1;
};

struct Output {
  std::vector<Face> faces;
  bool has_summary = false;
  int count = -1;
  bool publish = false;
  std::map<std::string, int> zones;
};

Output readOutput(GstBuffer* buffer) {
  Output output;
  gpointer state = nullptr;
  while (GstMeta* meta = gst_buffer_iterate_meta_filtered(buffer, &state,
                                                          GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) {
    auto* roi = reinterpret_cast<GstVideoRegionOfInterestMeta*>(meta);
    EXPECT_STREQ(g_quark_to_string(roi->roi_type), vigil::analytics::kFaces.roi_type);
    Face face;
    face.box = cv::Rect(static_cast<int>(roi->x), static_cast<int>(roi->y), static_cast<int>(roi->w),
                        static_cast<int>(roi->h));
    const GstStructure* params = vgst::objectParams(roi);
    EXPECT_NE(params, nullptr) << "every face carries vigil-object params";
    if (params) {
      gint64 track_id = -1;
      EXPECT_TRUE(gst_structure_get_double(params, vgst::kFieldScore, &face.score));
      EXPECT_TRUE(gst_structure_get_int64(params, vgst::kFieldTrackId, &track_id));
      face.track_id = track_id;
    }
    output.faces.push_back(face);
  }
  for (GstStructure* summary : vgst::analyses(buffer)) {
    if (std::strcmp(vgst::analysisKind(summary), "faces") != 0) continue;
    EXPECT_FALSE(output.has_summary) << "one faces summary per frame";
    output.has_summary = true;
    EXPECT_STREQ(gst_structure_get_string(summary, vgst::kFieldRoiType), vigil::analytics::kFaces.roi_type);
    EXPECT_TRUE(gst_structure_get_int(summary, "count", &output.count));
    gboolean publish = FALSE;
    EXPECT_TRUE(gst_structure_get_boolean(summary, vgst::kFieldPublish, &publish));
    output.publish = publish;
    const GstStructure* zones = nullptr;
    EXPECT_TRUE(gst_structure_get(summary, "zones", GST_TYPE_STRUCTURE, &zones, nullptr));
    if (zones) {
      for (int i = 0; i < gst_structure_n_fields(zones); ++i) {
        const gchar* name = gst_structure_nth_field_name(zones, i);
        int value = -1;
        EXPECT_TRUE(gst_structure_get_int(zones, name, &value));
        output.zones[name] = value;
      }
      gst_structure_free(const_cast<GstStructure*>(zones));
    }
  }
  return output;
}

double overlap(const cv::Rect& a, const cv::Rect& b) { return vigil::tracking::iou(cv::Rect2f(a), cv::Rect2f(b)); }

class FaceCountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scene_ = std::make_unique<gt::Scene>(kFrameSize, kFps, kSeed);
    gt::FaceLayerOptions options;
    options.frames = kSceneFrames;
    options.seed = kSeed;
    options.spots = 8;
    auto layer = std::make_unique<gt::FaceLayer>(kFrameSize, gt::loadFaceSprites(), options);
    zones_ = layer->queueZones();
    scene_->add(std::move(layer));
  }

  void TearDown() override {
    counter_.reset();
    if (harness_) gst_harness_teardown(harness_);
  }

  void start(const std::string& properties) {
    harness_ = gst_harness_new_parse(("facecount " + properties).c_str());
    ASSERT_NE(harness_, nullptr);
    counter_.reset(gst_harness_find_element(harness_, "facecount"));
    ASSERT_NE(counter_, nullptr);
    gst_harness_set_src_caps_str(harness_, kCaps);
    gst_harness_play(harness_);
  }

  GstBuffer* bufferOf(const cv::Mat& bgr, std::int64_t frame) {
    const gsize bytes = bgr.total() * bgr.elemSize();
    GstBuffer* buffer = gst_buffer_new_allocate(nullptr, bytes, nullptr);
    gst_buffer_fill(buffer, 0, bgr.data, bytes);
    GST_BUFFER_PTS(buffer) = static_cast<GstClockTime>(frame) * GST_SECOND / kFps;
    GST_BUFFER_DURATION(buffer) = GST_SECOND / kFps;
    return buffer;
  }

  Output push(const cv::Mat& bgr, std::int64_t frame) {
    EXPECT_EQ(gst_harness_push(harness_, bufferOf(bgr, frame)), GST_FLOW_OK);
    vgst::BufferPtr out(gst_harness_pull(harness_));
    EXPECT_NE(out, nullptr);
    return out ? readOutput(out.get()) : Output{};
  }

  Output pushScene(std::int64_t frame, gt::FrameTruth& truth) {
    return push(scene_->render(frame, truth), frame);
  }

  std::unique_ptr<gt::Scene> scene_;
  std::string zones_;
  GstHarness* harness_ = nullptr;
  vgst::ElementPtr counter_;  // the facecount inside the harness' bin
};

TEST_F(FaceCountTest, ReportsKnownFacesCountAndZones) {
  ASSERT_NO_FATAL_FAILURE(start("interval=1 smoothing=1 emit=every-frame zones=\"" + zones_ + "\""));
  const auto zones = vigil::faces::parseZones(zones_);
  int checked_frames = 0;
  std::map<std::int64_t, std::int64_t> track_of_person;
  for (std::int64_t frame = 60; frame < 100; ++frame) {
    gt::FrameTruth truth;
    const Output output = pushScene(frame, truth);
    ASSERT_TRUE(output.has_summary) << "frame " << frame;
    EXPECT_TRUE(output.publish) << "emit=every-frame publishes every analysed frame";
    EXPECT_EQ(output.count, static_cast<int>(output.faces.size())) << "frame " << frame;
    for (const Face& face : output.faces) {
      EXPECT_GT(face.score, 0.0);
      EXPECT_LE(face.score, 1.0);
      EXPECT_GE(face.track_id, 1);
    }
    // Every evaluated face is found, with a track id stable over frames.
    // Small or half-visible faces ("don't care") may or may not be found, so
    // counts are bounded by the faces that must be found and those that may.
    std::map<std::string, int> must, may;
    for (const auto& zone : zones) must[zone.name] = may[zone.name] = 0;
    int must_total = 0, may_total = 0;
    for (const auto& object : truth.objects) {
      const bool evaluated = gt::isEvaluatedFace(object);
      (evaluated ? must_total : may_total) += 1;
      const cv::Point2f centre((object.box.x + object.box.width / 2.f) / kFrameSize.width,
                               (object.box.y + object.box.height / 2.f) / kFrameSize.height);
      for (const auto& zone : zones) {
        if (zone.contains(centre)) (evaluated ? must : may)[zone.name] += 1;
      }
      if (!evaluated) continue;
      const Face* best = nullptr;
      for (const Face& face : output.faces) {
        if (overlap(face.box, object.box) >= 0.3 &&
            (!best || overlap(face.box, object.box) > overlap(best->box, object.box))) {
          best = &face;
        }
      }
      EXPECT_NE(best, nullptr) << "frame " << frame << ": face " << object.id << " missed";
      if (best) {
        const auto [known, inserted] = track_of_person.emplace(object.id, best->track_id);
        EXPECT_EQ(known->second, best->track_id) << "frame " << frame << ": person " << object.id
                                                 << " changed track id";
      }
    }
    EXPECT_GE(output.count, must_total) << "frame " << frame;
    EXPECT_LE(output.count, must_total + may_total) << "frame " << frame;
    for (const auto& zone : zones) {
      ASSERT_EQ(output.zones.count(zone.name), 1u) << "zone " << zone.name << " missing";
      EXPECT_GE(output.zones.at(zone.name), must[zone.name]) << "frame " << frame << " zone " << zone.name;
      EXPECT_LE(output.zones.at(zone.name), must[zone.name] + may[zone.name])
          << "frame " << frame << " zone " << zone.name;
    }
    checked_frames += must_total > 0 ? 1 : 0;
  }
  EXPECT_GE(checked_frames, 30) << "the scene should show faces in most frames";
}

TEST_F(FaceCountTest, NothingOnFaceFreeFrames) {
  ASSERT_NO_FATAL_FAILURE(start("interval=1 smoothing=1 zones=\"all=0,0 1,0 1,1 0,1\""));
  for (std::uint32_t seed = 20; seed < 26; ++seed) {
    const Output output = push(gt::makeBackground(kFrameSize, seed), seed);
    EXPECT_TRUE(output.faces.empty()) << "false positive on background " << seed;
    EXPECT_EQ(output.count, 0);
    EXPECT_EQ(output.zones.at("all"), 0);
  }
}

TEST_F(FaceCountTest, IntervalCarriesTrackedBoxesBetweenDetections) {
  ASSERT_NO_FATAL_FAILURE(start("interval=3 smoothing=1 motion-scan=false"));
  std::vector<Output> outputs;
  for (std::int64_t frame = 90; frame < 96; ++frame) {
    gt::FrameTruth truth;
    outputs.push_back(pushScene(frame, truth));
  }
  ASSERT_FALSE(outputs[0].faces.empty());
  for (std::size_t i = 1; i < outputs.size(); ++i) {
    if (i % 3 == 0) continue;  // a periodic scan
    ASSERT_EQ(outputs[i].faces.size(), outputs[i - 1].faces.size()) << "frame " << i;
    for (std::size_t f = 0; f < outputs[i].faces.size(); ++f) {
      EXPECT_EQ(outputs[i].faces[f].track_id, outputs[i - 1].faces[f].track_id);
    }
    EXPECT_EQ(outputs[i].count, outputs[i - 1].count);
    EXPECT_FALSE(outputs[i].publish) << "an unchanged count is not published again";
  }
}

// Detector passes go where something changed: a still picture costs the first
// frame's scan and the periodic ones; a person stepping into it costs a scan
// at once, which counts them.
TEST_F(FaceCountTest, PassesFollowChangeNotFrames) {
  ASSERT_NO_FATAL_FAILURE(start("interval=30 smoothing=1"));
  const auto stat = [&](const char* field) {
    GstStructure* raw = nullptr;
    g_object_get(counter_.get(), "stats", &raw, nullptr);
    vgst::StructurePtr stats(raw);
    guint64 value = 0;
    EXPECT_TRUE(stats && gst_structure_get_uint64(stats.get(), field, &value)) << field;
    return value;
  };
  const cv::Mat empty = gt::makeBackground(kFrameSize, 5);
  for (std::int64_t frame = 0; frame < 20; ++frame) push(empty, frame);
  EXPECT_EQ(stat("frames"), 20u);
  EXPECT_EQ(stat("scans"), 2u) << "the first frame's two tiles, nothing since";

  // The same background with the scene's faces composited on it.
  gt::FrameTruth truth;
  cv::Mat people = scene_->render(100, truth);
  cv::Mat with_faces = empty.clone();
  for (const auto& object : truth.objects) {
    if (object.kind == "face") people(object.box).copyTo(with_faces(object.box));
  }
  const Output output = push(with_faces, 20);
  EXPECT_EQ(stat("scans"), 3u);
  EXPECT_EQ(stat("motion-scans"), 1u);
  EXPECT_GT(output.count, 0) << "counted on the frame they appeared";
}

// A camera that comes back at another resolution: what was tracked in the old
// geometry is dropped and the new frames are scanned whole, so no box is
// reported where the old picture had a face.
TEST_F(FaceCountTest, NewGeometryStartsAfresh) {
  ASSERT_NO_FATAL_FAILURE(start("smoothing=1"));
  gt::FrameTruth truth;
  const Output before = pushScene(100, truth);
  ASSERT_GT(before.count, 0);
  gst_harness_set_src_caps_str(harness_, "video/x-raw,format=BGR,width=640,height=360,framerate=30/1");
  const cv::Mat empty = gt::makeBackground(cv::Size(640, 360), 9);
  const Output after = push(empty, 101);
  EXPECT_EQ(after.count, 0) << "faces of the old geometry are gone";
  EXPECT_TRUE(after.faces.empty());
  GstStructure* raw = nullptr;
  g_object_get(counter_.get(), "stats", &raw, nullptr);
  vgst::StructurePtr stats(raw);
  guint64 scans = 0;
  ASSERT_TRUE(stats && gst_structure_get_uint64(stats.get(), "scans", &scans));
  EXPECT_EQ(scans, 4u) << "both tiles of the first frame, then both of the new geometry";
}

TEST_F(FaceCountTest, OnChangePublishesChangesAndHeartbeats) {
  ASSERT_NO_FATAL_FAILURE(start("interval=1 smoothing=1 emit=on-change heartbeat-interval=1000"));
  const cv::Mat empty = gt::makeBackground(kFrameSize, 3);
  std::vector<std::int64_t> published;
  for (std::int64_t frame = 0; frame < 2 * kFps + 1; ++frame) {
    if (push(empty, frame).publish) published.push_back(frame);
  }
  // The first frame, then one heartbeat per second of stream time.
  EXPECT_EQ(published, (std::vector<std::int64_t>{0, kFps, 2 * kFps}));
  gt::FrameTruth truth;
  EXPECT_TRUE(pushScene(100, truth).publish) << "a count change is published at once";
}

TEST_F(FaceCountTest, PropertiesChangeWhileFramesFlow) {
  ASSERT_NO_FATAL_FAILURE(start("interval=1"));
  std::atomic<bool> done{false};
  std::thread changer([&] {
    const char* zone_texts[] = {"a=0,0 1,0 1,1", "", "b=0,0 0.5,0 0.5,1 0,1;c=0.5,0 1,0 1,1 0.5,1"};
    const char* tilings[] = {"off", "2x2", "off"};
    const char* emits[] = {"every-frame", "on-change"};
    for (unsigned i = 0; !done.load(); ++i) {
      g_object_set(counter_.get(), "score-threshold", 0.4 + 0.05 * (i % 4), "interval", 1 + i % 3,
                   "zones", zone_texts[i % 3], "smoothing", 1 + i % 5, "min-face-size", 20 * (i % 3),
                   "motion-scan", i % 2 == 0, nullptr);
      gst_util_set_object_arg(G_OBJECT(counter_.get()), "tiling", tilings[i % 3]);
      gst_util_set_object_arg(G_OBJECT(counter_.get()), "emit", emits[i % 2]);
      std::this_thread::yield();
    }
  });
  for (std::int64_t frame = 80; frame < 100; ++frame) {
    gt::FrameTruth truth;
    const Output output = pushScene(frame, truth);
    EXPECT_TRUE(output.has_summary) << "frame " << frame;
    EXPECT_GE(output.count, 0);
  }
  done = true;
  changer.join();
  // A bad zones string while running is refused and the old zones stay.
  g_object_set(counter_.get(), "zones", "z=0,0 1,0 1,1", nullptr);
  g_object_set(counter_.get(), "zones", "broken", nullptr);
  gt::FrameTruth truth;
  const Output output = pushScene(100, truth);
  EXPECT_EQ(output.zones.count("z"), 1u) << "the previous valid zones stay in use";
}

// Brings a facecount in a pipeline to PAUSED; returns the error message, if any.
std::string startError(const std::string& properties) {
  GError* raw = nullptr;
  vgst::ElementPtr pipeline(gst_parse_launch(("videotestsrc num-buffers=1 ! facecount " + properties +
                                              " ! fakesink").c_str(), &raw));
  vgst::ErrorPtr parse_error(raw);
  EXPECT_EQ(parse_error, nullptr);
  const GstStateChangeReturn result = gst_element_set_state(pipeline.get(), GST_STATE_PAUSED);
  vgst::BusPtr bus(gst_element_get_bus(pipeline.get()));
  vgst::MessagePtr message(gst_bus_pop_filtered(bus.get(), GST_MESSAGE_ERROR));
  gst_element_set_state(pipeline.get(), GST_STATE_NULL);
  if (!message) {
    EXPECT_NE(result, GST_STATE_CHANGE_FAILURE) << "failed without an error message";
    return "";
  }
  EXPECT_EQ(result, GST_STATE_CHANGE_FAILURE);
  GError* error = nullptr;
  gst_message_parse_error(message.get(), &error, nullptr);
  vgst::ErrorPtr owned(error);
  return owned ? owned->message : "";
}

TEST(FaceCountStart, MissingModelIsAClearError) {
  const std::string error = startError("model-location=/nonexistent/face.onnx");
  EXPECT_NE(error.find("/nonexistent/face.onnx"), std::string::npos) << error;
  EXPECT_NE(startError("backend=haar model-location=/nonexistent/cascade.xml").find("cascade.xml"),
            std::string::npos);
}

TEST(FaceCountStart, BadZonesAreAClearError) {
  const std::string error = startError("zones=\"queue=0.1,0.2 0.5,0.2\"");
  EXPECT_NE(error.find("at least 3 points"), std::string::npos) << error;
}

TEST(FaceCountStart, DefaultsStart) {
  EXPECT_EQ(startError(""), "");
  EXPECT_EQ(startError("backend=haar"), "");
}

}  // namespace
