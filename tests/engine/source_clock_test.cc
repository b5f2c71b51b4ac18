// The partition's clock as a watermark over its sources (issue 20: one source running
// ahead aged every customer of its partition).
#include "engine/projection/source_clock.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace guanxi::engine {
namespace {

using google::protobuf::Timestamp;

constexpr int64_t kDay = 86400;
constexpr int64_t kStart = 1735689600;  // 2025-01-01
constexpr uint64_t kIdle = 1000;

Timestamp At(int64_t seconds) {
  Timestamp t;
  t.set_seconds(seconds);
  return t;
}

struct Clock {
  SourceClocks sources;
  // An event of `source` at event time `day` (days after kStart), at log position
  // `position`: the watermark after it, in days after kStart.
  int64_t Observe(const std::string& source, int64_t day, uint64_t position) {
    return (ObserveSource(&sources, kIdle, source, At(kStart + day * kDay), position).seconds() -
            kStart) /
           kDay;
  }
};

TEST(SourceClockTest, OneSourceIsItsLatestEventTime) {
  Clock clock;
  EXPECT_EQ(clock.Observe("callcenter", 3, 0), 3);
  EXPECT_EQ(clock.Observe("callcenter", 10, 1), 10);
  EXPECT_EQ(clock.Observe("callcenter", 5, 2), 10);  // a late event moves nothing back
}

TEST(SourceClockTest, ASourceRunningAheadDoesNotDragTheOthers) {
  Clock clock;
  EXPECT_EQ(clock.Observe("callcenter", 10, 0), 10);
  EXPECT_EQ(clock.Observe("erp", 400, 1), 10);  // months ahead: the earliest source rules
  EXPECT_EQ(clock.Observe("callcenter", 11, 2), 11);
  EXPECT_EQ(clock.Observe("callcenter", 12, 3), 12);
  // The call center catching up to the ERP's time lets the clock follow.
  EXPECT_EQ(clock.Observe("callcenter", 401, 4), 400);
}

TEST(SourceClockTest, AnIdleSourceStopsHoldingTheOthersBack) {
  Clock clock;
  EXPECT_EQ(clock.Observe("erp", 10, 0), 10);
  EXPECT_EQ(clock.Observe("callcenter", 20, 1), 10);  // the ERP is behind and active
  EXPECT_EQ(clock.Observe("callcenter", 21, kIdle), 10);  // kIdle records later: still active
  EXPECT_EQ(clock.Observe("callcenter", 22, kIdle + 1), 22);  // past it: the ERP is dropped
  EXPECT_EQ(clock.sources.count("erp"), 0u);
  // Back, with an old event: active again, but the clock never went back (the caller's
  // AdvanceClock keeps the later one); what it says is the earliest active source.
  EXPECT_EQ(clock.Observe("erp", 15, kIdle + 2), 15);
}

TEST(SourceClockTest, SourcesAreBoundedDroppingTheLeastRecentlyHeard) {
  Clock clock;
  for (int i = 0; i < kMaxSources + 10; ++i) {
    clock.Observe(absl::StrCat("s", i), 100 + i, static_cast<uint64_t>(i));
  }
  EXPECT_EQ(static_cast<int>(clock.sources.size()), kMaxSources);
  EXPECT_EQ(clock.sources.count("s0"), 0u);  // heard from first: dropped first
  EXPECT_EQ(clock.sources.count(absl::StrCat("s", kMaxSources + 9)), 1u);
}

// A replay decides the same: the result depends on the records alone.
TEST(SourceClockTest, TheSameRecordsGiveTheSameClock) {
  Clock a, b;
  for (int i = 0; i < 200; ++i) {
    const std::string source = absl::StrCat("s", (i * 7) % 13);
    const auto at = static_cast<uint64_t>(i * 60);
    EXPECT_EQ(a.Observe(source, i % 50 + i / 3, at), b.Observe(source, i % 50 + i / 3, at));
  }
}

}  // namespace
}  // namespace guanxi::engine
