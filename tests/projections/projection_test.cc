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
  // The relationship score, the classes that need no population model, then the stage.
  EXPECT_THAT(Ids(first), ElementsAre("C-9/event:erp-order-17/class/loyalty_tier",
                                      "C-9/event:erp-order-17/class/intent_class",
                                      "C-9/event:erp-order-17/class/relationship_kind",
                                      "C-9/event:erp-order-17/stage"));
  EXPECT_EQ(first.changes[0].position(), 42u);

  // The next deadline: silence (6 usual gaps of the default 30 days) raises a watch,
  // which leaves the stage where it is.
  const auto deadline = projection.NextDeadline(state);
  ASSERT_TRUE(deadline.has_value());
  EXPECT_EQ(*deadline, 1'700'000'000 + 180 * 86400);
  google::protobuf::Timestamp then;
  then.set_seconds(*deadline);
  const Derived watch = projection.OnTime(state, then, 99, {});
  ASSERT_EQ(watch.warnings.size(), 1u);
  EXPECT_EQ(watch.warnings[0].warning_id(), "C-9/time:1715552000");
  EXPECT_EQ(watch.warnings[0].level(), guanxi::v1::WARNING_LEVEL_WATCH);
  EXPECT_EQ(watch.warnings[0].stage(), guanxi::v1::LIFECYCLE_STAGE_DEEPENING);
  EXPECT_EQ(state.stage(), guanxi::v1::LIFECYCLE_STAGE_DEEPENING);

  // Severe silence (9 gaps) escalates to critical: at risk, and lost in the same moment
  // (no interaction for 180 days or more), one fact named by the instant.
  const auto severe = projection.NextDeadline(state);
  ASSERT_TRUE(severe.has_value());
  EXPECT_EQ(*severe, 1'700'000'000 + 270 * 86400);
  then.set_seconds(*severe);
  const Derived critical = projection.OnTime(state, then, 100, {});
  ASSERT_FALSE(critical.changes.empty());
  const auto& stage = critical.changes.back();
  EXPECT_EQ(stage.change_id(), "C-9/time:1723328000/stage");
  EXPECT_EQ(stage.stage().from(), guanxi::v1::LIFECYCLE_STAGE_DEEPENING);
  EXPECT_EQ(stage.stage().to(), guanxi::v1::LIFECYCLE_STAGE_LOST);
  EXPECT_EQ(stage.stage().cause(),
            "churn warning C-9/time:1715552000 escalated to level critical: silence; then no "
            "interaction for 270 days (threshold 180)");
  ASSERT_EQ(critical.warnings.size(), 1u);
  EXPECT_EQ(critical.warnings[0].stage(), guanxi::v1::LIFECYCLE_STAGE_LOST);
}

}  // namespace
}  // namespace guanxi::projections
