// How the projections read an event's figures (and whether a timestamp is set), one
// reading each, shared by the relationship score, the classes and the churn rules. Ingest refuses
// figures outside their documented ranges (engine/ingest/decode.cc); these readings still guard
// against what an older log holds.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "guanxi/v1/events.pb.h"

namespace guanxi::projections {

// Whether a timestamp field holds a time (proto3: unset reads as the zero timestamp).
inline bool IsSet(const google::protobuf::Timestamp& t) {
  return t.seconds() != 0 || t.nanos() != 0;
}

// A survey's satisfaction rescaled to 0..100; nullopt when its scale or answer is unusable
// (an NPS-only response has neither).
std::optional<double> SatisfactionOf(const guanxi::v1::Event& event);

// A payment's time (paid_at, else its event time) and whole days late (0 when early or
// on time); nullopt for a payment without a due date.
struct PaymentLateness {
  int64_t paid = 0;
  int64_t days_late = 0;
};
std::optional<PaymentLateness> LatenessOf(const guanxi::v1::Event& event);

// A call's sentiment within -1..1; nullopt when the call center did not score it.
std::optional<double> SentimentOf(const guanxi::v1::Event& event);

// A competitor signal's lean within -1..1 (as docs/events.md has it, so one wild figure
// is no verdict); nullopt when it is no number.
std::optional<double> LeanOf(const guanxi::v1::Event& event);

// An account manager's assessment: each of its six dimensions (acceptance,
// participation, information, guidance, project support, competitive preference, in
// that order) within 0..100; nullopt for one not rated (or no number).
std::array<std::optional<double>, 6> AssessmentRatingsOf(const guanxi::v1::Event& event);

}  // namespace guanxi::projections
