// The project's Kafka wrapper: the only code that includes librdkafka. No librdkafka
// type appears here.
//
//   ASSIGN_OR_RETURN(auto producer, Producer::Create(brokers, properties, on_delivery));
//   RETURN_IF_ERROR(producer->Produce("guanxi.events", customer_id, bytes, cookie));
//   ASSIGN_OR_RETURN(int64_t undelivered, producer->Flush(absl::Seconds(30)));
//
// Properties pass through to librdkafka unchanged (TLS, SASL, Kerberos need no code);
// one it rejects is InvalidArgument naming it. The wrapper's own settings win where it
// depends on them: producers are idempotent (enable.idempotence=true: no duplicates or
// reordering from retries), consumers check CRCs and never reset offsets silently
// (auto.offset.reset=error). Keys are partitioned with murmur2, as Java clients do, so
// events produced by any standard client land on the same partition for a key.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace guanxi::engine {

using KafkaProperties = std::vector<std::pair<std::string, std::string>>;

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  bool operator==(const TopicPartition&) const = default;
};

// Start-offset sentinels a rebalance listener may return.
inline constexpr int64_t kOffsetBeginning = -2;  // the partition's log start
inline constexpr int64_t kOffsetEnd = -1;        // the high watermark: new messages only

// A consumed message, or a consumer error attached to a partition (`error` not ok).
struct KafkaMessage {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
  absl::Status error;
};

// Idempotent producer. Thread-safe for Produce; Poll/Flush from one thread. Delivery
// reports arrive through the callback from inside Poll() and Flush().
class Producer {
 public:
  struct Delivery {
    uint64_t cookie = 0;
    absl::Status status;  // ok once the broker acknowledged (acks=all)
    int32_t partition = 0;
    int64_t offset = -1;
  };
  using DeliveryCallback = std::function<void(const Delivery&)>;

  static absl::StatusOr<std::unique_ptr<Producer>> Create(const std::string& brokers,
                                                          const KafkaProperties& properties,
                                                          DeliveryCallback on_delivery);
  ~Producer();

  // Queues a message; partition chosen from the key. When librdkafka's queue is full it
  // serves delivery reports and retries for up to `queue_wait` before Unavailable.
  absl::Status Produce(std::string_view topic, std::string_view key, std::string_view value,
                       uint64_t cookie, absl::Duration queue_wait = absl::Seconds(30));
  // The same to one given partition (kAnyPartition: chosen from the key).
  static constexpr int32_t kAnyPartition = -1;
  absl::Status ProduceTo(std::string_view topic, int32_t partition, std::string_view key,
                         std::string_view value, uint64_t cookie,
                         absl::Duration queue_wait = absl::Seconds(30));
  // Serves delivery reports for up to `timeout`.
  void Poll(absl::Duration timeout);
  // Waits until every queued message is delivered or failed; returns how many are still
  // outstanding at the deadline (0 = all reported).
  int64_t Flush(absl::Duration timeout);
  // OK, or the first error that retrying will not cure (a refused login, a failed TLS
  // handshake), naming the properties to check. Flush returns early on one.
  absl::Status health() const;
  // The most key and value bytes together that Produce accepts in one message: the
  // property message.max.bytes (librdkafka's default: 1,000,000) less the framing
  // librdkafka counts with each message. A larger one fails at once ("Message size too
  // large"). The topic's max.message.bytes on the broker must allow as much.
  size_t max_message_bytes() const;
  // Drops every message not yet acknowledged, queued or in flight (their delivery reports
  // fail), so that destroying the producer does not wait for a broker that is down. For a
  // caller that keeps what it produced elsewhere and produces it again later.
  void Purge();

 private:
  struct Impl;
  explicit Producer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Told when the group gives this consumer partitions or takes them away. Called from
// inside Consumer::Poll, on the polling thread.
class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  // Returns the offset to start each partition at (same order), or kOffsetBeginning.
  // The engine answers from the offsets it stored itself: Kafka's are advisory.
  virtual std::vector<int64_t> OnAssigned(const std::vector<TopicPartition>& partitions) = 0;
  // The partitions are going away: finish or discard in-flight work for them now.
  virtual void OnRevoked(const std::vector<TopicPartition>& partitions) = 0;
};

