// The projection side of a partition's store: customer states, inactivity timers,
// derived facts, the outbox and the projection checkpoint, in column families of the
// partition's own RocksDB (so they can be committed atomically with each other, and a
// partition's store moves as one directory). See docs/storage.md.
//
//   EventLogOptions options; options.extra_column_families = ProjectionStore::ColumnFamilies();
//   ASSIGN_OR_RETURN(auto log, EventLog::Open(dir, options));
//   ASSIGN_OR_RETURN(auto store, ProjectionStore::Attach(log.get()));
//   ProjectionStore::Batch batch;
//   batch.PutState(state); batch.PutCheckpoint(checkpoint);
//   RETURN_IF_ERROR(store->Commit(batch));
//
// Thread-safety: reads may run concurrently with each other and with Commit. Commit is
// called by the partition's one projection worker; DeleteOutbox by its one publisher
// (they write disjoint keys).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/storage/event_log.h"
#include "guanxi/v1/projection.pb.h"
#include "guanxi/v1/state.pb.h"
#include "guanxi/v1/warning.pb.h"

namespace guanxi::engine {

class ProjectionStore {
 public:
  // The column families the event log must be opened with (EventLogOptions).
  static const std::vector<std::string>& ColumnFamilies();

  // The projection families of `log`'s store; `log` must outlive the result.
  // FailedPrecondition if the log was not opened with ColumnFamilies().
  static absl::StatusOr<std::unique_ptr<ProjectionStore>> Attach(EventLog* log);

  // A set of writes committed atomically by Commit.
  class Batch {
   public:
    Batch();
    ~Batch();
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;

    void PutState(const guanxi::v1::CustomerState& state);
    // Moves the customer's timer from `old_deadline` (if armed) to `new_deadline` (if
    // any); deadlines in Unix seconds.
    void MoveTimer(std::string_view customer_id, std::optional<int64_t> old_deadline,
                   std::optional<int64_t> new_deadline);
    // Facts of one customer are kept in (position, index) order.
    void AddFact(std::string_view customer_id, uint64_t position, uint32_t index,
                 const guanxi::v1::DerivedFact& fact);
    // The fact of a relationship change given serialized (the same bytes as AddFact of a
    // DerivedFact holding it, without serializing the change again: the caller has its
    // bytes for the outbox).
    void AddChangeFact(std::string_view customer_id, uint64_t position, uint32_t index,
                       std::string_view serialized_change);
    // Entries of consecutive sequences share one key (keys::OutboxChunkKey).
    void AddOutbox(uint64_t sequence, guanxi::v1::OutboxEntry entry);
    // Indexes a churn-warning notice by its event time (ForEachWarningSince).
    void AddWarning(const guanxi::v1::ChurnWarning& warning, uint64_t position, uint32_t index);
    void PutCheckpoint(const guanxi::v1::ProjectionCheckpoint& checkpoint);
    // The refit requester's bookkeeping (not a projection: Compare leaves it out).
    void PutRefitSchedule(const guanxi::v1::RefitSchedule& schedule);

    size_t writes() const { return writes_; }
    void Clear();

   private:
    friend class ProjectionStore;
    struct Impl;
    std::unique_ptr<Impl> impl_;
    size_t writes_ = 0;
    std::string scratch_;
  };

  absl::Status Commit(Batch& batch);

  // After an erasure of `customer_id` is committed (its key deleted by the log's append,
  // its state's personal fields cleared by a commit): flushes every column family of the
  // store, so that the write-ahead logs holding the key and the earlier states become
  // obsolete and are deleted, then compacts the customer's keys in `customer_keys` and
  // `state` down to the last level, so the deleted key and the overwritten states leave
  // the SST files. What a StoreSnapshot or a checkpoint still holds stays there
  // (docs/operations.md, "Erasing a customer's personal data"). Blocks for the flush
  // and the compaction (milliseconds on a small range); erasures are rare.
  absl::Status PurgeErased(std::string_view customer_id);

