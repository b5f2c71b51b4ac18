#include "connectors/csv.h"

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace guanxi::connectors {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(SplitCsvLineTest, PlainQuotedAndEmptyFields) {
  EXPECT_THAT(*SplitCsvLine("a,b,c"), ElementsAre("a", "b", "c"));
  EXPECT_THAT(*SplitCsvLine("\"x, y\",2"), ElementsAre("x, y", "2"));
  EXPECT_THAT(*SplitCsvLine("\"say \"\"hi\"\"\",z"), ElementsAre("say \"hi\"", "z"));
  EXPECT_THAT(*SplitCsvLine(",,"), ElementsAre("", "", ""));
  EXPECT_THAT(*SplitCsvLine("a,"), ElementsAre("a", ""));
  EXPECT_THAT(*SplitCsvLine(""), ElementsAre(""));
}

TEST(SplitCsvLineTest, BadQuotingIsAnError) {
  EXPECT_FALSE(SplitCsvLine("\"open,b").ok());
  EXPECT_FALSE(SplitCsvLine("\"closed\"x,b").ok());
}

TEST(ParseFixedPointTest, ExactDecimals) {
  EXPECT_EQ(*ParseFixedPoint("2.55", 3), 2550);
  EXPECT_EQ(*ParseFixedPoint("0.001", 3), 1);
  EXPECT_EQ(*ParseFixedPoint("-11062.06", 2), -1106206);
  EXPECT_EQ(*ParseFixedPoint("12", 0), 12);
  EXPECT_EQ(*ParseFixedPoint(".5", 1), 5);
}

TEST(ParseFixedPointTest, RejectsWhatIsNotADecimal) {
  EXPECT_FALSE(ParseFixedPoint("", 2).ok());
  EXPECT_FALSE(ParseFixedPoint("1.234", 2).ok());
  EXPECT_FALSE(ParseFixedPoint("1e5", 2).ok());
  EXPECT_FALSE(ParseFixedPoint("12a", 0).ok());
  EXPECT_FALSE(ParseFixedPoint("-", 0).ok());
  EXPECT_FALSE(ParseFixedPoint("99999999999999999999", 0).ok());
}

// Exact up to the largest int64; one unit more, in the digits or in the scaling to minor
// units, is "too large", never a wrapped value.
TEST(ParseFixedPointTest, ExactUpToInt64AndTooLargeBeyond) {
  EXPECT_EQ(*ParseFixedPoint("9223372036854775807", 0), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(*ParseFixedPoint("-9223372036854775807", 0), -std::numeric_limits<int64_t>::max());
  EXPECT_EQ(*ParseFixedPoint("92233720368547758.07", 2), std::numeric_limits<int64_t>::max());
  for (const auto& [text, scale] : std::vector<std::pair<std::string, int>>{
           {"9223372036854775808", 0}, {"92233720368547758.08", 2}, {"92233720368547758.1", 2},
           {"92233720368547758", 3}, {"3000000000000000000000", 3}}) {
    auto value = ParseFixedPoint(text, scale);
    ASSERT_FALSE(value.ok()) << text << " = " << *value;
    EXPECT_THAT(value.status().message(), HasSubstr("too large")) << text;
  }
}

}  // namespace
}  // namespace guanxi::connectors
