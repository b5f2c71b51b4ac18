// Replay: rebuilds a partition's projections from its log, position 0 on, into a fresh
// store, and compares the result with the live projections (`guanxi replay`).
//
//   ASSIGN_OR_RETURN(ReplayResult r, ReplayPartition({.data_dir = data, .partition = 3,
//                                                     .scratch_dir = tmp, .config = config},
//                                                    stop, progress));
//   if (!r.differences.empty()) ...
//
// The live store is opened as a RocksDB secondary, so a running `guanxi run` is not
// disturbed; the replay goes up to the live checkpoint as of the moment it was read, so
// both sides have applied exactly the same records.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/storage/projection_store.h"
#include "google/protobuf/timestamp.pb.h"
#include "engine/projection/projector.h"
#include "guanxi/v1/config.pb.h"

namespace guanxi::engine {

struct ReplayOptions {
  std::string data_dir;
  int32_t partition = 0;
  // Where the fresh store is built (removed by the caller).
  std::string scratch_dir;
  guanxi::v1::EngineConfig config;
  size_t max_differences = 20;
};

struct ReplayResult {
  int32_t partition = 0;
  uint64_t log_records = 0;  // the log's length when read
  uint64_t replayed_to = 0;  // positions [0, replayed_to) were applied
  bool live_projections = false;  // whether the store had live projections at all
  ProjectorStats stats;
  std::vector<std::string> differences;  // empty: identical
};

// The two stores of a replay, for those that run its steps themselves (the benchmark's
// replay phase): the partition's live log, opened as a RocksDB secondary with its
// reader's files under `scratch_dir`/secondary, and the fresh store the projections are
// rebuilt in, `scratch_dir`/fresh: a scratch store (EventLogOptions::scratch, no
// write-ahead log), compared or read, then thrown away; nothing reads it after a crash.
absl::StatusOr<std::unique_ptr<EventLog>> OpenLiveSecondary(const std::string& data_dir,
                                                            int32_t partition,
                                                            const std::string& scratch_dir);
absl::StatusOr<std::unique_ptr<EventLog>> OpenReplayStore(const std::string& scratch_dir);

// `progress(applied, total)` after every commit.
absl::StatusOr<ReplayResult> ReplayPartition(
    const ReplayOptions& options, const std::atomic<bool>& stop,
    const std::function<void(uint64_t applied, uint64_t total)>& progress = nullptr);

// A partition's projections as they were at event time `as_of`, recomputed from the log
// (not read back from the live state): the whole log is read, records whose event time
// is after `as_of` are passed over, and event time is then advanced to `as_of` (timers
// due by then fire). Built in a fresh store under options.scratch_dir.
struct AsOfView {
  std::unique_ptr<EventLog> log;    // the partition's log, opened as a secondary
  std::unique_ptr<EventLog> fresh;  // the store the view was built in
  std::unique_ptr<ProjectionStore> store;
  ProjectorStats stats;
};
absl::StatusOr<AsOfView> RebuildAsOf(
    const ReplayOptions& options, const google::protobuf::Timestamp& as_of,
    const std::atomic<bool>& stop,
    const std::function<void(uint64_t applied, uint64_t total)>& progress = nullptr);

}  // namespace guanxi::engine
