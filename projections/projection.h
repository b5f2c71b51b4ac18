// One customer's whole projection, applied in a fixed order: the relationship score
// (relationship.h), the churn rules' evidence (churn/rules.h), the classes (classes.h),
// the churn risk (churn/risk.h), the churn rules' evaluation and warning episode, then
// the lifecycle stage, which follows the episode (lifecycle.h). This is the one entry
// point the engine's projection workers, replay and the audit tools call, so they cannot
// disagree about what a record does.
//
//   CustomerProjection projection(engine_config);   // validated
//   Derived d = projection.OnEvent(state, event, position, {.model = model});
//   std::optional<int64_t> timer = projection.NextDeadline(state);
//
// Pure and deterministic (see relationship.h).
//
// Fact ids name the cause, not the log position: "<customer_id>/<cause>/<kind>[/<field>]"
// with cause "event:<event_id>" (the event applied), "time:<unix seconds>" (a timer or
// tick: event time reached that instant) or "model:<unix seconds>" (the population
// model fitted as of then came into force). The fact's `position` still says where in
// the log it happened. So a store rebuilt from the topic, whose engine records (ticks,
// models) sit at other positions, derives the same event- and timer-caused facts under
// the same ids, and consumers can deduplicate what it publishes again.
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
#include "projections/lifecycle.h"
#include "projections/relationship.h"

namespace guanxi::projections {

struct Context {
  // The population model in force (the last model record of the partition's log), or
  // null before the first one.
  const guanxi::v1::ModelRecord* model = nullptr;
  int32_t partition = 0;
};

// What one application derived, in the order it happened.
struct Derived {
  std::vector<guanxi::v1::RelationshipChange> changes;
  std::vector<guanxi::v1::ChurnWarning> warnings;  // at most one notice
};

class CustomerProjection {
 public:
  // `config` must have passed guanxi::engine::ValidateEngineConfig.
  explicit CustomerProjection(const guanxi::v1::EngineConfig& config);

  // The event at log `position`, for its customer (`state` empty for a new customer).
  Derived OnEvent(guanxi::v1::CustomerState& state, const guanxi::v1::Event& event,
                  uint64_t position, const Context& context) const;
  // Event time reached `now` (a timer or a tick at log `position`).
  Derived OnTime(guanxi::v1::CustomerState& state, const google::protobuf::Timestamp& now,
                 uint64_t position, const Context& context) const;
  // A new population model (the model record at `position`) came into force at `now`.
  Derived OnModel(guanxi::v1::CustomerState& state, const google::protobuf::Timestamp& now,
                  uint64_t position, const Context& context) const;

  // The event time (Unix seconds) at which time alone next changes something for this
  // customer, strictly after state.as_of(); nullopt if nothing is pending.
  std::optional<int64_t> NextDeadline(const guanxi::v1::CustomerState& state) const;

 private:
  // The churn rules' evaluation at `now`, after everything else is current, then the
  // lifecycle stage, which follows the warning episode (lifecycle.h).
  void Conclude(guanxi::v1::CustomerState& state, StageInput input,
                const google::protobuf::Timestamp& now, uint64_t position, const Context& context,
                const std::string& cause, Derived& derived) const;

  ProjectionConfig relationship_;
  guanxi::v1::LifecycleConfig lifecycle_;
  guanxi::v1::ClassificationConfig classification_;
  guanxi::v1::ChurnConfig churn_;
};

}  // namespace guanxi::projections
