// Snapshots of partition stores on a shelf every instance reaches (storage.snapshot_dir:
// a shared volume), so that a partition moving to another instance brings its state:
// the new owner starts from the newest snapshot and consumes only the topic's tail
// after the offset stored in it, instead of rebuilding the store from offset 0, which
// the topic's retention may no longer hold (docs/operations.md, "Moving a partition's
// store").
//
//   SnapshotShelf shelf("/mnt/guanxi-snapshots", /*keep=*/2);
//   RETURN_IF_ERROR(shelf.Take(*store->log, 3, partition->next_offset()));  // on release
//   ASSIGN_OR_RETURN(std::optional<int64_t> from, shelf.Restore(3, PartitionDir(data, 3)));
//
// Layout: ROOT/partition-<N>/<offset>/, where <offset> (20 digits) is the next offset to
// consume stored in the store when the snapshot was begun (it may hold a few messages
// more, which the store's own offset accounts for); a snapshot is a RocksDB checkpoint
// of the whole store (the log, its offsets and the projection families, consistent
// with each other), written under a hidden name and renamed into place, so a reader
// never sees half of one. The `keep` (>= 2) newest of each partition stay, so one newer
// snapshot does not prune the one being restored under its reader. Thread-safe;
// instances may share a shelf (a partition has one owner at a time, and a name taken
// twice is a copy of the same messages).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/partition/status.h"
#include "engine/storage/event_log.h"

namespace guanxi::engine {

class SnapshotShelf {
 public:
  SnapshotShelf(std::string root, int keep);

  // Snapshots `log`, the store of `partition` whose next offset to consume is `offset`;
  // nothing when the shelf's newest snapshot of the partition holds that offset already.
  // Then removes all but the `keep` newest. Whether a snapshot was written.
  absl::StatusOr<bool> Take(const EventLog& log, int32_t partition, int64_t offset);

  // Copies the partition's newest snapshot to `dir`, which must not exist, and returns
  // its offset; nullopt, copying nothing, when the shelf has none. A snapshot that
  // cannot be copied is passed over for the next older one; the error of the last.
  absl::StatusOr<std::optional<int64_t>> Restore(int32_t partition, const std::string& dir);

  // The offsets of the partition's snapshots, oldest first.
  std::vector<int64_t> Offsets(int32_t partition) const;

  // What this process did with the shelf.
  SnapshotStats stats() const {
    return {.taken = taken_.load(), .failed = failed_.load(), .restored = restored_.load()};
  }

 private:
  std::string PartitionShelf(int32_t partition) const;
  std::string SnapshotDir(int32_t partition, int64_t offset) const;
  absl::StatusOr<bool> TryTake(const EventLog& log, int32_t partition, int64_t offset);

  const std::string root_;
  const int keep_;
  std::atomic<uint64_t> taken_{0}, failed_{0}, restored_{0};
};

}  // namespace guanxi::engine
