#include "engine/kafka/kafka.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>

#if defined(__SANITIZE_THREAD__)
#include <pthread.h>
#include <threads.h>

#include <cerrno>
#include <cstdint>
#include <new>
#endif

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace guanxi::engine {
namespace {

int Millis(absl::Duration d) {
  return static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 0, 1 << 30));
}

absl::Status FromKafka(rd_kafka_resp_err_t err, std::string_view what) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
  const std::string message = absl::StrCat(Sv(what), ": ", rd_kafka_err2str(err));
  switch (err) {
    case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
      return absl::DataLossError(message);
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
      return absl::InvalidArgumentError(message);
    case RD_KAFKA_RESP_ERR__FATAL:
      return absl::InternalError(message);
    default:
      return absl::UnavailableError(message);
  }
}

// Builds a conf from the wrapper's defaults, then the user's properties, then the
// settings the wrapper depends on (which win). Errors name the property.
absl::StatusOr<rd_kafka_conf_t*> MakeConf(const std::string& brokers,
                                          const KafkaProperties& defaults,
                                          const KafkaProperties& user,
                                          const KafkaProperties& forced) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  auto set = [&](const std::string& name, const std::string& value) -> absl::Status {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof error) !=
        RD_KAFKA_CONF_OK) {
      return absl::InvalidArgumentError(
          absl::StrCat("Kafka property '", name, "' = '", value, "': ", error));
    }
    return absl::OkStatus();
  };
  absl::Status status = set("bootstrap.servers", brokers);
  for (const auto* list : {&defaults, &user, &forced}) {
    for (const auto& [name, value] : *list) {
      if (status.ok()) status = set(name, value);
    }
  }
  if (!status.ok()) {
    rd_kafka_conf_destroy(conf);
    return status;
  }
  return conf;
}

// What a CreateTopics answer (or its absence) means: an existing topic is fine.
absl::Status CreateTopicsOutcome(const std::string& brokers, absl::Duration timeout,
                                 rd_kafka_event_t* event) {
  const std::string where = absl::StrCat("creating topics on ", brokers);
  if (event == nullptr) {
    return absl::DeadlineExceededError(
        absl::StrCat(where, ": no answer within ", absl::FormatDuration(timeout)));
  }
  const rd_kafka_resp_err_t err = rd_kafka_event_error(event);
  if (err == RD_KAFKA_RESP_ERR__TIMED_OUT) {
    return absl::DeadlineExceededError(
        absl::StrCat(where, ": ", rd_kafka_event_error_string(event),
                     " (is the cluster reachable, and are its security.protocol, sasl.* and "
                     "ssl.* properties right?)"));
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return FromKafka(err, absl::StrCat(where, ": ", rd_kafka_event_error_string(event)));
  }
  size_t count = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
  for (size_t k = 0; k < count; ++k) {
    const rd_kafka_resp_err_t topic_err = rd_kafka_topic_result_error(results[k]);
    if (topic_err == RD_KAFKA_RESP_ERR_NO_ERROR ||
        topic_err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      continue;
    }
    const char* why = rd_kafka_topic_result_error_string(results[k]);
    return FromKafka(topic_err,
                     absl::StrCat("creating topic ", rd_kafka_topic_result_name(results[k]), ": ",
                                  why != nullptr ? why : rd_kafka_err2str(topic_err)));
  }
  return absl::OkStatus();
}

// The first error of a client that retrying will not cure: a login the cluster refused,
// a TLS handshake that failed (an untrusted or misnamed certificate), a fatal client
// error. librdkafka reports these through its error callback and otherwise retries for
// ever; the wrapper turns them into a status that names the settings to check.
class ClientHealth {
 public:
  void Record(rd_kafka_resp_err_t err, const char* reason) {
    absl::Status status;
    switch (err) {
      case RD_KAFKA_RESP_ERR__AUTHENTICATION:
      case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
        status = absl::UnauthenticatedError(absl::StrCat(
            "Kafka refused the login; check the properties security.protocol, sasl.mechanisms, "
            "sasl.username and sasl.password (",
            reason, ")"));
        break;
      case RD_KAFKA_RESP_ERR__SSL:
        status = absl::FailedPreconditionError(absl::StrCat(
            "the TLS handshake with Kafka failed; check the property ssl.ca.location (the CA "
            "that signed the brokers' certificates) and that bootstrap.servers names a host "
            "the certificates name (",
            reason, ")"));
        break;
      case RD_KAFKA_RESP_ERR__FATAL:
        status = absl::InternalError(absl::StrCat("fatal Kafka client error: ", reason));
        break;
      default:
        return;  // transient: librdkafka retries, and logs it
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (first_.ok()) first_ = std::move(status);
    failed_.store(true, std::memory_order_release);
  }
  // Read on every produce: a flag first, the lock only once something failed.
  absl::Status Get() const {
    if (!failed_.load(std::memory_order_acquire)) return absl::OkStatus();
    std::lock_guard<std::mutex> lock(mu_);
    return first_;
  }

 private:
  mutable std::mutex mu_;
  absl::Status first_;
  std::atomic<bool> failed_{false};
};

std::string Str(const void* data, size_t size) {
  return data == nullptr ? std::string() : std::string(static_cast<const char*>(data), size);
}

}  // namespace

