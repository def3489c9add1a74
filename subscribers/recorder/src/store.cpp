#include "vigil/recorder/store.hpp"

#include "vigil/events/schema.hpp"
#include "vigil/subscribers/event_fields.hpp"

#include <msgpack.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <variant>

namespace vigil::recorder {

namespace {

// 1: first release. 2: each (run, topic, seq) stored once (a unique index;
// replays and restarts may deliver an event twice), topics.recovered.
constexpr int kSchemaUserVersion = 2;
// Rows deleted per retention statement: small enough that the writer (same
// thread) and readers (other connections) never wait long.
constexpr std::int64_t kRetentionChunk = 5000;
constexpr int kMaxEvictionRounds = 50;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS events(
  id INTEGER PRIMARY KEY,
  topic TEXT NOT NULL, kind TEXT NOT NULL, source TEXT NOT NULL,
  run TEXT NOT NULL, seq INTEGER NOT NULL,
  ts INTEGER NOT NULL, pts INTEGER, frame INTEGER NOT NULL,
  width INTEGER, height INTEGER,
  count INTEGER,
  received_ns INTEGER NOT NULL,
  raw BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS events_source_kind_ts ON events(source, kind, ts);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
CREATE INDEX IF NOT EXISTS events_kind_count ON events(kind, count);
CREATE TABLE IF NOT EXISTS zone_counts(
  event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
  source TEXT NOT NULL, zone TEXT NOT NULL, ts INTEGER NOT NULL, count INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS zone_counts_event ON zone_counts(event_id);
CREATE INDEX IF NOT EXISTS zone_counts_source_zone_ts ON zone_counts(source, zone, ts);
CREATE TABLE IF NOT EXISTS codes(
  event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
  source TEXT NOT NULL, ts INTEGER NOT NULL,
  format TEXT, text TEXT, track_id INTEGER, first_seen INTEGER, state TEXT);
CREATE INDEX IF NOT EXISTS codes_event ON codes(event_id);
CREATE INDEX IF NOT EXISTS codes_text ON codes(text);
CREATE TABLE IF NOT EXISTS status_history(
  event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
  source TEXT NOT NULL, ts INTEGER NOT NULL, state TEXT, detail TEXT,
  input_fps REAL, analysed_fps REAL, dropped_frames INTEGER);
CREATE INDEX IF NOT EXISTS status_history_event ON status_history(event_id);
CREATE INDEX IF NOT EXISTS status_history_source_ts ON status_history(source, ts);
CREATE TABLE IF NOT EXISTS topics(
  topic TEXT PRIMARY KEY, run TEXT NOT NULL, last_seq INTEGER NOT NULL,
  received INTEGER NOT NULL, missed INTEGER NOT NULL, gaps INTEGER NOT NULL,
  restarts INTEGER NOT NULL, duplicates INTEGER NOT NULL,
  recovered INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS gaps(
  id INTEGER PRIMARY KEY, topic TEXT NOT NULL, kind TEXT NOT NULL,
  run TEXT NOT NULL, previous_run TEXT NOT NULL,
  after_seq INTEGER NOT NULL, next_seq INTEGER NOT NULL, missed INTEGER NOT NULL,
  detected_ns INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS gaps_detected ON gaps(detected_ns);
)sql";

// Version 1 to 2. A v1 database may hold an event twice (a snapshot replayed
// across a restart): the oldest copy stays, then the index makes it the rule.
constexpr const char* kMigrateFrom1 = R"sql(
DELETE FROM events WHERE id NOT IN (SELECT min(id) FROM events GROUP BY run, topic, seq);
ALTER TABLE topics ADD COLUMN recovered INTEGER NOT NULL DEFAULT 0;
)sql";

constexpr const char* kUniqueEvents =
    "CREATE UNIQUE INDEX IF NOT EXISTS events_run_topic_seq ON events(run, topic, seq)";

using Binding = std::variant<std::int64_t, std::string>;

struct WhereClause {
  std::string sql;  // " WHERE ..." or empty
  std::vector<Binding> bindings;

  void add(const std::string& condition) { sql += (sql.empty() ? " WHERE " : " AND ") + condition; }
  void bindAll(Statement& statement, int first = 1) const {
    int index = first;
    for (const auto& binding : bindings) {
      if (const auto* number = std::get_if<std::int64_t>(&binding)) {
        statement.bind(index++, *number);
      } else {
        statement.bind(index++, std::string_view(std::get<std::string>(binding)));
      }
    }
  }
};

// Conditions on the events table (alias-free column names).
WhereClause eventWhere(const EventFilter& filter) {
  WhereClause where;
  if (filter.source) { where.add("source = ?"); where.bindings.emplace_back(*filter.source); }
  if (filter.kind) { where.add("kind = ?"); where.bindings.emplace_back(*filter.kind); }
  if (filter.since_ns) { where.add("ts >= ?"); where.bindings.emplace_back(*filter.since_ns); }
  if (filter.until_ns) { where.add("ts < ?"); where.bindings.emplace_back(*filter.until_ns); }
  if (filter.from_id) { where.add("id >= ?"); where.bindings.emplace_back(*filter.from_id); }
  if (filter.to_id) { where.add("id <= ?"); where.bindings.emplace_back(*filter.to_id); }
  if (!filter.ids.empty()) {
    std::string list = "id IN (";
    for (std::size_t i = 0; i < filter.ids.size(); ++i) {
      list += i ? ",?" : "?";
      where.bindings.emplace_back(filter.ids[i]);
    }
    where.add(list + ")");
  }
  if (filter.zone) {
    // Count constraints then apply to the zone's count, not the frame total.
    std::string zone_sql = "id IN (SELECT event_id FROM zone_counts WHERE zone = ?";
    where.bindings.emplace_back(*filter.zone);
    if (filter.min_count) { zone_sql += " AND count >= ?"; where.bindings.emplace_back(*filter.min_count); }
    if (filter.max_count) { zone_sql += " AND count <= ?"; where.bindings.emplace_back(*filter.max_count); }
    if (filter.count) { zone_sql += " AND count = ?"; where.bindings.emplace_back(*filter.count); }
    where.add(zone_sql + ")");
  } else {
    if (filter.min_count) { where.add("count >= ?"); where.bindings.emplace_back(*filter.min_count); }
    if (filter.max_count) { where.add("count <= ?"); where.bindings.emplace_back(*filter.max_count); }
    if (filter.count) { where.add("count = ?"); where.bindings.emplace_back(*filter.count); }
  }
  if (filter.code) {
    where.add("id IN (SELECT event_id FROM codes WHERE text = ?)");
    where.bindings.emplace_back(*filter.code);
  }
  return where;
}

std::string limitClause(const EventFilter& filter) {
  return filter.limit > 0 ? " LIMIT " + std::to_string(filter.limit) : std::string();
}

}  // namespace

IncomingEvent makeIncoming(const events::Event& event, std::int64_t received_ns) {
  msgpack::sbuffer buffer;
  msgpack::pack(buffer, event.map());
  return IncomingEvent{event, std::string(buffer.data(), buffer.size()), received_ns};
}

bool EventFilter::empty() const {
  return !source && !kind && !since_ns && !until_ns && !min_count && !max_count && !count &&
         !code && !zone && !from_id && !to_id && ids.empty();
}

std::string StoredEvent::json() const {
  msgpack::object_handle handle;
  try {
    handle = msgpack::unpack(raw.data(), raw.size());
  } catch (const std::exception&) {
    return "{\"id\":" + std::to_string(id) + ",\"error\":\"stored event is not msgpack\"}";
  }
  std::string body = events::toJson(handle.get());
  if (body.size() < 2 || body.front() != '{') return body;
  return "{\"id\":" + std::to_string(id) + (body.size() > 2 ? "," : "") + body.substr(1);
}

namespace {

// Before SQLite creates the database: refuse a symbolic link (a planted link
// would make the recorder write wherever it points) unless asked, and create
// a missing file 0600 ourselves. SQLite gives the -wal and -shm files the
// database's mode, so events are readable by the owner only, whatever the umask.
const std::string& preparedPath(const std::string& path, EventStore::Open open, bool allow_symlink) {
  if (open != EventStore::Open::kCreate || path.empty() || path == ":memory:") return path;
  struct stat info {};
  if (::lstat(path.c_str(), &info) == 0) {
    if (S_ISLNK(info.st_mode) && !allow_symlink) {
      throw SqliteError(SQLITE_CANTOPEN, "the database path '" + path +
                                             "' is a symbolic link; refusing to follow it (--allow-symlink-db)");
    }
    return path;
  }
  const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);  // EEXIST: created meanwhile; SQLite reports any real error
  return path;
}

}  // namespace

EventStore::EventStore(const std::string& path, Open open, std::chrono::milliseconds busy_timeout,
                       bool allow_symlink)
    : db_(preparedPath(path, open, allow_symlink),
          open == Open::kCreate ? Database::Mode::kReadWrite : Database::Mode::kExisting, busy_timeout) {
  db_.exec("PRAGMA foreign_keys = ON");
  if (open == Open::kCreate) {
    // auto_vacuum must be chosen before the first table exists; it lets the
    // size cap give pages back to the file system.
    db_.exec("PRAGMA auto_vacuum = INCREMENTAL");
    db_.exec("PRAGMA journal_mode = WAL");
    // WAL + NORMAL: a committed batch survives a process crash (kill -9); a
    // power cut may lose the last commits but never corrupts the file.
    db_.exec("PRAGMA synchronous = NORMAL");
    db_.exec("PRAGMA journal_size_limit = 16777216");
    createSchema();
    prepareWriters();
  }
  Statement load = db_.prepare(topicsSelect());
  while (load.step()) {
    TopicRecord record{load.columnText(0), load.columnText(1), load.columnInt(2),
                       load.columnInt(3),  load.columnInt(4),  load.columnInt(5),
                       load.columnInt(6),  load.columnInt(7),  load.columnInt(8)};
    topics_[record.topic] = record;
  }
}

std::string EventStore::topicsSelect() {
  // A version 1 database read without migrating it (queries open it as it
  // is) has no `recovered`: nothing was recovered then.
  const bool has_recovered =
      db_.scalarInt("SELECT count(*) FROM pragma_table_info('topics') WHERE name = 'recovered'") > 0;
  return std::string("SELECT topic, run, last_seq, received, missed, gaps, restarts, duplicates, ") +
         (has_recovered ? "recovered" : "0") + " FROM topics";
}

void EventStore::createSchema() {
  const auto version = db_.scalarInt("PRAGMA user_version");
  if (version > kSchemaUserVersion) {
    throw SqliteError(SQLITE_MISMATCH, "database schema version " + std::to_string(version) +
                                           " is newer than this recorder understands");
  }
  Transaction transaction(db_);
  db_.exec(kSchema);
  if (version == 1) db_.exec(kMigrateFrom1);
  db_.exec(kUniqueEvents);
  db_.exec("PRAGMA user_version = " + std::to_string(kSchemaUserVersion));
  transaction.commit();
}

void EventStore::prepareWriters() {
  insert_event_ = db_.prepare(
      "INSERT OR IGNORE INTO events(topic, kind, source, run, seq, ts, pts, frame, width, height, count, "
      "received_ns, raw) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)");
  insert_zone_ =
      db_.prepare("INSERT INTO zone_counts(event_id, source, zone, ts, count) VALUES(?,?,?,?,?)");
  insert_code_ = db_.prepare(
      "INSERT INTO codes(event_id, source, ts, format, text, track_id, first_seen, state) "
      "VALUES(?,?,?,?,?,?,?,?)");
  insert_status_ = db_.prepare(
      "INSERT INTO status_history(event_id, source, ts, state, detail, input_fps, analysed_fps, "
      "dropped_frames) VALUES(?,?,?,?,?,?,?,?)");
  insert_gap_ = db_.prepare(
      "INSERT INTO gaps(topic, kind, run, previous_run, after_seq, next_seq, missed, detected_ns) "
      "VALUES(?,?,?,?,?,?,?,?)");
  upsert_topic_ = db_.prepare(
      "INSERT OR REPLACE INTO topics(topic, run, last_seq, received, missed, gaps, restarts, "
      "duplicates, recovered) VALUES(?,?,?,?,?,?,?,?,?)");
}

void EventStore::write(const std::vector<IncomingEvent>& batch) {
  if (batch.empty()) return;
  // Topic state is updated on a copy and swapped in only after COMMIT, so a
  // failed batch retried later is accounted exactly once.
  std::map<std::string, TopicRecord> touched;
  Transaction transaction(db_);
  for (const IncomingEvent& incoming : batch) {
    const events::Event& event = incoming.event;
    const events::Header& header = event.header;
    const auto seq = static_cast<std::int64_t>(header.seq);

    auto found = touched.find(event.topic);
    if (found == touched.end()) {
      auto committed = topics_.find(event.topic);
      TopicRecord start = committed != topics_.end() ? committed->second : TopicRecord{};
      found = touched.emplace(event.topic, start).first;
      found->second.topic = event.topic;
    }
    TopicRecord& topic = found->second;
    const auto count = subscribers::eventCount(event);
    insert_event_.bind(1, std::string_view(event.topic)).bind(2, std::string_view(header.kind))
        .bind(3, std::string_view(header.source)).bind(4, std::string_view(header.run))
        .bind(5, seq).bind(6, header.ts_ns).bind(7, header.pts_ns)
        .bind(8, static_cast<std::int64_t>(header.frame)).bind(9, header.width)
        .bind(10, header.height).bind(11, count).bind(12, incoming.received_ns)
        .bindBlob(13, incoming.raw.data(), incoming.raw.size());
    insert_event_.run();
    if (db_.changes() == 0) {
      ++topic.duplicates;  // this (run, topic, seq) is stored already: keep one copy
      continue;
    }
    if (topic.received > 0 && topic.run != header.run) {
      // A new run counts from 1: what it sent before this event is lost to us.
      ++topic.restarts;
      const std::int64_t missed = seq > 0 ? seq - 1 : 0;
      topic.missed = missed > INT64_MAX - topic.missed ? INT64_MAX : topic.missed + missed;
      if (missed > 0 && topic.gaps < INT64_MAX) ++topic.gaps;
      insert_gap_.bind(1, std::string_view(event.topic)).bind(2, std::string_view("restart"))
          .bind(3, std::string_view(header.run)).bind(4, std::string_view(topic.run))
          .bind(5, topic.last_seq).bind(6, seq).bind(7, missed)
          .bind(8, incoming.received_ns);
      insert_gap_.run();
      topic.last_seq = 0;
    } else if (topic.received > 0 && seq - 1 > topic.last_seq) {
      // seq and last_seq are both in [0, INT64_MAX]: the difference cannot
      // overflow, the running sums could (a hostile seq): they saturate.
      const std::int64_t missed = seq - topic.last_seq - 1;
      topic.missed = missed > INT64_MAX - topic.missed ? INT64_MAX : topic.missed + missed;
      if (topic.gaps < INT64_MAX) ++topic.gaps;
      insert_gap_.bind(1, std::string_view(event.topic)).bind(2, std::string_view("missed"))
          .bind(3, std::string_view(header.run)).bind(4, std::string_view(topic.run))
          .bind(5, topic.last_seq).bind(6, seq).bind(7, missed).bind(8, incoming.received_ns);
      insert_gap_.run();
    }
    topic.run = header.run;
    // An older event arriving late (stored above, it was missing) never moves
    // the topic back; and no single event can hide later ones: those are kept
    // by the unique index, not by last_seq.
    topic.last_seq = std::max(topic.last_seq, seq);
    ++topic.received;
    if (incoming.replayed) ++topic.recovered;

    const std::int64_t event_id = db_.lastInsertId();

    for (const auto& [zone, zone_count] : subscribers::zoneCounts(event)) {
      insert_zone_.bind(1, event_id).bind(2, std::string_view(header.source))
          .bind(3, std::string_view(zone)).bind(4, header.ts_ns).bind(5, zone_count);
      insert_zone_.run();
    }
    if (header.kind == events::kind::kCodes) {
      for (const auto& read : subscribers::codeReads(event)) {
        insert_code_.bind(1, event_id).bind(2, std::string_view(header.source))
            .bind(3, header.ts_ns).bind(4, std::string_view(read.format))
            .bind(5, std::string_view(read.text)).bind(6, read.track_id)
            .bind(7, read.first_seen).bind(8, std::string_view(read.state));
        insert_code_.run();
      }
    } else if (header.kind == events::kind::kStatus) {
      const auto status = subscribers::statusFields(event);
      insert_status_.bind(1, event_id).bind(2, std::string_view(header.source))
          .bind(3, header.ts_ns).bind(4, std::string_view(status.state))
          .bind(5, std::string_view(status.detail)).bind(6, status.input_fps)
          .bind(7, status.analysed_fps).bind(8, status.dropped_frames);
      insert_status_.run();
    }
  }
  for (const auto& [name, topic] : touched) {
    upsert_topic_.bind(1, std::string_view(name)).bind(2, std::string_view(topic.run))
        .bind(3, topic.last_seq).bind(4, topic.received).bind(5, topic.missed)
        .bind(6, topic.gaps).bind(7, topic.restarts).bind(8, topic.duplicates)
        .bind(9, topic.recovered);
    upsert_topic_.run();
  }
  transaction.commit();
  for (auto& [name, topic] : touched) topics_[name] = std::move(topic);
}

std::uint64_t EventStore::usedBytes() {
  const auto pages = db_.scalarInt("PRAGMA page_count");
  const auto free_pages = db_.scalarInt("PRAGMA freelist_count");
  const auto page_size = db_.scalarInt("PRAGMA page_size");
  return static_cast<std::uint64_t>(std::max<std::int64_t>(0, pages - free_pages) * page_size);
}

RetentionResult EventStore::applyRetention(std::optional<std::int64_t> ttl_cutoff_ns,
                                           std::optional<std::uint64_t> max_bytes) {
  RetentionResult result;
  if (ttl_cutoff_ns) {
    Statement expire = db_.prepare(
        "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < ? ORDER BY id LIMIT ?)");
    for (;;) {
      expire.bind(1, *ttl_cutoff_ns).bind(2, kRetentionChunk);
      expire.run();
      const auto deleted = db_.changes();
      result.expired += deleted;
      if (deleted < kRetentionChunk) break;
    }
    Statement expire_gaps = db_.prepare("DELETE FROM gaps WHERE detected_ns < ?");
    expire_gaps.bind(1, *ttl_cutoff_ns);
    expire_gaps.run();
  }
  if (max_bytes) {
    Statement evict = db_.prepare(
        "DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT ?)");
    for (int round = 0; round < kMaxEvictionRounds; ++round) {
      const auto used = usedBytes();
      if (used <= *max_bytes) break;
      const auto rows = db_.scalarInt("SELECT count(*) FROM events");
      if (rows == 0) break;
      // Delete the share of rows that should free the excess, plus a margin so
      // that the cap is not re-hit by the next batch.
      const double excess = static_cast<double>(used - *max_bytes) / static_cast<double>(used);
      const auto chunk = std::clamp<std::int64_t>(
          static_cast<std::int64_t>(static_cast<double>(rows) * excess * 1.1) + 1, 1,
          kRetentionChunk);
      evict.bind(1, chunk);
      evict.run();
      result.evicted += db_.changes();
    }
  }
  if (result.expired + result.evicted > 0) db_.exec("PRAGMA incremental_vacuum");
  return result;
}

std::vector<StoredEvent> EventStore::query(const EventFilter& filter) {
  const WhereClause where = eventWhere(filter);
  Statement statement = db_.prepare(
      "SELECT id, topic, kind, source, run, seq, ts, frame, received_ns, count, raw FROM events" +
      where.sql + (filter.newest_first ? " ORDER BY id DESC" : " ORDER BY id") +
      limitClause(filter));
  where.bindAll(statement);
  std::vector<StoredEvent> rows;
  while (statement.step()) {
    StoredEvent row;
    row.id = statement.columnInt(0);
    row.topic = statement.columnText(1);
    row.kind = statement.columnText(2);
    row.source = statement.columnText(3);
    row.run = statement.columnText(4);
    row.seq = statement.columnInt(5);
    row.ts = statement.columnInt(6);
    row.frame = statement.columnInt(7);
    row.received_ns = statement.columnInt(8);
    if (!statement.columnIsNull(9)) row.count = statement.columnInt(9);
    row.raw = std::string(statement.columnBlob(10));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::int64_t EventStore::total(const EventFilter& filter) {
  const WhereClause where = eventWhere(filter);
  Statement statement = db_.prepare("SELECT count(*) FROM events" + where.sql);
  where.bindAll(statement);
  return statement.step() ? statement.columnInt(0) : 0;
}

std::vector<CountHistogramRow> EventStore::countHistogram(const EventFilter& filter) {
  const WhereClause where = eventWhere(filter);
  std::string sql = "SELECT count, count(*) FROM events" + where.sql;
  sql += where.sql.empty() ? " WHERE" : " AND";
  sql += " count IS NOT NULL GROUP BY count ORDER BY count";
  Statement statement = db_.prepare(sql);
  where.bindAll(statement);
  std::vector<CountHistogramRow> rows;
  while (statement.step()) rows.push_back({statement.columnInt(0), statement.columnInt(1)});
  return rows;
}

std::vector<ZoneAggregate> EventStore::zoneAggregates(const EventFilter& filter,
                                                      std::int64_t bucket_ns) {
  WhereClause where;
  if (filter.source) { where.add("source = ?"); where.bindings.emplace_back(*filter.source); }
  if (filter.zone) { where.add("zone = ?"); where.bindings.emplace_back(*filter.zone); }
  if (filter.since_ns) { where.add("ts >= ?"); where.bindings.emplace_back(*filter.since_ns); }
  if (filter.until_ns) { where.add("ts < ?"); where.bindings.emplace_back(*filter.until_ns); }
  Statement statement = db_.prepare(
      "SELECT source, zone, (ts / ?1) * ?1 AS bucket, max(count), avg(count), count(*) "
      "FROM zone_counts" + where.sql + " GROUP BY source, zone, bucket ORDER BY source, zone, bucket");
  statement.bind(1, std::max<std::int64_t>(bucket_ns, 1));
  where.bindAll(statement, 2);
  std::vector<ZoneAggregate> rows;
  while (statement.step()) {
    rows.push_back({statement.columnText(0), statement.columnText(1), statement.columnInt(2),
                    statement.columnInt(3), statement.columnDouble(4), statement.columnInt(5)});
  }
  return rows;
}

std::vector<GapRecord> EventStore::gaps(const EventFilter& filter) {
  WhereClause where;
  if (filter.source) {
    where.add("topic LIKE ?");
    where.bindings.emplace_back("vigil/%/" + *filter.source);
  }
  if (filter.since_ns) { where.add("detected_ns >= ?"); where.bindings.emplace_back(*filter.since_ns); }
  if (filter.until_ns) { where.add("detected_ns < ?"); where.bindings.emplace_back(*filter.until_ns); }
  Statement statement = db_.prepare(
      "SELECT id, topic, kind, run, previous_run, after_seq, next_seq, missed, detected_ns "
      "FROM gaps" + where.sql + " ORDER BY id" + limitClause(filter));
  where.bindAll(statement);
  std::vector<GapRecord> rows;
  while (statement.step()) {
    rows.push_back({statement.columnInt(0), statement.columnText(1), statement.columnText(2),
                    statement.columnText(3), statement.columnText(4), statement.columnInt(5),
                    statement.columnInt(6), statement.columnInt(7), statement.columnInt(8)});
  }
  return rows;
}

std::vector<TopicRecord> EventStore::topics() {
  Statement statement = db_.prepare(topicsSelect() + " ORDER BY topic");
  std::vector<TopicRecord> rows;
  while (statement.step()) {
    rows.push_back({statement.columnText(0), statement.columnText(1), statement.columnInt(2),
                    statement.columnInt(3), statement.columnInt(4), statement.columnInt(5),
                    statement.columnInt(6), statement.columnInt(7), statement.columnInt(8)});
  }
  return rows;
}

std::int64_t EventStore::remove(const EventFilter& filter) {
  if (filter.empty()) {
    throw std::invalid_argument("refusing to delete without a selection (ids, range or filter)");
  }
  const WhereClause where = eventWhere(filter);
  Statement statement = db_.prepare("DELETE FROM events" + where.sql);
  where.bindAll(statement);
  statement.run();
  return db_.changes();
}

}  // namespace vigil::recorder
