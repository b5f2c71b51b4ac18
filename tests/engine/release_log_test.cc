// Logs and live projections written by earlier builds (tests/fixtures/README.md): this
// build must open each, find its hash chain intact, and replay the one written since the
// projections last changed from position 0 to the same projections, byte for byte, as
// that build derived live.
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "engine/config/config.h"
#include "engine/projection/projector.h"
#include "engine/projection/replay.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/event_log.h"
#include "engine/storage/projection_store.h"
#include "gtest/gtest.h"
#include "tests/engine/event_log_test_util.h"

namespace guanxi::engine {
namespace {

using ::guanxi::engine::testing::TempDir;

struct PartitionFacts {
  int32_t partition;
  uint64_t records;
  std::string head_hash_hex;
};

// A data directory written by an earlier build with tests/fixtures/make-release-log.sh
// (tests/fixtures/README.md): the record counts its `audit verify` reported, and the head
// hashes of its chains.
struct Fixture {
  std::string path;
  std::vector<PartitionFacts> partitions;
};

// Written by commit 3c0dc61, the runtime before the partition redesign: the oldest
// on-disk format this build must still open and verify. Its projections predate
// CustomerState.name and .owner, so a replay no longer gives them byte for byte.
const Fixture kBeforeTheRedesign = {
    GUANXI_SOURCE_DIR "/tests/fixtures/release-3c0dc61.tar.gz",
    {{0, 2597, "5023a985a0bcc2ad55169670d77e8eb58086afcfbba23aef00eb1fcaaae3b00e"},
     {1, 1402, "e62f0d684fb96ad5f324c5598dd1f89c26e4aae00271e21564e5fd9e372ca1c1"}}};

// Written by the commit whose weight of evidence of a decline reads a payment's lateness
// and an assessment against the customer's own (threshold 3.75, decay 0.03), the
// projections' latest change on purpose: a replay must give its live projections byte for
// byte.
const Fixture kProjectionsAsOfTheLatestChange = {
    GUANXI_SOURCE_DIR "/tests/fixtures/release-payments-assessments.tar.gz",
    {{0, 2608, "b85945bbc70ae8b093ad2af8f15f91bd62bff64f998a8f197f85884a8d5e857e"},
     {1, 1412, "afd7dc289fd539df2dd75277d5c8e6c3166ff4120a8f3c6556a794d8c210cee9"}}};

// The fixture unpacked into `dir` (its `data/`).
std::string UnpackFixture(const Fixture& fixture, const TempDir& dir) {
  const std::string command = absl::StrCat("tar xzf '", fixture.path, "' -C '", dir.path(), "'");
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  return dir.Sub("data");
}

void ExpectVerifiesWithItsChainUnchanged(const Fixture& fixture) {
  TempDir dir;
  const std::string data = UnpackFixture(fixture, dir);
  auto listed = ListPartitions(data);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), fixture.partitions.size());
  for (const PartitionFacts& expected : fixture.partitions) {
    auto log = EventLog::Open(PartitionDir(data, expected.partition),
                              {.mode = OpenMode::kReadOnly});
    ASSERT_TRUE(log.ok()) << log.status();
    auto verified = (*log)->Verify();
    ASSERT_TRUE(verified.ok()) << verified.status();
    EXPECT_TRUE(verified->ok) << verified->reason;
    EXPECT_EQ((*log)->next_position(), expected.records) << "partition " << expected.partition;
    const auto hash = (*log)->head_hash();
    EXPECT_EQ(absl::BytesToHexString(std::string(hash.begin(), hash.end())),
              expected.head_hash_hex)
        << "partition " << expected.partition;
  }
}

TEST(ReleaseLogTest, TheLogOfTheEarlierReleaseVerifiesWithItsChainUnchanged) {
  ExpectVerifiesWithItsChainUnchanged(kBeforeTheRedesign);
  ExpectVerifiesWithItsChainUnchanged(kProjectionsAsOfTheLatestChange);
}

