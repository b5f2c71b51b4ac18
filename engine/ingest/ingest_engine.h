// The ingest side of `guanxi run`: a consumer-group member that, for every partition of
// the events topic it owns, resumes from the offset stored in the partition's event log
// and appends what it consumes through a PartitionIngestor.
//
//   IngestEngine engine(options);
//   absl::Status s = engine.Run(stop);   // until *stop, or caught up, or a fatal error
//
// Ownership moves with the group: on assignment a partition's store is opened (or
// created: a partition new to this instance is rebuilt from the topic), on revocation
// it is closed. Batches are processed synchronously on the polling thread, so nothing
// is in flight when partitions are revoked. Each owned partition has a projection
// worker (engine/projection/worker.h) on its own thread, notified after every append;
// revocation stops it before the store closes.
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
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "engine/ingest/ingestor.h"
#include "engine/kafka/kafka.h"
#include "engine/log/event_log.h"
#include "engine/log/projection_store.h"
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

class IngestEngine final : public RebalanceListener {
 public:
  explicit IngestEngine(IngestEngineOptions options);
  ~IngestEngine() override;

  absl::Status Run(const std::atomic<bool>& stop);
  const IngestStats& totals() const { return totals_; }

  // RebalanceListener (called from inside Run's polling).
  std::vector<int64_t> OnAssigned(const std::vector<TopicPartition>& partitions) override;
  void OnRevoked(const std::vector<TopicPartition>& partitions) override;

 private:
  // Destroyed in reverse order: the worker stops before the stores close.
  struct Owned {
    std::unique_ptr<EventLog> log;
    std::unique_ptr<ProjectionStore> store;
    std::unique_ptr<PartitionIngestor> ingestor;
    std::unique_ptr<ProjectionWorker> worker;
    int64_t target = 0;  // high watermark at assignment (for until_caught_up)
  };
  class DeadLetterProducer;

  bool CaughtUp() const;
  absl::Status OpenPartition(const TopicPartition& tp, Owned& owned);
  // Appends a tick to each quiet partition whose event time lags the instance's.
  absl::Status TickQuietPartitions(const std::map<int32_t, std::vector<ConsumedMessage>>& polled);
  // Waits until every worker applied its whole log (until_caught_up), or one failed.
  absl::Status DrainWorkers();
  // Appends the model records the projection workers handed over.
  absl::Status AppendModels();

  IngestEngineOptions options_;
  SharedStorage storage_;
  std::unique_ptr<Consumer> consumer_;
  std::unique_ptr<DeadLetterProducer> dead_letters_;
  std::unique_ptr<OutboxPublisher> publisher_;
  std::map<int32_t, Owned> owned_;
  bool assigned_once_ = false;
  absl::Status fatal_;  // set by the rebalance callbacks, returned by Run
  IngestStats totals_;
  // Model records from the projection workers, by partition, waiting for the polling
  // thread (the partitions' one writer) to append them.
  absl::Mutex models_mu_;
  std::map<int32_t, std::vector<guanxi::v1::LogRecord>> models_ ABSL_GUARDED_BY(models_mu_);
};

}  // namespace guanxi::engine
