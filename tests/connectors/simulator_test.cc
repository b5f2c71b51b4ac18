#include "connectors/simulator.h"

#include <map>
#include <set>
#include <string>

#include "engine/ingest/decode.h"
#include "gtest/gtest.h"

namespace guanxi::connectors {
namespace {

std::vector<std::string> Generate(const SimulatorOptions& options) {
  Simulator sim(options);
  std::vector<std::string> out;
  sim.Run([&](const v1::Event& e) { out.push_back(e.SerializeAsString()); });
  return out;
}

TEST(SimulatorTest, SameSeedSameBytesOtherSeedOtherStream) {
  const SimulatorOptions options{.customers = 60, .days = 120, .seed = 7};
  EXPECT_EQ(Generate(options), Generate(options));
  SimulatorOptions other = options;
  other.seed = 8;
  EXPECT_NE(Generate(options), Generate(other));
}

TEST(SimulatorTest, StreamIsValidOrderedUniqueAndCoversEveryEventType) {
  Simulator sim(SimulatorOptions{.customers = 400, .days = 365, .seed = 3});
  std::set<int> payloads;
  std::set<std::string> ids;
  int64_t last = 0, count = 0;
  sim.Run([&](const v1::Event& e) {
    ++count;
    EXPECT_FALSE(engine::ValidateEvent(e, {}).has_value()) << e.DebugString();
    EXPECT_GE(e.occurred_at().seconds(), last) << e.event_id();
    last = e.occurred_at().seconds();
    EXPECT_TRUE(ids.insert(e.event_id()).second) << e.event_id();
    payloads.insert(e.payload_case());
  });
  EXPECT_GT(count, 10000);
  const auto* oneof = v1::Event::descriptor()->FindOneofByName("payload");
  for (int i = 0; i < oneof->field_count(); ++i) {
    // An erasure is an operator's request (`guanxi erase`), not something a source
    // reports about a customer: the simulator sends none.
    if (oneof->field(i)->number() == v1::Event::kErasure) continue;
    EXPECT_TRUE(payloads.count(oneof->field(i)->number()))
        << "never generated: " << oneof->field(i)->name();
  }
}

TEST(SimulatorTest, PlantedChurnersStopBuyingAndDegradeFirst) {
  Simulator sim(SimulatorOptions{.customers = 500, .days = 365, .seed = 11});
  std::vector<v1::Event> events;
  sim.Run([&](const v1::Event& e) { events.push_back(e); });
  std::map<std::string, GroundTruth> truth;
  int churners = 0, eligible = 0;
  for (const GroundTruth& t : sim.truth()) {
    truth[t.customer_id] = t;
    if (t.persona != Persona::kProspect) ++eligible;
    if (t.churns) {
      ++churners;
      EXPECT_LT(t.degrade_from, t.churn_at);
    }
  }
  // About 15% of the customers who buy.
  EXPECT_NEAR(static_cast<double>(churners) / eligible, 0.15, 0.05);
  for (const v1::Event& e : events) {
    if (!e.has_order()) continue;
    const GroundTruth& t = truth[e.customer_id()];
    if (t.churns) {
      EXPECT_LT(e.occurred_at().seconds(), t.churn_at) << e.event_id();
    }
  }
}

TEST(SimulatorTest, ShortWindowsStayInsideTheWindow) {
  for (int32_t days : {1, 2, 5, 29, 60}) {
    const SimulatorOptions options{.customers = 200, .days = days, .seed = 5, .churn_share = 0.5};
    Simulator sim(options);
    const int64_t end = options.start_unix_seconds + int64_t{days} * 86400;
    sim.Run([&](const v1::Event& e) {
      EXPECT_FALSE(engine::ValidateEvent(e, {}).has_value()) << days << ": " << e.DebugString();
      EXPECT_GE(e.occurred_at().seconds(), options.start_unix_seconds);
      EXPECT_LT(e.occurred_at().seconds(), end) << days << ": " << e.event_id();
      if (e.has_contract() && e.contract().has_renewal_due_at()) {
        EXPECT_LT(e.contract().renewal_due_at().seconds(), end) << days;
        EXPECT_GE(e.contract().renewal_due_at().seconds(), options.start_unix_seconds) << days;
      }
    });
    for (const GroundTruth& t : sim.truth()) {
      if (!t.churns) continue;
      EXPECT_LT(t.degrade_from, t.churn_at) << days;
      EXPECT_LT(t.churn_at, end) << days;
    }
  }
}

TEST(SimulatorTest, GroundTruthLineIsJson) {
  GroundTruth t{.customer_id = "sim-000001",
                .persona = Persona::kKeyAccount,
                .churns = true,
                .degrade_from = 1735689600,
                .churn_at = 1735689600 + 86400,
                .rates = {}};
  EXPECT_EQ(GroundTruthJsonLine(t),
            "{\"customerId\":\"sim-000001\",\"persona\":\"key_account\",\"churns\":true,"
            "\"degradeFrom\":\"2025-01-01T00:00:00Z\",\"churnAt\":\"2025-01-02T00:00:00Z\"}");
}

}  // namespace
}  // namespace guanxi::connectors
