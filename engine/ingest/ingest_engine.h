// `guanxi run`'s engine: a consumer-group member whose poll loop hands each owned
// partition's messages to that Partition's inbox (engine/partition/partition.h), which
// appends them through its one writer as far as it has room without waiting, and
// projects them on its worker; fetching pauses for a partition whose inbox is full. The PartitionManager
// opens and closes partitions as the group moves them; queries read through it.
//
//   IngestEngine engine(options);
//   absl::Status s = engine.Run(stop);   // until *stop, or caught up, or a fatal error
//
// What the loop adds around the partitions: dead letters, and events that arrived away
// from their customer's home partition forwarded there, to Kafka (acknowledged before
// the offsets that pass them are stored; engine/ingest/ingestor.h), the outbox publisher, the population-model
// fitter (its model records are appended through their partition's writer), ticks for
// quiet partitions, and the status for /metrics. Batches are processed synchronously on
// the polling thread, so nothing is in flight when partitions are revoked; a revoked
// partition's worker stops at a commit and its store closes once no reader
// (PartitionView) nor outbox round holds it.
//
// Fatal (Run returns the error; a restart resumes from the stored offsets): a retention
// gap (the stored offset, or offset 0 for a new store, lies below the partition's log
// start: data was lost and must not be skipped silently), a store that cannot be opened
// or written, a dead letter the broker will not take, a login the cluster refuses or a
// TLS handshake that fails (Consumer::health: the message names the properties).
// Not thread-safe: Run on one thread; `stop` may be set from any thread or a signal
// handler.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "engine/ingest/ingestor.h"
#include "engine/kafka/kafka.h"
#include "engine/partition/partition_manager.h"
#include "engine/partition/status.h"
#include "engine/partition/view.h"
#include "engine/projection/model_fitter.h"
#include "engine/projection/outbox_publisher.h"
#include "engine/projection/state_cache.h"
#include "engine/trace/stage_tracer.h"
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
  // Follows traced events stage by stage (the latency benchmark); must outlive Run.
  StageTracer* tracer = nullptr;
  // Told which partitions this instance owns after every assignment and revocation, on
  // the polling thread (InstanceDirectory::Advertise).
  std::function<void(std::vector<int32_t> owned, int32_t events_partitions)> on_owned{};
};

class IngestEngine final : public RebalanceListener {
 public:
  explicit IngestEngine(IngestEngineOptions options);
  ~IngestEngine() override;

  absl::Status Run(const std::atomic<bool>& stop);
  const IngestStats& totals() const { return totals_; }
  // Thread-safe: the status as of the last poll, and the owned partitions' stores.
  EngineStatus Status() const;
  std::vector<PartitionView> Partitions() const { return partitions_.Views(); }

  // RebalanceListener (called from inside Run's polling).
  std::vector<int64_t> OnAssigned(const std::vector<TopicPartition>& partitions) override;
  void OnRevoked(const std::vector<TopicPartition>& partitions) override;

 private:
  class SideProducer;

  bool CaughtUp() const;
  // Calls options_.on_owned with the partitions owned now.
  void TellOwned();
  // Starts the partition: its store, writer and worker, and its outbox's publishing.
  absl::Status OpenPartition(const TopicPartition& tp);
  // Live: lands the fitted models of each quiet partition (no message this poll, at
  // the broker's high watermark) at its log's end, and appends a tick to each whose
  // event time lags the instance's.
  absl::Status ServeQuietPartitions(const std::set<int32_t>& polled);
  // Appends what each partition's inbox has room for; fetching stops for a partition
  // whose inbox holds max_batch messages and starts again below a quarter of that.
  absl::Status DrainInboxes();
  // Waits until every worker applied its whole log, with the model records it asked for
  // on the way appended and applied (until_caught_up), or one failed.
  absl::Status DrainWorkers();
  // Refreshes status_ (under status_mu_) and the manager's views from the polling
  // thread's state.
  void PublishStatus();
  void RecordBatchLatency(double seconds);

  IngestEngineOptions options_;
  std::shared_ptr<StateCacheBudget> state_budget_;  // every projector's state cache
  std::unique_ptr<Consumer> consumer_;
  std::unique_ptr<SideProducer> side_;
  int32_t events_partitions_ = 0;  // of the events topic, read once at the start
  std::unique_ptr<OutboxPublisher> publisher_;
  PartitionManager partitions_;
  // High watermark of each owned partition at its assignment (for until_caught_up).
  std::map<int32_t, int64_t> targets_;
  // Whether the group's latest word was an assignment: false before the first and
  // between a revocation and the next (until_caught_up must not end there: with two
  // backfilling instances, both ended early when one left the group).
  bool assigned_ = false;
  std::set<int32_t> paused_;     // partitions whose fetching this engine paused
  std::set<int32_t> to_resume_;  // assigned: resumed after the rebalance
  absl::Status fatal_;  // set by the rebalance callbacks, returned by Run
  IngestStats totals_;

  mutable absl::Mutex status_mu_;
  EngineStatus status_ ABSL_GUARDED_BY(status_mu_);
  std::vector<uint64_t> latency_buckets_ =
      std::vector<uint64_t>(std::size(kBatchLatencyBounds) + 1);
  double latency_sum_ = 0;

  // Population-model refits, off the projection threads; they hand their records to
  // the partitions' ModelSlots. Declared last: destroyed (joined) first.
  ModelFitter fitter_;
};

}  // namespace guanxi::engine
