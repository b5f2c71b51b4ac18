// One owned partition of the events topic, the unit of ownership: its store (the event
// log and the projection families, one RocksDB instance), its one writer and its
// projection worker. Everything appended to the partition's log goes through it
// (consumed events, ticks, model records), and what is appended is handed to the
// worker in memory, so no record climbs up to the poll loop and back down.
//
//   ASSIGN_OR_RETURN(auto partition, Partition::Start(store, options));
//   ASSIGN_OR_RETURN(IngestStats s, partition->Ingest(messages));  // decode, dead-letter, append
//   RETURN_IF_ERROR(partition->AppendTick(seconds).status());       // live, quiet
//   ASSIGN_OR_RETURN(int64_t models, partition->LandModels(/*wait=*/true));  // out of input
//   if (partition->reclassifying()) partition->FinishReclassifying();  // out of input
//   RETURN_IF_ERROR(partition->Stop());        // the worker stops at a commit
//
// Its outbox is published by the engine's one OutboxPublisher, which holds the store on
// its own (see OutboxPublisher).
//
// Model records land at the positions the projector named when it asked for them
// (ProjectorOptions::models): the writer holds the log there until the fit is done, and
// stays at most kModelLandingDistance records ahead of what the projector applied, so
// it knows every model due within what it appends. So the same input gives the same log.
//
// Thread-compatible: Ingest, AppendTick, LandModels and Stop on one thread (the partition's
// writer: the polling thread); the accessors marked so are thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "engine/ingest/decode.h"
#include "engine/ingest/ingestor.h"
#include "engine/storage/event_log.h"
#include "engine/storage/projection_store.h"
#include "engine/partition/model_slots.h"
#include "engine/partition/view.h"
#include "engine/projection/projector.h"
#include "engine/projection/worker.h"
#include "guanxi/v1/log.pb.h"

namespace guanxi::engine {

// A partition's store: its event log (RocksDB's one instance of the directory, holding
// its LOCK) and the projection families attached to it, opened and closed as one.
struct PartitionStore {
  std::unique_ptr<EventLog> log;
  std::unique_ptr<ProjectionStore> projections;  // attached to `log`: destroyed first
};

struct PartitionOptions {
  std::string topic;
  int32_t partition = 0;
  SideOutput* side = nullptr;  // dead letters, events away from home; outlives the partition
  int32_t topic_partitions = 0;  // the topic's partition count, for routing (0: none)
  DecodeLimits limits{};
  std::function<int64_t()> now_unix_millis{};  // stamps dead letters
  // The projector's options (partition, config, state cache, fitter, model hand-over).
  ProjectorOptions projector{};
  // Called on the worker's thread after every commit (the outbox publisher's Notify).
  std::function<void()> on_commit{};
};

class Partition {
 public:
  // Resumes from what `store` holds: the next offset stored with the log, the
  // projections' checkpoint. Starts the worker.
  static absl::StatusOr<std::unique_ptr<Partition>> Start(std::shared_ptr<PartitionStore> store,
                                                          PartitionOptions options);
  ~Partition();  // Stop()
  Partition(const Partition&) = delete;
  Partition& operator=(const Partition&) = delete;

