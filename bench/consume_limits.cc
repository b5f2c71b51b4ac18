#include "bench/consume_limits.h"

#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "app/progress.h"
#include "engine/kafka/kafka.h"

namespace guanxi::bench {
namespace {

// Without progress for this long, the broker is not going to deliver the rest.
constexpr double kStallSeconds = 60;

}  // namespace

Result ConsumeReport::ToResult() const {
  Result r;
  Put(r, "messages", messages);
  Put(r, "key_value_bytes", bytes);
  Put(r, "seconds", seconds);
  Put(r, "total_seconds", total_seconds);
  Put(r, "first_message_after_seconds", first_message_seconds);
  Put(r, "messages_per_second", seconds > 0 ? static_cast<double>(messages) / seconds : 0.0);
  Put(r, "megabytes_per_second", seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0.0);
  return r;
}

absl::StatusOr<ConsumeReport> RawConsume(const std::string& brokers, const std::string& topic,
                                         int partitions, int64_t expected) {
  const auto created = Clock::now();
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  // The engine consumer's fetch settings (engine/kafka/kafka.cc), so the limit is the
  // same client doing the same fetching.
  const std::pair<const char*, std::string> settings[] = {
      {"bootstrap.servers", brokers},
      {"group.id", "guanxi-bench-raw"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"queued.min.messages", "200000"},
      {"queued.max.messages.kbytes", "262144"},
      {"fetch.wait.max.ms", "50"},
      {"max.partition.fetch.bytes", "4194304"},
      {"check.crcs", "true"},
  };
  for (const auto& [name, value] : settings) {
    if (rd_kafka_conf_set(conf, name, value.c_str(), error, sizeof error) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError(absl::StrCat(name, ": ", error));
    }
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(absl::StrCat("cannot create a consumer: ", error));
  }
  auto destroy = [](rd_kafka_t* k) {
    rd_kafka_consumer_close(k);
    rd_kafka_destroy(k);
  };
  std::unique_ptr<rd_kafka_t, decltype(destroy)> owner(rk, destroy);
  rd_kafka_poll_set_consumer(rk);
  // Connect to every partition's leader before the clock can start (a watermark query
  // goes to the leader), as the group member is connected by the time it is assigned.
  for (int32_t p = 0; p < partitions; ++p) {
    int64_t low = 0, high = 0;
    const rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high, 30'000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::UnavailableError(
          absl::StrCat("raw consume: watermarks of partition ", p, ": ", rd_kafka_err2str(err)));
    }
  }
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int32_t p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  const rd_kafka_resp_err_t assigned = rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (assigned != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InternalError(absl::StrCat("assign: ", rd_kafka_err2str(assigned)));
  }
  ConsumeReport report;
  Clock::time_point first;
  app::Progress progress(std::cerr, "consume (raw librdkafka)", isatty(STDERR_FILENO) != 0);
  auto last_progress = Clock::now();
  while (report.messages < expected) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) {
      if (SecondsSince(last_progress) > kStallSeconds) {
        return absl::DeadlineExceededError(absl::StrCat("raw consume stalled at ", report.messages,
                                                        " of ", expected, " messages"));
      }
      continue;
    }
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (report.messages == 0) {
        first = Clock::now();
        report.first_message_seconds = SecondsSince(created);
      }
      ++report.messages;
      report.bytes += static_cast<int64_t>(m->len + m->key_len);
      last_progress = Clock::now();
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      const std::string what = rd_kafka_message_errstr(m);
      rd_kafka_message_destroy(m);
      return absl::UnavailableError(absl::StrCat("raw consume: ", what));
    }
    rd_kafka_message_destroy(m);
    if (report.messages % 8192 == 0) {
      progress.Update(report.messages, expected, report.messages, "messages");
    }
  }
  progress.Finish();
  report.seconds = SecondsSince(first);
  report.total_seconds = SecondsSince(created);
  return report;
}

absl::StatusOr<ConsumeReport> WrapperConsume(const std::string& brokers, const std::string& topic,
                                             int64_t expected, size_t poll_size) {
  struct FromStart final : engine::RebalanceListener {
    std::vector<int64_t> OnAssigned(const std::vector<engine::TopicPartition>& p) override {
      return std::vector<int64_t>(p.size(), engine::kOffsetBeginning);
    }
    void OnRevoked(const std::vector<engine::TopicPartition>&) override {}
  } listener;
  const auto created = Clock::now();
  auto consumer = engine::Consumer::Create(brokers, "guanxi-bench-wrapper", {}, &listener);
  if (!consumer.ok()) return consumer.status();
  if (auto s = (*consumer)->Subscribe({topic}); !s.ok()) return s;
  ConsumeReport report;
  Clock::time_point first;
  app::Progress progress(std::cerr, "consume (engine::Consumer)", isatty(STDERR_FILENO) != 0);
  auto last_progress = Clock::now();
  while (report.messages < expected) {
    const std::vector<engine::KafkaMessage> batch =
        (*consumer)->Poll(poll_size, absl::Milliseconds(100));
    if (batch.empty() && SecondsSince(last_progress) > kStallSeconds) {
      return absl::DeadlineExceededError(
          absl::StrCat("wrapper consume stalled at ", report.messages, " of ", expected));
    }
    for (const engine::KafkaMessage& m : batch) {
      if (!m.error.ok()) return m.error;
      if (report.messages == 0) {
        first = Clock::now();
        report.first_message_seconds = SecondsSince(created);
      }
      ++report.messages;
      report.bytes += static_cast<int64_t>(m.key.size() + m.value.size());
    }
    if (!batch.empty()) last_progress = Clock::now();
    progress.Update(report.messages, expected, report.messages, "messages");
  }
  progress.Finish();
  report.seconds = SecondsSince(first);
  report.total_seconds = SecondsSince(created);
  (*consumer)->Close();
  return report;
}

}  // namespace guanxi::bench
