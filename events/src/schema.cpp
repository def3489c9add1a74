#include "vigil/events/schema.hpp"

#include "utf8.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

namespace vigil::events {

namespace detail {

std::size_t utf8SequenceLength(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;   // overlong
    if (lead == 0xed) high = 0x9f;  // surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;   // overlong
    if (lead == 0xf4) high = 0x8f;  // beyond U+10FFFF
  } else {
    return 0;
  }
  if (text.size() < length || byte(1) < low || byte(1) > high) return 0;
  for (std::size_t k = 2; k < length; ++k) {
    if (byte(k) < 0x80 || byte(k) > 0xbf) return 0;
  }
  return length;
}

}  // namespace detail

std::string topicFor(std::string_view kind, std::string_view source) {
  std::string topic;
  topic.reserve(kTopicRoot.size() + kind.size() + source.size() + 2);
  topic.append(kTopicRoot).append("/").append(kind).append("/").append(source);
  return topic;
}

namespace {

// C0 controls, DEL, and C1 controls (U+0080-U+009F, encoded c2 80 - c2 9f).
bool isControl(std::string_view sequence) {
  const auto lead = static_cast<unsigned char>(sequence[0]);
  if (sequence.size() == 1) return lead < 0x20 || lead == 0x7f;
  return sequence.size() == 2 && lead == 0xc2 && static_cast<unsigned char>(sequence[1]) < 0xa0;
}

}  // namespace

bool isValidSourceId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength || id == "." || id == "..") return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

bool isValidUtf8(std::string_view text) {
  while (!text.empty()) {
    const std::size_t length = detail::utf8SequenceLength(text);
    if (length == 0) return false;
    text.remove_prefix(length);
  }
  return true;
}

bool isValidZoneName(std::string_view name) {
  if (name.empty() || name.size() > kMaxIdLength) return false;
  while (!name.empty()) {
    const std::size_t length = detail::utf8SequenceLength(name);
    if (length == 0 || isControl(name.substr(0, length))) return false;
    name.remove_prefix(length);
  }
  return true;
}

std::string logSafe(std::string_view text, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 16);
  std::size_t i = 0;
  while (i < text.size() && out.size() < max_bytes) {
    const std::size_t length = detail::utf8SequenceLength(text.substr(i));
    if (length == 0 || isControl(text.substr(i, length))) {
      // One escape per byte, so that a C1 control shows both of its bytes.
      const std::size_t bytes = length == 0 ? 1 : length;
      for (std::size_t k = 0; k < bytes; ++k) {
        char escaped[5];
        std::snprintf(escaped, sizeof escaped, "\\x%02x", static_cast<unsigned char>(text[i + k]));
        out += escaped;
      }
      i += bytes;
    } else {
      out.append(text, i, length);
      i += length;
    }
  }
  if (i < text.size()) out += "...(" + std::to_string(text.size() - i) + " more bytes)";
  return out;
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
