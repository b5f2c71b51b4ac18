// Two engine instances in one consumer group, with their own data directories: the
// second joins mid-stream, the group splits the partitions, and the instance that
// receives a partition it has no store for rebuilds it from the topic. In the end, for
// every partition, the store of its current owner holds exactly the partition's events
// in offset order (what a single instance would have), and every store's chain is intact.
#include <atomic>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/config/config.h"
#include "engine/ingest/ingest_engine.h"
#include "engine/kafka/topics.h"
#include "engine/log/data_dir.h"
#include "gtest/gtest.h"
#include "tests/engine/event_log_test_util.h"

namespace guanxi::engine {
namespace {

using ::guanxi::engine::testing::TempDir;
constexpr int kPartitions = 4;

class Instance {
 public:
  Instance(const std::string& brokers, const v1::EngineConfig& config, std::string dir)
      : dir_(std::move(dir)) {
    thread_ = std::thread([this, brokers, config] {
      IngestEngine engine({.brokers = brokers, .data_dir = dir_, .config = config});
      status_ = engine.Run(stop_);
    });
  }
  absl::Status Stop() {
    stop_ = true;
    thread_.join();
    return status_;
  }
  // The next offset this instance's store holds for a partition (-1: no store or none).
  int64_t Stored(int32_t partition, const std::string& scratch) const {
    auto log = EventLog::Open(PartitionDir(dir_, partition),
                              {.mode = OpenMode::kSecondary,
                               .secondary_dir = absl::StrCat(scratch, "/", partition)});
    if (!log.ok()) return -1;
    auto stored = (*log)->StoredOffset("guanxi.events", partition);
    return stored.ok() && stored->has_value() ? **stored : -1;
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::atomic<bool> stop_{false};
  absl::Status status_;
  std::thread thread_;
};

TEST(ScaleOutTest, SecondInstanceJoinsMidStreamAndEveryPartitionEndsComplete) {
  auto cluster = std::move(*EmbeddedCluster::Start(3));
  v1::EngineConfig config = DefaultEngineConfig();
  ASSERT_TRUE(CreateGuanxiTopics(*cluster, config.kafka(), kPartitions).ok());
  const std::string brokers = cluster->bootstrap_servers();

  // event index -> (partition, offset), from the delivery reports.
  std::map<uint64_t, std::pair<int32_t, int64_t>> placed;
  auto producer = std::move(*Producer::Create(brokers, {}, [&](const Producer::Delivery& d) {
    ASSERT_TRUE(d.status.ok()) << d.status;
    placed[d.cookie] = {d.partition, d.offset};
  }));
  uint64_t next = 0;
  auto produce = [&](int n) {
    for (int i = 0; i < n; ++i, ++next) {
      v1::Event e;
      e.set_event_id(absl::StrCat("e", next));
      e.set_customer_id(absl::StrCat("c", next % 101));
      e.mutable_occurred_at()->set_seconds(1'700'000'000 + static_cast<int64_t>(next));
      e.mutable_visit()->set_purpose("x");
      ASSERT_TRUE(producer->Produce("guanxi.events", e.customer_id(), e.SerializeAsString(), next).ok());
    }
    ASSERT_EQ(producer->Flush(absl::Seconds(60)), 0);
  };

  TempDir root;
  produce(4000);
  Instance a(brokers, config, root.Sub("a"));
  produce(2000);
  Instance b(brokers, config, root.Sub("b"));  // joins mid-stream: the group rebalances
  produce(4000);

  std::map<int32_t, int64_t> high;
  for (const auto& [index, where] : placed) high[where.first] = std::max(high[where.first], where.second + 1);

  // Wait (bounded) until, for each partition, one of the two stores reached its high
  // watermark: whoever owns it now has consumed all of it.
  int scratch_round = 0;
  auto complete = [&] {
    const std::string scratch = root.Sub(absl::StrCat("secondary-", scratch_round++));
    for (int32_t p = 0; p < kPartitions; ++p) {
      if (std::max(a.Stored(p, scratch + "a"), b.Stored(p, scratch + "b")) < high[p]) return false;
    }
    return true;
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(90);
  while (!complete() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(200));
  EXPECT_TRUE(a.Stop().ok());
  EXPECT_TRUE(b.Stop().ok());

  int both_owned = 0;
  for (int32_t p = 0; p < kPartitions; ++p) {
    SCOPED_TRACE(absl::StrCat("partition ", p));
    std::vector<std::string> expected(static_cast<size_t>(high[p]));
    for (const auto& [index, where] : placed) {
      if (where.first == p) expected[static_cast<size_t>(where.second)] = absl::StrCat("e", index);
    }
    std::string owner;
    for (const Instance* inst : {&a, &b}) {
      auto log = EventLog::Open(PartitionDir(inst->dir(), p), {});
      if (!log.ok()) continue;  // this instance never owned the partition
      auto verified = (*log)->Verify();
      ASSERT_TRUE(verified.ok());
      EXPECT_TRUE(verified->ok) << verified->reason;  // stale or current, always consistent
      auto stored = (*log)->StoredOffset("guanxi.events", p);
      if (!stored.ok() || !stored->has_value() || **stored != high[p]) continue;
      owner = inst->dir();
      std::vector<std::string> ids;
      ASSERT_TRUE((*log)->ReadRange(0, UINT64_MAX, [&](const v1::LogRecord& r) {
                           ids.push_back(r.event().event_id());
                           EXPECT_EQ(static_cast<int64_t>(r.position()), r.source().offset());
                           return true;
                         }).ok());
      EXPECT_EQ(ids, expected);
    }
    EXPECT_FALSE(owner.empty()) << "no store holds the whole partition";
    both_owned += std::filesystem::exists(PartitionDir(a.dir(), p)) &&
                  std::filesystem::exists(PartitionDir(b.dir(), p));
  }
  // The join moved at least one partition from a to b, whose store b rebuilt from 0.
  EXPECT_GT(both_owned, 0);
}

}  // namespace
}  // namespace guanxi::engine
