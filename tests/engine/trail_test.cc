// ReadTrail's pages: read at the read (a page of a long trail reads that page's events and
// facts, not the customer's whole history), whole positions, together the whole trail,
// and a page start that is none of the trail's positions refused.
#include "engine/query/trail.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/config/config.h"
#include "engine/partition/view.h"
#include "engine/projection/projector.h"
#include "engine/query/projection_view.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/event_log.h"
#include "engine/storage/projection_store.h"
#include "gtest/gtest.h"
#include "tests/engine/event_log_test_util.h"

namespace guanxi::engine {
namespace {

using ::guanxi::engine::testing::OrderRecord;
using ::guanxi::engine::testing::TempDir;

constexpr int64_t kStart = 1'700'000'000;  // 2023-11-14T22:13:20Z
constexpr int kBigEvents = 3000;

// Partition 0 projected: "big" orders once a day for kBigEvents days, with another
// customer's order every tenth day between them (the trail's positions are not
// contiguous); after a quiet year at the end, another customer's event lets big's
// inactivity timers fire at a position that holds no event of big's.
class TrailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EventLogOptions options;
    options.partition = 0;
    options.extra_column_families = ProjectionStore::ColumnFamilies();
    auto log = EventLog::Open(PartitionDir(dir_.path(), 0), options);
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::move(*log);
    auto store = ProjectionStore::Attach(log_.get());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    std::vector<v1::LogRecord> records;
    for (int day = 0; day < kBigEvents; ++day) {
      records.push_back(OrderRecord(absl::StrCat("b", day), "big", kStart + day * 86400));
      if (day % 10 == 0) {
        records.push_back(OrderRecord(absl::StrCat("o", day), "other", kStart + day * 86400));
      }
    }
    records.push_back(OrderRecord("late", "other", kStart + (kBigEvents + 400) * 86400));
    ASSERT_TRUE(log_->Append(absl::MakeSpan(records), {}).ok());
    const std::atomic<bool> stop{false};
    auto projector = PartitionProjector::Create(
        log_.get(), store_.get(), {.partition = 0, .config = DefaultEngineConfig()});
    ASSERT_TRUE(projector.ok()) << projector.status();
    ASSERT_TRUE((*projector)->CatchUp(log_->next_position(), stop).ok());
    auto view = LiveProjectionView(PartitionView{0, log_, store_});
    ASSERT_TRUE(view.ok()) << view.status();
    view_ = std::make_unique<ProjectionView>(std::move(*view));
  }

  // The entries of a trail, each serialized.
  static std::vector<std::string> Entries(const Trail& trail) {
    std::vector<std::string> out;
    const v1::Trail message = TrailMessage(trail);
    for (const v1::TrailEntry& e : message.entries()) {
      out.push_back(e.SerializeAsString());
    }
    return out;
  }

  TempDir dir_;
  std::shared_ptr<EventLog> log_;
  std::shared_ptr<ProjectionStore> store_;
  std::unique_ptr<ProjectionView> view_;
};

TEST_F(TrailTest, PagesReadOnlyThePageAndTogetherAreTheWholeTrail) {
  auto whole = ReadTrail(*view_, "big");
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(whole->events.size(), static_cast<size_t>(kBigEvents));
  EXPECT_FALSE(whole->next_after.has_value());
  const std::vector<std::string> all = Entries(*whole);
  ASSERT_GT(all.size(), static_cast<size_t>(kBigEvents));  // facts besides the events
  ASSERT_TRUE(whole->state.has_value());

  for (size_t limit : {1u, 2u, 7u, 100u, 1000u}) {
    std::vector<std::string> paged;
    std::optional<uint64_t> after;
    int pages = 0;
    do {
      auto page = ReadTrail(*view_, "big", {.after = after, .limit = limit});
      ASSERT_TRUE(page.ok()) << page.status();
      ++pages;
      // What was read: at most the page's worth of events and facts (one position's
      // facts more), never the rest of the customer's history.
      EXPECT_LE(page->events.size(), limit) << "limit " << limit;
      EXPECT_LE(page->facts.size(), limit + 8) << "limit " << limit;
      ASSERT_FALSE(page->entries.empty()) << "limit " << limit;
      // Whole positions: no page starts where the one before ended.
      if (after) {
        EXPECT_GT(page->entries.front().position, *after);
      }
      if (page->entries.front().position != page->entries.back().position) {
        EXPECT_LE(page->entries.size(), limit) << "limit " << limit;
      }
      ASSERT_TRUE(page->state.has_value());
      EXPECT_EQ(page->state->SerializeAsString(), whole->state->SerializeAsString());
      for (std::string& e : Entries(*page)) paged.push_back(std::move(e));
      after = page->next_after;
      if (after) {
        EXPECT_EQ(*after, page->entries.back().position);
      }
    } while (after && pages <= kBigEvents * 4);
    EXPECT_EQ(paged, all) << "limit " << limit;
  }
}

TEST_F(TrailTest, APageStartThatIsNoneOfTheTrailsPositionsIsRefused) {
  auto whole = ReadTrail(*view_, "big");
  ASSERT_TRUE(whole.ok()) << whole.status();
  // Position 1 is other's first order, between big's first two.
  auto at_other = ReadTrail(*view_, "big", {.after = 1, .limit = 10});
  EXPECT_EQ(at_other.status().code(), absl::StatusCode::kInvalidArgument) << at_other.status();
  auto past_end = ReadTrail(*view_, "big", {.after = log_->next_position() + 5, .limit = 10});
  EXPECT_EQ(past_end.status().code(), absl::StatusCode::kInvalidArgument);
  // The last position is one: its page is empty, and says there is no more.
  auto last = ReadTrail(*view_, "big", {.after = whole->entries.back().position, .limit = 10});
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_TRUE(last->entries.empty());
  EXPECT_FALSE(last->next_after.has_value());
}

}  // namespace
}  // namespace guanxi::engine
