// Still images as a service: `vigil analyze` (the real binary) and the HTTP
// image API (a real Runner, real sockets), on generated pictures with known
// faces, codes and a plate. Bad input gets a clear 4xx or error line; the
// answers equal what the video path's elements attach to the same frame.
#include "config.hpp"
#include "image_input.hpp"
#include "runner.hpp"
#include "vigil/groundtruth/stills.hpp"
#include "vigil/gst/meta.hpp"
#include "vigil/gst/ptr.hpp"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace gt = vigil::groundtruth;
using nlohmann::json;

const cv::Size kSize(1280, 720);

std::string encoded(const cv::Mat& bgr, const std::string& extension) {
  std::vector<unsigned char> bytes;
  EXPECT_TRUE(cv::imencode(extension, bgr, bytes));
  return std::string(bytes.begin(), bytes.end());
}

void writeFile(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A valid JPEG whose frame header claims width x height (the pixels behind
// it are 64x64): a decompression bomb as far as the header goes.
std::string jpegClaiming(int width, int height) {
  std::string bytes = encoded(cv::Mat(64, 64, CV_8UC3, cv::Scalar(90, 120, 150)), ".jpg");
  for (std::size_t at = 2; at + 9 < bytes.size();) {
    const auto marker = static_cast<unsigned char>(bytes[at + 1]);
    if (marker == 0xC0 || marker == 0xC2) {
      bytes[at + 5] = static_cast<char>(height >> 8);
      bytes[at + 6] = static_cast<char>(height & 0xff);
      bytes[at + 7] = static_cast<char>(width >> 8);
      bytes[at + 8] = static_cast<char>(width & 0xff);
      return bytes;
    }
    at += 2 + ((static_cast<unsigned char>(bytes[at + 2]) << 8) | static_cast<unsigned char>(bytes[at + 3]));
  }
  ADD_FAILURE() << "no frame header in the encoded JPEG";
  return bytes;
}

class TempDirectory {
 public:
  TempDirectory() {
    path_ = fs::temp_directory_path() /
            ("vigil-images-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(path_);
  }
  ~TempDirectory() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct Exit {
  int status = -1;
  std::string out;
  std::string err;
};

Exit runVigil(const std::vector<std::string>& arguments) {
  std::vector<std::string> words{VIGIL_BINARY};
  words.insert(words.end(), arguments.begin(), arguments.end());
  std::vector<gchar*> argv;
  for (auto& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  gchar* out = nullptr;
  gchar* err = nullptr;
  gint wait_status = 0;
  GError* error = nullptr;
  Exit exit;
  if (!g_spawn_sync(nullptr, argv.data(), nullptr, G_SPAWN_DEFAULT, nullptr, nullptr, &out, &err, &wait_status,
                    &error)) {
    ADD_FAILURE() << "cannot run vigil: " << error->message;
    g_error_free(error);
    return exit;
  }
  vigil::gst::CharPtr owned_out(out), owned_err(err);
  exit.out = out;
  exit.err = err;
  exit.status = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
  return exit;
}

std::vector<json> jsonLines(const std::string& text) {
  std::vector<json> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(json::parse(line));
  }
  return lines;
}

std::vector<std::string> codeTexts(const json& report) {
  std::vector<std::string> texts;
  for (const auto& object : report["codes"]["objects"]) texts.push_back(object["text"]);
  std::sort(texts.begin(), texts.end());
  return texts;
}

// ---- input checks, before anything is decoded ----

TEST(ImageInput, RefusesEachBadInputWithItsStatus) {
  using vigil::pipeline::ImageError;
  auto statusOf = [](const std::string& bytes) {
    try {
      vigil::pipeline::decodeImage(bytes);
    } catch (const ImageError& error) {
      return std::make_pair(error.status(), std::string(error.what()));
    }
    return std::make_pair(200, std::string());
  };
  const cv::Mat picture = gt::checkoutStill(kSize, 1);
  const std::string jpeg = encoded(picture, ".jpg");

  EXPECT_EQ(statusOf("").first, 400) << "empty";
  EXPECT_EQ(statusOf("GET / HTTP/1.1\r\n\r\nnot a picture").first, 415);
  const auto truncated = statusOf(jpeg.substr(0, jpeg.size() / 2));
  EXPECT_EQ(truncated.first, 422);
  EXPECT_NE(truncated.second.find("truncated JPEG"), std::string::npos) << truncated.second;
  const auto bomb = statusOf(jpegClaiming(20000, 20000));
  EXPECT_EQ(bomb.first, 413);
  EXPECT_NE(bomb.second.find("20000x20000"), std::string::npos) << bomb.second;
  EXPECT_NE(bomb.second.find("max_pixels"), std::string::npos) << bomb.second;
  std::string png = encoded(picture, ".png");
  for (int at : {16, 20}) {  // width and height 20000 (the CRC no longer matches: never read)
    png[at] = png[at + 1] = 0;
    png[at + 2] = static_cast<char>(0x4e);
    png[at + 3] = static_cast<char>(0x20);
  }
  EXPECT_EQ(statusOf(png).first, 413);
  EXPECT_EQ(statusOf(encoded(picture, ".webp")).first, 200);
  EXPECT_EQ(statusOf(jpeg).first, 200);
}

// ---- vigil analyze ----

TEST(AnalyzeCommand, OneJsonObjectPerImageAndTheRedactedCopy) {
  TempDirectory directory;
  gt::StillTruth truth;
  const cv::Mat picture = gt::checkoutStill(kSize, 7, &truth);
  const fs::path image = directory.path() / "checkout.jpg";
  writeFile(image, encoded(picture, ".jpg"));
  const fs::path not_an_image = directory.path() / "notes.jpg";
  writeFile(not_an_image, "shopping list");
  const fs::path out = directory.path() / "out";

  const Exit exit = runVigil({"analyze", image.string(), not_an_image.string(), "--anonymize", out.string(),
                              "--format", "webp", "--zones", "left=0,0 0.5,0 0.5,1 0,1"});
  EXPECT_EQ(exit.status, 1) << "one image failed: " << exit.err;
  const std::vector<json> lines = jsonLines(exit.out);
  ASSERT_EQ(lines.size(), 2u) << exit.out;

  const json& report = lines[0];
  EXPECT_EQ(report["image"], image.string());
  EXPECT_EQ(report["width"], kSize.width);
  EXPECT_EQ(report["faces"]["count"], static_cast<int>(truth.faces.size())) << report.dump();
  EXPECT_EQ(report["faces"]["zones"]["left"], static_cast<int>(truth.faces.size())) << "both faces are left";
  std::vector<std::string> expected = truth.code_texts;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(codeTexts(report), expected);
  for (const auto& code : report["codes"]["objects"]) {
    EXPECT_TRUE(code.contains("format") && code.contains("box") && code.contains("first_seen"));
    if (code["format"] == "datamatrix") {
      EXPECT_EQ(code["gs1"]["01"], "09501101530003") << code.dump();
    }
  }
  ASSERT_GE(report["plates"]["count"], 1) << report.dump();
  for (const auto& plate : report["plates"]["objects"]) {
    EXPECT_FALSE(plate.contains("text")) << "plate text is never read";
    EXPECT_EQ(plate["box"].size(), 4u);
  }

  const fs::path redacted = out / "checkout.webp";
  EXPECT_EQ(report["anonymized"], redacted.string());
  const std::string webp = readFile(redacted);
  ASSERT_GT(webp.size(), 12u);
  EXPECT_EQ(webp.substr(8, 4), "WEBP");
  const cv::Mat decoded = cv::imdecode(std::vector<unsigned char>(webp.begin(), webp.end()), cv::IMREAD_COLOR);
  ASSERT_EQ(decoded.size(), picture.size());
  const cv::Rect plate = truth.plates.front();
  EXPECT_GT(cv::norm(decoded(plate), picture(plate), cv::NORM_L1) / plate.area(), 10.0) << "the plate is redacted";

  EXPECT_EQ(lines[1]["image"], not_an_image.string());
  EXPECT_NE(lines[1]["error"].get<std::string>().find("not an image"), std::string::npos);
  EXPECT_NE(exit.err.find("notes.jpg: not an image"), std::string::npos) << exit.err;
}

TEST(AnalyzeCommand, BadArgumentsAreOneClearErrorLine) {
  TempDirectory directory;
  const fs::path image = directory.path() / "a.png";
  writeFile(image, encoded(gt::checkoutStill(cv::Size(640, 360), 2), ".png"));

  const Exit unknown = runVigil({"analyze", "--analytics", "faces,cars", image.string()});
  EXPECT_EQ(unknown.status, 2);
  EXPECT_NE(unknown.err.find("unknown analytic 'cars'"), std::string::npos) << unknown.err;
  EXPECT_TRUE(unknown.out.empty());

  const Exit truncated_dir = runVigil({"analyze", "--format", "gif", image.string(), "--anonymize",
                                       (directory.path() / "o").string()});
  EXPECT_EQ(truncated_dir.status, 2);
  EXPECT_NE(truncated_dir.err.find("--format"), std::string::npos) << truncated_dir.err;

  const std::string jpeg = encoded(gt::checkoutStill(cv::Size(640, 360), 2), ".jpg");
  writeFile(directory.path() / "cut.jpg", jpeg.substr(0, jpeg.size() * 2 / 3));
  writeFile(directory.path() / "huge.jpg", jpegClaiming(20000, 20000));
  const Exit bad = runVigil({"analyze", "--analytics", "codes", (directory.path() / "cut.jpg").string(),
                             (directory.path() / "huge.jpg").string(), image.string()});
  EXPECT_EQ(bad.status, 1);
  const std::vector<json> lines = jsonLines(bad.out);
  ASSERT_EQ(lines.size(), 3u) << bad.out;
  EXPECT_NE(lines[0]["error"].get<std::string>().find("truncated JPEG"), std::string::npos);
  EXPECT_NE(lines[1]["error"].get<std::string>().find("over the limit"), std::string::npos);
  EXPECT_FALSE(lines[2].contains("error")) << "the good image after two bad ones is still analysed";
  EXPECT_TRUE(lines[2].contains("codes"));
  EXPECT_FALSE(lines[2].contains("faces")) << "only the analytics asked for";
}

// ---- the same answer as the video path ----

struct Detections {
  std::map<std::string, std::vector<std::tuple<int, int, int, int>>> boxes;  // by kind
  std::vector<std::string> texts;
  int faces = -1;
  bool operator==(const Detections& o) const {
    return boxes == o.boxes && texts == o.texts && faces == o.faces;
  }
};

std::ostream& operator<<(std::ostream& out, const Detections& d) {
  for (const auto& [kind, list] : d.boxes) {
    out << kind << ":";
    for (const auto& [x, y, w, h] : list) out << " [" << x << "," << y << "," << w << "," << h << "]";
    out << "; ";
  }
  out << "texts:";
  for (const auto& text : d.texts) out << " " << text;
  return out << "; faces " << d.faces;
}

// The frame through the elements as the runner's analytics pipeline takes a
// camera's frame (appsrc, converted to I420), read straight from the buffer
// metadata: an independent reading of what the elements attach. The frame
// is the decoded picture itself; which decoder made the pixels (GStreamer's
// or OpenCV's, whose colour conversions differ by a rounding) is not the
// detectors' business.
Detections elementPath(const fs::path& png) {
  vigil::pipeline::ensurePluginLoaded();
  const cv::Mat bgr = cv::imread(png.string(), cv::IMREAD_COLOR);
  GError* error = nullptr;
  // detect-timeout as the still path sets it: on a loaded test machine the
  // default 100 ms would redact the whole first frame instead of detecting.
  const std::string launch = "appsrc name=src format=time caps=video/x-raw,format=BGR,width=" +
                             std::to_string(bgr.cols) + ",height=" + std::to_string(bgr.rows) +
                             ",framerate=0/1 ! videoconvert ! video/x-raw,format=I420 ! facecount ! codereader ! "
                             "plateblur detect-timeout=10000 ! appsink name=sink sync=false";
  vigil::gst::ElementPtr pipeline(gst_parse_launch(launch.c_str(), &error));
  Detections found;
  if (error) {
    ADD_FAILURE() << error->message;
    g_error_free(error);
    return found;
  }
  vigil::gst::ElementPtr source(gst_bin_get_by_name(GST_BIN(pipeline.get()), "src"));
  gst_element_set_state(pipeline.get(), GST_STATE_PLAYING);
  GstBuffer* frame = gst_buffer_new_allocate(nullptr, bgr.total() * bgr.elemSize(), nullptr);
  gst_buffer_fill(frame, 0, bgr.data, bgr.total() * bgr.elemSize());
  GST_BUFFER_PTS(frame) = 0;
  gst_app_src_push_buffer(GST_APP_SRC(source.get()), frame);
  gst_app_src_end_of_stream(GST_APP_SRC(source.get()));
  vigil::gst::ElementPtr sink(gst_bin_get_by_name(GST_BIN(pipeline.get()), "sink"));
  vigil::gst::SamplePtr sample(gst_app_sink_try_pull_sample(GST_APP_SINK(sink.get()), 60 * GST_SECOND));
  if (!sample) {
    ADD_FAILURE() << "no frame from the element path";
    gst_element_set_state(pipeline.get(), GST_STATE_NULL);
    return found;
  }
  GstBuffer* buffer = gst_sample_get_buffer(sample.get());
  for (GstVideoRegionOfInterestMeta* roi : vigil::gst::regionsOfInterest(buffer)) {
    const std::string type = g_quark_to_string(roi->roi_type);
    const std::string kind = type == "face" ? "faces" : type == "barcode" ? "codes" : "plates";
    found.boxes[kind].emplace_back(roi->x, roi->y, roi->w, roi->h);
    if (const GstStructure* params = vigil::gst::objectParams(roi)) {
      if (const char* text = gst_structure_get_string(params, "text")) found.texts.push_back(text);
    }
  }
  for (GstStructure* summary : vigil::gst::analyses(buffer)) {
    if (std::string(vigil::gst::analysisKind(summary)) == "faces") gst_structure_get_int(summary, "count", &found.faces);
  }
  gst_element_set_state(pipeline.get(), GST_STATE_NULL);
  for (auto& [kind, list] : found.boxes) std::sort(list.begin(), list.end());
  std::sort(found.texts.begin(), found.texts.end());
  return found;
}

Detections fromReport(const json& report) {
  Detections found;
  for (const char* kind : {"faces", "codes", "plates"}) {
    for (const auto& object : report[kind]["objects"]) {
      const auto& box = object["box"];
      found.boxes[kind].emplace_back(box[0], box[1], box[2], box[3]);
    }
    std::sort(found.boxes[kind].begin(), found.boxes[kind].end());
    if (found.boxes[kind].empty()) found.boxes.erase(kind);
  }
  found.texts = codeTexts(report);
  found.faces = report["faces"]["count"];
  return found;
}

TEST(AnalyzeCommand, AnswersWhatTheVideoPathsElementsAttach) {
  TempDirectory directory;
  std::vector<std::string> arguments{"analyze"};
  std::vector<fs::path> images;
  for (std::uint32_t seed : {11u, 12u, 13u}) {
    images.push_back(directory.path() / ("still-" + std::to_string(seed) + ".png"));
    writeFile(images.back(), encoded(gt::checkoutStill(kSize, seed), ".png"));  // lossless: same pixels both ways
    arguments.push_back(images.back().string());
  }
  const Exit exit = runVigil(arguments);
  ASSERT_EQ(exit.status, 0) << exit.err;
  const std::vector<json> lines = jsonLines(exit.out);
  ASSERT_EQ(lines.size(), images.size());
  for (std::size_t i = 0; i < images.size(); ++i) {
    const Detections still = fromReport(lines[i]);
    const Detections video = elementPath(images[i]);
    EXPECT_EQ(still, video) << images[i] << "\n  still: " << still << "\n  video: " << video;
    EXPECT_GE(still.faces, 1) << "the comparison is about something";
    EXPECT_FALSE(still.texts.empty());
  }
}

// ---- the HTTP image API ----

// A Runner with only the image API, on its own thread.
class ImageApi {
 public:
  explicit ImageApi(const std::string& yaml) {
    runner_ = std::make_unique<vigil::pipeline::Runner>(
        vigil::pipeline::parseConfig(yaml, "images.yaml", &vigil::pipeline::validateAnalyticOption));
    thread_ = std::thread([this] { exit_code_ = runner_->run(); });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (runner_->httpPort() <= 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polls a real condition
    }
  }
  ~ImageApi() {
    runner_->requestStop();
    thread_.join();
  }
  int port() const { return runner_->httpPort(); }
  httplib::Client client() const {
    httplib::Client client("127.0.0.1", port());
    client.set_read_timeout(60, 0);
    return client;
  }

 private:
  std::unique_ptr<vigil::pipeline::Runner> runner_;
  std::thread thread_;
  int exit_code_ = -1;
};

constexpr const char* kImagesOnly = R"(
http: {address: 127.0.0.1, port: 0}
images: {result_ttl: 10m}
)";

json bodyOf(const httplib::Result& result) {
  if (!result) return json();
  return json::parse(result->body, nullptr, false);
}

TEST(ImageHttpApi, AnalyseAnonymiseAndBatchesWithNoVideoSource) {
  ImageApi api(kImagesOnly);
  ASSERT_GT(api.port(), 0);
  httplib::Client client = api.client();
  gt::StillTruth truth;
  const cv::Mat picture = gt::checkoutStill(kSize, 21, &truth);
  const std::string jpeg = encoded(picture, ".jpg");

  const auto health = client.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(bodyOf(health)["status"], "ok");
  const auto form = client.Get("/");
  ASSERT_TRUE(form);
  EXPECT_NE(form->body.find("multipart/form-data"), std::string::npos);

  const auto raw = client.Post("/v1/analyze", jpeg, "image/jpeg");
  ASSERT_TRUE(raw);
  ASSERT_EQ(raw->status, 200) << raw->body;
  const json report = bodyOf(raw);
  EXPECT_EQ(report["faces"]["count"], static_cast<int>(truth.faces.size()));
  std::vector<std::string> expected = truth.code_texts;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(codeTexts(report), expected);
  EXPECT_GE(report["plates"]["count"], 1);

  httplib::MultipartFormDataItems parts{{"image", jpeg, "checkout.jpg", "image/jpeg"}, {"analytics", "codes", "", ""}};
  const auto multipart = client.Post("/v1/analyze", parts);
  ASSERT_TRUE(multipart);
  ASSERT_EQ(multipart->status, 200) << multipart->body;
  EXPECT_EQ(codeTexts(bodyOf(multipart)), expected);
  EXPECT_FALSE(bodyOf(multipart).contains("faces")) << "only the analytics asked for";

  const auto anonymized = client.Post("/v1/anonymize?format=png", jpeg, "image/jpeg");
  ASSERT_TRUE(anonymized);
  ASSERT_EQ(anonymized->status, 200) << anonymized->body;
  EXPECT_EQ(anonymized->get_header_value("Content-Type"), "image/png");
  const cv::Mat redacted = cv::imdecode(std::vector<unsigned char>(anonymized->body.begin(), anonymized->body.end()),
                                        cv::IMREAD_COLOR);
  ASSERT_EQ(redacted.size(), picture.size());
  const cv::Rect plate = truth.plates.front();
  EXPECT_GT(cv::norm(redacted(plate), picture(plate), cv::NORM_L1) / plate.area(), 10.0);

  // A batch: two good images and a truncated one, redacted copies kept.
  httplib::MultipartFormDataItems batch{{"a", jpeg, "a.jpg", "image/jpeg"},
                                        {"b", encoded(gt::checkoutStill(kSize, 22), ".png"), "b.png", "image/png"},
                                        {"c", jpeg.substr(0, jpeg.size() / 2), "c.jpg", "image/jpeg"},
                                        {"anonymize", "true", "", ""},
                                        {"format", "webp", "", ""}};
  const auto accepted = client.Post("/v1/batches", batch);
  ASSERT_TRUE(accepted);
  ASSERT_EQ(accepted->status, 202) << accepted->body;
  const std::string id = bodyOf(accepted)["id"];
  EXPECT_EQ(accepted->get_header_value("Location"), "/v1/batches/" + id);
  json status;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  do {
    const auto polled = client.Get(("/v1/batches/" + id).c_str());
    ASSERT_TRUE(polled);
    ASSERT_EQ(polled->status, 200) << polled->body;
    status = bodyOf(polled);
    EXPECT_LE(status["finished"].get<int>(), 3);
  } while (status["state"] != "done" && std::chrono::steady_clock::now() < deadline);
  ASSERT_EQ(status["state"], "done") << status.dump();
  EXPECT_EQ(status["total"], 3);
  EXPECT_EQ(status["failed"], 1);
  EXPECT_GT(status["expires_in_s"].get<int>(), 0);
  const json& results = status["results"];
  EXPECT_EQ(results[0]["name"], "a.jpg");
  EXPECT_EQ(codeTexts(results[0]), expected);
  EXPECT_EQ(results[2]["state"], "failed");
  EXPECT_EQ(results[2]["status"], 422);
  const auto download = client.Get(results[1]["download"].get<std::string>().c_str());
  ASSERT_TRUE(download);
  EXPECT_EQ(download->status, 200);
  EXPECT_EQ(download->get_header_value("Content-Type"), "image/webp");
  EXPECT_EQ(client.Get(("/v1/batches/" + id + "/images/2").c_str())->status, 404) << "a failed image has none";
  EXPECT_EQ(client.Get("/v1/batches/0123456789abcdef")->status, 404);
}

TEST(ImageHttpApi, BadInputGetsAClear4xx) {
  ImageApi api(kImagesOnly);
  ASSERT_GT(api.port(), 0);
  httplib::Client client = api.client();
  const std::string jpeg = encoded(gt::checkoutStill(cv::Size(640, 360), 3), ".jpg");
  auto expectError = [&](const httplib::Result& result, int status, const std::string& words) {
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, status) << result->body;
    const json body = bodyOf(result);
    ASSERT_TRUE(body.contains("error")) << result->body;
    EXPECT_NE(body["error"].get<std::string>().find(words), std::string::npos) << body.dump();
  };
  expectError(client.Post("/v1/analyze", "", "image/jpeg"), 400, "empty");
  expectError(client.Post("/v1/analyze", "plain text, not a picture", "text/plain"), 415, "not an image");
  expectError(client.Post("/v1/analyze", jpeg.substr(0, jpeg.size() / 2), "image/jpeg"), 422, "truncated JPEG");
  expectError(client.Post("/v1/analyze", jpegClaiming(20000, 20000), "image/jpeg"), 413, "over the limit");
  expectError(client.Post("/v1/analyze?analytics=faces,cars", jpeg, "image/jpeg"), 400, "unknown analytic 'cars'");
  expectError(client.Post("/v1/anonymize?format=gif", jpeg, "image/jpeg"), 400, "format 'gif'");
  expectError(client.Post("/v1/analyze", jpeg, "application/x-www-form-urlencoded"), 415, "Content-Type");

  httplib::MultipartFormDataItems many;
  for (int i = 0; i < 51; ++i) many.push_back({"image", jpeg, "i" + std::to_string(i) + ".jpg", "image/jpeg"});
  expectError(client.Post("/v1/batches", many), 400, "at most 50 images; got 51");

  // And the server still answers.
  const auto after = client.Post("/v1/analyze?analytics=codes", jpeg, "image/jpeg");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200) << after->body;
}

TEST(ImageHttpApi, FullQueueAnswers429) {
  // One place in the queue: a batch of two never fits, whatever the timing.
  ImageApi api(R"(
http: {address: 127.0.0.1, port: 0}
images: {workers: 1, queue: 1}
)");
  ASSERT_GT(api.port(), 0);
  httplib::Client client = api.client();
  const std::string jpeg = encoded(gt::checkoutStill(cv::Size(640, 360), 4), ".jpg");
  httplib::MultipartFormDataItems two{{"a", jpeg, "a.jpg", "image/jpeg"}, {"b", jpeg, "b.jpg", "image/jpeg"}};
  const auto refused = client.Post("/v1/batches", two);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429) << refused->body;
  EXPECT_EQ(refused->get_header_value("Retry-After"), "1");
  const auto one = client.Post("/v1/analyze", jpeg, "image/jpeg");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->status, 200) << "one image fits";
}

