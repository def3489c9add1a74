// Internal to vigil::events: the one UTF-8 reader behind the id checks,
// logSafe() (schema.cpp) and the JSON writer (codec.cpp).
#pragma once

#include <cstddef>
#include <string_view>

namespace vigil::events::detail {

// Length of the well-formed UTF-8 sequence at the start of `text` (RFC 3629:
// no overlong forms, no surrogates, nothing beyond U+10FFFF), 0 if there is
// none. `text` must not be empty.
std::size_t utf8SequenceLength(std::string_view text);

}  // namespace vigil::events::detail
