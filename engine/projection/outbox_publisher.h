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
// A pipeline, not rounds: the thread produces what each outbox holds as soon as it is
// committed, up to `kWindow` unacknowledged entries per partition, and serves the
// broker's acknowledgements as they come; entries are deleted from the outbox once they
// and every entry before them of their partition are acknowledged (a commit's entries
// share one key, deleted with the last of them: ProjectionStore::Batch::AddOutbox). No
// partition waits for another's acknowledgements, and no entry waits for a round to
// finish (a round-based publisher was most of the p99 from event to warning:
// bench/README.md).
//
// A crash, or a failed delivery, between producing and deleting produces those entries
// again (after a failure: from the first failed entry of the partition, a second later;
// after a crash, with the acknowledged entries that share their key):
// delivery is at least once, and every value carries a stable id (ChurnWarning.warning_id
// with its notice, RelationshipChange.change_id) to deduplicate on (docs/consumers.md).
// Per customer, order is kept: one key goes to one Kafka partition, and the idempotent
// producer keeps order across retries.
//
// A revocation is not held up by entries waiting for the broker (while it is down):
// Remove returns at once, nothing more of the partition is produced, and the publisher
// keeps its store open until what was produced is acknowledged (then deleted) or
// `removal_timeout` (a minute by default) has passed; what is not acknowledged by then stays
// in the outbox for the partition's next owner. Nor is a shutdown: Stop returns at once,
// leaving what was not acknowledged in the outbox (produced again by the next publisher;
// consumers deduplicate).
//
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/kafka/kafka.h"
#include "engine/storage/projection_store.h"
#include "engine/partition/status.h"
#include "engine/trace/stage_tracer.h"
#include "guanxi/v1/config.pb.h"

namespace guanxi::engine {


class OutboxPublisher {
 public:
  // `tracer`, if set, learns of each acknowledged message keyed by a traced customer
  // (StageTracer::Stage::kPublished); it must outlive the publisher.
  OutboxPublisher(std::string brokers, guanxi::v1::EngineConfig config,
                  absl::Duration removal_timeout = absl::Seconds(60),
                  StageTracer* tracer = nullptr);
  ~OutboxPublisher();  // Stop()

  absl::Status Start();
  // Stops without waiting for acknowledgements (what is not acknowledged stays in the
  // outbox) and lets go of every store.
  void Stop();

  // The publisher shares the ownership of `store` (which must keep its event log open)
  // until the partition is removed and nothing it produced of it waits for the broker.
  void Add(int32_t partition, std::shared_ptr<ProjectionStore> store);
  // Nothing more of the partition is produced after this. Returns at once, even with
  // entries in flight: they are seen to on their own (see above).
  void Remove(int32_t partition);
  // Something new may be in an outbox.
  void Notify();

  OutboxStats stats() const;
  // Waits until every outbox was found empty, with nothing in flight and nothing new
  // notified since (true), or `timeout` (false).
  bool WaitIdle(absl::Duration timeout) const;

 private:
  // One partition's outbox as the publisher thread sees it (that thread only).
  struct Outbox {
    int32_t partition = 0;
    std::shared_ptr<ProjectionStore> store;
    std::optional<uint64_t> next;      // the first sequence not produced yet, once known
    std::optional<uint64_t> deleted;   // every sequence below it is deleted, once known
    std::set<uint64_t> in_flight;      // produced, neither acknowledged nor failed
    std::optional<uint64_t> failed;    // the first sequence whose delivery failed
    uint64_t acknowledged = 0;         // acknowledged, not yet counted as published
    uint64_t acknowledged_warnings = 0;
    absl::Time retry_at = absl::InfinitePast();  // after a failure, nothing produced before
    absl::Time deleted_at = absl::InfinitePast();
    std::optional<absl::Time> removed_at;  // Remove()d: produces nothing more
  };
  // What a delivery report's cookie stands for.
  struct Produced {
    uint64_t outbox = 0;  // key of outboxes_
    uint64_t sequence = 0;
    bool warning = false;
    std::string traced_key;  // the customer, when the tracer traces it
  };

  void Loop();
  // Opens an Outbox for each partition added since, marks those removed since.
  void Track(const std::map<int32_t, std::shared_ptr<ProjectionStore>>& registered);
  // Produces what the outbox holds past `next`, within the window; whether it took any.
  bool ProduceFrom(uint64_t id, Outbox& o);
  void OnDelivery(const Producer::Delivery& d);
  // Deletes what is acknowledged, turns a failure into a retry once nothing of the
  // outbox is in flight, lets go of a removed outbox when it is done; whether the outbox
  // is still to be kept.
  bool Settle(Outbox& o, absl::Time now);
  void Fail(Outbox& o, uint64_t sequence);

  const std::string brokers_;
  const guanxi::v1::EngineConfig config_;
  const absl::Duration removal_timeout_;
  StageTracer* const tracer_;

  // The publisher thread's (and Stop's after joining it).
  std::map<uint64_t, Outbox> outboxes_;
  uint64_t next_outbox_ = 0;
  std::unordered_map<uint64_t, Produced> produced_;  // by cookie
  uint64_t next_cookie_ = 0;
  std::unique_ptr<Producer> producer_;

  mutable absl::Mutex mu_;
  std::map<int32_t, std::shared_ptr<ProjectionStore>> partitions_ ABSL_GUARDED_BY(mu_);
  bool pending_ ABSL_GUARDED_BY(mu_) = true;
  bool idle_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  OutboxStats stats_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace guanxi::engine
