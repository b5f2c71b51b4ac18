// The Kafka wrapper against librdkafka's mock cluster: a real protocol peer on loopback.
// Waits are bounded loops on conditions (a deadline only guards against hanging).
#include "engine/kafka/kafka.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/kafka/partitioner.h"
#include "engine/privacy/erasure.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace guanxi::engine {
namespace {

using ::testing::HasSubstr;

constexpr char kTopic[] = "t.events";

// Starts every assigned partition at a chosen offset (default: the beginning).
class Listener final : public RebalanceListener {
 public:
  std::vector<int64_t> OnAssigned(const std::vector<TopicPartition>& partitions) override {
    std::vector<int64_t> offsets;
    for (const TopicPartition& tp : partitions) {
      assigned.insert(tp.partition);
      auto it = start.find(tp.partition);
      offsets.push_back(it == start.end() ? kOffsetBeginning : it->second);
    }
    return offsets;
  }
  void OnRevoked(const std::vector<TopicPartition>& partitions) override {
    for (const TopicPartition& tp : partitions) {
      assigned.erase(tp.partition);
      ++revocations;
    }
  }
  std::map<int32_t, int64_t> start;
  std::set<int32_t> assigned;
  int revocations = 0;
};

struct Fixture {
  std::unique_ptr<EmbeddedCluster> cluster;
  Fixture(int partitions) {
    auto c = EmbeddedCluster::Start(3);
    EXPECT_TRUE(c.ok()) << c.status();
    cluster = std::move(*c);
    EXPECT_TRUE(cluster->CreateTopic(kTopic, partitions, 1).ok());
  }
  // Produces n messages keyed k<i % 16>, value v<i>; returns when all are acknowledged.
  void Produce(int n) {
    int delivered = 0, failed = 0;
    auto producer = Producer::Create(
        cluster->bootstrap_servers(), {},
        [&](const Producer::Delivery& d) { (d.status.ok() ? delivered : failed)++; });
    ASSERT_TRUE(producer.ok()) << producer.status();
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE((*producer)
                      ->Produce(kTopic, absl::StrCat("k", i % 16), absl::StrCat("v", i),
                                static_cast<uint64_t>(i))
                      .ok());
    }
    EXPECT_EQ((*producer)->Flush(absl::Seconds(30)), 0);
    EXPECT_EQ(delivered, n);
    EXPECT_EQ(failed, 0);
  }
};

std::vector<KafkaMessage> ConsumeUntil(Consumer& consumer, size_t want, absl::Duration limit) {
  std::vector<KafkaMessage> all;
  const absl::Time deadline = absl::Now() + limit;
  while (all.size() < want && absl::Now() < deadline) {
    for (KafkaMessage& m : consumer.Poll(1000, absl::Milliseconds(100)))
      all.push_back(std::move(m));
  }
  return all;
}

TEST(KafkaTest, RoundTripEveryMessageOnceInPartitionOrderWithKeysKeptTogether) {
  Fixture f(4);
  f.Produce(10000);
  Listener listener;
  auto consumer = Consumer::Create(f.cluster->bootstrap_servers(), "g1", {}, &listener);
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  ASSERT_TRUE((*consumer)->Subscribe({kTopic}).ok());
  std::vector<KafkaMessage> all = ConsumeUntil(**consumer, 10000, absl::Seconds(60));
  ASSERT_EQ(all.size(), 10000u);
  std::set<std::string> values;
  std::map<int32_t, int64_t> last_offset;
  std::map<std::string, int32_t> partition_of_key;
  for (const KafkaMessage& m : all) {
    ASSERT_TRUE(m.error.ok()) << m.error;
    EXPECT_TRUE(values.insert(m.value).second) << "twice: " << m.value;
    auto [it, fresh] = last_offset.try_emplace(m.partition, m.offset);
    if (!fresh) {
      EXPECT_GT(m.offset, it->second);
      it->second = m.offset;
    }
    auto [kp, new_key] = partition_of_key.try_emplace(m.key, m.partition);
    EXPECT_EQ(kp->second, m.partition) << "key " << m.key << " split across partitions";
  }
  EXPECT_EQ(listener.assigned, (std::set<int32_t>{0, 1, 2, 3}));
  int64_t total = 0;
  for (int32_t p = 0; p < 4; ++p) {
    auto marks = (*consumer)->QueryWatermarks(kTopic, p, absl::Seconds(10));
    ASSERT_TRUE(marks.ok()) << marks.status();
    EXPECT_EQ(marks->first, 0);
    total += marks->second;
  }
  EXPECT_EQ(total, 10000);
  (*consumer)->Close();
}

