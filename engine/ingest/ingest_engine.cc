#include "engine/ingest/ingest_engine.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "engine/kafka/topics.h"
#include "engine/log/data_dir.h"

namespace guanxi::engine {
namespace {

int64_t NowUnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// Dead letters to Kafka; Flush waits until the broker acknowledged all of them.
class IngestEngine::DeadLetterProducer final : public DeadLetterSink {
 public:
  absl::Status Init(const std::string& brokers, const KafkaProperties& properties,
                    std::string topic) {
    topic_ = std::move(topic);
    auto producer = Producer::Create(brokers, properties, [this](const Producer::Delivery& d) {
      if (!d.status.ok() && failure_.ok()) failure_ = d.status;
    });
    if (!producer.ok()) return producer.status();
    producer_ = std::move(*producer);
    return absl::OkStatus();
  }
  absl::Status Send(const guanxi::v1::DeadLetter& letter) override {
    letter.SerializeToString(&buffer_);
    return producer_->Produce(topic_, letter.original_key(), buffer_, 0);
  }
  absl::Status Flush() override {
    if (const int64_t left = producer_->Flush(absl::Seconds(60)); left > 0) {
      return absl::UnavailableError(absl::StrCat(left, " dead letters not acknowledged in 60 s"));
    }
    absl::Status failure = failure_;
    failure_ = absl::OkStatus();
    return failure;
  }

 private:
  std::string topic_;
  std::unique_ptr<Producer> producer_;
  std::string buffer_;
  absl::Status failure_;
};

IngestEngine::IngestEngine(IngestEngineOptions options) : options_(std::move(options)) {
  storage_ = MakeSharedStorage(options_.config.storage().block_cache_bytes(),
                               options_.config.storage().write_buffer_bytes());
}

IngestEngine::~IngestEngine() = default;

std::vector<int64_t> IngestEngine::OnAssigned(const std::vector<TopicPartition>& partitions) {
  assigned_once_ = true;
  std::vector<int64_t> starts;
  const auto& kafka = options_.config.kafka();
  for (const TopicPartition& tp : partitions) {
    Owned owned;
    EventLogOptions log_options;
    log_options.partition = tp.partition;
    log_options.sync = options_.config.storage().sync();
    log_options.block_cache = storage_.block_cache;
    log_options.write_buffer_manager = storage_.write_buffer_manager;
    auto log = EventLog::Open(PartitionDir(options_.data_dir, tp.partition), log_options);
    if (!log.ok()) {
      if (fatal_.ok()) fatal_ = log.status();
      starts.push_back(kOffsetBeginning);
      continue;
    }
    owned.log = std::move(*log);
    auto ingestor = PartitionIngestor::Create(
        tp.topic, tp.partition, owned.log.get(), dead_letters_.get(),
        DecodeLimits{.max_event_bytes = static_cast<size_t>(kafka.max_event_bytes())},
        NowUnixMillis);
    if (!ingestor.ok()) {
      if (fatal_.ok()) fatal_ = ingestor.status();
      starts.push_back(kOffsetBeginning);
      continue;
    }
    owned.ingestor = std::move(*ingestor);
    const int64_t stored = owned.ingestor->next_offset();
    const int64_t start = stored < 0 ? 0 : stored;
    auto marks = consumer_->QueryWatermarks(tp.topic, tp.partition, absl::Seconds(30));
    if (!marks.ok()) {
      if (fatal_.ok()) fatal_ = marks.status();
    } else {
      owned.target = marks->second;
      if (start < marks->first) {
        if (fatal_.ok()) {
          fatal_ = absl::DataLossError(absl::StrCat(
              "retention gap on ", tp.topic, "[", tp.partition, "]: the next offset to append is ",
              start, " but the topic only keeps offsets from ", marks->first, "; offsets ", start,
              "..", marks->first - 1,
              " were deleted before this store read them (restore the "
              "partition's store from a checkpoint, or see docs/operations.md)"));
        }
      }
    }
    starts.push_back(stored < 0 ? kOffsetBeginning : stored);
    owned_[tp.partition] = std::move(owned);
  }
  return starts;
}

void IngestEngine::OnRevoked(const std::vector<TopicPartition>& partitions) {
  // Processing is synchronous: nothing is in flight; closing the stores is all.
  for (const TopicPartition& tp : partitions) owned_.erase(tp.partition);
}

bool IngestEngine::CaughtUp() const {
  if (!assigned_once_) return false;
  for (const auto& [partition, owned] : owned_) {
    if (owned.ingestor && owned.ingestor->next_offset() < owned.target) return false;
  }
  return true;
}

absl::Status IngestEngine::Run(const std::atomic<bool>& stop) {
  const auto& kafka = options_.config.kafka();
  const KafkaProperties properties = PropertiesOf(kafka);
  dead_letters_ = std::make_unique<DeadLetterProducer>();
  if (auto s = dead_letters_->Init(options_.brokers, properties, kafka.dead_letters_topic());
      !s.ok()) {
    return s;
  }
  auto consumer = Consumer::Create(options_.brokers, kafka.group_id(), properties, this);
  if (!consumer.ok()) return consumer.status();
  consumer_ = std::move(*consumer);
  if (auto s = consumer_->Subscribe({kafka.events_topic()}); !s.ok()) return s;

  absl::Status result;
  auto last_progress = std::chrono::steady_clock::now();
  std::map<int32_t, std::vector<ConsumedMessage>> by_partition;
  while (!stop.load()) {
    std::vector<KafkaMessage> messages =
        consumer_->Poll(options_.max_batch, absl::Milliseconds(100));
    if (!fatal_.ok()) {
      result = fatal_;
      break;
    }
    by_partition.clear();
    for (const KafkaMessage& m : messages) {
      if (!m.error.ok()) {
        // An offset the broker no longer has is data loss; anything else is transient
        // and librdkafka retries it.
        if (m.error.code() == absl::StatusCode::kDataLoss) {
          result = m.error;
          break;
        }
        continue;
      }
      by_partition[m.partition].push_back({m.offset, m.key, m.value});
    }
    if (!result.ok()) break;
    for (auto& [partition, batch] : by_partition) {
      auto it = owned_.find(partition);
      if (it == owned_.end() || !it->second.ingestor) continue;  // revoked meanwhile
      auto stats = it->second.ingestor->Process(batch);
      if (!stats.ok()) {
        result = absl::Status(stats.status().code(), absl::StrCat("partition ", partition, ": ",
                                                                  stats.status().message()));
        break;
      }
      totals_.messages += stats->messages;
      totals_.appended += stats->appended;
      totals_.duplicates += stats->duplicates;
      totals_.dead_letters += stats->dead_letters;
    }
    if (!result.ok()) break;
    const auto now = std::chrono::steady_clock::now();
    if (options_.on_progress && now - last_progress >= std::chrono::seconds(1)) {
      last_progress = now;
      options_.on_progress(totals_, owned_.size());
    }
    if (options_.until_caught_up && CaughtUp()) break;
  }
  consumer_->Close();
  owned_.clear();
  if (options_.on_progress) options_.on_progress(totals_, owned_.size());
  return result;
}

}  // namespace guanxi::engine
