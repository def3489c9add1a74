// Fuzz target: the runner's configuration loader. A bad file must end in a
// ConfigError naming the key and line, never in a crash or another exception.
#include "config.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    (void)vigil::pipeline::parseConfig(text, "fuzz.yaml");
  } catch (const vigil::pipeline::ConfigError&) {
    // The expected answer to a bad file.
  }
  return 0;
}
