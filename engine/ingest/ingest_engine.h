// The ingest side of `guanxi run`: a consumer-group member that, for every partition of
// the events topic it owns, resumes from the offset stored in the partition's event log
// and appends what it consumes through a PartitionIngestor.
//
//   IngestEngine engine(options);
//   absl::Status s = engine.Run(stop);   // until *stop, or caught up, or a fatal error
//
// Ownership moves with the group: on assignment a partition's store is opened (or
// created: a partition new to this instance is rebuilt from the topic), on revocation
// it is closed, as soon as no reader (PartitionView) nor outbox round holds it any
// more. A partition assigned again while its store is still held takes that same store
// back (see docs/architecture.md, "Rebalancing while readers hold a store"). Batches are
// processed synchronously on the polling thread, so nothing is in flight when partitions
// are revoked. Each owned partition has a projection worker (engine/projection/worker.h)
// on its own thread, notified after every append; revocation stops it before the store
// closes.
//
// Fatal (Run returns the error; a restart resumes from the stored offsets): a retention
// gap (the stored offset, or offset 0 for a new store, lies below the partition's log
// start: data was lost and must not be skipped silently), a store that cannot be opened
// or written, a dead letter the broker will not take.
// Not thread-safe: Run on one thread; `stop` may be set from any thread or a signal
// handler.
#pragma once

#include <atomic>
#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "engine/ingest/ingestor.h"
#include "engine/kafka/kafka.h"
#include "engine/log/event_log.h"
#include "engine/log/projection_store.h"
#include "engine/projection/model_fitter.h"
#include "engine/projection/outbox_publisher.h"
#include "engine/projection/worker.h"
#include "guanxi/v1/config.pb.h"

namespace guanxi::engine {

struct IngestEngineOptions {
  std::string brokers;
  std::string data_dir;
  guanxi::v1::EngineConfig config;
  // Exit once every owned partition is consumed to the high watermark seen when it was
  // assigned (backfill mode).
  bool until_caught_up = false;
  size_t max_batch = 5000;
  // Called about once a second with the running totals (for progress output).
  std::function<void(const IngestStats& totals, size_t partitions)> on_progress{};
};

// What the engine is doing, for /metrics and operators (a consistent copy).
struct PartitionStatus {
  int32_t partition = 0;
  int64_t next_offset = -1;     // the next offset to consume, as stored
  int64_t high_watermark = -1;  // as of the last fetch; -1 unknown
  uint64_t log_records = 0;     // the log's length
  uint64_t projected = 0;       // log positions the projections have applied
};
struct EngineStatus {
  IngestStats totals;
  std::vector<PartitionStatus> partitions;
  OutboxStats outbox;
  // Append batch latency (decode, dead-letter, dedup, append, per partition batch):
  // cumulative counts at the bounds of kBatchLatencyBounds, then the total count.
  std::vector<uint64_t> batch_latency_buckets;
  double batch_latency_sum_seconds = 0;
};
inline constexpr double kBatchLatencyBounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                 0.05,  0.1,    0.25,  0.5,  1.0};

// A partition's store, for readers (queries): kept open while a reader holds it, even if
// the partition is revoked meanwhile; if it is assigned to this instance again
// meanwhile, the engine writes to this same store again. Hold one for one query: a
// revoked partition's store stays open (memory, file handles) until its last view goes.
struct PartitionView {
  int32_t partition = 0;
  std::shared_ptr<const EventLog> log;
  std::shared_ptr<const ProjectionStore> store;
};

class IngestEngine final : public RebalanceListener {
 public:
  explicit IngestEngine(IngestEngineOptions options);
  ~IngestEngine() override;

  absl::Status Run(const std::atomic<bool>& stop);
  const IngestStats& totals() const { return totals_; }
  // Thread-safe: the status as of the last poll, and the owned partitions' stores.
  EngineStatus Status() const;
  std::vector<PartitionView> Partitions() const;

  // RebalanceListener (called from inside Run's polling).
  std::vector<int64_t> OnAssigned(const std::vector<TopicPartition>& partitions) override;
  void OnRevoked(const std::vector<TopicPartition>& partitions) override;

 private:
  // A partition's store: its event log (RocksDB's one instance of the directory, holding
  // its LOCK) and the projection families attached to it, opened and closed as one.
  struct Store {
    std::unique_ptr<EventLog> log;
    std::unique_ptr<ProjectionStore> projections;  // attached to `log`: destroyed first
  };
  // Destroyed in reverse order: the worker stops before the stores close.
  struct Owned {
    // Both share the ownership of the partition's Store (stores_).
    std::shared_ptr<EventLog> log;
    std::shared_ptr<ProjectionStore> store;
    std::unique_ptr<PartitionIngestor> ingestor;
    std::unique_ptr<ProjectionWorker> worker;
    int64_t target = 0;  // high watermark at assignment (for until_caught_up)
  };
  class DeadLetterProducer;

  bool CaughtUp() const;
  absl::Status OpenPartition(const TopicPartition& tp, Owned& owned);
  // The partition's store: the one still open in stores_ (a revoked partition's store a
  // reader held on to), or else opened now.
  absl::StatusOr<std::shared_ptr<Store>> AcquireStore(int32_t partition);
  // Closes the stores of partitions not owned that nobody else holds any more.
  void CloseReleasedStores();
  // Appends a tick to each quiet partition whose event time lags the instance's.
  absl::Status TickQuietPartitions(const std::map<int32_t, std::vector<ConsumedMessage>>& polled);
  // Waits until every worker applied its whole log, with the model records it asked for
  // on the way appended and applied (until_caught_up), or one failed.
  absl::Status DrainWorkers();
  // Appends the model records the projection workers handed over; how many.
  absl::StatusOr<int64_t> AppendModels();

  IngestEngineOptions options_;
  SharedStorage storage_;
  std::shared_ptr<StateCacheBudget> state_budget_;  // every projector's state cache
  std::unique_ptr<Consumer> consumer_;
  std::unique_ptr<DeadLetterProducer> dead_letters_;
  std::unique_ptr<OutboxPublisher> publisher_;
  std::map<int32_t, Owned> owned_;
  // Every partition store open in this instance: those of owned partitions, and those of
  // revoked partitions that a reader, or an outbox round still in progress, holds.
  // Polling thread only; a store is closed here, by CloseReleasedStores (or by its last
  // holder, if one outlives the engine).
  std::map<int32_t, std::shared_ptr<Store>> stores_;
  bool assigned_once_ = false;
  absl::Status fatal_;  // set by the rebalance callbacks, returned by Run
  IngestStats totals_;
  // Refreshes status_ and views_ (under status_mu_) from the polling thread's state.
  void PublishStatus();
  void RecordBatchLatency(double seconds);

  mutable absl::Mutex status_mu_;
  EngineStatus status_ ABSL_GUARDED_BY(status_mu_);
  std::vector<PartitionView> views_ ABSL_GUARDED_BY(status_mu_);
  std::vector<uint64_t> latency_buckets_ =
      std::vector<uint64_t>(std::size(kBatchLatencyBounds) + 1);
  double latency_sum_ = 0;

  // Model records from the projection workers, by partition, waiting for the polling
  // thread (the partitions' one writer) to append them.
  absl::Mutex models_mu_;
  std::map<int32_t, std::vector<guanxi::v1::LogRecord>> models_ ABSL_GUARDED_BY(models_mu_);
  // Population-model refits, off the projection threads; they hand their records to
  // models_. Declared last: destroyed (joined) first.
  ModelFitter fitter_;
};

}  // namespace guanxi::engine
