#include "harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace vigil::testing {

namespace {

// One polling turn: long enough not to spin a shared 2-core machine, short
// against every deadline used in the tests.
constexpr auto kPollStep = std::chrono::milliseconds(5);

std::string envOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

}  // namespace

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "vigil-subscribers-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> result;
  std::stringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) result.push_back(line);
  }
  return result;
}

std::string builtBinary(const std::string& relative) {
  return envOr("VIGIL_BUILD_DIR", VIGIL_TEST_BUILD_DIR) + "/" + relative;
}

std::string sourcePath(const std::string& relative) {
  return envOr("VIGIL_SOURCE_DIR", VIGIL_TEST_SOURCE_DIR) + "/" + relative;
}

bool pollUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
               const std::function<void()>& between) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (between) between();
    std::this_thread::sleep_for(kPollStep);
  }
}

ChildProcess::ChildProcess(std::vector<std::string> argv, std::string stdout_path,
                           std::string stderr_path, std::map<std::string, std::string> extra_env)
    : stdout_path_(std::move(stdout_path)), stderr_path_(std::move(stderr_path)) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<char*> args;
  for (auto& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** entry = environ; *entry; ++entry) {
    const std::string item(*entry);
    const auto name = item.substr(0, item.find('='));
    if (!extra_env.count(name)) env_storage.push_back(item);
  }
  for (const auto& [name, value] : extra_env) env_storage.push_back(name + "=" + value);
  std::vector<char*> env;
  for (auto& item : env_storage) env.push_back(item.data());
  env.push_back(nullptr);
  const int error = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) throw std::runtime_error("cannot spawn " + argv[0]);
}

ChildProcess::~ChildProcess() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(10));
  }
}

void ChildProcess::signal(int number) { ::kill(pid_, number); }

bool ChildProcess::running() {
  if (status_ != -1) return false;
  int raw = 0;
  const pid_t done = ::waitpid(pid_, &raw, WNOHANG);
  if (done == pid_) {
    status_ = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
    return false;
  }
  return done == 0;
}

int ChildProcess::wait(std::chrono::milliseconds timeout) {
  pollUntil([this] { return !running(); }, timeout);
  return status_;
}

std::pair<int, std::string> runCommand(const std::vector<std::string>& argv,
                                       std::chrono::milliseconds timeout) {
  TempDir dir;
  ChildProcess child(argv, dir.file("out"), dir.file("err"));
  const int status = child.wait(timeout);
  return {status, child.out() + (status != 0 ? child.err() : std::string())};
}

int freeTcpPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

Bus::Bus() : Bus("tcp://127.0.0.1:*", "tcp://127.0.0.1:*") {}

Bus::Bus(const std::string& endpoint, const std::string& snapshot_endpoint) {
  events::PublisherOptions options;
  options.endpoint = endpoint;
  options.snapshot_endpoint = snapshot_endpoint;
  publisher_ = events::Publisher::acquire(options);
}

bool Bus::publish(const std::string& kind, const std::string& source, const events::Body& body,
                  std::uint64_t frame, std::int64_t ts_ns) {
  events::Header header;
  header.kind = kind;
  header.source = source;
  header.ts_ns = ts_ns ? ts_ns : events::wallClockNowNs();
  header.frame = frame;
  header.width = 640;
  header.height = 480;
  return publisher_->publish(header, body);
}

bool Bus::flush() { return publisher_->flush(std::chrono::seconds(5)); }

BodyPtr facesBody(std::int64_t count, const std::map<std::string, std::int64_t>& zones) {
  auto owned = std::make_unique<events::Body>();
  events::Body& body = *owned;
  body.set("count", count);
  auto& zones_packer = body.key("zones");
  zones_packer.pack_map(static_cast<std::uint32_t>(zones.size()));
  for (const auto& [name, value] : zones) {
    zones_packer.pack(name);
    zones_packer.pack(value);
  }
  body.key("objects").pack_array(0);
  return owned;
}

BodyPtr statusBody(const std::string& state, const std::string& detail) {
  auto owned = std::make_unique<events::Body>();
  events::Body& body = *owned;
  body.set("state", state);
  body.set("detail", detail);
  body.set("input_fps", 25.0);
  body.set("analysed_fps", 25.0);
  body.set("dropped_frames", std::int64_t{0});
  return owned;
}

BodyPtr codesBody(const std::vector<TestCode>& codes) {
  auto owned = std::make_unique<events::Body>();
  events::Body& body = *owned;
  body.set("count", static_cast<std::int64_t>(codes.size()));
  auto& packer = body.key("objects");
  packer.pack_array(static_cast<std::uint32_t>(codes.size()));
  for (const auto& code : codes) {
    packer.pack_map(7);
    packer.pack(std::string("box"));
    packer.pack(std::vector<int>{10, 10, 50, 50});
    packer.pack(std::string("score"));
    packer.pack(1.0);
    packer.pack(std::string("track_id"));
    packer.pack(code.track_id);
    packer.pack(std::string("format"));
    packer.pack(code.format);
    packer.pack(std::string("text"));
    packer.pack(code.text);
    packer.pack(std::string("first_seen"));
    packer.pack(std::int64_t{0});
    packer.pack(std::string("state"));
    packer.pack(code.state);
  }
  return owned;
}

}  // namespace vigil::testing
