// GS1 element strings: the application identifiers (AIs) that carry GTINs,
// batches, dates, weights and amounts in GS1-128, GS1 DataMatrix, GS1 QR and
// DataBar symbols. Parses the three forms readers and people produce:
//   - with a symbology identifier: "]C1", "]Q3", "]d2", "]e0" then the data,
//   - raw element strings with FNC1 transmitted as GS (0x1D) separators,
//   - the human-readable bracket form "(01)09501101530003(17)201231".
// Nothing is silently dropped: every problem (unknown AI, bad check digit,
// impossible date, wrong length, bad characters) is listed in `errors`, and
// the elements that could be delimited are kept with their raw values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vigil::codes {

inline constexpr char kGroupSeparator = '\x1d';  // FNC1 as transmitted inside the data

struct Gs1Element {
  std::string ai;     // e.g. "01", "3103"
  std::string title;  // GS1 data title, e.g. "GTIN", "NET WEIGHT (kg)"
  std::string raw;    // the digits/characters as encoded
  // Interpreted value: decimals applied for 310n/390n ("1.234"), dates as
  // ISO YYYY-MM-DD (DD=00 -> last day of the month), otherwise the raw value.
  std::string value;
  bool valid = true;  // false when this element produced an error
};

struct Gs1Data {
  std::vector<Gs1Element> elements;
  std::vector<std::string> errors;
  bool valid() const { return errors.empty(); }
  // The bracket form of the elements as read: "(01)...(17)...".
  std::string bracketForm() const;
};

// True for the AIM symbology identifiers that announce GS1 data:
// ]C1 (GS1-128), ]e0 (DataBar), ]d2 (GS1 DataMatrix), ]Q3 (GS1 QR), ]z1 (GS1 Aztec).
bool isGs1SymbologyIdentifier(std::string_view text);

// Parses GS1 data in any of the three forms above. A non-GS1 symbology
// identifier (e.g. "]Q1") is reported as an error, not guessed at.
// `reference_year` (4 digits, 0 = this year) resolves YY to a century the
// way GS1 prescribes (at most 49 years back, 50 ahead).
Gs1Data parseGs1(std::string_view text, int reference_year = 0);

// GS1 mod-10 check digit over all digits of `digits` except the last; true
// when the last digit matches. Non-digits or fewer than 2 digits -> false.
bool gs1CheckDigitValid(std::string_view digits);

}  // namespace vigil::codes
