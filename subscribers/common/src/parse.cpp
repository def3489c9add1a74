#include "vigil/subscribers/parse.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace vigil::subscribers {

namespace {

constexpr std::int64_t kNsPerSecond = 1'000'000'000;
constexpr std::int64_t kNsPerMs = 1'000'000;
constexpr int kMaxPort = 65535;

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

// Splits "12.5ms" into 12.5 and "ms"; throws if there is no number.
std::pair<double, std::string> numberAndUnit(std::string_view text, const char* what) {
  const std::string owned(text);
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(owned, &used);
  } catch (const std::exception&) {
    throw std::invalid_argument(std::string("invalid ") + what + " " + quoted(text));
  }
  if (!std::isfinite(value) || value < 0) {
    throw std::invalid_argument(std::string("invalid ") + what + " " + quoted(text) +
                                " (must be a non-negative number)");
  }
  std::string unit = owned.substr(used);
  while (!unit.empty() && std::isspace(static_cast<unsigned char>(unit.front()))) unit.erase(0, 1);
  return {value, unit};
}

}  // namespace

std::chrono::milliseconds parseDuration(std::string_view text) {
  const auto [value, unit] = numberAndUnit(text, "duration");
  double ms_per_unit = 0;
  if (unit == "ms") {
    ms_per_unit = 1;
  } else if (unit.empty() || unit == "s") {
    ms_per_unit = 1000;
  } else if (unit == "m" || unit == "min") {
    ms_per_unit = 60'000;
  } else if (unit == "h") {
    ms_per_unit = 3'600'000;
  } else if (unit == "d") {
    ms_per_unit = 86'400'000;
  } else {
    throw std::invalid_argument("invalid duration " + quoted(text) +
                                " (units: ms, s, m, h, d)");
  }
  // 1e30h must be an error, not an overflowing conversion.
  constexpr double kMaxMs = 100.0 * 365 * 86'400'000;
  if (value * ms_per_unit > kMaxMs) {
    throw std::invalid_argument("invalid duration " + quoted(text) + " (at most 100 years)");
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(value * ms_per_unit)));
}

std::int64_t parseTimePoint(std::string_view text, std::int64_t now_ns) {
  if (text.empty()) throw std::invalid_argument("empty time");
  if (text.front() == '-') {
    const auto ago = parseDuration(text.substr(1));
    return now_ns - static_cast<std::int64_t>(ago.count()) * kNsPerMs;
  }
  const std::string owned(text);
  if (owned.find('-') == std::string::npos) {
    // Unix seconds, possibly fractional.
    std::size_t used = 0;
    double seconds = 0;
    try {
      seconds = std::stod(owned, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != owned.size() || !std::isfinite(seconds)) {
      throw std::invalid_argument("invalid time " + quoted(text) +
                                  " (ISO-8601 UTC, Unix seconds, or -DURATION)");
    }
    return static_cast<std::int64_t>(std::llround(seconds * kNsPerSecond));
  }
  std::tm parts{};
  int consumed = 0;
  char separator = 0;
  if (std::sscanf(owned.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d%n", &parts.tm_year, &parts.tm_mon,
                  &parts.tm_mday, &separator, &parts.tm_hour, &parts.tm_min, &parts.tm_sec,
                  &consumed) != 7 ||
      (separator != 'T' && separator != ' ')) {
    throw std::invalid_argument("invalid time " + quoted(text) +
                                " (expected e.g. 2024-05-01T12:00:00Z)");
  }
  parts.tm_year -= 1900;
  parts.tm_mon -= 1;
  std::int64_t fraction_ns = 0;
  std::string rest = owned.substr(static_cast<std::size_t>(consumed));
  if (!rest.empty() && rest.front() == '.') {
    std::size_t digits = 1;
    std::int64_t scale = kNsPerSecond / 10;
    while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits]))) {
      fraction_ns += (rest[digits] - '0') * scale;
      scale /= 10;
      ++digits;
    }
    rest.erase(0, digits);
  }
  if (!rest.empty() && rest != "Z" && rest != "+00:00") {
    throw std::invalid_argument("invalid time " + quoted(text) + " (only UTC is accepted)");
  }
  const std::time_t seconds = timegm(&parts);
  return static_cast<std::int64_t>(seconds) * kNsPerSecond + fraction_ns;
}

std::uint64_t parseByteSize(std::string_view text) {
  const auto [value, unit] = numberAndUnit(text, "size");
  double multiplier = 0;
  if (unit.empty() || unit == "B") {
    multiplier = 1;
  } else if (unit == "KB" || unit == "kB") {
    multiplier = 1e3;
  } else if (unit == "MB") {
    multiplier = 1e6;
  } else if (unit == "GB") {
    multiplier = 1e9;
  } else if (unit == "KiB") {
    multiplier = 1024.0;
  } else if (unit == "MiB") {
    multiplier = 1024.0 * 1024;
  } else if (unit == "GiB") {
    multiplier = 1024.0 * 1024 * 1024;
  } else {
    throw std::invalid_argument("invalid size " + quoted(text) +
                                " (units: B, KB, MB, GB, KiB, MiB, GiB)");
  }
  if (value * multiplier > 9e18) throw std::invalid_argument("invalid size " + quoted(text) + " (too large)");
  return static_cast<std::uint64_t>(std::llround(value * multiplier));
}

HostPort parseHostPort(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    throw std::invalid_argument("invalid address " + quoted(text) + " (expected HOST:PORT)");
  }
  HostPort result;
  result.host = std::string(text.substr(0, colon));
  const std::string port(text.substr(colon + 1));
  std::size_t used = 0;
  try {
    result.port = std::stoi(port, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (port.empty() || used != port.size() || result.port < 0 || result.port > kMaxPort) {
    throw std::invalid_argument("invalid port in " + quoted(text));
  }
  return result;
}

std::string formatTime(std::int64_t ns_since_epoch) {
  const std::time_t seconds = static_cast<std::time_t>(ns_since_epoch / kNsPerSecond);
  const auto millis = static_cast<int>((ns_since_epoch % kNsPerSecond) / kNsPerMs);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900,
                parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                millis);
  return text;
}

}  // namespace vigil::subscribers
