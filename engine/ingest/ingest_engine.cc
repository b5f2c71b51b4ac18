#include "engine/ingest/ingest_engine.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
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
  state_budget_ =
      std::make_shared<StateCacheBudget>(options_.config.workers().state_cache_bytes());
}

IngestEngine::~IngestEngine() {
  if (publisher_) publisher_->Stop();  // before the stores it reads close
  owned_.clear();
  stores_.clear();
}

absl::StatusOr<std::shared_ptr<IngestEngine::Store>> IngestEngine::AcquireStore(int32_t partition) {
  // Still open: the partition was revoked while a reader held its store, so it was not
  // closed (RocksDB would refuse to open it again while it is: its LOCK). Its previous
  // writers (ingestor, projection worker, publisher) are gone and wrote through this very
  // object, so it is exactly what a fresh open would find.
  if (auto it = stores_.find(partition); it != stores_.end()) return it->second;
  EventLogOptions log_options;
  log_options.partition = partition;
  log_options.sync = options_.config.storage().sync();
  log_options.block_cache = storage_.block_cache;
  log_options.write_buffer_manager = storage_.write_buffer_manager;
  log_options.extra_column_families = ProjectionStore::ColumnFamilies();
  auto store = std::make_shared<Store>();
  ASSIGN_OR_RETURN(store->log,
                   EventLog::Open(PartitionDir(options_.data_dir, partition), log_options));
  ASSIGN_OR_RETURN(store->projections, ProjectionStore::Attach(store->log.get()));
  stores_[partition] = store;
  return store;
}

void IngestEngine::CloseReleasedStores() {
  for (auto it = stores_.begin(); it != stores_.end();) {
    // Nobody else holds it, and nobody can start to: a holder copies from a holder.
    if (owned_.count(it->first) == 0 && it->second.use_count() == 1) {
      it = stores_.erase(it);
    } else {
      ++it;
    }
  }
}

absl::Status IngestEngine::OpenPartition(const TopicPartition& tp, Owned& owned) {
  ASSIGN_OR_RETURN(const std::shared_ptr<Store> store, AcquireStore(tp.partition));
  owned.log = std::shared_ptr<EventLog>(store, store->log.get());
  owned.store = std::shared_ptr<ProjectionStore>(store, store->projections.get());
  const auto& kafka = options_.config.kafka();
  ASSIGN_OR_RETURN(
      owned.ingestor,
      PartitionIngestor::Create(
          tp.topic, tp.partition, owned.log.get(), dead_letters_.get(),
          DecodeLimits{.max_event_bytes = static_cast<size_t>(kafka.max_event_bytes())},
          NowUnixMillis));
  const int64_t stored = owned.ingestor->next_offset();
  const int64_t start = stored < 0 ? 0 : stored;
  ASSIGN_OR_RETURN(const auto marks,
                   consumer_->QueryWatermarks(tp.topic, tp.partition, absl::Seconds(30)));
  owned.target = marks.second;
  if (start < marks.first) {
    return absl::DataLossError(absl::StrCat(
        "retention gap on ", tp.topic, "[", tp.partition, "]: the next offset to append is ", start,
        " but the topic only keeps offsets from ", marks.first, "; offsets ", start, "..",
        marks.first - 1,
        " were deleted before this store read them (restore the "
        "partition's store from a checkpoint, or see docs/operations.md)"));
  }
  // Only now, with nothing left to fail, the partition's worker starts and its outbox
  // is published (a failed open must leave no thread holding the store).
  ASSIGN_OR_RETURN(auto projector,
                   PartitionProjector::Create(
                       owned.log.get(), owned.store.get(),
                       {.partition = tp.partition,
                        .config = options_.config,
                        .append_model =
                            [this, partition = tp.partition](guanxi::v1::LogRecord r) {
                              absl::MutexLock lock(&models_mu_);
                              models_[partition].push_back(std::move(r));
                            },
                        .state_cache = state_budget_,
                        .commit_interval = std::chrono::milliseconds(
                            options_.config.workers().commit_interval_ms()),
                        .fitter = &fitter_}));
  OutboxPublisher* publisher = publisher_.get();
  owned.worker = std::make_unique<ProjectionWorker>(std::move(projector),
                                                    [publisher] { publisher->Notify(); });
  publisher_->Add(tp.partition, owned.store);
  owned.worker->Start();
  owned.worker->Notify(owned.log->next_position());
  return absl::OkStatus();
}

