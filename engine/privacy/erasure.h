// Asking for an erasure of a customer's personal data (PIPL art. 47, GDPR art. 17): the
// request is an event, guanxi.v1.Erasure, produced to the events topic keyed by the
// customer like every other event, so it lands in the customer's partition in order,
// is appended once (dedup by event_id), audited in the log and replayed. Appending it
// deletes the customer's key (engine/storage/event_log.h); applying it clears what the
// projections kept (engine/projection/projector.h). docs/operations.md, "Erasing a
// customer's personal data".
//
//   `guanxi erase CUSTOMER --brokers LIST [--reason TEXT]` (app/erase.cc), and the HTTP
//   API's POST /v1/customers/{id}/erase (engine/query/http_server.cc, admin only; `guanxi
//   run` hands it ProduceErasure):
//     ASSIGN_OR_RETURN(guanxi::v1::Event erasure,
//                      ErasureEvent(id, reason, requested_by, absl::Now()));
//     RETURN_IF_ERROR(ProduceErasure(brokers, PropertiesOf(config.kafka()),
//                                    config.kafka().events_topic(), erasure, absl::Seconds(10)));
//     // answer 202 with the erasure: the engine erases when it appends it
//
// Thread-safe (no shared state).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/kafka/kafka.h"
#include "guanxi/v1/events.pb.h"

namespace guanxi::engine {

// The erasure event of `customer_id`, asked for at `now` by `requested_by` for
// `reason` (neither may hold personal data: they stay in the log as the audit of the
// erasure). Its event_id names the customer and the instant, so two requests are two
// events and one request produced twice is appended once. InvalidArgument (naming the
// field) for a customer id the engine would dead-letter (empty, over 256 bytes, control
// characters).
absl::StatusOr<guanxi::v1::Event> ErasureEvent(std::string_view customer_id,
                                               std::string_view reason,
                                               std::string_view requested_by, absl::Time now);

// Produces `erasure` to `topic` keyed by its customer, on an idempotent producer of its
// own, and waits up to `timeout` for the broker's acknowledgement (acks=all). OK once
// acknowledged; the engine deletes the key when it appends the event (seconds later
// when it keeps up). Unavailable / DeadlineExceeded when the broker did not acknowledge
// (asking again is safe: the same event is appended once).
absl::Status ProduceErasure(const std::string& brokers, const KafkaProperties& properties,
                            std::string_view topic, const guanxi::v1::Event& erasure,
                            absl::Duration timeout);

}  // namespace guanxi::engine