// A partition whose leader has just changed (an election: a broker restarting, a topic
// just created) is answered for by a broker that is no longer, or not yet, its leader:
// "not leader". The engine asks for watermarks when a partition is assigned, and stopped
// on that answer; asked again once the client has looked the leader up, it gets them.
TEST(KafkaTest, WatermarksAreAskedAgainWhenTheLeaderHasMoved) {
  Fixture f(1);
  ASSERT_TRUE(f.cluster->SetPartitionLeader(kTopic, 0, 1).ok());
  f.Produce(10);
  auto consumer = Consumer::Create(f.cluster->bootstrap_servers(), "g-marks", {}, nullptr);
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  auto before = (*consumer)->QueryWatermarks(kTopic, 0, absl::Seconds(10));  // leader: 1
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_TRUE(f.cluster->SetPartitionLeader(kTopic, 0, 2).ok());  // the client still says 1
  auto marks = (*consumer)->QueryWatermarks(kTopic, 0, absl::Seconds(10));
  ASSERT_TRUE(marks.ok()) << marks.status();
  EXPECT_EQ(marks->first, 0);
  EXPECT_EQ(marks->second, 10);
  (*consumer)->Close();
}

// The request of `guanxi erase` and of the HTTP API's erase endpoint: acknowledged, keyed
// by the customer, in the customer's partition (so after their earlier events).
TEST(KafkaTest, AnErasureRequestLandsKeyedByItsCustomerInItsCustomersPartition) {
  Fixture f(4);
  auto erasure = ErasureEvent("C-1042", "GDPR art. 17 request 7", "dpo",
                              absl::FromUnixSeconds(1780000000));
  ASSERT_TRUE(erasure.ok()) << erasure.status();
  EXPECT_EQ(erasure->event_id(), "erasure:1780000000000000000:C-1042");
  ASSERT_TRUE(
      ProduceErasure(f.cluster->bootstrap_servers(), {}, kTopic, *erasure, absl::Seconds(30))
          .ok());
  Listener listener;
  auto consumer = Consumer::Create(f.cluster->bootstrap_servers(), "g-erase", {}, &listener);
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  ASSERT_TRUE((*consumer)->Subscribe({kTopic}).ok());
  std::vector<KafkaMessage> all = ConsumeUntil(**consumer, 1, absl::Seconds(60));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].key, "C-1042");
  EXPECT_EQ(all[0].partition, KeyPartition("C-1042", 4));
  guanxi::v1::Event read;
  ASSERT_TRUE(read.ParseFromString(all[0].value));
  EXPECT_EQ(read.SerializeAsString(), erasure->SerializeAsString());
  (*consumer)->Close();
  EXPECT_EQ(ErasureEvent("", "r", "dpo", absl::Now()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(KafkaTest, ListenerChoosesTheStartOffset) {
  Fixture f(1);
  f.Produce(300);
  Listener listener;
  listener.start[0] = 100;
  auto consumer = Consumer::Create(f.cluster->bootstrap_servers(), "g2", {}, &listener);
  ASSERT_TRUE(consumer.ok());
  ASSERT_TRUE((*consumer)->Subscribe({kTopic}).ok());
  std::vector<KafkaMessage> all = ConsumeUntil(**consumer, 200, absl::Seconds(60));
  ASSERT_EQ(all.size(), 200u);
  EXPECT_EQ(all.front().offset, 100);
  EXPECT_EQ(all.back().offset, 299);
}

TEST(KafkaTest, BadPropertyIsInvalidArgumentNamingIt) {
  auto producer = Producer::Create("127.0.0.1:1", {{"no.such.property", "1"}}, nullptr);
  ASSERT_FALSE(producer.ok());
  EXPECT_EQ(producer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(producer.status().message(), HasSubstr("no.such.property"));
  Listener listener;
  auto consumer = Consumer::Create("127.0.0.1:1", "g", {{"fetch.wait.max.ms", "x"}}, &listener);
  ASSERT_FALSE(consumer.ok());
  EXPECT_THAT(consumer.status().message(), HasSubstr("fetch.wait.max.ms"));
}

TEST(KafkaTest, TwoMembersSplitThePartitionsAndTheSurvivorTakesAll) {
  Fixture f(4);
  f.Produce(100);
  Listener a, b;
  auto ca = Consumer::Create(f.cluster->bootstrap_servers(), "g3", {}, &a);
  auto cb = Consumer::Create(f.cluster->bootstrap_servers(), "g3", {}, &b);
  ASSERT_TRUE(ca.ok() && cb.ok());
  ASSERT_TRUE((*ca)->Subscribe({kTopic}).ok());
  ASSERT_TRUE((*cb)->Subscribe({kTopic}).ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline &&
         (a.assigned.empty() || b.assigned.empty() || a.assigned.size() + b.assigned.size() != 4)) {
    (*ca)->Poll(100, absl::Milliseconds(50));
    (*cb)->Poll(100, absl::Milliseconds(50));
  }
  ASSERT_FALSE(a.assigned.empty());
  ASSERT_FALSE(b.assigned.empty());
  std::set<int32_t> all = a.assigned;
  for (int32_t p : b.assigned) EXPECT_TRUE(all.insert(p).second) << "partition " << p << " twice";
  EXPECT_EQ(all.size(), 4u);

  (*cb)->Close();  // leaves the group: its partitions are revoked
  EXPECT_TRUE(b.assigned.empty());
  while (absl::Now() < deadline && a.assigned.size() != 4) (*ca)->Poll(100, absl::Milliseconds(50));
  EXPECT_EQ(a.assigned, (std::set<int32_t>{0, 1, 2, 3}));
  EXPECT_GT(a.revocations + b.revocations, 0);
}

}  // namespace
}  // namespace guanxi::engine
