// The golden events: one deterministic event per kind, built exactly the way
// the `eventpublish` element builds them (same keys, order and msgpack types),
// with fixed header values. Their bytes are committed under golden/ and shown
// in docs/EVENTS.md; any change to the encoder that alters them fails a test.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vigil::events::testing {

struct GoldenEvent {
  std::string name;   // file stem under golden/: <name>.topic, <name>.hex, <name>.json
  std::string topic;  // first frame
  std::string body;   // second frame: the msgpack map
};

// status, heartbeat, faces, plates, codes — in that order.
std::vector<GoldenEvent> goldenEvents();

// Lower-case hex, 32 bytes per line, trailing newline: diff-friendly.
std::string toHexLines(std::string_view bytes);
// Hex digits in any case; whitespace ignored. Throws std::invalid_argument on
// anything else or an odd digit count.
std::string fromHex(std::string_view text);

// Directory of the committed vectors (tests/events/golden in the source tree).
std::string goldenDir();

std::string readFile(const std::string& path);
void writeFile(const std::string& path, std::string_view contents);

}  // namespace vigil::events::testing
