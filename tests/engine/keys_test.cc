#include "engine/storage/keys.h"

#include <array>
#include <cstdint>
#include <string>

#include "gtest/gtest.h"

namespace guanxi::engine::keys {
namespace {

google::protobuf::Timestamp At(int64_t seconds, int32_t nanos = 0) {
  google::protobuf::Timestamp t;
  t.set_seconds(seconds);
  t.set_nanos(nanos);
  return t;
}

TEST(KeysTest, PositionsSortAsNumbers) {
  EXPECT_LT(PositionKey(255), PositionKey(256));
  EXPECT_LT(PositionKey(1), PositionKey(uint64_t{1} << 40));
  EXPECT_EQ(GetBigEndian64(PositionKey(0x0102030405060708).data()), 0x0102030405060708u);
  EXPECT_EQ(SequenceKey(42), PositionKey(42));
}

TEST(KeysTest, AnOutboxChunkSortsByItsLastSequenceBesideSingleEntries) {
  EXPECT_LT(SequenceKey(41), OutboxChunkKey(41));
  EXPECT_LT(OutboxChunkKey(41), SequenceKey(42));
  EXPECT_LT(OutboxChunkKey(255), OutboxChunkKey(256));
  auto chunk = ParseOutboxKey(OutboxChunkKey(42));
  ASSERT_TRUE(chunk.has_value());
  EXPECT_EQ(chunk->last_sequence, 42u);
  EXPECT_TRUE(chunk->chunk);
  auto single = ParseOutboxKey(SequenceKey(7));
  ASSERT_TRUE(single.has_value());
  EXPECT_EQ(single->last_sequence, 7u);
  EXPECT_FALSE(single->chunk);
  EXPECT_FALSE(ParseOutboxKey(SequenceKey(7) + "x").has_value());
  EXPECT_FALSE(ParseOutboxKey("short").has_value());
}

TEST(KeysTest, OneCustomersStreamNeverRunsIntoAnothers) {
  // Without the length prefix "a" at a high position would sort inside "ab"'s keys.
  const std::string a = StreamKey("a", ~uint64_t{0});
  const std::string ab = StreamKey("ab", 0);
  EXPECT_FALSE(ab.starts_with(CustomerPrefix("a")));
  EXPECT_TRUE(a.starts_with(CustomerPrefix("a")));
  EXPECT_EQ(StreamPosition(StreamKey("c-7", 99), CustomerPrefix("c-7").size()), 99u);
  EXPECT_LT(StreamKey("c", 9), StreamKey("c", 10));
}

TEST(KeysTest, StreamValuesCompareOccurredAtIncludingNegativeTimes) {
  EXPECT_TRUE(OccurredAtOrBefore(StreamValue(At(100, 5)), At(100, 5)));
  EXPECT_FALSE(OccurredAtOrBefore(StreamValue(At(100, 6)), At(100, 5)));
  EXPECT_TRUE(OccurredAtOrBefore(StreamValue(At(-5)), At(3)));
  EXPECT_FALSE(OccurredAtOrBefore(StreamValue(At(3)), At(-5)));
  EXPECT_TRUE(OccurredAtOrBefore("short", At(0)));  // malformed: kept, not dropped
}

TEST(KeysTest, TimersSortByDeadlineNegativesFirstAndParseBack) {
  EXPECT_LT(TimerKey(-1, "z"), TimerKey(0, "a"));
  EXPECT_LT(TimerKey(0, "z"), TimerKey(1, "a"));
  const auto parts = ParseTimerKey(TimerKey(-86400, "cust-1"));
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(parts->deadline, -86400);
  EXPECT_EQ(parts->customer_id, "cust-1");
  EXPECT_FALSE(ParseTimerKey("1234567").has_value());
}

TEST(KeysTest, HeadValueRoundTripsAndRejectsAWrongSize) {
  std::array<uint8_t, 32> hash{};
  for (size_t i = 0; i < hash.size(); ++i) hash[i] = static_cast<uint8_t>(i * 7);
  uint64_t next = 0;
  std::array<uint8_t, 32> back{};
  ASSERT_TRUE(ParseHeadValue(HeadValue(123456789, hash), next, back));
  EXPECT_EQ(next, 123456789u);
  EXPECT_EQ(back, hash);
  EXPECT_FALSE(ParseHeadValue(HeadValue(1, hash).substr(1), next, back));
}

TEST(KeysTest, FactsAndWarningsSortByCustomerPositionIndexAndByTime) {
  const std::string prefix = CustomerPrefix("c");
  const std::string fact = FactKey("c", 77, 2);
  EXPECT_TRUE(fact.starts_with(prefix));
  auto parts = ParseFactKey(fact);
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(parts->customer_id, "c");
  EXPECT_EQ(parts->position, 77u);
  EXPECT_EQ(parts->index, 2u);
  EXPECT_FALSE(parts->group);
  auto group = ParseFactKey(FactGroupKey("c", 77, 2));
  ASSERT_TRUE(group.has_value());
  EXPECT_EQ(group->position, 77u);
  EXPECT_EQ(group->index, 2u);
  EXPECT_TRUE(group->group);
  EXPECT_FALSE(ParseFactKey(fact + "x").has_value());
  EXPECT_FALSE(ParseFactKey(fact.substr(0, fact.size() - 1)).has_value());
  // A group sorts where its first fact would, before the next index.
  EXPECT_LT(FactKey("c", 77, 2), FactGroupKey("c", 77, 2));
  EXPECT_LT(FactGroupKey("c", 77, 2), FactKey("c", 77, 3));
  EXPECT_LT(FactKey("c", 77, 2), FactKey("c", 77, 3));
  EXPECT_LT(FactKey("c", 77, 9), FactKey("c", 78, 0));
  EXPECT_LT(WarningKey(-10, "z", 9, 0), WarningKey(5, "a", 0, 0));
  EXPECT_TRUE(WarningKey(5, "a", 0, 0).starts_with(WarningsFrom(5)));
  EXPECT_GE(WarningKey(5, "a", 0, 0), WarningsFrom(5));
  EXPECT_LT(WarningKey(4, "a", 0, 0), WarningsFrom(5));
}

TEST(KeysTest, OffsetKeysNameTopicAndPartition) {
  EXPECT_EQ(OffsetKey("guanxi.events", 3), "offset/guanxi.events/3");
  EXPECT_EQ(GetBigEndian64(OffsetValue(1000).data()), 1000u);
}

}  // namespace
}  // namespace guanxi::engine::keys
