#include "vigil/recorder/http_api.hpp"

#include "vigil/events/schema.hpp"
#include "vigil/recorder/output.hpp"
#include "vigil/recorder/store.hpp"
#include "vigil/subscribers/parse.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

namespace vigil::recorder {

namespace {

constexpr std::int64_t kDefaultLimit = 1000;
constexpr auto kDefaultBucket = std::chrono::minutes(5);
constexpr int kForbidden = 403;
constexpr int kUnauthorized = 401;
constexpr std::int64_t kNsPerMs = 1'000'000;
constexpr int kBadRequest = 400;
constexpr int kNotFound = 404;
constexpr int kUnavailable = 503;
constexpr int kServerError = 500;
constexpr const char* kJsonType = "application/json";

std::optional<std::string> param(const httplib::Request& request, const char* name) {
  if (!request.has_param(name)) return std::nullopt;
  return request.get_param_value(name);
}

std::optional<std::int64_t> intParam(const httplib::Request& request, const char* name) {
  auto text = param(request, name);
  if (!text) return std::nullopt;
  std::size_t used = 0;
  std::int64_t value = 0;
  try {
    value = std::stoll(*text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (text->empty() || used != text->size()) {
    throw std::invalid_argument(std::string("parameter '") + name + "' is not an integer");
  }
  return value;
}

EventFilter filterFrom(const httplib::Request& request) {
  EventFilter filter;
  const auto now = events::wallClockNowNs();
  filter.source = param(request, "source");
  filter.kind = param(request, "kind");
  filter.code = param(request, "code");
  filter.zone = param(request, "zone");
  if (auto since = param(request, "since")) filter.since_ns = subscribers::parseTimePoint(*since, now);
  if (auto until = param(request, "until")) filter.until_ns = subscribers::parseTimePoint(*until, now);
  filter.min_count = intParam(request, "min_count");
  filter.max_count = intParam(request, "max_count");
  filter.count = intParam(request, "count");
  filter.from_id = intParam(request, "from_id");
  filter.to_id = intParam(request, "to_id");
  // limit=0 (the store's "no limit") or a huge one gave 92 MB answers: every
  // answer holds at most kHttpMaxRows rows; page with from_id/to_id.
  filter.limit = intParam(request, "limit").value_or(kDefaultLimit);
  if (filter.limit <= 0 || filter.limit > kHttpMaxRows) filter.limit = kHttpMaxRows;
  filter.newest_first = param(request, "order").value_or("") == "desc";
  return filter;
}

void sendError(httplib::Response& response, int status, const std::string& message) {
  response.status = status;
  response.set_content(nlohmann::json{{"error", message}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), kJsonType);
}

}  // namespace

namespace {

std::string lowerCase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// "Host: name:port" -> "name"; "[::1]:8090" -> "::1".
std::string hostName(const std::string& header) {
  if (!header.empty() && header.front() == '[') {
    const auto close = header.find(']');
    return lowerCase(header.substr(1, close == std::string::npos ? std::string::npos : close - 1));
  }
  const auto colon = header.find(':');
  return lowerCase(colon != std::string::npos && header.find(':', colon + 1) == std::string::npos
                       ? header.substr(0, colon)
                       : header);
}

bool isLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// Compares without an early exit, so the time taken says nothing of how
// much of a guessed token was right.
bool sameSecret(const std::string& given, const std::string& secret) {
  unsigned char difference = given.size() == secret.size() ? 0 : 1;
  for (std::size_t i = 0; i < given.size(); ++i) {
    difference |= static_cast<unsigned char>(given[i] ^ secret[i % std::max<std::size_t>(secret.size(), 1)]);
  }
  return difference == 0 && !secret.empty();
}

}  // namespace

bool isLoopbackHost(const std::string& host) { return isLoopback(lowerCase(host)); }

std::string readTokenFile(const std::string& path) {
  std::ifstream in(path);
  std::string token;
  if (!in || !std::getline(in, token)) throw std::invalid_argument("cannot read the token file " + path);
  const auto first = token.find_first_not_of(" \t\r");
  const auto last = token.find_last_not_of(" \t\r");
  token = first == std::string::npos ? std::string() : token.substr(first, last - first + 1);
  if (token.empty()) throw std::invalid_argument("the token file " + path + " is empty");
  return token;
}

namespace {

enum class Access { kNone, kRead, kAdmin };

// What the request's bearer token allows.
Access accessOf(const httplib::Request& request, const HttpLimits& limits) {
  const std::string header = request.get_header_value("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size() || header.compare(0, kBearer.size(), kBearer) != 0) return Access::kNone;
  const std::string token = header.substr(kBearer.size());
  if (sameSecret(token, limits.admin_token)) return Access::kAdmin;
  if (sameSecret(token, limits.read_token)) return Access::kRead;
  return Access::kNone;
}

}  // namespace

struct HttpApi::State {
  std::string db_path;
  httplib::Server server;
  std::mutex store_mutex;  // httplib serves on a pool; one connection, one user at a time
  std::unique_ptr<EventStore> store;
  std::thread thread;
  std::set<std::string> allowed_hosts;  // Host header names served (lower case)
  HttpLimits limits;

  // Bearer tokens, when configured: read for GET, admin for DELETE too.
  httplib::Server::HandlerResponse authorize(const httplib::Request& request, httplib::Response& response) const {
    if (limits.read_token.empty() && limits.admin_token.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (request.path == "/api/health") return httplib::Server::HandlerResponse::Unhandled;
    const Access access = accessOf(request, limits);
    if (access == Access::kNone) {
      response.set_header("WWW-Authenticate", "Bearer");
      sendError(response, kUnauthorized, "missing or wrong bearer token");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (request.method != "GET" && request.method != "HEAD" && access != Access::kAdmin) {
      sendError(response, kForbidden, "this token may read, not " + request.method);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  }

  // Runs `body` with the store under the lock, mapping errors to HTTP statuses.
  template <typename Body>
  void guarded(httplib::Response& response, Body&& body) {
    try {
      std::lock_guard<std::mutex> lock(store_mutex);
      if (!store) store = std::make_unique<EventStore>(db_path, EventStore::Open::kExisting);
      response.set_content(body(*store), kJsonType);
    } catch (const std::invalid_argument& error) {
      sendError(response, kBadRequest, error.what());
    } catch (const std::out_of_range& error) {
      sendError(response, kNotFound, error.what());
    } catch (const SqliteError& error) {
      sendError(response, error.transient() ? kUnavailable : kServerError, error.what());
    } catch (const std::exception& error) {
      sendError(response, kServerError, error.what());
    }
  }
};


HttpApi::HttpApi(std::string db_path, HttpLimits limits) : state_(std::make_unique<State>()) {
  state_->db_path = std::move(db_path);
  State& s = *state_;
  auto& server = s.server;
  // Slow or idle clients give their thread back quickly, and there are enough
  // threads that a few of them cannot starve /api/health.
  const auto threads = limits.threads;
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.set_read_timeout(std::chrono::duration_cast<std::chrono::seconds>(limits.read_timeout).count(),
                          (limits.read_timeout.count() % 1000) * 1000);
  server.set_write_timeout(std::chrono::duration_cast<std::chrono::seconds>(limits.write_timeout).count(),
                           (limits.write_timeout.count() % 1000) * 1000);
  server.set_keep_alive_timeout(std::chrono::duration_cast<std::chrono::seconds>(limits.read_timeout).count() + 1);
  server.set_payload_max_length(limits.max_body_bytes);
  s.allowed_hosts = {"localhost", "127.0.0.1", "::1"};
  for (const auto& host : limits.allowed_hosts) s.allowed_hosts.insert(lowerCase(host));
  // DNS rebinding: a web page on evil.example, resolved to 127.0.0.1, sends
  // Host: evil.example. Only the names the API is reached by are served.
  s.limits = limits;
  server.set_pre_routing_handler([&s](const httplib::Request& request, httplib::Response& response) {
    if (!request.has_header("Host")) return s.authorize(request, response);
    const std::string host = hostName(request.get_header_value("Host"));
    if (!s.allowed_hosts.count(host)) {
      sendError(response, kForbidden,
                "Host '" + events::logSafe(host, 64) + "' is not served here (see --http-allow-host)");
      return httplib::Server::HandlerResponse::Handled;
    }
    return s.authorize(request, response);
  });
  server.Get("/api/health", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(R"({"ok":true})", kJsonType);
  });
  server.Get("/api/events", [&s](const httplib::Request& request, httplib::Response& response) {
    s.guarded(response, [&](EventStore& store) {
      return renderEvents(store.query(filterFrom(request)), OutputFormat::kJson);
    });
  });
  server.Get(R"(/api/events/(\d+))",
             [&s](const httplib::Request& request, httplib::Response& response) {
               s.guarded(response, [&](EventStore& store) {
                 EventFilter filter;
                 filter.ids.push_back(std::stoll(request.matches[1]));
                 const auto rows = store.query(filter);
                 if (rows.empty()) throw std::out_of_range("no such event");
                 return rows.front().json();
               });
             });
  server.Get("/api/events/total",
             [&s](const httplib::Request& request, httplib::Response& response) {
               s.guarded(response, [&](EventStore& store) {
                 return renderTotal(store.total(filterFrom(request)), OutputFormat::kJson);
               });
             });
  server.Get("/api/events/histogram",
             [&s](const httplib::Request& request, httplib::Response& response) {
               s.guarded(response, [&](EventStore& store) {
                 return renderHistogram(store.countHistogram(filterFrom(request)),
                                        OutputFormat::kJson);
               });
             });
  server.Get("/api/zones/aggregates",
             [&s](const httplib::Request& request, httplib::Response& response) {
               s.guarded(response, [&](EventStore& store) {
                 auto bucket = std::chrono::duration_cast<std::chrono::milliseconds>(kDefaultBucket);
                 if (auto text = param(request, "bucket")) bucket = subscribers::parseDuration(*text);
                 if (bucket < kHttpMinBucket) {
                   // bucket=0ms took the process to 625 MB.
                   throw std::invalid_argument("bucket must be at least 1s");
                 }
                 return renderZoneAggregates(
                     store.zoneAggregates(filterFrom(request), bucket.count() * kNsPerMs),
                     OutputFormat::kJson);
               });
             });
  server.Get("/api/gaps", [&s](const httplib::Request& request, httplib::Response& response) {
    s.guarded(response, [&](EventStore& store) {
      return renderGaps(store.gaps(filterFrom(request)), OutputFormat::kJson);
    });
  });
  server.Get("/api/topics", [&s](const httplib::Request&, httplib::Response& response) {
    s.guarded(response,
              [&](EventStore& store) { return renderTopics(store.topics(), OutputFormat::kJson); });
  });
  server.Delete(R"(/api/events/(\d+))",
                [&s](const httplib::Request& request, httplib::Response& response) {
                  s.guarded(response, [&](EventStore& store) {
                    EventFilter filter;
                    filter.ids.push_back(std::stoll(request.matches[1]));
                    return nlohmann::json{{"deleted", store.remove(filter)}}.dump();
                  });
                });
  server.Delete("/api/events", [&s](const httplib::Request& request, httplib::Response& response) {
    s.guarded(response, [&](EventStore& store) {
      EventFilter filter = filterFrom(request);
      filter.limit = 0;
      return nlohmann::json{{"deleted", store.remove(filter)}}.dump();
    });
  });
}

HttpApi::~HttpApi() { stop(); }

int HttpApi::start(const std::string& host, int port) {
  State& s = *state_;
  // Bound to a name or address: requests naming it are ours too.
  if (host != "0.0.0.0" && host != "::" && !host.empty()) s.allowed_hosts.insert(hostName(host));
  int bound = port;
  if (port == 0) {
    bound = s.server.bind_to_any_port(host);
  } else if (!s.server.bind_to_port(host, port)) {
    bound = -1;
  }
  if (bound <= 0) {
    throw std::runtime_error("cannot bind the HTTP API to " + host + ":" + std::to_string(port));
  }
  s.thread = std::thread([&s] { s.server.listen_after_bind(); });
  return bound;
}

void HttpApi::stop() {
  if (!state_->thread.joinable()) return;
  state_->server.stop();
  state_->thread.join();
}

}  // namespace vigil::recorder
