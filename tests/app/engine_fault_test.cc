// guanxi run as a real process, SIGKILLed at random moments while it ingests 200,000
// events (5% exact re-sends, 1% garbage), and restarted each time. Afterwards: every distinct event is in the logs exactly once, each at the first
// offset that carried it; the dead letters are exactly the garbage (by source
// coordinates; a kill between a dead letter's acknowledgement and the append may repeat
// one, which is the documented at-least-once); every chain is intact.
//
// The stream is produced in five chunks; each engine run is killed inside its chunk, at
// a point the test picks by watching the stores' committed offsets through RocksDB
// secondaries (a bounded wait on a condition, not a timed sleep).
//
// Every test runs on the Kafka of tests/app/test_cluster.h: this file builds two
// binaries, engine_fault_test on librdkafka's mock cluster and kafka_fault_test
// (GUANXI_APACHE_KAFKA, ctest label `kafka`) on a real Apache Kafka of three brokers.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/config/config.h"
#include "engine/ingest/ingest_engine.h"
#include "engine/kafka/kafka.h"
#include "engine/kafka/topics.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/event_log.h"
#include "engine/storage/projection_store.h"
#include "engine/projection/replay.h"
#include "gtest/gtest.h"
#include "tests/app/published_facts.h"
#include "tests/app/spawn.h"
#include "tests/app/test_cluster.h"
#include "tests/engine/event_log_test_util.h"

namespace guanxi {
namespace {

using engine::testing::TempDir;
using testing::KafkaKind;
using testing::Spawn;
using testing::TestCluster;
constexpr int kPartitions = 4;
constexpr int kMessages = 200'000;
constexpr int kKills = 5;

// The live projections equal a replay of the log (up to the position they reached;
// with `complete`, that is the whole log).
void ExpectProjectionsMatchReplay(const std::string& data, bool complete) {
  const std::atomic<bool> stop{false};
  for (int32_t p = 0; p < kPartitions; ++p) {
    TempDir scratch;
    auto replay = engine::ReplayPartition({.data_dir = data,
                                           .partition = p,
                                           .scratch_dir = scratch.path(),
                                           .config = engine::DefaultEngineConfig()},
                                          stop);
    ASSERT_TRUE(replay.ok()) << replay.status();
    EXPECT_TRUE(replay->live_projections) << "partition " << p;
    EXPECT_TRUE(replay->differences.empty()) << "partition " << p << ": " << replay->differences[0];
    if (complete) {
      EXPECT_EQ(replay->replayed_to, replay->log_records) << "partition " << p;
    }
    EXPECT_GT(replay->stats.events, 0u);
  }
}

// Everything the projections derived reached Kafka: the ids of the facts in every
// store's facts family (relationship changes and churn-warning notices) equal the ids
// published on the changes and warnings topics (a message may be published twice; none
// may be missing).
void ExpectOutboxDelivered(const TestCluster& cluster, const std::string& data) {
  std::set<std::string> derived;
  for (int32_t p = 0; p < kPartitions; ++p) {
    engine::EventLogOptions options;
    options.extra_column_families = engine::ProjectionStore::ColumnFamilies();
    auto log = engine::EventLog::Open(engine::PartitionDir(data, p), options);
    ASSERT_TRUE(log.ok()) << log.status();
    auto store = std::move(*engine::ProjectionStore::Attach(log->get()));
    testing::CollectDerivedIds(*store, derived);
    std::vector<std::pair<uint64_t, v1::OutboxEntry>> left;
    ASSERT_TRUE(store->ReadOutbox(0, 10, &left).ok());
    EXPECT_TRUE(left.empty()) << "partition " << p << ": the outbox was not emptied";
  }
  ASSERT_FALSE(derived.empty());
  const testing::PublishedFacts published =
      testing::ReadPublishedFacts(cluster.brokers(), cluster.kafka(), derived);
  EXPECT_EQ(published.ids, derived);
  EXPECT_GT(published.warnings, 0)
      << "the stream raised no churn warning: the test proves less than it says";
  std::printf("[ outbox   ] %zu derived facts, %lld messages published for them (%lld warnings)\n",
              derived.size(), static_cast<long long>(published.messages),
              static_cast<long long>(published.warnings));
}

// The sum over partitions of the next offset each store committed, read through RocksDB
// secondaries that follow the running engine.
class CommittedWatcher {
 public:
  CommittedWatcher(std::string topic, std::string data, std::string scratch)
      : topic_(std::move(topic)), data_(std::move(data)), scratch_(std::move(scratch)) {}
  int64_t Read() {
    int64_t sum = 0;
    for (int32_t p = 0; p < kPartitions; ++p) {
      auto& log = logs_[p];
      if (!log) {
        auto opened = engine::EventLog::Open(engine::PartitionDir(data_, p),
                                             {.mode = engine::OpenMode::kSecondary,
                                              .secondary_dir = absl::StrCat(scratch_, "/", p)});
        if (!opened.ok()) continue;  // the engine has not created it yet
        log = std::move(*opened);
      } else if (!log->CatchUp().ok()) {
        continue;
      }
      auto stored = log->StoredOffset(topic_, p);
      if (stored.ok() && stored->has_value()) sum += **stored;
    }
    return sum;
  }