TEST(ImageHttpApi, TokenAndAllowList) {
  TempDirectory directory;
  writeFile(directory.path() / "token", "s3cret-read\n");
  {
    ImageApi api("http: {address: 127.0.0.1, port: 0, token_file: " + (directory.path() / "token").string() +
                 "}\nimages: {workers: 1}\n");
    ASSERT_GT(api.port(), 0);
    httplib::Client client = api.client();
    const std::string jpeg = encoded(gt::checkoutStill(cv::Size(640, 360), 5), ".jpg");
    EXPECT_EQ(client.Post("/v1/analyze", jpeg, "image/jpeg")->status, 401);
    EXPECT_EQ(client.Get("/health")->status, 200) << "probes need no token";
    client.set_bearer_token_auth("s3cret-read");
    EXPECT_EQ(client.Post("/v1/analyze", jpeg, "image/jpeg")->status, 200) << "the read token analyses";
  }
  {
    ImageApi api("http: {address: 127.0.0.1, port: 0, allow: [10.0.0.0/8, '::1']}\nimages: {workers: 1}\n");
    ASSERT_GT(api.port(), 0);
    const auto refused = api.client().Get("/health");
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 403);
    EXPECT_NE(refused->body.find("not allowed"), std::string::npos);
  }
  {
    ImageApi api("http: {address: 127.0.0.1, port: 0, allow: [127.0.0.0/8]}\nimages: {workers: 1}\n");
    ASSERT_GT(api.port(), 0);
    EXPECT_EQ(api.client().Get("/health")->status, 200);
  }
}

