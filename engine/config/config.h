// The engine's configuration: protobuf text format (guanxi.v1.EngineConfig), with the
// defaults of deploy/guanxi.conf.textproto applied to whatever the file leaves out.
//
//   ASSIGN_OR_RETURN(guanxi::v1::EngineConfig config, LoadEngineConfig(path));
//
// A syntax error, an unknown field, a field given twice (even if its first value is the
// default) or a bad value is InvalidArgument naming the file, the line and column or the
// field path (e.g. "kafka.max_event_bytes: must be > 0"), so the engine refuses to start
// with a message that says what to fix. Every floating-point field must be a finite
// number (not inf or nan, which the text format reads). Pure apart from reading the
// file; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "guanxi/v1/config.pb.h"

namespace guanxi::engine {

// The built-in defaults (identical to deploy/guanxi.conf.textproto; a test keeps them so).
guanxi::v1::EngineConfig DefaultEngineConfig();

// Parses `text` (protobuf text format) over the defaults and validates the result.
// `origin` names the source in error messages (a path, or "<flags>").
absl::StatusOr<guanxi::v1::EngineConfig> ParseEngineConfig(std::string_view text,
                                                           std::string_view origin);

// Reads and parses a file; an empty path means the defaults alone.
absl::StatusOr<guanxi::v1::EngineConfig> LoadEngineConfig(const std::string& path);

// Checks every field's value, every floating-point one finite first; the error names
// the field path (e.g. "scoring.dimensions[2].half_life_days: must be > 0").
absl::Status ValidateEngineConfig(const guanxi::v1::EngineConfig& config);

// The free space the engine keeps on its data directory's filesystem:
// storage.min_free_bytes, or when 0 the write buffers plus 64 MiB for a compaction.
uint64_t MinFreeBytes(const guanxi::v1::StorageConfig& storage);
// The part of it kept beside a compaction (RocksDB's SstFileManager compaction buffer).
inline constexpr uint64_t kCompactionReserveBytes = uint64_t{64} << 20;

}  // namespace guanxi::engine
