// The documentation's promises, checked from another language: the Python
// example in docs/examples/subscriber.py receives live events from a real
// publisher, and Python's msgpack reads the golden vectors as C++ renders them.
// Debian's interpreter is used on purpose: it is the one with python3-zmq and
// python3-msgpack installed (a python3 earlier on PATH may lack them).
#include "golden_events.hpp"

#include "vigil/events/publisher.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.hpp>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

extern char** environ;

namespace vigil::events {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kPython = "/usr/bin/python3";
constexpr auto kDeadline = std::chrono::seconds(20);
constexpr int kPollMs = 50;  // also the publishing cadence while waiting for output

std::string sourceDir() {
  const char* dir = std::getenv("VIGIL_SOURCE_DIR");
  return dir && *dir ? dir : VIGIL_TEST_SOURCE_DIR;
}

// A child process with stdout and stderr on one pipe, killed if still running
// when the test ends.
class Child {
 public:
  explicit Child(const std::vector<std::string>& argv) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    const int error = posix_spawn(&pid_, argv[0].c_str(), &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    output_fd_ = fds[0];
    if (error != 0) {
      pid_ = -1;
      ::close(output_fd_);
      throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(error));
    }
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (output_fd_ >= 0) ::close(output_fd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Next complete output line within `timeout_ms`; nullopt on timeout or EOF.
  std::optional<std::string> readLine(int timeout_ms) {
    for (;;) {
      if (const auto end = buffer_.find('\n'); end != std::string::npos) {
        std::string line = buffer_.substr(0, end);
        buffer_.erase(0, end + 1);
        all_output_ += line + "\n";
        return line;
      }
      if (eof_) return std::nullopt;
      pollfd item{output_fd_, POLLIN, 0};
      if (::poll(&item, 1, timeout_ms) <= 0) return std::nullopt;
      char chunk[4096];
      const ssize_t got = ::read(output_fd_, chunk, sizeof chunk);
      if (got <= 0) {
        eof_ = true;
        continue;
      }
      buffer_.append(chunk, static_cast<std::size_t>(got));
    }
  }

  // Reads to EOF (the child exiting closes the pipe), then reaps it.
  // Returns the exit code, or -1 if it did not exit normally in time.
  int waitForExit(Clock::time_point deadline) {
    while (!eof_ && Clock::now() < deadline) (void)readLine(kPollMs);
    if (!eof_) return -1;
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  const std::string& output() const { return all_output_; }

 private:
  pid_t pid_ = -1;
  int output_fd_ = -1;
  bool eof_ = false;
  std::string buffer_;
  std::string all_output_;
};

::testing::AssertionResult pythonHasModules() {
  if (::access(kPython, X_OK) != 0) {
    return ::testing::AssertionFailure() << kPython << " is missing (Debian package python3)";
  }
  Child probe({kPython, "-c", "import zmq, msgpack"});
  if (probe.waitForExit(Clock::now() + kDeadline) != 0) {
    return ::testing::AssertionFailure() << "python3-zmq / python3-msgpack missing: " << probe.output();
  }
  return ::testing::AssertionSuccess();
}

TEST(Python, GoldenVectorsDecodeIdenticallyInPython) {
  ASSERT_TRUE(pythonHasModules());
  Child check({kPython, sourceDir() + "/tests/events/check_golden.py", testing::goldenDir()});
  ASSERT_EQ(check.waitForExit(Clock::now() + kDeadline), 0) << check.output();
  for (const auto& golden : testing::goldenEvents()) {
    EXPECT_NE(check.output().find("ok " + golden.name + "\n"), std::string::npos)
        << golden.name << " not checked:\n"
        << check.output();
  }
}

Header headerFor(std::string_view kind, std::string_view source) {
  Header header;
  header.kind = std::string(kind);
  header.source = std::string(source);
  header.ts_ns = wallClockNowNs();
  header.pts_ns = 0;
  header.width = 640;
  header.height = 480;
  return header;
}

// Body owns a packer bound to its buffer, so it is filled in place.
void fillFaces(Body& body, int count) {
  body.set("count", count);
  auto& objects = body.key("objects");
  objects.pack_array(1);
  objects.pack_map(3);
  objects.pack(std::string("box"));
  objects.pack(std::vector<int>{10, 20, 30, 40});
  objects.pack(std::string("score"));
  objects.pack(0.5);
  objects.pack(std::string("track_id"));
  objects.pack(7);
}

TEST(Python, DocsExampleReceivesLiveEvents) {
  ASSERT_TRUE(pythonHasModules());
  constexpr int kEvents = 6;
  PublisherOptions options;
  options.endpoint = "tcp://127.0.0.1:*";
  auto publisher = Publisher::acquire(options);
  Child script({kPython, sourceDir() + "/docs/examples/subscriber.py", publisher->boundEndpoint(),
                std::to_string(kEvents)});

  // Publish until the script has printed what it was asked for: its SUB
  // connects whenever Python is up, and events before that are not seen.
  std::vector<nlohmann::json> lines;
  const auto deadline = Clock::now() + kDeadline;
  for (int n = 0; static_cast<int>(lines.size()) < kEvents && Clock::now() < deadline; ++n) {
    Body faces;
    fillFaces(faces, n);
    publisher->publish(headerFor("faces", "py-cam"), faces);
    publisher->publish(headerFor("status", "py-cam"), Body().set("state", "playing").set("detail", "ok"));
    while (auto line = script.readLine(kPollMs)) {
      ASSERT_TRUE(nlohmann::json::accept(*line)) << "not a JSON line: " << *line << "\n" << script.output();
      lines.push_back(nlohmann::json::parse(*line));
    }
  }
  ASSERT_EQ(static_cast<int>(lines.size()), kEvents) << script.output();
  EXPECT_EQ(script.waitForExit(Clock::now() + kDeadline), 0) << "exits by itself after COUNT events\n"
                                                             << script.output();

  std::map<std::string, std::uint64_t> last_seq;
  for (const auto& event : lines) {
    EXPECT_EQ(event["v"], 1);
    EXPECT_EQ(event["source"], "py-cam");
    EXPECT_EQ(event["run"], publisher->runId());
    EXPECT_EQ(event["topic"], "vigil/" + event["kind"].get<std::string>() + "/py-cam");
    EXPECT_TRUE(event["ts"].is_number_unsigned());
    EXPECT_EQ(event["width"], 640);
    const std::string topic = event["topic"];
    const auto seq = event["seq"].get<std::uint64_t>();
    if (last_seq.count(topic)) {
      EXPECT_EQ(seq, last_seq[topic] + 1) << "no gaps on loopback once connected";
    }
    last_seq[topic] = seq;
    if (event["kind"] == "faces") {
      EXPECT_EQ(event["objects"][0]["box"], (std::vector<int>{10, 20, 30, 40}));
      EXPECT_EQ(event["objects"][0]["score"], 0.5);
      EXPECT_EQ(event["objects"][0]["track_id"], 7);
      EXPECT_EQ(event["count"], seq - 1) << "the body travels with its header";
    } else {
      EXPECT_EQ(event["kind"], "status");
      EXPECT_EQ(event["state"], "playing");
    }
  }
  EXPECT_EQ(last_seq.size(), 2u) << "both topics reached the script";
}

// With the snapshot endpoint, the example catches up: what was published
// before it joined comes first, replayed, in order, each seq once.
TEST(Python, DocsExampleCatchesUpFromThePublishersHistory) {
  ASSERT_TRUE(pythonHasModules());
  constexpr std::uint64_t kBefore = 5;
  constexpr std::size_t kEvents = 8;
  PublisherOptions options;
  options.endpoint = "tcp://127.0.0.1:*";
  options.snapshot_endpoint = "tcp://127.0.0.1:*";
  auto publisher = Publisher::acquire(options);
  for (std::uint64_t n = 0; n < kBefore; ++n) {
    Body faces;
    fillFaces(faces, static_cast<int>(n));
    publisher->publish(headerFor("faces", "py-late"), faces);
  }
  ASSERT_TRUE(publisher->flush(kDeadline));
  Child script({kPython, sourceDir() + "/docs/examples/subscriber.py", publisher->boundEndpoint(),
                std::to_string(kEvents), publisher->boundSnapshotEndpoint()});
  std::vector<nlohmann::json> lines;
  const auto deadline = Clock::now() + kDeadline;
  for (int n = kBefore; lines.size() < kEvents && Clock::now() < deadline; ++n) {
    Body faces;
    fillFaces(faces, n);
    publisher->publish(headerFor("faces", "py-late"), faces);
    while (auto line = script.readLine(kPollMs)) {
      ASSERT_TRUE(nlohmann::json::accept(*line)) << "not a JSON line: " << *line << "\n" << script.output();
      lines.push_back(nlohmann::json::parse(*line));
    }
  }
  ASSERT_GE(lines.size(), kEvents) << script.output();
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["seq"], i + 1) << lines[i].dump();
    EXPECT_EQ(lines[i]["count"], i) << "the replayed body is the published one";
  }
  for (std::size_t i = 0; i < kBefore; ++i) EXPECT_EQ(lines[i]["replayed"], true) << lines[i].dump();
  EXPECT_FALSE(lines.back().contains("replayed")) << "the live event that showed the gap comes last";
  EXPECT_EQ(script.waitForExit(Clock::now() + kDeadline), 0) << script.output();
}

// On a CURVE bus the example, given its key pair and the server's public
// key, receives and catches up like on an open one.
TEST(Python, DocsExampleCatchesUpOverCurve) {
  ASSERT_TRUE(pythonHasModules());
  constexpr std::uint64_t kBefore = 3;
  constexpr std::size_t kEvents = 5;
  char pattern[] = "/tmp/vigil-py-curve-XXXXXX";
  const std::filesystem::path keys = ::mkdtemp(pattern);
  writeCurveKeyPair(generateCurveKeyPair(), keys.string(), "server");
  writeCurveKeyPair(generateCurveKeyPair(), keys.string(), "python");
  std::filesystem::create_directory(keys / "authorized");
  std::filesystem::copy_file(keys / "python.pub", keys / "authorized" / "python.pub");
  PublisherOptions options;
  options.endpoint = "tcp://127.0.0.1:*";
  options.snapshot_endpoint = "tcp://127.0.0.1:*";
  options.curve.secret_key_file = (keys / "server.key").string();
  options.curve.authorized_keys_dir = (keys / "authorized").string();
  auto publisher = Publisher::acquire(options);
  for (std::uint64_t n = 0; n < kBefore; ++n) {
    Body faces;
    fillFaces(faces, static_cast<int>(n));
    publisher->publish(headerFor("faces", "py-curve"), faces);
  }
  ASSERT_TRUE(publisher->flush(kDeadline));
  Child script({kPython, sourceDir() + "/docs/examples/subscriber.py", "--curve-key", (keys / "python.key").string(),
                "--server-key", (keys / "server.pub").string(), publisher->boundEndpoint(), std::to_string(kEvents),
                publisher->boundSnapshotEndpoint()});
  std::vector<nlohmann::json> lines;
  const auto deadline = Clock::now() + kDeadline;
  for (int n = kBefore; lines.size() < kEvents && Clock::now() < deadline; ++n) {
    Body faces;
    fillFaces(faces, n);
    publisher->publish(headerFor("faces", "py-curve"), faces);
    while (auto line = script.readLine(kPollMs)) {
      ASSERT_TRUE(nlohmann::json::accept(*line)) << "not a JSON line: " << *line << "\n" << script.output();
      lines.push_back(nlohmann::json::parse(*line));
    }
  }
  std::filesystem::remove_all(keys);
  ASSERT_GE(lines.size(), kEvents) << script.output();
  for (std::size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(lines[i]["seq"], i + 1) << lines[i].dump();
  for (std::size_t i = 0; i < kBefore; ++i) EXPECT_EQ(lines[i]["replayed"], true) << lines[i].dump();
  EXPECT_EQ(publisher->stats().clients_refused, 0u);
}

TEST(Python, DocsExampleSkipsANewerSchemaVersion) {
  ASSERT_TRUE(pythonHasModules());
  zmq::context_t context;
  zmq::socket_t raw(context, zmq::socket_type::pub);
  raw.set(zmq::sockopt::linger, 0);
  raw.bind("tcp://127.0.0.1:*");
  constexpr int kEvents = 2;
  Child script({kPython, sourceDir() + "/docs/examples/subscriber.py",
                raw.get(zmq::sockopt::last_endpoint), std::to_string(kEvents)});

  // Odd seq: schema v1; even seq: the same event claiming v2.
  const std::string topic = topicFor("faces", "py-raw");
  std::vector<std::uint64_t> printed;
  const auto deadline = Clock::now() + kDeadline;
  for (std::uint64_t seq = 1; static_cast<int>(printed.size()) < kEvents && Clock::now() < deadline; ++seq) {
    Header header = headerFor("faces", "py-raw");
    header.run = "feedfacecafe0002";
    header.seq = seq;
    Body faces;
    fillFaces(faces, 1);
    std::string body = encode(header, faces);
    constexpr std::size_t kVersionOffset = 3;  // fixmap, fixstr "v", then the version
    if (seq % 2 == 0) body[kVersionOffset] = 2;
    raw.send(zmq::buffer(topic), zmq::send_flags::sndmore);
    raw.send(zmq::buffer(body), zmq::send_flags::none);
    while (auto line = script.readLine(kPollMs)) {
      ASSERT_TRUE(nlohmann::json::accept(*line)) << *line << "\n" << script.output();
      const auto event = nlohmann::json::parse(*line);
      EXPECT_EQ(event["v"], 1) << *line;
      printed.push_back(event["seq"].get<std::uint64_t>());
    }
  }
  ASSERT_EQ(static_cast<int>(printed.size()), kEvents) << script.output();
  // In order and loss-free on loopback, so the v2 event in between arrived
  // and was skipped rather than printed.
  EXPECT_EQ(printed[1], printed[0] + 2);
  EXPECT_EQ(script.waitForExit(Clock::now() + kDeadline), 0) << script.output();
}

}  // namespace
}  // namespace vigil::events