  // Reads: `at`, if given, is a snapshot of the log this store is attached to
  // (EventLog::TakeSnapshot); the read is as of it, so reads given the same one agree
  // with each other (a state, its facts and the checkpoint of one commit).

  // The checkpoint (an empty one before the first commit).
  absl::StatusOr<guanxi::v1::ProjectionCheckpoint> ReadCheckpoint(
      const StoreSnapshot* at = nullptr) const;
  // The refit bookkeeping (an empty one before the first refit was decided).
  absl::StatusOr<guanxi::v1::RefitSchedule> ReadRefitSchedule() const;
  // The customer's state; false if the customer has none.
  absl::StatusOr<bool> GetState(std::string_view customer_id, guanxi::v1::CustomerState* state,
                                const StoreSnapshot* at = nullptr) const;
  // Every state in customer_id order (those after `after`, if set), until `visit`
  // returns false.
  absl::Status ForEachState(const std::function<bool(const guanxi::v1::CustomerState&)>& visit,
                            std::optional<std::string_view> after = std::nullopt) const;
  // Every customer in customer_id order (those after `after`, if set), until `visit`
  // returns false: `visit(id, state)` with its stored state parsed, or with nullptr where
  // `held(id)` says the caller holds that customer's state already (a pass over everyone
  // with most states in memory parses only the others).
  absl::Status ForEachCustomer(
      const std::function<bool(const std::string& customer_id)>& held,
      const std::function<bool(const std::string& customer_id,
                               const guanxi::v1::CustomerState* state)>& visit,
      std::optional<std::string_view> after = std::nullopt) const;
  // Every armed timer in (deadline, customer_id) order (those at or after `from`, if
  // set), until `visit` returns false.
  absl::Status ForEachTimer(
      const std::function<bool(int64_t deadline, std::string_view customer_id)>& visit,
      std::optional<std::pair<int64_t, std::string_view>> from = std::nullopt) const;
  // The customer's facts derived at log position `from` or later, in (position, index)
  // order (a seek: the facts before `from` are not read).
  absl::Status ForEachFact(
      std::string_view customer_id,
      const std::function<bool(uint64_t position, const guanxi::v1::DerivedFact&)>& visit,
      const StoreSnapshot* at = nullptr, uint64_t from = 0) const;
  // The churn-warning notices with event_time at or after `since` (Unix seconds), in
  // (event time, customer, position) order, until `visit` returns false.
  absl::Status ForEachWarningSince(
      int64_t since, const std::function<bool(const guanxi::v1::ChurnWarning&)>& visit) const;
  // Up to `max` outbox entries from `from_sequence` on, in sequence order.
  absl::Status ReadOutbox(uint64_t from_sequence, size_t max,
                          std::vector<std::pair<uint64_t, guanxi::v1::OutboxEntry>>* out) const;
  // Deletes the outbox entries in [from, to).
  absl::Status DeleteOutbox(uint64_t from_sequence, uint64_t to_sequence);
  // The first outbox sequence not deleted through this object: found at Attach (the
  // first entry, or the checkpoint's next sequence when the outbox is empty), moved by
  // DeleteOutbox. With the checkpoint's next sequence it gives the outbox's depth to the
  // projector that caps it (workers.outbox_max_entries). Thread-safe.
  uint64_t outbox_start() const;
  // Waits until outbox_start() >= `sequence` or `timeout` passed; whether it is.
  bool AwaitOutboxStart(uint64_t sequence, absl::Duration timeout) const;

  // Compares the projection families of two stores key by key (states, timers, facts,
  // warnings, checkpoint; the outbox is excluded, as a publisher empties it). Returns up to
  // `max_differences` readable descriptions; empty when identical.
  static absl::StatusOr<std::vector<std::string>> Compare(const ProjectionStore& a,
                                                          const ProjectionStore& b,
                                                          size_t max_differences);

 private:
  struct Impl;
  explicit ProjectionStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;

 public:
  ~ProjectionStore();
};

}  // namespace guanxi::engine
