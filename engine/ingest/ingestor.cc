#include "engine/ingest/ingestor.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/kafka/partitioner.h"

namespace guanxi::engine {

absl::StatusOr<std::unique_ptr<PartitionIngestor>> PartitionIngestor::Create(
    std::string topic, int32_t partition, EventLog* log, SideOutput* side, DecodeLimits limits,
    std::function<int64_t()> now_unix_millis, int32_t partitions) {
  auto stored = log->StoredOffset(topic, partition);
  if (!stored.ok()) return stored.status();
  return std::unique_ptr<PartitionIngestor>(
      new PartitionIngestor(std::move(topic), partition, log, side, limits,
                            std::move(now_unix_millis), partitions, stored->value_or(-1)));
}

PartitionIngestor::PartitionIngestor(std::string topic, int32_t partition, EventLog* log,
                                     SideOutput* side, DecodeLimits limits,
                                     std::function<int64_t()> now_unix_millis,
                                     int32_t partitions, int64_t next_offset)
    : topic_(std::move(topic)),
      partition_(partition),
      log_(log),
      side_(side),
      limits_(limits),
      now_unix_millis_(std::move(now_unix_millis)),
      partitions_(partitions),
      next_offset_(next_offset) {}

absl::StatusOr<IngestStats> PartitionIngestor::Process(absl::Span<const ConsumedMessage> messages,
                                                       std::vector<guanxi::v1::LogRecord>* appended_records) {
  IngestStats stats;
  std::vector<guanxi::v1::LogRecord> records;
  records.reserve(messages.size());
  std::vector<guanxi::v1::DeadLetter> letters;
  struct Away {
    int32_t home;
    std::string customer_id;
    std::string_view value;
  };
  std::vector<Away> away;
  int64_t last = -1;
  for (const ConsumedMessage& m : messages) {
    if (m.offset < next_offset_ || m.offset <= last) continue;  // already stored: redelivery
    last = m.offset;
    ++stats.messages;
    guanxi::v1::SourceCoordinates source;
    source.set_topic(topic_);
    source.set_partition(partition_);
    source.set_offset(m.offset);
    DecodeResult decoded = DecodeEvent(m.key, m.value, limits_);
    if (decoded.ok()) {
      decoded.rejection = CheckNotFromTheFuture(decoded.event, now_unix_millis_(), limits_);
    }
    if (!decoded.ok()) {
      letters.push_back(MakeDeadLetter(m.key, m.value, source, *decoded.rejection,
                                       now_unix_millis_(), limits_.max_message_bytes));
      continue;
    }
    if (partitions_ > 0) {
      const int32_t home = KeyPartition(decoded.event.customer_id(), partitions_);
      if (home != partition_) {
        // Forwarded under its customer id as the key. One the engine's producer cannot
        // send (an event the topic took, too large for message.max.bytes) would stop the
        // partition at every restart: it is dead-lettered instead, decided here, before
        // producing, so every run decides the same.
        const std::string& key = decoded.event.customer_id();
        if (key.size() + m.value.size() > limits_.max_message_bytes) {
          const Rejection too_large{
              kReasonOversized,
              absl::StrCat("the event belongs to partition ", home, " and cannot be forwarded "
                           "there: ", m.value.size(), " bytes and its ", key.size(),
                           "-byte key are over the ", limits_.max_message_bytes,
                           " bytes the engine's producer may send (message.max.bytes less "
                           "framing)")};
          letters.push_back(MakeDeadLetter(m.key, m.value, source, too_large,
                                           now_unix_millis_(), limits_.max_message_bytes));
          continue;
        }
        away.push_back({home, key, m.value});
        continue;
      }
    }
    guanxi::v1::LogRecord& record = records.emplace_back();
    *record.mutable_event() = std::move(decoded.event);
    *record.mutable_source() = std::move(source);
  }
  if (last < 0) return stats;  // nothing new

  // Dead letters and events away from home first, acknowledged by the broker, then the
  // offsets that pass them.
  for (const guanxi::v1::DeadLetter& letter : letters) {
    if (absl::Status s = side_->DeadLetter(letter); !s.ok()) return s;
  }
  for (const Away& a : away) {
    if (absl::Status s = side_->Forward(a.home, a.customer_id, a.value); !s.ok()) return s;
  }
  if (!letters.empty() || !away.empty()) {
    if (absl::Status s = side_->Flush(); !s.ok()) return s;
  }
  auto appended = log_->Append(absl::MakeSpan(records), {{topic_, partition_, last + 1}});
  if (!appended.ok()) return appended.status();
  next_offset_ = last + 1;
  stats.appended = static_cast<int64_t>(appended->appended);
  stats.duplicates = static_cast<int64_t>(records.size() - appended->appended);
  stats.dead_letters = static_cast<int64_t>(letters.size());
  stats.forwarded = static_cast<int64_t>(away.size());
  if (appended_records) {
    for (size_t i = 0; i < records.size(); ++i) {
      if (!appended->outcomes[i].duplicate) appended_records->push_back(std::move(records[i]));
    }
  }
  return stats;
}

}  // namespace guanxi::engine
