// The churn-warning rules (METHOD.md section 5; docs/scoring.md, "Churn warnings"): from
// a customer's projection, the evidence that the customer is slipping (reasons with
// their figures), a level, and the notices of a warning episode with hysteresis.
//
//   // For every event, after the relationship projection:
//   ApplyEvent(projection_config, state, event, position);
//   ObserveForChurn(churn_config, state, event);
//   // After every event or tick, once score, stage, p_alive and classes are current:
//   ChurnContext ctx{.model = model, .now = event.occurred_at(), .position = position,
//                    .partition = partition};
//   if (auto warning = EvaluateChurn(churn_config, state, ctx)) publish(*warning);
//   // Then arm a timer: evaluate again (with no event) when event time reaches it.
//   if (auto deadline = NextChurnDeadline(churn_config, state)) timers.Arm(*deadline);
//
// Pure: no I/O, no clock, no threads, no randomness, no global mutable state. All that
// the rules remember lives in CustomerState (churn_evidence, churn_episode), so a state
// stored as bytes and reloaded continues exactly as if it had never left memory. The
// same config, state bytes and inputs give the same state bytes and the same warning,
// so replaying the log (events and ticks, each followed by EvaluateChurn as live)
// reproduces every warning: ids, levels, reasons, figures.
//
// Precondition for every function: `config` passed guanxi::engine::ValidateEngineConfig;
// an unvalidated config is not checked here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "google/protobuf/timestamp.pb.h"
#include "guanxi/v1/config.pb.h"
#include "guanxi/v1/events.pb.h"
#include "guanxi/v1/models.pb.h"
#include "guanxi/v1/state.pb.h"
#include "guanxi/v1/warning.pb.h"

namespace guanxi::projections {

// What an evaluation knows besides the customer's state.
struct ChurnContext {
  // The latest population model; null while there is none. P(alive) (state.p_alive) is
  // read only when the model has a BG/NBD fit.
  const guanxi::v1::ModelRecord* model = nullptr;
  // Event time of the evaluation: the event's occurred_at, or the tick's time. The rules
  // are evaluated at max(now, the state's clock), so a late event never moves time back.
  google::protobuf::Timestamp now{};
  // The log record (an event or a tick) whose application triggered the evaluation.
  uint64_t position = 0;
  int32_t partition = 0;
  // What triggered it, naming a new episode: warning_id = "<customer_id>/<cause>". The
  // engine passes "event:<event_id>", "time:<unix seconds>" or "model:<unix seconds>"
  // (projections/projection.h), so ids do not depend on log positions. Empty: the
  // position.
  std::string cause{};
};

// Records what the churn rules need from `event` in state.churn_evidence (complaints
// and their resolution, surveys, payments, renewals, champions, competitor signals, call
// sentiment, purchase days). Call for every event of the customer, after the relationship
// projection's ApplyEvent (it relies on state.as_of being advanced to the event).
void ObserveForChurn(const guanxi::v1::ChurnConfig& config, guanxi::v1::CustomerState& state,
                     const guanxi::v1::Event& event);

// The reasons that hold for the customer at event time `at` (no later than the next
// event), in the fixed order of WarningReason's code list, with their points (the sum
// of their weights). Pure and const: what EvaluateChurn decides on.
struct ChurnAssessment {
  std::vector<guanxi::v1::WarningReason> reasons;
  double points = 0;
  guanxi::v1::WarningLevel level = guanxi::v1::WARNING_LEVEL_UNSPECIFIED;  // none
};
ChurnAssessment AssessChurn(const guanxi::v1::ChurnConfig& config,
                            const guanxi::v1::CustomerState& state,
                            const guanxi::v1::ModelRecord* model,
                            const google::protobuf::Timestamp& at);

// Evaluates the rules for the customer and advances its warning episode. Returns a
// notice when the episode opens (RAISED), its level rises above every level notified in
// it (ESCALATED) or the customer has recovered (RESOLVED); nullopt otherwise (no
// episode, or the same episode at the same or a lower level). Call after every event or
// tick applied to the customer, once state.overall_score, stage, p_alive,
// expected_purchases_90d and classes are current; also when event time reaches
// NextChurnDeadline. It also records the score's daily high (score_drop) and the
// evaluation time in `state`, so every evaluation belongs in the replayed history.
std::optional<guanxi::v1::ChurnWarning> EvaluateChurn(const guanxi::v1::ChurnConfig& config,
                                                      guanxi::v1::CustomerState& state,
                                                      const ChurnContext& context);

// The earliest event time after the state's clock (the later of state.as_of and the last
// evaluation) at which the passing of time alone changes which reasons hold, or makes
// the open episode's resolution due; nullopt when time alone changes nothing. Until then,
// evaluating without an event (with the state's figures unchanged) gives no notice. The
// figures other projections keep current (overall score, p_alive) are taken as they are:
// their own ticks bring their changes in.
std::optional<google::protobuf::Timestamp> NextChurnDeadline(
    const guanxi::v1::ChurnConfig& config, const guanxi::v1::CustomerState& state);

// The customer's usual gap between purchase days (see ChurnConfig.inactivity_multiple).
double PurchaseRhythmDays(const guanxi::v1::ChurnConfig& config,
                          const guanxi::v1::CustomerState& state);

// The weight of evidence of a decline at `at` (no earlier than its last change): the
// stored sum moved by its drift since, never below 0.
double DeclineEvidenceAt(const guanxi::v1::CustomerState& state,
                         const google::protobuf::Timestamp& at);

}  // namespace guanxi::projections
