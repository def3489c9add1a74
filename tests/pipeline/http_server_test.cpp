// The runner's snapshot HTTP endpoint on its own, fed a real GstSample: the
// limits that keep a client from filling the disk, the memory or the workers.
#include "http_server.hpp"

#include <arpa/inet.h>
#include <gst/gst.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace vigil::pipeline {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int kWidth = 64;
constexpr int kHeight = 48;

// A grey I420 frame, as the snapshot output's appsink would hold it.
gst::SamplePtr greySample() {
  const gsize size = kWidth * kHeight * 3 / 2;
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, size, nullptr);
  gst_buffer_memset(buffer, 0, 128, size);
  GstCaps* caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "I420", "width", G_TYPE_INT, kWidth,
                                      "height", G_TYPE_INT, kHeight, "framerate", GST_TYPE_FRACTION, 0, 1, nullptr);
  GstSample* sample = gst_sample_new(buffer, caps, nullptr, nullptr);
  gst_buffer_unref(buffer);
  gst_caps_unref(caps);
  return gst::SamplePtr(sample);
}

class SnapshotHttpTest : public ::testing::Test {
 protected:
  SnapshotHttpTest() {
    directory_ = fs::temp_directory_path() / ("vigil-http-" + std::to_string(::getpid()) + "-" +
                                              ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(directory_);
    sample_ = greySample();
    SnapshotTarget target;
    GstSample* sample = sample_.get();
    target.latest = [sample] { return gst::SamplePtr(gst_sample_ref(sample)); };
    target.directory = directory_.string();
    HttpConfig config;
    config.enabled = true;
    config.port = 0;
    server_ = std::make_unique<HttpServer>(config, std::set<std::string>{"cam"},
                                           std::map<std::string, SnapshotTarget>{{"cam", target}});
    server_->start();
  }
  ~SnapshotHttpTest() override {
    server_->stop();
    fs::remove_all(directory_);
  }
  std::size_t savedFiles() const {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(directory_), fs::directory_iterator()));
  }

  fs::path directory_;
  gst::SamplePtr sample_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(SnapshotHttpTest, SavedSnapshotsAreRateLimitedPerSource) {
  httplib::Client http("127.0.0.1", server_->port());
  auto first = http.Post("/sources/cam/snapshot");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 201) << first->body;
  for (int i = 0; i < 40; ++i) {
    auto again = http.Post("/sources/cam/snapshot");
    ASSERT_TRUE(again);
    ASSERT_EQ(again->status, 429) << again->body;
    EXPECT_EQ(again->get_header_value("Retry-After"), "1");
  }
  EXPECT_EQ(savedFiles(), 1u) << "41 requests in a row save one file";
  // Reading is not limited.
  auto jpeg = http.Get("/sources/cam/snapshot.jpg");
  ASSERT_TRUE(jpeg);
  EXPECT_EQ(jpeg->status, 200);
}

TEST_F(SnapshotHttpTest, BodiesForeignHostsAndSlowClientsAreRefused) {
  httplib::Client http("127.0.0.1", server_->port());
  auto big = http.Post("/sources/cam/snapshot", std::string(1 << 20, 'x'), "application/octet-stream");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413) << "a 1 MiB body is refused, not read";
  EXPECT_EQ(savedFiles(), 0u);
  auto foreign = http.Get("/sources/cam/snapshot.jpg", {{"Host", "rebind.evil.example"}});
  ASSERT_TRUE(foreign);
  EXPECT_EQ(foreign->status, 403);

  // Connections that send half a request and then nothing (4: within
  // libcpp-httplib's listen backlog of 5, so none waits for a SYN retry).
  std::vector<int> slow;
  for (int i = 0; i < 4; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(server_->port()));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    const std::string half = "GET /sources/cam/snapshot.jpg HTTP/1.1\r\n";
    ASSERT_EQ(::send(fd, half.data(), half.size(), 0), static_cast<ssize_t>(half.size()));
    slow.push_back(fd);
  }
  const auto started = std::chrono::steady_clock::now();
  auto jpeg = httplib::Client("127.0.0.1", server_->port()).Get("/sources/cam/snapshot.jpg");
  const auto waited = std::chrono::steady_clock::now() - started;
  for (int fd : slow) ::close(fd);
  ASSERT_TRUE(jpeg);
  EXPECT_EQ(jpeg->status, 200);
  EXPECT_LT(waited, 1s) << "4 idle connections must not block the endpoint";
}

// Bearer tokens: none or a wrong one reads nothing (401), the read token
// fetches snapshots but cannot save one (403), the admin token saves.
TEST(SnapshotHttpAuth, ReadTokenFetchesAdminTokenSaves) {
  const fs::path directory = fs::temp_directory_path() / ("vigil-http-auth-" + std::to_string(::getpid()));
  fs::create_directories(directory);
  gst::SamplePtr sample = greySample();
  SnapshotTarget target;
  GstSample* raw = sample.get();
  target.latest = [raw] { return gst::SamplePtr(gst_sample_ref(raw)); };
  target.directory = directory.string();
  HttpConfig config;
  config.enabled = true;
  config.port = 0;
  config.read_token = "viewer-token";
  config.admin_token = "admin-token";
  HttpServer server(config, {"cam"}, {{"cam", target}});
  server.start();
  httplib::Client http("127.0.0.1", server.port());
  auto status = [&](bool post, const std::string& token) {
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    auto result = post ? http.Post("/sources/cam/snapshot", headers, "", "text/plain")
                       : http.Get("/sources/cam/snapshot.jpg", headers);
    return result ? result->status : -1;
  };
  EXPECT_EQ(status(false, ""), 401);
  EXPECT_EQ(status(false, "viewer-tokeN"), 401);
  EXPECT_EQ(status(false, "viewer-token"), 200);
  EXPECT_EQ(status(true, "viewer-token"), 403);
  EXPECT_TRUE(fs::is_empty(directory));
  EXPECT_EQ(status(true, "admin-token"), 201);
  server.stop();
  fs::remove_all(directory);
}

}  // namespace
}  // namespace vigil::pipeline
