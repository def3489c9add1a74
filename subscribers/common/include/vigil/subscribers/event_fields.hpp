// Typed views of the kind-specific event keys (schema v1), tolerant of absent
// or mistyped keys: a field that is not what the schema says reads as absent.
#pragma once

#include "vigil/events/codec.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace vigil::subscribers {

// `count` of faces/plates/codes events.
std::optional<std::int64_t> eventCount(const events::Event& event);

// `zones`: name -> count, in wire order.
std::vector<std::pair<std::string, std::int64_t>> zoneCounts(const events::Event& event);
std::optional<std::int64_t> zoneCount(const events::Event& event, std::string_view zone);

// One entry of `objects` in a codes event.
struct CodeRead {
  std::string format;
  std::string text;
  std::optional<std::int64_t> track_id;
  std::optional<std::int64_t> first_seen;
  std::string state;  // "appeared", "left" or empty
};
std::vector<CodeRead> codeReads(const events::Event& event);

// Keys of a `status` event.
struct StatusFields {
  std::string state;
  std::string detail;
  std::optional<double> input_fps;
  std::optional<double> analysed_fps;
  std::optional<std::int64_t> dropped_frames;
};
StatusFields statusFields(const events::Event& event);

}  // namespace vigil::subscribers