// ---------------------------------------------------------------- Producer

struct Producer::Impl {
  rd_kafka_t* rk = nullptr;
  DeliveryCallback on_delivery;
  ClientHealth health;
  static void OnError(rd_kafka_t*, int err, const char* reason, void* opaque) {
    static_cast<Impl*>(opaque)->health.Record(static_cast<rd_kafka_resp_err_t>(err), reason);
  }
  ~Impl() {
    if (rk != nullptr) {
      // Nothing queued can reach a cluster that refused the login: do not wait for it.
      if (!health.Get().ok()) rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_flush(rk, 10'000);
      rd_kafka_destroy(rk);
    }
  }
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    if (!self->on_delivery) return;
    Delivery d;
    d.cookie = reinterpret_cast<uint64_t>(m->_private);
    d.status = FromKafka(m->err, "delivery");
    d.partition = m->partition;
    d.offset = m->offset;
    self->on_delivery(d);
  }
};

Producer::Producer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Producer::~Producer() = default;

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(const std::string& brokers,
                                                           const KafkaProperties& properties,
                                                           DeliveryCallback on_delivery) {
  auto impl = std::make_unique<Impl>();
  impl->on_delivery = std::move(on_delivery);
  auto conf = MakeConf(brokers,
                       {{"linger.ms", "5"},
                        {"batch.num.messages", "10000"},
                        {"queue.buffering.max.messages", "500000"},
                        {"compression.type", "lz4"},
                        {"partitioner", "murmur2_random"}},
                       properties, {{"enable.idempotence", "true"}, {"acks", "all"}});
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_dr_msg_cb(*conf, &Impl::OnDelivery);
  rd_kafka_conf_set_error_cb(*conf, &Impl::OnError);
  rd_kafka_conf_set_opaque(*conf, impl.get());
  char error[512];
  impl->rk = rd_kafka_new(RD_KAFKA_PRODUCER, *conf, error, sizeof error);
  if (impl->rk == nullptr) {
    rd_kafka_conf_destroy(*conf);
    return absl::InvalidArgumentError(absl::StrCat("cannot create a Kafka producer: ", error));
  }
  return std::unique_ptr<Producer>(new Producer(std::move(impl)));
}

absl::Status Producer::Produce(std::string_view topic, std::string_view key, std::string_view value,
                               uint64_t cookie, absl::Duration queue_wait) {
  return ProduceTo(topic, kAnyPartition, key, value, cookie, queue_wait);
}

absl::Status Producer::ProduceTo(std::string_view topic, int32_t partition, std::string_view key,
                                 std::string_view value, uint64_t cookie,
                                 absl::Duration queue_wait) {
  if (absl::Status health = impl_->health.Get(); !health.ok()) return health;
  const std::string topic_name(topic);
  const absl::Time deadline = absl::Now() + queue_wait;
  while (true) {
    const rd_kafka_resp_err_t err =
        rd_kafka_producev(impl_->rk, RD_KAFKA_V_TOPIC(topic_name.c_str()),
                          RD_KAFKA_V_PARTITION(partition == kAnyPartition ? RD_KAFKA_PARTITION_UA
                                                                          : partition),
                          RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
                          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(cookie)), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) return FromKafka(err, "produce");
    if (absl::Now() >= deadline) return FromKafka(err, "produce (queue still full)");
    rd_kafka_poll(impl_->rk, 50);  // serve delivery reports to make room
  }
}

void Producer::Poll(absl::Duration timeout) { rd_kafka_poll(impl_->rk, Millis(timeout)); }

