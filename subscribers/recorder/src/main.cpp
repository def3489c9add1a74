// vigil-recorder: records the event bus into SQLite and answers queries.
//
//   vigil-recorder --connect tcp://127.0.0.1:5556 [--snapshot tcp://127.0.0.1:5557] --db events.db [--http 127.0.0.1:8090]
//   vigil-recorder --connect tcp://127.0.0.1:5556 --print          (tail: JSON lines)
//   vigil-recorder query --db events.db --kind faces --count 3 --format table
//   vigil-recorder delete --db events.db --from-id 10 --to-id 20
#include "vigil/events/schema.hpp"
#include "vigil/recorder/http_api.hpp"
#include "vigil/recorder/ingest.hpp"
#include "vigil/recorder/output.hpp"
#include "vigil/recorder/store.hpp"
#include "vigil/subscribers/parse.hpp"
#include "vigil/subscribers/shutdown.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace {

namespace rec = vigil::recorder;
namespace sub = vigil::subscribers;

constexpr std::int64_t kNsPerMs = 1'000'000;
constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;

// Filter options shared by `query` and `delete`; text kept until parsed.
struct FilterArgs {
  std::string source, kind, since, until, code, zone;
  std::optional<std::int64_t> min_count, max_count, count, from_id, to_id;
  std::vector<std::int64_t> ids;

  void addTo(CLI::App& command) {
    command.add_option("--source", source, "Source id");
    command.add_option("--kind", kind, "Event kind (status, faces, plates, codes)");
    command.add_option("--since", since, "From this time (ISO-8601 UTC, Unix seconds, or -10m)");
    command.add_option("--until", until, "Before this time (same forms as --since)");
    command.add_option("--min-count", min_count, "count >= N (of --zone if given)");
    command.add_option("--max-count", max_count, "count <= N (of --zone if given)");
    command.add_option("--count", count, "count == N: which frames had N faces (of --zone if given)");
    command.add_option("--code", code, "Events that read a code with exactly this text");
    command.add_option("--zone", zone, "Zone name: count options apply to this zone");
    command.add_option("--from-id", from_id, "id >= N");
    command.add_option("--to-id", to_id, "id <= N");
    command.add_option("--id", ids, "This event id (repeatable)");
  }

  rec::EventFilter filter() const {
    rec::EventFilter result;
    const auto now = vigil::events::wallClockNowNs();
    if (!source.empty()) result.source = source;
    if (!kind.empty()) result.kind = kind;
    if (!since.empty()) result.since_ns = sub::parseTimePoint(since, now);
    if (!until.empty()) result.until_ns = sub::parseTimePoint(until, now);
    if (!code.empty()) result.code = code;
    if (!zone.empty()) result.zone = zone;
    result.min_count = min_count;
    result.max_count = max_count;
    result.count = count;
    result.from_id = from_id;
    result.to_id = to_id;
    result.ids = ids;
    return result;
  }
};

void setUpLogging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("vigil-recorder");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

