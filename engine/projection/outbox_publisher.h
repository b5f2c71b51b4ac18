// Delivers the outbox: what the projection workers derived for the outside world (churn
// warnings to `kafka.warnings_topic`, relationship changes to `kafka.changes_topic`),
// key = customer_id, value = the serialized protobuf. One thread for all the partitions
// an instance owns, with one idempotent producer (acks=all).
//
//   OutboxPublisher publisher(brokers, config);
//   RETURN_IF_ERROR(publisher.Start());
//   publisher.Add(partition, store);   // on assignment (a shared_ptr: see Remove)
//   publisher.Notify();                // after a projection commit
//   publisher.Remove(partition);       // on revocation; returns at once
//
// Entries are produced in outbox-sequence order per partition and deleted only after
// the broker acknowledged every one of the round (Flush). A crash or a failed delivery
// between producing and deleting produces those entries again: delivery is at least
// once, and every value carries a stable id (ChurnWarning.warning_id with its notice,
// RelationshipChange.change_id) to deduplicate on (docs/consumers.md). Per customer,
// order is kept: one key goes to one Kafka partition, and the idempotent producer keeps
// order across retries.
//
// A revocation is not held up by a round waiting for the broker (up to `round_timeout`,
// a minute by default, while it is down): Remove returns at once, and a round in
// progress on the partition finishes on its own, holding the partition's store open
// until then. What the broker acknowledged by then is deleted from the outbox, the rest
// stays there for the partition's next owner. Nor is a shutdown: Stop ends the round in
// progress at once, leaving what it had not got acknowledged in the outbox (produced
// again by the next publisher; consumers deduplicate).
//
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "engine/kafka/kafka.h"
#include "engine/log/projection_store.h"
#include "engine/partition/status.h"
#include "engine/trace/stage_tracer.h"
#include "guanxi/v1/config.pb.h"

namespace guanxi::engine {


class OutboxPublisher {
 public:
  // `tracer`, if set, learns of each acknowledged message keyed by a traced customer
  // (StageTracer::Stage::kPublished); it must outlive the publisher.
  OutboxPublisher(std::string brokers, guanxi::v1::EngineConfig config,
                  absl::Duration round_timeout = absl::Seconds(60),
                  StageTracer* tracer = nullptr);
  ~OutboxPublisher();  // Stop()

  absl::Status Start();
  // Stops without waiting for the current round's acknowledgements (what is not
  // acknowledged stays in the outbox) and lets go of every store.
  void Stop();

  // The publisher shares the ownership of `store` (which must keep its event log open)
  // until the partition is removed and no round of it is in progress.
  void Add(int32_t partition, std::shared_ptr<ProjectionStore> store);
  // No round of the partition starts after this. Returns at once, even during one: that
  // round finishes on its own (see above).
  void Remove(int32_t partition);
  // Something new may be in an outbox.
  void Notify();

  OutboxStats stats() const;
  // Waits until a round found every outbox empty with nothing new notified since (true),
  // or `timeout` (false).
  bool WaitIdle(absl::Duration timeout) const;

 private:
  struct Partition {
    std::shared_ptr<ProjectionStore> store;
    std::optional<uint64_t> next{};  // the first sequence not yet published, once known
  };
  void Loop();
  // Publishes one round of a partition's outbox; returns how many entries it took.
  absl::StatusOr<size_t> PublishRound(int32_t partition, Partition& p);
  // Waits for the broker to acknowledge what was produced, up to round_timeout_ or until
  // Stop; returns how many are still unacknowledged.
  int64_t AwaitAcknowledgements();
  bool Stopping() const;

  const std::string brokers_;
  const guanxi::v1::EngineConfig config_;
  const absl::Duration round_timeout_;
  StageTracer* const tracer_;
  std::unique_ptr<Producer> producer_;
  absl::Status delivery_failure_;  // publisher thread only (delivery callback)

  mutable absl::Mutex mu_;
  std::map<int32_t, Partition> partitions_ ABSL_GUARDED_BY(mu_);
  bool pending_ ABSL_GUARDED_BY(mu_) = true;
  bool idle_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  OutboxStats stats_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace guanxi::engine
