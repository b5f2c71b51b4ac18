// CustomerProjection: the order of the parts, and fact ids that name their cause.
#include "projections/projection.h"

#include "engine/config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace guanxi::projections {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Ids(const Derived& d) {
  std::vector<std::string> ids;
  for (const auto& c : d.changes) ids.push_back(c.change_id());
  return ids;
}

TEST(CustomerProjectionTest, FactIdsNameTheEventOrTheInstantThatCausedThem) {
  const CustomerProjection projection(guanxi::engine::DefaultEngineConfig());
  guanxi::v1::CustomerState state;
  guanxi::v1::Event order;
  order.set_event_id("erp-order-17");
  order.set_customer_id("C-9");
  order.mutable_occurred_at()->set_seconds(1'700'000'000);
  order.mutable_order()->set_order_id("17");
  const Derived first = projection.OnEvent(state, order, 42, {});
  // The relationship part first, then the classes that need no population model.
  EXPECT_THAT(Ids(first), ElementsAre("C-9/event:erp-order-17/stage",
                                      "C-9/event:erp-order-17/class/loyalty_tier",
                                      "C-9/event:erp-order-17/class/intent_class",
                                      "C-9/event:erp-order-17/class/relationship_kind"));
  EXPECT_EQ(first.changes[0].position(), 42u);

  // The inactivity deadline: 90 days without interaction in deepening.
  const auto deadline = projection.NextDeadline(state);
  ASSERT_TRUE(deadline.has_value());
  EXPECT_EQ(*deadline, 1'700'000'000 + 90 * 86400);
  google::protobuf::Timestamp then;
  then.set_seconds(*deadline);
  const Derived quiet = projection.OnTime(state, then, 99, {});
  ASSERT_FALSE(quiet.changes.empty());
  EXPECT_EQ(quiet.changes.back().change_id(), "C-9/time:1707776000/stage");
  EXPECT_EQ(quiet.changes.back().stage().to(), guanxi::v1::LIFECYCLE_STAGE_AT_RISK);
  // Re-armed strictly later: at_risk -> lost after 180 quiet days.
  EXPECT_EQ(projection.NextDeadline(state), 1'700'000'000 + 180 * 86400);
}

// One story: a churn warning at level warning or above puts a buying customer at risk,
// in the same application, the cause naming the warning; a watch leaves the stage.
TEST(CustomerProjectionTest, AWarningAtLevelWarningPutsABuyingCustomerAtRisk) {
  guanxi::v1::EngineConfig config = guanxi::engine::DefaultEngineConfig();
  // One competitor signal leaning away: 6 points (a watch); two: severe, 12 (critical).
  config.mutable_churn()->mutable_weights()->set_competitor_signal(6);
  const CustomerProjection projection(config);
  guanxi::v1::CustomerState state;
  auto event = [](const std::string& id, int64_t day) {
    guanxi::v1::Event e;
    e.set_event_id(id);
    e.set_customer_id("C-9");
    e.mutable_occurred_at()->set_seconds(1'700'000'000 + day * 86400);
    return e;
  };
  guanxi::v1::Event order = event("o1", 0);
  order.mutable_order()->set_order_id("o1");
  projection.OnEvent(state, order, 1, {});
  ASSERT_EQ(state.stage(), guanxi::v1::LIFECYCLE_STAGE_DEEPENING);

  guanxi::v1::Event signal = event("s1", 10);
  signal.mutable_competitor_signal()->set_competitor("Acme");
  signal.mutable_competitor_signal()->set_lean(-0.8);
  const Derived watch = projection.OnEvent(state, signal, 2, {});
  ASSERT_EQ(watch.warnings.size(), 1u);
  EXPECT_EQ(watch.warnings[0].level(), guanxi::v1::WARNING_LEVEL_WATCH);
  EXPECT_EQ(state.stage(), guanxi::v1::LIFECYCLE_STAGE_DEEPENING);  // shown, not moved

  signal.set_event_id("s2");
  signal.mutable_occurred_at()->set_seconds(1'700'000'000 + 12 * 86400);
  const Derived escalated = projection.OnEvent(state, signal, 3, {});
  ASSERT_EQ(escalated.warnings.size(), 1u);
  const auto& warning = escalated.warnings[0];
  EXPECT_EQ(warning.notice(), guanxi::v1::WARNING_NOTICE_ESCALATED);
  EXPECT_EQ(warning.level(), guanxi::v1::WARNING_LEVEL_CRITICAL);
  EXPECT_EQ(state.stage(), guanxi::v1::LIFECYCLE_STAGE_AT_RISK);
  EXPECT_EQ(state.stage_since().seconds(), 1'700'000'000 + 12 * 86400);
  EXPECT_EQ(warning.stage(), guanxi::v1::LIFECYCLE_STAGE_AT_RISK);  // the notice tells it
  // One stage fact for the application, its cause naming the warning.
  int stage_facts = 0;
  for (const auto& c : escalated.changes) {
    if (!c.has_stage()) continue;
    ++stage_facts;
    EXPECT_EQ(c.change_id(), "C-9/event:s2/stage");
    EXPECT_EQ(c.stage().from(), guanxi::v1::LIFECYCLE_STAGE_DEEPENING);
    EXPECT_EQ(c.stage().to(), guanxi::v1::LIFECYCLE_STAGE_AT_RISK);
    // Every reason of the notice: two signals leaning away are evidence of a decline too.
    EXPECT_EQ(c.stage().cause(),
              "churn warning escalated to level critical: competitor_signal, decline_evidence "
              "(C-9/event:s1)");
  }
  EXPECT_EQ(stage_facts, 1);
}

}  // namespace
}  // namespace guanxi::projections
