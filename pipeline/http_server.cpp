#include "http_server.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <thread>

namespace vigil::pipeline {

namespace {

// Snapshots are rare and short, but a connection that sends nothing holds a
// worker until the read timeout: enough workers that a few idle clients do
// not block everyone, and short timeouts so each gives its worker back soon.
constexpr std::size_t kWorkerThreads = 8;
constexpr std::time_t kReadTimeoutSeconds = 2;
constexpr std::time_t kWriteTimeoutSeconds = 5;
// Requests carry no body: 413 beyond this (a 200 MB body was read whole).
constexpr std::size_t kMaxBodyBytes = 4096;

// Compares without an early exit (timing says nothing of a partial match).
bool sameSecret(const std::string& given, const std::string& secret) {
  if (secret.empty()) return false;
  unsigned char difference = given.size() == secret.size() ? 0 : 1;
  for (std::size_t i = 0; i < given.size(); ++i) {
    difference |= static_cast<unsigned char>(given[i] ^ secret[i % secret.size()]);
  }
  return difference == 0;
}

bool isLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// "Host: name:port" -> "name" (lower case); "[::1]:8080" -> "::1".
std::string hostName(std::string header) {
  std::transform(header.begin(), header.end(), header.begin(), [](unsigned char c) { return std::tolower(c); });
  if (!header.empty() && header.front() == '[') {
    const auto close = header.find(']');
    return header.substr(1, close == std::string::npos ? std::string::npos : close - 1);
  }
  const auto colon = header.find(':');
  if (colon != std::string::npos && header.find(':', colon + 1) == std::string::npos) return header.substr(0, colon);
  return header;
}

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
  // Saved snapshots per source: at most one per kMinSnapshotInterval (each
  // POST writes a file; 40 in a row wrote 40).
  std::mutex saved_mutex;
  std::map<std::string, std::chrono::steady_clock::time_point> last_saved;

  // Bearer tokens, when configured: read or admin for GET, admin for POST.
  httplib::Server::HandlerResponse authorize(const httplib::Request& request, httplib::Response& response) const {
    if (config.read_token.empty() && config.admin_token.empty()) return httplib::Server::HandlerResponse::Unhandled;
    const std::string header = request.get_header_value("Authorization");
    constexpr std::string_view kBearer = "Bearer ";
    const std::string token = header.compare(0, kBearer.size(), kBearer) == 0 ? header.substr(kBearer.size()) : "";
    const bool admin = sameSecret(token, config.admin_token);
    if (!admin && !sameSecret(token, config.read_token)) {
      response.set_header("WWW-Authenticate", "Bearer");
      answerError(response, 401, "missing or wrong bearer token");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (request.method == "POST" && !admin) {
      answerError(response, 403, "saving a snapshot needs the admin token");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  }

  // True when `id` may save now (and books it); else the wait in ms.
  std::optional<std::int64_t> rateLimited(const std::string& id) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(saved_mutex);
    auto [it, first] = last_saved.try_emplace(id, now);
    if (!first && now - it->second < kMinSnapshotInterval) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(kMinSnapshotInterval - (now - it->second)).count();
    }
    it->second = now;
    return std::nullopt;
  }

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
                  if (!target) return;
                  if (const auto wait_ms = rateLimited(id)) {
                    response.set_header("Retry-After", std::to_string((*wait_ms + 999) / 1000));
                    answerError(response, 429,
                                "one saved snapshot per source per " +
                                    std::to_string(kMinSnapshotInterval.count()) + " ms; retry in " +
                                    std::to_string(*wait_ms) + " ms");
                    return;
                  }
                  std::vector<unsigned char> bytes;
                  if (!encodeLatest(id, *target, target->format, bytes, response)) return;
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
  auto fromEnvironment = [](std::string& token, const char* variable) {
    if (const char* value = std::getenv(variable); token.empty() && value) token = value;
  };
  fromEnvironment(impl_->config.read_token, "VIGIL_HTTP_TOKEN");
  fromEnvironment(impl_->config.admin_token, "VIGIL_HTTP_ADMIN_TOKEN");
  impl_->sources = std::move(sources);
  impl_->targets = std::move(targets);
  impl_->server.new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
  impl_->server.set_read_timeout(kReadTimeoutSeconds, 0);
  impl_->server.set_write_timeout(kWriteTimeoutSeconds, 0);
  impl_->server.set_keep_alive_timeout(kReadTimeoutSeconds);
  impl_->server.set_payload_max_length(kMaxBodyBytes);
  // DNS rebinding: a web page whose name resolves to this host sends its own
  // name as Host; only loopback names and the configured address are served.
  impl_->server.set_pre_routing_handler([this](const httplib::Request& request, httplib::Response& response) {
    if (!request.has_header("Host")) return impl_->authorize(request, response);
    const std::string host = hostName(request.get_header_value("Host"));
    if (!isLoopback(host) && host != hostName(impl_->config.address)) {
      answerError(response, 403, "this Host is not served here");
      return httplib::Server::HandlerResponse::Handled;
    }
    return impl_->authorize(request, response);
  });
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
  if (!isLoopback(address) && impl_->config.read_token.empty() && impl_->config.admin_token.empty()) {
    spdlog::warn("HTTP snapshots are served on {}, reachable from other hosts, without authentication: anyone "
                 "who can connect can fetch redacted frames and save snapshots; bind 127.0.0.1 unless a firewall "
                 "or an authenticating proxy stands in front", address);
  }
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
