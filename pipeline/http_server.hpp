// The runner's HTTP endpoint (cpp-httplib, its own threads): still snapshots
// of the anonymized streams, on request. Enabled by `http: {address, port}`
// in the config (port 0: any free port, see port()).
//
//   GET  /sources/ID/snapshot.jpg    the newest redacted frame as JPEG
//   GET  /sources/ID/snapshot.webp   ... as WebP (.jpeg is accepted too)
//   POST /sources/ID/snapshot        saves it in the output's `path` directory,
//                                    in its `format`; answers 201 with
//                                    {"source": ID, "path": FILE, "bytes": N}
//
// Limits: a request body over 4 KiB is refused (413); a client silent for 2 s
// is dropped; a source saves at most one snapshot per second (429 with
// Retry-After); a Host header other than a loopback name or the configured
// address is refused (403, DNS rebinding). With bearer tokens configured
// (HttpConfig::read_token / admin_token) GET needs either (401), POST the
// admin one (403); without, a non-loopback address is warned about at start.
//
// With `images:` configured, the still-image API is served here too (see
// image_service.hpp and docs/IMAGES.md):
//
//   GET  /                           an HTML upload form
//   GET  /health                     {"status": "ok", ...}; no token needed
//   POST /v1/analyze                 image (raw body or multipart) -> JSON
//   POST /v1/anonymize               image -> the redacted image
//   POST /v1/batches                 up to 50 images (multipart) -> 202 + id
//   GET  /v1/batches/ID              status, progress, results (until the TTL)
//   GET  /v1/batches/ID/images/N     a batch's redacted image N
//
// The image API takes the read or the admin token. `http.allow` limits every
// route to the listed addresses and ranges (403 for others).
//
// Errors answer JSON {"error": TEXT}: 404 for an unknown source or one without
// a `snapshot` output, 503 while it has no frame yet (starting, reconnecting
// before the first frame, or stopped), 500 when encoding or writing fails.
// Frames come from the `snapshot` output's sink, which hangs off the tee after
// the last analytic: a snapshot is never more raw than the other outputs.
#pragma once

#include "config.hpp"
#include "snapshot.hpp"
#include "vigil/gst/ptr.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

namespace vigil::pipeline {

class ImageService;

// Saved snapshots (POST) per source: at most one per this interval.
inline constexpr std::chrono::milliseconds kMinSnapshotInterval{1000};

struct SnapshotTarget {
  // Thread-safe: the newest frame that reached the snapshot output, or null.
  std::function<gst::SamplePtr()> latest;
  std::string directory;  // where POSTed snapshots are saved
  SnapshotFormat format = SnapshotFormat::kJpeg;
};

class HttpServer {
 public:
  // `sources`: every configured source id (to tell "unknown" from "no
  // snapshot output"); `targets`: those with a snapshot output.
  // `images`: the still-image API, or null; it must outlive the server.
  HttpServer(HttpConfig config, std::set<std::string> sources, std::map<std::string, SnapshotTarget> targets,
             ImageService* images = nullptr);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and serves on a thread of its own. Throws std::runtime_error when
  // the address cannot be bound.
  void start();
  // Stops serving and joins; before the sessions the targets point into go.
  void stop();
  int port() const { return bound_port_; }
  std::string url() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int bound_port_ = -1;
};

}  // namespace vigil::pipeline
