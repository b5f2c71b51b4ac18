#include "engine/privacy/erasure.h"

#include <atomic>
#include <memory>

#include "absl/strings/str_cat.h"
#include "engine/ingest/decode.h"

namespace guanxi::engine {

absl::StatusOr<guanxi::v1::Event> ErasureEvent(std::string_view customer_id,
                                               std::string_view reason,
                                               std::string_view requested_by, absl::Time now) {
  guanxi::v1::Event event;
  const int64_t nanos = absl::ToUnixNanos(now);
  // At most 256 bytes like every id: the instant, then as much of the customer id as fits
  // (two customers sharing a 200-byte prefix asked for in the same nanosecond collide).
  event.set_event_id(absl::StrCat("erasure:", nanos, ":",
                                  absl::string_view(customer_id.data(), customer_id.size())
                                      .substr(0, 200)));
  event.set_customer_id(std::string(customer_id));
  event.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(now));
  event.mutable_occurred_at()->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
  event.set_source("guanxi-erase");
  event.mutable_erasure()->set_reason(std::string(reason));
  event.mutable_erasure()->set_requested_by(std::string(requested_by));
  if (auto rejected = ValidateEvent(event, DecodeLimits{})) {
    return absl::InvalidArgumentError(rejected->reason);
  }
  return event;
}

absl::Status ProduceErasure(const std::string& brokers, const KafkaProperties& properties,
                            std::string_view topic, const guanxi::v1::Event& erasure,
                            absl::Duration timeout) {
  auto delivered = std::make_shared<absl::Status>(absl::UnavailableError("not acknowledged"));
  auto producer = Producer::Create(brokers, properties, [delivered](const Producer::Delivery& d) {
    *delivered = d.status;
  });
  if (!producer.ok()) return producer.status();
  const std::string value = erasure.SerializeAsString();
  if (absl::Status s = (*producer)->Produce(topic, erasure.customer_id(), value, 0); !s.ok()) {
    return s;
  }
  const int64_t outstanding = (*producer)->Flush(timeout);
  if (absl::Status health = (*producer)->health(); !health.ok()) return health;
  if (outstanding > 0) {
    return absl::DeadlineExceededError(absl::StrCat(
        "the erasure of '", erasure.customer_id(), "' was not acknowledged within ",
        absl::FormatDuration(timeout), "; asking again is safe"));
  }
  return *delivered;
}

}  // namespace guanxi::engine
