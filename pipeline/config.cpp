#include "config.hpp"

#include "vigil/analytics/registry.hpp"
#include "vigil/events/curve.hpp"
#include "vigil/events/schema.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace vigil::pipeline {

namespace {

using std::chrono::milliseconds;
// Ranges of the configurable durations. A watchdog below 100 ms restarts a
// healthy source between two frames; a reconnect delay below 10 ms is a busy
// loop against a camera that is down.
constexpr milliseconds kMinWatchdog{100};
constexpr milliseconds kMinReconnect{10};
constexpr milliseconds kMinHeartbeat{10};
constexpr milliseconds kMaxHeartbeat{3'600'000};  // eventpublish's heartbeat-interval maximum
constexpr milliseconds kMaxHistory{24 * 3'600'000};  // eventpublish's history maximum
constexpr milliseconds kMinSegment{1000};
constexpr milliseconds kMaxRtspLatency{60'000};
constexpr milliseconds kMaxTimer{24 * 3'600'000};         // one day: watchdog, reconnect
constexpr milliseconds kMaxDuration{365LL * 24 * 3'600'000};  // anything at all

// Errors read "FILE:LINE:COLUMN: PATH: what is wrong".
class Reader {
 public:
  explicit Reader(std::string name) : name_(std::move(name)) {}

  [[noreturn]] void fail(const YAML::Node& node, const std::string& path, const std::string& what) const {
    std::ostringstream message;
    message << name_;
    if (node.IsDefined() && node.Mark().line >= 0) {
      message << ':' << node.Mark().line + 1 << ':' << node.Mark().column + 1;
    }
    message << ": " << (path.empty() ? "(top level)" : path) << ": " << what;
    throw ConfigError(message.str());
  }

  // Rejects keys that are not in `known`, naming the closest one.
  void onlyKeys(const YAML::Node& map, const std::string& path, std::initializer_list<const char*> known) const {
    if (!map.IsMap()) fail(map, path, "expected a mapping");
    for (const auto& entry : map) {
      const auto key = entry.first.as<std::string>();
      if (std::none_of(known.begin(), known.end(), [&](const char* k) { return key == k; })) {
        std::string list;
        for (const char* k : known) list += std::string(list.empty() ? "" : ", ") + k;
        fail(entry.first, join(path, key), "unknown key (expected one of: " + list + ")");
      }
    }
  }

  std::string string(const YAML::Node& node, const std::string& path) const {
    if (!node.IsScalar()) fail(node, path, "expected a string");
    return node.as<std::string>();
  }

  int integer(const YAML::Node& node, const std::string& path, int min, int max) const {
    int value = 0;
    if (!node.IsScalar() || !YAML::convert<int>::decode(node, value)) fail(node, path, "expected an integer");
    if (value < min || value > max) {
      fail(node, path, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    return value;
  }

  bool boolean(const YAML::Node& node, const std::string& path) const {
    bool value = false;
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) fail(node, path, "expected true or false");
    return value;
  }

  // A duration within [min, max]: 0s where a timer must tick, nan, or 1e30h
  // is a mistake to name, not a value to run with.
  std::chrono::milliseconds duration(const YAML::Node& node, const std::string& path,
                                     std::chrono::milliseconds min, std::chrono::milliseconds max) const {
    if (!node.IsScalar()) fail(node, path, "expected a duration such as 500ms, 5s or 2m");
    auto value = parseDuration(node.as<std::string>());
    if (!value) {
      fail(node, path, "'" + node.as<std::string>() + "' is not a duration (e.g. 500ms, 5s, 2m; at most " +
                           text(kMaxDuration) + ")");
    }
    if (*value < min || *value > max) {
      fail(node, path, "'" + node.as<std::string>() + "' is out of range (" + text(min) + " to " + text(max) + ")");
    }
    return *value;
  }

  static std::string text(std::chrono::milliseconds duration) {
    const auto ms = duration.count();
    if (ms % 3'600'000 == 0 && ms > 0) return std::to_string(ms / 3'600'000) + "h";
    if (ms % 1000 == 0 && ms > 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
  }

  // Every key is plain text and appears once in its mapping. Two equal keys:
  // yaml-cpp keeps both and a lookup sees one, so one of the two values would
  // be silently ignored.
  void plainUniqueKeys(const YAML::Node& node, const std::string& path) const {
    if (node.IsSequence()) {
      for (std::size_t i = 0; i < node.size(); ++i) plainUniqueKeys(node[i], index(path, i));
    } else if (node.IsMap()) {
      std::map<std::string, YAML::Mark> seen;
      for (const auto& entry : node) {
        // YAML allows lists and mappings as keys ("? [a, b]: x"); no key of
        // ours is one, and reading one as text would throw past the line number.
        if (!entry.first.IsScalar()) fail(entry.first, path, "a key must be plain text, not a list or mapping");
        const auto key = entry.first.Scalar();
        const auto [first, inserted] = seen.emplace(key, entry.first.Mark());
        if (!inserted) {
          fail(entry.first, join(path, key),
               "duplicate key (first at line " + std::to_string(first->second.line + 1) + ")");
        }
        plainUniqueKeys(entry.second, join(path, key));
      }
    }
  }

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }
  static std::string index(const std::string& path, std::size_t i) {
    return path + "[" + std::to_string(i) + "]";
  }

 private:
  std::string name_;
};

int lineOf(const YAML::Node& node) { return node.Mark().line >= 0 ? node.Mark().line + 1 : 0; }

// `zones: [{name: queue-1, polygon: [[x, y], ...]}]` becomes the facecount
// property text `queue-1=x,y x,y ...;queue-2=...`.
std::string zonesProperty(const Reader& reader, const YAML::Node& zones, const std::string& path) {
  if (!zones.IsSequence()) reader.fail(zones, path, "expected a list of {name, polygon}");
  std::ostringstream text;
  std::set<std::string> names;
  for (std::size_t i = 0; i < zones.size(); ++i) {
    const YAML::Node zone = zones[i];
    const std::string zone_path = Reader::index(path, i);
    reader.onlyKeys(zone, zone_path, {"name", "polygon"});
    if (!zone["name"]) reader.fail(zone, zone_path, "missing 'name'");
    if (!zone["polygon"]) reader.fail(zone, zone_path, "missing 'polygon'");
    const std::string name = reader.string(zone["name"], Reader::join(zone_path, "name"));
    if (name.empty() || name.find_first_of("=; ,") != std::string::npos) {
      reader.fail(zone["name"], Reader::join(zone_path, "name"), "zone names may not contain '=', ';', ',' or spaces");
    }
    // Subscribers refuse events whose zone names break this rule.
    if (!events::isValidZoneName(name)) {
      reader.fail(zone["name"], Reader::join(zone_path, "name"),
                  "zone names are 1-64 bytes of UTF-8 without control characters");
    }
    if (!names.insert(name).second) reader.fail(zone["name"], Reader::join(zone_path, "name"), "duplicate zone name");
    const YAML::Node polygon = zone["polygon"];
    const std::string polygon_path = Reader::join(zone_path, "polygon");
    if (!polygon.IsSequence() || polygon.size() < 3) {
      reader.fail(polygon, polygon_path, "expected at least 3 points [x, y] in normalised coordinates (0..1)");
    }
    if (i) text << ';';
    text << name << '=';
    for (std::size_t p = 0; p < polygon.size(); ++p) {
      const YAML::Node point = polygon[p];
      double x = 0, y = 0;
      if (!point.IsSequence() || point.size() != 2 || !YAML::convert<double>::decode(point[0], x) ||
          !YAML::convert<double>::decode(point[1], y) || x < 0 || x > 1 || y < 0 || y > 1) {
        reader.fail(point, Reader::index(polygon_path, p), "expected [x, y] with 0 <= x, y <= 1");
      }
      text << (p ? " " : "") << x << ',' << y;
    }
  }
  return text.str();
}

// splitmuxsink names each segment with printf(location, segment_number):
// exactly one integer directive (%d, %05d, %u, %i) and '%%' for a literal
// percent; anything else would be a crash or every segment in one file.
bool hasOneSegmentNumber(const std::string& path) {
  constexpr std::size_t kMaxWidthDigits = 2;
  int directives = 0;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '%') continue;
    if (i + 1 < path.size() && path[i + 1] == '%') {
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    while (j < path.size() && j - i - 1 < kMaxWidthDigits && std::isdigit(static_cast<unsigned char>(path[j]))) ++j;
    if (j >= path.size() || (path[j] != 'd' && path[j] != 'u' && path[j] != 'i')) return false;
    ++directives;
    i = j;
  }
  return directives == 1;
}

bool endsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

AnalyticConfig parseAnalytic(const Reader& reader, const YAML::Node& node, const std::string& path,
                             AnalyticValidator validate) {
  AnalyticConfig analytic;
  analytic.line = lineOf(node);
  YAML::Node options;
  if (node.IsScalar()) {
    analytic.name = node.as<std::string>();
  } else if (node.IsMap() && node.size() == 1) {
    analytic.name = node.begin()->first.as<std::string>();
    options = node.begin()->second;
  } else {
    reader.fail(node, path, "expected an analytic name (" + analytics::namesText() + ") or {name: {options}}");
  }
  analytic.element = elementForAnalytic(analytic.name);
  if (analytic.element.empty()) {
    reader.fail(node, path, "unknown analytic '" + analytic.name + "' (expected " + analytics::namesText() + ")");
  }
  const std::string options_path = Reader::join(path, analytic.name);
  if (!options || options.IsNull()) return analytic;
  if (!options.IsMap()) reader.fail(options, options_path, "expected a mapping of options");
  for (const auto& entry : options) {
    const std::string key = entry.first.as<std::string>();
    const std::string key_path = Reader::join(options_path, key);
    std::string property = key;
    std::replace(property.begin(), property.end(), '_', '-');
    std::string value;
    if (key == "zones" && !entry.second.IsScalar()) {
      value = zonesProperty(reader, entry.second, key_path);
    } else if (entry.second.IsSequence()) {
      // Lists of scalars (e.g. formats: [qr, ean13]) become comma-separated text.
      for (std::size_t i = 0; i < entry.second.size(); ++i) {
        value += (i ? "," : "") + reader.string(entry.second[i], Reader::index(key_path, i));
      }
    } else {
      value = reader.string(entry.second, key_path);
    }
    if (validate) {
      const std::string problem = validate(analytic.element, property, value);
      if (!problem.empty()) reader.fail(entry.first, key_path, problem);
    }
    analytic.properties.emplace_back(property, value);
    analytic.property_lines.emplace_back(property, lineOf(entry.first));
  }
  return analytic;
}

OutputConfig parseOutput(const Reader& reader, const YAML::Node& node, const std::string& path) {
  OutputConfig output;
  output.line = lineOf(node);
  reader.onlyKeys(node, path, {"type", "path", "mount", "format", "segment", "bitrate_kbps"});
  if (!node["type"]) reader.fail(node, path, "missing 'type' (file, rtsp or snapshot)");
  const std::string type = reader.string(node["type"], Reader::join(path, "type"));
  if (type == "file") {
    output.type = OutputConfig::Type::kFile;
    output.format = "mkv";
  } else if (type == "rtsp") {
    output.type = OutputConfig::Type::kRtsp;
  } else if (type == "snapshot") {
    output.type = OutputConfig::Type::kSnapshot;
    output.format = "jpeg";
  } else {
    reader.fail(node["type"], Reader::join(path, "type"), "unknown output type '" + type + "' (file, rtsp, snapshot)");
  }
  if (node["path"]) output.path = reader.string(node["path"], Reader::join(path, "path"));
  if (node["mount"]) output.path = reader.string(node["mount"], Reader::join(path, "mount"));
  if (output.path.empty()) {
    reader.fail(node, path, output.type == OutputConfig::Type::kRtsp ? "missing 'mount' (e.g. /cam1)" : "missing 'path'");
  }
  if (output.type == OutputConfig::Type::kRtsp && output.path.front() != '/') {
    reader.fail(node["mount"], Reader::join(path, "mount"), "an RTSP mount starts with '/'");
  }
  if (output.type == OutputConfig::Type::kFile) {
    const YAML::Node location = node["path"] ? node["path"] : node["mount"];
    if (!hasOneSegmentNumber(output.path)) {
      reader.fail(location, Reader::join(path, "path"),
                  "needs exactly one segment number such as %05d (e.g. /rec/cam1-%05d.mkv); write %% for a '%'");
    }
    // No format given: the extension says it.
    if (endsWith(output.path, ".mp4")) output.format = "mp4";
  }
  if (node["format"]) {
    output.format = reader.string(node["format"], Reader::join(path, "format"));
    const bool ok = output.type == OutputConfig::Type::kFile ? (output.format == "mkv" || output.format == "mp4")
                    : output.type == OutputConfig::Type::kSnapshot ? (output.format == "jpeg" || output.format == "webp")
                                                                   : false;
    if (!ok) {
      const char* expected = output.type == OutputConfig::Type::kFile       ? " (expected mkv or mp4)"
                             : output.type == OutputConfig::Type::kSnapshot ? " (expected jpeg or webp)"
                                                                            : " (an rtsp output has no format)";
      reader.fail(node["format"], Reader::join(path, "format"), "unsupported format '" + output.format + "'" + expected);
    }
    if (output.type == OutputConfig::Type::kFile &&
        ((output.format == "mkv" && endsWith(output.path, ".mp4")) ||
         (output.format == "mp4" && endsWith(output.path, ".mkv")))) {
      reader.fail(node["format"], Reader::join(path, "format"),
                  "format " + output.format + " does not match the file extension of '" + output.path + "'");
    }
  }
  if (node["segment"]) {
    output.segment = std::chrono::duration_cast<std::chrono::seconds>(reader.duration(node["segment"], Reader::join(path, "segment"), kMinSegment, kMaxDuration));
  }
  if (node["bitrate_kbps"]) output.bitrate_kbps = reader.integer(node["bitrate_kbps"], Reader::join(path, "bitrate_kbps"), 100, 100000);
  return output;
}

SourceConfig parseSource(const Reader& reader, const YAML::Node& node, const std::string& path,
                         AnalyticValidator validate) {
  SourceConfig source;
  source.line = lineOf(node);
  reader.onlyKeys(node, path,
                  {"id", "uri", "realtime", "on_eos", "queue", "leaky", "reconnect", "watchdog", "rtsp", "analytics",
                   "outputs"});
  if (!node["id"]) reader.fail(node, path, "missing 'id'");
  if (!node["uri"]) reader.fail(node, path, "missing 'uri'");
  source.id = reader.string(node["id"], Reader::join(path, "id"));
  if (!events::isValidSourceId(source.id)) {
    reader.fail(node["id"], Reader::join(path, "id"), "'" + source.id + "' is not a valid id (1-64 of letters, digits, '-', '_', '.')");
  }
  source.uri = reader.string(node["uri"], Reader::join(path, "uri"));
  source.type = classifyUri(source.uri);
  if (source.uri.empty()) reader.fail(node["uri"], Reader::join(path, "uri"), "empty uri");
  // Cameras come back after EOS; a file ends.
  source.on_eos = source.type == SourceType::kFile ? EosPolicy::kStop : EosPolicy::kReconnect;
  if (node["realtime"]) source.realtime = reader.boolean(node["realtime"], Reader::join(path, "realtime"));
  if (node["on_eos"]) {
    const std::string policy = reader.string(node["on_eos"], Reader::join(path, "on_eos"));
    if (policy == "reconnect") source.on_eos = EosPolicy::kReconnect;
    else if (policy == "stop") source.on_eos = EosPolicy::kStop;
    else if (policy == "loop") source.on_eos = EosPolicy::kLoop;
    else reader.fail(node["on_eos"], Reader::join(path, "on_eos"), "expected reconnect, stop or loop");
  }
  if (node["queue"]) source.queue_frames = reader.integer(node["queue"], Reader::join(path, "queue"), 1, 100);
  if (node["leaky"]) source.leaky = reader.boolean(node["leaky"], Reader::join(path, "leaky"));
  if (node["reconnect"]) {
    const YAML::Node reconnect = node["reconnect"];
    const std::string reconnect_path = Reader::join(path, "reconnect");
    reader.onlyKeys(reconnect, reconnect_path, {"initial", "max"});
    if (reconnect["initial"]) source.reconnect_initial = reader.duration(reconnect["initial"], Reader::join(reconnect_path, "initial"), kMinReconnect, kMaxTimer);
    if (reconnect["max"]) source.reconnect_max = reader.duration(reconnect["max"], Reader::join(reconnect_path, "max"), kMinReconnect, kMaxTimer);
    if (source.reconnect_max < source.reconnect_initial) {
      reader.fail(reconnect, reconnect_path, "max must not be below initial");
    }
  }
  if (node["watchdog"]) source.watchdog = reader.duration(node["watchdog"], Reader::join(path, "watchdog"), kMinWatchdog, kMaxTimer);
  if (node["rtsp"]) {
    const YAML::Node rtsp = node["rtsp"];
    const std::string rtsp_path = Reader::join(path, "rtsp");
    reader.onlyKeys(rtsp, rtsp_path, {"latency", "transport"});
    if (rtsp["latency"]) {
      source.rtsp_latency_ms = static_cast<int>(reader.duration(rtsp["latency"], Reader::join(rtsp_path, "latency"), std::chrono::milliseconds(0), kMaxRtspLatency).count());
    }
    if (rtsp["transport"]) {
      source.rtsp_transport = reader.string(rtsp["transport"], Reader::join(rtsp_path, "transport"));
      if (source.rtsp_transport != "auto" && source.rtsp_transport != "tcp" && source.rtsp_transport != "udp") {
        reader.fail(rtsp["transport"], Reader::join(rtsp_path, "transport"), "expected auto, tcp or udp");
      }
    }
  }
  if (node["analytics"]) {
    const YAML::Node analytics = node["analytics"];
    const std::string analytics_path = Reader::join(path, "analytics");
    if (!analytics.IsSequence()) reader.fail(analytics, analytics_path, "expected a list such as [faces, plates]");
    std::set<std::string> seen;
    for (std::size_t i = 0; i < analytics.size(); ++i) {
      AnalyticConfig analytic = parseAnalytic(reader, analytics[i], Reader::index(analytics_path, i), validate);
      if (!seen.insert(analytic.name).second) {
        reader.fail(analytics[i], Reader::index(analytics_path, i), "'" + analytic.name + "' is listed twice");
      }
      source.analytics.push_back(std::move(analytic));
    }
  }
  if (node["outputs"]) {
    const YAML::Node outputs = node["outputs"];
    const std::string outputs_path = Reader::join(path, "outputs");
    if (!outputs.IsSequence()) reader.fail(outputs, outputs_path, "expected a list of outputs");
    std::set<OutputConfig::Type> single_outputs;
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      OutputConfig output = parseOutput(reader, outputs[i], Reader::index(outputs_path, i));
      // One re-served stream and one snapshot sink per source: a second of
      // either would only duplicate the first.
      if (output.type != OutputConfig::Type::kFile && !single_outputs.insert(output.type).second) {
        reader.fail(outputs[i], Reader::index(outputs_path, i),
                    std::string("only one ") + (output.type == OutputConfig::Type::kRtsp ? "rtsp" : "snapshot") +
                        " output per source");
      }
      source.outputs.push_back(std::move(output));
    }
  }
  return source;
}

// `images:` (the still-image API). Analytics as in a source; every other key
// is a setting the environment may override (applyImagesEnvironment).
ImagesConfig parseImages(const Reader& reader, const YAML::Node& node, AnalyticValidator validate) {
  ImagesConfig images;
  images.enabled = true;
  images.line = lineOf(node);
  if (node.IsNull()) return images;
  reader.onlyKeys(node, "images",
                  {"analytics", "anonymize", "format", "max_pixels", "max_body_mb", "workers", "queue", "max_batch",
                   "result_ttl", "webhook"});
  if (node["analytics"]) {
    const YAML::Node analytics = node["analytics"];
    if (!analytics.IsSequence() || analytics.size() == 0) reader.fail(analytics, "images.analytics", "expected a non-empty list");
    for (std::size_t i = 0; i < analytics.size(); ++i) {
      AnalyticConfig analytic = parseAnalytic(reader, analytics[i], Reader::index("images.analytics", i), validate);
      for (const auto& other : images.analytics) {
        if (other.name == analytic.name) {
          reader.fail(analytics[i], Reader::index("images.analytics", i), "analytic '" + analytic.name + "' is listed twice");
        }
      }
      images.analytics.push_back(std::move(analytic));
    }
  }
  if (node["anonymize"]) {
    const YAML::Node anonymize = node["anonymize"];
    reader.onlyKeys(anonymize, "images.anonymize", {"mode", "image", "fill_color", "faces"});
    const std::pair<const char*, const char*> properties[] = {
        {"mode", "mode"}, {"image", "image-location"}, {"fill_color", "fill-color"}};
    for (const auto& [key, property] : properties) {
      if (!anonymize[key]) continue;
      const std::string path = std::string("images.anonymize.") + key;
      const std::string value = reader.string(anonymize[key], path);
      if (validate) {
        const std::string problem = validate(analytics::kPlates.element, property, value);
        if (!problem.empty()) reader.fail(anonymize[key], path, problem);
      }
      images.redaction.emplace_back(property, value);
    }
    if (anonymize["faces"] && reader.boolean(anonymize["faces"], "images.anonymize.faces")) {
      images.redaction.emplace_back("redact-roi-types", analytics::kFaces.roi_type);
    }
  }
  if (node["format"]) {
    images.format = reader.string(node["format"], "images.format");
    if (images.format != "jpeg" && images.format != "webp" && images.format != "png") {
      reader.fail(node["format"], "images.format", "expected jpeg, webp or png");
    }
  }
  if (node["max_pixels"]) images.max_pixels = reader.integer(node["max_pixels"], "images.max_pixels", 1, 400'000'000);
  if (node["max_body_mb"]) {
    images.max_body_bytes = static_cast<std::size_t>(reader.integer(node["max_body_mb"], "images.max_body_mb", 1, 1024)) << 20;
  }
  if (node["workers"]) images.workers = reader.integer(node["workers"], "images.workers", 1, 64);
  if (node["queue"]) images.queue = reader.integer(node["queue"], "images.queue", 1, 10000);
  if (node["max_batch"]) images.max_batch = reader.integer(node["max_batch"], "images.max_batch", 1, kMaxImagesPerBatch);
  if (node["result_ttl"]) {
    images.result_ttl = reader.duration(node["result_ttl"], "images.result_ttl", std::chrono::seconds(1), std::chrono::hours(24 * 7));
  }
  if (node["webhook"]) {
    const YAML::Node webhook = node["webhook"];
    reader.onlyKeys(webhook, "images.webhook", {"url", "retries"});
    if (!webhook["url"]) reader.fail(webhook, "images.webhook", "missing 'url'");
    images.webhook_url = reader.string(webhook["url"], "images.webhook.url");
    if (images.webhook_url.rfind("http://", 0) != 0 && images.webhook_url.rfind("https://", 0) != 0) {
      reader.fail(webhook["url"], "images.webhook.url", "expected an http:// or https:// URL");
    }
    if (webhook["retries"]) images.webhook_retries = reader.integer(webhook["retries"], "images.webhook.retries", 0, 10);
  }
  return images;
}

// VIGIL_IMAGES_* and VIGIL_HTTP_ALLOW over the file: deployments set these
// per host without editing the config. A bad value names its variable.
void applyEnvironment(Config& config) {
  auto value = [](const char* name) -> std::optional<std::string> {
    const char* text = std::getenv(name);
    if (!text || !*text) return std::nullopt;
    return std::string(text);
  };
  auto integer = [&](const char* name, std::int64_t min, std::int64_t max) -> std::optional<std::int64_t> {
    const auto text = value(name);
    if (!text) return std::nullopt;
    std::size_t used = 0;
    std::int64_t number = 0;
    try {
      number = std::stoll(*text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != text->size()) throw ConfigError(std::string(name) + ": '" + *text + "' is not an integer");
    if (number < min || number > max) {
      throw ConfigError(std::string(name) + ": must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    return number;
  };
  if (const auto allow = value("VIGIL_HTTP_ALLOW")) {
    config.http.allow.clear();
    std::stringstream stream(*allow);
    std::string item;
    while (std::getline(stream, item, ',')) {
      item.erase(0, item.find_first_not_of(" \t"));
      item.erase(item.find_last_not_of(" \t") + 1);
      if (!item.empty()) config.http.allow.push_back(item);
    }
  }
  ImagesConfig& images = config.images;
  if (const auto n = integer("VIGIL_IMAGES_MAX_PIXELS", 1, 400'000'000)) images.max_pixels = *n;
  if (const auto n = integer("VIGIL_IMAGES_MAX_BODY_MB", 1, 1024)) images.max_body_bytes = static_cast<std::size_t>(*n) << 20;
  if (const auto n = integer("VIGIL_IMAGES_WORKERS", 1, 64)) images.workers = static_cast<int>(*n);
  if (const auto n = integer("VIGIL_IMAGES_QUEUE", 1, 10000)) images.queue = static_cast<int>(*n);
  if (const auto n = integer("VIGIL_IMAGES_MAX_BATCH", 1, kMaxImagesPerBatch)) images.max_batch = static_cast<int>(*n);
  if (const auto n = integer("VIGIL_IMAGES_WEBHOOK_RETRIES", 0, 10)) images.webhook_retries = static_cast<int>(*n);
  if (const auto text = value("VIGIL_IMAGES_FORMAT")) {
    if (*text != "jpeg" && *text != "webp" && *text != "png") {
      throw ConfigError("VIGIL_IMAGES_FORMAT: expected jpeg, webp or png, not '" + *text + "'");
    }
    images.format = *text;
  }
  if (const auto text = value("VIGIL_IMAGES_RESULT_TTL")) {
    const auto ttl = parseDuration(*text);
    if (!ttl || *ttl < std::chrono::seconds(1) || *ttl > std::chrono::hours(24 * 7)) {
      throw ConfigError("VIGIL_IMAGES_RESULT_TTL: '" + *text + "' is not a duration between 1s and 168h");
    }
    images.result_ttl = *ttl;
  }
  if (const auto text = value("VIGIL_IMAGES_WEBHOOK")) {
    if (text->rfind("http://", 0) != 0 && text->rfind("https://", 0) != 0) {
      throw ConfigError("VIGIL_IMAGES_WEBHOOK: expected an http:// or https:// URL");
    }
    images.webhook_url = *text;
  }
}

}  // namespace

std::optional<std::chrono::milliseconds> parseDuration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  std::size_t consumed = 0;
  double number = 0;
  try {
    number = std::stod(text, &consumed);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  // stod reads "nan", "inf" and "1e30": none is a duration.
  if (!std::isfinite(number) || number < 0) return std::nullopt;
  const std::string unit = text.substr(consumed);
  double scale = 0;
  if (unit.empty() || unit == "s") scale = 1000;
  else if (unit == "ms") scale = 1;
  else if (unit == "m" || unit == "min") scale = 60 * 1000;
  else if (unit == "h") scale = 3600 * 1000;
  else return std::nullopt;
  const double ms = number * scale + 0.5;
  if (ms > static_cast<double>(kMaxDuration.count())) return std::nullopt;  // and no overflowing cast
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

namespace {

// Query parameters whose value is a credential (compared lower-case; a name
// that contains one of these counts too, e.g. access_token, api_key).
bool isSecretParameter(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* secret : {"pass", "pwd", "token", "key", "secret", "auth", "sig", "credential"}) {
    if (name.find(secret) != std::string::npos) return true;
  }
  return false;
}

// [begin, end) of every secret in the URI: user:password, then the values of
// secret query parameters.
std::vector<std::pair<std::size_t, std::size_t>> secretSpans(const std::string& uri) {
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  const auto scheme_end = uri.find("://");
  if (scheme_end != std::string::npos) {
    const auto authority_start = scheme_end + 3;
    const auto authority_end = uri.find_first_of("/?#", authority_start);
    const auto at = uri.rfind('@', authority_end == std::string::npos ? uri.size() : authority_end);
    if (at != std::string::npos && at >= authority_start) spans.emplace_back(authority_start, at);
  }
  const auto query = uri.find('?');
  if (query == std::string::npos) return spans;
  const auto query_end = std::min(uri.size(), uri.find('#', query));
  for (std::size_t start = query + 1; start < query_end;) {
    auto end = std::min(uri.find('&', start), query_end);
    const auto equals = uri.find('=', start);
    if (equals != std::string::npos && equals < end && equals + 1 < end &&
        isSecretParameter(uri.substr(start, equals - start))) {
      spans.emplace_back(equals + 1, end);
    }
    start = end + 1;
  }
  return spans;
}

}  // namespace

std::string redactUri(const std::string& uri) {
  std::string out = uri;
  const auto spans = secretSpans(uri);
  // Back to front, so earlier offsets stay valid.
  for (auto it = spans.rbegin(); it != spans.rend(); ++it) out.replace(it->first, it->second - it->first, "***");
  return out;
}

std::vector<std::string> uriSecrets(const std::string& uri) {
  std::vector<std::string> secrets;
  for (const auto& [begin, end] : secretSpans(uri)) secrets.push_back(uri.substr(begin, end - begin));
  return secrets;
}

SourceType classifyUri(const std::string& uri) {
  auto starts = [&](const char* prefix) { return uri.rfind(prefix, 0) == 0; };
  if (starts("rtsp://") || starts("rtsps://") || starts("rtspt://")) return SourceType::kRtsp;
  if (starts("http://") || starts("https://")) return SourceType::kHttp;
  if (starts("v4l2://") || starts("/dev/video")) return SourceType::kV4l2;
  if (starts("testsrc://")) return SourceType::kTestPattern;
  return SourceType::kFile;  // file://PATH or a plain path
}

std::string elementForAnalytic(const std::string& name) {
  const analytics::Analytic* analytic = analytics::byName(name);
  return analytic ? analytic->element : "";
}

namespace {

// bus.curve: every file is read now, so a missing or malformed key is a
// config error with its line, not a pipeline that fails to start.
void parseCurve(const Reader& reader, const YAML::Node& curve, BusConfig& bus) {
  if (!curve.IsMap()) reader.fail(curve, "bus.curve", "expected a mapping with server_key and authorized_keys");
  reader.onlyKeys(curve, "bus.curve", {"server_key", "authorized_keys", "allow"});
  for (const char* key : {"server_key", "authorized_keys"}) {
    if (!curve[key]) reader.fail(curve, std::string("bus.curve.") + key, "missing (see docs/EVENTS.md section 10)");
  }
  if (!vigil::events::curveAvailable()) reader.fail(curve, "bus.curve", "this libzmq was built without CURVE");
  bus.curve_server_key = reader.string(curve["server_key"], "bus.curve.server_key");
  bus.curve_authorized_keys = reader.string(curve["authorized_keys"], "bus.curve.authorized_keys");
  try {
    vigil::events::readCurveSecretKey(bus.curve_server_key);
  } catch (const std::exception& error) {
    reader.fail(curve["server_key"], "bus.curve.server_key", std::string(error.what()) + " (make one with `vigil keygen NAME`)");
  }
  std::size_t authorized = 0;
  try {
    authorized = vigil::events::readAuthorizedKeys(bus.curve_authorized_keys).size();
  } catch (const std::exception& error) {
    reader.fail(curve["authorized_keys"], "bus.curve.authorized_keys", error.what());
  }
  if (authorized == 0) {
    reader.fail(curve["authorized_keys"], "bus.curve.authorized_keys",
                bus.curve_authorized_keys + " holds no NAME.pub: no subscriber could connect");
  }
  if (curve["allow"]) {
    const YAML::Node allow = curve["allow"];
    if (!allow.IsSequence()) reader.fail(allow, "bus.curve.allow", "expected a list of addresses or CIDR ranges");
    for (std::size_t i = 0; i < allow.size(); ++i) {
      const std::string entry = reader.string(allow[i], Reader::index("bus.curve.allow", i));
      try {
        vigil::events::parseAddressRange(entry);
      } catch (const std::exception& error) {
        reader.fail(allow[i], Reader::index("bus.curve.allow", i), error.what());
      }
      bus.curve_allow.push_back(entry);
    }
  }
}

}  // namespace

Config parseConfig(const std::string& yaml_text, const std::string& name, AnalyticValidator validate) {
  Reader reader(name);
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& error) {
    std::ostringstream message;
    message << name << ':' << error.mark.line + 1 << ':' << error.mark.column + 1 << ": YAML syntax: " << error.msg;
    throw ConfigError(message.str());
  }
  Config config;
  config.path = name;
  if (!root.IsMap()) reader.fail(root, "", "expected a mapping with 'bus' and 'sources'");
  reader.plainUniqueKeys(root, "");
  reader.onlyKeys(root, "", {"bus", "sources", "rtsp_server", "http", "images"});
  if (root["bus"]) {
    const YAML::Node bus = root["bus"];
    reader.onlyKeys(bus, "bus", {"endpoint", "snapshot_endpoint", "heartbeat", "history", "curve", "insecure"});
    if (bus["endpoint"]) config.bus.endpoint = reader.string(bus["endpoint"], "bus.endpoint");
    if (bus["snapshot_endpoint"]) config.bus.snapshot_endpoint = reader.string(bus["snapshot_endpoint"], "bus.snapshot_endpoint");
    if (bus["heartbeat"]) config.bus.heartbeat = reader.duration(bus["heartbeat"], "bus.heartbeat", std::chrono::milliseconds(0), kMaxHeartbeat);
    if (bus["history"]) config.bus.history = reader.duration(bus["history"], "bus.history", milliseconds(0), kMaxHistory);
    if (config.bus.heartbeat.count() > 0 && config.bus.heartbeat < kMinHeartbeat) {
      reader.fail(bus["heartbeat"], "bus.heartbeat", "0s (off) or at least " + Reader::text(kMinHeartbeat));
    }
    for (const auto* key : {"endpoint", "snapshot_endpoint"}) {
      const std::string value = key == std::string("endpoint") ? config.bus.endpoint : config.bus.snapshot_endpoint;
      if (!value.empty() && value.rfind("tcp://", 0) != 0 && value.rfind("ipc://", 0) != 0 &&
          value.rfind("inproc://", 0) != 0) {
        reader.fail(bus[key], std::string("bus.") + key, "expected tcp://HOST:PORT or ipc://PATH");
      }
    }
    if (bus["insecure"]) config.bus.insecure = reader.boolean(bus["insecure"], "bus.insecure");
    if (bus["curve"]) parseCurve(reader, bus["curve"], config.bus);
    // Anyone who can reach a non-loopback address would read every event and
    // ask the snapshot socket for more: only with CURVE, or when told so.
    for (const auto* key : {"endpoint", "snapshot_endpoint"}) {
      const std::string value = key == std::string("endpoint") ? config.bus.endpoint : config.bus.snapshot_endpoint;
      if (value.empty() || vigil::events::isLocalOnlyEndpoint(value) || !config.bus.curve_server_key.empty() ||
          config.bus.insecure) {
        continue;
      }
      reader.fail(bus[key], std::string("bus.") + key,
                  "'" + value + "' can be reached from other hosts, and the bus has no authentication: add "
                  "`curve: {server_key: FILE, authorized_keys: DIR}` under bus (make the keys with `vigil keygen "
                  "NAME`, see docs/EVENTS.md section 10), bind 127.0.0.1, or set `insecure: true` under bus");
    }
  }
  if (root["rtsp_server"]) {
    const YAML::Node server = root["rtsp_server"];
    reader.onlyKeys(server, "rtsp_server", {"address", "port"});
    if (server["address"]) config.rtsp_server.address = reader.string(server["address"], "rtsp_server.address");
    if (server["port"]) config.rtsp_server.port = reader.integer(server["port"], "rtsp_server.port", 0, 65535);
  }
  if (root["http"]) {
    const YAML::Node http = root["http"];
    reader.onlyKeys(http, "http", {"address", "port", "token_file", "admin_token_file", "allow"});
    config.http.enabled = true;
    if (http["address"]) config.http.address = reader.string(http["address"], "http.address");
    if (http["port"]) config.http.port = reader.integer(http["port"], "http.port", 0, 65535);
    // A token lives in a file of its own (first line), not in the config.
    auto token = [&](const char* key) {
      const std::string path = reader.string(http[key], std::string("http.") + key);
      std::ifstream in(path);
      std::string line;
      if (!in || !std::getline(in, line)) reader.fail(http[key], std::string("http.") + key, "cannot read " + path);
      const auto first = line.find_first_not_of(" \t\r");
      const auto last = line.find_last_not_of(" \t\r");
      if (first == std::string::npos) reader.fail(http[key], std::string("http.") + key, path + " is empty");
      return line.substr(first, last - first + 1);
    };
    if (http["token_file"]) config.http.read_token = token("token_file");
    if (http["admin_token_file"]) config.http.admin_token = token("admin_token_file");
    if (http["allow"]) {
      const YAML::Node allow = http["allow"];
      if (!allow.IsSequence()) reader.fail(allow, "http.allow", "expected a list of addresses or CIDR ranges");
      for (std::size_t i = 0; i < allow.size(); ++i) {
        config.http.allow.push_back(reader.string(allow[i], Reader::index("http.allow", i)));
      }
    }
  }
  if (root["images"]) {
    config.images = parseImages(reader, root["images"], validate);
    if (!config.http.enabled) {
      reader.fail(root["images"], "images", "the image API is served over HTTP: add e.g. `http: {address: 127.0.0.1, port: 8080}`");
    }
  }
  // A config may serve only the image API: no camera at all.
  if (!root["sources"] && config.images.enabled) {
    applyEnvironment(config);
    return config;
  }
  if (!root["sources"]) reader.fail(root, "sources", "missing: at least one source is needed (or an `images:` API)");
  const YAML::Node sources = root["sources"];
  if (!sources.IsSequence() || (sources.size() == 0 && !config.images.enabled)) {
    reader.fail(sources, "sources", "expected a non-empty list");
  }
  std::set<std::string> ids;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    SourceConfig source = parseSource(reader, sources[i], Reader::index("sources", i), validate);
    if (!ids.insert(source.id).second) {
      reader.fail(sources[i]["id"], Reader::index("sources", i) + ".id", "duplicate source id '" + source.id + "'");
    }
    config.sources.push_back(std::move(source));
  }
  // Across sources: mounts are unique, and snapshots need the endpoint that
  // takes their requests.
  std::set<std::string> mounts;
  for (std::size_t i = 0; i < config.sources.size(); ++i) {
    const auto& outputs = config.sources[i].outputs;
    for (std::size_t o = 0; o < outputs.size(); ++o) {
      const YAML::Node node = sources[i]["outputs"][o];
      const std::string output_path = Reader::index(Reader::index("sources", i) + ".outputs", o);
      if (outputs[o].type == OutputConfig::Type::kRtsp && !mounts.insert(outputs[o].path).second) {
        reader.fail(node, output_path + ".mount", "mount '" + outputs[o].path + "' is already used by another source");
      }
      if (outputs[o].type == OutputConfig::Type::kSnapshot && !config.http.enabled) {
        reader.fail(node, output_path,
                    "snapshots are taken on request over HTTP: add e.g. `http: {address: 127.0.0.1, port: 8080}`");
      }
    }
  }
  applyEnvironment(config);
  return config;
}

Config loadConfig(const std::string& path, AnalyticValidator validate) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot open the config file");
  std::stringstream text;
  text << in.rdbuf();
  return parseConfig(text.str(), path, validate);
}

}  // namespace vigil::pipeline
