#include "engine/ingest/ingest_engine.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "engine/config/config.h"
#include "engine/kafka/topics.h"
#include "engine/storage/data_dir.h"

namespace guanxi::engine {
namespace {

int64_t NowUnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// Dead letters, and events away from home to their home partition; Flush waits until the
// broker acknowledged all of them.
class IngestEngine::SideProducer final : public SideOutput {
 public:
  absl::Status Init(const std::string& brokers, const KafkaProperties& properties,
                    std::string dead_letters_topic, std::string events_topic) {
    dead_letters_topic_ = std::move(dead_letters_topic);
    events_topic_ = std::move(events_topic);
    auto producer = Producer::Create(brokers, properties, [this](const Producer::Delivery& d) {
      if (!d.status.ok()) {
        if (failure_.ok()) failure_ = d.status;
      } else if (d.cookie == kForwardCookie) {
        int64_t& end = forwarded_end_[d.partition];
        end = std::max(end, d.offset + 1);
      }
    });
    if (!producer.ok()) return producer.status();
    producer_ = std::move(*producer);
    return absl::OkStatus();
  }
  absl::Status DeadLetter(const guanxi::v1::DeadLetter& letter) override {
    letter.SerializeToString(&buffer_);
    return producer_->Produce(dead_letters_topic_, letter.original_key(), buffer_, 0);
  }
  absl::Status Forward(int32_t partition, std::string_view key, std::string_view value) override {
    return producer_->ProduceTo(events_topic_, partition, key, value, kForwardCookie);
  }
  // The offset after the last event forwarded to `partition` (0: none), so that a
  // backfill waits for what it forwarded itself. Delivery reports are served by Flush,
  // on the polling thread, as is this.
  int64_t ForwardedEnd(int32_t partition) const {
    auto it = forwarded_end_.find(partition);
    return it == forwarded_end_.end() ? 0 : it->second;
  }
  // The most a dead letter or a forwarded event may weigh (DecodeLimits::max_message_bytes).
  size_t max_message_bytes() const { return producer_->max_message_bytes(); }
  absl::Status Flush() override {
    if (const int64_t left = producer_->Flush(absl::Seconds(60)); left > 0) {
      return absl::UnavailableError(absl::StrCat(
          left, " dead letters or forwarded events not acknowledged in 60 s"));
    }
    absl::Status failure = failure_;
    failure_ = absl::OkStatus();
    return failure;
  }

