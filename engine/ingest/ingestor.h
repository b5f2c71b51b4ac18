// The append side of one owned partition: decode, validate, dead-letter, deduplicate and
// append consumed Kafka messages to the partition's event log, effectively once.
//
//   ASSIGN_OR_RETURN(auto ingestor, PartitionIngestor::Create("guanxi.events", 3, &log,
//                                                             &dead_letters, limits, clock));
//   ASSIGN_OR_RETURN(IngestStats stats, ingestor->Process(messages));
//
// Effectively once: the records, their indexes and the next offset to consume are one
// atomic EventLog::Append. A message redelivered (same offset) or re-sent (same
// event_id) is recognised by the log's dedup index and not appended again; the offset
// still advances. Dead letters are produced and acknowledged by the broker BEFORE the
// batch's offsets are stored, so a crash can repeat a dead letter (at least once, keyed
// by its source coordinates) but never lose one.
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

// Where rejected messages go (guanxi.dead-letters). Flush returns once the broker has
// acknowledged every letter sent so far, or the error that prevented it.
class DeadLetterSink {
 public:
  virtual ~DeadLetterSink() = default;
  virtual absl::Status Send(const guanxi::v1::DeadLetter& letter) = 0;
  virtual absl::Status Flush() = 0;
};


class PartitionIngestor {
 public:
  // `log` and `dead_letters` must outlive the ingestor. `now_unix_millis` stamps dead
  // letters (wall clock; never a projection input). Resumes from the offset the log
  // stored for this topic/partition.
  static absl::StatusOr<std::unique_ptr<PartitionIngestor>> Create(
      std::string topic, int32_t partition, EventLog* log, DeadLetterSink* dead_letters,
      DecodeLimits limits, std::function<int64_t()> now_unix_millis);

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
  PartitionIngestor(std::string topic, int32_t partition, EventLog* log,
                    DeadLetterSink* dead_letters, DecodeLimits limits,
                    std::function<int64_t()> now_unix_millis, int64_t next_offset);

  std::string topic_;
  int32_t partition_;
  EventLog* log_;
  DeadLetterSink* dead_letters_;
  DecodeLimits limits_;
  std::function<int64_t()> now_unix_millis_;
  int64_t next_offset_ = -1;
};

}  // namespace guanxi::engine