// How many of the partition's customer states hold their timer's deadline.
int StatesWithTheirTimer(const ProjectionStore& store) {
  int n = 0;
  EXPECT_TRUE(store
                  .ForEachState([&](const guanxi::v1::CustomerState& s) {
                    n += s.has_timer_deadline_seconds() ? 1 : 0;
                    return true;
                  })
                  .ok());
  return n;
}

// A fixture partition opened by a projector of this build: how many states held their
// timer before it opened and after, and whether its checkpoint keeps timers in the states.
struct OpenedByAProjector {
  int states_with_their_timer_before = -1;
  int states_with_their_timer_after = -1;
  bool timers_in_states = false;
};
OpenedByAProjector OpenWithAProjector(const std::string& data, int32_t partition) {
  OpenedByAProjector opened;
  EventLogOptions options;
  options.extra_column_families = ProjectionStore::ColumnFamilies();
  auto log = EventLog::Open(PartitionDir(data, partition), options);
  EXPECT_TRUE(log.ok()) << log.status();
  if (!log.ok()) return opened;
  auto store = ProjectionStore::Attach(log->get());
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) return opened;
  opened.states_with_their_timer_before = StatesWithTheirTimer(**store);
  auto projector = PartitionProjector::Create(
      log->get(), store->get(), {.partition = partition, .config = DefaultEngineConfig()});
  EXPECT_TRUE(projector.ok()) << projector.status();
  if (!projector.ok()) return opened;
  opened.states_with_their_timer_after = StatesWithTheirTimer(**store);
  opened.timers_in_states = (*projector)->checkpoint().timers_in_states();
  return opened;
}

// The oldest fixture's stores predate CustomerState.timer_deadline_seconds: the first
// projector of this build to open one moves each armed timer's deadline into its
// customer's state (4fdbfed).
TEST(ReleaseLogTest, TheFirstProjectorMovesAnOlderStoresTimersIntoTheStates) {
  TempDir dir;
  const std::string data = UnpackFixture(kBeforeTheRedesign, dir);
  for (const PartitionFacts& expected : kBeforeTheRedesign.partitions) {
    const OpenedByAProjector opened = OpenWithAProjector(data, expected.partition);
    EXPECT_EQ(opened.states_with_their_timer_before, 0);
    EXPECT_GT(opened.states_with_their_timer_after, 0);
    EXPECT_TRUE(opened.timers_in_states);
  }
}

// A replay of the latest fixture gives its live projections byte for byte (its stores
// keep each armed timer in its customer's state already).
TEST(ReleaseLogTest, ReplayingTheEarlierReleasesLogGivesItsLiveProjectionsByteForByte) {
  TempDir dir;
  const std::string data = UnpackFixture(kProjectionsAsOfTheLatestChange, dir);
  const std::atomic<bool> stop{false};
  for (const PartitionFacts& expected : kProjectionsAsOfTheLatestChange.partitions) {
    {
      const OpenedByAProjector opened = OpenWithAProjector(data, expected.partition);
      EXPECT_GT(opened.states_with_their_timer_before, 0);
      EXPECT_TRUE(opened.timers_in_states);
    }
    TempDir scratch;
    auto replay = ReplayPartition({.data_dir = data,
                                   .partition = expected.partition,
                                   .scratch_dir = scratch.path(),
                                   .config = DefaultEngineConfig()},
                                  stop);
    ASSERT_TRUE(replay.ok()) << replay.status();
    EXPECT_TRUE(replay->live_projections);
    EXPECT_EQ(replay->replayed_to, expected.records);
    EXPECT_GT(replay->stats.events, 0u);
    EXPECT_TRUE(replay->differences.empty())
        << "partition " << expected.partition << ": " << replay->differences[0];
  }
}

}  // namespace
}  // namespace guanxi::engine
