#include "vigil/events/schema.hpp"

#include <chrono>
#include <cstdio>
#include <random>

namespace vigil::events {

std::string topicFor(std::string_view kind, std::string_view source) {
  std::string topic;
  topic.reserve(kTopicRoot.size() + kind.size() + source.size() + 2);
  topic.append(kTopicRoot).append("/").append(kind).append("/").append(source);
  return topic;
}

bool isValidSourceId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::string newRunId() {
  std::random_device entropy;
  std::uint64_t value = (std::uint64_t{entropy()} << 32) ^ entropy();
  value ^= static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

std::int64_t wallClockNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace vigil::events
