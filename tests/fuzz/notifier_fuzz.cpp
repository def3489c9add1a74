// Fuzz target: the notifier's two inputs. Even first byte: its rules file
// (a bad one must end in a ConfigError). Odd: a stream of bus messages fed
// through the decoder into an engine with count, code (RE2) and source-down
// rules, as anyone on the bus could send them.
#include "vigil/events/codec.hpp"
#include "vigil/notifier/config.hpp"
#include "vigil/notifier/engine.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

namespace nt = vigil::notifier;

constexpr const char* kRules =
    "sinks:\n  log: {type: log}\n"
    "rules:\n"
    "  - {name: queue, type: count, kind: faces, source: '*', zone: q1, alert_at: 3, clear_at: 1, hold: 1s}\n"
    "  - {name: total, type: count, source: '*', alert_at: 1, cooldown: 5s}\n"
    "  - {name: recall, type: code, pattern: '^(RECALL|LOT)-[0-9]+$', clear_hold: 1s}\n"
    "  - {name: any, type: code, pattern: '(a+)+b', format: QRCode}\n"
    "  - {name: down, type: source-down, source: '*', hold: 2s}\n";

const nt::NotifierConfig& engineConfig() {
  static const nt::NotifierConfig config = nt::parseConfig(kRules, "fuzz-rules.yaml");
  return config;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] % 2 == 0) {
    try {
      (void)nt::parseConfig(std::string(rest), "fuzz.yaml");
    } catch (const nt::ConfigError&) {
      // The expected answer to a bad file.
    }
    return 0;
  }
  std::size_t emitted = 0;
  nt::Engine engine(engineConfig().rules, [&](nt::Notification) { ++emitted; }, 0);
  static const char* const kTopics[] = {"vigil/faces/cam1", "vigil/codes/cam1", "vigil/status/cam1",
                                        "vigil/faces/cam2"};
  // Messages are separated by the byte 0xC1, which msgpack never uses.
  std::int64_t now = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= rest.size(); ++i) {
    if (i < rest.size() && static_cast<std::uint8_t>(rest[i]) != 0xC1) continue;
    const std::string_view message = rest.substr(start, i - start);
    start = i + 1;
    if (message.empty()) continue;
    const char* topic = kTopics[static_cast<std::uint8_t>(message[0]) % 4];
    const auto decoded = vigil::events::decode(topic, message.data() + 1, message.size() - 1);
    if (decoded.event) engine.onEvent(*decoded.event, static_cast<std::uint8_t>(message[0]) >= 0x80);
    now += 700'000'000;
    engine.tick(now);
  }
  engine.shutdown(now + 1);
  return 0;
}