  // Decodes, dead-letters and appends consumed messages (PartitionIngestor::Process),
  // and hands what was appended to the worker. Model records the projector asked for
  // land between them at their positions (Room). Waits for room (see above).
  absl::StatusOr<IngestStats> Ingest(absl::Span<const ConsumedMessage> messages);
  // The same without waiting, for the poll loop: messages are queued in the partition's
  // inbox (Offer), and Drain appends as many as there is room for now, leaving the rest
  // for a later Drain; the loop pauses fetching for a partition whose inbox is long.
  void Offer(int64_t offset, std::string key, std::string value);
  absl::StatusOr<IngestStats> Drain();
  // Messages offered and not yet appended.
  size_t backlog() const { return inbox_.size(); }
  // Appends a tick at `event_time_seconds` (a record the engine adds itself) and hands
  // it to the worker; how many models landed before it.
  absl::StatusOr<int64_t> AppendTick(int64_t event_time_seconds);
  // Appends, at the log's end, the models asked for whose position the log has not
  // reached: when the partition has no more input for now (the end of a backfill, or a
  // live partition at the broker's high watermark). With `wait`, waits for their fits
  // and appends them all; otherwise only those fitted, in order. How many were appended.
  absl::StatusOr<int64_t> LandModels(bool wait);
  // For a partition out of input whose model in force is still reclassifying its
  // customers a few a record (reclassifying()): appends a tick at the partition's own
  // time (no time passes), which finishes that. How many models landed before it.
  absl::StatusOr<int64_t> FinishReclassifying();
  // Whether a model is asked for and not appended yet.
  bool models_pending() const { return slots_->Earliest().has_value(); }
  // Stops the worker at its next commit; the first error it met.
  absl::Status Stop();

  int32_t partition() const { return options_.partition; }
  // The next offset to consume, as stored (-1: nothing stored yet).
  int64_t next_offset() const { return ingestor_->next_offset(); }
  // Thread-safe: the log's length, what the projections applied, their event time, the
  // worker's error (OK while it runs).
  uint64_t log_records() const { return store_->log->next_position(); }
  uint64_t applied() const { return worker_->applied(); }
  int64_t clock_seconds() const { return worker_->clock_seconds(); }
  bool outbox_full() const { return worker_->waiting_for_outbox(); }
  // Whether the model in force is still reclassifying the customers a few a record; a
  // tick finishes that (the engine appends one when the partition is out of input).
  bool reclassifying() const { return worker_->reclassifying(); }
  absl::Status worker_status() const { return worker_->status(); }
  // Waits until the projections applied everything below `position`, or `timeout`.
  bool WaitApplied(uint64_t position, absl::Duration timeout) const {
    return worker_->WaitFor(position, timeout);
  }
  // A read-only handle on the store, for queries (keeps it open while held).
  PartitionView View() const;
  // The projection store, shared, for the outbox publisher (it deletes what it sent).
  std::shared_ptr<ProjectionStore> outbox_store() const {
    return std::shared_ptr<ProjectionStore>(store_, store_->projections.get());
  }

 private:
  Partition(std::shared_ptr<PartitionStore> store, PartitionOptions options);
  // Before `n` more records are appended at the head (n <= kModelLandingDistance):
  // lands the models due at the head, and waits until the projector has decided every
  // refit whose model can land below head + n (it decided through head + n -
  // kModelLandingDistance). How many records may follow before the next model's
  // position (1..n). Counts the models it landed in `models`.
  // Without `wait`, returns 0 instead of waiting.
  absl::StatusOr<uint64_t> Room(uint64_t n, int64_t& models, bool wait);
  // Appends from the front of `messages` as many as there is room for (all, with
  // `wait`), adding to `total`; how many messages were taken.
  absl::StatusOr<size_t> AppendSome(absl::Span<const ConsumedMessage> messages, bool wait,
                                    IngestStats& total);
  // Waits until the projector decided every refit below `position`; the worker's error
  // if it failed.
  absl::Status AwaitDecided(uint64_t position) const;
  // Appends records the engine adds itself and hands them to the worker; how many.
  absl::StatusOr<int64_t> AppendEngineRecords(std::vector<guanxi::v1::LogRecord> records);

  std::shared_ptr<PartitionStore> store_;
  PartitionOptions options_;
  std::unique_ptr<PartitionIngestor> ingestor_;
  std::shared_ptr<ModelSlots> slots_ = std::make_shared<ModelSlots>();
  std::unique_ptr<ProjectionWorker> worker_;
  std::vector<guanxi::v1::LogRecord> appended_;  // reused by AppendSome
  struct InboxMessage {
    int64_t offset;
    std::string key;
    std::string value;
  };
  std::deque<InboxMessage> inbox_;
  std::vector<ConsumedMessage> views_;  // reused by Drain
};

}  // namespace guanxi::engine
