#include "engine/ingest/decode.h"

#include <openssl/sha.h>

#include <algorithm>
#include <cmath>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"

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

std::optional<Rejection> CheckTimestamp(const char* field, const google::protobuf::Timestamp& t) {
  if (t.seconds() < kMinTimestampSeconds || t.seconds() > kMaxTimestampSeconds || t.nanos() < 0 ||
      t.nanos() > 999'999'999) {
    return Reject(kReasonBadField, absl::StrCat(field, " is outside 0001-01-01..9999-12-31"));
  }
  return std::nullopt;
}

// A figure whose range docs/events.md states: a number within lo..hi. A figure outside
// it is a source's mapping gone wrong (a 0..100 sentiment, say), which the projections
// would otherwise read clamped, as if extreme, without anybody noticing.
std::optional<Rejection> CheckFigure(const char* field, double value, double lo, double hi) {
  if (std::isfinite(value) && value >= lo && value <= hi) return std::nullopt;
  return Reject(kReasonBadField,
                absl::StrCat(field, " is ", value, "; it must be a number in ", lo, "..", hi));
}

// The payload's figures and timestamps with a documented range.
std::optional<Rejection> CheckPayload(const guanxi::v1::Event& event) {
  using guanxi::v1::Event;
  switch (event.payload_case()) {
    case Event::kCall:
      if (!event.call().has_sentiment()) return std::nullopt;
      return CheckFigure("call.sentiment", event.call().sentiment(), -1, 1);
    case Event::kCompetitorSignal:
      return CheckFigure("competitor_signal.lean", event.competitor_signal().lean(), -1, 1);
    case Event::kSurvey: {
      const auto& s = event.survey();
      // No satisfaction answer (an NPS alone, say): the three are unset.
      const bool answered = s.scale_min() != 0 || s.scale_max() != 0 || s.satisfaction() != 0;
      if (answered) {
        if (!std::isfinite(s.scale_min()) || !std::isfinite(s.scale_max()) ||
            !(s.scale_min() < s.scale_max())) {
          return Reject(kReasonBadField,
                        absl::StrCat("survey.scale_min..scale_max is ", s.scale_min(), "..",
                                     s.scale_max(), "; scale_min must be below scale_max"));
        }
        if (auto r = CheckFigure("survey.satisfaction", s.satisfaction(), s.scale_min(),
                                 s.scale_max())) {
          return r;
        }
      }
      if (!s.has_nps()) return std::nullopt;
      return CheckFigure("survey.nps", s.nps(), 0, 10);
    }
    case Event::kAssessment: {
      const auto& a = event.assessment();
      const std::tuple<const char*, bool, double> ratings[] = {
          {"assessment.acceptance", a.has_acceptance(), a.acceptance()},
          {"assessment.participation", a.has_participation(), a.participation()},
          {"assessment.information", a.has_information(), a.information()},
          {"assessment.guidance", a.has_guidance(), a.guidance()},
          {"assessment.project_support", a.has_project_support(), a.project_support()},
          {"assessment.competitive_preference", a.has_competitive_preference(),
           a.competitive_preference()},
      };
      for (const auto& [field, rated, value] : ratings) {
        if (!rated) continue;
        if (auto r = CheckFigure(field, value, 0, 100)) return r;
      }
      return std::nullopt;
    }
    case Event::kPayment:
      if (auto r = CheckTimestamp("payment.due_at", event.payment().due_at())) return r;
      return CheckTimestamp("payment.paid_at", event.payment().paid_at());
    case Event::kContract:
      return CheckTimestamp("contract.renewal_due_at", event.contract().renewal_due_at());
    default:
      return std::nullopt;
  }
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
  if (auto r = CheckTimestamp("occurred_at", event.occurred_at())) return r;
  if (event.payload_case() == guanxi::v1::Event::PAYLOAD_NOT_SET) {
    const bool has_unknown = !event.GetReflection()->GetUnknownFields(event).empty();
    return has_unknown
               ? Reject(kReasonUnknownEventType,
                        "the payload is an event type this engine does not know (newer producer?)")
               : Reject(kReasonUnknownEventType, "the event has no payload");
  }
  return CheckPayload(event);
}

using google::protobuf::util::TimeUtil;

std::optional<Rejection> CheckNotFromTheFuture(const guanxi::v1::Event& event,
                                               int64_t now_unix_millis,
                                               const DecodeLimits& limits) {
  const int64_t latest = now_unix_millis / 1000 + limits.max_future_seconds;
  if (event.occurred_at().seconds() <= latest) return std::nullopt;
  return Reject(kReasonFutureOccurredAt,
                absl::StrCat("occurred_at ", TimeUtil::ToString(event.occurred_at()),
                             " is more than kafka.max_future_seconds (", limits.max_future_seconds,
                             " s) after the engine's clock at ingest (",
                             TimeUtil::ToString(TimeUtil::SecondsToTimestamp(now_unix_millis / 1000)),
                             ")"));
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

size_t DeadLetterBytes(const guanxi::v1::DeadLetter& letter) {
  return letter.ByteSizeLong() + letter.original_key().size();
}

namespace {

// Records what `original` was before the letter carries only its first bytes.
void MarkTruncated(std::string_view original, guanxi::v1::DeadLetter::Truncated* truncated) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(original.data()), original.size(), digest);
  truncated->set_original_size(static_cast<int64_t>(original.size()));
  truncated->set_original_sha256(reinterpret_cast<const char*>(digest), sizeof digest);
}

}  // namespace

guanxi::v1::DeadLetter MakeDeadLetter(std::string_view key, std::string_view value,
                                      const guanxi::v1::SourceCoordinates& source,
                                      const Rejection& rejection, int64_t now_unix_millis,
                                      size_t max_bytes) {
  guanxi::v1::DeadLetter letter;
  *letter.mutable_source() = source;
  letter.set_reason_code(std::string(rejection.code));
  letter.mutable_dead_lettered_at()->set_seconds(now_unix_millis / 1000);
  letter.mutable_dead_lettered_at()->set_nanos(static_cast<int32_t>(now_unix_millis % 1000) *
                                               1'000'000);
  std::string reason = rejection.reason;
  const auto fits = [&] {
    letter.set_reason(reason);
    return DeadLetterBytes(letter) <= max_bytes;
  };
  letter.set_original_key(std::string(key));
  letter.set_original_value(std::string(value));
  if (fits()) return letter;

  if (2 * key.size() > max_bytes / 2) {
    MarkTruncated(key, letter.mutable_key_truncated());
    letter.set_original_key(std::string(key.substr(0, max_bytes / 4)));
    absl::StrAppend(&reason, "; the key, ", key.size(),
                    " bytes, is cut to its first bytes to fit a dead letter (key_truncated "
                    "has its size and SHA-256)");
    if (fits()) return letter;
  }
  MarkTruncated(value, letter.mutable_value_truncated());
  absl::StrAppend(&reason, "; the value, ", value.size(),
                  " bytes, is cut to its first bytes to fit a dead letter (value_truncated has "
                  "its size and SHA-256)");
  letter.clear_original_value();
  letter.set_reason(reason);
  // The prefix costs its bytes, the field's tag and its length (a varint of at most 5
  // bytes below 32 GiB).
  const size_t envelope = DeadLetterBytes(letter) + 1 + 5;
  const size_t room = max_bytes > envelope ? max_bytes - envelope : 0;
  letter.set_original_value(std::string(value.substr(0, std::min(room, value.size()))));
  return letter;
}

}  // namespace guanxi::engine
