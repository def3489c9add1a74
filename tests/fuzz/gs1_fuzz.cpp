// Fuzz target: the GS1 parser, which reads whatever a printed code carries.
#include "vigil/codes/gs1.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)vigil::codes::isGs1SymbologyIdentifier(text);
  (void)vigil::codes::parseGs1(text, 2026);
  (void)vigil::codes::gs1CheckDigitValid(text);
  return 0;
}
