// The partitions this instance owns, and the stores it has open: opens a partition's
// store and starts its Partition on assignment, stops and closes it on revocation, and
// hands out read-only handles (PartitionView) to queries, which depend on it and not on
// the ingest loop.
//
//   PartitionManager manager(data_dir, config.storage());
//   ASSIGN_OR_RETURN(Partition* p, manager.Open(partition, options));   // on assignment
//   RETURN_IF_ERROR(manager.Close(partition));                          // on revocation
//   std::vector<PartitionView> views = manager.Views();                 // any thread
//
// A revoked partition's store stays open while a reader (a view) or the outbox publisher
// holds it; a partition assigned again meanwhile takes that same store back, since
// RocksDB allows one open instance per directory (docs/architecture.md, "Rebalancing
// while readers hold a store"). Stores are closed only here (CloseReleased), when the
// manager's own reference is the last one.
//
// A partition released (Close, CloseAll) has its store flushed, so that its next open (a
// restart, `guanxi replay`, an audit, a snapshot) reads files and replays no write-ahead
// log into memtables. With storage.snapshot_dir set, it also leaves a snapshot
// of its store on that shelf, and a partition opened without a store here starts from
// the shelf's newest snapshot of it (SnapshotShelf): a partition that moves between
// instances brings its state.
//
// Thread-compatible: Open, Close, CloseReleased, Find, ForEach and PublishViews on one
// thread (the polling thread). Views() is thread-safe: the handles as of the last
// PublishViews().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/storage/event_log.h"
#include "engine/partition/partition.h"
#include "engine/partition/snapshot_rounds.h"
#include "engine/partition/snapshot_shelf.h"
#include "engine/partition/status.h"
#include "engine/partition/view.h"
#include "guanxi/v1/config.pb.h"

namespace guanxi::engine {

class PartitionManager {
 public:
  PartitionManager(std::string data_dir, const guanxi::v1::StorageConfig& storage);
  ~PartitionManager();  // stops every partition, then closes the stores nobody holds
  PartitionManager(const PartitionManager&) = delete;
  PartitionManager& operator=(const PartitionManager&) = delete;

  // Opens (or takes back) the partition's store and starts the partition. A failed
  // open leaves nothing running.
  absl::StatusOr<Partition*> Open(PartitionOptions options);
  // Stops the partition (its worker at a commit) and forgets it; its store closes now if
  // nobody else holds it, or later (CloseReleased). The worker's first error, if any.
  absl::Status Close(int32_t partition);
  // Stops and forgets every partition.
  void CloseAll();
  // Closes the stores of partitions not owned that nobody else holds any more.
  void CloseReleased();

  // The owned partition, or null.
  Partition* Find(int32_t partition) const;
  void ForEach(const std::function<void(Partition&)>& visit) const;
  size_t size() const { return owned_.size(); }

  // Refreshes what Views() returns from the owned partitions.
  void PublishViews();
  // Thread-safe: a handle on each owned partition's store, as of the last PublishViews.
  std::vector<PartitionView> Views() const;
  // From the polling thread, often: begins a round of periodic snapshots of the owned
  // partitions when one is due (SnapshotRounds).
  void SnapshotIfDue(absl::Time now);
  SnapshotStats snapshot_stats() const { return shelf_ ? shelf_->stats() : SnapshotStats(); }

 private:
  // The partition's store: the one still open (a revoked partition's store a reader held
  // on to), or else opened now.
  absl::StatusOr<std::shared_ptr<PartitionStore>> AcquireStore(int32_t partition);
  // A stopped partition's store made ready to close or to move: flushed (a failed flush
  // loses nothing: the write-ahead log stays and is replayed at the next open), then a
  // snapshot of it put on the shelf, if there is one. A failed snapshot is counted
  // (snapshot_stats), not fatal: the next owner starts from an older one, or from offset 0.
  void SetDown(const Partition& partition);

  const std::string data_dir_;
  const guanxi::v1::StorageConfig storage_config_;
  std::shared_ptr<const SharedStorage> storage_;
  std::map<int32_t, std::unique_ptr<Partition>> owned_;
  // Every partition store open in this instance: those of owned partitions, and those of
  // revoked partitions that a reader, or an outbox round still in progress, holds.
  std::map<int32_t, std::shared_ptr<PartitionStore>> stores_;
  std::unique_ptr<SnapshotShelf> shelf_;  // null without storage.snapshot_dir
  // Null without the shelf or with snapshot_interval_seconds 0. Declared after the
  // stores: destroyed (its round waited for) first.
  std::unique_ptr<SnapshotRounds> rounds_;

  mutable absl::Mutex views_mu_;
  std::vector<PartitionView> views_ ABSL_GUARDED_BY(views_mu_);
};

}  // namespace guanxi::engine
