// The lifecycle stage of one customer (METHOD.md section 4; docs/scoring.md section 2):
// identified, engaging, deepening, maintaining, at risk, winning back, lost. The stage
// follows the customer's events, the passing of event time and the customer's churn
// warning: a customer who bought is at risk exactly while a churn-warning episode at
// level warning or above is open (state.churn_episode, churn/rules.h), so the stage and
// the warnings tell one story.
//
//   // After the relationship projection, the classes and the churn rules have applied
//   // the event (or the tick, or the model record): CustomerProjection does this.
//   if (auto change = AdvanceStage(config, state, {.event = &event, ...}, t, position))
//     facts.push_back(*change);
//   if (auto deadline = NextInactivityDeadline(config, state)) timers.Arm(*deadline);
//
// Pure: no I/O, no clock, no threads, no randomness, no global mutable state. Time is
// the `now` passed in. Deterministic: the same config, state bytes and inputs give the
// same state bytes and the same fact.
#pragma once

#include <cstdint>
#include <optional>

#include "google/protobuf/timestamp.pb.h"
#include "guanxi/v1/config.pb.h"
#include "guanxi/v1/events.pb.h"
#include "guanxi/v1/state.pb.h"
#include "guanxi/v1/warning.pb.h"

namespace guanxi::projections {

// What the lifecycle rules look at besides the customer's state (which holds the score,
// the bookkeeping and the churn-warning episode, all current).
struct StageInput {
  // The event applied, or null (a tick or timer: time passed; a model record).
  const guanxi::v1::Event* event = nullptr;
  // Days without interaction at this application's time, before the event counted
  // (QuietDays taken before the event was applied); 0 for a model record.
  double quiet_days = 0;
  // The event's observations did not lower the overall score.
  bool score_not_lowered = false;
  // The churn notice this application produced, if any: a cause names its warning.
  const guanxi::v1::ChurnWarning* notice = nullptr;
};

// Moves the customer's stage by the rules of docs/scoring.md section 2, in two phases:
// what the quiet time implies (as a timer at this moment would), then what the event
// implies; each runs to a fixed point, an event triggers at most one move itself, and a
// customer entering winning back is not promoted by the same event. Returns the one
// StageChange fact of the application ("<customer>/<position>/stage", its causes
// joined by "; then "), or nullopt when the stage is where it was. A state that has
// seen no event is left unchanged.
std::optional<guanxi::v1::RelationshipChange> AdvanceStage(
    const guanxi::v1::LifecycleConfig& config, guanxi::v1::CustomerState& state,
    const StageInput& input, const google::protobuf::Timestamp& now, uint64_t position);

// Days since the customer's last interaction (since its first event when it never
// interacted) at `now`; 0 for a state that has seen no event, and never negative.
double QuietDays(const guanxi::v1::CustomerState& state, const google::protobuf::Timestamp& now);

// The event time at which the passing of time alone next moves the customer's stage
// (lifecycle.lost_inactive_days of quiet for prospects and customers at risk or being
// won back), after state.as_of(); nullopt when no such rule applies to the current
// stage. The churn rules' own deadlines (churn/rules.h) bring the warnings, and so the
// moves into and out of at risk.
std::optional<google::protobuf::Timestamp> NextInactivityDeadline(
    const guanxi::v1::LifecycleConfig& config, const guanxi::v1::CustomerState& state);

}  // namespace guanxi::projections
