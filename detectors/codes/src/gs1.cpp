#include "vigil/codes/gs1.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <optional>

namespace vigil::codes {

namespace {

// How the value of an AI is checked and interpreted.
enum class Kind {
  Numeric,         // digits only
  NumericCheck,    // digits ending in a GS1 mod-10 check digit (GTIN, SSCC, GLN)
  Date,            // YYMMDD, DD = 00 meaning "end of month"
  Text,            // GS1 character set 82
  Measure,         // six digits, decimals = last digit of the AI (310n, 320n, ...)
  Amount,          // up to 15 digits, decimals = last digit of the AI (390n, 392n)
  AmountCurrency,  // ISO 4217 numeric currency, then an Amount (391n, 393n)
  Gdti,            // 13-digit document type with check digit, optional serial (253)
};

struct AiSpec {
  const char* ai;       // the AI, or its first three digits when it ends in a decimal digit
  bool decimal_suffix;  // AI has a fourth digit giving the decimal point position
  int max_decimals;     // largest accepted suffix digit
  const char* title;
  int min_length;
  int max_length;
  Kind kind;
};

constexpr int kGtinLength = 14;
constexpr int kSsccLength = 18;
constexpr int kGlnLength = 13;
constexpr int kDateLength = 6;
constexpr int kMeasureLength = 6;
constexpr int kMaxAmountDigits = 15;
constexpr int kCurrencyDigits = 3;
constexpr int kGdtiDocumentLength = 13;
constexpr int kGdtiMaxSerial = 17;
constexpr int kMaxWeightDecimals = 5;
constexpr int kMaxAmountDecimals = 9;
constexpr int kNoDecimals = 0;

// The AIs logistics labels carry most (GS1 General Specifications, section 3).
constexpr AiSpec kAiTable[] = {
    {"00", false, kNoDecimals, "SSCC", kSsccLength, kSsccLength, Kind::NumericCheck},
    {"01", false, kNoDecimals, "GTIN", kGtinLength, kGtinLength, Kind::NumericCheck},
    {"02", false, kNoDecimals, "CONTENT", kGtinLength, kGtinLength, Kind::NumericCheck},
    {"10", false, kNoDecimals, "BATCH/LOT", 1, 20, Kind::Text},
    {"11", false, kNoDecimals, "PROD DATE", kDateLength, kDateLength, Kind::Date},
    {"12", false, kNoDecimals, "DUE DATE", kDateLength, kDateLength, Kind::Date},
    {"13", false, kNoDecimals, "PACK DATE", kDateLength, kDateLength, Kind::Date},
    {"15", false, kNoDecimals, "BEST BEFORE", kDateLength, kDateLength, Kind::Date},
    {"16", false, kNoDecimals, "SELL BY", kDateLength, kDateLength, Kind::Date},
    {"17", false, kNoDecimals, "USE BY OR EXPIRY", kDateLength, kDateLength, Kind::Date},
    {"20", false, kNoDecimals, "VARIANT", 2, 2, Kind::Numeric},
    {"21", false, kNoDecimals, "SERIAL", 1, 20, Kind::Text},
    {"22", false, kNoDecimals, "CPV", 1, 20, Kind::Text},
    {"30", false, kNoDecimals, "VAR. COUNT", 1, 8, Kind::Numeric},
    {"37", false, kNoDecimals, "COUNT", 1, 8, Kind::Numeric},
    {"240", false, kNoDecimals, "ADDITIONAL ID", 1, 30, Kind::Text},
    {"241", false, kNoDecimals, "CUST. PART No.", 1, 30, Kind::Text},
    {"250", false, kNoDecimals, "SECONDARY SERIAL", 1, 30, Kind::Text},
    {"251", false, kNoDecimals, "REF. TO SOURCE", 1, 30, Kind::Text},
    {"253", false, kNoDecimals, "GDTI", kGdtiDocumentLength, kGdtiDocumentLength + kGdtiMaxSerial,
     Kind::Gdti},
    {"254", false, kNoDecimals, "GLN EXTENSION COMPONENT", 1, 20, Kind::Text},
    {"400", false, kNoDecimals, "ORDER NUMBER", 1, 30, Kind::Text},
    {"410", false, kNoDecimals, "SHIP TO LOC", kGlnLength, kGlnLength, Kind::NumericCheck},
    {"411", false, kNoDecimals, "BILL TO", kGlnLength, kGlnLength, Kind::NumericCheck},
    {"412", false, kNoDecimals, "PURCHASE FROM", kGlnLength, kGlnLength, Kind::NumericCheck},
    {"413", false, kNoDecimals, "SHIP FOR LOC", kGlnLength, kGlnLength, Kind::NumericCheck},
    {"414", false, kNoDecimals, "LOC No.", kGlnLength, kGlnLength, Kind::NumericCheck},
    {"420", false, kNoDecimals, "SHIP TO POST", 1, 20, Kind::Text},
    {"310", true, kMaxWeightDecimals, "NET WEIGHT (kg)", kMeasureLength, kMeasureLength,
     Kind::Measure},
    {"311", true, kMaxWeightDecimals, "LENGTH (m)", kMeasureLength, kMeasureLength, Kind::Measure},
    {"320", true, kMaxWeightDecimals, "NET WEIGHT (lb)", kMeasureLength, kMeasureLength,
     Kind::Measure},
    {"330", true, kMaxWeightDecimals, "GROSS WEIGHT (kg)", kMeasureLength, kMeasureLength,
     Kind::Measure},
    {"390", true, kMaxAmountDecimals, "AMOUNT", 1, kMaxAmountDigits, Kind::Amount},
    {"391", true, kMaxAmountDecimals, "AMOUNT", kCurrencyDigits + 1,
     kCurrencyDigits + kMaxAmountDigits, Kind::AmountCurrency},
    {"392", true, kMaxAmountDecimals, "PRICE", 1, kMaxAmountDigits, Kind::Amount},
    {"393", true, kMaxAmountDecimals, "PRICE", kCurrencyDigits + 1,
     kCurrencyDigits + kMaxAmountDigits, Kind::AmountCurrency},
    {"8004", false, kNoDecimals, "GIAI", 1, 30, Kind::Text},
    {"8020", false, kNoDecimals, "REF No.", 1, 25, Kind::Text},
    {"90", false, kNoDecimals, "INTERNAL", 1, 30, Kind::Text},
    {"91", false, kNoDecimals, "INTERNAL", 1, 90, Kind::Text},
    {"92", false, kNoDecimals, "INTERNAL", 1, 90, Kind::Text},
    {"93", false, kNoDecimals, "INTERNAL", 1, 90, Kind::Text},
    {"94", false, kNoDecimals, "INTERNAL", 1, 90, Kind::Text},
    {"95", false, kNoDecimals, "INTERNAL", 1, 90, Kind::Text},
    {"96", false, kNoDecimals, "INTERNAL", 1, 90, Kind::Text},
    {"97", false, kNoDecimals, "INTERNAL", 1, 90, Kind::Text},
    {"98", false, kNoDecimals, "INTERNAL", 1, 90, Kind::Text},
    {"99", false, kNoDecimals, "INTERNAL", 1, 90, Kind::Text},
};

// AIs whose first two digits are listed here have a predefined length and are
// never followed by FNC1 (GS1 General Specifications, figure 7.8.5-2).
constexpr const char* kPredefinedLengthPrefixes[] = {"00", "01", "02", "03", "04", "11", "12",
                                                     "13", "14", "15", "16", "17", "18", "19",
                                                     "20", "31", "32", "33", "34", "35", "36",
                                                     "41"};

constexpr const char* kGs1Identifiers[] = {"]C1", "]e0", "]d2", "]Q3", "]z1"};
constexpr std::size_t kSymbologyIdLength = 3;
constexpr int kYearsBack = 49;   // YY resolves to at most this many years ago...
constexpr int kYearsAhead = 50;  // ...and at most this many years ahead
constexpr int kCentury = 100;
constexpr std::size_t kErrorContext = 12;  // characters of bad data quoted in an error

struct MatchedAi {
  const AiSpec* spec = nullptr;
  std::string ai;
  int decimals = 0;
};

bool allDigits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// GS1 character set 82: the printable subset of ISO 646 allowed in text AIs.
bool isCset82(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  static constexpr std::string_view kPunctuation = "!\"%&'()*+,-./:;<=>?_";
  return kPunctuation.find(c) != std::string_view::npos;
}

int currentYear() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  constexpr int kTmYearBase = 1900;
  return local.tm_year + kTmYearBase;
}

bool leapYear(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int daysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  constexpr int kFebruary = 2;
  return month == kFebruary && leapYear(year) ? 29 : kDays[month - 1];
}

std::string quoted(std::string_view text) {
  std::string out = "'";
  for (char c : text.substr(0, kErrorContext)) {
    out += c == kGroupSeparator ? std::string("<GS>") : std::string(1, c);
  }
  if (text.size() > kErrorContext) out += "...";
  return out + "'";
}

std::optional<MatchedAi> matchAi(std::string_view data) {
  for (const AiSpec& spec : kAiTable) {
    const std::string_view prefix(spec.ai);
    if (data.substr(0, prefix.size()) != prefix) continue;
    MatchedAi match;
    match.spec = &spec;
    match.ai = std::string(prefix);
    if (spec.decimal_suffix) {
      if (data.size() <= prefix.size() || !std::isdigit(static_cast<unsigned char>(data[prefix.size()]))) {
        continue;
      }
      match.ai += data[prefix.size()];
      match.decimals = data[prefix.size()] - '0';
    }
    return match;
  }
  return std::nullopt;
}

bool predefinedLength(std::string_view ai) {
  for (const char* prefix : kPredefinedLengthPrefixes) {
    if (ai.substr(0, 2) == prefix) return true;
  }
  return false;
}

std::string withDecimals(std::string_view digits, int decimals) {
  std::string padded(digits);
  if (static_cast<int>(padded.size()) <= decimals) {
    padded.insert(0, static_cast<std::size_t>(decimals) + 1 - padded.size(), '0');
  }
  std::string whole = padded.substr(0, padded.size() - static_cast<std::size_t>(decimals));
  // Leading zeros carry no meaning in a quantity: "001234" kg/1000 -> "1.234".
  const std::size_t first = whole.find_first_not_of('0');
  whole = first == std::string::npos ? "0" : whole.substr(first);
  if (decimals == 0) return whole;
  return whole + "." + padded.substr(padded.size() - static_cast<std::size_t>(decimals));
}

// Checks `element.raw` against its AI and fills `element.value`; problems go
// to `errors` and mark the element invalid.
void interpret(const MatchedAi& match, Gs1Element& element, int reference_year,
               std::vector<std::string>& errors) {
  const AiSpec& spec = *match.spec;
  const std::string& raw = element.raw;
  element.value = raw;
  const std::string where = "AI (" + element.ai + ") " + spec.title + " " + quoted(raw) + ": ";
  auto fail = [&](const std::string& problem) {
    element.valid = false;
    errors.push_back(where + problem);
  };

  const int length = static_cast<int>(raw.size());
  if (length < spec.min_length || length > spec.max_length) {
    fail(spec.min_length == spec.max_length
             ? "length " + std::to_string(length) + ", expected " + std::to_string(spec.min_length)
             : "length " + std::to_string(length) + ", expected " +
                   std::to_string(spec.min_length) + ".." + std::to_string(spec.max_length));
    return;
  }
  if (spec.decimal_suffix && match.decimals > spec.max_decimals) {
    fail("decimal position " + std::to_string(match.decimals) + " exceeds " +
         std::to_string(spec.max_decimals));
    return;
  }

  switch (spec.kind) {
    case Kind::Numeric:
      if (!allDigits(raw)) fail("not numeric");
      break;
    case Kind::NumericCheck:
      if (!allDigits(raw)) {
        fail("not numeric");
      } else if (!gs1CheckDigitValid(raw)) {
        fail("check digit is wrong");
      }
      break;
    case Kind::Date: {
      if (!allDigits(raw)) {
        fail("not a YYMMDD date");
        break;
      }
      const int yy = std::stoi(raw.substr(0, 2));
      const int month = std::stoi(raw.substr(2, 2));
      const int day = std::stoi(raw.substr(4, 2));
      const int reference = reference_year > 0 ? reference_year : currentYear();
      int year = reference - reference % kCentury + yy;
      if (year - reference > kYearsAhead) year -= kCentury;
      if (reference - year > kYearsBack) year += kCentury;
      if (month < 1 || month > 12) {
        fail("month " + std::to_string(month) + " is not 01..12");
        break;
      }
      const int last_day = daysInMonth(year, month);
      if (day > last_day) {
        fail("day " + std::to_string(day) + " does not exist in that month");
        break;
      }
      char iso[sizeof "+2147483647-12-31"];
      std::snprintf(iso, sizeof iso, "%04d-%02d-%02d", year, month, day == 0 ? last_day : day);
      element.value = iso;
      break;
    }
    case Kind::Text:
      if (!std::all_of(raw.begin(), raw.end(), isCset82)) fail("character outside GS1 set 82");
      break;
    case Kind::Measure:
    case Kind::Amount:
      if (!allDigits(raw)) {
        fail("not numeric");
      } else {
        element.value = withDecimals(raw, match.decimals);
      }
      break;
    case Kind::AmountCurrency:
      if (!allDigits(raw)) {
        fail("not numeric");
      } else {
        element.value = raw.substr(0, kCurrencyDigits) + " " +
                        withDecimals(raw.substr(kCurrencyDigits), match.decimals);
      }
      break;
    case Kind::Gdti: {
      const std::string document = raw.substr(0, kGdtiDocumentLength);
      const std::string serial = raw.substr(kGdtiDocumentLength);
      if (!allDigits(document)) {
        fail("document type is not numeric");
      } else if (!gs1CheckDigitValid(document)) {
        fail("check digit is wrong");
      } else if (!std::all_of(serial.begin(), serial.end(), isCset82)) {
        fail("serial has a character outside GS1 set 82");
      }
      break;
    }
  }
}

Gs1Element newElement(const MatchedAi& match, std::string raw) {
  Gs1Element element;
  element.ai = match.ai;
  element.title = match.spec->title;
  element.raw = std::move(raw);
  return element;
}

void addUnparsed(Gs1Data& data, std::string_view rest, const std::string& problem) {
  Gs1Element element;
  element.ai = "?";
  element.title = "UNPARSED";
  element.raw = std::string(rest);
  element.value = element.raw;
  element.valid = false;
  data.elements.push_back(std::move(element));
  data.errors.push_back(problem + " at " + quoted(rest) + "; the rest is not parsed");
}

// Element string as transmitted: AIs run together, variable-length values end
// at a GS or at the end of the data.
void parseElementString(std::string_view text, int reference_year, Gs1Data& data) {
  std::size_t position = 0;
  while (position < text.size()) {
    if (text[position] == kGroupSeparator) {
      ++position;
      continue;
    }
    const std::string_view rest = text.substr(position);
    const auto match = matchAi(rest);
    if (!match) {
      addUnparsed(data, rest, "unknown application identifier");
      return;
    }
    position += match->ai.size();
    const AiSpec& spec = *match->spec;
    std::size_t end;
    if (spec.min_length == spec.max_length) {
      end = std::min(text.size(), position + static_cast<std::size_t>(spec.max_length));
      const std::size_t separator = text.find(kGroupSeparator, position);
      if (separator < end) end = separator;  // reported as a length error below
    } else {
      end = std::min(text.find(kGroupSeparator, position), text.size());
    }
    Gs1Element element = newElement(*match, std::string(text.substr(position, end - position)));
    interpret(*match, element, reference_year, data.errors);
    data.elements.push_back(std::move(element));
    position = end;
    if (spec.min_length == spec.max_length && !predefinedLength(match->ai) &&
        position < text.size() && text[position] != kGroupSeparator) {
      data.errors.push_back("AI (" + match->ai + ") is not followed by the required FNC1 separator");
    }
  }
}

// Finds "(NN)" .. "(NNNN)" starting at `from`; returns npos if none.
std::size_t nextBracketedAi(std::string_view text, std::size_t from) {
  constexpr std::size_t kMinAi = 2;
  constexpr std::size_t kMaxAi = 4;
  for (std::size_t open = text.find('(', from); open != std::string_view::npos;
       open = text.find('(', open + 1)) {
    const std::size_t close = text.find(')', open);
    if (close == std::string_view::npos) return std::string_view::npos;
    const std::size_t digits = close - open - 1;
    if (digits >= kMinAi && digits <= kMaxAi && allDigits(text.substr(open + 1, digits))) {
      return open;
    }
  }
  return std::string_view::npos;
}

void parseBracketForm(std::string_view text, int reference_year, Gs1Data& data) {
  std::size_t open = nextBracketedAi(text, 0);
  if (open != 0) {
    addUnparsed(data, text, "expected '(AI)' at the start");
    return;
  }
  while (open != std::string_view::npos) {
    const std::size_t close = text.find(')', open);
    const std::string ai(text.substr(open + 1, close - open - 1));
    const std::size_t next = nextBracketedAi(text, close + 1);
    const std::string_view value =
        text.substr(close + 1, (next == std::string_view::npos ? text.size() : next) - close - 1);
    const auto match = matchAi(ai);
    if (!match || match->ai != ai) {
      Gs1Element element;
      element.ai = ai;
      element.title = "UNKNOWN";
      element.raw = element.value = std::string(value);
      element.valid = false;
      data.elements.push_back(std::move(element));
      data.errors.push_back("unknown application identifier (" + ai + ")");
    } else {
      Gs1Element element = newElement(*match, std::string(value));
      interpret(*match, element, reference_year, data.errors);
      data.elements.push_back(std::move(element));
    }
    open = next;
  }
}

}  // namespace

