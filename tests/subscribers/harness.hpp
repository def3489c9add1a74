// Test harness for the subscriber processes: temp dirs, child processes
// (spawned from VIGIL_BUILD_DIR, killed for real), a real publisher on
// tcp://127.0.0.1:*, event builders, and polling with deadlines.
#pragma once

#include "vigil/events/codec.hpp"
#include "vigil/events/publisher.hpp"

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace vigil::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string readFile(const std::string& path);
void writeFile(const std::string& path, const std::string& text);
std::vector<std::string> lines(const std::string& text);

// Path of a built binary, e.g. builtBinary("subscribers/recorder/vigil-recorder").
std::string builtBinary(const std::string& relative);
std::string sourcePath(const std::string& relative);

// Polls `condition` until it holds or `timeout` passes; `between` runs before
// each retry (e.g. publish a probe). No fixed sleeps: a short yield per turn.
bool pollUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
               const std::function<void()>& between = {});

class ChildProcess {
 public:
  // stdout and stderr go to files (readable while the child runs).
  ChildProcess(std::vector<std::string> argv, std::string stdout_path, std::string stderr_path,
               std::map<std::string, std::string> extra_env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int number);
  // Exit status (or 128 + signal); -1 on timeout.
  int wait(std::chrono::milliseconds timeout);
  bool running();
  std::string out() const { return readFile(stdout_path_); }
  std::string err() const { return readFile(stderr_path_); }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string stdout_path_, stderr_path_;
};

// A TCP port that was free a moment ago on 127.0.0.1 (for programs such as
// gst-launch-1.0 that cannot report a port they bound themselves).
int freeTcpPort();

// Runs a command to completion; returns {exit status, stdout}.
std::pair<int, std::string> runCommand(const std::vector<std::string>& argv,
                                       std::chrono::milliseconds timeout = std::chrono::seconds(20));

// A real publisher on tcp://127.0.0.1:* with a snapshot socket.
class Bus {
 public:
  Bus();
  explicit Bus(const std::string& endpoint, const std::string& snapshot_endpoint);
  const std::string& endpoint() const { return publisher_->boundEndpoint(); }
  const std::string& snapshotEndpoint() const { return publisher_->boundSnapshotEndpoint(); }
  events::Publisher& publisher() { return *publisher_; }

  bool publish(const std::string& kind, const std::string& source, const events::Body& body,
               std::uint64_t frame = 0, std::int64_t ts_ns = 0);
  bool flush();

 private:
  std::shared_ptr<events::Publisher> publisher_;
};

// Event bodies (Body can be neither copied nor moved, hence the pointer):
// bus.publish("faces", "cam", *facesBody(3, {{"queue-1", 2}})).
using BodyPtr = std::unique_ptr<events::Body>;
BodyPtr facesBody(std::int64_t count, const std::map<std::string, std::int64_t>& zones = {});
BodyPtr statusBody(const std::string& state, const std::string& detail = "");
struct TestCode {
  std::string format, text, state;
  std::int64_t track_id = 1;
};
BodyPtr codesBody(const std::vector<TestCode>& codes);

}  // namespace vigil::testing
