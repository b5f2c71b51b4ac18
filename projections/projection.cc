#include "projections/projection.h"

#include <charconv>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "projections/churn/risk.h"
#include "projections/churn/rules.h"
#include "projections/classes.h"
#include "projections/lifecycle.h"

namespace guanxi::projections {
namespace {

// Moves `change` into `derived`, naming it by its cause instead of the log position the
// pure projections put in its id ("<customer>/<position>/<kind>" ->
// "<customer>/<cause>/<kind>"; see CustomerProjection).
void Take(guanxi::v1::RelationshipChange&& change, const std::string& cause, Derived& derived) {
  // The prefix "<customer>/<position>/" compared in place, not built.
  const std::string_view id = change.change_id();
  const std::string_view customer = change.customer_id();
  char digits[20];
  const std::string_view position(
      digits, std::to_chars(digits, digits + sizeof(digits), change.position()).ptr - digits);
  const size_t prefix = customer.size() + position.size() + 2;
  if (id.size() >= prefix && id.substr(0, customer.size()) == customer &&
      id[customer.size()] == '/' && id.substr(customer.size() + 1, position.size()) == position &&
      id[prefix - 1] == '/') {
    std::string renamed;
    renamed.reserve(customer.size() + cause.size() + id.size() - prefix + 2);
    renamed.append(customer).append("/").append(cause).append(id.substr(prefix - 1));
    change.set_change_id(std::move(renamed));
  }
  derived.changes.push_back(std::move(change));
}

void Take(std::vector<guanxi::v1::RelationshipChange>&& changes, const std::string& cause,
          Derived& derived) {
  for (auto& change : changes) Take(std::move(change), cause, derived);
}

}  // namespace

CustomerProjection::CustomerProjection(const guanxi::v1::EngineConfig& config)
    : relationship_(config.scoring()),
      lifecycle_(config.lifecycle()),
      classification_(config.classification()),
      churn_(config.churn()) {}

void CustomerProjection::Conclude(guanxi::v1::CustomerState& state, StageInput input,
                                  const google::protobuf::Timestamp& now, uint64_t position,
                                  const Context& context, const std::string& cause,
                                  Derived& derived) const {
  if (state.dimensions_size() == 0) return;  // no event yet
  std::optional<guanxi::v1::ChurnWarning> warning = EvaluateChurn(churn_, state,
                                                                  {.model = context.model,
                                                                   .now = now,
                                                                   .position = position,
                                                                   .partition = context.partition,
                                                                   .cause = cause});
  input.notice = warning ? &*warning : nullptr;
  if (auto change = AdvanceStage(lifecycle_, state, input, now, position)) {
    Take(std::move(*change), cause, derived);
  }
  if (!warning) return;
  warning->set_stage(state.stage());  // the notice tells the stage it leaves the customer in
  derived.warnings.push_back(std::move(*warning));
}

Derived CustomerProjection::OnEvent(guanxi::v1::CustomerState& state,
                                    const guanxi::v1::Event& event, uint64_t position,
                                    const Context& context) const {
  Derived derived;
  const std::string cause = absl::StrCat("event:", event.event_id());
  const double quiet_days = QuietDays(state, event.occurred_at());  // before the event counts
  Applied applied = ApplyEvent(relationship_, state, event, position);
  Take(std::move(applied.changes), cause, derived);
  ObserveForChurn(churn_, state, event);
  Take(Classify(classification_, context.model, state, event.occurred_at(), position), cause,
       derived);
  UpdateChurnRisk(churn_, context.model, state, event.occurred_at());
  Conclude(state,
           {.event = &event,
            .quiet_days = quiet_days,
            .score_not_lowered = applied.moved.to >= applied.moved.from},
           event.occurred_at(), position, context, cause, derived);
  return derived;
}

Derived CustomerProjection::OnTime(guanxi::v1::CustomerState& state,
                                   const google::protobuf::Timestamp& now, uint64_t position,
                                   const Context& context) const {
  Derived derived;
  const std::string cause = absl::StrCat("time:", now.seconds());
  Take(AdvanceTime(relationship_, state, now, position).changes, cause, derived);
  Take(Classify(classification_, context.model, state, now, position), cause, derived);
  UpdateChurnRisk(churn_, context.model, state, now);
  Conclude(state, {.quiet_days = QuietDays(state, now)}, now, position, context, cause, derived);
  return derived;
}

Derived CustomerProjection::OnModel(guanxi::v1::CustomerState& state,
                                    const google::protobuf::Timestamp& now, uint64_t position,
                                    const Context& context) const {
  Derived derived;
  const std::string cause = absl::StrCat("model:", now.seconds());
  Take(Classify(classification_, context.model, state, now, position), cause, derived);
  UpdateChurnRisk(churn_, context.model, state, now);
  SnapshotForRisk(churn_, state, now);
  Conclude(state, {}, now, position, context, cause, derived);  // no time passes
  return derived;
}

std::optional<int64_t> CustomerProjection::NextDeadline(
    const guanxi::v1::CustomerState& state) const {
  std::optional<int64_t> next;
  auto consider = [&](const std::optional<google::protobuf::Timestamp>& t) {
    if (!t) return;
    const int64_t seconds = t->seconds() + (t->nanos() > 0 ? 1 : 0);  // whole seconds, not early
    if (!next || seconds < *next) next = seconds;
  };
  consider(NextInactivityDeadline(lifecycle_, state));
  consider(NextChurnDeadline(churn_, state));
  return next;
}

}  // namespace guanxi::projections
