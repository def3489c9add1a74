// Vigil event schema v1: the contract between the pipeline and every subscriber.
// docs/EVENTS.md is the human-readable version of this file; keep them in step.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigil::events {

// Bumped only for changes an old subscriber would misread. Adding keys is not one.
inline constexpr std::int64_t kSchemaVersion = 1;

inline constexpr std::string_view kTopicRoot = "vigil";

// Event kinds published today. Kinds are open-ended strings on the wire.
namespace kind {
inline constexpr std::string_view kStatus = "status";
inline constexpr std::string_view kFaces = "faces";
inline constexpr std::string_view kPlates = "plates";
inline constexpr std::string_view kCodes = "codes";
}  // namespace kind

// Source lifecycle carried by `status` events in the `state` key.
namespace state {
inline constexpr std::string_view kStarting = "starting";
inline constexpr std::string_view kPlaying = "playing";
inline constexpr std::string_view kReconnecting = "reconnecting";
inline constexpr std::string_view kEos = "eos";
inline constexpr std::string_view kError = "error";
inline constexpr std::string_view kStopped = "stopped";
}  // namespace state

// Keys present in every event.
namespace key {
inline constexpr std::string_view kVersion = "v";
inline constexpr std::string_view kKind = "kind";
inline constexpr std::string_view kSource = "source";
inline constexpr std::string_view kRun = "run";
inline constexpr std::string_view kSeq = "seq";
inline constexpr std::string_view kTs = "ts";
inline constexpr std::string_view kPts = "pts";
inline constexpr std::string_view kFrame = "frame";
inline constexpr std::string_view kWidth = "width";
inline constexpr std::string_view kHeight = "height";
}  // namespace key

// The fields every event carries. `run` and `seq` are assigned by the publisher.
struct Header {
  std::string kind;
  std::string source;
  std::string run;
  std::uint64_t seq = 0;
  std::int64_t ts_ns = 0;                // capture wall-clock time, ns since the Unix epoch
  std::optional<std::int64_t> pts_ns;    // buffer PTS in ns, nil when unknown
  std::uint64_t frame = 0;               // frames since the source started
  std::int64_t width = 0;                // the frame that boxes refer to
  std::int64_t height = 0;
};

// Number of key/value pairs the header contributes to the event map.
inline constexpr std::size_t kHeaderPairs = 10;

// `vigil/<kind>/<source-id>`: the first message frame, so SUB prefix filters work.
std::string topicFor(std::string_view kind, std::string_view source);

// Longest source id, kind or run id accepted (bytes).
inline constexpr std::size_t kMaxIdLength = 64;

// A source id is what appears in topics: 1-64 letters, digits, '-', '_', '.'
// ("." and ".." are refused: ids end up in file names and URLs). Kinds and run
// ids follow the same rule on the wire.
bool isValidSourceId(std::string_view id);

// A zone name: 1-64 bytes of valid UTF-8 without control characters (so that
// it can be neither a forged log line nor an invalid JSON string).
bool isValidZoneName(std::string_view name);

// Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, <= U+10FFFF).
bool isValidUtf8(std::string_view text);

// Untrusted text made safe for one log line: control characters (newlines,
// ANSI escapes, C1 controls) and invalid UTF-8 bytes become \xNN escapes, and
// anything beyond `max_bytes` is cut with a note of how much was left out.
std::string logSafe(std::string_view text, std::size_t max_bytes = 200);

// A fresh random id for one publisher start (16 hex digits).
std::string newRunId();

// Wall-clock now, ns since the Unix epoch.
std::int64_t wallClockNowNs();

}  // namespace vigil::events