int64_t Producer::Flush(absl::Duration timeout) {
  // In slices, so that a refused login ends the wait (health()) instead of the timeout.
  const absl::Time deadline = absl::Now() + timeout;
  while (rd_kafka_outq_len(impl_->rk) > 0 && impl_->health.Get().ok()) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    rd_kafka_flush(impl_->rk, Millis(std::min(left, absl::Milliseconds(100))));
  }
  return rd_kafka_outq_len(impl_->rk);
}

absl::Status Producer::health() const { return impl_->health.Get(); }

size_t Producer::max_message_bytes() const {
  // A v2 record's framing is at most 36 bytes (its length, attributes, timestamp and
  // offset deltas, key and value lengths, header count: RD_KAFKAP_MESSAGE_V2_MAX_OVERHEAD);
  // librdkafka refuses a message whose key, value and framing exceed message.max.bytes.
  constexpr size_t kFramingBytes = 64;
  char value[32];
  size_t size = sizeof value;
  size_t max = 1'000'000;  // librdkafka's default, should the property not read back
  if (rd_kafka_conf_get(rd_kafka_conf(impl_->rk), "message.max.bytes", value, &size) ==
      RD_KAFKA_CONF_OK) {
    max = static_cast<size_t>(std::max(0L, std::strtol(value, nullptr, 10)));
  }
  return max > kFramingBytes ? max - kFramingBytes : 0;
}

void Producer::Purge() {
  rd_kafka_purge(impl_->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(impl_->rk, 0);  // serve the purged messages' reports
}

// ---------------------------------------------------------------- Consumer

struct Consumer::Impl {
  rd_kafka_t* rk = nullptr;
  RebalanceListener* listener = nullptr;
  ClientHealth health;
  static void OnError(rd_kafka_t*, int err, const char* reason, void* opaque) {
    static_cast<Impl*>(opaque)->health.Record(static_cast<rd_kafka_resp_err_t>(err), reason);
  }
  bool closed = false;
  ~Impl() {
    if (rk != nullptr) {
      if (!closed) rd_kafka_consumer_close(rk);
      rd_kafka_destroy(rk);
    }
  }

  static std::vector<TopicPartition> ToVector(const rd_kafka_topic_partition_list_t* list) {
    std::vector<TopicPartition> out;
    for (int i = 0; i < list->cnt; ++i)
      out.push_back({list->elems[i].topic, list->elems[i].partition});
    return out;
  }

  // Eager rebalancing: on assignment the listener picks each start offset; on
  // revocation it finishes its work before the partitions are unassigned.
  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      const std::vector<int64_t> offsets = self->listener->OnAssigned(ToVector(partitions));
      for (int i = 0; i < partitions->cnt && static_cast<size_t>(i) < offsets.size(); ++i) {
        const int64_t offset = offsets[static_cast<size_t>(i)];
        partitions->elems[i].offset = offset == kOffsetBeginning ? RD_KAFKA_OFFSET_BEGINNING
                                      : offset == kOffsetEnd     ? RD_KAFKA_OFFSET_END
                                                                 : offset;
      }
      rd_kafka_assign(rk, partitions);
    } else {
      self->listener->OnRevoked(ToVector(partitions));
      rd_kafka_assign(rk, nullptr);
    }
  }
};

Consumer::Consumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Consumer::~Consumer() = default;

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::Create(const std::string& brokers,
                                                           const std::string& group_id,
                                                           const KafkaProperties& properties,
                                                           RebalanceListener* listener) {
  auto impl = std::make_unique<Impl>();
  impl->listener = listener;
  // librdkafka 2.0.2 backs off ~1 s when its pre-fetch queue is full: keep it deep
  // enough that the application, not the client, is the bottleneck.
  auto conf = MakeConf(brokers,
                       {{"queued.min.messages", "200000"},
                        {"queued.max.messages.kbytes", "262144"},
                        {"fetch.wait.max.ms", "50"},
                        {"max.partition.fetch.bytes", "4194304"},
                        {"session.timeout.ms", "10000"},
                        {"heartbeat.interval.ms", "1000"}},
                       properties,
                       {{"group.id", group_id},
                        {"enable.auto.commit", "false"},
                        {"enable.auto.offset.store", "false"},
                        {"auto.offset.reset", "error"},
                        {"check.crcs", "true"}});
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_rebalance_cb(*conf, &Impl::OnRebalance);
  rd_kafka_conf_set_error_cb(*conf, &Impl::OnError);
  rd_kafka_conf_set_opaque(*conf, impl.get());
  char error[512];
  impl->rk = rd_kafka_new(RD_KAFKA_CONSUMER, *conf, error, sizeof error);
  if (impl->rk == nullptr) {
    rd_kafka_conf_destroy(*conf);
    return absl::InvalidArgumentError(absl::StrCat("cannot create a Kafka consumer: ", error));
  }
  rd_kafka_poll_set_consumer(impl->rk);
  return std::unique_ptr<Consumer>(new Consumer(std::move(impl)));
}

