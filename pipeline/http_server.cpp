#include "http_server.hpp"

#include "image_input.hpp"
#include "image_service.hpp"
#include "vigil/events/curve.hpp"

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

constexpr const char* kUploadForm = R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vigil: analyse an image</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}fieldset{margin:1em 0}</style></head>
<body><h1>Vigil: analyse an image</h1>
<p>JPEG, PNG or WebP. <em>Analyse</em> answers JSON (faces, codes, plates);
<em>Anonymize</em> answers the image with plates (and faces, if configured) redacted.</p>
<form method="post" enctype="multipart/form-data" action="/v1/analyze">
<input type="file" name="image" accept="image/jpeg,image/png,image/webp" required>
<fieldset><legend>Analytics (analyse)</legend>
<label><input type="checkbox" name="analytics" value="faces" checked> faces</label>
<label><input type="checkbox" name="analytics" value="codes" checked> codes</label>
<label><input type="checkbox" name="analytics" value="plates" checked> plates</label></fieldset>
<fieldset><legend>Format (anonymize)</legend>
<label><input type="radio" name="format" value="jpeg" checked> JPEG</label>
<label><input type="radio" name="format" value="webp"> WebP</label>
<label><input type="radio" name="format" value="png"> PNG</label></fieldset>
<button type="submit">Analyse</button>
<button type="submit" formaction="/v1/anonymize">Anonymize</button>
</form></body></html>
)";

// A form field or query parameter; repeated checkboxes join with commas.
std::string parameter(const httplib::Request& request, const std::string& name) {
  std::string joined;
  if (request.has_param(name)) {
    for (std::size_t i = 0; i < request.get_param_value_count(name.c_str()); ++i) {
      joined += (joined.empty() ? "" : ",") + request.get_param_value(name.c_str(), i);
    }
  }
  const auto [begin, end] = request.files.equal_range(name);
  for (auto it = begin; it != end; ++it) {
    if (it->second.filename.empty()) joined += (joined.empty() ? "" : ",") + it->second.content;
  }
  return joined;
}

// The uploaded images: every file part of a multipart body, else the body.
std::vector<NamedImage> uploadedImages(const httplib::Request& request) {
  std::vector<NamedImage> images;
  if (request.is_multipart_form_data()) {
    for (const auto& [name, part] : request.files) {
      if (part.filename.empty() && (name == "analytics" || name == "format" || name == "anonymize")) continue;
      images.push_back({part.filename.empty() ? name : part.filename, part.content});
    }
  } else {
    images.push_back({"image", request.body});
  }
  for (std::size_t i = 0; i < images.size(); ++i) {
    if (images[i].name.empty()) images[i].name = "image-" + std::to_string(i);
  }
  return images;
}

// One uploaded image, or an ImageError (400) when there is none or several.
std::string singleImage(const httplib::Request& request) {
  std::vector<NamedImage> images = uploadedImages(request);
  if (images.size() != 1) {
    throw ImageError(400, images.empty() ? "no image in the request" : "one image per request here (use /v1/batches)");
  }
  return std::move(images.front().bytes);
}

// Runs `handler`, answering its exceptions: an image refused by its status,
// a bad parameter 400, a full queue 429.
template <typename Handler>
void answering(httplib::Response& response, Handler&& handler) {
  try {
    handler();
  } catch (const ImageError& error) {
    answerError(response, error.status(), error.what());
  } catch (const QueueFull& error) {
    response.set_header("Retry-After", "1");
    answerError(response, 429, error.what());
  } catch (const std::invalid_argument& error) {
    answerError(response, 400, error.what());
  } catch (const std::exception& error) {
    spdlog::warn("image API: {}", error.what());
    answerError(response, 500, error.what());
  }
}

}  // namespace