std::vector<int64_t> IngestEngine::OnAssigned(const std::vector<TopicPartition>& partitions) {
  assigned_once_ = true;
  std::vector<int64_t> starts;
  for (const TopicPartition& tp : partitions) {
    if (auto it = owned_.find(tp.partition); it != owned_.end()) {
      // Assigned without a revocation in between: it keeps its one writer.
      const int64_t stored = it->second.ingestor->next_offset();
      starts.push_back(stored < 0 ? kOffsetBeginning : stored);
      continue;
    }
    Owned owned;
    if (absl::Status s = OpenPartition(tp, owned); !s.ok()) {
      if (fatal_.ok()) fatal_ = s;
      starts.push_back(kOffsetBeginning);
      continue;
    }
    const int64_t stored = owned.ingestor->next_offset();
    starts.push_back(stored < 0 ? kOffsetBeginning : stored);
    owned_[tp.partition] = std::move(owned);
  }
  return starts;
}

void IngestEngine::OnRevoked(const std::vector<TopicPartition>& partitions) {
  // Appending is synchronous: nothing is in flight. The worker stops at a commit
  // boundary; whatever it had not applied, the next owner applies from the checkpoint.
  // The publisher does not wait for a round in progress (it holds the store itself).
  for (const TopicPartition& tp : partitions) {
    auto it = owned_.find(tp.partition);
    if (it == owned_.end()) continue;
    if (it->second.worker) {
      if (absl::Status s = it->second.worker->Stop(); !s.ok() && fatal_.ok()) fatal_ = s;
    }
    publisher_->Remove(tp.partition);
    owned_.erase(it);
    PublishStatus();  // readers stop seeing the partition (those holding it keep it open)
  }
  CloseReleasedStores();
}

absl::Status IngestEngine::TickQuietPartitions(
    const std::map<int32_t, std::vector<ConsumedMessage>>& polled) {
  int64_t instance_clock = 0;
  for (const auto& [partition, owned] : owned_) {
    if (owned.worker) instance_clock = std::max(instance_clock, owned.worker->clock_seconds());
  }
  const int64_t lag = options_.config.workers().tick_lag_seconds();
  for (auto& [partition, owned] : owned_) {
    if (!owned.worker || polled.count(partition) > 0) continue;
    // Quiet: everything the broker has is appended and applied, and event time on this
    // instance has moved on by more than the lag.
    const uint64_t head = owned.log->next_position();
    if (head == 0 || owned.worker->applied() < head) continue;
    if (instance_clock - owned.worker->clock_seconds() <= lag) continue;
    const auto high =
        consumer_->CachedHighWatermark(options_.config.kafka().events_topic(), partition);
    if (!high || owned.ingestor->next_offset() < *high) continue;
    guanxi::v1::LogRecord tick;
    tick.mutable_tick()->mutable_event_time()->set_seconds(instance_clock);
    ASSIGN_OR_RETURN(const AppendResult appended, owned.log->Append(absl::MakeSpan(&tick, 1), {}));
    (void)appended;
    std::vector<guanxi::v1::LogRecord> ticked(1);
    ticked[0] = std::move(tick);
    owned.worker->Feed(std::move(ticked));
    ++totals_.ticks;
  }
  return absl::OkStatus();
}

EngineStatus IngestEngine::Status() const {
  absl::MutexLock lock(&status_mu_);
  return status_;
}

std::vector<PartitionView> IngestEngine::Partitions() const {
  absl::MutexLock lock(&status_mu_);
  return views_;
}

void IngestEngine::RecordBatchLatency(double seconds) {
  size_t i = 0;
  while (i < std::size(kBatchLatencyBounds) && seconds > kBatchLatencyBounds[i]) ++i;
  for (size_t j = i; j < latency_buckets_.size(); ++j) ++latency_buckets_[j];
  latency_sum_ += seconds;
}

void IngestEngine::PublishStatus() {
  EngineStatus status;
  status.totals = totals_;
  std::vector<PartitionView> views;
  for (const auto& [partition, owned] : owned_) {
    if (!owned.worker) continue;
    PartitionStatus p{.partition = partition,
                      .next_offset = owned.ingestor->next_offset(),
                      .log_records = owned.log->next_position(),
                      .projected = owned.worker->applied()};
    if (consumer_) {
      p.high_watermark =
          consumer_->CachedHighWatermark(options_.config.kafka().events_topic(), partition)
              .value_or(-1);
    }
    status.partitions.push_back(p);
    views.push_back({partition, owned.log, owned.store});
  }
  if (publisher_) status.outbox = publisher_->stats();
  status.batch_latency_buckets = latency_buckets_;
  status.batch_latency_sum_seconds = latency_sum_;
  absl::MutexLock lock(&status_mu_);
  status_ = std::move(status);
  views_ = std::move(views);
}

