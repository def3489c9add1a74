// The runner's outputs: segmented recordings (MKV, MP4), the RTSP re-serve and
// HTTP snapshots, all fed from the tee after the analytics. The proof that no
// unredacted plate reaches an output runs every output of a generated plate
// clip through the leak scorer twice in the same run: a source with `plates`
// must leak (almost) nothing, and the same clip without it must leak plenty,
// which shows the check itself would catch a leak.
#include "bus_listener.hpp"
#include "config.hpp"
#include "rtsp_server.hpp"
#include "runner.hpp"
#include "vigil/gst/frame.hpp"
#include "vigil/gst/ptr.hpp"
#include "vigil/groundtruth/clip.hpp"
#include "vigil/groundtruth/plates.hpp"

#include <gst/app/gstappsink.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using vigil::groundtruth::LeakReport;
using vigil::testing::BusListener;

// The plate clip: 640x360 at 30 fps, 2 s, plates 60..160 px wide.
constexpr int kClipWidth = 640;
constexpr int kClipHeight = 360;
constexpr double kClipFps = 30;
constexpr int kClipFrames = 60;
constexpr std::uint32_t kClipSeed = 17;
constexpr int kMinPlateWidth = 60;

// Leak floors. Recorded frames align with the clip frame by frame; RTSP frames
// and snapshots are matched to the nearest clip frame, which costs a little
// precision, hence the looser floor there. The control (no `plates`) must
// show most plate-frames readable, or the check proves nothing.
constexpr double kFileLeakFloor = 0.02;
constexpr double kLiveLeakFloor = 0.05;
constexpr double kControlReadableAtLeast = 0.5;
// A live frame is matched to a clip frame only when their mean absolute luma
// difference (on a thumbnail) is below this; whole-frame redaction at start
// and intervideosrc's black frames never match.
constexpr double kAlignMaxDifference = 8.0;
constexpr int kThumbnailWidth = 160;
constexpr int kThumbnailHeight = 90;

