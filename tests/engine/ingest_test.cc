#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <zlib.h>

#include "absl/strings/str_cat.h"
#include "engine/config/config.h"
#include "engine/ingest/ingest_engine.h"
#include "engine/ingest/ingestor.h"
#include "engine/kafka/topics.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/projection_store.h"
#include "gmock/gmock.h"
#include "engine/kafka/partitioner.h"
#include "gtest/gtest.h"
#include "tests/engine/event_log_test_util.h"

namespace guanxi::engine {
namespace {

using ::guanxi::engine::testing::TempDir;

// The ingestors' wall clock: 2027-01-15, after every event here (1.7e9 s: 2023-11).
constexpr int64_t kNowMillis = 1'800'000'000'000;

std::string EventBytes(const std::string& id, const std::string& customer) {
  v1::Event e;
  e.set_event_id(id);
  e.set_customer_id(customer);
  e.mutable_occurred_at()->set_seconds(1'700'000'000);
  e.mutable_call()->set_call_id(id);
  return e.SerializeAsString();
}

class FakeSideOutput final : public SideOutput {
 public:
  absl::Status DeadLetter(const v1::DeadLetter& letter) override {
    pending.push_back(letter);
    return absl::OkStatus();
  }
  absl::Status Forward(int32_t partition, std::string_view key, std::string_view value) override {
    pending_forwards.push_back({partition, std::string(key), std::string(value)});
    return absl::OkStatus();
  }
  absl::Status Flush() override {
    if (!flush_status.ok()) {
      pending.clear();
      return flush_status;
    }
    for (auto& l : pending) acknowledged.push_back(std::move(l));
    for (auto& f : pending_forwards) forwarded.push_back(std::move(f));
    pending.clear();
    pending_forwards.clear();
    return absl::OkStatus();
  }
  struct Forwarded {
    int32_t partition;
    std::string key, value;
  };
  std::vector<v1::DeadLetter> pending, acknowledged;
  std::vector<Forwarded> pending_forwards, forwarded;
  absl::Status flush_status;
};

// A consumer's listener that reads every partition it is given from its start.
struct FromTheStart final : RebalanceListener {
  std::vector<int64_t> OnAssigned(const std::vector<TopicPartition>& ps) override {
    return std::vector<int64_t>(ps.size(), kOffsetBeginning);
  }
  void OnRevoked(const std::vector<TopicPartition>&) override {}
};

// The first `count` messages of guanxi.dead-letters, read from its start (fewer if a
// minute passes first).
std::vector<KafkaMessage> ReadDeadLetters(const std::string& brokers, size_t count) {
  FromTheStart listener;
  auto consumer = std::move(*Consumer::Create(brokers, "dl-reader", {}, &listener));
  std::vector<KafkaMessage> letters;
  EXPECT_TRUE(consumer->Subscribe({"guanxi.dead-letters"}).ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (letters.size() < count && absl::Now() < deadline) {
    for (KafkaMessage& m : consumer->Poll(1000, absl::Milliseconds(100))) {
      letters.push_back(std::move(m));
    }
  }
  consumer->Close();
  return letters;
}

struct IngestorFixture {
  TempDir dir;
  std::unique_ptr<EventLog> log;
  FakeSideOutput dead;
  std::unique_ptr<PartitionIngestor> ingestor;
  IngestorFixture() {
    log = std::move(*EventLog::Open(dir.path(), {}));
    Reopen();
  }
  void Reopen() {
    ingestor = std::move(*PartitionIngestor::Create("guanxi.events", 0, log.get(), &dead, {},
                                                    [] { return kNowMillis; }));
  }
};

TEST(PartitionIngestorTest, AppendsDeadLettersAndStoresTheNextOffset) {
  IngestorFixture f;
  const std::string a = EventBytes("a", "c1"), b = EventBytes("b", "c2");
  std::vector<ConsumedMessage> batch = {
      {0, "c1", a}, {1, "", "garbage"}, {2, "c2", b}, {3, "c1", a}};  // offset 3 re-sends event a
  auto stats = f.ingestor->Process(batch);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->messages, 4);
  EXPECT_EQ(stats->appended, 2);
  EXPECT_EQ(stats->duplicates, 1);
  EXPECT_EQ(stats->dead_letters, 1);
  ASSERT_EQ(f.dead.acknowledged.size(), 1u);
  EXPECT_EQ(f.dead.acknowledged[0].source().offset(), 1);
  EXPECT_EQ(f.dead.acknowledged[0].original_value(), "garbage");
  EXPECT_EQ(f.ingestor->next_offset(), 4);
  EXPECT_EQ(**f.log->StoredOffset("guanxi.events", 0), 4);
  EXPECT_EQ(f.log->next_position(), 2u);
}

TEST(PartitionIngestorTest, AnEventAwayFromHomeIsForwardedThereNotAppended) {
  TempDir dir;
  auto log = std::move(*EventLog::Open(dir.path(), {}));
  FakeSideOutput side;
  constexpr int32_t kTopicPartitions = 8;
  // Customers whose home (murmur2) is partition 2, and one whose home is elsewhere.
  std::string home, away;
  for (int i = 0; home.empty() || away.empty(); ++i) {
    const std::string c = absl::StrCat("C-", i);
    (KeyPartition(c, kTopicPartitions) == 2 ? home : away) = c;
  }
  auto ingestor = std::move(*PartitionIngestor::Create(
      "guanxi.events", 2, log.get(), &side, {}, [] { return kNowMillis; }, kTopicPartitions));
  const std::string at_home = EventBytes("h", home), elsewhere = EventBytes("w", away);
  std::vector<ConsumedMessage> batch = {{0, home, at_home}, {1, away, elsewhere}};
  auto stats = ingestor->Process(batch);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->dead_letters, 0);
  EXPECT_EQ(stats->appended, 1);
  EXPECT_EQ(stats->forwarded, 1);
  ASSERT_EQ(side.forwarded.size(), 1u);
  EXPECT_EQ(side.forwarded[0].partition, KeyPartition(away, kTopicPartitions));
  EXPECT_EQ(side.forwarded[0].key, away);
  EXPECT_EQ(side.forwarded[0].value, elsewhere);  // the bytes as they came
  EXPECT_EQ(log->next_position(), 1u);
  EXPECT_EQ(**log->StoredOffset("guanxi.events", 2), 2);

  // Not acknowledged: nothing stored, the offset stays, so it is forwarded again.
  side.flush_status = absl::UnavailableError("broker down");
  std::vector<ConsumedMessage> next = {{2, away, elsewhere}};
  EXPECT_FALSE(ingestor->Process(next).ok());
  EXPECT_EQ(ingestor->next_offset(), 2);
  EXPECT_EQ(**log->StoredOffset("guanxi.events", 2), 2);
}

// An event the topic took but the engine's producer cannot send (over its
// message.max.bytes) cannot be forwarded home: it was produced, refused with "Message
// size too large", and the partition stopped at every restart. It is dead-lettered, with
// its bytes cut to fit; the events around it go on.
TEST(PartitionIngestorTest, AnEventTooLargeToForwardIsDeadLetteredAndTheRestGoesOn) {
  TempDir dir;
  auto log = std::move(*EventLog::Open(dir.path(), {}));
  FakeSideOutput side;
  constexpr int32_t kTopicPartitions = 8;
  std::string away;
  for (int i = 0; away.empty(); ++i) {
    const std::string c = absl::StrCat("C-", i);
    if (KeyPartition(c, kTopicPartitions) != 2) away = c;
  }
  constexpr size_t kProducerMax = 2'000;
  auto ingestor = std::move(*PartitionIngestor::Create(
      "guanxi.events", 2, log.get(), &side, DecodeLimits{.max_message_bytes = kProducerMax},
      [] { return kNowMillis; }, kTopicPartitions));
  v1::Event big;
  big.set_event_id("big");
  big.set_customer_id(away);
  big.mutable_occurred_at()->set_seconds(1'700'000'000);
  big.mutable_complaint()->set_description(std::string(kProducerMax, 'x'));
  const std::string big_bytes = big.SerializeAsString(), small = EventBytes("s", away);
  ASSERT_GT(big_bytes.size() + away.size(), kProducerMax);
  std::vector<ConsumedMessage> batch = {{0, away, big_bytes}, {1, away, small}};
  auto stats = ingestor->Process(batch);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->dead_letters, 1);
  EXPECT_EQ(stats->forwarded, 1);
  ASSERT_EQ(side.acknowledged.size(), 1u);
  const v1::DeadLetter& letter = side.acknowledged[0];
  EXPECT_EQ(letter.reason_code(), kReasonOversized);
  EXPECT_THAT(letter.reason(),
              ::testing::HasSubstr(absl::StrCat("the event belongs to partition ",
                                     KeyPartition(away, kTopicPartitions),
                                     " and cannot be forwarded there")));
  EXPECT_EQ(letter.source().offset(), 0);
  EXPECT_LE(letter.ByteSizeLong() + away.size(), kProducerMax);  // the letter itself fits
  ASSERT_EQ(side.forwarded.size(), 1u);
  EXPECT_EQ(side.forwarded[0].value, small);
  EXPECT_EQ(**log->StoredOffset("guanxi.events", 2), 2);
}

// A typo'd year (2207 for 2027) would become its source's latest event time: an event
// more than kafka.max_future_seconds after the wall clock at ingest is dead-lettered.
TEST(PartitionIngestorTest, AnEventFromTheFarFutureIsDeadLettered) {
  IngestorFixture f;
  v1::Event typo;
  typo.set_event_id("typo");
  typo.set_customer_id("c1");
  typo.mutable_occurred_at()->set_seconds(kNowMillis / 1000 + DecodeLimits{}.max_future_seconds + 1);
  typo.mutable_call()->set_call_id("typo");
  v1::Event soon = typo;
  soon.set_event_id("soon");
  soon.mutable_occurred_at()->set_seconds(kNowMillis / 1000 + DecodeLimits{}.max_future_seconds);
  const std::string typo_bytes = typo.SerializeAsString(), soon_bytes = soon.SerializeAsString();
  std::vector<ConsumedMessage> batch = {{0, "c1", typo_bytes}, {1, "c1", soon_bytes}};
  auto stats = f.ingestor->Process(batch);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->appended, 1);  // at the limit: kept
  ASSERT_EQ(f.dead.acknowledged.size(), 1u);
  const v1::DeadLetter& letter = f.dead.acknowledged[0];
  EXPECT_EQ(letter.reason_code(), kReasonFutureOccurredAt);
  EXPECT_EQ(letter.reason(),
            "occurred_at 2027-02-14T08:00:01Z is more than kafka.max_future_seconds (2592000 s) "
            "after the engine's clock at ingest (2027-01-15T08:00:00Z)");
  EXPECT_EQ(letter.original_value(), typo_bytes);
}

TEST(PartitionIngestorTest, RedeliveredOffsetsAreSkippedAfterARestart) {
  IngestorFixture f;
  const std::string a = EventBytes("a", "c1");
  std::vector<ConsumedMessage> batch = {{0, "c1", a}, {1, "", "garbage"}};
  ASSERT_TRUE(f.ingestor->Process(batch).ok());
  f.Reopen();  // a restart resumes from the stored offset
  EXPECT_EQ(f.ingestor->next_offset(), 2);
  auto stats = f.ingestor->Process(batch);  // Kafka delivers the same offsets again
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->messages, 0);
  EXPECT_EQ(f.dead.acknowledged.size(), 1u);  // no second dead letter
  EXPECT_EQ(f.log->next_position(), 1u);
}