bool gs1CheckDigitValid(std::string_view digits) {
  if (digits.size() < 2 || !allDigits(digits)) return false;
  // Weights 3,1,3,... from the digit next to the check digit leftwards.
  int sum = 0;
  int weight = 3;
  for (std::size_t i = digits.size() - 1; i-- > 0;) {
    sum += (digits[i] - '0') * weight;
    weight = weight == 3 ? 1 : 3;
  }
  const int expected = (10 - sum % 10) % 10;
  return digits.back() - '0' == expected;
}

bool isGs1SymbologyIdentifier(std::string_view text) {
  const std::string_view id = text.substr(0, kSymbologyIdLength);
  return std::any_of(std::begin(kGs1Identifiers), std::end(kGs1Identifiers),
                     [&](const char* gs1) { return id == gs1; });
}

Gs1Data parseGs1(std::string_view text, int reference_year) {
  Gs1Data data;
  if (!text.empty() && text[0] == ']') {
    if (text.size() < kSymbologyIdLength) {
      data.errors.push_back("truncated symbology identifier " + quoted(text));
      return data;
    }
    if (!isGs1SymbologyIdentifier(text)) {
      data.errors.push_back("symbology identifier " + std::string(text.substr(0, kSymbologyIdLength)) +
                            " does not announce GS1 data");
      return data;
    }
    text.remove_prefix(kSymbologyIdLength);
  }
  if (text.empty()) {
    data.errors.push_back("no GS1 data");
  } else if (text[0] == '(') {
    parseBracketForm(text, reference_year, data);
  } else {
    parseElementString(text, reference_year, data);
  }
  if (data.elements.empty() && data.errors.empty()) data.errors.push_back("no GS1 data");
  return data;
}

std::string Gs1Data::bracketForm() const {
  std::string out;
  for (const auto& element : elements) out += "(" + element.ai + ")" + element.raw;
  return out;
}

}  // namespace vigil::codes