struct HttpServer::Impl {
  HttpConfig config;
  std::set<std::string> sources;
  std::map<std::string, SnapshotTarget> targets;
  ImageService* images = nullptr;
  std::vector<vigil::events::AddressRange> allowed;  // http.allow, the bus's own parser (events/curve.hpp)
  httplib::Server server;
  std::thread thread;
  // Saved snapshots per source: at most one per kMinSnapshotInterval (each
  // POST writes a file; 40 in a row wrote 40).
  std::mutex saved_mutex;
  std::map<std::string, std::chrono::steady_clock::time_point> last_saved;

  // Bearer tokens, when configured: read or admin for GET, admin for POST.
  httplib::Server::HandlerResponse authorize(const httplib::Request& request, httplib::Response& response) const {
    if (config.read_token.empty() && config.admin_token.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (request.path == "/health") return httplib::Server::HandlerResponse::Unhandled;  // for probes
    const std::string header = request.get_header_value("Authorization");
    constexpr std::string_view kBearer = "Bearer ";
    const std::string token = header.compare(0, kBearer.size(), kBearer) == 0 ? header.substr(kBearer.size()) : "";
    const bool admin = sameSecret(token, config.admin_token);
    if (!admin && !sameSecret(token, config.read_token)) {
      response.set_header("WWW-Authenticate", "Bearer");
      answerError(response, 401, "missing or wrong bearer token");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (request.method == "POST" && !admin && request.path.rfind("/v1/", 0) != 0) {
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

  bool allowedAddress(const std::string& remote) const { return vigil::events::addressAllowed(remote, allowed); }

  void imageRoutes() {
    server.Get("/health", [this](const httplib::Request&, httplib::Response& response) {
      nlohmann::json health = {{"status", "ok"}, {"sources", sources.size()}};
      if (images) {
        health["images"] = {{"pending", images->pending()},
                            {"queue", images->config().queue},
                            {"workers", images->config().workers}};
      }
      response.set_content(health.dump(), "application/json");
    });
    if (!images) return;
    server.Get("/", [](const httplib::Request&, httplib::Response& response) {
      response.set_content(kUploadForm, "text/html; charset=utf-8");
    });
    server.Post("/v1/analyze", [this](const httplib::Request& request, httplib::Response& response) {
      answering(response, [&] {
        const auto analytics = images->chooseAnalytics(parameter(request, "analytics"));
        const StillResult result = images->analyse(singleImage(request), analytics, false);
        response.set_content(result.report.dump(), "application/json");
      });
    });
    server.Post("/v1/anonymize", [this](const httplib::Request& request, httplib::Response& response) {
      answering(response, [&] {
        const std::string format_name = parameter(request, "format");
        const auto format = stillFormatNamed(format_name.empty() ? images->config().format : format_name);
        if (!format) throw std::invalid_argument("format '" + format_name + "' is not one of jpeg, webp, png");
        const StillResult result = images->analyse(singleImage(request), {}, true);
        const std::vector<unsigned char> bytes = encodeStill(result.redacted, *format);
        response.set_content(reinterpret_cast<const char*>(bytes.data()), bytes.size(), stillMimeType(*format));
      });
    });
    server.Post("/v1/batches", [this](const httplib::Request& request, httplib::Response& response) {
      answering(response, [&] {
        const auto analytics = images->chooseAnalytics(parameter(request, "analytics"));
        const std::string anonymize = parameter(request, "anonymize");
        if (!anonymize.empty() && anonymize != "true" && anonymize != "false") {
          throw std::invalid_argument("anonymize must be true or false, not '" + anonymize + "'");
        }
        std::optional<StillFormat> format;
        if (anonymize == "true") {
          const std::string name = parameter(request, "format");
          format = stillFormatNamed(name.empty() ? images->config().format : name);
          if (!format) throw std::invalid_argument("format '" + name + "' is not one of jpeg, webp, png");
        }
        std::vector<NamedImage> uploaded = uploadedImages(request);
        if (uploaded.size() == 1 && uploaded.front().bytes.empty()) {
          throw ImageError(400, "empty: no images (send them as multipart/form-data file parts)");
        }
        const std::string id = images->submitBatch(std::move(uploaded), analytics, format);
        response.status = 202;
        response.set_header("Location", "/v1/batches/" + id);
        response.set_content(nlohmann::json{{"id", id}, {"status", "/v1/batches/" + id}}.dump(), "application/json");
      });
    });
    server.Get(R"(/v1/batches/([0-9a-f]+))", [this](const httplib::Request& request, httplib::Response& response) {
      const auto status = images->batchStatus(request.matches[1]);
      if (!status) return answerError(response, 404, "no batch '" + std::string(request.matches[1]) + "' (unknown or expired)");
      response.set_content(status->dump(), "application/json");
    });
    server.Get(R"(/v1/batches/([0-9a-f]+)/images/([0-9]{1,3}))",
               [this](const httplib::Request& request, httplib::Response& response) {
                 const auto image = images->batchImage(request.matches[1], std::stoul(request.matches[2]));
                 if (!image) {
                   return answerError(response, 404, "no redacted image " + std::string(request.matches[2]) +
                                                         " in batch '" + std::string(request.matches[1]) +
                                                         "' (unknown, expired, failed, or not anonymized)");
                 }
                 response.set_content(reinterpret_cast<const char*>(image->first.data()), image->first.size(),
                                      image->second);
               });
  }

  void routes() {
    imageRoutes();
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
                  // With the image API the server reads larger bodies; this
                  // route still takes none.
                  if (request.body.size() > kMaxBodyBytes) {
                    return answerError(response, 413,
                                       "a body of at most " + std::to_string(kMaxBodyBytes) + " bytes here");
                  }
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
                       std::map<std::string, SnapshotTarget> targets, ImageService* images)
    : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  impl_->images = images;
  for (const std::string& entry : impl_->config.allow) {
    try {
      impl_->allowed.push_back(vigil::events::parseAddressRange(entry));
    } catch (const std::runtime_error& error) {
      throw std::runtime_error(std::string("http.allow: ") + error.what());
    }
  }
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
  // Images need room; the snapshot route keeps its 4 KiB (checked in its handler).
  impl_->server.set_payload_max_length(images ? images->config().max_body_bytes : kMaxBodyBytes);
  // DNS rebinding: a web page whose name resolves to this host sends its own
  // name as Host; only loopback names and the configured address are served.
  impl_->server.set_pre_routing_handler([this](const httplib::Request& request, httplib::Response& response) {
    if (!impl_->allowedAddress(request.remote_addr)) {
      answerError(response, 403, "address " + request.remote_addr + " is not allowed (http.allow)");
      return httplib::Server::HandlerResponse::Handled;
    }
    // cpp-httplib parses a form-encoded body (curl --data-binary's default
    // type) as parameters, and refuses one over 8 KiB as 413: say what to send.
    if (request.path.rfind("/v1/", 0) == 0 &&
        request.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) == 0) {
      answerError(response, 415,
                  "send the image as its own type (Content-Type: image/jpeg, image/png or image/webp) or as "
                  "multipart/form-data, not form-encoded");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!request.has_header("Host")) return impl_->authorize(request, response);
    const std::string host = hostName(request.get_header_value("Host"));
    if (!isLoopback(host) && host != hostName(impl_->config.address)) {
      answerError(response, 403, "this Host is not served here");
      return httplib::Server::HandlerResponse::Handled;
    }
    return impl_->authorize(request, response);
  });
  // Answers cpp-httplib makes itself (400, 413, 404 ...) carry a JSON error too.
  impl_->server.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&,
                                                                          httplib::Response& response) {
    if (!response.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    const int status = response.status;
    answerError(response, status,
                status == 404   ? "no such route"
                : status == 413 ? "the request body is too large"
                : status == 400 ? "bad request (is Content-Length missing?)"
                                : "HTTP " + std::to_string(status));
    return httplib::Server::HandlerResponse::Handled;
  }));
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
  // stop() does nothing to a server that is not listening yet, which would
  // then listen for ever: return only once it listens (a stop asked right
  // after start, e.g. a runner with nothing to run, must still end it).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!impl_->server.is_running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
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
