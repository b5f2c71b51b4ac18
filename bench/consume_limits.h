// The Kafka side's own limit: how fast the events can be read from the broker and thrown
// away, with nothing else done to them.
//
//   ASSIGN_OR_RETURN(ConsumeReport raw, RawConsume(brokers, "guanxi.events", 16, n));
//
// RawConsume uses librdkafka directly (the one place outside engine/kafka that does: a
// limit must not include our wrapper), with the engine consumer's fetch settings
// (queued.min.messages, queued.max.messages.kbytes, fetch.wait.max.ms,
// max.partition.fetch.bytes, check.crcs), every partition assigned at offset 0, no
// consumer group. WrapperConsume goes through engine::Consumer (a group member, as
// IngestEngine is, copying each key and value into strings) with the engine's poll size.
// Both are timed from their first message to their last, connected to every partition's
// leader before (the raw client by querying each partition's watermarks, the group
// member by its group join): what comes before is a start-up cost, in total_seconds.
// Not thread-safe; one call at a time.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "bench/bench_util.h"

namespace guanxi::bench {

struct ConsumeReport {
  int64_t messages = 0;
  int64_t bytes = 0;                 // keys + values
  double seconds = 0;                // from the first message to the last
  double total_seconds = 0;          // from creating the client to the last message
  double first_message_seconds = 0;  // from creating the client to the first message
  Result ToResult() const;
};

absl::StatusOr<ConsumeReport> RawConsume(const std::string& brokers, const std::string& topic,
                                         int partitions, int64_t expected);

absl::StatusOr<ConsumeReport> WrapperConsume(const std::string& brokers, const std::string& topic,
                                             int64_t expected, size_t poll_size);

}  // namespace guanxi::bench
