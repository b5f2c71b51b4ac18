// SnapshotShelf and SnapshotRounds: a partition store's snapshots on a shared shelf.
#include "engine/partition/snapshot_shelf.h"

#include <filesystem>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/partition/snapshot_rounds.h"
#include "engine/storage/projection_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/event_log_test_util.h"

namespace guanxi::engine {
namespace {

using ::testing::ElementsAre;
using testing::OrderRecord;
using testing::TempDir;

class SnapshotShelfTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EventLogOptions options;
    options.partition = 3;
    options.extra_column_families = ProjectionStore::ColumnFamilies();
    log_ = std::move(*EventLog::Open(dir_.Sub("store"), options));
  }

  // Appends `n` orders, the last consumed offset stored with them.
  void Append(int n) {
    std::vector<v1::LogRecord> records;
    for (int i = 0; i < n; ++i, ++appended_) {
      records.push_back(OrderRecord(absl::StrCat("e", appended_), "c", 1'700'000'000 + appended_,
                                    appended_, 3));
    }
    const SourceOffset offset{.topic = "guanxi.events", .partition = 3, .next_offset = appended_};
    ASSERT_TRUE(log_->Append(absl::MakeSpan(records), {&offset, 1}).ok());
  }

  TempDir dir_;
  std::shared_ptr<EventLog> log_;
  int64_t appended_ = 0;
};

TEST_F(SnapshotShelfTest, TakesKeepsTheNewestAndRestoresTheNewestWhole) {
  SnapshotShelf shelf(dir_.Sub("shelf"), 2);
  Append(10);
  auto first = shelf.Take(*log_, 3, 10);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(*first);
  auto again = shelf.Take(*log_, 3, 10);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);  // nothing new
  Append(5);
  ASSERT_TRUE(shelf.Take(*log_, 3, 15).ok());
  Append(5);
  ASSERT_TRUE(shelf.Take(*log_, 3, 20).ok());
  EXPECT_THAT(shelf.Offsets(3), ElementsAre(15, 20));  // the two newest
  EXPECT_TRUE(shelf.Offsets(4).empty());

  const std::string restored = dir_.Sub("data/partitions/3");
  auto offset = shelf.Restore(3, restored);
  ASSERT_TRUE(offset.ok()) << offset.status();
  EXPECT_EQ(*offset, 20);
  EventLogOptions options;
  options.mode = OpenMode::kReadOnly;
  options.extra_column_families = ProjectionStore::ColumnFamilies();
  auto copy = EventLog::Open(restored, options);
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_EQ((*copy)->next_position(), log_->next_position());
  EXPECT_EQ((*copy)->head_hash(), log_->head_hash());
  auto stored = (*copy)->StoredOffset("guanxi.events", 3);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(*stored, std::optional<int64_t>(20));
  auto verified = (*copy)->Verify();
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok) << verified->reason;

  // No snapshot: nothing restored, nothing created.
  auto none = shelf.Restore(4, dir_.Sub("data/partitions/4"));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("data/partitions/4")));
  EXPECT_EQ(shelf.stats().taken, 3u);
  EXPECT_EQ(shelf.stats().restored, 1u);
}

TEST_F(SnapshotShelfTest, ASnapshotThatCannotBeCopiedIsPassedOverForTheOlderOne) {
  SnapshotShelf shelf(dir_.Sub("shelf"), 2);
  Append(4);
  ASSERT_TRUE(shelf.Take(*log_, 3, 4).ok());
  Append(4);
  ASSERT_TRUE(shelf.Take(*log_, 3, 8).ok());
  // The newest is damaged: a link to nothing in it cannot be copied.
  std::filesystem::create_symlink(dir_.Sub("nowhere"),
                                  dir_.Sub("shelf/partition-3/00000000000000000008/dangling"));
  auto offset = shelf.Restore(3, dir_.Sub("data/partitions/3"));
  ASSERT_TRUE(offset.ok()) << offset.status();
  EXPECT_EQ(*offset, 4);
  // Nothing half-copied is left beside the store.
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir_.Sub("data/partitions"))) {
    names.push_back(e.path().filename().string());
  }
  EXPECT_THAT(names, ElementsAre("3"));
}

TEST_F(SnapshotShelfTest, RoundsComeOncePerIntervalAndSnapshotEveryPartitionGiven) {
  SnapshotShelf shelf(dir_.Sub("shelf"), 2);
  Append(6);
  const absl::Time start = absl::FromUnixSeconds(1'000'000);
  {
    SnapshotRounds rounds(&shelf, absl::Seconds(60), start);
    EXPECT_FALSE(rounds.Due(start + absl::Seconds(59)));
    ASSERT_TRUE(rounds.Due(start + absl::Seconds(60)));
    rounds.Start(start + absl::Seconds(60),
                 {{.view = {.partition = 3, .log = log_, .store = nullptr}, .offset = 6}});
    EXPECT_FALSE(rounds.Due(start + absl::Seconds(61)));
  }  // waits for the round
  EXPECT_THAT(shelf.Offsets(3), ElementsAre(6));
}

}  // namespace
}  // namespace guanxi::engine
