#include "engine/ingest/decode.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/timestamp.pb.h"

namespace guanxi::engine {
namespace {

// RFC 3339's range, as google.protobuf.Timestamp defines it (0001-01-01..9999-12-31).
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

Rejection Reject(std::string_view code, std::string reason) {
  return Rejection{code, std::move(reason)};
}

// An id must be non-empty, bounded, and free of control characters (ids end up in
// RocksDB keys, log lines and HTTP paths). UTF-8 validity is the protobuf parser's job.
std::optional<Rejection> CheckId(const char* field, std::string_view value,
                                 std::string_view missing_code, size_t max_bytes) {
  if (value.empty()) return Reject(missing_code, absl::StrCat(field, " is missing"));
  if (value.size() > max_bytes) {
    return Reject(kReasonBadField, absl::StrCat(field, " is ", value.size(), " bytes; at most ",
                                                max_bytes, " allowed"));
  }
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return Reject(kReasonBadField, absl::StrCat(field, " contains a control character"));
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<Rejection> ValidateEvent(const guanxi::v1::Event& event, const DecodeLimits& limits) {
  if (auto r = CheckId("event_id", event.event_id(), kReasonMissingEventId, limits.max_id_bytes)) {
    return r;
  }
  if (auto r = CheckId("customer_id", event.customer_id(), kReasonMissingCustomerId,
                       limits.max_id_bytes)) {
    return r;
  }
  if (!event.has_occurred_at()) {
    return Reject(kReasonMissingOccurredAt, "occurred_at is missing");
  }
  const auto& t = event.occurred_at();
  if (t.seconds() < kMinTimestampSeconds || t.seconds() > kMaxTimestampSeconds || t.nanos() < 0 ||
      t.nanos() > 999'999'999) {
    return Reject(kReasonBadField, "occurred_at is outside 0001-01-01..9999-12-31");
  }
  if (event.payload_case() == guanxi::v1::Event::PAYLOAD_NOT_SET) {
    const bool has_unknown = !event.GetReflection()->GetUnknownFields(event).empty();
    return has_unknown
               ? Reject(kReasonUnknownEventType,
                        "the payload is an event type this engine does not know (newer producer?)")
               : Reject(kReasonUnknownEventType, "the event has no payload");
  }
  return std::nullopt;
}

DecodeResult DecodeEvent(std::string_view key, std::string_view value, const DecodeLimits& limits) {
  DecodeResult result;
  if (value.size() > limits.max_event_bytes) {
    result.rejection = Reject(
        kReasonOversized,
        absl::StrCat("message is ", value.size(), " bytes; the limit is ", limits.max_event_bytes));
    return result;
  }
  guanxi::v1::Event& event = result.event;
  if (!event.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    result.rejection =
        Reject(kReasonUndecodable, "not a guanxi.v1.Event in protobuf binary encoding");
    return result;
  }
  if (auto r = ValidateEvent(event, limits)) {
    result.rejection = std::move(r);
    return result;
  }
  if (!key.empty() && key != event.customer_id()) {
    result.rejection = Reject(
        kReasonKeyMismatch,
        absl::StrCat("the Kafka key must equal customer_id (", event.customer_id().size(),
                     " bytes); it decides the partition, and a customer's events must share one"));
    return result;
  }
  return result;
}

guanxi::v1::DeadLetter MakeDeadLetter(std::string_view key, std::string_view value,
                                      const guanxi::v1::SourceCoordinates& source,
                                      const Rejection& rejection, int64_t now_unix_millis) {
  guanxi::v1::DeadLetter letter;
  letter.set_original_value(std::string(value));
  letter.set_original_key(std::string(key));
  *letter.mutable_source() = source;
  letter.set_reason_code(std::string(rejection.code));
  letter.set_reason(rejection.reason);
  letter.mutable_dead_lettered_at()->set_seconds(now_unix_millis / 1000);
  letter.mutable_dead_lettered_at()->set_nanos(static_cast<int32_t>(now_unix_millis % 1000) *
                                               1'000'000);
  return letter;
}

}  // namespace guanxi::engine
