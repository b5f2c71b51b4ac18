#include "projections/projection.h"

#include <utility>

namespace guanxi::projections {
namespace {

void Take(Applied&& applied, Derived& derived) {
  for (auto& change : applied.changes) derived.changes.push_back(std::move(change));
}

}  // namespace

CustomerProjection::CustomerProjection(const guanxi::v1::EngineConfig& config)
    : relationship_(config.scoring(), config.lifecycle()) {}

Derived CustomerProjection::OnEvent(guanxi::v1::CustomerState& state,
                                    const guanxi::v1::Event& event, uint64_t position,
                                    const Context& /*context*/) const {
  Derived derived;
  Take(ApplyEvent(relationship_, state, event, position), derived);
  return derived;
}

Derived CustomerProjection::OnTime(guanxi::v1::CustomerState& state,
                                   const google::protobuf::Timestamp& now, uint64_t position,
                                   const Context& /*context*/) const {
  Derived derived;
  Take(AdvanceTime(relationship_, state, now, position), derived);
  return derived;
}

Derived CustomerProjection::OnModel(guanxi::v1::CustomerState& /*state*/,
                                    const google::protobuf::Timestamp& /*now*/,
                                    uint64_t /*position*/, const Context& /*context*/) const {
  return {};
}

std::optional<int64_t> CustomerProjection::NextDeadline(
    const guanxi::v1::CustomerState& state) const {
  const auto inactivity = NextInactivityDeadline(relationship_, state);
  if (!inactivity) return std::nullopt;
  return inactivity->seconds();
}

}  // namespace guanxi::projections
