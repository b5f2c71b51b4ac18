#include "engine/partition/partition_manager.h"

#include <string>
#include <vector>

#include "engine/config/config.h"
#include "engine/storage/data_dir.h"
#include "gtest/gtest.h"
#include "tests/engine/event_log_test_util.h"

namespace guanxi::engine {
namespace {

using ::guanxi::engine::testing::TempDir;
using ::guanxi::engine::testing::WalBytes;

class NoSideOutput final : public SideOutput {
 public:
  absl::Status DeadLetter(const v1::DeadLetter& letter) override {
    return absl::InternalError("unexpected dead letter: " + letter.ShortDebugString());
  }
  absl::Status Forward(int32_t partition, std::string_view, std::string_view) override {
    return absl::InternalError("unexpected forward to partition " + std::to_string(partition));
  }
  absl::Status Flush() override { return absl::OkStatus(); }
};

std::string CustomerOf(int i) { return "c" + std::to_string(i % 7); }

std::string EventBytes(int i) {
  v1::Event e;
  e.set_event_id("e" + std::to_string(i));
  e.set_customer_id(CustomerOf(i));
  e.mutable_occurred_at()->set_seconds(1'700'000'000 + i);
  e.mutable_call()->set_call_id(e.event_id());
  return e.SerializeAsString();
}

class PartitionManagerTest : public ::testing::Test {
 protected:
  PartitionOptions Options(int32_t partition) {
    return {.topic = "guanxi.events",
            .partition = partition,
            .side = &side_,
            .now_unix_millis = [] { return int64_t{1'800'000'000'000}; },  // 2027: after every event
            .projector = {.config = DefaultEngineConfig()}};
  }
  // Ingests messages [from, to) into the partition and waits until they are projected.
  void Ingest(Partition& p, int from, int to) {
    std::vector<std::string> keys;
    std::vector<std::string> values;
    for (int i = from; i < to; ++i) {
      keys.push_back(CustomerOf(i));
      values.push_back(EventBytes(i));
    }
    std::vector<ConsumedMessage> messages;
    for (int i = from; i < to; ++i) {
      messages.push_back({i, keys[size_t(i - from)], values[size_t(i - from)]});
    }
    auto stats = p.Ingest(messages);
    ASSERT_TRUE(stats.ok()) << stats.status();
    EXPECT_EQ(stats->appended, to - from);
    ASSERT_TRUE(p.WaitApplied(p.log_records(), absl::Seconds(30)));
  }
  // Whether another instance could open the partition's store now (RocksDB's LOCK).
  bool Lockable(int32_t partition) {
    return EventLog::Open(PartitionDir(data_.path(), partition), {}).ok();
  }

  TempDir data_;
  NoSideOutput side_;
};

TEST_F(PartitionManagerTest, AppendsProjectsAndHandsOutViews) {
  PartitionManager manager(data_.path(), DefaultEngineConfig().storage());
  auto p = manager.Open(Options(2));
  ASSERT_TRUE(p.ok()) << p.status();
  Ingest(**p, 0, 50);
  EXPECT_EQ((*p)->next_offset(), 50);
  EXPECT_EQ((*p)->applied(), 50u);
  EXPECT_TRUE(manager.Views().empty());  // until published
  manager.PublishViews();
  const std::vector<PartitionView> views = manager.Views();
  ASSERT_EQ(views.size(), 1u);
  EXPECT_EQ(views[0].partition, 2);
  v1::CustomerState state;
  auto found = views[0].store->GetState("c3", &state);
  ASSERT_TRUE(found.ok() && *found);
  EXPECT_GT(state.events_applied(), 0u);
}

// A revoked partition's store stays open while a reader holds a view of it, is taken
// back by a new assignment, and closes once the last holder lets go.
TEST_F(PartitionManagerTest, ARevokedStoreStaysOpenWhileAViewHoldsItAndIsTakenBack) {
  PartitionManager manager(data_.path(), DefaultEngineConfig().storage());
  auto p = manager.Open(Options(0));
  ASSERT_TRUE(p.ok()) << p.status();
  Ingest(**p, 0, 20);
  manager.PublishViews();
  std::vector<PartitionView> held = manager.Views();
  ASSERT_TRUE(manager.Close(0).ok());
  manager.PublishViews();
  EXPECT_TRUE(manager.Views().empty());
  EXPECT_FALSE(Lockable(0));  // still open: the view holds it

  auto again = manager.Open(Options(0));  // taken back, not opened a second time
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)->next_offset(), 20);
  Ingest(**again, 20, 30);
  EXPECT_EQ(held[0].log->next_position(), 30u);  // the reader sees the same store

  ASSERT_TRUE(manager.Close(0).ok());
  EXPECT_FALSE(Lockable(0));
  held.clear();
  manager.CloseReleased();
  EXPECT_TRUE(Lockable(0));
}

// A partition closed cleanly (a revocation, the engine stopping) is flushed: its store
// leaves nothing in a write-ahead log for the next open to replay.
TEST_F(PartitionManagerTest, AClosedPartitionLeavesNoWriteAheadLogToReplay) {
  const std::string dir = PartitionDir(data_.path(), 3);
  {
    PartitionManager manager(data_.path(), DefaultEngineConfig().storage());
    auto p = manager.Open(Options(3));
    ASSERT_TRUE(p.ok()) << p.status();
    Ingest(**p, 0, 40);
    EXPECT_GT(WalBytes(dir), 0u);  // appends and commits went through the log
    ASSERT_TRUE(manager.Close(3).ok());
    EXPECT_EQ(WalBytes(dir), 0u);
  }
  // And what was flushed is all there.
  auto log = EventLog::Open(dir, {.mode = OpenMode::kReadOnly});
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->next_position(), 40u);
}

TEST_F(PartitionManagerTest, EngineRecordsAreAppendedAndProjected) {
  PartitionManager manager(data_.path(), DefaultEngineConfig().storage());
  auto p = manager.Open(Options(1));
  ASSERT_TRUE(p.ok()) << p.status();
  Ingest(**p, 0, 10);
  ASSERT_TRUE((*p)->AppendTick(1'800'000'000).ok());
  ASSERT_TRUE((*p)->WaitApplied(11, absl::Seconds(30)));
  EXPECT_EQ((*p)->log_records(), 11u);
  EXPECT_EQ((*p)->clock_seconds(), 1'800'000'000);
  EXPECT_EQ((*p)->next_offset(), 10);  // a tick consumes no offset
}

}  // namespace
}  // namespace guanxi::engine
