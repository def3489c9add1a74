// The recorder's HTTP JSON API (cpp-httplib): the CLI's queries plus
// aggregates, on its own thread and its own SQLite connection (WAL lets it
// read while the recorder writes).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vigil::recorder {

// Every answer of a query holds at most this many rows (limit=0 or more is
// capped to it): page with from_id / to_id for more.
inline constexpr std::int64_t kHttpMaxRows = 10000;
// Zone aggregates: the smallest bucket.
inline constexpr std::chrono::milliseconds kHttpMinBucket{1000};

struct HttpLimits {
  std::size_t threads = 32;                        // connections served at once
  std::chrono::milliseconds read_timeout{2000};    // a client silent this long is dropped
  std::chrono::milliseconds write_timeout{5000};
  std::size_t max_body_bytes = 64 * 1024;          // requests carry no body; 413 beyond
  // Host header names served besides localhost, 127.0.0.1, ::1 and the bound
  // host (DNS-rebinding defence); e.g. the name a reverse proxy forwards.
  std::vector<std::string> allowed_hosts;
  // Bearer tokens. When either is set, every request but /api/health needs
  // `Authorization: Bearer TOKEN`: the read token for GET, the admin token
  // for GET and DELETE. Both empty: no authentication (loopback use).
  std::string read_token;
  std::string admin_token;
};

// The token in a file (first line, surrounding blanks dropped). Throws
// std::invalid_argument naming the file when it cannot be read or is empty.
std::string readTokenFile(const std::string& path);

// True for localhost, ::1 and 127.x.y.z: an address only this machine reaches.
bool isLoopbackHost(const std::string& host);

class HttpApi {
 public:
  explicit HttpApi(std::string db_path, HttpLimits limits = {});
  ~HttpApi();
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  // Binds (port 0 = any free port), starts serving and returns the bound port.
  // Throws std::runtime_error when the address cannot be bound.
  int start(const std::string& host, int port);
  void stop();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace vigil::recorder
