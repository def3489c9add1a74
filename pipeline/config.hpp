// The runner's configuration: YAML in, validated structs out. Every error names
// the key by its path (sources[1].analytics[0].faces.interval) and its line.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace vigil::pipeline {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class SourceType { kRtsp, kFile, kHttp, kV4l2, kTestPattern };
enum class EosPolicy { kReconnect, kStop, kLoop };

// One analytic on a source: the element it becomes and its properties, in the
// order written. Values are strings, converted by the element's own GParamSpecs.
struct AnalyticConfig {
  std::string name;     // faces, plates, codes: a name in vigil/analytics/registry.hpp
  std::string element;  // facecount, plateblur, codereader: its element there
  std::vector<std::pair<std::string, std::string>> properties;  // property-name, value
  std::vector<std::pair<std::string, int>> property_lines;      // for error messages
  int line = 0;
};

struct OutputConfig {
  enum class Type { kFile, kRtsp, kSnapshot };
  Type type = Type::kFile;
  // file: location pattern with one segment number (e.g. /rec/cam1-%05d.mkv);
  // rtsp: mount; snapshot: directory that POSTed snapshots are saved in.
  std::string path;
  // mkv, mp4 (file; by default from the path's extension, else mkv);
  // jpeg, webp (snapshot; the format of saved snapshots).
  std::string format;
  std::chrono::seconds segment{60};
  int bitrate_kbps = 2000;
  int line = 0;
};

struct SourceConfig {
  std::string id;
  std::string uri;          // as written (may hold credentials: never log it)
  SourceType type = SourceType::kTestPattern;
  bool realtime = true;     // files: pace at the stream's frame rate like a camera
  EosPolicy on_eos = EosPolicy::kReconnect;
  int queue_frames = 2;     // leaky queue ahead of the analytics
  bool leaky = true;        // false: never drop, let a slow analytic slow the source
  std::chrono::milliseconds reconnect_initial{500};
  std::chrono::milliseconds reconnect_max{10000};
  std::chrono::milliseconds watchdog{5000};  // no frame for this long: reconnect
  int rtsp_latency_ms = 200;
  std::string rtsp_transport = "auto";        // auto, tcp, udp
  std::vector<AnalyticConfig> analytics;
  std::vector<OutputConfig> outputs;
  int line = 0;
};

struct BusConfig {
  std::string endpoint = "tcp://127.0.0.1:5555";
  std::string snapshot_endpoint;  // empty: no late-joiner snapshots
  std::chrono::milliseconds heartbeat{5000};
  // Events kept per topic for subscribers that missed them (served on the
  // snapshot endpoint): eventpublish's `history`.
  std::chrono::milliseconds history{60000};
  // CURVE (docs/EVENTS.md section 10), `bus.curve`: the publisher's secret key
  // file, the directory of the subscribers' public keys, and optionally the
  // addresses they may connect from. Empty server key: no CURVE.
  std::string curve_server_key;
  std::string curve_authorized_keys;
  std::vector<std::string> curve_allow;
  // `bus.insecure: true`: bind a non-loopback address without CURVE anyway.
  bool insecure = false;
};

struct RtspServeConfig {
  std::string address = "127.0.0.1";
  int port = 8554;
};

// The runner's HTTP endpoint (snapshots on request, see http_server.hpp).
// Off unless `http:` is configured; port 0 binds any free port.
struct HttpConfig {
  bool enabled = false;
  std::string address = "127.0.0.1";
  int port = 8080;
  // Bearer tokens (from `token_file` / `admin_token_file`, else the environment
  // variables VIGIL_HTTP_TOKEN / VIGIL_HTTP_ADMIN_TOKEN). Either set: GET needs
  // the read or admin token, POST (saving a snapshot) the admin token.
  std::string read_token;
  std::string admin_token;
  // Addresses allowed to connect (`allow: [127.0.0.1, 10.0.0.0/8, ::1]`, or
  // VIGIL_HTTP_ALLOW="a,b"); empty: any. Others get 403.
  std::vector<std::string> allow;
};

// A batch holds at most this many images (`images.max_batch` may lower it).
inline constexpr int kMaxImagesPerBatch = 50;

// The still-image API on the HTTP server (`images:`; see image_service.hpp).
// Every key has a VIGIL_IMAGES_* environment override (docs/IMAGES.md).
struct ImagesConfig {
  bool enabled = false;
  // Analytics run on every image, with options as in a source's `analytics`.
  std::vector<AnalyticConfig> analytics;
  // The redacting element's properties for /v1/anonymize and batches
  // (mode, image-location, fill-color, redact-roi-types).
  std::vector<std::pair<std::string, std::string>> redaction;
  std::string format = "jpeg";                  // redacted images: jpeg, webp, png
  std::int64_t max_pixels = 40'000'000;         // refused from the header, before decoding
  std::size_t max_body_bytes = 64u << 20;       // one request (an image, or a whole batch)
  int workers = 2;                              // images analysed at once
  int queue = 100;                              // images waiting or in work; beyond: 429
  int max_batch = 50;                           // images per batch (at most 50)
  std::chrono::milliseconds result_ttl{std::chrono::minutes(10)};  // after a batch finishes
  std::string webhook_url;                      // POSTed each finished batch's results
  int webhook_retries = 3;
  int line = 0;
};

struct Config {
  std::string path;
  BusConfig bus;
  RtspServeConfig rtsp_server;  // where `outputs: rtsp` are re-served
  HttpConfig http;
  ImagesConfig images;
  std::vector<SourceConfig> sources;  // may be empty when `images` is configured
};

// Parses and validates. `validateAnalytic` is called for every analytic option
// (element, property, value) and returns an error text or empty; the runner
// passes one that checks the element's GParamSpecs.
using AnalyticValidator =
    std::string (*)(const std::string& element, const std::string& property, const std::string& value);

Config loadConfig(const std::string& path, AnalyticValidator validate = nullptr);
Config parseConfig(const std::string& yaml_text, const std::string& name,
                   AnalyticValidator validate = nullptr);

// "500ms", "5s", "2m", "1h" or a plain number of seconds.
std::optional<std::chrono::milliseconds> parseDuration(const std::string& text);

// The URI with user:password@ and the values of credential-like query
// parameters (password=, token=, key=, secret=, sig=, auth= ...) replaced by
// ***, safe for logs and events.
std::string redactUri(const std::string& uri);

// The secrets redactUri() hides, for scrubbing texts that quote them alone.
std::vector<std::string> uriSecrets(const std::string& uri);

SourceType classifyUri(const std::string& uri);

// Element that implements an analytic name (the analytics registry), or empty.
std::string elementForAnalytic(const std::string& name);

}  // namespace vigil::pipeline
