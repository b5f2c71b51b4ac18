// The layout of a data directory: DATA/partitions/<N>/ holds partition N's event log.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace guanxi::engine {

std::string PartitionDir(const std::string& data_dir, int32_t partition);

// The partitions that have a store under `data_dir`, ascending. NotFound when the
// directory holds no partitions (a mistyped --data should not look like an empty log).
absl::StatusOr<std::vector<int32_t>> ListPartitions(const std::string& data_dir);

}  // namespace guanxi::engine
