// Decoding and validating one Kafka message of guanxi.events into an Event, or saying
// exactly why it cannot be appended (the dead-letter reason).
//
//   DecodeResult r = DecodeEvent(key, value, limits);
//   if (!r.ok()) dead_letter(MakeDeadLetter(key, value, source, *r.rejection, now,
//                                           limits.max_message_bytes));
//
// Pure: no I/O, no clock (the caller stamps dead letters). Thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "guanxi/v1/events.pb.h"
#include "guanxi/v1/log.pb.h"

namespace guanxi::engine {

// Stable machine-readable reasons (DeadLetter.reason_code); documented in
// docs/operations.md. Never renamed: consumers of the dead-letter topic match on them.
inline constexpr std::string_view kReasonOversized = "oversized";
inline constexpr std::string_view kReasonUndecodable = "undecodable";
inline constexpr std::string_view kReasonMissingEventId = "missing_event_id";
inline constexpr std::string_view kReasonMissingCustomerId = "missing_customer_id";
inline constexpr std::string_view kReasonMissingOccurredAt = "missing_occurred_at";
inline constexpr std::string_view kReasonUnknownEventType = "unknown_event_type";
inline constexpr std::string_view kReasonBadField = "bad_field";
inline constexpr std::string_view kReasonKeyMismatch = "key_mismatch";
inline constexpr std::string_view kReasonFutureOccurredAt = "future_occurred_at";

struct DecodeLimits {
  size_t max_event_bytes = 1 << 20;
  size_t max_id_bytes = 256;
  // The most a message the engine produces may weigh, its key and its value together:
  // a dead letter, or an event forwarded to its home partition. What the engine's
  // producer sends (Producer::max_message_bytes, set by the engine); the default is what
  // librdkafka's default message.max.bytes (1,000,000) lets through.
  size_t max_message_bytes = 999'936;
  // kafka.max_future_seconds: how far after the wall clock at ingest occurred_at may be.
  int64_t max_future_seconds = 30 * 86400;
};

struct Rejection {
  std::string_view code;  // one of the kReason* constants
  std::string reason;     // a sentence for people, naming the field
};

struct DecodeResult {
  guanxi::v1::Event event;
  std::optional<Rejection> rejection;
  bool ok() const { return !rejection.has_value(); }
};

// Checks what the log requires of a decoded event (the list below, from event_id on).
std::optional<Rejection> ValidateEvent(const guanxi::v1::Event& event, const DecodeLimits& limits);

// Decodes `value` and checks what the log requires of an event:
// - at most limits.max_event_bytes (else "oversized", checked before parsing);
// - a parseable guanxi.v1.Event (else "undecodable");
// - event_id and customer_id: 1..max_id_bytes of valid UTF-8 without control
//   characters (else "missing_..." when empty, "bad_field" otherwise);
// - occurred_at set and a valid timestamp (else "missing_occurred_at" / "bad_field");
// - a payload this build knows (else "unknown_event_type": a newer producer's type);
// - the Kafka key, when present, equal to customer_id (else "key_mismatch"): the key
//   decides the partition, and a customer's stream must live in one partition.
DecodeResult DecodeEvent(std::string_view key, std::string_view value, const DecodeLimits& limits);

// "future_occurred_at" when the event occurred more than limits.max_future_seconds after
// `now_unix_millis` (the caller's wall clock at ingest): a typo'd year would otherwise
// become the latest event time of its source. Kept out of DecodeEvent, which has no
// clock.
std::optional<Rejection> CheckNotFromTheFuture(const guanxi::v1::Event& event,
                                               int64_t now_unix_millis,
                                               const DecodeLimits& limits);

// The dead letter for a rejected message: coordinates, reason, and the original bytes,
// untouched when they fit. It never weighs more than `max_bytes` (its serialized size plus
// its Kafka key, the original key) as long as that leaves room for the coordinates and
// the reason (a few hundred bytes): one the producer refused would stop the partition
// for good. When the original does not fit, the key is cut to at most a quarter of
// `max_bytes` (it travels twice: in the letter and as its key) and the value to what is
// left; each cut one carries its whole size and SHA-256 (DeadLetter.value_truncated,
// key_truncated), and the reason says so. `now_unix_millis` stamps dead_lettered_at (the
// caller's clock: this is not a projection).
guanxi::v1::DeadLetter MakeDeadLetter(std::string_view key, std::string_view value,
                                      const guanxi::v1::SourceCoordinates& source,
                                      const Rejection& rejection, int64_t now_unix_millis,
                                      size_t max_bytes);

// What a dead letter weighs as a Kafka message: its serialized size and its key.
size_t DeadLetterBytes(const guanxi::v1::DeadLetter& letter);

}  // namespace guanxi::engine
