// The recording loop: receive from the bus, batch in memory, write a batch per
// transaction, apply retention, survive a locked or full database.
#pragma once

#include "vigil/events/curve.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vigil::recorder {

struct RecorderOptions {
  std::vector<std::string> endpoints;
  std::vector<std::string> topic_prefixes{"vigil/"};
  // The publisher's snapshot endpoint: with it, missed events are replayed
  // from the publisher's history and unconfirmed runs and seqs are refused.
  std::string snapshot_endpoint;
  // On a CURVE bus (docs/EVENTS.md section 10): this recorder's secret key
  // and the publisher's public key.
  events::CurveClientOptions curve;
  std::string db_path;          // empty: do not record (print-only tail)
  bool allow_symlink_db = false;  // follow a db_path that is a symbolic link
  bool print = false;           // every event as one JSON line on stdout
  // A batch is written when it holds this many events or when its oldest
  // event has waited flush_interval. A kill -9 loses at most the open batch.
  std::size_t batch_size = 1000;
  std::chrono::milliseconds flush_interval{200};
  // Events held in memory while the database refuses writes (locked, full).
  // Beyond this the recorder stops reading the bus; ZeroMQ then drops at its
  // high-water mark and the drops show up as sequence gaps, never silently.
  std::size_t max_pending = 200000;
  std::optional<std::chrono::milliseconds> ttl;
  std::optional<std::uint64_t> max_bytes;
  std::chrono::milliseconds retention_interval{5000};
  std::chrono::milliseconds busy_timeout{200};
  std::chrono::milliseconds retry_backoff_max{5000};
  // On SIGINT/SIGTERM, how long to keep retrying the last batches.
  std::chrono::milliseconds shutdown_flush_timeout{10000};
};

// Runs until SIGINT/SIGTERM (see subscribers/shutdown.hpp). Returns the exit
// status: 0 when everything received was written.
int runRecorder(const RecorderOptions& options);

}  // namespace vigil::recorder
