// A partition that moves to another instance brings its state (storage.snapshot_dir,
// docs/operations.md "Moving a partition's store"): instance a consumes the topic and,
// releasing its partitions as it stops, leaves a snapshot of each store on the shared
// shelf; instance b, with an empty data directory, starts each partition from its
// snapshot and consumes only what came after. On Apache Kafka (GUANXI_APACHE_KAFKA,
// ctest label `kafka`) the topic's messages are deleted in between, as retention would:
// b still ends complete, while an instance without the shelf refuses the partitions with
// a retention-gap error.
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/partition/snapshot_shelf.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/event_log.h"
#include "engine/storage/projection_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "guanxi/v1/events.pb.h"
#include "tests/app/spawn.h"
#include "tests/app/test_files.h"
#include "tests/app/test_cluster.h"
#include "tests/engine/event_log_test_util.h"

namespace guanxi {
namespace {

using engine::testing::TempDir;
using ::testing::HasSubstr;
using testing::KafkaKind;
using testing::ReadFile;
using testing::RunToEnd;
using testing::TestCluster;

constexpr int kPartitions = 4;

std::set<std::string> EventIdsOf(const std::string& path) {
  std::set<std::string> ids;
  for (const v1::Event& event : testing::ReadEventFile(path)) ids.insert(event.event_id());
  return ids;
}

// 12345 -> "12,345", as the command prints counts.
std::string Thousands(size_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// Every event id in the instance's logs (EXPECTing none twice), and the sum of the
// offsets stored with them.
std::pair<std::set<std::string>, int64_t> Contents(const std::string& data,
                                                   const std::string& topic) {
  std::set<std::string> ids;
  int64_t offsets = 0;
  for (int32_t p = 0; p < kPartitions; ++p) {
    auto log = engine::EventLog::Open(
        engine::PartitionDir(data, p),
        {.mode = engine::OpenMode::kReadOnly,
         .extra_column_families = engine::ProjectionStore::ColumnFamilies()});
    EXPECT_TRUE(log.ok()) << "partition " << p << ": " << log.status();
    if (!log.ok()) continue;
    auto stored = (*log)->StoredOffset(topic, p);
    if (stored.ok() && stored->has_value()) offsets += **stored;
    EXPECT_TRUE((*log)
                    ->ReadRange(0, UINT64_MAX,
                                [&](const v1::LogRecord& r) {
                                  if (!r.has_event()) return true;
                                  EXPECT_TRUE(ids.insert(r.event().event_id()).second)
                                      << "twice: " << r.event().event_id();
                                  return true;
                                })
                    .ok());
  }
  return {ids, offsets};
}

class PartitionMoveTest : public ::testing::TestWithParam<KafkaKind> {};

TEST_P(PartitionMoveTest, ATakenOverPartitionStartsFromItsSnapshotAndConsumesOnlyTheTail) {
  auto cluster = TestCluster::Start(GetParam(), "PartitionMoveTest", kPartitions);
  ASSERT_NE(cluster, nullptr);
  const std::string topic = cluster->kafka().events_topic();
  TempDir root;
  const std::string shelf = root.Sub("shelf");
  const std::string plain_config = root.Sub("plain.conf"), config = root.Sub("guanxi.conf");
  cluster->WriteConfig(plain_config);
  cluster->WriteConfig(config);
  std::ofstream(config, std::ios::app) << "storage { snapshot_dir: \"" << shelf << "\" }\n";

  auto produce = [&](const std::string& file, const char* seed, const char* start) {
    ASSERT_EQ(RunToEnd({"simulate", "--customers", "60", "--days", "150", "--seed", seed,
                        "--start", start, "--output", file}),
              0);
    ASSERT_EQ(RunToEnd({"connect", "jsonl", "--input", file, "--brokers", cluster->brokers(),
                        "--topic", topic, "--config", config}),
              0);
  };
  const std::string first = root.Sub("first.jsonl"), second = root.Sub("second.jsonl");
  produce(first, "5", "2024-01-01");

  // a consumes everything and stops: each partition leaves its snapshot.
  const std::string data_a = root.Sub("a");
  ASSERT_EQ(RunToEnd({"run", "--brokers", cluster->brokers(), "--data", data_a, "--config",
                      config, "--until-caught-up"}),
            0);
  const auto [in_a, offsets_a] = Contents(data_a, topic);
  EXPECT_EQ(in_a, EventIdsOf(first));
  engine::SnapshotShelf read_shelf(shelf, 2);
  int64_t shelved = 0;
  for (int32_t p = 0; p < kPartitions; ++p) {
    const std::vector<int64_t> offsets = read_shelf.Offsets(p);
    ASSERT_EQ(offsets.size(), 1u) << "partition " << p;
    shelved += offsets.back();
  }
  EXPECT_EQ(shelved, offsets_a);  // each snapshot at the offset its store reached

  const bool trimmed = GetParam() == KafkaKind::kApache;
  if (trimmed) cluster->DeleteEveryEvent(kPartitions);
  produce(second, "6", "2024-06-01");
  const std::set<std::string> tail = EventIdsOf(second);

  // b has no store: it starts each partition from the shelf, and consumes the tail only.
  const std::string data_b = root.Sub("b"), b_err = root.Sub("b.err");
  ASSERT_EQ(RunToEnd({"run", "--brokers", cluster->brokers(), "--data", data_b, "--config",
                      config, "--until-caught-up"},
                     "", b_err),
            0)
      << ReadFile(b_err);
  EXPECT_THAT(ReadFile(b_err),
              HasSubstr(absl::StrCat("guanxi run: ", Thousands(tail.size()), " messages: ",
                                     Thousands(tail.size()), " appended")));
  auto [in_b, offsets_b] = Contents(data_b, topic);
  std::set<std::string> everything = EventIdsOf(first);
  everything.insert(tail.begin(), tail.end());
  EXPECT_EQ(in_b, everything);
  EXPECT_EQ(offsets_b, offsets_a + static_cast<int64_t>(tail.size()));
  EXPECT_EQ(RunToEnd({"audit", "verify", "--data", data_b}, root.Sub("verify.out")), 0);
  EXPECT_EQ(RunToEnd({"replay", "--data", data_b}, root.Sub("replay.out")), 0)
      << ReadFile(root.Sub("replay.out"));
  for (int32_t p = 0; p < kPartitions; ++p) {
    EXPECT_EQ(read_shelf.Offsets(p).size(), 2u) << "partition " << p << ": a's and b's";
  }
  std::printf("[ move ] %zu events in a's stores, shelved; b restored them and consumed the "
              "%zu after%s\n",
              in_a.size(), tail.size(), trimmed ? " (the topic no longer held the first)" : "");

  if (trimmed) {
    // Without the shelf, the beginning the topic no longer holds is missing: refused.
    const std::string c_err = root.Sub("c.err");
    EXPECT_NE(RunToEnd({"run", "--brokers", cluster->brokers(), "--data", root.Sub("c"),
                        "--config", plain_config, "--until-caught-up"},
                       "", c_err),
              0);
    EXPECT_THAT(ReadFile(c_err), HasSubstr("retention gap"));
  }
}

#if defined(GUANXI_APACHE_KAFKA)
INSTANTIATE_TEST_SUITE_P(ApacheKafka, PartitionMoveTest, ::testing::Values(KafkaKind::kApache),
                         [](const auto& param_info) { return testing::KindName(param_info.param); });
#else
INSTANTIATE_TEST_SUITE_P(Embedded, PartitionMoveTest, ::testing::Values(KafkaKind::kEmbedded),
                         [](const auto& param_info) { return testing::KindName(param_info.param); });
#endif

}  // namespace
}  // namespace guanxi
