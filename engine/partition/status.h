// What the engine is doing, for /metrics, progress output and operators: plain values,
// copied out of the engine (IngestEngine::Status) so that readers need nothing else.
#pragma once

#include <cstdint>
#include <iterator>
#include <vector>

namespace guanxi::engine {

// Running totals of the consumed messages and of what was appended.
struct IngestStats {
  int64_t messages = 0;
  int64_t appended = 0;
  int64_t duplicates = 0;
  int64_t dead_letters = 0;
  int64_t forwarded = 0;  // events away from home, produced to their home partition
  int64_t ticks = 0;   // tick records appended to quiet partitions
  int64_t models = 0;  // population-model records appended

  IngestStats& operator+=(const IngestStats& o) {
    messages += o.messages;
    appended += o.appended;
    duplicates += o.duplicates;
    dead_letters += o.dead_letters;
    forwarded += o.forwarded;
    ticks += o.ticks;
    models += o.models;
    return *this;
  }
};

// The outbox publisher's counts.
struct OutboxStats {
  uint64_t published = 0;  // entries acknowledged and deleted
  uint64_t warnings = 0;   // of which churn warnings
  uint64_t failed_rounds = 0;  // failed attempts: a delivery failed, a read failed, a stop
  // Entries produced and not acknowledged yet.
  uint64_t unacknowledged = 0;
};

// Partition snapshots (storage.snapshot_dir; engine/partition/snapshot_shelf.h).
struct SnapshotStats {
  uint64_t taken = 0;     // written to the shelf
  uint64_t failed = 0;    // could not be written (the partition moved without one)
  uint64_t restored = 0;  // partitions started from a snapshot instead of from offset 0
};

struct PartitionStatus {
  int32_t partition = 0;
  int64_t next_offset = -1;     // the next offset to consume, as stored
  int64_t high_watermark = -1;  // as of the last fetch; -1 unknown
  uint64_t log_records = 0;     // the log's length
  uint64_t projected = 0;       // log positions the projections have applied
  // Its projector waits for the outbox to drain below workers.outbox_max_entries (the
  // broker does not take what it holds); its ingestion pauses meanwhile.
  bool outbox_full = false;
  // The model in force is still reclassifying its customers a few a record: until it
  // is done, some customers' classes are the previous model's (docs/architecture.md,
  // "Reclassifying a partition").
  bool reclassifying = false;
};

struct EngineStatus {
  // Whether the consumer group's latest word to this instance was an assignment (false
  // before the first one and between a revocation and the next): until then, which
  // partitions it owns is not known, and reads cannot be answered.
  bool assigned = false;
  // Partitions of the events topic (0 until known): a customer's home partition
  // follows from it (engine/kafka/partitioner.h).
  int32_t events_partitions = 0;
  IngestStats totals;
  std::vector<PartitionStatus> partitions;
  OutboxStats outbox;
  SnapshotStats snapshots;
  // Append batch latency (decode, dead-letter, dedup, append, per partition batch):
  // cumulative counts at the bounds of kBatchLatencyBounds, then the total count.
  std::vector<uint64_t> batch_latency_buckets;
  double batch_latency_sum_seconds = 0;
};
inline constexpr double kBatchLatencyBounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                 0.05,  0.1,    0.25,  0.5,  1.0};

}  // namespace guanxi::engine