constexpr int kRtspFramesPerSource = 45;
constexpr int kSnapshotEvery = 5;  // RTSP frames between snapshot requests
constexpr GstClockTime kPullTimeout = 10 * GST_SECOND;

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("vigil-outputs-test-" + std::to_string(getpid()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

// Decodes any file GStreamer can play; calls `on_frame` with each frame's luma.
// Returns false when the file does not play to its end.
bool decodeFile(const fs::path& path, const std::function<void(const cv::Mat& luma)>& on_frame,
                std::string* failure = nullptr) {
  vigil::gst::CharPtr location(g_strescape(path.c_str(), nullptr));
  const std::string description = "filesrc location=\"" + std::string(location.get()) +
                                  "\" ! decodebin ! videoconvert ! video/x-raw,format=I420 ! appsink name=out sync=false";
  GError* raw = nullptr;
  vigil::gst::ElementPtr pipeline(gst_parse_launch(description.c_str(), &raw));
  vigil::gst::ErrorPtr error(raw);
  if (!pipeline || error) return false;
  vigil::gst::ElementPtr sink(gst_bin_get_by_name(GST_BIN(pipeline.get()), "out"));
  gst_element_set_state(pipeline.get(), GST_STATE_PLAYING);
  for (;;) {
    vigil::gst::SamplePtr sample(gst_app_sink_try_pull_sample(GST_APP_SINK(sink.get()), kPullTimeout));
    if (!sample) break;
    GstVideoInfo info;
    gst_video_info_from_caps(&info, gst_sample_get_caps(sample.get()));
    GstVideoFrame frame;
    if (!gst_video_frame_map(&frame, &info, gst_sample_get_buffer(sample.get()), GST_MAP_READ)) break;
    on_frame(vigil::gst::planeView(&frame, 0));
    gst_video_frame_unmap(&frame);
  }
  const bool complete = gst_app_sink_is_eos(GST_APP_SINK(sink.get()));
  vigil::gst::BusPtr bus(gst_element_get_bus(pipeline.get()));
  vigil::gst::MessagePtr message(gst_bus_pop_filtered(bus.get(), GST_MESSAGE_ERROR));
  if (message && failure) {
    GError* bus_raw = nullptr;
    gst_message_parse_error(message.get(), &bus_raw, nullptr);
    vigil::gst::ErrorPtr bus_error(bus_raw);
    *failure = bus_error ? bus_error->message : "unknown";
  }
  gst_element_set_state(pipeline.get(), GST_STATE_NULL);
  return complete && !message;
}

std::vector<fs::path> filesMatching(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().filename().string().rfind(prefix, 0) == 0) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string headOf(const fs::path& path, std::size_t bytes) {
  std::ifstream in(path, std::ios::binary);
  std::string head(bytes, '\0');
  in.read(head.data(), static_cast<std::streamsize>(bytes));
  head.resize(static_cast<std::size_t>(in.gcount()));
  return head;
}

bool isMatroska(const fs::path& path) { return headOf(path, 4) == "\x1a\x45\xdf\xa3"; }
bool isMp4(const fs::path& path) { return headOf(path, 8).substr(4) == "ftyp"; }

cv::Mat thumbnail(const cv::Mat& luma) {
  cv::Mat small;
  cv::resize(luma, small, cv::Size(kThumbnailWidth, kThumbnailHeight), 0, 0, cv::INTER_AREA);
  small.convertTo(small, CV_32F);
  return small;
}

// The generated plate clip, its truth, and its frames as decoded untouched.
struct PlateClip {
  fs::path path;
  std::vector<vigil::groundtruth::FrameTruth> truth;
  std::vector<cv::Mat> originals;  // luma
  std::vector<cv::Mat> thumbnails;

  // Index of the clip frame `luma` shows, or -1 when none is close enough.
  int align(const cv::Mat& luma) const {
    if (luma.size() != cv::Size(kClipWidth, kClipHeight)) return -1;
    const cv::Mat small = thumbnail(luma);
    int best = -1;
    double best_difference = kAlignMaxDifference;
    for (std::size_t i = 0; i < thumbnails.size(); ++i) {
      const double difference = cv::norm(small, thumbnails[i], cv::NORM_L1) / small.total();
      if (difference < best_difference) {
        best_difference = difference;
        best = static_cast<int>(i);
      }
    }
    return best;
  }
};

// Scores frames of unknown position in the clip.
struct AlignedLeakCheck {
  const PlateClip& clip;
  vigil::groundtruth::LeakScorer scorer{kMinPlateWidth};
  int aligned = 0;
  int unaligned = 0;

  void add(const cv::Mat& luma) {
    const int index = clip.align(luma);
    if (index < 0) {
      ++unaligned;
      return;
    }
    ++aligned;
    scorer.addFrame(clip.truth[static_cast<std::size_t>(index)], clip.originals[static_cast<std::size_t>(index)], luma);
  }
  const LeakReport& report() const { return scorer.report(); }
};

std::string describe(const LeakReport& report) {
  char text[96];
  std::snprintf(text, sizeof text, "%d of %d plate-frames readable (%.1f %%)", report.readable, report.plate_frames,
                100.0 * report.readableFraction());
  return text;
}

// A Runner on its own thread (its main loop is the default context's).
class RunningVigil {
 public:
  explicit RunningVigil(const std::string& yaml) {
    runner_ = std::make_unique<vigil::pipeline::Runner>(
        vigil::pipeline::parseConfig(yaml, "test.yaml", &vigil::pipeline::validateAnalyticOption));
    std::promise<std::vector<std::string>> started;
    auto endpoints = started.get_future();
    thread_ = std::thread([this, &started] {
      bool announced = false;  // this thread only
      vigil::pipeline::RunOptions options;
      options.on_started = [&](const std::vector<std::string>& bound) {
        announced = true;
        started.set_value(bound);
      };
      exit_code_ = runner_->run(options);
      if (!announced) started.set_value({});  // no source could start: endpoints stay empty
    });
    endpoints_ = endpoints.get();
  }
  ~RunningVigil() {
    if (thread_.joinable()) stop();
  }
  int stop() {
    runner_->requestStop();
    return join();
  }
  int join() {
    thread_.join();
    return exit_code_;
  }
  vigil::pipeline::Runner& runner() { return *runner_; }
  const std::vector<std::string>& endpoints() const { return endpoints_; }

 private:
  std::unique_ptr<vigil::pipeline::Runner> runner_;
  std::thread thread_;
  std::vector<std::string> endpoints_;
  int exit_code_ = -1;
};

class OutputsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    vigil::pipeline::ensurePluginLoaded();
    dir_ = new TempDir;
    clip_ = new PlateClip;
    clip_->path = dir_->path / "plates.mkv";
    const fs::path truth_path = dir_->path / "plates.jsonl";
    const cv::Size size(kClipWidth, kClipHeight);
    vigil::groundtruth::Scene scene(size, kClipFps, kClipSeed);
    vigil::groundtruth::PlateLayerOptions options;
    options.frames = kClipFrames;
    options.vehicles = 5;
    options.min_plate_width = kMinPlateWidth;
    options.max_plate_width = 160;
    scene.add(std::make_unique<vigil::groundtruth::PlateLayer>(size, kClipSeed, options));
    vigil::groundtruth::ClipOptions clip_options;
    clip_options.frames = kClipFrames;
    vigil::groundtruth::writeClip(scene, clip_->path.string(), clip_options, truth_path.string());
    clip_->truth = vigil::groundtruth::readTruth(truth_path.string());
    vigil::groundtruth::runClip(clip_->path.string(), "", [](std::int64_t, const cv::Mat& luma, _GstBuffer*) {
      clip_->originals.push_back(luma.clone());
      clip_->thumbnails.push_back(thumbnail(luma));
    });
  }
  static void TearDownTestSuite() {
    delete clip_;
    delete dir_;
  }
  static fs::path dir() { return dir_->path; }

  static TempDir* dir_;
  static PlateClip* clip_;
};

