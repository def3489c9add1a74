// Fuzz target: the event decoder, with whatever anyone on the bus can send.
// The first byte picks a topic shape (valid, hostile, empty); the rest is the
// message. Every decoded event is re-read through the accessors that
// subscribers use, so a crash in either is found.
#include "vigil/events/codec.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const char* const kTopics[] = {"vigil/faces/cam1", "vigil/codes/cam-2", "vigil/status/x", "", "vigil//",
                                        "vigil/faces/\xff\x1b[2J"};
  const std::string topic = kTopics[data[0] % (sizeof kTopics / sizeof kTopics[0])];
  const vigil::events::DecodeResult result = vigil::events::decode(topic, data + 1, size - 1);
  if (result.event) {
    (void)vigil::events::toJson(result.event->map());
    (void)result.event->getString("text");
    (void)result.event->getInt("count");
  }
  return 0;
}
