// Zones text parsing (the runner's format) and count smoothing.
#include "vigil/faces/count_smoother.hpp"
#include "vigil/faces/zones.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace {

using vigil::faces::CountSmoother;
using vigil::faces::parseZones;

TEST(Zones, ParsesTheRunnerFormat) {
  const auto zones = parseZones("queue-1=0.1,0.2 0.5,0.2 0.5,0.9 0.1,0.9;queue-2=0.6,0.2 0.9,0.2 0.9,0.9");
  ASSERT_EQ(zones.size(), 2u);
  EXPECT_EQ(zones[0].name, "queue-1");
  ASSERT_EQ(zones[0].polygon.size(), 4u);
  EXPECT_FLOAT_EQ(zones[0].polygon[2].x, 0.5f);
  EXPECT_FLOAT_EQ(zones[0].polygon[2].y, 0.9f);
  EXPECT_EQ(zones[1].name, "queue-2");
  EXPECT_EQ(zones[1].polygon.size(), 3u);
}

TEST(Zones, EmptyTextMeansNoZones) {
  EXPECT_TRUE(parseZones("").empty());
  EXPECT_TRUE(parseZones("   ").empty());
}

TEST(Zones, ToleratesSpacesAndTrailingSeparator) {
  const auto zones = parseZones("  a = 0,0  1,0   1,1 ; ");
  ASSERT_EQ(zones.size(), 1u);
  EXPECT_EQ(zones[0].name, "a");
  EXPECT_EQ(zones[0].polygon.size(), 3u);
}

TEST(Zones, RoundTripsThroughText) {
  const auto zones = parseZones("left=0,0 0.5,0 0.5,1 0,1;right=0.5,0 1,0 1,1 0.5,1");
  const auto again = parseZones(vigil::faces::formatZones(zones));
  ASSERT_EQ(again.size(), zones.size());
  for (std::size_t z = 0; z < zones.size(); ++z) {
    EXPECT_EQ(again[z].name, zones[z].name);
    EXPECT_EQ(again[z].polygon, zones[z].polygon);
  }
}

TEST(Zones, RejectsBadStringsWithAReason) {
  struct Case {
    const char* text;
    const char* reason;
  };
  const Case cases[] = {
      {"queue=0.1,0.2 0.5,0.2", "at least 3 points"},
      {"=0,0 1,0 1,1", "name is empty"},
      {"0,0 1,0 1,1", "expected name="},
      {"q=0,0 1,0 1,x", "not a number"},
      {"q=0,0 1,0 1,1.5", "outside [0,1]"},
      {"q=0,0 1,0 -0.1,1", "outside [0,1]"},
      {"q=0,0 1;0 1,1", "is not x,y"},
      {"q=0,0,0 1,0 1,1", "is not x,y"},
      {"q=0,0 1,0 1,1;q=0,0 1,0 1,1", "used twice"},
      {"a=0,0 1,0 1,1;;b=0,0 1,0 1,1", "empty entry"},
      {"q=nan,0 1,0 1,1", "not a number"},
      {"my zone=0,0 1,0 1,1", "spaces"},
  };
  for (const Case& c : cases) {
    try {
      parseZones(c.text);
      ADD_FAILURE() << "accepted bad zones: " << c.text;
    } catch (const std::invalid_argument& error) {
      EXPECT_NE(std::string(error.what()).find(c.reason), std::string::npos)
          << "zones \"" << c.text << "\" rejected with: " << error.what();
    }
  }
}

TEST(Zones, ContainsTestsTheBoxCentre) {
  const auto zones = parseZones("tri=0.1,0.1 0.9,0.1 0.1,0.9");
  EXPECT_TRUE(zones[0].contains({0.2f, 0.2f}));
  EXPECT_TRUE(zones[0].contains({0.1f, 0.5f})) << "edge counts as inside";
  EXPECT_FALSE(zones[0].contains({0.8f, 0.8f}));
  EXPECT_FALSE(zones[0].contains({0.05f, 0.5f}));
}

TEST(CountSmoother, OneMissedFrameDoesNotFlicker) {
  CountSmoother smoother(5);
  for (int i = 0; i < 5; ++i) smoother.push(3);
  EXPECT_EQ(smoother.push(2), 3) << "a single missed face must not change the count";
  EXPECT_EQ(smoother.push(3), 3);
  EXPECT_EQ(smoother.push(4), 3) << "a single spurious face must not change it either";
}

TEST(CountSmoother, FollowsALastingChange) {
  CountSmoother smoother(5);
  for (int i = 0; i < 5; ++i) smoother.push(1);
  smoother.push(2);
  smoother.push(2);
  EXPECT_EQ(smoother.push(2), 2) << "three of five frames agree: the count moves";
}

TEST(CountSmoother, WindowOneIsPassThrough) {
  CountSmoother smoother(1);
  EXPECT_EQ(smoother.push(4), 4);
  EXPECT_EQ(smoother.push(0), 0);
  CountSmoother zero(0);
  EXPECT_EQ(zero.window(), 1u);
}

}  // namespace
