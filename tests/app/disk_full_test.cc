// Failure modes of docs/operations.md, run for real:
//
// DiskFullTest: `guanxi run` with its data directory on a small tmpfs this test mounts,
// filling it. The engine stops by itself with exit 1 and a message naming the directory
// and its free space; a restart on the still-full disk is refused the same way; nothing
// it had stored is lost, nothing is half-written (`audit verify`); once the filesystem is
// larger, a restart resumes to the end: every event exactly once, `audit verify` and
// `replay` clean. Needs root (mount(2)); skipped otherwise.
//
// OutboxCapTest: the output topics have no leader (the broker does not take the outbox)
// for longer than the outbox cap lasts: the outbox stops at workers.outbox_max_entries,
// the partitions' ingestion pauses, /metrics says so; once the topics have a leader
// again everything is delivered (at least once, as ever: docs/consumers.md).
//
// Both on librdkafka's mock cluster in this process, with fixed seeds.
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/config/config.h"
#include "engine/ingest/ingest_engine.h"
#include "engine/kafka/kafka.h"
#include "engine/projection/projector.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/event_log.h"
#include "engine/storage/projection_store.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "tests/app/published_facts.h"
#include "tests/app/spawn.h"
#include "tests/app/test_cluster.h"
#include "tests/engine/event_log_test_util.h"

namespace guanxi {
namespace {

using engine::testing::TempDir;
using testing::KafkaKind;
using testing::RunToEnd;
using testing::TestCluster;
constexpr int kPartitions = 2;

// A tmpfs of a fixed size mounted on a fresh directory under /tmp; unmounted (and the
// directory removed) on destruction, whatever the test did.
class Tmpfs {
 public:
  explicit Tmpfs(int mib) {
    std::string pattern = "/tmp/guanxi-disk-full-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) return;
    path_ = pattern;
    mounted_ = mount("tmpfs", path_.c_str(), "tmpfs", 0, absl::StrCat("size=", mib, "m").c_str()) == 0;
  }
  ~Tmpfs() {
    if (mounted_) umount2(path_.c_str(), MNT_DETACH);
    if (!path_.empty()) rmdir(path_.c_str());
  }
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& path() const { return path_; }
  // Makes it `mib` large, its files as they are.
  bool Resize(int mib) {
    return mount(nullptr, path_.c_str(), nullptr, MS_REMOUNT,
                 absl::StrCat("size=", mib, "m").c_str()) == 0;
  }

