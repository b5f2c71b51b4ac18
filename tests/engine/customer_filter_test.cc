// The filters of GET /v1/customers and /v1/portfolio, read from query parameters.
#include "engine/query/customer_filter.h"

#include <map>
#include <string>

#include "gtest/gtest.h"

namespace guanxi::engine {
namespace {

absl::StatusOr<CustomerFilter> Parse(const std::map<std::string, std::string>& params) {
  return ParseCustomerFilter([&](std::string_view name) -> std::optional<std::string> {
    auto it = params.find(std::string(name));
    if (it == params.end()) return std::nullopt;
    return it->second;
  });
}

guanxi::v1::CustomerState InStageSince(int64_t seconds, int32_t nanos = 0) {
  guanxi::v1::CustomerState state;
  state.mutable_stage_since()->set_seconds(seconds);
  state.mutable_stage_since()->set_nanos(nanos);
  return state;
}

// A date means the end of that day, UTC, as in every time parameter and flag: "entered
// since 1 June" is whoever entered their stage after 1 June ended.
TEST(CustomerFilterTest, EnteredSinceADateIsAfterThatDay) {
  auto filter = Parse({{"entered_since", "2025-06-01"}});
  ASSERT_TRUE(filter.ok()) << filter.status();
  constexpr int64_t kJune2 = 1748822400;  // 2025-06-02T00:00:00Z
  EXPECT_TRUE(filter->Matches(InStageSince(kJune2)));
  EXPECT_FALSE(filter->Matches(InStageSince(kJune2 - 1, 999'999'998)));  // 1 June, 23:59:59
  EXPECT_FALSE(filter->Matches(InStageSince(kJune2 - 86400)));           // 1 June, midnight
}

TEST(CustomerFilterTest, EnteredSinceATimeIsAtOrAfterIt) {
  auto filter = Parse({{"entered_since", "2025-06-01T12:00:00.5Z"}});
  ASSERT_TRUE(filter.ok()) << filter.status();
  constexpr int64_t kNoon = 1748779200;  // 2025-06-01T12:00:00Z
  EXPECT_TRUE(filter->Matches(InStageSince(kNoon, 500'000'000)));
  EXPECT_FALSE(filter->Matches(InStageSince(kNoon, 499'999'999)));
}

}  // namespace
}  // namespace guanxi::engine