// A consumer-group member. Not thread-safe: one polling thread.
class Consumer {
 public:
  // `listener` must outlive the consumer.
  static absl::StatusOr<std::unique_ptr<Consumer>> Create(const std::string& brokers,
                                                          const std::string& group_id,
                                                          const KafkaProperties& properties,
                                                          RebalanceListener* listener);
  ~Consumer();

  absl::Status Subscribe(const std::vector<std::string>& topics);
  // Up to `max_messages`, waiting at most `timeout` for the first. Rebalances are served
  // here. A consumer-level error (e.g. an offset below the log start with
  // auto.offset.reset=error) comes back as a message with `error` set.
  std::vector<KafkaMessage> Poll(size_t max_messages, absl::Duration timeout);
  // (log start offset, high watermark) as the partition leader reports them. Answers
  // that pass (no leader yet, not the leader: an election under way) are asked again
  // until `timeout`.
  absl::StatusOr<std::pair<int64_t, int64_t>> QueryWatermarks(const std::string& topic,
                                                              int32_t partition,
                                                              absl::Duration timeout);
  // The high watermark as of the last fetch response for the partition, without asking
  // the broker; nullopt before the first.
  std::optional<int64_t> CachedHighWatermark(const std::string& topic, int32_t partition);
  // Stops fetching the partitions: what was fetched for them and not yet returned by
  // Poll is dropped, and Resume fetches again from the offset after the last message
  // Poll returned. A partition stays paused across a rebalance that gives it back.
  // OK, or the first error that retrying will not cure (a refused login, a failed TLS
  // handshake), naming the properties to check; seen by Poll.
  absl::Status health() const;
  // How many partitions `topic` has, from the cluster's metadata (NotFound: no such
  // topic; Unavailable when the cluster does not answer within `timeout`; health()'s
  // error when that comes first). Call it before Subscribe.
  absl::StatusOr<int32_t> PartitionCount(const std::string& topic, absl::Duration timeout);
  absl::Status Pause(const std::vector<TopicPartition>& partitions);
  absl::Status Resume(const std::vector<TopicPartition>& partitions);
  // Leaves the group (revoking through the listener) and closes.
  void Close();

 private:
  struct Impl;
  explicit Consumer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct TopicSpec {
  std::string name;
  int partitions = 1;
  int replication_factor = 1;
  // Topic-level configuration, e.g. {"cleanup.policy", "compact"}.
  std::vector<std::pair<std::string, std::string>> configs{};
};

// Creates topics on a cluster (Kafka's CreateTopics admin request), each as specified;
// a topic that already exists is left as it is and is not an error. Gives up after
// `timeout` with DeadlineExceeded (an unreachable cluster, a failed login) rather than
// waiting for ever; the first topic the cluster refuses is an error naming it.
absl::Status CreateTopics(const std::string& brokers, const KafkaProperties& properties,
                          const std::vector<TopicSpec>& topics, absl::Duration timeout);

// librdkafka's mock cluster: real Kafka protocol over loopback TCP, in this process,
// in memory only. For development and tests (docs/operations.md lists its limits).
// Thread-safe.
class EmbeddedCluster {
 public:
  static absl::StatusOr<std::unique_ptr<EmbeddedCluster>> Start(int brokers);
  ~EmbeddedCluster();

  absl::Status CreateTopic(const std::string& topic, int partitions, int replication_factor);
  std::string bootstrap_servers() const;
  // Broker ids are 1..brokers. A broker down closes its connections and refuses new
  // ones until it is up again.
  absl::Status SetBrokerDown(int32_t broker_id);
  absl::Status SetBrokerUp(int32_t broker_id);
  // Makes `broker_id` the coordinator of consumer group `group_id`.
  absl::Status SetGroupCoordinator(const std::string& group_id, int32_t broker_id);
  // Makes `broker_id` the leader of the topic's partition; -1: no leader, so nothing can
  // be produced to it (producers keep their messages queued) until one is set again.
  absl::Status SetPartitionLeader(const std::string& topic, int32_t partition,
                                  int32_t broker_id);

 private:
  struct Impl;
  explicit EmbeddedCluster(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace guanxi::engine
