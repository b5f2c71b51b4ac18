// One reading of times for the HTTP API's ?as_of= and the commands' time flags.
#include "engine/query/time_text.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

namespace guanxi::engine {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::testing::HasSubstr;

std::string Parsed(std::string_view text) {
  auto t = ParseTimeText(text);
  return t.ok() ? TimeUtil::ToString(*t) : std::string(t.status().message());
}

TEST(ParseTimeTextTest, Rfc3339AsWritten) {
  EXPECT_EQ(Parsed("2025-06-01T12:30:00Z"), "2025-06-01T12:30:00Z");
  EXPECT_EQ(Parsed("2025-06-01T12:30:00+02:00"), "2025-06-01T10:30:00Z");
  EXPECT_EQ(Parsed("2025-06-01T12:30:00.25Z"), "2025-06-01T12:30:00.250Z");
}

// One meaning everywhere (issue 19): the day's last nanosecond, so that an event at any
// instant of that day is at or before it.
TEST(ParseTimeTextTest, ADateIsTheEndOfThatDayInUtc) {
  EXPECT_EQ(Parsed("2025-06-01"), "2025-06-01T23:59:59.999999999Z");
  EXPECT_EQ(Parsed("2024-02-29"), "2024-02-29T23:59:59.999999999Z");
  EXPECT_EQ(Parsed("2024-12-31"), "2024-12-31T23:59:59.999999999Z");
}

TEST(ParseTimeTextTest, AnythingElseIsInvalidArgumentSayingWhatIsAccepted) {
  for (const char* text : {"soon", "", "2025-02-30", "2025-13-01", "2025-6-1", " 2025-06-01",
                           "2025-06-01 ", "20250601", "2025-06-01T25:00:00Z", "2023-02-29"}) {
    auto t = ParseTimeText(text);
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(std::string(t.status().message()),
                HasSubstr(absl::StrCat("'", text,
                                       "' is neither RFC 3339 (2011-03-01T00:00:00Z) "
                                       "nor a date (2011-03-01)")));
  }
}

}  // namespace
}  // namespace guanxi::engine