absl::Status Consumer::Subscribe(const std::vector<std::string>& topics) {
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(topics.size()));
  for (const std::string& t : topics) {
    rd_kafka_topic_partition_list_add(list, t.c_str(), RD_KAFKA_PARTITION_UA);
  }
  const rd_kafka_resp_err_t err = rd_kafka_subscribe(impl_->rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  return FromKafka(err, "subscribe");
}

std::vector<KafkaMessage> Consumer::Poll(size_t max_messages, absl::Duration timeout) {
  std::vector<KafkaMessage> out;
  int wait = Millis(timeout);
  while (out.size() < max_messages) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(impl_->rk, wait);
    if (m == nullptr) break;
    wait = 0;  // after the first message take only what is already there
    KafkaMessage& msg = out.emplace_back();
    if (m->rkt != nullptr) msg.topic = rd_kafka_topic_name(m->rkt);
    msg.partition = m->partition;
    msg.offset = m->offset;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        out.pop_back();
      } else {
        msg.error =
            FromKafka(m->err, absl::StrCat("consuming ", msg.topic, "[", msg.partition, "] at ",
                                           msg.offset, ": ", Str(m->payload, m->len)));
      }
    } else {
      msg.key = Str(m->key, m->key_len);
      msg.value = Str(m->payload, m->len);
    }
    rd_kafka_message_destroy(m);
  }
  return out;
}

absl::StatusOr<std::pair<int64_t, int64_t>> Consumer::QueryWatermarks(const std::string& topic,
                                                                      int32_t partition,
                                                                      absl::Duration timeout) {
  // librdkafka asks the partition's leader once; while a leader is being elected (a
  // topic just created, a broker restarting) it answers "not leader" or "leader not
  // available". Those pass: asked again, a little later each time, until the timeout.
  const absl::Time deadline = absl::Now() + timeout;
  absl::Duration backoff = absl::Milliseconds(50);
  for (;;) {
    int64_t low = 0, high = 0;
    const absl::Duration left = std::max(deadline - absl::Now(), absl::Milliseconds(1));
    const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        impl_->rk, topic.c_str(), partition, &low, &high, Millis(left));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return std::make_pair(low, high);
    absl::Status status =
        FromKafka(err, absl::StrCat("watermarks of ", topic, "[", partition, "]"));
    if (!absl::IsUnavailable(status) || absl::Now() + backoff >= deadline) return status;
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(1));
  }
}

absl::StatusOr<int32_t> Consumer::PartitionCount(const std::string& topic,
                                                 absl::Duration timeout) {
  rd_kafka_topic_t* handle = rd_kafka_topic_new(impl_->rk, topic.c_str(), nullptr);
  if (handle == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("topic '", topic, "': cannot be named"));
  }
  // A second at a time, serving the error callback in between, so that a refused login
  // ends the wait (health()) instead of the timeout. Before Subscribe, the poll serves
  // nothing else.
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
  const absl::Time deadline = absl::Now() + timeout;
  while (impl_->health.Get().ok() && absl::Now() < deadline) {
    err = rd_kafka_metadata(impl_->rk, 0, handle, &metadata, 1000);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    if (rd_kafka_message_t* m = rd_kafka_consumer_poll(impl_->rk, 0)) rd_kafka_message_destroy(m);
  }
  rd_kafka_topic_destroy(handle);
  if (absl::Status health = impl_->health.Get(); !health.ok()) return health;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return FromKafka(err, absl::StrCat("reading the metadata of topic ", topic));
  }
  absl::StatusOr<int32_t> count = absl::NotFoundError(absl::StrCat("topic ", topic, " does not exist"));
  if (metadata->topic_cnt == 1 && metadata->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
      metadata->topics[0].partition_cnt > 0) {
    count = metadata->topics[0].partition_cnt;
  } else if (metadata->topic_cnt == 1 && metadata->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    count = FromKafka(metadata->topics[0].err, absl::StrCat("topic ", topic));
  }
  rd_kafka_metadata_destroy(metadata);
  return count;
}

absl::Status Consumer::health() const { return impl_->health.Get(); }