TempDir* OutputsTest::dir_ = nullptr;
PlateClip* OutputsTest::clip_ = nullptr;

// Every recorded frame, in order, against the clip frame it came from (a file
// source with leaky: false drops nothing).
TEST_F(OutputsTest, RecordingIsSegmentedCompleteAndAnonymized) {
  const fs::path recordings = dir() / "recordings";
  fs::create_directories(recordings);
  const std::string source = R"(
    uri: )" + clip_->path.string() + R"(
    realtime: true
    leaky: false
)";
  RunningVigil vigil(R"(bus: {endpoint: "tcp://127.0.0.1:*"}
sources:
  - id: anon)" + source + R"(    analytics: [{plates: {detect_timeout: 10000}}]
    outputs: [{type: file, path: )" + (recordings / "anon-%03d.mkv").string() + R"(, segment: 1s, bitrate_kbps: 4000}]
  - id: raw)" + source + R"(    outputs: [{type: file, path: )" + (recordings / "raw-%03d.mkv").string() + R"(, segment: 1s, bitrate_kbps: 4000}]
)");
  ASSERT_EQ(vigil.join(), 0) << "the file sources end by themselves";

  for (const std::string id : {"anon", "raw"}) {
    const auto segments = filesMatching(recordings, id + "-");
    // 2 s of frames paced in real time, 1 s segments.
    EXPECT_GE(segments.size(), 2u) << id;
    vigil::groundtruth::LeakScorer scorer(kMinPlateWidth);
    std::size_t index = 0;
    for (const auto& segment : segments) {
      EXPECT_TRUE(isMatroska(segment)) << segment;
      std::string failure;
      EXPECT_TRUE(decodeFile(segment, [&](const cv::Mat& luma) {
        ASSERT_LT(index, clip_->originals.size()) << "more frames recorded than the clip has";
        scorer.addFrame(clip_->truth[index], clip_->originals[index], luma);
        ++index;
      }, &failure)) << segment << " does not play to its end: " << failure;
    }
    EXPECT_EQ(index, static_cast<std::size_t>(kClipFrames)) << id << ": every frame recorded";
    std::printf("recording %s: %zu segments, %zu frames, %s\n", id.c_str(), segments.size(), index,
                describe(scorer.report()).c_str());
    ASSERT_GT(scorer.report().plate_frames, 20) << id;
    if (id == "anon") {
      EXPECT_LE(scorer.report().readableFraction(), kFileLeakFloor) << describe(scorer.report());
    } else {
      EXPECT_GE(scorer.report().readableFraction(), kControlReadableAtLeast)
          << "control: without plates the recording must leak, " << describe(scorer.report());
    }
  }
}

