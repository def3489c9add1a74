#include "vigil/recorder/output.hpp"

#include "vigil/subscribers/event_fields.hpp"
#include "vigil/subscribers/parse.hpp"

#include <msgpack.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <stdexcept>

namespace vigil::recorder {

namespace {

using Table = std::vector<std::vector<std::string>>;  // first row: header

std::string csvField(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string renderTable(const Table& table, OutputFormat format) {
  std::string out;
  if (format == OutputFormat::kCsv) {
    for (const auto& row : table) {
      for (std::size_t i = 0; i < row.size(); ++i) out += (i ? "," : "") + csvField(row[i]);
      out += '\n';
    }
    return out;
  }
  std::vector<std::size_t> widths;
  for (const auto& row : table) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (std::size_t r = 0; r < table.size(); ++r) {
    const auto& row = table[r];
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i) line += "  ";
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size(), ' ');
    }
    out += line + '\n';
    if (r == 0) {
      std::size_t total = 0;
      for (auto width : widths) total += width + 2;
      out.append(total > 2 ? total - 2 : 0, '-');
      out += '\n';
    }
  }
  return out;
}

// Kind-specific summary for the table/csv "detail" column.
std::string eventDetail(const StoredEvent& row) {
  events::DecodeResult decoded = events::decode(row.topic, row.raw.data(), row.raw.size());
  if (!decoded.event) return "(unreadable)";
  const events::Event& event = *decoded.event;
  std::string detail;
  if (row.kind == events::kind::kStatus) {
    const auto status = subscribers::statusFields(event);
    detail = status.state;
    if (!status.detail.empty()) detail += " (" + status.detail + ")";
    return detail;
  }
  for (const auto& [zone, count] : subscribers::zoneCounts(event)) {
    detail += (detail.empty() ? "" : " ") + zone + "=" + std::to_string(count);
  }
  for (const auto& read : subscribers::codeReads(event)) {
    detail += (detail.empty() ? "" : " ") + read.format + ":" + read.text;
    if (!read.state.empty()) detail += "(" + read.state + ")";
  }
  return detail;
}

std::string jsonArray(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ",\n" : "\n") + items[i];
  return out + (items.empty() ? "]\n" : "\n]\n");
}

}  // namespace

OutputFormat parseOutputFormat(std::string_view name) {
  if (name == "json") return OutputFormat::kJson;
  if (name == "csv") return OutputFormat::kCsv;
  if (name == "table") return OutputFormat::kTable;
  throw std::invalid_argument("unknown format '" + std::string(name) + "' (json, csv, table)");
}

std::string renderEvents(const std::vector<StoredEvent>& rows, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    std::vector<std::string> items;
    items.reserve(rows.size());
    for (const auto& row : rows) items.push_back(row.json());
    return jsonArray(items);
  }
  Table table{{"id", "time", "source", "kind", "run", "seq", "frame", "count", "detail"}};
  for (const auto& row : rows) {
    table.push_back({std::to_string(row.id), subscribers::formatTime(row.ts), row.source, row.kind,
                     row.run, std::to_string(row.seq), std::to_string(row.frame),
                     row.count ? std::to_string(*row.count) : "", eventDetail(row)});
  }
  return renderTable(table, format);
}

std::string renderTotal(std::int64_t total, OutputFormat format) {
  if (format == OutputFormat::kJson) return nlohmann::json{{"total", total}}.dump() + "\n";
  return renderTable({{"total"}, {std::to_string(total)}}, format);
}

std::string renderHistogram(const std::vector<CountHistogramRow>& rows, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& row : rows) out.push_back({{"count", row.count}, {"events", row.events}});
    return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  Table table{{"count", "events"}};
  for (const auto& row : rows) table.push_back({std::to_string(row.count), std::to_string(row.events)});
  return renderTable(table, format);
}

std::string renderZoneAggregates(const std::vector<ZoneAggregate>& rows, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& row : rows) {
      out.push_back({{"source", row.source}, {"zone", row.zone},
                     {"bucket_start", row.bucket_start_ns},
                     {"bucket_start_time", subscribers::formatTime(row.bucket_start_ns)},
                     {"max", row.max}, {"mean", row.mean}, {"samples", row.samples}});
    }
    return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  Table table{{"source", "zone", "bucket_start", "max", "mean", "samples"}};
  for (const auto& row : rows) {
    char mean[32];
    std::snprintf(mean, sizeof mean, "%.2f", row.mean);
    table.push_back({row.source, row.zone, subscribers::formatTime(row.bucket_start_ns),
                     std::to_string(row.max), mean, std::to_string(row.samples)});
  }
  return renderTable(table, format);
}

std::string renderGaps(const std::vector<GapRecord>& rows, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& row : rows) {
      out.push_back({{"id", row.id}, {"topic", row.topic}, {"kind", row.kind}, {"run", row.run},
                     {"previous_run", row.previous_run}, {"after_seq", row.after_seq},
                     {"next_seq", row.next_seq}, {"missed", row.missed},
                     {"detected", row.detected_ns}});
    }
    return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  Table table{{"id", "topic", "kind", "run", "previous_run", "after_seq", "next_seq", "missed", "detected"}};
  for (const auto& row : rows) {
    table.push_back({std::to_string(row.id), row.topic, row.kind, row.run, row.previous_run,
                     std::to_string(row.after_seq), std::to_string(row.next_seq),
                     std::to_string(row.missed), subscribers::formatTime(row.detected_ns)});
  }
  return renderTable(table, format);
}

std::string renderTopics(const std::vector<TopicRecord>& rows, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& row : rows) {
      out.push_back({{"topic", row.topic}, {"run", row.run}, {"last_seq", row.last_seq},
                     {"received", row.received}, {"missed", row.missed}, {"gaps", row.gaps},
                     {"restarts", row.restarts}, {"duplicates", row.duplicates},
                     {"recovered", row.recovered}});
    }
    return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  Table table{{"topic", "run", "last_seq", "received", "missed", "gaps", "restarts", "duplicates",
               "recovered"}};
  for (const auto& row : rows) {
    table.push_back({row.topic, row.run, std::to_string(row.last_seq), std::to_string(row.received),
                     std::to_string(row.missed), std::to_string(row.gaps),
                     std::to_string(row.restarts), std::to_string(row.duplicates),
                     std::to_string(row.recovered)});
  }
  return renderTable(table, format);
}

}  // namespace vigil::recorder
