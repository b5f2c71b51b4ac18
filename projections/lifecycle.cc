#include "projections/lifecycle.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "projections/readings.h"
#include "projections/relationship.h"

namespace guanxi::projections {
namespace {

using google::protobuf::Timestamp;
using guanxi::v1::ChurnWarning;
using guanxi::v1::CustomerState;
using guanxi::v1::Event;
using guanxi::v1::LifecycleStage;

// One phase of an application's run. The time phase (event == nullptr) applies what the
// quiet time implies, exactly as a timer would; the event phase applies what the event
// implies. The warning rules (at risk while an episode at level warning or above is
// open) hold in both.
struct Phase {
  const Event* event;  // nullptr in the time phase
  double quiet_days;   // since the last interaction (0 in the event phase)
};

// What the whole run knows and remembers across its phases.
struct RunContext {
  const StageInput& input;
  bool event_used = false;            // the event has already triggered a move
  bool entered_winning_back = false;  // this application entered winning_back
};

bool IsPurchase(const Event& event) {
  if (event.has_order()) return event.order().kind() != guanxi::v1::ORDER_KIND_CANCELLATION;
  if (event.has_contract()) {
    const auto m = event.contract().milestone();
    return m == guanxi::v1::CONTRACT_MILESTONE_KIND_SIGNED ||
           m == guanxi::v1::CONTRACT_MILESTONE_KIND_RENEWED;
  }
  return event.has_opportunity() &&
         event.opportunity().stage() == guanxi::v1::OPPORTUNITY_STAGE_WON;
}

std::string PurchaseCause(const Event& event) {
  if (event.has_order()) return absl::StrCat("order ", event.order().order_id());
  if (event.has_contract()) {
    return absl::StrCat("contract ", event.contract().contract_id(),
                        event.contract().milestone() == guanxi::v1::CONTRACT_MILESTONE_KIND_SIGNED
                            ? " signed"
                            : " renewed");
  }
  return absl::StrCat("opportunity ", event.opportunity().opportunity_id(), " won");
}

// The payload's field name ("visit", "order", ...), for causes.
std::string KindOf(const Event& event) {
  const auto* oneof = Event::descriptor()->FindOneofByName("payload");
  const auto* field = Event::GetReflection()->GetOneofFieldDescriptor(event, oneof);
  return field == nullptr ? "event" : field->name();
}

bool IsTermination(const Event& e) {
  return e.has_contract() &&
         e.contract().milestone() == guanxi::v1::CONTRACT_MILESTONE_KIND_TERMINATED;
}

std::string TerminationCause(const Event& e) {
  return absl::StrCat("contract ", e.contract().contract_id(),
                      " terminated, no active contract left");
}

std::string Score1(double x) { return absl::StrFormat("%.1f", x); }

std::string QuietCause(double quiet_days, int threshold) {
  return absl::StrCat("no interaction for ", static_cast<int64_t>(std::floor(quiet_days)),
                      " days (threshold ", threshold, ")");
}

// Whether the customer has an open churn-warning episode at level warning or above
// (an episode's level is the highest notified in it, so it never falls back below).
bool Warned(const CustomerState& state) {
  return !state.churn_episode().warning_id().empty() &&
         state.churn_episode().level() >= guanxi::v1::WARNING_LEVEL_WARNING;
}

std::string LevelName(int level) {
  return absl::AsciiStrToLower(absl::StripPrefix(
      guanxi::v1::WarningLevel_Name(static_cast<guanxi::v1::WarningLevel>(level)),
      "WARNING_LEVEL_"));
}

bool Raises(const ChurnWarning* notice) {
  return notice != nullptr && (notice->notice() == guanxi::v1::WARNING_NOTICE_RAISED ||
                               notice->notice() == guanxi::v1::WARNING_NOTICE_ESCALATED);
}

// "churn warning C-9/event:e17 raised at level warning: silence, churn_risk", or, when
// this application did not move the episode, "churn warning C-9/event:e17 open at level
// critical".
std::string WarnedCause(const CustomerState& state, const ChurnWarning* notice) {
  const auto& episode = state.churn_episode();
  if (!Raises(notice)) {
    return absl::StrCat("churn warning ", episode.warning_id(), " open at level ",
                        LevelName(episode.level()));
  }
  std::vector<std::string> codes;
  for (const auto& reason : notice->reasons()) codes.push_back(reason.code());
  return absl::StrCat(
      "churn warning ", notice->warning_id(),
      notice->notice() == guanxi::v1::WARNING_NOTICE_RAISED ? " raised" : " escalated",
      " to level ", LevelName(notice->level()), ": ", absl::StrJoin(codes, ", "));
}

std::string RecoveredCause(const ChurnWarning* notice) {
  if (notice != nullptr && notice->notice() == guanxi::v1::WARNING_NOTICE_RESOLVED) {
    return absl::StrCat("churn warning ", notice->warning_id(), " resolved");
  }
  return "no churn warning at level warning or above open";
}

struct Move {
  LifecycleStage to;
  std::string cause;
  bool uses_event;  // triggered by the event (rather than by time, the score or a warning)
};

// The first transition the rules allow from the current stage, if any. The rules, in
// priority order per stage, are those of docs/scoring.md ("The rules").
std::optional<Move> NextStage(const guanxi::v1::LifecycleConfig& lc, const CustomerState& state,
                              const Phase& phase, const RunContext& run) {
  using namespace guanxi::v1;  // NOLINT: the stage names read better unqualified here
  // The event, while it may still trigger a move.
  const Event* e = run.event_used ? nullptr : phase.event;
  const double score = state.overall_score();
  const bool quiet_lost = phase.quiet_days >= lc.lost_inactive_days();
  const bool last_contract_ended =
      e != nullptr && IsTermination(*e) && state.active_contracts_size() == 0;
  const bool warned = Warned(state);
  // A warning this application raised because of its event counts as the event's move.
  auto to_at_risk = [&] {
    return Move{LIFECYCLE_STAGE_AT_RISK, WarnedCause(state, run.input.notice),
                run.input.event != nullptr && Raises(run.input.notice)};
  };
  switch (state.stage()) {
    case LIFECYCLE_STAGE_UNSPECIFIED:
      if (phase.event == nullptr) return std::nullopt;
      return Move{LIFECYCLE_STAGE_IDENTIFIED, absl::StrCat("first event: ", KindOf(*phase.event)),
                  false};
    case LIFECYCLE_STAGE_IDENTIFIED:
    case LIFECYCLE_STAGE_ENGAGING:
      if (quiet_lost) {
        return Move{LIFECYCLE_STAGE_LOST, QuietCause(phase.quiet_days, lc.lost_inactive_days()),
                    false};
      }
      if (e != nullptr && IsPurchase(*e)) {
        return Move{LIFECYCLE_STAGE_DEEPENING, absl::StrCat("first purchase: ", PurchaseCause(*e)),
                    true};
      }
      if (state.stage() == LIFECYCLE_STAGE_IDENTIFIED && e != nullptr && IsInteraction(*e)) {
        return Move{LIFECYCLE_STAGE_ENGAGING, absl::StrCat("first interaction: ", KindOf(*e)),
                    true};
      }
      return std::nullopt;
    case LIFECYCLE_STAGE_DEEPENING:
    case LIFECYCLE_STAGE_MAINTAINING:
      if (warned) return to_at_risk();
      if (state.stage() == LIFECYCLE_STAGE_DEEPENING) {
        if (e != nullptr && e->has_contract() && IsPurchase(*e)) {
          return Move{LIFECYCLE_STAGE_MAINTAINING, PurchaseCause(*e), true};
        }
        if (state.orders() >= lc.maintaining_min_orders() && score >= lc.maintaining_score()) {
          return Move{LIFECYCLE_STAGE_MAINTAINING,
                      absl::StrCat(state.orders(), " orders (minimum ", lc.maintaining_min_orders(),
                                   ") and score ", Score1(score), " at or above ",
                                   Score1(lc.maintaining_score())),
                      false};
        }
      }
      return std::nullopt;
    case LIFECYCLE_STAGE_AT_RISK:
    case LIFECYCLE_STAGE_WINNING_BACK:
      if (last_contract_ended) return Move{LIFECYCLE_STAGE_LOST, TerminationCause(*e), true};
      if (quiet_lost) {
        return Move{LIFECYCLE_STAGE_LOST, QuietCause(phase.quiet_days, lc.lost_inactive_days()),
                    false};
      }
      if (state.stage() == LIFECYCLE_STAGE_AT_RISK) {
        if (warned) return std::nullopt;
        return Move{LIFECYCLE_STAGE_WINNING_BACK, RecoveredCause(run.input.notice), false};
      }
      if (warned) return to_at_risk();
      if (phase.event == nullptr || run.entered_winning_back) return std::nullopt;
      if (score >= lc.recovered_score()) {
        return Move{LIFECYCLE_STAGE_MAINTAINING,
                    absl::StrCat("score ", Score1(score), " recovered to ",
                                 Score1(lc.recovered_score()), " or more"),
                    false};
      }
      if (e != nullptr && IsPurchase(*e) && score >= lc.at_risk_score()) {
        return Move{LIFECYCLE_STAGE_MAINTAINING,
                    absl::StrCat(PurchaseCause(*e), " with score ", Score1(score), " at or above ",
                                 Score1(lc.at_risk_score())),
                    true};
      }
      return std::nullopt;
    case LIFECYCLE_STAGE_LOST:
      // Back in touch by an interaction that did not lower the score.
      if (e != nullptr && IsInteraction(*e) && run.input.score_not_lowered) {
        return Move{LIFECYCLE_STAGE_WINNING_BACK, absl::StrCat("back in contact: ", KindOf(*e)),
                    true};
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

// One application's run of the rules: the time phase, then (with an event) the event
// phase, each to a fixed point; no stage is entered twice. The run's one fact joins the
// causes of its moves in order.
class StageRun {
 public:
  StageRun(const guanxi::v1::LifecycleConfig& config, CustomerState& state,
           const StageInput& input)
      : config_(config), state_(state), from_(state.stage()), run_{input} {}

  void Run(const Phase& phase) {
    while (auto move = NextStage(config_, state_, phase, run_)) {
      if (std::find(entered_.begin(), entered_.end(), move->to) != entered_.end()) break;
      entered_.push_back(move->to);
      causes_.push_back(move->cause);
      state_.set_stage(move->to);
      run_.event_used = run_.event_used || move->uses_event;
      if (move->to == guanxi::v1::LIFECYCLE_STAGE_WINNING_BACK) run_.entered_winning_back = true;
    }
  }

  // A run that ends where it began (at risk, lost on the quiet time, back in contact,
  // and at risk again while the warning stays open) records nothing.
  std::optional<guanxi::v1::RelationshipChange> Record(const Timestamp& now, uint64_t position) {
    if (causes_.empty() || state_.stage() == from_) return std::nullopt;
    *state_.mutable_stage_since() = now;
    auto change = NewChange(state_, now, position, "stage");
    change.mutable_stage()->set_from(from_);
    change.mutable_stage()->set_to(state_.stage());
    change.mutable_stage()->set_cause(absl::StrJoin(causes_, "; then "));
    return change;
  }

 private:
  const guanxi::v1::LifecycleConfig& config_;
  CustomerState& state_;
  const LifecycleStage from_;
  RunContext run_;
  std::vector<LifecycleStage> entered_;
  std::vector<std::string> causes_;
};

}  // namespace

std::optional<guanxi::v1::RelationshipChange> AdvanceStage(
    const guanxi::v1::LifecycleConfig& config, CustomerState& state, const StageInput& input,
    const Timestamp& now, uint64_t position) {
  if (state.dimensions_size() == 0) return std::nullopt;
  StageRun run(config, state, input);
  run.Run({nullptr, input.quiet_days});
  if (input.event != nullptr) run.Run({input.event, 0});
  return run.Record(now, position);
}

double QuietDays(const CustomerState& state, const Timestamp& now) {
  if (state.dimensions_size() == 0) return 0;
  const Timestamp& since =
      IsSet(state.last_interaction_at()) ? state.last_interaction_at() : state.first_event_at();
  const double days = (static_cast<double>(now.seconds() - since.seconds()) +
                       static_cast<double>(now.nanos() - since.nanos()) * 1e-9) /
                      86400.0;
  return std::max(0.0, days);
}

std::optional<Timestamp> NextInactivityDeadline(const guanxi::v1::LifecycleConfig& config,
                                                const CustomerState& state) {
  if (state.dimensions_size() == 0) return std::nullopt;
  switch (state.stage()) {
    case guanxi::v1::LIFECYCLE_STAGE_IDENTIFIED:
    case guanxi::v1::LIFECYCLE_STAGE_ENGAGING:
    case guanxi::v1::LIFECYCLE_STAGE_AT_RISK:
    case guanxi::v1::LIFECYCLE_STAGE_WINNING_BACK:
      break;
    default:
      return std::nullopt;
  }
  const Timestamp& since =
      IsSet(state.last_interaction_at()) ? state.last_interaction_at() : state.first_event_at();
  // Whole seconds, rounded up so that the quiet time has reached the threshold.
  const int64_t deadline = since.seconds() + int64_t{config.lost_inactive_days()} * 86400 +
                           (since.nanos() > 0 ? 1 : 0);
  if (state.as_of().seconds() >= deadline) return std::nullopt;  // due: not a future move
  Timestamp t;
  t.set_seconds(deadline);
  return t;
}

}  // namespace guanxi::projections
