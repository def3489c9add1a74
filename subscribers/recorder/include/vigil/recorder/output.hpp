// Rendering of query results for the CLI (json, csv, table) and the HTTP API (json).
#pragma once

#include "vigil/recorder/store.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace vigil::recorder {

enum class OutputFormat { kJson, kCsv, kTable };
// "json", "csv", "table"; throws std::invalid_argument otherwise.
OutputFormat parseOutputFormat(std::string_view name);

std::string renderEvents(const std::vector<StoredEvent>& rows, OutputFormat format);
std::string renderTotal(std::int64_t total, OutputFormat format);
std::string renderHistogram(const std::vector<CountHistogramRow>& rows, OutputFormat format);
std::string renderZoneAggregates(const std::vector<ZoneAggregate>& rows, OutputFormat format);
std::string renderGaps(const std::vector<GapRecord>& rows, OutputFormat format);
std::string renderTopics(const std::vector<TopicRecord>& rows, OutputFormat format);

}  // namespace vigil::recorder