std::optional<int64_t> Consumer::CachedHighWatermark(const std::string& topic, int32_t partition) {
  int64_t low = -1, high = -1;
  if (rd_kafka_get_watermark_offsets(impl_->rk, topic.c_str(), partition, &low, &high) !=
          RD_KAFKA_RESP_ERR_NO_ERROR ||
      high < 0) {
    return std::nullopt;
  }
  return high;
}

namespace {

absl::Status PauseOrResume(rd_kafka_t* rk, const std::vector<TopicPartition>& partitions,
                           bool pause) {
  if (partitions.empty()) return absl::OkStatus();
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
  for (const TopicPartition& tp : partitions) {
    rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition);
  }
  const rd_kafka_resp_err_t err =
      pause ? rd_kafka_pause_partitions(rk, list) : rd_kafka_resume_partitions(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return FromKafka(err, pause ? "pausing partitions" : "resuming partitions");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Consumer::Pause(const std::vector<TopicPartition>& partitions) {
  return PauseOrResume(impl_->rk, partitions, true);
}

absl::Status Consumer::Resume(const std::vector<TopicPartition>& partitions) {
  return PauseOrResume(impl_->rk, partitions, false);
}

void Consumer::Close() {
  if (impl_->closed) return;
  rd_kafka_consumer_close(impl_->rk);
  impl_->closed = true;
}

// ---------------------------------------------------------------- EmbeddedCluster

struct EmbeddedCluster::Impl {
  rd_kafka_t* rk = nullptr;
  rd_kafka_mock_cluster_t* cluster = nullptr;
  ~Impl() {
    if (cluster != nullptr) rd_kafka_mock_cluster_destroy(cluster);
    if (rk != nullptr) rd_kafka_destroy(rk);
  }
};

EmbeddedCluster::EmbeddedCluster(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EmbeddedCluster::~EmbeddedCluster() = default;

absl::StatusOr<std::unique_ptr<EmbeddedCluster>> EmbeddedCluster::Start(int brokers) {
  auto impl = std::make_unique<Impl>();
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  // The handle only hosts the mock cluster; it talks to no broker of its own (so spare
  // us the notice that it has no bootstrap.servers).
  rd_kafka_conf_set(conf, "log_level", "4", error, sizeof error);
  impl->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  if (impl->rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(absl::StrCat("cannot create the mock cluster's handle: ", error));
  }
  impl->cluster = rd_kafka_mock_cluster_new(impl->rk, brokers);
  if (impl->cluster == nullptr) return absl::InternalError("cannot start the mock cluster");
  // A group's first rebalance without the broker default's 3-second wait for more members,
  // as scripts/kafka's brokers and the server.properties Apache Kafka ships for development
  // have it: an engine starting alone consumes at once.
  rd_kafka_mock_group_initial_rebalance_delay_ms(impl->cluster, 0);
  return std::unique_ptr<EmbeddedCluster>(new EmbeddedCluster(std::move(impl)));
}

absl::Status EmbeddedCluster::CreateTopic(const std::string& topic, int partitions,
                                          int replication_factor) {
  return FromKafka(
      rd_kafka_mock_topic_create(impl_->cluster, topic.c_str(), partitions, replication_factor),
      absl::StrCat("creating topic ", topic));
}

std::string EmbeddedCluster::bootstrap_servers() const {
  return rd_kafka_mock_cluster_bootstraps(impl_->cluster);
}

absl::Status EmbeddedCluster::SetBrokerDown(int32_t broker_id) {
  return FromKafka(rd_kafka_mock_broker_set_down(impl_->cluster, broker_id), "broker down");
}

absl::Status EmbeddedCluster::SetBrokerUp(int32_t broker_id) {
  return FromKafka(rd_kafka_mock_broker_set_up(impl_->cluster, broker_id), "broker up");
}

absl::Status EmbeddedCluster::SetGroupCoordinator(const std::string& group_id, int32_t broker_id) {
  return FromKafka(
      rd_kafka_mock_coordinator_set(impl_->cluster, "group", group_id.c_str(), broker_id),
      "setting the group coordinator");
}

absl::Status EmbeddedCluster::SetPartitionLeader(const std::string& topic, int32_t partition,
                                                 int32_t broker_id) {
  return FromKafka(
      rd_kafka_mock_partition_set_leader(impl_->cluster, topic.c_str(), partition, broker_id),
      "setting a partition leader");
}

// ---------------------------------------------------------------- Admin

absl::Status CreateTopics(const std::string& brokers, const KafkaProperties& properties,
                          const std::vector<TopicSpec>& topics, absl::Duration timeout) {
  ASSIGN_OR_RETURN(rd_kafka_conf_t * conf, MakeConf(brokers, {}, properties, {}));
  ClientHealth health;
  rd_kafka_conf_set_error_cb(conf, [](rd_kafka_t*, int err, const char* reason, void* opaque) {
    static_cast<ClientHealth*>(opaque)->Record(static_cast<rd_kafka_resp_err_t>(err), reason);
  });
  rd_kafka_conf_set_opaque(conf, &health);
  char error[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(absl::StrCat("cannot create a Kafka client: ", error));
  }
  const int timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(timeout));
  std::vector<rd_kafka_NewTopic_t*> specs;
  absl::Status status;
  for (const TopicSpec& topic : topics) {
    rd_kafka_NewTopic_t* spec = rd_kafka_NewTopic_new(
        topic.name.c_str(), topic.partitions, topic.replication_factor, error, sizeof error);
    if (spec == nullptr) {
      status = absl::InvalidArgumentError(absl::StrCat("topic ", topic.name, ": ", error));
      break;
    }
    specs.push_back(spec);
    for (const auto& [name, value] : topic.configs) {
      if (rd_kafka_NewTopic_set_config(spec, name.c_str(), value.c_str()) !=
          RD_KAFKA_RESP_ERR_NO_ERROR) {
        status = absl::InvalidArgumentError(
            absl::StrCat("topic ", topic.name, ": cannot set ", name, "=", value));
      }
    }
    if (!status.ok()) break;
  }
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* options =
      rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  if (status.ok()) {
    rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, error, sizeof error);
    rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms, error, sizeof error);
    rd_kafka_CreateTopics(rk, specs.data(), specs.size(), options, queue);
    // The request's own timeout ends it (the margin covers connecting), or an error that
    // retrying will not cure.
    const absl::Time deadline = absl::Now() + timeout + absl::Seconds(5);
    rd_kafka_event_t* event = nullptr;
    while (event == nullptr && health.Get().ok() && absl::Now() < deadline) {
      event = rd_kafka_queue_poll(queue, 100);
      rd_kafka_poll(rk, 0);  // serves the error callback
    }
    status = health.Get().ok() ? CreateTopicsOutcome(brokers, timeout, event) : health.Get();
    if (event != nullptr) rd_kafka_event_destroy(event);
  }
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_queue_destroy(queue);
  rd_kafka_NewTopic_destroy_array(specs.data(), specs.size());
  rd_kafka_destroy(rk);
  return status;
}

}  // namespace guanxi::engine