 private:
  std::string topic_, data_, scratch_;
  std::map<int32_t, std::unique_ptr<engine::EventLog>> logs_;
};

// A killed member is only replaced once its session expires: keep that short (Apache
// Kafka refuses less than its group.min.session.timeout.ms, 6 s by default).
void ShortenSessions(TestCluster& cluster) {
  const char* session = cluster.kind() == KafkaKind::kEmbedded ? "3000" : "6000";
  for (const auto& [name, value] :
       {std::pair{"session.timeout.ms", session}, std::pair{"heartbeat.interval.ms", "500"}}) {
    auto* property = cluster.config().mutable_kafka()->add_properties();
    property->set_name(name);
    property->set_value(value);
  }
}

// The fault tests' input: kMessages messages in chunks, 5% exact re-sends of earlier
// events, 1% garbage; remembers what sits at each partition/offset.
class FaultStream {
 public:
  explicit FaultStream(const TestCluster& cluster)
      : topic_(cluster.kafka().events_topic()), ids_(kMessages), rng_(20261122) {
    producer_ = std::move(*engine::Producer::Create(
        cluster.brokers(), {}, [this](const engine::Producer::Delivery& d) {
          ASSERT_TRUE(d.status.ok()) << d.status;
          at_[{d.partition, d.offset}] = ids_[d.cookie];
        }));
  }

