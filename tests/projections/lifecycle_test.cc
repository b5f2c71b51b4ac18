// The lifecycle stage (docs/scoring.md sections 2 and 3), driven as the engine drives it:
// through CustomerProjection, so that the churn warnings it follows are the real ones.
#include "projections/lifecycle.h"

#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "connectors/simulator.h"
#include "engine/config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/projections/test_events.h"
#include "projections/projection.h"

namespace guanxi::projections {
namespace {

using guanxi::v1::CustomerState;
using guanxi::v1::EngineConfig;
using guanxi::v1::Event;
using guanxi::v1::LifecycleStage;

using namespace testing;  // NOLINT: the shared events (test_events.h) read better bare

Event Signed(double day, const std::string& id) {
  return Contract(day, id, guanxi::v1::CONTRACT_MILESTONE_KIND_SIGNED);
}
Event Terminated(double day, const std::string& id) {
  return Contract(day, id, guanxi::v1::CONTRACT_MILESTONE_KIND_TERMINATED);
}
Event Champion(double day, guanxi::v1::ContactChangeKind change) {
  return At(day, [change](Event& e) {
    auto* c = e.mutable_contact_change();
    c->set_contact_id("p1");
    c->set_name("Li Wei");
    c->set_change(change);
    c->set_champion(true);
  });
}
Event Complaint(double day, guanxi::v1::Severity severity) {
  return At(day, [day, severity](Event& e) {
    e.mutable_complaint()->set_complaint_id(absl::StrCat("q", day));
    e.mutable_complaint()->set_severity(severity);
  });
}

std::string StageName(LifecycleStage s) {
  return LifecycleStage_Name(s).substr(sizeof("LIFECYCLE_STAGE_") - 1);
}

// One customer, applied as the engine applies its records.
class Customer {
 public:
  explicit Customer(const EngineConfig& config = guanxi::engine::DefaultEngineConfig())
      : projection_(config) {}

  Derived Feed(const Event& e) { return projection_.OnEvent(state, e, ++position_, {}); }
  Derived Tick(double day) { return projection_.OnTime(state, Day(day), ++position_, {}); }

  CustomerState state;

