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

}  // namespace
}  // namespace guanxi::projections