// `vigil run --for`: the run stops by itself, EOS reaches splitmuxsink and
// every MP4 segment is finalized (an unfinalized MP4 has no index and does
// not play).
TEST_F(OutputsTest, Mp4SegmentsAreFinalizedWhenVigilRunStops) {
  const fs::path recordings = dir() / "mp4";
  const fs::path config = dir() / "mp4.yaml";
  {
    std::ofstream out(config);
    out << "bus: {endpoint: \"tcp://127.0.0.1:*\"}\n"
           "sources:\n"
           "  - id: cam\n"
           "    uri: \"testsrc://ball?width=320&height=240&fps=30\"\n"
           "    analytics: [plates]\n"
           "    outputs:\n"
           "      - {type: file, path: " << (recordings / "cam-%05d.mp4").string() << ", segment: 1s}\n";
  }
  const char* build_dir = std::getenv("VIGIL_BUILD_DIR");
  ASSERT_NE(build_dir, nullptr) << "run through ctest (VIGIL_BUILD_DIR names the vigil binary's build tree)";
  const std::string vigil = std::string(build_dir) + "/pipeline/vigil";
  const std::string command = vigil + " --log-level warn run " + config.string() + " --for 3s";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const auto segments = filesMatching(recordings, "cam-");
  EXPECT_GE(segments.size(), 2u) << "3 s in 1 s segments";
  int frames = 0;
  for (const auto& segment : segments) {
    EXPECT_TRUE(isMp4(segment)) << segment;
    std::string failure;
    int segment_frames = 0;
    EXPECT_TRUE(decodeFile(segment, [&](const cv::Mat&) { ++segment_frames; }, &failure))
        << segment << " is not finalized: " << failure;
    EXPECT_GT(segment_frames, 0) << segment;
    frames += segment_frames;
  }
  std::printf("mp4: %zu segments, %d frames in a 3 s run\n", segments.size(), frames);
  EXPECT_GE(frames, 30) << "about 3 s at 30 fps, minus start-up";
}

