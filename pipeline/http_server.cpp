#include "http_server.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <stdexcept>
#include <thread>

namespace vigil::pipeline {

namespace {

// Snapshots are rare and short; two workers keep a burst from piling threads.
constexpr std::size_t kWorkerThreads = 2;

void answerError(httplib::Response& response, int status, const std::string& text) {
  response.status = status;
  response.set_content(nlohmann::json{{"error", text}}.dump(), "application/json");
}

}  // namespace

struct HttpServer::Impl {
  HttpConfig config;
  std::set<std::string> sources;
  std::map<std::string, SnapshotTarget> targets;
  httplib::Server server;
  std::thread thread;

  // The target for a request, or null with the error answer written.
  const SnapshotTarget* targetFor(const std::string& id, httplib::Response& response) const {
    if (!sources.count(id)) {
      answerError(response, 404, "no source '" + id + "'");
      return nullptr;
    }
    const auto found = targets.find(id);
    if (found == targets.end()) {
      answerError(response, 404, "source '" + id + "' has no snapshot output (add `{type: snapshot, path: DIR}`)");
      return nullptr;
    }
    return &found->second;
  }

  // Encodes the newest frame, or writes the error answer and returns false.
  static bool encodeLatest(const std::string& id, const SnapshotTarget& target, SnapshotFormat format,
                           std::vector<unsigned char>& bytes, httplib::Response& response) {
    gst::SamplePtr sample = target.latest();
    if (!sample) {
      answerError(response, 503, "source '" + id + "' has no frame yet");
      return false;
    }
    try {
      bytes = encodeSnapshot(sample.get(), format);
    } catch (const std::exception& error) {
      spdlog::warn("[{}] snapshot failed: {}", id, error.what());
      answerError(response, 500, error.what());
      return false;
    }
    return true;
  }

  void routes() {
    server.Get(R"(/sources/([A-Za-z0-9._-]+)/snapshot\.(jpg|jpeg|webp))",
               [this](const httplib::Request& request, httplib::Response& response) {
                 const std::string id = request.matches[1];
                 const SnapshotFormat format = request.matches[2] == "webp" ? SnapshotFormat::kWebp
                                                                            : SnapshotFormat::kJpeg;
                 const SnapshotTarget* target = targetFor(id, response);
                 std::vector<unsigned char> bytes;
                 if (!target || !encodeLatest(id, *target, format, bytes, response)) return;
                 response.set_header("Cache-Control", "no-store");
                 response.set_content(reinterpret_cast<const char*>(bytes.data()), bytes.size(),
                                      snapshotMimeType(format));
               });
    server.Post(R"(/sources/([A-Za-z0-9._-]+)/snapshot)",
                [this](const httplib::Request& request, httplib::Response& response) {
                  const std::string id = request.matches[1];
                  const SnapshotTarget* target = targetFor(id, response);
                  std::vector<unsigned char> bytes;
                  if (!target || !encodeLatest(id, *target, target->format, bytes, response)) return;
                  try {
                    const std::string path = saveSnapshot(bytes, target->directory, id, target->format);
                    spdlog::info("[{}] snapshot saved: {}", id, path);
                    response.status = 201;
                    response.set_content(
                        nlohmann::json{{"source", id}, {"path", path}, {"bytes", bytes.size()}}.dump(),
                        "application/json");
                  } catch (const std::exception& error) {
                    spdlog::warn("[{}] snapshot not saved: {}", id, error.what());
                    answerError(response, 500, error.what());
                  }
                });
  }
};

HttpServer::HttpServer(HttpConfig config, std::set<std::string> sources,
                       std::map<std::string, SnapshotTarget> targets)
    : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  impl_->sources = std::move(sources);
  impl_->targets = std::move(targets);
  impl_->server.new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
  impl_->routes();
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start() {
  if (impl_->thread.joinable()) return;
  const std::string& address = impl_->config.address;
  const int port = impl_->config.port;
  const int bound = port == 0 ? impl_->server.bind_to_any_port(address)
                              : (impl_->server.bind_to_port(address, port) ? port : -1);
  if (bound <= 0) {
    throw std::runtime_error("cannot serve HTTP on " + address + ":" + std::to_string(port) +
                             " (address not available or port in use)");
  }
  bound_port_ = bound;
  impl_->thread = std::thread([server = &impl_->server] { server->listen_after_bind(); });
}

void HttpServer::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->server.stop();
  impl_->thread.join();
}

std::string HttpServer::url() const {
  return "http://" + impl_->config.address + ":" + std::to_string(bound_port_);
}

}  // namespace vigil::pipeline