TEST(ImageHttpApi, FinishedBatchIsPostedToTheWebhookWithRetries) {
  // The receiver: refuses the first delivery, takes the second.
  httplib::Server receiver;
  std::mutex mutex;
  std::condition_variable delivered;
  std::vector<json> bodies;
  int attempts = 0;
  receiver.Post("/hook", [&](const httplib::Request& request, httplib::Response& response) {
    std::lock_guard<std::mutex> lock(mutex);
    if (++attempts == 1) {
      response.status = 503;
      return;
    }
    bodies.push_back(json::parse(request.body, nullptr, false));
    delivered.notify_all();
  });
  const int port = receiver.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { receiver.listen_after_bind(); });

  {
    ImageApi api("http: {address: 127.0.0.1, port: 0}\nimages: {workers: 1, webhook: {url: 'http://127.0.0.1:" +
                 std::to_string(port) + "/hook', retries: 2}}\n");
    ASSERT_GT(api.port(), 0);
    const std::string jpeg = encoded(gt::checkoutStill(cv::Size(640, 360), 6), ".jpg");
    const auto accepted = api.client().Post("/v1/batches", httplib::MultipartFormDataItems{{"a", jpeg, "a.jpg", "image/jpeg"}});
    ASSERT_TRUE(accepted);
    ASSERT_EQ(accepted->status, 202) << accepted->body;
    const std::string id = bodyOf(accepted)["id"];
    std::unique_lock<std::mutex> lock(mutex);
    ASSERT_TRUE(delivered.wait_for(lock, std::chrono::seconds(60), [&] { return !bodies.empty(); }))
        << "no delivery after " << attempts << " attempt(s)";
    EXPECT_EQ(attempts, 2) << "one refused, one retried";
    EXPECT_EQ(bodies.front()["id"], id);
    EXPECT_EQ(bodies.front()["state"], "done");
    EXPECT_EQ(bodies.front()["results"].size(), 1u);
  }
  receiver.stop();
  serving.join();
}