int runQuery(const std::string& db, const FilterArgs& args, const std::string& format_name,
             const std::string& report, std::int64_t limit, bool newest_first,
             const std::string& bucket) {
  const auto format = rec::parseOutputFormat(format_name);
  rec::EventFilter filter = args.filter();
  filter.limit = limit;
  filter.newest_first = newest_first;
  rec::EventStore store(db, rec::EventStore::Open::kExisting);
  std::string out;
  if (report == "events") {
    out = rec::renderEvents(store.query(filter), format);
  } else if (report == "total") {
    out = rec::renderTotal(store.total(filter), format);
  } else if (report == "histogram") {
    out = rec::renderHistogram(store.countHistogram(filter), format);
  } else if (report == "zones") {
    out = rec::renderZoneAggregates(
        store.zoneAggregates(filter, sub::parseDuration(bucket).count() * kNsPerMs), format);
  } else if (report == "gaps") {
    out = rec::renderGaps(store.gaps(filter), format);
  } else if (report == "topics") {
    out = rec::renderTopics(store.topics(), format);
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vigil-recorder: records Vigil events into SQLite, answers queries (CLI and "
               "HTTP JSON API), prints events as JSON lines"};
  app.require_subcommand(0, 1);

  rec::RecorderOptions options;
  std::string http;
  std::string ttl, max_size, flush_interval = "200ms", retention_interval = "5s",
      log_level = "info";
  app.add_option("--connect", options.endpoints, "Event bus endpoint(s) to subscribe to");
  app.add_option("--snapshot", options.snapshot_endpoint,
                 "The publisher's snapshot endpoint (eventpublish snapshot-endpoint, bus.snapshot_endpoint): "
                 "events missed while starting, restarting or on a gap are replayed from its history, "
                 "and events it did not send are refused");
  app.add_option("--curve-key", options.curve.secret_key_file,
                 "This subscriber's CURVE secret key (vigil keygen NAME: NAME.key; its NAME.pub must be in the "
                 "publisher's bus.curve.authorized_keys). Needs --server-key")
      ->check(CLI::ExistingFile);
  app.add_option("--server-key", options.curve.server_key_file, "The publisher's CURVE public key (the NAME.pub of its bus.curve.server_key)")
      ->check(CLI::ExistingFile);
  app.add_option("--db", options.db_path, "SQLite database file (created if missing)");
  app.add_option("--topic", options.topic_prefixes, "Topic prefix(es) to record")
      ->default_str("vigil/");
  app.add_flag("--print", options.print, "Print every event as a JSON line on stdout (tail)");
  app.add_flag("--allow-symlink-db", options.allow_symlink_db,
               "Follow --db when it is a symbolic link (refused by default)");
  app.add_option("--http", http, "Serve the HTTP JSON API on HOST:PORT (port 0 = any free port)");
  rec::HttpLimits http_limits;
  app.add_option("--http-allow-host", http_limits.allowed_hosts,
                 "Also serve requests whose Host header names this (e.g. behind a reverse proxy); "
                 "localhost, 127.0.0.1, ::1 and the bound host always are");
  std::string token_file, admin_token_file;
  app.add_option("--http-token-file", token_file,
                 "File holding the bearer token that may read the HTTP API (or env VIGIL_RECORDER_TOKEN)");
  app.add_option("--http-admin-token-file", admin_token_file,
                 "File holding the bearer token that may also DELETE (or env VIGIL_RECORDER_ADMIN_TOKEN)");
  app.add_option("--batch-size", options.batch_size,
                 "Events per transaction; a kill -9 loses at most the open batch")
      ->default_val(options.batch_size)->check(CLI::PositiveNumber);
  app.add_option("--flush-interval", flush_interval, "Write a partial batch after this long")
      ->default_str(flush_interval);
  app.add_option("--max-pending", options.max_pending,
                 "Events held in memory while the database refuses writes")
      ->default_val(options.max_pending)->check(CLI::PositiveNumber);
  app.add_option("--ttl", ttl, "Delete events older than this (e.g. 7d), checked while running");
  app.add_option("--max-size", max_size, "Keep the database under this size (e.g. 2GB)");
  app.add_option("--retention-interval", retention_interval, "How often TTL and size cap are applied")
      ->default_str(retention_interval);
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->default_str("info");

  FilterArgs query_args;
  std::string format = "json", report = "events", bucket = "5m";
  std::int64_t limit = 0;
  bool newest_first = false;
  auto* query = app.add_subcommand("query", "Query a recorded database");
  query->add_option("--db", options.db_path, "SQLite database file")->required();
  query_args.addTo(*query);
  query->add_option("--format", format, "json, csv or table")->default_str(format);
  query->add_option("--report", report,
                    "events (default), total (how many events match), histogram (events per "
                    "count), zones (max/mean per zone per --bucket), gaps, topics")
      ->check(CLI::IsMember({"events", "total", "histogram", "zones", "gaps", "topics"}));
  query->add_option("--bucket", bucket, "Bucket of --report zones")->default_str(bucket);
  query->add_option("--limit", limit, "At most N events (0 = all)");
  query->add_flag("--newest-first", newest_first, "Newest events first");

  FilterArgs delete_args;
  bool delete_all = false;
  auto* remove = app.add_subcommand("delete", "Delete events by id, id range or filter");
  remove->add_option("--db", options.db_path, "SQLite database file")->required();
  delete_args.addTo(*remove);
  remove->add_flag("--all", delete_all, "Delete every event (explicit)");

  CLI11_PARSE(app, argc, argv);
  setUpLogging(log_level);

  try {
    if (*query) return runQuery(options.db_path, query_args, format, report, limit, newest_first, bucket);
    if (*remove) {
      rec::EventFilter filter = delete_args.filter();
      if (delete_all) filter.from_id = 0;
      rec::EventStore store(options.db_path, rec::EventStore::Open::kExisting);
      const auto deleted = store.remove(filter);
      std::printf("{\"deleted\":%lld}\n", static_cast<long long>(deleted));
      return 0;
    }

    if (options.endpoints.empty()) {
      std::cerr << "--connect is required to record (see --help)\n";
      return kExitUsage;
    }
    if (options.db_path.empty() && !options.print) {
      std::cerr << "give --db PATH to record, or --print to tail (see --help)\n";
      return kExitUsage;
    }
    options.flush_interval = sub::parseDuration(flush_interval);
    options.retention_interval = sub::parseDuration(retention_interval);
    if (!ttl.empty()) options.ttl = sub::parseDuration(ttl);
    if (!max_size.empty()) options.max_bytes = sub::parseByteSize(max_size);
    sub::installShutdownHandlers();

    std::optional<rec::HttpApi> api;
    if (!http.empty()) {
      if (options.db_path.empty()) {
        std::cerr << "--http needs --db\n";
        return kExitUsage;
      }
      // The API opens the database lazily, after the recorder created it.
      rec::EventStore create(options.db_path, rec::EventStore::Open::kCreate, options.busy_timeout,
                             options.allow_symlink_db);
      const auto address = sub::parseHostPort(http);
      // Tokens from files (kept out of `ps` and shell history) or the environment.
      auto token = [](const std::string& file, const char* variable) {
        if (!file.empty()) return rec::readTokenFile(file);
        const char* value = std::getenv(variable);
        return std::string(value ? value : "");
      };
      http_limits.read_token = token(token_file, "VIGIL_RECORDER_TOKEN");
      http_limits.admin_token = token(admin_token_file, "VIGIL_RECORDER_ADMIN_TOKEN");
      const bool authenticated = !http_limits.read_token.empty() || !http_limits.admin_token.empty();
      api.emplace(options.db_path, http_limits);
      const int port = api->start(address.host, address.port);
      spdlog::info("HTTP API listening on http://{}:{}", address.host, port);
      if (authenticated) {
        spdlog::info("HTTP API requires a bearer token ({}{})", http_limits.read_token.empty() ? "" : "read",
                     http_limits.admin_token.empty() ? "" : (http_limits.read_token.empty() ? "admin" : " and admin"));
      } else if (!rec::isLoopbackHost(address.host)) {
        // No authentication yet: whoever reaches the port reads and deletes.
        spdlog::warn("the HTTP API is bound to {}, reachable from other hosts, without authentication: "
                     "anyone who can connect can read and DELETE events; bind 127.0.0.1 unless a "
                     "firewall or an authenticating proxy stands in front (or give --http-token-file)",
                     address.host);
      }
      if (!options.print) std::printf("http://%s:%d\n", address.host.c_str(), port);
      std::fflush(stdout);
    }
    spdlog::info("recording {} into {} (batch {} events or {} ms)", options.endpoints.front(),
                 options.db_path.empty() ? "(nothing: print only)" : options.db_path,
                 options.batch_size, options.flush_interval.count());
    return rec::runRecorder(options);
  } catch (const std::invalid_argument& error) {
    spdlog::error("{}", error.what());
    return kExitUsage;
  } catch (const std::exception& error) {
    spdlog::error("{}", error.what());
    return kExitFailure;
  }
}
