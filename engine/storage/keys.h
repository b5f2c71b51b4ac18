// Every key (and small fixed-layout value) of a partition store, in one place: the column
// families, how each key is laid out, and how it is read back. Internal to
// engine/storage; no RocksDB type here, only bytes. The layouts are the store's on-disk
// format: changing one is a migration (engine/storage/README.md lists them).
//
// Integers are big-endian so that keys sort by number; signed times are offset binary
// (the sign bit flipped) so that negative times sort first; a customer id is prefixed by
// its 4-byte length so that one customer's keys never run into another's ("a" vs "ab").
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "google/protobuf/timestamp.pb.h"

namespace guanxi::engine::keys {

// Column families of the event log.
inline constexpr char kLogCf[] = "log";        // position -> LogRecord
inline constexpr char kStreamCf[] = "stream";  // StreamKey -> StreamValue (per customer)
inline constexpr char kDedupCf[] = "dedup";    // event_id -> position key
inline constexpr char kMetaCf[] = "meta";      // kHeadKey, kPartitionKey, OffsetKey
// customer_id -> the customer's 32-byte sealing key (sealing.h); deleted by an erasure.
inline constexpr char kCustomerKeysCf[] = "customer_keys";
// Column families of the projections.
inline constexpr char kStateCf[] = "state";            // customer_id -> CustomerState
inline constexpr char kTimersCf[] = "timers";          // TimerKey -> ""
inline constexpr char kFactsCf[] = "facts";            // FactGroupKey -> DerivedFacts
inline constexpr char kOutboxCf[] = "outbox";          // OutboxChunkKey -> OutboxChunk
inline constexpr char kProjectionCf[] = "projection";  // kCheckpointKey, kRefitScheduleKey
inline constexpr char kWarningsCf[] = "warnings";      // WarningKey -> ChurnWarning

// Keys of `meta` and `projection`.
inline constexpr char kHeadKey[] = "head";  // HeadValue
inline constexpr char kPartitionKey[] = "partition";
inline constexpr char kCheckpointKey[] = "checkpoint";
inline constexpr char kRefitScheduleKey[] = "refit_schedule";

void PutBigEndian64(std::string& out, uint64_t v);
uint64_t GetBigEndian64(const char* p);  // reads 8 bytes

// log: the 8-byte position.
std::string PositionKey(uint64_t position);

// A customer's prefix in `stream` and `facts`: 4-byte length, then the id.
std::string CustomerPrefix(std::string_view customer_id);
// stream: CustomerPrefix + 8-byte position.
std::string StreamKey(std::string_view customer_id, uint64_t position);
// The position of a stream key that starts with `prefix`.
uint64_t StreamPosition(std::string_view key, size_t prefix_size);
// stream value: occurred_at, 8-byte offset-binary seconds + 4-byte nanos.
std::string StreamValue(const google::protobuf::Timestamp& occurred_at);
// Whether a stream value's occurred_at is at or before `until` (a malformed one: true).
bool OccurredAtOrBefore(std::string_view stream_value, const google::protobuf::Timestamp& until);

// meta: the next Kafka offset to consume of a source partition ("offset/<topic>/<n>"),
// the value an 8-byte offset.
std::string OffsetKey(std::string_view topic, int32_t partition);
std::string OffsetValue(int64_t next_offset);

// meta head: 8-byte next position + the 32-byte hash of the last record.
std::string HeadValue(uint64_t next_position, const std::array<uint8_t, 32>& hash);
// False when malformed.
bool ParseHeadValue(std::string_view value, uint64_t& next_position,
                    std::array<uint8_t, 32>& hash);

// timers: 8-byte offset-binary deadline, then the customer id.
std::string TimerKey(int64_t deadline, std::string_view customer_id);
struct TimerKeyParts {
  int64_t deadline = 0;
  std::string_view customer_id;
};
std::optional<TimerKeyParts> ParseTimerKey(std::string_view key);

// facts: CustomerPrefix + 8-byte log position + 4-byte index within what the record
// derived (FactKey: one DerivedFact, as stores written before groups hold them), or the
// same with one more byte, 0x01 (FactGroupKey: DerivedFacts, the facts from that index on
// that one application derived). A fact is named by its FactKey either way (the warnings
// index, Compare).
std::string FactKey(std::string_view customer_id, uint64_t position, uint32_t index);
std::string FactGroupKey(std::string_view customer_id, uint64_t position, uint32_t first_index);
struct FactKeyParts {
  std::string_view customer_id;
  uint64_t position = 0;
  uint32_t index = 0;  // of the first fact of a group
  bool group = false;
};
std::optional<FactKeyParts> ParseFactKey(std::string_view key);

// warnings: 8-byte offset-binary event time (seconds), then the fact key.
std::string WarningKey(int64_t event_time_seconds, std::string_view customer_id,
                       uint64_t position, uint32_t index);
// Where the warnings of event time `event_time_seconds` and later start.
std::string WarningsFrom(int64_t event_time_seconds);

// outbox: a chunk (OutboxChunk, one commit's entries) under the 8-byte sequence of its
// last entry followed by one byte, 0x01. A key of the 8-byte sequence alone holds one
// OutboxEntry, as stores written before chunks have them. Both sort by last sequence, so
// a seek to SequenceKey(s) finds the chunk holding entry s (or the first after it), and
// the keys below SequenceKey(s) are the chunks whose entries all come before s.
std::string SequenceKey(uint64_t sequence);
std::string OutboxChunkKey(uint64_t last_sequence);
struct OutboxKeyParts {
  uint64_t last_sequence = 0;
  bool chunk = false;  // false: a single OutboxEntry (the layout before chunks)
};
std::optional<OutboxKeyParts> ParseOutboxKey(std::string_view key);

}  // namespace guanxi::engine::keys