// The camera drops and comes back at another resolution: the recording
// carries on in the geometry it started with (the new frames scaled into it)
// and plays to its end.
TEST_F(OutputsTest, RecordingSurvivesAReconnectWithNewCaps) {
  auto cameraLaunch = [](int width, int height) {
    return "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=" + std::to_string(width) +
           ",height=" + std::to_string(height) +
           ",framerate=30/1 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 ! "
           "rtph264pay name=pay0 pt=96 config-interval=-1 )";
  };
  vigil::pipeline::RtspServer camera("127.0.0.1", 0);
  camera.mount("/cam", cameraLaunch(320, 240));
  camera.start();
  const fs::path recordings = dir() / "reconnect";
  fs::create_directories(recordings);
  RunningVigil vigil(R"(bus: {endpoint: "tcp://127.0.0.1:*", heartbeat: 100ms}
sources:
  - id: door
    uri: )" + camera.url("/cam") + R"(
    watchdog: 1s
    reconnect: {initial: 100ms, max: 400ms}
    rtsp: {transport: tcp, latency: 100ms}
    analytics: [plates]
    outputs: [{type: file, path: )" + (recordings / "door-%03d.mkv").string() + R"(, segment: 60s}]
)");
  BusListener listener(vigil.endpoints().at(0), "vigil/status/door");
  auto isState = [](const vigil::events::Event& e, const std::string& state) {
    return e.header.kind == "status" && e.getString("state") == state;
  };
  auto playing = listener.waitFor([&](const auto& e) {
    return isState(e, "playing") && e.getDouble("analysed_fps").value_or(0) > 0 && e.header.frame > 10;
  });
  ASSERT_TRUE(playing) << "frames never flowed";
  const std::uint64_t frame_before = playing->header.frame;

  camera.stop();
  ASSERT_TRUE(listener.waitFor([&](const auto& e) { return isState(e, "reconnecting"); })) << "drop not seen";
  camera.mount("/cam", cameraLaunch(352, 288));
  camera.start();
  ASSERT_TRUE(listener.waitFor([&](const auto& e) {
    return isState(e, "playing") && e.header.frame > frame_before + 20;
  }, std::chrono::seconds(20))) << "the source did not come back";

  EXPECT_EQ(vigil.stop(), 0) << "the recording failed on the new caps";
  EXPECT_FALSE(vigil.runner().summary().sources.at(0).failed) << vigil.runner().summary().sources.at(0).failure;
  const auto segments = filesMatching(recordings, "door-");
  ASSERT_EQ(segments.size(), 1u) << "one 60 s segment";
  std::map<std::pair<int, int>, int> frames_by_size;
  std::string failure;
  EXPECT_TRUE(decodeFile(segments[0], [&](const cv::Mat& luma) { ++frames_by_size[{luma.cols, luma.rows}]; },
                         &failure))
      << segments[0] << ": " << failure;
  const int frames = frames_by_size[{320, 240}];
  std::printf("reconnect: %d frames recorded of %llu analysed, %zu frame size(s)\n", frames,
              static_cast<unsigned long long>(vigil.runner().summary().sources.at(0).frames), frames_by_size.size());
  EXPECT_EQ(frames_by_size.size(), 1u) << "every frame in the first geometry";
  EXPECT_GT(frames, static_cast<int>(frame_before) + 10) << "frames from after the reconnect are recorded";
}

