// The append side of one owned partition: decode, validate, dead-letter, route,
// deduplicate and append consumed Kafka messages to the partition's event log,
// effectively once.
//
//   ASSIGN_OR_RETURN(auto ingestor, PartitionIngestor::Create("guanxi.events", 3, &log,
//                                                             &side, limits, clock, 16));
//   ASSIGN_OR_RETURN(IngestStats stats, ingestor->Process(messages));
//
// Effectively once: the records, their indexes and the next offset to consume are one
// atomic EventLog::Append. A message redelivered (same offset) or re-sent (same
// event_id) is recognised by the log's dedup index and not appended again; the offset
// still advances. Dead letters are produced and acknowledged by the broker BEFORE the
// batch's offsets are stored, so a crash can repeat a dead letter (at least once, keyed
// by its source coordinates) but never lose one.
//
// Routing: a customer's events belong to one partition, its customer_id's under Kafka's
// default partitioner (murmur2, engine/kafka/partitioner.h). An event that arrives on
// another partition (its producer used another partitioner; the key must still be the
// customer_id, or it is dead-lettered) is not appended here: it is produced, bytes unchanged and keyed by its customer_id,
// to its home partition of the same topic, acknowledged before the offsets pass it
// (like a dead letter), and appended there when that partition consumes it. A crash can
// forward it twice; the home partition's dedup by event_id appends it once.
//
// Thread-compatible: one thread per ingestor (the partition's one writer).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/ingest/decode.h"
#include "engine/storage/event_log.h"
#include "engine/partition/status.h"
#include "guanxi/v1/log.pb.h"

namespace guanxi::engine {

// One consumed message; the views must stay valid for the Process call.
struct ConsumedMessage {
  int64_t offset = 0;
  std::string_view key{};
  std::string_view value{};
};

// What the ingestor sends to Kafka instead of appending: rejected messages to the
// dead-letter topic, and events that arrived away from home to their home partition of
// the events topic. Flush returns once the broker has acknowledged everything sent so
// far, or the error that prevented it.
class SideOutput {
 public:
  virtual ~SideOutput() = default;
  virtual absl::Status DeadLetter(const guanxi::v1::DeadLetter& letter) = 0;
  virtual absl::Status Forward(int32_t partition, std::string_view key,
                               std::string_view value) = 0;
  virtual absl::Status Flush() = 0;
};


class PartitionIngestor {
 public:
  // `log` and `side` must outlive the ingestor. `now_unix_millis` stamps dead letters
  // (wall clock; never a projection input). `partitions` is the topic's partition count,
  // for routing (0: no routing, every event stays where it arrived). Resumes from the
  // offset the log stored for this topic/partition.
  static absl::StatusOr<std::unique_ptr<PartitionIngestor>> Create(
      std::string topic, int32_t partition, EventLog* log, SideOutput* side,
      DecodeLimits limits, std::function<int64_t()> now_unix_millis, int32_t partitions = 0);

  // Processes consecutive messages of this partition in offset order. Messages below
  // next_offset() (a redelivery of what is already stored) are skipped. On error nothing
  // of the batch is stored and next_offset() is unchanged: the caller retries or seeks
  // back to next_offset(). `appended`, if set, receives the records appended (duplicates
  // left out), in position order, as the log stores them: for the partition's projector.
  absl::StatusOr<IngestStats> Process(absl::Span<const ConsumedMessage> messages,
                                      std::vector<guanxi::v1::LogRecord>* appended = nullptr);

  // The next offset to consume, as stored in the log (-1 when nothing is stored yet).
  int64_t next_offset() const { return next_offset_; }

 private:
  PartitionIngestor(std::string topic, int32_t partition, EventLog* log, SideOutput* side,
                    DecodeLimits limits, std::function<int64_t()> now_unix_millis,
                    int32_t partitions, int64_t next_offset);

  std::string topic_;
  int32_t partition_;
  EventLog* log_;
  SideOutput* side_;
  DecodeLimits limits_;
  std::function<int64_t()> now_unix_millis_;
  int32_t partitions_ = 0;
  int64_t next_offset_ = -1;
};

}  // namespace guanxi::engine
