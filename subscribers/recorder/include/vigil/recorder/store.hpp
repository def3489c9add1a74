// The recorder's SQLite store: every event's raw msgpack plus a queryable view
// (events, zone counts, code reads, status history), per-topic sequence
// accounting with gap records, retention, and the queries behind the CLI and
// the HTTP API. One EventStore per connection; connections are not shared
// between threads.
#pragma once

#include "vigil/events/codec.hpp"
#include "vigil/recorder/sqlite.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace vigil::recorder {

// One event on its way into the store.
struct IncomingEvent {
  events::Event event;
  std::string raw;               // the msgpack map as stored (re-packed from the decoded event)
  std::int64_t received_ns = 0;  // wall clock at the recorder
  bool replayed = false;         // recovered from the publisher's history
};
IncomingEvent makeIncoming(const events::Event& event, std::int64_t received_ns);

// Selection shared by query, total, delete and aggregates. Unset = no constraint.
struct EventFilter {
  std::optional<std::string> source;
  std::optional<std::string> kind;
  std::optional<std::int64_t> since_ns;   // ts >= since
  std::optional<std::int64_t> until_ns;   // ts < until
  std::optional<std::int64_t> min_count;  // count >= N
  std::optional<std::int64_t> max_count;  // count <= N
  std::optional<std::int64_t> count;      // count == N ("which frames had N faces")
  std::optional<std::string> code;        // a code read with exactly this text
  std::optional<std::string> zone;        // aggregates: one zone only
  std::optional<std::int64_t> from_id;    // id >= from
  std::optional<std::int64_t> to_id;      // id <= to
  std::vector<std::int64_t> ids;          // any of these ids
  std::int64_t limit = 0;                 // 0 = no limit
  bool newest_first = false;

  bool empty() const;
};

struct StoredEvent {
  std::int64_t id = 0;
  std::string topic, kind, source, run;
  std::int64_t seq = 0, ts = 0, frame = 0, received_ns = 0;
  std::optional<std::int64_t> count;
  std::string raw;
  // The published map as JSON, with the store's "id" first.
  std::string json() const;
};

struct ZoneAggregate {
  std::string source, zone;
  std::int64_t bucket_start_ns = 0;
  std::int64_t max = 0;
  double mean = 0;       // mean over the events in the bucket (not time-weighted)
  std::int64_t samples = 0;
};

struct CountHistogramRow {
  std::int64_t count = 0;
  std::int64_t events = 0;
};

struct GapRecord {
  std::int64_t id = 0;
  std::string topic;
  std::string kind;  // "missed" (messages lost) or "restart" (publisher started a new run)
  std::string run, previous_run;
  std::int64_t after_seq = 0, next_seq = 0, missed = 0, detected_ns = 0;
};

struct TopicRecord {
  std::string topic, run;
  std::int64_t last_seq = 0, received = 0, missed = 0, gaps = 0, restarts = 0, duplicates = 0;
  std::int64_t recovered = 0;  // of `received`: replayed by the publisher after a gap
};

struct RetentionResult {
  std::int64_t expired = 0;  // deleted by the TTL
  std::int64_t evicted = 0;  // deleted to stay under the size cap
};

class EventStore {
 public:
  enum class Open { kCreate, kExisting };
  // kCreate refuses a path that is a symbolic link unless `allow_symlink`, and
  // creates a missing database (and so its -wal and -shm files) mode 0600.
  EventStore(const std::string& path, Open open,
             std::chrono::milliseconds busy_timeout = std::chrono::milliseconds(200),
             bool allow_symlink = false);

  // Writes the batch in one transaction, with its gap records and topic
  // counters. All or nothing: on SqliteError nothing was written and the
  // caller keeps the batch to retry.
  void write(const std::vector<IncomingEvent>& batch);

  // Deletes events older than `ttl_cutoff_ns` and the oldest events while the
  // used size exceeds `max_bytes`; chunked so a writer never waits long.
  RetentionResult applyRetention(std::optional<std::int64_t> ttl_cutoff_ns,
                                 std::optional<std::uint64_t> max_bytes);
  std::uint64_t usedBytes();

  std::vector<StoredEvent> query(const EventFilter& filter);
  std::int64_t total(const EventFilter& filter);
  std::vector<CountHistogramRow> countHistogram(const EventFilter& filter);
  std::vector<ZoneAggregate> zoneAggregates(const EventFilter& filter, std::int64_t bucket_ns);
  std::vector<GapRecord> gaps(const EventFilter& filter);
  std::vector<TopicRecord> topics();
  // Returns the number of events deleted. Refuses an empty filter (deleting
  // everything must be explicit: pass from_id = 0).
  std::int64_t remove(const EventFilter& filter);

  Database& database() { return db_; }

 private:
  void createSchema();
  std::string topicsSelect();
  void prepareWriters();

  Database db_;
  std::map<std::string, TopicRecord> topics_;  // committed state, mirrors the topics table
  Statement insert_event_, insert_zone_, insert_code_, insert_status_, insert_gap_, upsert_topic_;
};

}  // namespace vigil::recorder