 private:
  static constexpr uint64_t kForwardCookie = 1;
  std::string dead_letters_topic_, events_topic_;
  std::map<int32_t, int64_t> forwarded_end_;
  std::unique_ptr<Producer> producer_;
  std::string buffer_;
  absl::Status failure_;
};

IngestEngine::IngestEngine(IngestEngineOptions options)
    : options_(std::move(options)),
      state_budget_(
          std::make_shared<StateCacheBudget>(options_.config.workers().state_cache_bytes())),
      partitions_(options_.data_dir, options_.config.storage()) {}

IngestEngine::~IngestEngine() {
  if (publisher_) publisher_->Stop();  // before the stores it reads close
  partitions_.CloseAll();
}

absl::Status IngestEngine::OpenPartition(const TopicPartition& tp) {
  const auto& kafka = options_.config.kafka();
  OutboxPublisher* publisher = publisher_.get();
  ASSIGN_OR_RETURN(
      Partition* p,
      partitions_.Open(
          {.topic = tp.topic,
           .partition = tp.partition,
           .side = side_.get(),
           .topic_partitions = events_partitions_,
           .limits = DecodeLimits{.max_event_bytes = static_cast<size_t>(kafka.max_event_bytes()),
                                  .max_message_bytes = side_->max_message_bytes(),
                                  .max_future_seconds = kafka.max_future_seconds()},
           .now_unix_millis = NowUnixMillis,
           .projector = {.config = options_.config,
                         .state_cache = state_budget_,
                         .commit_interval = std::chrono::milliseconds(
                             options_.config.workers().commit_interval_ms()),
                         .fitter = &fitter_,
                         .tracer = options_.tracer,
                         .outbox_max_entries = static_cast<uint64_t>(
                             options_.config.workers().outbox_max_entries())},
           .on_commit = [publisher] { publisher->Notify(); }}));
  const int64_t stored = p->next_offset();
  const int64_t start = stored < 0 ? 0 : stored;
  auto marks = consumer_->QueryWatermarks(tp.topic, tp.partition, absl::Seconds(30));
  absl::Status gap;
  if (!marks.ok()) {
    gap = marks.status();
  } else if (start < marks->first) {
    gap = absl::DataLossError(absl::StrCat(
        "retention gap on ", tp.topic, "[", tp.partition, "]: the next offset to append is ", start,
        " but the topic only keeps offsets from ", marks->first, "; offsets ", start, "..",
        marks->first - 1,
        " were deleted before this store read them (bring the partition's store: a "
        "snapshot on storage.snapshot_dir, or a copy; docs/operations.md, \"Moving a "
        "partition's store\")"));
  }
  if (!gap.ok()) {
    partitions_.Close(tp.partition).IgnoreError();  // nothing of it stays running
    return gap;
  }
  targets_[tp.partition] = marks->second;
  publisher_->Add(tp.partition, p->outbox_store());
  return absl::OkStatus();
}

std::vector<int64_t> IngestEngine::OnAssigned(const std::vector<TopicPartition>& partitions) {
  assigned_ = true;
  std::vector<int64_t> starts;
  for (const TopicPartition& tp : partitions) {
    // A partition stays paused across a rebalance that gives it back (librdkafka), even
    // one this engine paused before an earlier revocation: every assigned partition is
    // resumed once the assignment is in place (a no-op for one not paused).
    paused_.erase(tp.partition);
    to_resume_.insert(tp.partition);
    // Assigned without a revocation in between, it keeps its one writer; otherwise it
    // starts here.
    if (partitions_.Find(tp.partition) == nullptr) {
      if (absl::Status s = OpenPartition(tp); !s.ok()) {
        if (fatal_.ok()) fatal_ = s;
        starts.push_back(kOffsetBeginning);
        continue;
      }
    }
    const int64_t stored = partitions_.Find(tp.partition)->next_offset();
    starts.push_back(stored < 0 ? kOffsetBeginning : stored);
  }
  TellOwned();
  return starts;
}

void IngestEngine::TellOwned() {
  if (!options_.on_owned) return;
  std::vector<int32_t> owned;
  partitions_.ForEach([&](Partition& p) { owned.push_back(p.partition()); });
  options_.on_owned(std::move(owned), events_partitions_);
}

void IngestEngine::OnRevoked(const std::vector<TopicPartition>& partitions) {
  // Until the group assigns again this member owns nothing, which is not "caught up".
  assigned_ = false;
  // Appending is synchronous: nothing is in flight. The worker stops at a commit;
  // whatever it had not applied, the next owner applies from the checkpoint. The
  // publisher does not wait for a round in progress (it holds the store itself).
  for (const TopicPartition& tp : partitions) {
    paused_.erase(tp.partition);
    to_resume_.erase(tp.partition);
    if (partitions_.Find(tp.partition) == nullptr) continue;
    publisher_->Remove(tp.partition);
    if (absl::Status s = partitions_.Close(tp.partition); !s.ok() && fatal_.ok()) fatal_ = s;
    targets_.erase(tp.partition);
    PublishStatus();  // readers stop seeing the partition (those holding it keep it open)
  }
  TellOwned();
}

absl::Status IngestEngine::DrainInboxes() {
  const std::string& topic = options_.config.kafka().events_topic();
  std::vector<TopicPartition> pause, resume;
  for (int32_t partition : to_resume_) resume.push_back({topic, partition});
  to_resume_.clear();
  absl::Status status;
  partitions_.ForEach([&](Partition& p) {
    if (!status.ok()) return;
    if (p.backlog() > 0) {
      const auto started = std::chrono::steady_clock::now();
      absl::StatusOr<IngestStats> stats = p.Drain();
      RecordBatchLatency(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      if (!stats.ok()) {
        status = absl::Status(stats.status().code(), absl::StrCat("partition ", p.partition(),
                                                                  ": ", stats.status().message()));
        return;
      }
      totals_ += *stats;
    }
    const bool paused = paused_.count(p.partition()) > 0;
    if (!paused && p.backlog() >= options_.max_batch) {
      pause.push_back({topic, p.partition()});
      paused_.insert(p.partition());
    } else if (paused && p.backlog() < options_.max_batch / 4) {
      resume.push_back({topic, p.partition()});
      paused_.erase(p.partition());
    }
  });
  RETURN_IF_ERROR(status);
  RETURN_IF_ERROR(consumer_->Pause(pause));
  return consumer_->Resume(resume);
}

absl::Status IngestEngine::ServeQuietPartitions(const std::set<int32_t>& polled) {
  int64_t instance_clock = 0;
  partitions_.ForEach(
      [&](Partition& p) { instance_clock = std::max(instance_clock, p.clock_seconds()); });
  const int64_t lag = options_.config.workers().tick_lag_seconds();
  absl::Status status;
  partitions_.ForEach([&](Partition& p) {
    if (!status.ok() || polled.count(p.partition()) > 0 || p.backlog() > 0) return;
    // Quiet: everything the broker has is appended.
    const auto high =
        consumer_->CachedHighWatermark(options_.config.kafka().events_topic(), p.partition());
    if (!high || p.next_offset() < *high) return;
    // Its fitted models land now rather than after more input (the one place where
    // wall-clock timing decides a model's position: docs/scoring.md).
    if (p.models_pending()) {
      absl::StatusOr<int64_t> models = p.LandModels(/*wait=*/false);
      if (!models.ok()) {
        status = models.status();
        return;
      }
      totals_.models += *models;
    }
    // A tick when everything is applied, and event time on this instance has moved on
    // by more than the lag; or at the partition's own time, when a model is still
    // reclassifying its customers a few a record (the tick finishes that: with no input
    // there is time for it).
    const uint64_t head = p.log_records();
    if (head == 0 || p.applied() < head) return;
    const bool behind = instance_clock - p.clock_seconds() > lag;
    if (!behind && !p.reclassifying()) return;
    absl::StatusOr<int64_t> models =
        behind ? p.AppendTick(instance_clock) : p.FinishReclassifying();
    if (!models.ok()) {
      status = models.status();
      return;
    }
    totals_.models += *models;
    ++totals_.ticks;
  });
  return status;
}

EngineStatus IngestEngine::Status() const {
  absl::MutexLock lock(&status_mu_);
  return status_;
}

void IngestEngine::RecordBatchLatency(double seconds) {
  size_t i = 0;
  while (i < std::size(kBatchLatencyBounds) && seconds > kBatchLatencyBounds[i]) ++i;
  for (size_t j = i; j < latency_buckets_.size(); ++j) ++latency_buckets_[j];
  latency_sum_ += seconds;
}

void IngestEngine::PublishStatus() {
  EngineStatus status;
  status.assigned = assigned_;
  status.events_partitions = events_partitions_;
  status.totals = totals_;
  partitions_.ForEach([&](Partition& p) {
    PartitionStatus ps{.partition = p.partition(),
                       .next_offset = p.next_offset(),
                       .log_records = p.log_records(),
                       .projected = p.applied(),
                       .outbox_full = p.outbox_full(),
                       .reclassifying = p.reclassifying()};
    if (consumer_) {
      ps.high_watermark =
          consumer_->CachedHighWatermark(options_.config.kafka().events_topic(), p.partition())
              .value_or(-1);
    }
    status.partitions.push_back(ps);
  });
  if (publisher_) status.outbox = publisher_->stats();
  status.snapshots = partitions_.snapshot_stats();
  status.batch_latency_buckets = latency_buckets_;
  status.batch_latency_sum_seconds = latency_sum_;
  partitions_.PublishViews();
  absl::MutexLock lock(&status_mu_);
  status_ = std::move(status);
}

absl::Status IngestEngine::DrainWorkers() {
  // Until every worker applied its whole log and asked for no model record on the way:
  // a backfill leaves the models that live running would (each lands after the commit
  // that found it due).
  for (;;) {
    absl::Status status;
    partitions_.ForEach([&](Partition& p) {
      const uint64_t head = p.log_records();
      while (status.ok() && !p.WaitApplied(head, absl::Seconds(1))) status = p.worker_status();
      if (status.ok()) status = p.worker_status();
    });
    RETURN_IF_ERROR(status);
    // Out of input: the models asked for land at the log's end, in order.
    int64_t models = 0;
    partitions_.ForEach([&](Partition& p) {
      if (!status.ok()) return;
      absl::StatusOr<int64_t> n = p.LandModels(/*wait=*/true);
      if (n.ok()) {
        models += *n;
      } else {
        status = n.status();
      }
    });
    RETURN_IF_ERROR(status);
    totals_.models += models;
    if (models > 0) continue;
    // And no model still reclassifying its partition a few customers a record: a tick
    // at the partition's time finishes that (at the end of the input, so two backfills
    // of one topic put it at the same place).
    int64_t ticks = 0;
    partitions_.ForEach([&](Partition& p) {
      if (!status.ok() || !p.reclassifying()) return;
      absl::StatusOr<int64_t> landed = p.FinishReclassifying();
      if (landed.ok()) {
        ++ticks;
      } else {
        status = landed.status();
      }
    });
    RETURN_IF_ERROR(status);
    totals_.ticks += ticks;
    if (ticks == 0) break;
  }
  // And what they derived is out.
  publisher_->Notify();
  if (!publisher_->WaitIdle(absl::Seconds(120))) {
    return absl::UnavailableError("the outbox could not be delivered within 120 s");
  }
  return absl::OkStatus();
}

bool IngestEngine::CaughtUp() const {
  if (!assigned_) return false;
  bool caught_up = true;
  partitions_.ForEach([&](Partition& p) {
    auto target = targets_.find(p.partition());
    if (target == targets_.end()) return;
    // An empty partition (nothing stored, high watermark 0) is caught up too; events this
    // instance forwarded to the partition count as part of it.
    const int64_t end = std::max(target->second, side_->ForwardedEnd(p.partition()));
    if (std::max<int64_t>(p.next_offset(), 0) < end) caught_up = false;
  });
  return caught_up;
}

absl::Status IngestEngine::Run(const std::atomic<bool>& stop) {
  // Not below the space floor: said before joining the group (each store's open checks
  // it again, and every write).
  RETURN_IF_ERROR(CheckFreeSpace(options_.data_dir, MinFreeBytes(options_.config.storage())));
  const auto& kafka = options_.config.kafka();
  const KafkaProperties properties = PropertiesOf(kafka);
  side_ = std::make_unique<SideProducer>();
  if (auto s = side_->Init(options_.brokers, properties, kafka.dead_letters_topic(),
                           kafka.events_topic());
      !s.ok()) {
    return s;
  }
  publisher_ = std::make_unique<OutboxPublisher>(options_.brokers, options_.config,
                                                 absl::Seconds(60), options_.tracer);
  RETURN_IF_ERROR(publisher_->Start());
  auto consumer = Consumer::Create(options_.brokers, kafka.group_id(), properties, this);
  if (!consumer.ok()) return consumer.status();
  consumer_ = std::move(*consumer);
  // Each customer's home partition follows from the topic's partition count.
  auto partitions = consumer_->PartitionCount(kafka.events_topic(), absl::Seconds(30));
  if (!partitions.ok()) return partitions.status();
  events_partitions_ = *partitions;
  if (auto s = consumer_->Subscribe({kafka.events_topic()}); !s.ok()) return s;

  absl::Status result;
  auto last_progress = std::chrono::steady_clock::now();
  std::set<int32_t> polled;
  while (!stop.load()) {
    // Waits for messages only while no inbox is waiting for room.
    bool backlog = false;
    partitions_.ForEach([&](Partition& p) { backlog = backlog || p.backlog() > 0; });
    std::vector<KafkaMessage> messages = consumer_->Poll(
        options_.max_batch, backlog ? absl::Milliseconds(1) : absl::Milliseconds(100));
    if (absl::Status health = consumer_->health(); !health.ok() && fatal_.ok()) fatal_ = health;
    if (!fatal_.ok()) {
      result = fatal_;
      break;
    }
    polled.clear();
    for (KafkaMessage& m : messages) {
      if (!m.error.ok()) {
        // An offset the broker no longer has is data loss; anything else is transient
        // and librdkafka retries it.
        if (m.error.code() == absl::StatusCode::kDataLoss) {
          result = m.error;
          break;
        }
        continue;
      }
      Partition* p = partitions_.Find(m.partition);
      if (p == nullptr) continue;  // revoked meanwhile
      if (options_.tracer != nullptr && options_.tracer->Traces(m.key)) {
        options_.tracer->Reached(StageTracer::Stage::kConsumed, m.key, {});
      }
      polled.insert(m.partition);
      p->Offer(m.offset, std::move(m.key), std::move(m.value));
    }
    if (!result.ok()) break;
    if (absl::Status s = DrainInboxes(); !s.ok()) {
      result = s;
      break;
    }
    partitions_.ForEach([&](Partition& p) {
      if (absl::Status s = p.worker_status(); !s.ok() && result.ok()) {
        result = absl::Status(s.code(), absl::StrCat("projection of partition ", p.partition(),
                                                     ": ", s.message()));
      }
    });
    if (!result.ok()) break;
    if (!options_.until_caught_up) {
      if (absl::Status s = ServeQuietPartitions(polled); !s.ok()) {
        result = s;
        break;
      }
    }
    partitions_.SnapshotIfDue(absl::Now());
    PublishStatus();
    partitions_.CloseReleased();
    const auto now = std::chrono::steady_clock::now();
    if (options_.on_progress && now - last_progress >= std::chrono::seconds(1)) {
      last_progress = now;
      options_.on_progress(totals_, partitions_.size());
    }
    if (options_.until_caught_up && CaughtUp()) {
      result = DrainWorkers();
      break;
    }
  }
  consumer_->Close();
  publisher_->Stop();  // before the stores it reads close
  partitions_.CloseAll();  // a store a reader still holds closes when the reader lets go
  PublishStatus();
  if (options_.on_progress) options_.on_progress(totals_, partitions_.size());
  return result;
}

}  // namespace guanxi::engine