 private:
  CustomerProjection projection_;
  uint64_t position_ = 0;
};

// "FROM -> TO: cause" of the application's stage fact, or "" without one.
std::string StageMove(const Derived& d) {
  for (const auto& c : d.changes) {
    if (!c.has_stage()) continue;
    return absl::StrCat(StageName(c.stage().from()), " -> ", StageName(c.stage().to()), ": ",
                        c.stage().cause());
  }
  return "";
}

// The maintaining customer most cases start from: a positive visit, an order, contract k1.
Customer Maintaining(const EngineConfig& config = guanxi::engine::DefaultEngineConfig()) {
  Customer c(config);
  c.Feed(Visit(0, guanxi::v1::OUTCOME_POSITIVE));
  c.Feed(Order(1, "o1"));
  c.Feed(Signed(2, "k1"));
  EXPECT_EQ(c.state.stage(), guanxi::v1::LIFECYCLE_STAGE_MAINTAINING);
  return c;
}

TEST(LifecycleTest, TheFirstStagesFollowTheEvents) {
  using namespace guanxi::v1;  // NOLINT
  {
    Customer c;
    EXPECT_EQ(StageMove(c.Feed(Profile(0))), "UNSPECIFIED -> IDENTIFIED: first event: profile");
    const Derived engaged = c.Feed(Visit(1, OUTCOME_NEUTRAL));
    EXPECT_EQ(StageMove(engaged), "IDENTIFIED -> ENGAGING: first interaction: visit");
    // The fact: named by its position, renamed by its cause; the state knows since when.
    EXPECT_EQ(engaged.changes.back().change_id(), "c1/event:e1/stage");
    EXPECT_EQ(c.state.stage_since().seconds(), Day(1).seconds());
    EXPECT_EQ(StageMove(c.Feed(Order(2, "o1"))), "ENGAGING -> DEEPENING: first purchase: order o1");
    EXPECT_EQ(StageMove(c.Feed(Signed(3, "k1"))), "DEEPENING -> MAINTAINING: contract k1 signed");
  }
  {
    Customer c;
    EXPECT_EQ(StageMove(c.Feed(Visit(0, OUTCOME_NEUTRAL))),
              "UNSPECIFIED -> ENGAGING: first event: visit; then first interaction: visit");
  }
  {
    Customer c;
    c.Feed(Profile(0));
    EXPECT_EQ(StageMove(c.Tick(200)),
              "IDENTIFIED -> LOST: no interaction for 200 days (threshold 180)");
  }
}

TEST(LifecycleTest, RepeatedOrdersWithAGoodScoreMaintain) {
  auto config = guanxi::engine::DefaultEngineConfig();
  config.mutable_lifecycle()->set_maintaining_score(52);
  Customer c(config);
  c.Feed(Order(0, "o1"));
  c.Feed(Order(1, "o2"));
  ASSERT_EQ(c.state.stage(), guanxi::v1::LIFECYCLE_STAGE_DEEPENING);  // 2 orders only
  EXPECT_THAT(StageMove(c.Feed(Order(2, "o3"))),
              ::testing::MatchesRegex("DEEPENING -> MAINTAINING: 3 orders [(]minimum 3[)] and "
                                      "score 5[0-9][.][0-9] at or above 52[.]0"));
}

TEST(LifecycleTest, AtRiskExactlyWhileAWarningIsOpenAndTheNoticeSaysSo) {
  Customer c = Maintaining();
  // The last contract terminated: contract_terminated (7 points) raises a warning, and
  // the same application puts the customer at risk.
  const Derived ended = c.Feed(Terminated(10, "k1"));
  EXPECT_EQ(StageMove(ended),
            "MAINTAINING -> AT_RISK: churn warning c1/event:e10 raised to level warning: "
            "contract_terminated");
  ASSERT_EQ(ended.warnings.size(), 1u);
  EXPECT_EQ(ended.warnings[0].stage(), guanxi::v1::LIFECYCLE_STAGE_AT_RISK);
  // Contact alone does not end it: the warning is still open.
  EXPECT_EQ(StageMove(c.Feed(Visit(20, guanxi::v1::OUTCOME_POSITIVE))), "");
  EXPECT_EQ(c.state.stage(), guanxi::v1::LIFECYCLE_STAGE_AT_RISK);
  // A new contract: no reason holds any more; 30 quiet days later the warning resolves
  // and the customer is being won back.
  c.Feed(Signed(25, "k2"));
  EXPECT_EQ(c.state.stage(), guanxi::v1::LIFECYCLE_STAGE_AT_RISK);
  const Derived resolved = c.Tick(55);
  ASSERT_EQ(resolved.warnings.size(), 1u);
  EXPECT_EQ(resolved.warnings[0].notice(), guanxi::v1::WARNING_NOTICE_RESOLVED);
  EXPECT_EQ(resolved.warnings[0].stage(), guanxi::v1::LIFECYCLE_STAGE_WINNING_BACK);
  EXPECT_EQ(StageMove(resolved), "AT_RISK -> WINNING_BACK: churn warning c1/event:e10 resolved");
  // Then back to maintaining by the score rules.
  EXPECT_THAT(StageMove(c.Feed(Visit(60, guanxi::v1::OUTCOME_POSITIVE))),
              ::testing::MatchesRegex(
                  "WINNING_BACK -> MAINTAINING: score [0-9.]+ recovered to 55[.]0 or more"));
}

TEST(LifecycleTest, AWatchIsShownWithoutMovingTheStage) {
  auto config = guanxi::engine::DefaultEngineConfig();
  config.mutable_churn()->mutable_weights()->set_champion_left(6);  // a watch alone
  Customer c = Maintaining(config);
  const Derived left = c.Feed(Champion(10, guanxi::v1::CONTACT_CHANGE_KIND_LEFT));
  ASSERT_EQ(left.warnings.size(), 1u);
  EXPECT_EQ(left.warnings[0].level(), guanxi::v1::WARNING_LEVEL_WATCH);
  EXPECT_EQ(left.warnings[0].stage(), guanxi::v1::LIFECYCLE_STAGE_MAINTAINING);
  EXPECT_EQ(StageMove(left), "");
  // Escalated to warning by one more point (an unanswered complaint): at risk.
  c.Feed(Complaint(11, guanxi::v1::SEVERITY_LOW));
  const Derived overdue = c.Tick(25);
  ASSERT_EQ(overdue.warnings.size(), 1u);
  EXPECT_EQ(overdue.warnings[0].notice(), guanxi::v1::WARNING_NOTICE_ESCALATED);
  EXPECT_EQ(StageMove(overdue),
            "MAINTAINING -> AT_RISK: churn warning c1/event:e10 escalated to level warning: "
            "unresolved_complaint, champion_left");
}

TEST(LifecycleTest, LowScoreIsAWarningReasonThatPutsAtRisk) {
  auto config = guanxi::engine::DefaultEngineConfig();
  config.mutable_churn()->set_low_score(49);
  Customer c(config);
  c.Feed(Order(0, "o1"));  // deepening, overall above 50
  const Derived down = c.Feed(Complaint(1, guanxi::v1::SEVERITY_CRITICAL));
  EXPECT_THAT(StageMove(down), ::testing::MatchesRegex(
                                   "DEEPENING -> AT_RISK: churn warning c1/event:e1 raised to "
                                   "level (warning|critical): .*low_score.*"));
}

TEST(LifecycleTest, AtRiskOrBeingWonBackIsLostOnSilenceOrTheLastContractEnded) {
  auto config = guanxi::engine::DefaultEngineConfig();
  config.mutable_lifecycle()->set_recovered_score(90);  // so that a purchase is what keeps
  {  // the last contract terminated while at risk: lost (a second contract, in between)
    Customer c = Maintaining(config);
    c.Feed(Terminated(10, "k1"));
    c.Feed(Signed(11, "k2"));
    ASSERT_EQ(c.state.stage(), guanxi::v1::LIFECYCLE_STAGE_AT_RISK);  // warning still open
    EXPECT_EQ(StageMove(c.Feed(Terminated(12, "k2"))),
              "AT_RISK -> LOST: contract k2 terminated, no active contract left");
  }
  {  // 180 quiet days at risk: lost; an order then wins back, and the warning still open
     // makes that at risk again at once (the run records nothing: at risk it stays)
    Customer c = Maintaining(config);
    c.Feed(Terminated(10, "k1"));
    EXPECT_EQ(StageMove(c.Tick(191)),
              "AT_RISK -> LOST: no interaction for 181 days (threshold 180)");
    const Derived again = c.Feed(Order(300, "o9"));
    EXPECT_EQ(StageMove(again),
              "LOST -> AT_RISK: back in contact: order; then churn warning c1/event:e10 open at "
              "level warning");
  }
}

TEST(LifecycleTest, AProspectWithAWarningKeepsItsStageUntilItBuys) {
  auto config = guanxi::engine::DefaultEngineConfig();
  config.mutable_churn()->set_low_score(49);
  Customer c(config);
  c.Feed(Visit(0, guanxi::v1::OUTCOME_NEUTRAL));
  const Derived complaint = c.Feed(Complaint(1, guanxi::v1::SEVERITY_CRITICAL));
  ASSERT_EQ(complaint.warnings.size(), 1u);
  EXPECT_GE(complaint.warnings[0].level(), guanxi::v1::WARNING_LEVEL_WARNING);
  EXPECT_EQ(c.state.stage(), guanxi::v1::LIFECYCLE_STAGE_ENGAGING);
  EXPECT_THAT(StageMove(c.Feed(Order(2, "o1"))),
              ::testing::MatchesRegex("ENGAGING -> AT_RISK: first purchase: order o1; then churn "
                                      "warning c1/event:e1 open at level (warning|critical)"));
}

// A state stored by a version before the stage followed the warnings (2026-12-07) moves
// at its next application: at risk without a warning at that level -> winning back;
// maintaining with one open -> at risk.
TEST(LifecycleTest, AStateStoredUnderTheOldRulesFollowsTheWarningAtItsNextApplication) {
  {
    Customer c = Maintaining();
    c.state.set_stage(guanxi::v1::LIFECYCLE_STAGE_AT_RISK);  // the old 90-day rule's
    EXPECT_EQ(StageMove(c.Tick(20)),
              "AT_RISK -> WINNING_BACK: no churn warning at level warning or above open");
  }
  {
    auto config = guanxi::engine::DefaultEngineConfig();
    config.mutable_churn()->mutable_weights()->set_champion_left(6);
    Customer c = Maintaining(config);
    c.Feed(Champion(10, guanxi::v1::CONTACT_CHANGE_KIND_LEFT));  // a watch
    c.state.mutable_churn_episode()->set_level(guanxi::v1::WARNING_LEVEL_CRITICAL);
    EXPECT_EQ(StageMove(c.Tick(11)),
              "MAINTAINING -> AT_RISK: churn warning c1/event:e10 open at level critical");
  }
}

// On a simulated stream applied as the engine applies it (every event, and every
// customer's timer when event time reaches it), after every application: a customer who
// bought is at risk exactly while a warning at level warning or above is open, every
// stage move is one fact, and every notice tells the stage it leaves the customer in.
TEST(LifecycleTest, OnASimulatedStreamTheStageAndTheWarningsTellOneStory) {
  const CustomerProjection projection(guanxi::engine::DefaultEngineConfig());
  connectors::Simulator sim(
      connectors::SimulatorOptions{.customers = 300, .days = 540, .seed = 7});
  std::vector<Event> events;
  sim.Run([&](const Event& e) { events.push_back(e); });
  std::map<std::string, CustomerState> states;
  std::map<std::string, int64_t> timers;  // customer -> deadline
  uint64_t position = 0;
  int entered_at_risk = 0, left_at_risk = 0, watches_kept = 0;
  auto check = [&](const std::string& id, LifecycleStage before, const Derived& d) {
    const CustomerState& state = states[id];
    const bool warned = !state.churn_episode().warning_id().empty() &&
                        state.churn_episode().level() >= guanxi::v1::WARNING_LEVEL_WARNING;
    switch (state.stage()) {
      case guanxi::v1::LIFECYCLE_STAGE_DEEPENING:
      case guanxi::v1::LIFECYCLE_STAGE_MAINTAINING:
      case guanxi::v1::LIFECYCLE_STAGE_WINNING_BACK:
        EXPECT_FALSE(warned) << id << " at position " << position;
        if (!state.churn_episode().warning_id().empty()) ++watches_kept;
        break;
      case guanxi::v1::LIFECYCLE_STAGE_AT_RISK:
        EXPECT_TRUE(warned) << id << " at position " << position;
        break;
      default:
        break;
    }
    int stage_facts = 0;
    for (const auto& c : d.changes) stage_facts += c.has_stage() ? 1 : 0;
    EXPECT_EQ(stage_facts, state.stage() != before ? 1 : 0) << id << " at position " << position;
    for (const auto& w : d.warnings) EXPECT_EQ(w.stage(), state.stage()) << id;
    if (state.stage() != before && state.stage() == guanxi::v1::LIFECYCLE_STAGE_AT_RISK) {
      ++entered_at_risk;
    }
    if (before == guanxi::v1::LIFECYCLE_STAGE_AT_RISK &&
        state.stage() == guanxi::v1::LIFECYCLE_STAGE_WINNING_BACK) {
      ++left_at_risk;
    }
    if (auto next = projection.NextDeadline(state)) {
      timers[id] = *next;
    } else {
      timers.erase(id);
    }
  };
  auto fire_until = [&](int64_t t) {
    for (;;) {
      auto due = timers.end();
      for (auto it = timers.begin(); it != timers.end(); ++it) {
        if (it->second <= t && (due == timers.end() || it->second < due->second)) due = it;
      }
      if (due == timers.end()) return;
      const std::string id = due->first;
      google::protobuf::Timestamp at;
      at.set_seconds(due->second);
      const LifecycleStage before = states[id].stage();
      check(id, before, projection.OnTime(states[id], at, ++position, {}));
    }
  };
  for (const Event& e : events) {
    fire_until(e.occurred_at().seconds());
    const LifecycleStage before = states[e.customer_id()].stage();
    check(e.customer_id(), before, projection.OnEvent(states[e.customer_id()], e, ++position, {}));
  }
  // The check could fail: customers went into at risk (44) and out of it (5), and watches
  // were open in other stages (75 applications).
  EXPECT_GT(entered_at_risk, 20);
  EXPECT_GT(left_at_risk, 0);
  EXPECT_GT(watches_kept, 0);
}

// The worked example of docs/scoring.md section 3, step by step: after each step, the
// overall score, the eight dimensions (acceptance, participation, information, guidance,
// project support, competitive preference, feeling, behaviour), the facts emitted and the
// churn notice. The document's numbers are these.
TEST(WorkedExampleTest, MatchesDocsScoring) {
  using namespace guanxi::v1;  // NOLINT
  struct Row {
    std::optional<Event> event;  // or a tick at `tick_day`
    double tick_day;
    const char* expected;
  };
  const Row rows[] = {
      {Profile(0), 0,
       "50.00 | 50.0 50.0 50.0 50.0 50.0 50.0 50.0 50.0 | stage UNSPECIFIED -> "
       "IDENTIFIED: first event: profile"},
      {Visit(3, OUTCOME_POSITIVE), 0,
       "52.21 | 60.0 50.0 50.0 50.0 50.0 50.0 50.0 54.0 | score 50.0 -> 52.2 | stage "
       "IDENTIFIED -> ENGAGING: first interaction: visit"},
      {At(10,
          [](Event& e) {
            e.mutable_activity()->set_kind(ACTIVITY_KIND_CUSTOMER_FORUM);
            e.mutable_activity()->set_status(PARTICIPATION_STATUS_ATTENDED);
          }),
       0,
       "53.56 | 59.8 63.3 50.0 50.0 50.0 50.0 50.0 53.8"},
      {Order(20, "o1"), 0,
       "54.89 | 59.6 63.0 50.0 50.0 50.0 50.0 50.0 62.7 | score 52.2 -> 54.9 | stage "
       "ENGAGING -> DEEPENING: first purchase: order o1"},
      {At(30,
          [](Event& e) {
            e.mutable_complaint()->set_complaint_id("q1");
            e.mutable_complaint()->set_severity(SEVERITY_HIGH);
          }),
       0,
       "52.46 | 55.0 62.7 50.0 50.0 50.0 50.0 35.0 62.2 | score 54.9 -> 52.5"},
      {At(35,
          [](Event& e) {
            e.mutable_complaint_resolved()->set_complaint_id("q1");
            e.mutable_complaint_resolved()->set_customer_satisfied(true);
          }),
       0,
       "53.37 | 55.0 62.5 50.0 50.0 50.0 50.0 44.3 61.9"},
      {At(40,
          [](Event& e) {
            e.mutable_assessment()->set_acceptance(85);
            e.mutable_assessment()->set_project_support(80);
          }),
       0,
       "60.45 | 76.1 62.3 50.0 50.0 74.0 50.0 44.4 61.6 | score 52.5 -> 60.4"},
      {Signed(45, "k1"), 0,
       "61.50 | 76.0 62.2 50.0 50.0 75.4 50.0 44.5 67.0 | stage DEEPENING -> "
       "MAINTAINING: contract k1 signed"},
      {Terminated(100, "k1"), 0,
       "56.84 | 75.0 60.4 50.0 50.0 74.9 43.3 45.6 43.8 | score 60.4 -> 56.8 | stage "
       "MAINTAINING -> AT_RISK: churn warning c1/event:e100 raised to level warning: "
       "score_drop, contract_terminated | warning RAISED WARNING: score_drop, "
       "contract_terminated"},
      {Champion(130, CONTACT_CHANGE_KIND_LEFT), 0,
       "55.32 | 70.8 59.6 50.0 50.0 68.8 43.8 46.1 44.4 | warning ESCALATED CRITICAL: "
       "champion_left, contract_terminated"},
      {Champion(140, CONTACT_CHANGE_KIND_JOINED), 0,
       "55.32 | 70.6 59.3 50.0 50.0 68.8 44.0 46.3 44.6"},
      {Signed(150, "k2"), 0,
       "56.81 | 70.4 59.0 50.0 50.0 70.6 44.2 46.5 52.3"},
      {std::nullopt, 180,
       "56.69 | 69.9 58.2 50.0 50.0 70.4 44.6 47.0 52.1 | stage AT_RISK -> "
       "WINNING_BACK: churn warning c1/event:e100 resolved | warning RESOLVED CRITICAL"},
      {Order(190, "o2"), 0,
       "57.60 | 69.7 58.0 50.0 50.0 70.4 44.8 47.2 58.1 | stage WINNING_BACK -> "
       "MAINTAINING: score 57.6 recovered to 55.0 or more"},
  };
  Customer c;
  int step = 0;
  for (const Row& row : rows) {
    ++step;
    const Derived d = row.event ? c.Feed(*row.event) : c.Tick(row.tick_day);
    std::string line = absl::StrFormat("%.2f |", c.state.overall_score());
    for (const auto& dim : c.state.dimensions()) {
      absl::StrAppend(&line, absl::StrFormat(" %.1f", dim.score()));
    }
    for (const auto& change : d.changes) {
      if (change.has_score()) {
        absl::StrAppend(&line, absl::StrFormat(" | score %.1f -> %.1f", change.score().from(),
                                               change.score().to()));
      } else if (change.has_stage()) {
        absl::StrAppend(&line, " | stage ", StageName(change.stage().from()), " -> ",
                        StageName(change.stage().to()), ": ", change.stage().cause());
      }
    }
    for (const auto& w : d.warnings) {
      std::vector<std::string> codes;
      for (const auto& r : w.reasons()) codes.push_back(r.code());
      absl::StrAppend(&line, " | warning ", WarningNotice_Name(w.notice()).substr(15), " ",
                      WarningLevel_Name(w.level()).substr(14), codes.empty() ? "" : ": ",
                      absl::StrJoin(codes, ", "));
    }
    EXPECT_EQ(line, row.expected) << "step " << step;
  }
}

}  // namespace
}  // namespace guanxi::projections