 private:
  std::string path_;
  bool mounted_ = false;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// `config` as a file for --config (the brokers come from --brokers).
void WriteConfig(v1::EngineConfig config, const std::string& path) {
  config.mutable_kafka()->clear_brokers();
  std::string text;
  ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(config, &text));
  std::ofstream(path) << text;
}

// `n` events of 997 customers, a call or (every 4th customer's) a complaint each,
// ten minutes apart; their ids.
std::set<std::string> ProduceEvents(const TestCluster& cluster, int n) {
  std::set<std::string> ids;
  auto producer = engine::Producer::Create(cluster.brokers(), {},
                                           [](const engine::Producer::Delivery& d) {
                                             EXPECT_TRUE(d.status.ok()) << d.status;
                                           });
  EXPECT_TRUE(producer.ok()) << producer.status();
  if (!producer.ok()) return ids;
  std::mt19937_64 rng(20261206);
  for (int i = 0; i < n; ++i) {
    v1::Event e;
    e.set_event_id(absl::StrCat("e", i));
    const int customer = static_cast<int>(rng() % 997);
    e.set_customer_id(absl::StrCat("c", customer));
    e.mutable_occurred_at()->set_seconds(1'700'000'000 + int64_t{i} * 600);
    if (customer % 4 == 0) {
      e.mutable_complaint()->set_complaint_id(e.event_id());
      e.mutable_complaint()->set_severity(v1::SEVERITY_HIGH);
    } else {
      e.mutable_call()->set_call_id(e.event_id());
      e.mutable_call()->set_reason(std::string(100, 'x'));  // bulk, for the disk to fill
    }
    ids.insert(e.event_id());
    EXPECT_TRUE(producer.value()
                    ->Produce(cluster.kafka().events_topic(), e.customer_id(),
                              e.SerializeAsString(), static_cast<uint64_t>(i))
                    .ok());
  }
  EXPECT_EQ(producer.value()->Flush(absl::Seconds(120)), 0);
  return ids;
}

// One partition's log as stored: its event ids in position order and the stored offset.
struct StoredLog {
  std::vector<std::string> events;
  int64_t next_offset = -1;
  int64_t max_source_offset = -1;
};

StoredLog ReadLog(const std::string& data, int32_t partition, const std::string& topic) {
  StoredLog stored;
  auto log = engine::EventLog::Open(engine::PartitionDir(data, partition),
                                    {.mode = engine::OpenMode::kReadOnly});
  EXPECT_TRUE(log.ok()) << log.status();
  if (!log.ok()) return stored;
  EXPECT_TRUE((*log)
                  ->ReadRange(0, UINT64_MAX,
                              [&](const v1::LogRecord& r) {
                                if (!r.has_event()) return true;
                                stored.events.push_back(r.event().event_id());
                                stored.max_source_offset =
                                    std::max(stored.max_source_offset, r.source().offset());
                                return true;
                              })
                  .ok());
  auto offset = (*log)->StoredOffset(topic, partition);
  EXPECT_TRUE(offset.ok());
  if (offset.ok() && offset->has_value()) stored.next_offset = **offset;
  return stored;
}

TEST(DiskFullTest, StopsCleanlyOnAFullDiskAndResumesWhenThereIsRoom) {
  Tmpfs disk(64);
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (not root?)";
  auto cluster = TestCluster::Start(KafkaKind::kEmbedded, "DiskFullTest", kPartitions);
  ASSERT_NE(cluster, nullptr);
  const std::string topic = cluster->kafka().events_topic();
  // Each store takes about 22 MiB as it opens (RocksDB preallocates its WAL, 1.1 x the
  // 16 MiB memtable, and its MANIFEST, 4 MiB: docs/storage.md), so two leave about
  // 20 MiB of the 64 for data and the floor.
  v1::EngineConfig config = cluster->config();
  config.mutable_storage()->set_min_free_bytes(int64_t{8} << 20);
  TempDir root;
  const std::string config_path = root.Sub("guanxi.conf");
  WriteConfig(config, config_path);
  const std::string data = disk.path() + "/data";
  const std::set<std::string> events = ProduceEvents(*cluster, 40'000);
  const std::vector<std::string> run = {"run",  "--brokers", cluster->brokers(), "--data",
                                        data,   "--config",  config_path,        "--until-caught-up"};

  // It fills the disk and stops by itself.
  ASSERT_EQ(RunToEnd(run, root.Sub("run1.out"), root.Sub("run1.err")), 1)
      << "the engine did not stop on a full disk (make the stream larger?): "
      << ReadFile(root.Sub("run1.err"));
  const std::string stopped = ReadFile(root.Sub("run1.err"));
  EXPECT_NE(stopped.find(absl::StrCat("the data directory ", data)), std::string::npos) << stopped;
  EXPECT_NE(stopped.find("MiB free; guanxi needs at least 8.0 MiB there"), std::string::npos)
      << stopped;
  std::printf("[ stopped  ] %s", stopped.substr(stopped.rfind("guanxi: ")).c_str());

  // Closed, the stores gave back the room RocksDB had preallocated; something else takes
  // it (a file of ours, leaving 4 MiB): on that disk a restart is refused, as clearly.
  const absl::StatusOr<uint64_t> free_bytes = engine::FreeBytes(data);
  ASSERT_TRUE(free_bytes.ok()) << free_bytes.status();
  const std::string filler = disk.path() + "/filler";
  {
    std::ofstream out(filler, std::ios::binary);
    const std::string mib(1 << 20, '\0');
    for (uint64_t left = *free_bytes; left > (uint64_t{5} << 20); left -= 1 << 20) out << mib;
  }
  ASSERT_LT(*engine::FreeBytes(data), uint64_t{8} << 20);
  ASSERT_EQ(RunToEnd(run, root.Sub("run2.out"), root.Sub("run2.err")), 1);
  const std::string refused = ReadFile(root.Sub("run2.err"));
  EXPECT_NE(refused.find(absl::StrCat("the data directory ", data)), std::string::npos) << refused;
  EXPECT_NE(refused.find("needs at least 8.0 MiB"), std::string::npos) << refused;

  // Room again. What was stored is whole: the chains verify, and each offset was stored
  // with the records it covers (the next offset is one past the last record's).
  ASSERT_TRUE(std::filesystem::remove(filler));
  ASSERT_TRUE(disk.Resize(160));
  EXPECT_EQ(RunToEnd({"audit", "verify", "--data", data}), 0);
  std::map<int32_t, StoredLog> before;
  size_t stored_events = 0;
  for (int32_t p = 0; p < kPartitions; ++p) {
    before[p] = ReadLog(data, p, topic);
    EXPECT_EQ(before[p].next_offset, before[p].max_source_offset + 1) << "partition " << p;
    stored_events += before[p].events.size();
  }
  EXPECT_GT(stored_events, 0u);
  EXPECT_LT(stored_events, events.size());  // it did stop part way

  // A restart resumes to the end: what was stored is kept as it was, and every event
  // is in the logs exactly once.
  ASSERT_EQ(RunToEnd(run, root.Sub("run3.out"), root.Sub("run3.err")), 0)
      << ReadFile(root.Sub("run3.err"));
  std::set<std::string> seen;
  for (int32_t p = 0; p < kPartitions; ++p) {
    const StoredLog after = ReadLog(data, p, topic);
    ASSERT_GE(after.events.size(), before[p].events.size());
    EXPECT_TRUE(std::equal(before[p].events.begin(), before[p].events.end(), after.events.begin()))
        << "partition " << p << ": what was stored before the stop changed";
    for (const std::string& id : after.events) EXPECT_TRUE(seen.insert(id).second) << "twice: " << id;
  }
  EXPECT_EQ(seen, events);
  EXPECT_EQ(RunToEnd({"audit", "verify", "--data", data}), 0);
  EXPECT_EQ(RunToEnd({"replay", "--data", data, "--config", config_path},
                     root.Sub("replay.out"), root.Sub("replay.err")),
            0)
      << ReadFile(root.Sub("replay.out"));
}

// Outbox depth of each partition the engine owns, as /metrics computes it.
std::map<int32_t, uint64_t> OutboxDepths(const engine::IngestEngine& engine) {
  std::map<int32_t, uint64_t> depths;
  for (const engine::PartitionView& view : engine.Partitions()) {
    auto checkpoint = view.store->ReadCheckpoint();
    std::vector<std::pair<uint64_t, v1::OutboxEntry>> first;
    if (!checkpoint.ok() || !view.store->ReadOutbox(0, 1, &first).ok()) continue;
    depths[view.partition] =
        first.empty() ? 0 : checkpoint->next_outbox_sequence() - first.front().first;
  }
  return depths;
}

TEST(OutboxCapTest, TheBrokerDownLongPausesIngestionAtTheCapAndLosesNothing) {
  auto cluster = TestCluster::Start(KafkaKind::kEmbedded, "OutboxCapTest", kPartitions);
  ASSERT_NE(cluster, nullptr);
  const v1::KafkaConfig kafka = cluster->kafka();
  // The output topics have no leader: nothing of the outbox can be delivered.
  for (const std::string& t : {kafka.warnings_topic(), kafka.changes_topic()}) {
    for (int32_t p = 0; p < kPartitions; ++p) {
      ASSERT_TRUE(cluster->embedded()->SetPartitionLeader(t, p, -1).ok());
    }
  }
  constexpr int64_t kCap = 300;
  v1::EngineConfig config = cluster->config();
  config.mutable_workers()->set_outbox_max_entries(kCap);
  const std::set<std::string> events = ProduceEvents(*cluster, 20'000);

  TempDir root;
  std::atomic<bool> stop{false};
  absl::Status result;
  engine::IngestEngine engine(
      {.brokers = cluster->brokers(), .data_dir = root.Sub("data"), .config = config});
  std::thread runner([&] { result = engine.Run(stop); });

  // Every partition comes to its cap and waits there.
  auto all_full = [&] {
    const engine::EngineStatus status = engine.Status();
    if (status.partitions.size() != kPartitions) return false;
    for (const auto& p : status.partitions) {
      if (!p.outbox_full) return false;
    }
    return true;
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (!all_full() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  ASSERT_TRUE(all_full()) << "the outboxes never reached their cap";
  // Bounded at the cap, passed by what one record derives at most: a population model's
  // record reclassifies every customer of the partition (fewer than 997 here), and when
  // one lands depends on timing (docs/scoring.md). Ingestion paused well before the end
  // of the stream.
  const engine::EngineStatus paused = engine.Status();
  for (const auto& [partition, depth] : OutboxDepths(engine)) {
    EXPECT_GE(depth, static_cast<uint64_t>(kCap)) << "partition " << partition;
    EXPECT_LT(depth, static_cast<uint64_t>(kCap) + 997) << "partition " << partition;
  }
  int64_t consumed = 0;
  for (const auto& p : paused.partitions) {
    consumed += p.next_offset;
    EXPECT_LE(p.log_records - p.projected,
              engine::PartitionProjector::kModelLandingDistance + 1)
        << "the writer ran ahead of its paused projector";
  }
  EXPECT_LT(consumed, static_cast<int64_t>(events.size()));
  std::printf("[ paused   ] %lld of %zu messages consumed at the cap\n",
              static_cast<long long>(consumed), events.size());

  // The broker takes messages again: everything is consumed and delivered.
  for (const std::string& t : {kafka.warnings_topic(), kafka.changes_topic()}) {
    for (int32_t p = 0; p < kPartitions; ++p) {
      ASSERT_TRUE(cluster->embedded()->SetPartitionLeader(t, p, 1).ok());
    }
  }
  auto drained = [&] {
    const engine::EngineStatus status = engine.Status();
    int64_t next = 0;
    for (const auto& p : status.partitions) {
      if (p.outbox_full || p.projected < p.log_records) return false;
      next += p.next_offset;
    }
    if (next < static_cast<int64_t>(events.size())) return false;
    for (const auto& [partition, depth] : OutboxDepths(engine)) {
      if (depth > 0) return false;
    }
    return true;
  };
  const absl::Time end = absl::Now() + absl::Seconds(180);
  while (!drained() && absl::Now() < end) absl::SleepFor(absl::Milliseconds(20));
  EXPECT_TRUE(drained()) << "the engine did not resume after the broker came back";

  // Every derived fact reached its topic.
  std::set<std::string> derived;
  for (const engine::PartitionView& view : engine.Partitions()) {
    testing::CollectDerivedIds(*view.store, derived);
  }
  stop = true;
  runner.join();
  EXPECT_TRUE(result.ok()) << result;
  ASSERT_GT(derived.size(), static_cast<size_t>(kCap * kPartitions));

  // Delivery is at least once (docs/consumers.md: consumers deduplicate on the ids); every
  // fact is there, none is lost to the outage.
  const testing::PublishedFacts published =
      testing::ReadPublishedFacts(cluster->brokers(), kafka, derived);
  EXPECT_EQ(published.ids, derived);
  std::printf("[ outbox   ] %zu derived facts, all published (%lld messages)\n", derived.size(),
              static_cast<long long>(published.messages));
}

}  // namespace
}  // namespace guanxi
