// The recorder's HTTP JSON API (cpp-httplib): the CLI's queries plus
// aggregates, on its own thread and its own SQLite connection (WAL lets it
// read while the recorder writes).
#pragma once

#include <memory>
#include <string>

namespace vigil::recorder {

class HttpApi {
 public:
  explicit HttpApi(std::string db_path);
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