TEST(PartitionIngestorTest, UnacknowledgedDeadLetterStoresNothing) {
  IngestorFixture f;
  f.dead.flush_status = absl::UnavailableError("broker down");
  const std::string a = EventBytes("a", "c1");
  std::vector<ConsumedMessage> batch = {{0, "c1", a}, {1, "", "garbage"}};
  EXPECT_EQ(f.ingestor->Process(batch).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(f.log->next_position(), 0u);
  EXPECT_FALSE(f.log->StoredOffset("guanxi.events", 0)->has_value());
  EXPECT_EQ(f.ingestor->next_offset(), -1);
}

// The engine against the embedded cluster: events with 5% exact re-sends and 1% garbage,
// ingested, then more of the same, ingested by a restarted engine. Every distinct event
// is appended once, the dead letters are exactly the garbage, the chains are intact.
TEST(IngestEngineTest, EffectivelyOnceWithResendsGarbageAndARestart) {
  auto cluster = std::move(*EmbeddedCluster::Start(3));
  v1::EngineConfig config = DefaultEngineConfig();
  ASSERT_TRUE(CreateGuanxiTopics(*cluster, config.kafka(), 4).ok());
  const std::string brokers = cluster->bootstrap_servers();
  auto producer = std::move(*Producer::Create(brokers, {}, nullptr));

  std::set<std::string> distinct;
  int garbage = 0, next_id = 0;
  uint64_t rng = 42;
  auto next_random = [&] {
    return (rng = rng * 6364136223846793005ull + 1442695040888963407ull) >> 33;
  };
  auto produce = [&](int n) {
    for (int i = 0; i < n; ++i) {
      const uint64_t r = next_random() % 100;
      if (r == 0) {
        ASSERT_TRUE(producer->Produce("guanxi.events", "junk", "\xff\xfe not protobuf", 0).ok());
        ++garbage;
        continue;
      }
      int id = r <= 5 && next_id > 0
                   ? static_cast<int>(next_random() % static_cast<uint64_t>(next_id))
                   : next_id++;
      const std::string customer = absl::StrCat("c", id % 97);
      const std::string event_id = absl::StrCat("e", id);
      distinct.insert(event_id);
      ASSERT_TRUE(
          producer->Produce("guanxi.events", customer, EventBytes(event_id, customer), 0).ok());
    }
    ASSERT_EQ(producer->Flush(absl::Seconds(60)), 0);
  };

  TempDir data;
  auto run = [&] {
    std::atomic<bool> stop{false};
    IngestEngine engine(
        {.brokers = brokers, .data_dir = data.path(), .config = config, .until_caught_up = true});
    EXPECT_TRUE(engine.Run(stop).ok());
    return engine.totals();
  };
  produce(10000);
  IngestStats first = run();
  produce(5000);
  IngestStats second = run();
  EXPECT_EQ(first.messages + second.messages, 15000);  // nothing consumed twice
  EXPECT_EQ(first.dead_letters + second.dead_letters, garbage);
  EXPECT_EQ(static_cast<size_t>(first.appended + second.appended), distinct.size());

  std::set<std::string> in_logs;
  auto partitions = ListPartitions(data.path());
  ASSERT_TRUE(partitions.ok()) << partitions.status();
  for (int32_t p : *partitions) {
    auto log = std::move(*EventLog::Open(PartitionDir(data.path(), p), {}));
    ASSERT_TRUE(log->ReadRange(0, UINT64_MAX,
                               [&](const v1::LogRecord& r) {
                                 EXPECT_TRUE(in_logs.insert(r.event().event_id()).second)
                                     << r.event().event_id();
                                 EXPECT_EQ(r.source().partition(), p);
                                 return true;
                               })
                    .ok());
    auto verified = log->Verify();
    ASSERT_TRUE(verified.ok());
    EXPECT_TRUE(verified->ok) << verified->reason;
  }
  EXPECT_EQ(in_logs, distinct);

  // The dead-letter topic holds exactly the garbage, with its original bytes.
  const std::vector<KafkaMessage> letters = ReadDeadLetters(brokers, garbage);
  for (const KafkaMessage& m : letters) {
    v1::DeadLetter letter;
    ASSERT_TRUE(letter.ParseFromString(m.value));
    EXPECT_EQ(letter.reason_code(), "undecodable");
    EXPECT_EQ(letter.original_value(), "\xff\xfe not protobuf");
  }
  EXPECT_EQ(letters.size(), static_cast<size_t>(garbage));
}

// A poison message must not stop the engine: a value too large for the dead letter
// that carries it whole (the producer's message.max.bytes, 1,000,000 by default) was
// refused at produce ("Message size too large"), and every restart failed the same way.
// Values just under and over the dead letter's budget and the event size limit
// (kafka.max_event_bytes, 1 MiB) each end in one dead letter the broker took, whole or
// cut to fit, and the partition goes on.
TEST(IngestEngineTest, MessagesTooLargeForADeadLetterAreDeadLetteredCutToFit) {
  // Three partitions, two poisons each: the mock keeps ~5 MiB of a partition.
  constexpr int32_t kPartitions = 3;
  auto cluster = std::move(*EmbeddedCluster::Start(1));
  v1::EngineConfig config = DefaultEngineConfig();
  ASSERT_TRUE(CreateGuanxiTopics(*cluster, config.kafka(), kPartitions).ok());
  const std::string brokers = cluster->bootstrap_servers();
  // A producer that may send what the engine's may not.
  auto producer = std::move(*Producer::Create(
      brokers, {{"message.max.bytes", "2000000"}, {"compression.type", "none"}}, nullptr));
  const size_t budget = DecodeLimits{}.max_message_bytes;  // the engine's producer's
  const size_t max_event = static_cast<size_t>(config.kafka().max_event_bytes());
  ASSERT_LT(budget, max_event);
  struct Poison {
    size_t size;
    std::string_view reason_code;
    bool whole;
  };
  const Poison poisons[] = {
      {budget - 2'000, kReasonUndecodable, true},  // just under the dead letter's budget
      {budget, kReasonUndecodable, false},         // just over, with the envelope
      {1'040'000, kReasonUndecodable, false},      // the reported one
      {max_event, kReasonUndecodable, false},      // the largest event
      {max_event + 1, kReasonOversized, false},    // one byte over it
      {1'100'000, kReasonOversized, false},
  };
  // Poison k goes to partition k % 3, at offset k / 3, under a key of that partition, so
  // that its dead letter (keyed by it) lands in partition k % 3 of the dead letters too.
  std::vector<std::string> values, keys;
  uint64_t x = 20;
  for (const Poison& poison : poisons) {
    std::string& value = values.emplace_back(poison.size, '\0');  // field 0: no Event
    for (size_t i = 1; i < value.size(); ++i) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      value[i] = static_cast<char>(x >> 56);
    }
    const auto partition = static_cast<int32_t>((values.size() - 1) % kPartitions);
    std::string& key = keys.emplace_back();
    for (int j = 0; key.empty() || KeyPartition(key, kPartitions) != partition; ++j) {
      key = absl::StrCat("p", j);
    }
    ASSERT_TRUE(producer->ProduceTo("guanxi.events", partition, key, value, 0).ok());
  }
  ASSERT_TRUE(producer->Produce("guanxi.events", "c1", EventBytes("after", "c1"), 0).ok());
  ASSERT_EQ(producer->Flush(absl::Seconds(60)), 0);

  TempDir data;
  for (int run = 0; run < 2; ++run) {  // and a restart finds nothing left to do
    std::atomic<bool> stop{false};
    IngestEngine engine(
        {.brokers = brokers, .data_dir = data.path(), .config = config, .until_caught_up = true});
    const absl::Status status = engine.Run(stop);
    ASSERT_TRUE(status.ok()) << status;
    EXPECT_EQ(engine.totals().dead_letters, run == 0 ? 6 : 0);
    EXPECT_EQ(engine.totals().appended, run == 0 ? 1 : 0);
  }

  std::vector<v1::DeadLetter> letters;
  for (const KafkaMessage& m : ReadDeadLetters(brokers, std::size(poisons))) {
    ASSERT_TRUE(letters.emplace_back().ParseFromString(m.value));
    EXPECT_LE(m.key.size() + m.value.size(), budget);
  }
  ASSERT_EQ(letters.size(), std::size(poisons));
  std::sort(letters.begin(), letters.end(), [](const auto& a, const auto& b) {
    const auto& s = a.source();
    const auto& t = b.source();
    return s.offset() * kPartitions + s.partition() < t.offset() * kPartitions + t.partition();
  });
  for (size_t i = 0; i < letters.size(); ++i) {
    const v1::DeadLetter& letter = letters[i];
    const std::string& value = values[i];
    SCOPED_TRACE(absl::StrCat("a value of ", value.size(), " bytes"));
    EXPECT_EQ(letter.source().partition(), static_cast<int32_t>(i % kPartitions));
    EXPECT_EQ(letter.source().offset(), static_cast<int64_t>(i / kPartitions));
    EXPECT_EQ(letter.reason_code(), poisons[i].reason_code);
    EXPECT_EQ(letter.original_key(), keys[i]);
    EXPECT_FALSE(letter.has_key_truncated());
    if (poisons[i].whole) {
      EXPECT_EQ(letter.original_value(), value);
      EXPECT_FALSE(letter.has_value_truncated());
      continue;
    }
    ASSERT_TRUE(letter.has_value_truncated());
    EXPECT_EQ(letter.value_truncated().original_size(), static_cast<int64_t>(value.size()));
    const Hash sha256 = EventLog::HashOf(value);
    EXPECT_EQ(letter.value_truncated().original_sha256(),
              std::string(reinterpret_cast<const char*>(sha256.data()), sha256.size()));
    EXPECT_GT(letter.original_value().size(), budget - 1'000);
    EXPECT_TRUE(value.starts_with(letter.original_value()));
    EXPECT_NE(letter.reason().find(absl::StrCat("the value, ", value.size(), " bytes, is cut")),
              std::string::npos)
        << letter.reason();
  }
}

// Each partition's log as records without what only the appending machine decides
// (recorded_at: when this engine stored the record; prev_hash, which covers it).
std::map<int32_t, std::vector<std::string>> LogsOf(const std::string& data_dir) {
  std::map<int32_t, std::vector<std::string>> logs;
  auto partitions = ListPartitions(data_dir);
  EXPECT_TRUE(partitions.ok()) << partitions.status();
  for (int32_t p : partitions.value_or(std::vector<int32_t>{})) {
    auto log = std::move(*EventLog::Open(PartitionDir(data_dir, p), {}));
    EXPECT_TRUE(log->ReadRange(0, UINT64_MAX, [&](const v1::LogRecord& r) {
                     v1::LogRecord copy = r;
                     copy.clear_recorded_at();
                     copy.clear_prev_hash();
                     logs[p].push_back(copy.SerializeAsString());
                     return true;
                   }).ok());
  }
  return logs;
}

// The same input gives the same log: two backfills of one topic, one of them stopped on
// the way and resumed, append the same records at the same positions, the model records
// the projectors asked for included (each lands kModelLandingDistance records after the
// record that made it due, or at the end of the input), and project the same. And a
// backfill leaves what live running would: every model asked for is appended and
// applied before --until-caught-up returns.
// 300 customers, an order every 3 days each over `days` days, in event-time order: 100
// a day, customer c's on days c, c + 3, ... (mod 3) at 1.7e9 s + day + c seconds.
void ProduceOrders(Producer& producer, int days) {
  for (int day = 0; day < days; ++day) {
    for (int c = day % 3; c < 300; c += 3) {
      v1::Event e;
      e.set_event_id(absl::StrCat("o", day, "-", c));
      e.set_customer_id(absl::StrCat("c", c));
      e.mutable_occurred_at()->set_seconds(1'700'000'000 + int64_t{day} * 86400 + c);
      e.mutable_order()->set_order_id(e.event_id());
      e.mutable_order()->set_kind(v1::ORDER_KIND_ORDER);
      e.mutable_order()->mutable_amount()->set_currency("CNY");
      e.mutable_order()->mutable_amount()->set_minor_units(10000 + c * 100);
      ASSERT_TRUE(
          producer.Produce("guanxi.events", e.customer_id(), e.SerializeAsString(), 0).ok());
    }
  }
  ASSERT_EQ(producer.Flush(absl::Seconds(60)), 0);
}

// An engine running live on a thread of its own, stopped and joined on every way out
// (failed assertions included).
class RunningEngine {
 public:
  explicit RunningEngine(IngestEngineOptions options)
      : engine_(std::move(options)), runner_([this] {
          result_ = engine_.Run(stop_);
          ended_ = true;
        }) {}
  ~RunningEngine() { Stop(); }
  RunningEngine(const RunningEngine&) = delete;
  RunningEngine& operator=(const RunningEngine&) = delete;

  IngestEngine& engine() { return engine_; }
  // Whether Run returned by itself; then result() is its status.
  bool ended() const { return ended_.load(); }
  const absl::Status& result() const { return result_; }
  // Stops the engine and waits for Run to return; its status.
  const absl::Status& Stop() {
    stop_ = true;
    if (runner_.joinable()) runner_.join();
    return result_;
  }

 private:
  IngestEngine engine_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> ended_{false};
  absl::Status result_;
  std::thread runner_;  // last: it starts once the rest is there
};

TEST(IngestEngineTest, TwoBackfillsOfOneTopicBuildTheSameLogsModelsIncluded) {
  auto cluster = std::move(*EmbeddedCluster::Start(1));
  v1::EngineConfig config = DefaultEngineConfig();
  config.mutable_classification()->set_model_refit_days(7);
  ASSERT_TRUE(CreateGuanxiTopics(*cluster, config.kafka(), 2).ok());
  const std::string brokers = cluster->bootstrap_servers();
  // 300 customers, an order every 3 days each over 120 days: about 6,000 records per
  // partition, 50 a day, a refit due every week of event time (and landing about 20 days
  // of records later).
  auto producer = std::move(*Producer::Create(brokers, {}, nullptr));
  ProduceOrders(*producer, 120);
  if (HasFatalFailure()) return;

  TempDir first;
  {
    std::atomic<bool> stop{false};
    IngestEngine engine(
        {.brokers = brokers, .data_dir = first.path(), .config = config, .until_caught_up = true});
    ASSERT_TRUE(engine.Run(stop).ok());
    EXPECT_GT(engine.totals().models, 0);
  }
  TempDir second;
  {
    // Stopped once about a third of the input is appended (wherever that falls), then
    // resumed from what it stored.
    std::atomic<bool> stop{false};
    IngestEngine engine(
        {.brokers = brokers, .data_dir = second.path(), .config = config, .until_caught_up = true});
    std::atomic<bool> ran{false};
    std::thread stopper([&] {
      while (!ran.load() && engine.Status().totals.appended < 4000) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      stop = true;
    });
    const absl::Status status = engine.Run(stop);
    ran = true;
    stopper.join();
    ASSERT_TRUE(status.ok()) << status;
  }
  {
    std::atomic<bool> stop{false};
    IngestEngine engine({.brokers = brokers,
                         .data_dir = second.path(),
                         .config = config,
                         .until_caught_up = true});
    ASSERT_TRUE(engine.Run(stop).ok());
  }

  const auto logs = LogsOf(first.path());
  ASSERT_EQ(logs.size(), 2u);
  EXPECT_EQ(logs, LogsOf(second.path()));
  int landed_inside = 0;
  for (const auto& [p, records] : logs) {
    EventLogOptions options;
    options.extra_column_families = ProjectionStore::ColumnFamilies();
    auto log = std::move(*EventLog::Open(PartitionDir(first.path(), p), options));
    auto store = std::move(*ProjectionStore::Attach(log.get()));
    auto other = std::move(*EventLog::Open(PartitionDir(second.path(), p), options));
    auto other_store = std::move(*ProjectionStore::Attach(other.get()));
    auto differences = ProjectionStore::Compare(*store, *other_store, 5);
    ASSERT_TRUE(differences.ok());
    EXPECT_THAT(*differences, ::testing::IsEmpty()) << "partition " << p;

    int models = 0;
    int64_t last_as_of = 0;
    for (size_t i = 0; i < records.size(); ++i) {
      v1::LogRecord r;
      ASSERT_TRUE(r.ParseFromString(records[i]));
      if (!r.has_model()) continue;
      ++models;
      last_as_of = r.model().as_of().seconds();
      if (i + 1 < records.size()) ++landed_inside;
    }
    EXPECT_GE(models, 3) << "partition " << p;
    auto checkpoint = store->ReadCheckpoint();
    ASSERT_TRUE(checkpoint.ok());
    EXPECT_EQ(checkpoint->next_position(), log->next_position()) << "partition " << p;
    EXPECT_EQ(checkpoint->model().as_of().seconds(), last_as_of) << "partition " << p;
    auto schedule = store->ReadRefitSchedule();
    ASSERT_TRUE(schedule.ok());
    EXPECT_EQ(schedule->pending_size(), 0) << "partition " << p;
  }
  EXPECT_GT(landed_inside, 0);  // not only at the end of the input
}

// --until-caught-up ends when every partition is caught up, empty ones included.
// Where common clients' default partitioners put a key (explicit partitions here, so
// that the test states each rule rather than depending on a client library).
int32_t Crc32Partition(const std::string& key, int32_t n) {  // librdkafka, kcat,
  // confluent-kafka-python: `consistent_random`, CRC-32 of the key
  const uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(key.data()),
                          static_cast<uInt>(key.size()));
  return static_cast<int32_t>(crc % static_cast<uLong>(n));
}
int32_t Fnv1aPartition(const std::string& key, int32_t n) {  // Sarama (Go): FNV-1a 32
  uint32_t h = 2166136261u;
  for (unsigned char c : key) h = (h ^ c) * 16777619u;
  int32_t p = static_cast<int32_t>(h) % n;
  return p < 0 ? -p : p;
}

// Producers that are not ours: one customer's events sent by clients whose default
// partitioners differ (Java's murmur2, librdkafka's CRC-32, Sarama's FNV-1a, kafka-go's
// round robin) arrive on several partitions; each ends up in its customer's home
// partition, once, and a backfill waits for what it forwarded.
TEST(IngestEngineTest, EventsFromForeignPartitionersEndInTheirCustomersHomePartition) {
  auto cluster = std::move(*EmbeddedCluster::Start(3));
  v1::EngineConfig config = DefaultEngineConfig();
  constexpr int32_t kTopicPartitions = 4;
  ASSERT_TRUE(CreateGuanxiTopics(*cluster, config.kafka(), kTopicPartitions).ok());
  const std::string brokers = cluster->bootstrap_servers();
  auto producer = std::move(*Producer::Create(brokers, {}, nullptr));
  std::set<std::string> distinct;
  int away = 0;
  for (int i = 0; i < 1200; ++i) {
    const std::string customer = absl::StrCat("C-", 1000 + i % 60);
    const std::string event_id = absl::StrCat("e", i);
    int32_t partition = 0;
    switch (i % 4) {
      case 0: partition = KeyPartition(customer, kTopicPartitions); break;
      case 1: partition = Crc32Partition(customer, kTopicPartitions); break;
      case 2: partition = Fnv1aPartition(customer, kTopicPartitions); break;
      default: partition = (i / 4) % kTopicPartitions; break;
    }
    if (partition != KeyPartition(customer, kTopicPartitions)) ++away;
    distinct.insert(event_id);
    ASSERT_TRUE(producer->ProduceTo("guanxi.events", partition, customer,
                                    EventBytes(event_id, customer), 0)
                    .ok());
  }
  ASSERT_EQ(producer->Flush(absl::Seconds(60)), 0);
  ASSERT_GT(away, 300);  // the partitioners disagree for most customers

  TempDir data;
  std::atomic<bool> stop{false};
  IngestEngine engine(
      {.brokers = brokers, .data_dir = data.path(), .config = config, .until_caught_up = true});
  ASSERT_TRUE(engine.Run(stop).ok());
  EXPECT_EQ(engine.totals().forwarded, away);
  EXPECT_EQ(static_cast<size_t>(engine.totals().appended), distinct.size());

  std::set<std::string> in_logs;
  for (int32_t p = 0; p < kTopicPartitions; ++p) {
    auto log = std::move(*EventLog::Open(PartitionDir(data.path(), p), {}));
    ASSERT_TRUE(log->ReadRange(0, UINT64_MAX,
                               [&](const v1::LogRecord& r) {
                                 if (!r.has_event()) return true;
                                 EXPECT_TRUE(in_logs.insert(r.event().event_id()).second);
                                 EXPECT_EQ(KeyPartition(r.event().customer_id(), kTopicPartitions), p)
                                     << r.event().customer_id();
                                 return true;
                               })
                    .ok());
  }
  EXPECT_EQ(in_logs, distinct);
}

TEST(IngestEngineTest, BackfillEndsWithEmptyPartitions) {
  auto cluster = std::move(*EmbeddedCluster::Start(1));
  v1::EngineConfig config = DefaultEngineConfig();
  ASSERT_TRUE(CreateGuanxiTopics(*cluster, config.kafka(), 3).ok());
  const std::string brokers = cluster->bootstrap_servers();
  auto producer = std::move(*Producer::Create(brokers, {}, nullptr));
  for (int i = 0; i < 5; ++i) {  // one customer: one partition, the others stay empty
    const std::string id = absl::StrCat("e", i);
    ASSERT_TRUE(producer->Produce("guanxi.events", "c1", EventBytes(id, "c1"), 0).ok());
  }
  ASSERT_EQ(producer->Flush(absl::Seconds(60)), 0);
  TempDir data;
  std::atomic<bool> stop{false};
  IngestEngine engine(
      {.brokers = brokers, .data_dir = data.path(), .config = config, .until_caught_up = true});
  ASSERT_TRUE(engine.Run(stop).ok());
  EXPECT_EQ(engine.totals().appended, 5);
}

// The development broker keeps only ~5 MiB per partition and silently drops older data.
// An engine whose store is behind the partition's new log start must stop with a
// retention-gap error naming the lost offsets, never start later silently.
TEST(IngestEngineTest, RetentionGapIsALoudErrorNotASilentSkip) {
  auto cluster = std::move(*EmbeddedCluster::Start(1));
  v1::EngineConfig config = DefaultEngineConfig();
  ASSERT_TRUE(CreateGuanxiTopics(*cluster, config.kafka(), 1).ok());
  const std::string brokers = cluster->bootstrap_servers();
  // Uncompressed, so the bytes the mock stores are the bytes produced.
  auto producer = std::move(*Producer::Create(brokers, {{"compression.type", "none"}}, nullptr));
  const std::string padding(4096, 'x');
  for (int i = 0; i < 4000; ++i) {  // ~16 MiB: well past what the mock keeps
    v1::Event e;
    e.set_event_id(absl::StrCat("e", i));
    e.set_customer_id("c");
    e.mutable_occurred_at()->set_seconds(1'700'000'000);
    e.mutable_visit()->set_purpose(padding);
    ASSERT_TRUE(producer->Produce("guanxi.events", "c", e.SerializeAsString(), 0).ok());
  }
  ASSERT_EQ(producer->Flush(absl::Seconds(60)), 0);

  FromTheStart listener;
  auto probe = std::move(*Consumer::Create(brokers, "probe", {}, &listener));
  auto marks = probe->QueryWatermarks("guanxi.events", 0, absl::Seconds(10));
  ASSERT_TRUE(marks.ok()) << marks.status();
  std::printf("[ retention] the mock kept offsets %lld..%lld of 4000\n",
              static_cast<long long>(marks->first), static_cast<long long>(marks->second - 1));
  ASSERT_GT(marks->first, 0) << "the mock cluster kept everything: no gap to test";

  TempDir data;
  std::atomic<bool> stop{false};
  IngestEngine engine(
      {.brokers = brokers, .data_dir = data.path(), .config = config, .until_caught_up = true});
  absl::Status status = engine.Run(stop);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_NE(status.message().find("retention gap"), absl::string_view::npos) << status;
  EXPECT_NE(status.message().find(absl::StrCat("from ", marks->first)), absl::string_view::npos)
      << status;
  EXPECT_EQ(engine.totals().appended, 0);
}

// Event time passes on a quiet partition too: when one partition's events are far ahead,
// the engine appends a tick to the other, whose customers' inactivity timers then fire,
// and the stage changes they cause reach guanxi.relationship-changes through the outbox.
TEST(IngestEngineTest, QuietPartitionGetsATickAndItsTimersFire) {
  auto cluster = std::move(*EmbeddedCluster::Start(1));
  v1::EngineConfig config = DefaultEngineConfig();
  ASSERT_TRUE(CreateGuanxiTopics(*cluster, config.kafka(), 2).ok());
  ASSERT_TRUE(cluster->CreateTopic("probe", 2, 1).ok());
  const std::string brokers = cluster->bootstrap_servers();

  // Two customers whose keys land on different partitions (the partitioner is the
  // producer's: ask it, on a probe topic of the same width).
  std::map<uint64_t, int32_t> landed;
  auto producer = std::move(*Producer::Create(
      brokers, {}, [&](const Producer::Delivery& d) { landed[d.cookie] = d.partition; }));
  for (uint64_t i = 0; i < 16; ++i) {
    ASSERT_TRUE(producer->Produce("probe", absl::StrCat("k", i), "x", i).ok());
  }
  ASSERT_EQ(producer->Flush(absl::Seconds(30)), 0);
  std::string quiet, busy;
  for (const auto& [i, partition] : landed) {
    (partition == 0 ? quiet : busy) = absl::StrCat("k", i);
  }
  ASSERT_FALSE(quiet.empty());
  ASSERT_FALSE(busy.empty());

  constexpr int64_t kDay = 86400, kStart = 1'700'000'000;
  auto order = [](const std::string& id, const std::string& customer, int64_t seconds) {
    v1::Event e;
    e.set_event_id(id);
    e.set_customer_id(customer);
    e.mutable_occurred_at()->set_seconds(seconds);
    e.mutable_order()->set_order_id(id);
    e.mutable_order()->mutable_amount()->set_minor_units(1000);
    return e.SerializeAsString();
  };
  ASSERT_TRUE(producer->Produce("guanxi.events", quiet, order("q1", quiet, kStart), 0).ok());
  ASSERT_TRUE(producer->Produce("guanxi.events", busy, order("b1", busy, kStart), 0).ok());
  ASSERT_TRUE(
      producer->Produce("guanxi.events", busy, order("b2", busy, kStart + 300 * kDay), 0).ok());
  ASSERT_EQ(producer->Flush(absl::Seconds(30)), 0);

  TempDir data;
  std::atomic<bool> stop{false};
  absl::Status result;
  std::thread runner([&] {
    IngestEngine engine({.brokers = brokers, .data_dir = data.path(), .config = config});
    result = engine.Run(stop);
  });
  // Watch the relationship changes: by the passing of time alone, the quiet customer's
  // silence raises a watch at 180 days (6 usual gaps of the default 30 days: the stage
  // stays) and escalates to critical at 270 (9 gaps): at risk, and lost in the same
  // moment (180 days or more without interaction).
  FromTheStart listener;
  auto consumer = std::move(*Consumer::Create(brokers, "changes-reader", {}, &listener));
  ASSERT_TRUE(consumer->Subscribe({config.kafka().changes_topic()}).ok());
  std::vector<std::string> quiet_stages;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline &&
         (quiet_stages.empty() || quiet_stages.back().find("LOST") == std::string::npos)) {
    for (const KafkaMessage& m : consumer->Poll(100, absl::Milliseconds(100))) {
      v1::RelationshipChange change;
      ASSERT_TRUE(change.ParseFromString(m.value));
      EXPECT_EQ(m.key, change.customer_id());
      if (change.customer_id() != quiet || !change.has_stage()) continue;
      quiet_stages.push_back(
          absl::StrCat(v1::LifecycleStage_Name(change.stage().to()), ": ", change.stage().cause()));
    }
  }
  consumer->Close();
  stop = true;
  runner.join();
  EXPECT_TRUE(result.ok()) << result;
  EXPECT_THAT(quiet_stages,
              ::testing::ElementsAre(
                  "LIFECYCLE_STAGE_DEEPENING: first event: order; then first purchase: order q1",
                  ::testing::AllOf(
                      ::testing::StartsWith("LIFECYCLE_STAGE_LOST: churn warning "),
                      ::testing::HasSubstr("escalated to level critical: silence; then no "
                                           "interaction for 270 days (threshold 180)"))));

  // The quiet partition's log holds the tick that carried the time there.
  auto log = std::move(*EventLog::Open(PartitionDir(data.path(), 0), {}));
  std::vector<int64_t> ticks;
  ASSERT_TRUE(log->ReadRange(0, UINT64_MAX,
                             [&](const v1::LogRecord& r) {
                               if (r.has_tick()) ticks.push_back(r.tick().event_time().seconds());
                               return true;
                             })
                  .ok());
  EXPECT_THAT(ticks, ::testing::ElementsAre(kStart + 300 * kDay));
}

// Live, a partition out of input whose model is still reclassifying its customers a few a
// record gets a tick at its own time (the clock does not move), which finishes the pass
// (docs/architecture.md, "Reclassifying a partition").
TEST(IngestEngineTest, AQuietPartitionFinishesItsModelsReclassification) {
  auto cluster = std::move(*EmbeddedCluster::Start(1));
  v1::EngineConfig config = DefaultEngineConfig();
  ASSERT_TRUE(CreateGuanxiTopics(*cluster, config.kafka(), 1).ok());
  const std::string brokers = cluster->bootstrap_servers();
  // 300 customers, an order every 3 days each over 33 days, on one partition, so no tick
  // comes from another partition's clock. The first model is asked for at the start; the
  // second at day 30, with fewer records left than a model's landing distance, so it lands
  // at the log's end once the partition is quiet, its pass going.
  auto producer = std::move(*Producer::Create(brokers, {}, nullptr));
  ProduceOrders(*producer, 33);
  if (HasFatalFailure()) return;

  TempDir data;
  RunningEngine running({.brokers = brokers, .data_dir = data.path(), .config = config});
  IngestEngine& engine = running.engine();
  // Both models in, a tick appended, everything projected.
  auto done = [&] {
    const EngineStatus status = engine.Status();
    return status.totals.models >= 2 && status.totals.ticks >= 1 &&
           status.partitions.size() == 1 &&
           status.partitions[0].projected == status.partitions[0].log_records;
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (!running.ended() && absl::Now() < deadline && !done()) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_FALSE(running.ended()) << running.result();
  ASSERT_TRUE(done());

  std::vector<PartitionView> views = engine.Partitions();
  ASSERT_EQ(views.size(), 1u);
  uint64_t last_model = 0, tick_at = 0;
  int64_t tick_seconds = 0;
  ASSERT_TRUE(views[0]
                  .log
                  ->ReadRange(0, views[0].log->next_position(),
                              [&](const v1::LogRecord& r) {
                                if (r.has_model()) last_model = r.position();
                                if (r.has_tick()) {
                                  tick_at = r.position();
                                  tick_seconds = r.tick().event_time().seconds();
                                }
                                return true;
                              })
                  .ok());
  EXPECT_GT(tick_at, last_model);
  auto checkpoint = views[0].store->ReadCheckpoint();
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_EQ(tick_seconds, checkpoint->clock().seconds());  // the partition's own time
  EXPECT_FALSE(checkpoint->has_reclassify());
  int customers = 0;
  ASSERT_TRUE(views[0]
                  .store
                  ->ForEachState([&](const v1::CustomerState& state) {
                    ++customers;
                    EXPECT_EQ(state.reclassified_under(), last_model) << state.customer_id();
                    return !HasFailure();
                  })
                  .ok());
  EXPECT_EQ(customers, 300);
}

// A reader (the HTTP API) holds the partitions' stores (PartitionView) while a second
// member joins the group and leaves again: each eager rebalance revokes the engine's
// partitions and hands them back to it, so it re-acquires a store the reader still holds
// open. It takes that store back (a second open would fail on RocksDB's LOCK and stop
// Run) and keeps ingesting, and the reader's view stays readable throughout.
TEST(IngestEngineTest, ReassignmentWhileAReaderHoldsTheStoreKeepsIngesting) {
  auto cluster = std::move(*EmbeddedCluster::Start(1));
  v1::EngineConfig config = DefaultEngineConfig();
  // The mock coordinator waits up to a session for the members to rejoin.
  auto* session = config.mutable_kafka()->add_properties();
  session->set_name("session.timeout.ms");
  session->set_value("3000");
  ASSERT_TRUE(CreateGuanxiTopics(*cluster, config.kafka(), 2).ok());
  const std::string brokers = cluster->bootstrap_servers();
  const std::string topic = config.kafka().events_topic();

  std::map<int32_t, int64_t> produced;  // acknowledged messages per partition
  auto producer = std::move(*Producer::Create(brokers, {}, [&](const Producer::Delivery& d) {
    if (d.status.ok()) ++produced[d.partition];
  }));
  int next_id = 0;
  auto produce = [&](int n) {
    for (int i = 0; i < n; ++i, ++next_id) {
      const std::string customer = absl::StrCat("c", next_id % 20);
      ASSERT_TRUE(
          producer->Produce(topic, customer, EventBytes(absl::StrCat("e", next_id), customer), 0)
              .ok());
    }
    ASSERT_EQ(producer->Flush(absl::Seconds(60)), 0);
  };

  TempDir data;
  RunningEngine running({.brokers = brokers, .data_dir = data.path(), .config = config});
  IngestEngine& engine = running.engine();
  // The engine owns `partitions` partitions, has consumed every message produced to
  // them, and has projected everything it appended.
  auto caught_up = [&](size_t partitions) {
    const EngineStatus status = engine.Status();
    if (status.partitions.size() != partitions) return false;
    for (const PartitionStatus& p : status.partitions) {
      if (p.next_offset != produced[p.partition] || p.projected != p.log_records) return false;
    }
    return true;
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  // Waits for `condition`, calling `serve` between checks, until Run ends or the deadline.
  auto wait_for = [&](const std::function<bool()>& condition, const std::function<void()>& serve) {
    while (!running.ended() && absl::Now() < deadline && !condition()) serve();
  };
  auto pause = [] { absl::SleepFor(absl::Milliseconds(10)); };

  produce(200);
  ASSERT_EQ(produced.size(), 2u) << "the customers' keys should reach both partitions";
  wait_for([&] { return caught_up(2); }, pause);
  ASSERT_FALSE(running.ended()) << running.result();
  ASSERT_TRUE(caught_up(2));
  std::vector<PartitionView> views = engine.Partitions();  // held as a slow reader would
  ASSERT_EQ(views.size(), 2u);

  // A second member joins: the engine's two partitions are revoked, one is given back.
  struct Member final : RebalanceListener {
    std::vector<int64_t> OnAssigned(const std::vector<TopicPartition>& ps) override {
      for (const TopicPartition& tp : ps) assigned.insert(tp.partition);
      return std::vector<int64_t>(ps.size(), kOffsetBeginning);
    }
    void OnRevoked(const std::vector<TopicPartition>& ps) override {
      for (const TopicPartition& tp : ps) assigned.erase(tp.partition);
    }
    std::set<int32_t> assigned;
  } member;
  auto other = std::move(
      *Consumer::Create(brokers, config.kafka().group_id(), PropertiesOf(config.kafka()), &member));
  ASSERT_TRUE(other->Subscribe({topic}).ok());
  auto serve_other = [&] { other->Poll(100, absl::Milliseconds(20)); };
  wait_for([&] { return member.assigned.size() == 1 && caught_up(1); }, serve_other);
  ASSERT_FALSE(running.ended()) << "Run ended at the re-assignment: " << running.result();
  ASSERT_TRUE(caught_up(1));
  const int32_t kept = engine.Status().partitions[0].partition;
  EXPECT_EQ(member.assigned.count(kept), 0u);
  const int64_t before = produced[kept];
  produce(200);
  ASSERT_GT(produced[kept], before);
  wait_for([&] { return caught_up(1); }, serve_other);
  ASSERT_FALSE(running.ended()) << running.result();
  EXPECT_TRUE(caught_up(1)) << "the engine stopped ingesting partition " << kept;

  // The member leaves: both partitions are revoked and given back to the engine.
  other->Close();
  produce(100);
  wait_for([&] { return caught_up(2); }, pause);
  ASSERT_FALSE(running.ended()) << running.result();
  EXPECT_TRUE(caught_up(2));
  EXPECT_EQ(engine.Status().totals.messages, next_id);  // the member committed nothing

  for (const PartitionView& view : views) {
    auto checkpoint = view.store->ReadCheckpoint();
    ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
    EXPECT_GT(view.log->next_position(), 0u);
  }
  views.clear();
  const absl::Status result = running.Stop();
  EXPECT_TRUE(result.ok()) << result;
}

}  // namespace
}  // namespace guanxi::engine