absl::StatusOr<int64_t> IngestEngine::AppendModels() {
  std::map<int32_t, std::vector<guanxi::v1::LogRecord>> models;
  {
    absl::MutexLock lock(&models_mu_);
    models.swap(models_);
  }
  int64_t count = 0;
  for (auto& [partition, records] : models) {
    auto it = owned_.find(partition);
    if (it == owned_.end() || !it->second.worker) continue;  // revoked: the next owner refits
    ASSIGN_OR_RETURN(const AppendResult appended,
                     it->second.log->Append(absl::MakeSpan(records), {}));
    totals_.models += appended.appended;
    count += static_cast<int64_t>(appended.appended);
    it->second.worker->Feed(std::move(records));
  }
  return count;
}

absl::Status IngestEngine::DrainWorkers() {
  // Until every worker applied its whole log and asked for no model record on the way:
  // a backfill leaves the models that live running would (each lands after the commit
  // that found it due).
  for (;;) {
    for (auto& [partition, owned] : owned_) {
      if (!owned.worker) continue;
      const uint64_t head = owned.log->next_position();
      while (!owned.worker->WaitFor(head, absl::Seconds(1))) {
        RETURN_IF_ERROR(owned.worker->status());
      }
      RETURN_IF_ERROR(owned.worker->status());
    }
    fitter_.WaitIdle();
    ASSIGN_OR_RETURN(const int64_t models, AppendModels());
    if (models == 0) break;
  }
  // And what they derived is out.
  publisher_->Notify();
  if (!publisher_->WaitIdle(absl::Seconds(120))) {
    return absl::UnavailableError("the outbox could not be delivered within 120 s");
  }
  return absl::OkStatus();
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
  publisher_ = std::make_unique<OutboxPublisher>(options_.brokers, options_.config);
  RETURN_IF_ERROR(publisher_->Start());
  auto consumer = Consumer::Create(options_.brokers, kafka.group_id(), properties, this);
  if (!consumer.ok()) return consumer.status();
  consumer_ = std::move(*consumer);
  if (auto s = consumer_->Subscribe({kafka.events_topic()}); !s.ok()) return s;

  absl::Status result;
  auto last_progress = std::chrono::steady_clock::now();
  std::map<int32_t, std::vector<ConsumedMessage>> by_partition;
  std::vector<guanxi::v1::LogRecord> appended;
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
      const auto started = std::chrono::steady_clock::now();
      appended.clear();
      auto stats = it->second.ingestor->Process(batch, &appended);
      RecordBatchLatency(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      if (!stats.ok()) {
        result = absl::Status(stats.status().code(), absl::StrCat("partition ", partition, ": ",
                                                                  stats.status().message()));
        break;
      }
      totals_.messages += stats->messages;
      totals_.appended += stats->appended;
      totals_.duplicates += stats->duplicates;
      totals_.dead_letters += stats->dead_letters;
      it->second.worker->Feed(std::move(appended));
    }
    if (!result.ok()) break;
    for (const auto& [partition, owned] : owned_) {
      if (!owned.worker) continue;
      if (absl::Status s = owned.worker->status(); !s.ok()) {
        result = absl::Status(
            s.code(), absl::StrCat("projection of partition ", partition, ": ", s.message()));
        break;
      }
    }
    if (!result.ok()) break;
    if (absl::StatusOr<int64_t> s = AppendModels(); !s.ok()) {
      result = s.status();
      break;
    }
    if (!options_.until_caught_up) {
      if (absl::Status s = TickQuietPartitions(by_partition); !s.ok()) {
        result = s;
        break;
      }
    }
    PublishStatus();
    CloseReleasedStores();
    const auto now = std::chrono::steady_clock::now();
    if (options_.on_progress && now - last_progress >= std::chrono::seconds(1)) {
      last_progress = now;
      options_.on_progress(totals_, owned_.size());
    }
    if (options_.until_caught_up && CaughtUp()) {
      result = DrainWorkers();
      break;
    }
  }
  consumer_->Close();
  publisher_->Stop();  // before the stores it reads close
  owned_.clear();
  PublishStatus();
  stores_.clear();  // a store a reader still holds closes when the reader lets go
  if (options_.on_progress) options_.on_progress(totals_, owned_.size());
  return result;
}

}  // namespace guanxi::engine
