// An RTSP server (gst-rtsp-server) on its own thread and main context: used to
// re-serve anonymized outputs, by `vigil serve`, by the demo and by tests.
#pragma once

#include <memory>
#include <string>

namespace vigil::pipeline {

class RtspServer {
 public:
  // port 0: any free port, read back with port() after start().
  RtspServer(std::string address, int port);
  ~RtspServer();
  RtspServer(const RtspServer&) = delete;
  RtspServer& operator=(const RtspServer&) = delete;

  // A launch description in gst-rtsp-server form: "( ... ! rtph264pay name=pay0 )".
  // Mounts may be added before or after start().
  void mount(const std::string& path, const std::string& launch, bool shared = true);

  // Throws std::runtime_error when the port cannot be bound.
  void start();
  // Closes every client session and the listening socket; start() again serves
  // on the same port (tests use this to simulate a camera that drops).
  void stop();

  int port() const;
  std::string url(const std::string& mount) const;

  // Launch line serving an H.264 Matroska/MP4 file without re-encoding.
  static std::string fileLaunch(const std::string& path);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Re-serves analytics outputs: each source with an `rtsp` output gets a mount
// fed from its analytics pipeline through an intervideo channel.
class OutputServer {
 public:
  explicit OutputServer(RtspServer& server) : server_(server) {}
  // Channel name the analytics pipeline's intervideosink must use.
  std::string addMount(const std::string& source_id, const std::string& mount, int bitrate_kbps);
  RtspServer& server() { return server_; }

 private:
  RtspServer& server_;
};

}  // namespace vigil::pipeline
