// GS1 element strings: the three input forms, the AI table (fixed and
// variable lengths, decimals), check digits and dates, and that every
// problem is reported rather than dropped.
#include "vigil/codes/gs1.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace {

using vigil::codes::Gs1Data;
using vigil::codes::gs1CheckDigitValid;
using vigil::codes::parseGs1;

constexpr int kReferenceYear = 2024;  // resolves YY deterministically
const std::string kGs = "\x1d";

std::map<std::string, std::string> values(const Gs1Data& data) {
  std::map<std::string, std::string> out;
  for (const auto& element : data.elements) out[element.ai] = element.value;
  return out;
}

std::string errorsOf(const Gs1Data& data) {
  std::string out;
  for (const auto& error : data.errors) out += error + "\n";
  return out;
}

TEST(Gs1CheckDigit, KnownGtinsSsccAndGdti) {
  EXPECT_TRUE(gs1CheckDigitValid("09501101530003"));
  EXPECT_TRUE(gs1CheckDigitValid("5901234123457"));
  EXPECT_TRUE(gs1CheckDigitValid("106141411234567897"));  // SSCC
  EXPECT_TRUE(gs1CheckDigitValid("3610321456881"));       // GDTI document type
  EXPECT_FALSE(gs1CheckDigitValid("09501101530004"));
  EXPECT_FALSE(gs1CheckDigitValid("12a4"));
  EXPECT_FALSE(gs1CheckDigitValid("7"));
}

TEST(Gs1Parse, BracketFormOfTheOriginalService) {
  const Gs1Data data = parseGs1("(253)3610321456881ABC123(17)010120(3902)001000", kReferenceYear);
  EXPECT_TRUE(data.valid()) << errorsOf(data);
  const auto v = values(data);
  EXPECT_EQ(v.at("253"), "3610321456881ABC123");
  EXPECT_EQ(v.at("17"), "2001-01-20");
  EXPECT_EQ(v.at("3902"), "10.00");
  ASSERT_EQ(data.elements.size(), 3u);
  EXPECT_EQ(data.elements[0].title, "GDTI");
  EXPECT_EQ(data.bracketForm(), "(253)3610321456881ABC123(17)010120(3902)001000");
}

TEST(Gs1Parse, SymbologyIdentifiersAndGroupSeparators) {
  // Fixed-length AIs (01), (17) need no separator; variable (10) ends at GS.
  const std::string body = "0109501101530003" "17201231" "10ABC-1" + kGs + "3103001234";
  for (const std::string id : {"]C1", "]Q3", "]d2", "]e0"}) {
    const Gs1Data data = parseGs1(id + body, kReferenceYear);
    EXPECT_TRUE(data.valid()) << id << ": " << errorsOf(data);
    const auto v = values(data);
    EXPECT_EQ(v.at("01"), "09501101530003") << id;
    EXPECT_EQ(v.at("17"), "2020-12-31") << id;
    EXPECT_EQ(v.at("10"), "ABC-1") << id;
    EXPECT_EQ(v.at("3103"), "1.234") << id << ": net weight in kg, 3 decimals";
  }
  // FNC1 transmitted as a leading GS, and no symbology identifier at all.
  EXPECT_TRUE(parseGs1(kGs + body, kReferenceYear).valid());
  EXPECT_TRUE(parseGs1(body, kReferenceYear).valid());
}

TEST(Gs1Parse, SsccSerialAndDayZeroMeansMonthEnd) {
  const Gs1Data data = parseGs1("]C100106141411234567897" "11240200" "21SN42", kReferenceYear);
  EXPECT_TRUE(data.valid()) << errorsOf(data);
  const auto v = values(data);
  EXPECT_EQ(v.at("00"), "106141411234567897");
  EXPECT_EQ(v.at("11"), "2024-02-29") << "DD=00 is the last day of the month (2024 is a leap year)";
  EXPECT_EQ(v.at("21"), "SN42");
}

TEST(Gs1Parse, WrongCheckDigitIsReportedAndKept) {
  const Gs1Data data = parseGs1("(01)09501101530004(17)201231", kReferenceYear);
  EXPECT_FALSE(data.valid());
  ASSERT_EQ(data.errors.size(), 1u) << errorsOf(data);
  EXPECT_NE(data.errors[0].find("check digit"), std::string::npos) << data.errors[0];
  ASSERT_EQ(data.elements.size(), 2u) << "the element stays, marked invalid";
  EXPECT_FALSE(data.elements[0].valid);
  EXPECT_EQ(data.elements[0].raw, "09501101530004");
  EXPECT_TRUE(data.elements[1].valid);
}

TEST(Gs1Parse, ImpossibleDatesAreReported) {
  for (const std::string date : {"201301", "200231", "210229", "20AB01"}) {
    const Gs1Data data = parseGs1("(17)" + date, kReferenceYear);
    EXPECT_FALSE(data.valid()) << date;
    EXPECT_EQ(values(data).at("17"), date) << "raw value kept for " << date;
  }
  EXPECT_TRUE(parseGs1("(17)240229", kReferenceYear).valid()) << "29 Feb in a leap year";
}

TEST(Gs1Parse, GdtiCheckDigitAndLengths) {
  EXPECT_FALSE(parseGs1("(253)3610321456882", kReferenceYear).valid()) << "bad GDTI check digit";
  EXPECT_FALSE(parseGs1("(253)361032145", kReferenceYear).valid()) << "too short";
  EXPECT_FALSE(parseGs1("(10)" + std::string(21, 'A'), kReferenceYear).valid()) << "batch > 20";
  EXPECT_FALSE(parseGs1("(01)0950110153000", kReferenceYear).valid()) << "GTIN of 13 digits";
  EXPECT_FALSE(parseGs1("(3106)001000", kReferenceYear).valid()) << "weight with 6 decimals";
}

TEST(Gs1Parse, UnknownAiStopsParsingButKeepsTheRest) {
  const Gs1Data data = parseGs1("]C10109501101530003" "990X" + kGs + "77ABC", kReferenceYear);
  EXPECT_FALSE(data.valid());
  ASSERT_FALSE(data.elements.empty());
  EXPECT_EQ(data.elements.back().ai, "?");
  EXPECT_EQ(data.elements.back().raw, "77ABC");
  EXPECT_EQ(values(data).at("99"), "0X");
}

TEST(Gs1Parse, NonGs1InputIsAnError) {
  EXPECT_FALSE(parseGs1("]Q1hello", kReferenceYear).valid());
  EXPECT_FALSE(parseGs1("", kReferenceYear).valid());
  EXPECT_FALSE(parseGs1("]C", kReferenceYear).valid());
  EXPECT_FALSE(parseGs1("(01", kReferenceYear).valid());
  EXPECT_FALSE(parseGs1("(01)09501101530003(xx", kReferenceYear).valid());
}

TEST(Gs1Parse, TruncatedFixedFieldIsReported) {
  const Gs1Data data = parseGs1("]C10109501101" + kGs + "10AB", kReferenceYear);
  EXPECT_FALSE(data.valid());
  EXPECT_EQ(values(data).at("10"), "AB") << "parsing continues after the separator";
}

}  // namespace
