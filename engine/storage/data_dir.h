// The layout of a data directory: DATA/partitions/<N>/ holds partition N's event log.
// And the free space the engine keeps there (docs/storage.md, "The space budget").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace guanxi::engine {

std::string PartitionDir(const std::string& data_dir, int32_t partition);

// The partitions that have a store under `data_dir`, ascending. NotFound when the
// directory holds no partitions (a mistyped --data should not look like an empty log).
absl::StatusOr<std::vector<int32_t>> ListPartitions(const std::string& data_dir);

// The bytes free to this process on the filesystem holding `dir` (its nearest existing
// ancestor when it does not exist yet), as RocksDB measures it (Env::GetFreeSpace).
absl::StatusOr<uint64_t> FreeBytes(const std::string& dir);

// OK when the filesystem holding `dir` has at least `needed` bytes free (0: no floor);
// otherwise ResourceExhausted with FullDiskMessage.
absl::Status CheckFreeSpace(const std::string& dir, uint64_t needed);

// What the engine says when it stops, or refuses to start, for want of space:
// "the data directory /d has 1.2 MiB free; guanxi needs at least 320.0 MiB there to go
// on (... storage.min_free_bytes): free space there, then restart".
std::string FullDiskMessage(const std::string& dir, uint64_t free_bytes, uint64_t needed);

}  // namespace guanxi::engine
