#include "projections/projection.h"

#include <utility>

#include "projections/classes.h"

namespace guanxi::projections {
namespace {

void Take(std::vector<guanxi::v1::RelationshipChange>&& changes, Derived& derived) {
  for (auto& change : changes) derived.changes.push_back(std::move(change));
}

}  // namespace

CustomerProjection::CustomerProjection(const guanxi::v1::EngineConfig& config)
    : relationship_(config.scoring(), config.lifecycle()),
      classification_(config.classification()) {}

Derived CustomerProjection::OnEvent(guanxi::v1::CustomerState& state,
                                    const guanxi::v1::Event& event, uint64_t position,
                                    const Context& context) const {
  Derived derived;
  Take(ApplyEvent(relationship_, state, event, position).changes, derived);
  Take(Classify(classification_, context.model, state, event.occurred_at(), position), derived);
  return derived;
}

Derived CustomerProjection::OnTime(guanxi::v1::CustomerState& state,
                                   const google::protobuf::Timestamp& now, uint64_t position,
                                   const Context& context) const {
  Derived derived;
  Take(AdvanceTime(relationship_, state, now, position).changes, derived);
  Take(Classify(classification_, context.model, state, now, position), derived);
  return derived;
}

Derived CustomerProjection::OnModel(guanxi::v1::CustomerState& state,
                                    const google::protobuf::Timestamp& now, uint64_t position,
                                    const Context& context) const {
  Derived derived;
  Take(Classify(classification_, context.model, state, now, position), derived);
  return derived;
}

std::optional<int64_t> CustomerProjection::NextDeadline(
    const guanxi::v1::CustomerState& state) const {
  const auto inactivity = NextInactivityDeadline(relationship_, state);
  if (!inactivity) return std::nullopt;
  return inactivity->seconds();
}

}  // namespace guanxi::projections
