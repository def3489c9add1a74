// Parsers for the values users type on command lines and in rule files.
// Each throws std::invalid_argument with a message that quotes the input.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace vigil::subscribers {

// "250ms", "20s", "5m", "2h", "7d"; a bare number is seconds ("1.5" = 1500 ms).
std::chrono::milliseconds parseDuration(std::string_view text);

// A point in time as ns since the Unix epoch: an ISO-8601 UTC time
// ("2024-05-01T12:00:00Z", "2024-05-01 12:00:00", fractional seconds allowed),
// Unix seconds ("1714564800" or "1714564800.25"), or relative to `now_ns`
// ("-10m", "-2h": that long ago).
std::int64_t parseTimePoint(std::string_view text, std::int64_t now_ns);

// "1.5GB", "200MB", "64KiB", "1000" (bytes).
std::uint64_t parseByteSize(std::string_view text);

struct HostPort {
  std::string host;
  int port = 0;
};
// "127.0.0.1:8080" or "127.0.0.1:0" (port 0 = any free port).
HostPort parseHostPort(std::string_view text);

// ISO-8601 UTC text with milliseconds, e.g. "2024-05-01T12:00:00.123Z".
std::string formatTime(std::int64_t ns_since_epoch);

}  // namespace vigil::subscribers