#if defined(__SANITIZE_THREAD__)
// ThreadSanitizer and librdkafka's threads. librdkafka starts its threads with C11
// thrd_create, which glibc (2.34 on) implements without calling pthread_create. GCC 12's
// ThreadSanitizer intercepts pthread_create only, so it would not know those threads and
// would crash at their first intercepted call (a SEGV near address 0, before any
// report). Under -fsanitize=thread the engine therefore defines thrd_create itself, on
// pthread_create, and librdkafka.so binds to this definition rather than glibc's. The
// thread's int result travels as glibc's thrd_exit passes it (a pointer holding the
// integer). librdkafka's C11 mutexes and condition variables stay invisible to it (it
// does not see librdkafka's own memory accesses either). Compiled in no other build.
namespace {
struct ThreadStart {
  thrd_start_t func;
  void* arg;
};

void* RunThreadStart(void* p) {
  const ThreadStart start = *static_cast<ThreadStart*>(p);
  delete static_cast<ThreadStart*>(p);
  return reinterpret_cast<void*>(static_cast<intptr_t>(start.func(start.arg)));
}
}  // namespace

extern "C" int thrd_create(thrd_t* thread, thrd_start_t func, void* arg) {
  auto* start = new (std::nothrow) ThreadStart{func, arg};
  if (start == nullptr) return thrd_nomem;
  const int err = pthread_create(thread, nullptr, RunThreadStart, start);
  if (err == 0) return thrd_success;
  delete start;
  return err == ENOMEM ? thrd_nomem : thrd_error;
}

// And the join, so that ThreadSanitizer sees those threads end (no "thread leak").
extern "C" int thrd_join(thrd_t thread, int* result) {
  void* value = nullptr;
  if (pthread_join(thread, &value) != 0) return thrd_error;
  if (result != nullptr) *result = static_cast<int>(reinterpret_cast<intptr_t>(value));
  return thrd_success;
}
#endif
