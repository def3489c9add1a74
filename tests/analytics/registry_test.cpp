// The analytics table: each analytic found by each of its names, the built-in
// names spelled as configs, topics and metas spell them, and added analytics
// refused when they would make a name ambiguous.
#include "vigil/analytics/registry.hpp"

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <string>

namespace {

namespace analytics = vigil::analytics;

TEST(AnalyticsRegistry, BuiltInNamesAreTheOnesOnTheWire) {
  // Configs, topics and ROI metas in the field use these: changing one is a
  // breaking change, so they are spelled out here rather than read back.
  EXPECT_STREQ(analytics::kFaces.name, "faces");
  EXPECT_STREQ(analytics::kFaces.element, "facecount");
  EXPECT_STREQ(analytics::kFaces.event_kind, "faces");
  EXPECT_STREQ(analytics::kFaces.roi_type, "face");
  EXPECT_EQ(analytics::kFaces.pixels, analytics::Pixels::kRead);
  EXPECT_STREQ(analytics::kPlates.element, "plateblur");
  EXPECT_STREQ(analytics::kPlates.roi_type, "license-plate");
  EXPECT_EQ(analytics::kPlates.pixels, analytics::Pixels::kRedact);
  EXPECT_STREQ(analytics::kCodes.element, "codereader");
  EXPECT_STREQ(analytics::kCodes.event_kind, "codes");
  EXPECT_STREQ(analytics::kCodes.roi_type, "barcode");
  EXPECT_EQ(analytics::kCodes.pixels, analytics::Pixels::kRead);
}

TEST(AnalyticsRegistry, EveryAnalyticIsFoundByEachOfItsNames) {
  const auto rows = analytics::all();
  ASSERT_GE(rows.size(), 3u);
  std::set<std::string> names;
  for (const analytics::Analytic& row : rows) {
    names.insert(row.name);
    const analytics::Analytic* by_name = analytics::byName(row.name);
    ASSERT_NE(by_name, nullptr) << row.name;
    EXPECT_EQ(analytics::byElement(row.element), by_name) << row.element;
    EXPECT_EQ(analytics::byEventKind(row.event_kind), by_name) << row.event_kind;
    EXPECT_EQ(analytics::byRoiType(row.roi_type), by_name) << row.roi_type;
  }
  EXPECT_EQ(names.size(), rows.size()) << "two analytics share a name";
}

TEST(AnalyticsRegistry, UnknownNamesAreNotFound) {
  EXPECT_EQ(analytics::byName("cars"), nullptr);
  EXPECT_EQ(analytics::byName("facecount"), nullptr) << "an element name is not a config name";
  EXPECT_EQ(analytics::byElement("faces"), nullptr);
  EXPECT_EQ(analytics::byEventKind("status"), nullptr) << "status is an event kind of no analytic";
  EXPECT_EQ(analytics::byRoiType(""), nullptr);
}

TEST(AnalyticsRegistry, ListsNamesForErrorMessages) {
  // Built-ins first; rows other tests of this process added follow them.
  const std::string names = analytics::namesText();
  EXPECT_EQ(names.rfind("faces, plates", 0), 0u) << names;
  ASSERT_NE(names.rfind(" or "), std::string::npos) << names;
  EXPECT_EQ(names.substr(names.rfind(" or ") + 4), analytics::all().back().name) << names;
  EXPECT_EQ(analytics::eventKindsText().rfind("faces, plates", 0), 0u) << analytics::eventKindsText();
}

TEST(AnalyticsRegistry, AddedAnalyticIsFoundAndAddingItAgainIsHarmless) {
  constexpr analytics::Analytic kToy{"toy-count", "toycount", "toys", "toy", analytics::Pixels::kRead};
  analytics::add(kToy);
  analytics::add(kToy);
  const analytics::Analytic* toy = analytics::byName("toy-count");
  ASSERT_NE(toy, nullptr);
  EXPECT_STREQ(toy->element, "toycount");
  EXPECT_EQ(analytics::byRoiType("toy"), toy);
  EXPECT_EQ(analytics::byEventKind("toys"), toy);
  const auto rows = analytics::all();
  EXPECT_STREQ(rows.back().name, "toy-count");
  EXPECT_NE(analytics::namesText().find(" or toy-count"), std::string::npos) << analytics::namesText();
}

TEST(AnalyticsRegistry, AddingRefusesATakenName) {
  const auto before = analytics::all().size();
  // Each clashes with one name of a built-in analytic and nothing else.
  const analytics::Analytic clashes[] = {
      {"faces", "otherelement1", "otherkind1", "otherroi1", analytics::Pixels::kRead},
      {"othername2", "plateblur", "otherkind2", "otherroi2", analytics::Pixels::kRead},
      {"othername3", "otherelement3", "codes", "otherroi3", analytics::Pixels::kRead},
      {"othername4", "otherelement4", "otherkind4", "face", analytics::Pixels::kRead},
      // Same names as faces, but redacting: not the same row.
      {"faces", "facecount", "faces", "face", analytics::Pixels::kRedact},
  };
  for (const analytics::Analytic& clash : clashes) {
    EXPECT_THROW(analytics::add(clash), std::invalid_argument) << clash.name << " " << clash.element;
  }
  EXPECT_EQ(analytics::all().size(), before) << "a refused analytic must not be added";
}

TEST(AnalyticsRegistry, AddingRefusesAKindThatCannotBeATopic) {
  EXPECT_THROW(analytics::add({"slashed", "slashedelement", "a/b", "slashed", analytics::Pixels::kRead}),
               std::invalid_argument);
  EXPECT_THROW(analytics::add({nullptr, "nameless", "nameless", "nameless", analytics::Pixels::kRead}),
               std::invalid_argument);
  EXPECT_EQ(analytics::byName("slashed"), nullptr);
}

}  // namespace