TEST(ImageHttpApi, AStopAskedBeforeTheLoopRunsIsNotLost) {
  // With no source, nothing finishes by itself: the stop alone ends run().
  vigil::pipeline::Runner runner(vigil::pipeline::parseConfig(kImagesOnly, "images.yaml"));
  runner.requestStop();
  auto finished = std::async(std::launch::async, [&] { return runner.run(); });
  ASSERT_EQ(finished.wait_for(std::chrono::seconds(60)), std::future_status::ready) << "run() never returned";
  EXPECT_EQ(finished.get(), 0);
}

TEST(ImagesConfig, EnvironmentOverridesTheFileAndBadValuesNameTheVariable) {
  const std::string yaml = "http: {port: 0}\nimages: {workers: 2, queue: 10}\n";
  setenv("VIGIL_IMAGES_WORKERS", "3", 1);
  setenv("VIGIL_IMAGES_RESULT_TTL", "90s", 1);
  const auto config = vigil::pipeline::parseConfig(yaml, "t.yaml");
  EXPECT_EQ(config.images.workers, 3);
  EXPECT_EQ(config.images.queue, 10);
  EXPECT_EQ(config.images.result_ttl, std::chrono::seconds(90));
  EXPECT_TRUE(config.sources.empty());
  setenv("VIGIL_IMAGES_QUEUE", "lots", 1);
  try {
    vigil::pipeline::parseConfig(yaml, "t.yaml");
    ADD_FAILURE() << "a bad override was accepted";
  } catch (const vigil::pipeline::ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("VIGIL_IMAGES_QUEUE"), std::string::npos) << error.what();
  }
  unsetenv("VIGIL_IMAGES_WORKERS");
  unsetenv("VIGIL_IMAGES_RESULT_TTL");
  unsetenv("VIGIL_IMAGES_QUEUE");
  EXPECT_THROW(vigil::pipeline::parseConfig("images: {}\n", "t.yaml"), vigil::pipeline::ConfigError)
      << "the image API needs http";
}

}  // namespace