  void Produce(int n) {
    for (int i = produced_; i < produced_ + n; ++i) {
      const uint64_t r = rng_() % 100;
      std::string key, value;
      if (r == 0) {
        ids_[static_cast<size_t>(i)] = "<garbage>";
        key = "junk";
        value = absl::StrCat("\x08\x96\x01 garbage ", i);
      } else {
        const int id = r <= 5 && fresh_ > 0
                           ? static_cast<int>(rng_() % static_cast<uint64_t>(fresh_))
                           : fresh_++;
        v1::Event e;
        e.set_event_id(absl::StrCat("e", id));
        e.set_customer_id(absl::StrCat("c", id % 499));
        // Ten minutes apart: each of the 499 customers has an event every ~3.5 days over
        // three years, every 4th of them a complaint never resolved, so complaint runs
        // and complaints past their service level raise churn warnings.
        e.mutable_occurred_at()->set_seconds(1'500'000'000 + int64_t{id} * 600);
        if ((id / 499) % 4 == 0) {
          e.mutable_complaint()->set_complaint_id(e.event_id());
          e.mutable_complaint()->set_severity(v1::SEVERITY_HIGH);
        } else {
          e.mutable_call()->set_call_id(e.event_id());
        }
        ids_[static_cast<size_t>(i)] = e.event_id();
        distinct_.insert(e.event_id());
        key = e.customer_id();
        value = e.SerializeAsString();  // a re-send is byte-identical
      }
      ASSERT_TRUE(producer_->Produce(topic_, key, value, static_cast<uint64_t>(i)).ok());
    }
    produced_ += n;
    ASSERT_EQ(producer_->Flush(absl::Seconds(120)), 0);
  }

  int produced() const { return produced_; }
  std::mt19937_64& rng() { return rng_; }

  // Every distinct event exactly once, at the first offset that carried it; chains intact.
  void ExpectLogsComplete(const std::string& data) {
    ASSERT_EQ(at_.size(), static_cast<size_t>(produced_));
    std::set<std::string> seen;
    for (int32_t p = 0; p < kPartitions; ++p) {
      auto log = std::move(*engine::EventLog::Open(engine::PartitionDir(data, p), {}));
      ASSERT_TRUE(log->ReadRange(0, UINT64_MAX,
                                 [&](const v1::LogRecord& r) {
                                   if (!r.has_event()) return true;  // a tick
                                   EXPECT_TRUE(seen.insert(r.event().event_id()).second)
                                       << "twice: " << r.event().event_id();
                                   const std::pair<int32_t, int64_t> where{p, r.source().offset()};
                                   EXPECT_EQ(at_[where], r.event().event_id());
                                   return true;
                                 })
                      .ok());
      auto verified = log->Verify();
      ASSERT_TRUE(verified.ok());
      EXPECT_TRUE(verified->ok) << verified->reason;
    }
    EXPECT_EQ(seen.size(), distinct_.size());
    EXPECT_EQ(seen, distinct_);
  }

  // The dead letters are the garbage, by source coordinates (at least once each).
  void ExpectDeadLettersAreTheGarbage(const TestCluster& cluster, const std::string& label) {
    std::set<std::pair<int32_t, int64_t>> garbage;
    for (const auto& [where, id] : at_) {
      if (id == "<garbage>") garbage.insert(where);
    }
    struct FromStart final : engine::RebalanceListener {
      std::vector<int64_t> OnAssigned(const std::vector<engine::TopicPartition>& ps) override {
        return std::vector<int64_t>(ps.size(), engine::kOffsetBeginning);
      }
      void OnRevoked(const std::vector<engine::TopicPartition>&) override {}
    } listener;
    auto consumer = std::move(*engine::Consumer::Create(
        cluster.brokers(), cluster.kafka().group_id() + "-dl-check", {}, &listener));
    ASSERT_TRUE(consumer->Subscribe({cluster.kafka().dead_letters_topic()}).ok());
    std::set<std::pair<int32_t, int64_t>> lettered;
    int64_t letters = 0;
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (lettered.size() < garbage.size() && absl::Now() < deadline) {
      for (const engine::KafkaMessage& m : consumer->Poll(1000, absl::Milliseconds(100))) {
        v1::DeadLetter letter;
        ASSERT_TRUE(letter.ParseFromString(m.value));
        lettered.insert({letter.source().partition(), letter.source().offset()});
        ++letters;
      }
    }
    EXPECT_EQ(lettered, garbage);
    std::printf(
        "[ %-8s ] %d messages, %zu distinct events, %zu garbage; %lld dead letters "
        "published for them\n",
        label.c_str(), produced_, distinct_.size(), garbage.size(),
        static_cast<long long>(letters));
    consumer->Close();
  }

 private:
  std::string topic_;
  std::vector<std::string> ids_;
  std::map<std::pair<int32_t, int64_t>, std::string> at_;
  std::set<std::string> distinct_;
  std::mt19937_64 rng_;
  int fresh_ = 0, produced_ = 0;
  std::unique_ptr<engine::Producer> producer_;
};

class EngineFaultTest : public ::testing::TestWithParam<KafkaKind> {
 protected:
  std::unique_ptr<TestCluster> StartCluster() {
    return TestCluster::Start(
        GetParam(), ::testing::UnitTest::GetInstance()->current_test_info()->name(), kPartitions);
  }
};

TEST_P(EngineFaultTest, SigkilledAtRandomMomentsLosesNothingAndDuplicatesNothing) {
  auto cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  const std::string brokers = cluster->brokers();
  FaultStream stream(*cluster);

  TempDir root;
  const std::string data = root.Sub("data");
  const std::string config_path = root.Sub("guanxi.conf");
  ShortenSessions(*cluster);
  cluster->WriteConfig(config_path);

  // The stream arrives in chunks; each engine run is killed somewhere inside the chunk
  // it is ingesting (a point chosen by the seeded generator, always reachable).
  constexpr int kChunk = kMessages / kKills;
  CommittedWatcher watcher(cluster->kafka().events_topic(), data, root.Sub("secondary"));
  for (int kill = 0; kill < kKills; ++kill) {
    SCOPED_TRACE(absl::StrCat("kill ", kill));
    stream.Produce(kChunk);
    const int64_t before = watcher.Read();
    const int64_t threshold = std::min<int64_t>(
        stream.produced(), before + 1000 + static_cast<int64_t>(stream.rng()() % (kChunk / 2)));
    const pid_t pid = Spawn({"run", "--brokers", brokers, "--data", data, "--config", config_path});
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    int64_t committed = before;
    while ((committed = watcher.Read()) < threshold && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(2));
    }
    std::printf("[ faults   ] kill %d: %lld of %d messages committed (aimed at %lld)\n", kill,
                static_cast<long long>(committed), stream.produced(),
                static_cast<long long>(threshold));
    ::kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFSIGNALED(status)) << "the engine exited by itself: " << status;
  }
  // The last run catches up and exits by itself.
  const pid_t last = Spawn(
      {"run", "--brokers", brokers, "--data", data, "--config", config_path, "--until-caught-up"});
  int status = 0;
  waitpid(last, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

  stream.ExpectLogsComplete(data);
  ExpectProjectionsMatchReplay(data, /*complete=*/true);
  ExpectOutboxDelivered(*cluster, data);
  stream.ExpectDeadLettersAreTheGarbage(*cluster, "faults");
}

// A broker down for 5 s mid-stream. On the mock it is made the group coordinator and
// it leads partitions: the engine loses its coordinator and some partitions' leader
// (ingestion stalls), and carries on when the broker returns. On Apache Kafka the
// broker's process is SIGKILLed and restarted: the partitions it led elect new
// leaders among the other two replicas, and so does the group coordinator's partition
// if it led that. Nothing is lost or appended twice.
TEST_P(EngineFaultTest, BrokerDownForFiveSecondsMidStream) {
  auto cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  ShortenSessions(*cluster);
  const v1::EngineConfig config = cluster->config();
  if (cluster->embedded() != nullptr) {
    ASSERT_TRUE(cluster->embedded()->SetGroupCoordinator(config.kafka().group_id(), 1).ok());
  }
  const std::string brokers = cluster->brokers();
  FaultStream stream(*cluster);
  stream.Produce(kMessages);

  TempDir root;
  const std::string data = root.Sub("data");
  std::atomic<bool> stop{false};
  absl::Status result;
  std::thread runner([&] {
    engine::IngestEngine engine({.brokers = brokers, .data_dir = data, .config = config});
    result = engine.Run(stop);
  });
  CommittedWatcher watcher(config.kafka().events_topic(), data, root.Sub("secondary"));
  const absl::Time deadline = absl::Now() + absl::Seconds(180);
  while (watcher.Read() < kMessages / 40 && absl::Now() < deadline)
    absl::SleepFor(absl::Milliseconds(2));
  cluster->BrokerDown(0);
  const int64_t down_at = watcher.Read();
  std::printf("[ outage   ] broker 0 down at %lld committed\n", static_cast<long long>(down_at));
  EXPECT_LT(down_at, stream.produced());  // mid-stream
  absl::SleepFor(absl::Seconds(5));       // the outage itself (a fault's length, not a wait)
  cluster->BrokerUp(0);
  std::printf("[ outage   ] broker 0 up again at %lld committed\n",
              static_cast<long long>(watcher.Read()));
  while (watcher.Read() < stream.produced() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  stop = true;
  runner.join();
  EXPECT_TRUE(result.ok()) << result;

  stream.ExpectLogsComplete(data);
  ExpectProjectionsMatchReplay(data, /*complete=*/false);
  stream.ExpectDeadLettersAreTheGarbage(*cluster, "outage");
}

// Scale-out: a second instance (its own data directory) joins mid-stream and the group
// splits the partitions; then the first is SIGKILLed and the second takes all of them
// over, rebuilding from the topic the stores it never had. It ends with exactly the log
// content a single instance would have.
TEST_P(EngineFaultTest, SecondInstanceJoinsThenTheFirstIsKilledAndTheSurvivorEndsComplete) {
  auto cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  const std::string brokers = cluster->brokers();
  FaultStream stream(*cluster);

  TempDir root;
  const std::string config_path = root.Sub("guanxi.conf");
  ShortenSessions(*cluster);
  cluster->WriteConfig(config_path);
  const std::string data_a = root.Sub("a"), data_b = root.Sub("b");
  const std::string& topic = cluster->kafka().events_topic();
  CommittedWatcher watch_a(topic, data_a, root.Sub("sa")), watch_b(topic, data_b, root.Sub("sb"));
  const absl::Time deadline = absl::Now() + absl::Seconds(180);

  stream.Produce(kMessages / 2);
  const pid_t a = Spawn({"run", "--brokers", brokers, "--data", data_a, "--config", config_path});
  while (watch_a.Read() < kMessages / 10 && absl::Now() < deadline)
    absl::SleepFor(absl::Milliseconds(2));
  const pid_t b = Spawn({"run", "--brokers", brokers, "--data", data_b, "--config", config_path});
  stream.Produce(kMessages / 2);
  // b has joined once it committed something of its own share.
  while (watch_b.Read() == 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  std::printf("[ scaleout ] b joined: a committed %lld, b %lld of %d\n",
              static_cast<long long>(watch_a.Read()), static_cast<long long>(watch_b.Read()),
              stream.produced());
  ::kill(a, SIGKILL);
  int status = 0;
  waitpid(a, &status, 0);
  // b alone now: every partition complete in b's own stores.
  while (watch_b.Read() < stream.produced() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  std::printf("[ scaleout ] a killed; b committed %lld of %d\n",
              static_cast<long long>(watch_b.Read()), stream.produced());
  ::kill(b, SIGTERM);
  waitpid(b, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

  stream.ExpectLogsComplete(data_b);
  ExpectProjectionsMatchReplay(data_b, /*complete=*/false);
  // a's stores are stale but consistent.
  for (int32_t p = 0; p < kPartitions; ++p) {
    auto log = engine::EventLog::Open(engine::PartitionDir(data_a, p), {});
    if (!log.ok()) continue;
    auto verified = (*log)->Verify();
    ASSERT_TRUE(verified.ok());
    EXPECT_TRUE(verified->ok) << verified->reason;
  }
  stream.ExpectDeadLettersAreTheGarbage(*cluster, "scaleout");
}

#if defined(GUANXI_APACHE_KAFKA)
INSTANTIATE_TEST_SUITE_P(ApacheKafka, EngineFaultTest, ::testing::Values(KafkaKind::kApache),
                         [](const auto& param_info) { return testing::KindName(param_info.param); });
#else
INSTANTIATE_TEST_SUITE_P(Embedded, EngineFaultTest, ::testing::Values(KafkaKind::kEmbedded),
                         [](const auto& param_info) { return testing::KindName(param_info.param); });
#endif

}  // namespace
}  // namespace guanxi
