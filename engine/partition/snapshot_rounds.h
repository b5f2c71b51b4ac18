// Periodic snapshots of the owned partitions (storage.snapshot_interval_seconds), so that
// the partitions of an instance that crashed (and left no snapshot on release) restore
// from a recent one. A round runs on a thread of its own: copying stores to the shelf
// never stalls ingestion.
//
//   SnapshotRounds rounds(&shelf, absl::Seconds(3600), absl::Now());
//   if (rounds.Due(absl::Now())) rounds.Start(absl::Now(), {{view, next_offset}, ...});
//
// Thread-compatible: Due and Start from one thread (the polling thread). A round holds
// its partitions' stores open until it is done with them; the destructor waits for it.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "engine/partition/snapshot_shelf.h"
#include "engine/partition/view.h"

namespace guanxi::engine {

class SnapshotRounds {
 public:
  struct Item {
    PartitionView view;
    int64_t offset = 0;  // the next offset to consume stored when the round began
  };

  // The first round is due one interval after `start`.
  SnapshotRounds(SnapshotShelf* shelf, absl::Duration interval, absl::Time start);
  ~SnapshotRounds();
  SnapshotRounds(const SnapshotRounds&) = delete;
  SnapshotRounds& operator=(const SnapshotRounds&) = delete;

  // Whether the interval has passed since the last round began, and none runs.
  bool Due(absl::Time now) const;
  // Begins a round over `items` (a previous round has ended: Due said so).
  void Start(absl::Time now, std::vector<Item> items);

 private:
  SnapshotShelf* const shelf_;
  const absl::Duration interval_;
  absl::Time last_;
  std::atomic<bool> running_{false};
  std::thread thread_;
};

}  // namespace guanxi::engine
