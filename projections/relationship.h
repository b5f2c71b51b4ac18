// The relationship projection: the six-dimension relationship score (plus the feeling
// and behaviour families) and the bookkeeping of one customer (orders, contracts,
// contacts, complaints...), as a pure function of that customer's events (METHOD.md
// section 3; docs/scoring.md section 1). The lifecycle stage is lifecycle.h's.
//
//   ProjectionConfig config(engine_config.scoring());
//   guanxi::v1::CustomerState state;  // empty for a new customer
//   Applied applied = ApplyEvent(config, state, event, position);
//   for (const auto& change : applied.changes) outbox.Add(change);
//
// Pure: no I/O, no clock, no threads, no randomness, no global mutable state. Time is
// the events' occurred_at and the `now` of AdvanceTime only. Deterministic: the same
// config, state bytes and inputs give the same state bytes and the same facts, so a
// replay from the log (with any restarts, i.e. state round-trips through its bytes, in
// between) reproduces every score and fact bit for bit.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "google/protobuf/timestamp.pb.h"
#include "guanxi/v1/config.pb.h"
#include "guanxi/v1/events.pb.h"
#include "guanxi/v1/state.pb.h"

namespace guanxi::projections {

// The scoring configuration, indexed for lookup. Immutable once built;
// thread-safe to share. Precondition: the protos passed validation
// (guanxi::engine::ValidateEngineConfig); an unvalidated config is not checked here.
class ProjectionConfig {
 public:
  static constexpr int kDimensions = 8;  // guanxi.v1.Dimension 1..8

  explicit ProjectionConfig(const guanxi::v1::ScoringConfig& scoring);

  const guanxi::v1::ScoringConfig& scoring() const { return scoring_; }
  // The scoring-table rows for `signal`, in configuration order.
  const std::vector<guanxi::v1::ScoringRule>& Rules(guanxi::v1::Signal signal) const;
  double HalfLifeDays(guanxi::v1::Dimension dimension) const;
  double OverallWeight(guanxi::v1::Dimension dimension) const;

 private:
  guanxi::v1::ScoringConfig scoring_;
  std::vector<std::vector<guanxi::v1::ScoringRule>> rules_;  // by Signal number
  std::array<double, kDimensions + 1> half_life_days_{};     // by Dimension number
  std::array<double, kDimensions + 1> overall_weight_{};
};

// What one application alone moved, whether or not a ScoreChange fact was emitted: the
// overall score before/after and the dimensions whose score changed. Plain numbers (no
// messages): it is made at every application and read by the stage rules.
struct ScoreMove {
  struct Dimension {
    guanxi::v1::Dimension dimension = guanxi::v1::DIMENSION_UNSPECIFIED;
    double before = 0;
    double after = 0;
  };
  double from = 0;
  double to = 0;
  std::vector<Dimension> dimensions;
};

// What one application did.
struct Applied {
  // Derived facts: at most one ScoreChange ("<customer>/<pos>/score").
  std::vector<guanxi::v1::RelationshipChange> changes;
  ScoreMove moved;
};

// Applies the event at log `position` to `state` (the event's customer; an empty state
// for a new customer). Evidence decays up to the event's occurred_at first. A late event
// (occurred_at before state.as_of()) never moves the clock back: existing evidence is not
// decayed and its observations enter with the weight already decayed by their age, so the
// evidence is the same as if it had arrived in order.
Applied ApplyEvent(const ProjectionConfig& config, guanxi::v1::CustomerState& state,
                   const guanxi::v1::Event& event, uint64_t position);

// Lets event time pass without an event (a tick record at log `position`): decays the
// evidence to `now`. A `now` at or before
// state.as_of() decays nothing. A state that has seen no event is left unchanged.
Applied AdvanceTime(const ProjectionConfig& config, guanxi::v1::CustomerState& state,
                    const google::protobuf::Timestamp& now, uint64_t position);

// How many calendar months of purchases CustomerState.purchase_months keeps: the month
// of the latest purchase and the 12 before it, enough for any trailing-12-month figure.
inline constexpr int kPurchaseMonths = 13;

// The calendar month (UTC) `t` falls in, as months since 1970-01 (PurchaseMonth.month).
int32_t MonthOf(const google::protobuf::Timestamp& t);

// Purchase figures over the `months` calendar months ending with the month of `now`
// (the current month counts whole): orders, and revenue net of cancellations.
struct TrailingPurchases {
  int64_t orders = 0;
  int64_t revenue_minor = 0;
};
TrailingPurchases Trailing(const guanxi::v1::CustomerState& state,
                           const google::protobuf::Timestamp& now, int months);

// Whether `event` is an interaction with the customer (docs/scoring.md section 2): every
// kind but profile updates, contact changes, assessments (our own records), erasures and
// bare invitations (our action, not the customer's). An interaction resets the quiet time.
bool IsInteraction(const guanxi::v1::Event& event);

// A derived fact about the customer at log `position` and event time `t`, its id
// "<customer>/<position>/<kind>" (CustomerProjection renames it by its cause).
guanxi::v1::RelationshipChange NewChange(const guanxi::v1::CustomerState& state,
                                         const google::protobuf::Timestamp& t,
                                         uint64_t position, const char* kind);

// The signals `event` carries (the keys of the scoring table), in a fixed order.
// `grace_days` is ScoringConfig.payment_grace_days.
std::vector<guanxi::v1::Signal> SignalsOf(const guanxi::v1::Event& event, int grace_days);

}  // namespace guanxi::projections