// RTSP re-serve (port 0) and HTTP snapshots (port 0) of the same plate clip,
// looping, with and without `plates`: a client receives frames, and neither
// output carries a readable plate when the source anonymizes.
TEST_F(OutputsTest, RtspAndSnapshotsCarryOnlyRedactedFrames) {
  const fs::path snapshots = dir() / "snapshots";
  auto sourceYaml = [&](const std::string& id, const std::string& analytics) {
    return "  - id: " + id + "\n    uri: " + clip_->path.string() +
           "\n    on_eos: loop\n" + analytics + "    outputs:\n      - {type: rtsp, mount: /" + id +
           ", bitrate_kbps: 4000}\n      - {type: snapshot, path: " + (snapshots / id).string() +
           ", format: webp}\n";
  };
  RunningVigil vigil("bus: {endpoint: \"tcp://127.0.0.1:*\"}\n"
                     "rtsp_server: {address: 127.0.0.1, port: 0}\n"
                     "http: {address: 127.0.0.1, port: 0}\n"
                     "sources:\n" +
                     sourceYaml("anon", "    analytics: [{plates: {detect_timeout: 10000}}]\n") +
                     sourceYaml("raw", ""));
  const int rtsp_port = vigil.runner().rtspPort();
  const int http_port = vigil.runner().httpPort();
  ASSERT_GT(rtsp_port, 0);
  ASSERT_GT(http_port, 0);
  httplib::Client http("127.0.0.1", http_port);

  auto unknown = http.Get("/sources/nope/snapshot.jpg");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);

  for (const std::string id : {"anon", "raw"}) {
    const std::string description = "rtspsrc location=rtsp://127.0.0.1:" + std::to_string(rtsp_port) + "/" + id +
                                    " protocols=tcp latency=100 ! rtph264depay ! h264parse ! avdec_h264 ! "
                                    "videoconvert ! video/x-raw,format=I420 ! appsink name=out sync=false";
    GError* raw = nullptr;
    vigil::gst::ElementPtr client(gst_parse_launch(description.c_str(), &raw));
    vigil::gst::ErrorPtr error(raw);
    ASSERT_TRUE(client && !error);
    vigil::gst::ElementPtr sink(gst_bin_get_by_name(GST_BIN(client.get()), "out"));
    gst_element_set_state(client.get(), GST_STATE_PLAYING);

    AlignedLeakCheck rtsp_check{*clip_};
    AlignedLeakCheck snapshot_check{*clip_};
    int received = 0;
    while (rtsp_check.aligned < kRtspFramesPerSource) {
      vigil::gst::SamplePtr sample(gst_app_sink_try_pull_sample(GST_APP_SINK(sink.get()), kPullTimeout));
      ASSERT_TRUE(sample) << id << ": the RTSP stream stopped after " << received << " frames";
      ++received;
      GstVideoInfo info;
      gst_video_info_from_caps(&info, gst_sample_get_caps(sample.get()));
      GstVideoFrame frame;
      ASSERT_TRUE(gst_video_frame_map(&frame, &info, gst_sample_get_buffer(sample.get()), GST_MAP_READ));
      rtsp_check.add(vigil::gst::planeView(&frame, 0));
      gst_video_frame_unmap(&frame);

      if (received % kSnapshotEvery == 0) {
        auto snapshot = http.Get("/sources/" + id + "/snapshot.jpg");
        ASSERT_TRUE(snapshot);
        ASSERT_EQ(snapshot->status, 200) << snapshot->body;
        EXPECT_EQ(snapshot->get_header_value("Content-Type"), "image/jpeg");
        const std::vector<unsigned char> bytes(snapshot->body.begin(), snapshot->body.end());
        const cv::Mat grey = cv::imdecode(bytes, cv::IMREAD_GRAYSCALE);
        ASSERT_FALSE(grey.empty()) << "not a JPEG";
        snapshot_check.add(grey);
      }
    }
    gst_element_set_state(client.get(), GST_STATE_NULL);

    // A snapshot saved on request, in the configured format.
    auto saved = http.Post("/sources/" + id + "/snapshot");
    ASSERT_TRUE(saved);
    ASSERT_EQ(saved->status, 201) << saved->body;
    const auto answer = nlohmann::json::parse(saved->body);
    const fs::path saved_path = answer.at("path").get<std::string>();
    EXPECT_EQ(saved_path.parent_path(), snapshots / id);
    EXPECT_EQ(saved_path.extension(), ".webp");
    const cv::Mat saved_image = cv::imread(saved_path.string(), cv::IMREAD_GRAYSCALE);
    ASSERT_FALSE(saved_image.empty()) << saved_path << " is not a readable WebP";
    snapshot_check.add(saved_image);

    std::printf("%s: RTSP %d frames (%d matched to the clip): %s; snapshots %d matched: %s\n", id.c_str(), received,
                rtsp_check.aligned, describe(rtsp_check.report()).c_str(), snapshot_check.aligned,
                describe(snapshot_check.report()).c_str());
    ASSERT_GT(rtsp_check.report().plate_frames, 20) << id;
    ASSERT_GT(snapshot_check.report().plate_frames, 2) << id;
    if (id == "anon") {
      EXPECT_LE(rtsp_check.report().readableFraction(), kLiveLeakFloor) << describe(rtsp_check.report());
      EXPECT_EQ(snapshot_check.report().readable, 0) << describe(snapshot_check.report());
    } else {
      EXPECT_GE(rtsp_check.report().readableFraction(), kControlReadableAtLeast)
          << "control: without plates the RTSP stream must leak, " << describe(rtsp_check.report());
      EXPECT_GE(snapshot_check.report().readableFraction(), kControlReadableAtLeast)
          << "control: without plates snapshots must leak, " << describe(snapshot_check.report());
    }
  }
  EXPECT_EQ(vigil.stop(), 0);
}

}  // namespace
