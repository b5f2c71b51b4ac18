#include "projections/relationship.h"

#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "engine/config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/projections/test_events.h"

namespace guanxi::projections {
namespace {

using guanxi::v1::CustomerState;
using guanxi::v1::Event;
using ::testing::ElementsAre;

using namespace testing;  // NOLINT: the shared events (test_events.h) read better bare

ProjectionConfig DefaultConfig() {
  const auto engine = guanxi::engine::DefaultEngineConfig();
  return ProjectionConfig(engine.scoring());
}

double Score(const CustomerState& s, guanxi::v1::Dimension d) {
  return s.dimensions(static_cast<int>(d) - 1).score();
}
double Weight(const CustomerState& s, guanxi::v1::Dimension d) {
  return s.dimensions(static_cast<int>(d) - 1).evidence_weight();
}

// Default overall weights: acceptance, project support and behaviour 1.5, the rest 1.
double Overall(double acceptance, double participation, double information, double guidance,
               double project_support, double competitive, double feeling, double behaviour) {
  return (1.5 * acceptance + participation + information + guidance + 1.5 * project_support +
          competitive + feeling + 1.5 * behaviour) /
         9.5;
}

// --- Scoring --------------------------------------------------------------------------

TEST(ScoringTest, PositiveVisitRaisesAcceptanceByTheComputedAmount) {
  const ProjectionConfig config = DefaultConfig();
  CustomerState state;
  Applied applied = ApplyEvent(config, state, Visit(0, guanxi::v1::OUTCOME_POSITIVE), 7);
  // acceptance: (2 * 50 + 1 * 80) / (2 + 1) = 60; behaviour: (100 + 0.5 * 70) / 2.5 = 54.
  EXPECT_DOUBLE_EQ(Score(state, guanxi::v1::DIMENSION_ACCEPTANCE), 60);
  EXPECT_DOUBLE_EQ(Score(state, guanxi::v1::DIMENSION_BEHAVIOUR), 54);
  EXPECT_DOUBLE_EQ(Score(state, guanxi::v1::DIMENSION_GUIDANCE), 50);
  const double overall = Overall(60, 50, 50, 50, 50, 50, 50, 54);
  EXPECT_NEAR(state.overall_score(), overall, 1e-12);
  // What moved: exactly the two dimensions.
  ASSERT_EQ(applied.moved.dimensions.size(), 2u);
  EXPECT_EQ(applied.moved.dimensions[0].dimension, guanxi::v1::DIMENSION_ACCEPTANCE);
  EXPECT_DOUBLE_EQ(applied.moved.dimensions[0].before, 50);
  EXPECT_DOUBLE_EQ(applied.moved.dimensions[0].after, 60);
  EXPECT_EQ(applied.moved.dimensions[1].dimension, guanxi::v1::DIMENSION_BEHAVIOUR);
  EXPECT_DOUBLE_EQ(applied.moved.from, 50);
  EXPECT_NEAR(applied.moved.to, overall, 1e-12);
  // 52.2 - 50 >= the step of 2: a fact, with a stable id.
  ASSERT_EQ(applied.changes.size(), 1u);
  EXPECT_EQ(applied.changes[0].change_id(), "c1/7/score");
  EXPECT_DOUBLE_EQ(applied.changes[0].score().from(), 50);
  EXPECT_NEAR(applied.changes[0].score().to(), overall, 1e-12);
}

TEST(ScoringTest, DecayAfterExactlyOneHalfLifeHalvesTheEvidenceWeight) {
  const ProjectionConfig config = DefaultConfig();
  CustomerState state;
  ApplyEvent(config, state, Visit(0, guanxi::v1::OUTCOME_POSITIVE), 1);
  AdvanceTime(config, state, Day(180), 2);  // acceptance half-life 180 days
  EXPECT_DOUBLE_EQ(Weight(state, guanxi::v1::DIMENSION_ACCEPTANCE), 0.5);
  // (2 * 50 + 0.5 * 80) / 2.5 = 56
  EXPECT_DOUBLE_EQ(Score(state, guanxi::v1::DIMENSION_ACCEPTANCE), 56);
  // behaviour: half-life 90 days, two half-lives: 0.5 -> 0.125.
  EXPECT_DOUBLE_EQ(Weight(state, guanxi::v1::DIMENSION_BEHAVIOUR), 0.125);
  // Time never moves back: an earlier tick changes nothing.
  const std::string bytes = state.SerializeAsString();
  Applied applied = AdvanceTime(config, state, Day(100), 3);
  EXPECT_EQ(state.SerializeAsString(), bytes);
  EXPECT_TRUE(applied.changes.empty());
}

TEST(ScoringTest, AssessmentSetsEachRatedDimensionNearItsRating) {
  const ProjectionConfig config = DefaultConfig();
  CustomerState state;
  ApplyEvent(config, state,
             At(0,
                [](Event& e) {
                  e.mutable_assessment()->set_acceptance(90);
                  e.mutable_assessment()->set_competitive_preference(30);
                }),
             1);
  // (2 * 50 + 8 * 90) / 10 = 82; (2 * 50 + 8 * 30) / 10 = 34; unrated stays 50.
  EXPECT_DOUBLE_EQ(Score(state, guanxi::v1::DIMENSION_ACCEPTANCE), 82);
  EXPECT_DOUBLE_EQ(Score(state, guanxi::v1::DIMENSION_COMPETITIVE_PREFERENCE), 34);
  EXPECT_DOUBLE_EQ(Score(state, guanxi::v1::DIMENSION_PARTICIPATION), 50);
}

// Each row: one event on a fresh customer and the dimension it must move to.
TEST(ScoringTest, EachSignalFeedsItsDimensionAsConfigured) {
  struct Case {
    const char* name;
    Event event;
    guanxi::v1::Dimension dimension;
    double expected;
  };
  const Case cases[] = {
      {"negative visit", Visit(0, guanxi::v1::OUTCOME_NEGATIVE), guanxi::v1::DIMENSION_ACCEPTANCE,
       (100 + 20) / 3.0},
      {"activity attended",
       At(0,
          [](Event& e) {
            e.mutable_activity()->set_status(guanxi::v1::PARTICIPATION_STATUS_ATTENDED);
          }),
       guanxi::v1::DIMENSION_PARTICIPATION, (100 + 90) / 3.0},
      {"activity declined",
       At(0,
          [](Event& e) {
            e.mutable_activity()->set_status(guanxi::v1::PARTICIPATION_STATUS_DECLINED);
          }),
       guanxi::v1::DIMENSION_PARTICIPATION, (100 + 20) / 3.0},
      {"information shared",
       At(0, [](Event& e) { e.mutable_information_shared()->set_topic("budget"); }),
       guanxi::v1::DIMENSION_INFORMATION, (100 + 85) / 3.0},
      {"guidance given", At(0, [](Event& e) { e.mutable_guidance_given()->set_topic("process"); }),
       guanxi::v1::DIMENSION_GUIDANCE, (100 + 85) / 3.0},
      {"project support", At(0, [](Event& e) { e.mutable_project_support()->set_project("p"); }),
       guanxi::v1::DIMENSION_PROJECT_SUPPORT, (100 + 1.5 * 90) / 3.5},
      {"competitor lean -0.5 -> 25",
       At(0, [](Event& e) { e.mutable_competitor_signal()->set_lean(-0.5); }),
       guanxi::v1::DIMENSION_COMPETITIVE_PREFERENCE, (100 + 1.5 * 25) / 3.5},
      {"survey 4 on 1..5 -> 75",
       At(0,
          [](Event& e) {
            auto* s = e.mutable_survey();
            s->set_satisfaction(4);
            s->set_scale_min(1);
            s->set_scale_max(5);
          }),
       guanxi::v1::DIMENSION_FEELING, (100 + 2 * 75) / 4.0},
      {"critical complaint",
       At(0, [](Event& e) { e.mutable_complaint()->set_severity(guanxi::v1::SEVERITY_CRITICAL); }),
       guanxi::v1::DIMENSION_FEELING, (100 + 2 * 5) / 4.0},
      {"payment 10 days late",
       At(20, [](Event& e) { *e.mutable_payment()->mutable_due_at() = Day(10); }),
       guanxi::v1::DIMENSION_BEHAVIOUR, (100 + 20) / 3.0},
      {"payment 5 days late is within grace",
       At(15, [](Event& e) { *e.mutable_payment()->mutable_due_at() = Day(10); }),
       guanxi::v1::DIMENSION_BEHAVIOUR, (100 + 0.5 * 80) / 2.5},
      {"order", Order(0, "o1"), guanxi::v1::DIMENSION_BEHAVIOUR, (100 + 85) / 3.0},
      {"opportunity lost to a competitor",
       At(0,
          [](Event& e) {
            e.mutable_opportunity()->set_stage(guanxi::v1::OPPORTUNITY_STAGE_LOST);
            e.mutable_opportunity()->set_lost_to_competitor("Rival");
          }),
       guanxi::v1::DIMENSION_COMPETITIVE_PREFERENCE, (100 + 1.5 * 15) / 3.5},
  };
  const ProjectionConfig config = DefaultConfig();
  for (const Case& c : cases) {
    CustomerState state;
    ApplyEvent(config, state, c.event, 1);
    EXPECT_NEAR(Score(state, c.dimension), c.expected, 1e-9) << c.name;
  }
}

TEST(ScoringTest, LateEventEntersWithItsAgeDecayAndNeverMovesTimeBack) {
  const ProjectionConfig config = DefaultConfig();
  CustomerState in_order, late;
  // In order: visit at day 0, profile at day 180.
  ApplyEvent(config, in_order, Visit(0, guanxi::v1::OUTCOME_POSITIVE), 1);
  ApplyEvent(config, in_order, Profile(180), 2);
  // Late: the profile first, then the visit that happened 180 days before it.
  ApplyEvent(config, late, Profile(180), 1);
  ApplyEvent(config, late, Visit(0, guanxi::v1::OUTCOME_POSITIVE), 2);
  EXPECT_DOUBLE_EQ(Weight(late, guanxi::v1::DIMENSION_ACCEPTANCE), 0.5);
  EXPECT_DOUBLE_EQ(Weight(late, guanxi::v1::DIMENSION_ACCEPTANCE),
                   Weight(in_order, guanxi::v1::DIMENSION_ACCEPTANCE));
  EXPECT_EQ(late.as_of().seconds(), Day(180).seconds());
  EXPECT_EQ(late.first_event_at().seconds(), Day(0).seconds());
  EXPECT_EQ(late.last_event_at().seconds(), Day(180).seconds());
}

TEST(ScoringTest, SmallMovesAccumulateUntilTheStepIsReached) {
  const ProjectionConfig config = DefaultConfig();
  CustomerState state;
  // An outbound call moves behaviour to (100 + 0.2 * 55) / 2.2 = 50.4545...: the overall
  // score moves by 0.07, below the step of 2: no fact.
  Event call =
      At(0, [](Event& e) { e.mutable_call()->set_direction(guanxi::v1::CALL_DIRECTION_OUTBOUND); });
  Applied applied = ApplyEvent(config, state, call, 1);
  EXPECT_TRUE(applied.changes.empty());
  EXPECT_DOUBLE_EQ(state.reported_score(), 50);
  EXPECT_EQ(applied.moved.dimensions.size(), 1u);
}

TEST(ScoringTest, UnreadableMeasuredValuesObserveNothing) {
  const ProjectionConfig config = DefaultConfig();
  CustomerState state;
  ApplyEvent(config, state,
             At(0, [](Event& e) { e.mutable_competitor_signal()->set_lean(std::nan("")); }), 1);
  ApplyEvent(config, state,
             At(1,
                [](Event& e) {
                  e.mutable_assessment()->set_acceptance(std::numeric_limits<double>::infinity());
                }),
             2);
  EXPECT_DOUBLE_EQ(Score(state, guanxi::v1::DIMENSION_COMPETITIVE_PREFERENCE), 50);
  EXPECT_DOUBLE_EQ(Score(state, guanxi::v1::DIMENSION_ACCEPTANCE), 50);
  EXPECT_EQ(state.last_interaction_at().seconds(), Day(0).seconds());  // still an interaction
}

TEST(BookkeepingTest, MonthOfIsTheUtcCalendarMonth) {
  // Every 7 hours 13 minutes from 1900 to 2200 (both sides of 1970, leap years, the
  // centuries), and the last and first second of months: as absl's civil time says.
  auto expected = [](int64_t seconds) {
    const absl::CivilMonth m =
        absl::ToCivilMonth(absl::FromUnixSeconds(seconds), absl::UTCTimeZone());
    return static_cast<int32_t>((m.year() - 1970) * 12 + (m.month() - 1));
  };
  google::protobuf::Timestamp t;
  for (int64_t s = -2208988800; s < 7258118400; s += 7 * 3600 + 13 * 60) {
    t.set_seconds(s);
    ASSERT_EQ(MonthOf(t), expected(s)) << s;
  }
  for (int64_t s : {int64_t{-1}, int64_t{0}, int64_t{951868799}, int64_t{951868800},
                    int64_t{951782399}, int64_t{4107542399}, int64_t{4107542400}}) {
    t.set_seconds(s);
    EXPECT_EQ(MonthOf(t), expected(s)) << s;
  }
}

TEST(BookkeepingTest, ContractsComplaintsContactsAndPaymentsAreKept) {
  using namespace guanxi::v1;  // NOLINT
  const ProjectionConfig config = DefaultConfig();
  CustomerState state;
  auto complaint = [](double day, const char* id) {
    return At(day, [id](Event& e) { e.mutable_complaint()->set_complaint_id(id); });
  };
  auto joined = [](double day, const char* id, bool champion) {
    return At(day, [=](Event& e) {
      e.mutable_contact_change()->set_contact_id(id);
      e.mutable_contact_change()->set_change(CONTACT_CHANGE_KIND_JOINED);
      e.mutable_contact_change()->set_role(CONTACT_ROLE_DECISION_MAKER);
      e.mutable_contact_change()->set_champion(champion);
    });
  };
  uint64_t position = 1;
  for (const Event& e :
       {complaint(0, "q2"), complaint(1, "q1"),
        At(2, [](Event& ev) { ev.mutable_complaint_resolved()->set_complaint_id("q2"); }),
        Contract(3, "k2", CONTRACT_MILESTONE_KIND_SIGNED),
        Contract(4, "k1", CONTRACT_MILESTONE_KIND_SIGNED),
        Contract(5, "k2", CONTRACT_MILESTONE_KIND_TERMINATED), joined(6, "p2", true),
        joined(7, "p1", false),
        At(30, [](Event& ev) { *ev.mutable_payment()->mutable_due_at() = Day(20); }),
        At(31, [](Event& ev) { *ev.mutable_payment()->mutable_due_at() = Day(31); })}) {
    ApplyEvent(config, state, e, position++);
  }
  EXPECT_THAT(state.open_complaints(), ElementsAre("q1"));
  EXPECT_THAT(state.active_contracts(), ElementsAre("k1"));
  ASSERT_EQ(state.contacts_size(), 2);
  EXPECT_EQ(state.contacts(0).contact_id(), "p1");
  EXPECT_TRUE(state.contacts(1).champion());
  EXPECT_EQ(state.payments_late(), 1);
  EXPECT_EQ(state.payment_days_late_total(), 10);
  EXPECT_EQ(state.payments_on_time(), 1);
  EXPECT_EQ(state.events_applied(), 10u);
  EXPECT_EQ(state.last_position(), 10u);
}

// --- Determinism and restarts ---------------------------------------------------------

// A random stream for one customer: events of every kind, mostly in time order with some
// late arrivals, and ticks in between. Each element either an event or a tick time.
struct Step {
  std::optional<Event> event;
  double tick_day = 0;
};

std::vector<Step> RandomStream(uint32_t seed, int n) {
  using namespace guanxi::v1;  // NOLINT
  std::mt19937 rng(seed);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  std::vector<Step> steps;
  double day = 0;
  for (int i = 0; i < n; ++i) {
    day += uniform(0, 40);
    const double when = uniform(0, 9) == 0 ? day - uniform(1, 60) : day;  // late arrival
    if (uniform(0, 7) == 0) {
      steps.push_back({std::nullopt, day + uniform(0, 200)});
      continue;
    }
    const int kind = uniform(0, 13);
    const std::string id = absl::StrCat("x", uniform(0, 3));
    steps.push_back(
        {At(when,
            [&](Event& e) {
              switch (kind) {
                case 0:
                  e.mutable_visit()->set_outcome(static_cast<Outcome>(uniform(0, 3)));
                  break;
                case 1:
                  e.mutable_call()->set_direction(static_cast<CallDirection>(uniform(1, 2)));
                  e.mutable_call()->set_useful_information(uniform(0, 1) == 1);
                  e.mutable_call()->set_sentiment(uniform(-10, 10) / 10.0);
                  break;
                case 2:
                  e.mutable_activity()->set_status(static_cast<ParticipationStatus>(uniform(1, 3)));
                  break;
                case 3:
                  e.mutable_complaint()->set_complaint_id(id);
                  e.mutable_complaint()->set_severity(static_cast<Severity>(uniform(0, 4)));
                  break;
                case 4:
                  e.mutable_complaint_resolved()->set_complaint_id(id);
                  e.mutable_complaint_resolved()->set_customer_satisfied(uniform(0, 1) == 1);
                  break;
                case 5:
                  e.mutable_survey()->set_satisfaction(uniform(1, 5));
                  e.mutable_survey()->set_scale_min(1);
                  e.mutable_survey()->set_scale_max(5);
                  e.mutable_survey()->set_nps(uniform(0, 10));
                  break;
                case 6:
                  e.mutable_order()->set_order_id(id);
                  e.mutable_order()->set_kind(static_cast<OrderKind>(uniform(1, 3)));
                  break;
                case 7:
                  *e.mutable_payment()->mutable_due_at() = Day(when - uniform(-10, 30));
                  break;
                case 8:
                  e.mutable_contract()->set_contract_id(id);
                  e.mutable_contract()->set_milestone(
                      static_cast<ContractMilestoneKind>(uniform(1, 6)));
                  break;
                case 9:
                  e.mutable_opportunity()->set_stage(static_cast<OpportunityStage>(uniform(5, 6)));
                  if (uniform(0, 1) == 1) e.mutable_opportunity()->set_lost_to_competitor("R");
                  break;
                case 10:
                  e.mutable_competitor_signal()->set_lean(uniform(-10, 10) / 10.0);
                  break;
                case 11:
                  e.mutable_contact_change()->set_contact_id(id);
                  e.mutable_contact_change()->set_change(
                      static_cast<ContactChangeKind>(uniform(1, 3)));
                  e.mutable_contact_change()->set_champion(uniform(0, 1) == 1);
                  break;
                case 12:
                  e.mutable_assessment()->set_acceptance(uniform(0, 100));
                  e.mutable_assessment()->set_guidance(uniform(0, 100));
                  break;
                default:
                  e.mutable_information_shared()->set_topic("plans");
                  break;
              }
            }),
         0});
  }
  return steps;
}

// Applies steps [begin, end) at positions begin+1...; returns the facts' bytes.
std::string ApplySteps(const ProjectionConfig& config, CustomerState& state,
                       const std::vector<Step>& steps, size_t begin, size_t end) {
  std::string facts;
  for (size_t i = begin; i < end; ++i) {
    const Applied applied = steps[i].event
                                ? ApplyEvent(config, state, *steps[i].event, i + 1)
                                : AdvanceTime(config, state, Day(steps[i].tick_day), i + 1);
    for (const auto& change : applied.changes) facts += change.SerializeAsString();
    absl::StrAppend(&facts, applied.moved.from, ">", applied.moved.to);
    for (const ScoreMove::Dimension& d : applied.moved.dimensions) {
      absl::StrAppend(&facts, ";", d.dimension, ":", d.before, ">", d.after);
    }
  }
  return facts;
}

Event Priced(double day, const std::string& id, guanxi::v1::OrderKind kind, int64_t minor) {
  return At(day, [&](Event& e) {
    e.mutable_order()->set_order_id(id);
    e.mutable_order()->set_kind(kind);
    e.mutable_order()->mutable_amount()->set_minor_units(minor);
  });
}

TEST(BookkeepingTest, PurchaseFiguresCountDaysRevenueAndMonths) {
  const ProjectionConfig config = DefaultConfig();
  CustomerState s;
  // 2026-01-01 is day 0: January holds days 0..30, February 31..58, March 59..89.
  ApplyEvent(config, s, Priced(2.1, "o1", guanxi::v1::ORDER_KIND_ORDER, 10000), 0);
  ApplyEvent(config, s, Priced(2.6, "o2", guanxi::v1::ORDER_KIND_ORDER, 5000), 1);  // same day
  ApplyEvent(config, s, Priced(40, "o3", guanxi::v1::ORDER_KIND_INVOICE, 20000), 2);
  ApplyEvent(config, s, Priced(41, "x1", guanxi::v1::ORDER_KIND_CANCELLATION, 3000), 3);
  EXPECT_EQ(s.orders(), 3);
  EXPECT_EQ(s.cancellations(), 1);
  EXPECT_EQ(s.purchase_days(), 2);
  EXPECT_EQ(s.revenue_minor(), 32000);
  EXPECT_EQ(s.first_purchase_at().seconds(), Day(2.1).seconds());
  ASSERT_EQ(s.purchase_months_size(), 2);
  EXPECT_EQ(s.purchase_months(0).month(), (2026 - 1970) * 12 + 0);
  EXPECT_EQ(s.purchase_months(0).orders(), 2);
  EXPECT_EQ(s.purchase_months(0).revenue_minor(), 15000);
  EXPECT_EQ(s.purchase_months(1).orders(), 1);
  EXPECT_EQ(s.purchase_months(1).revenue_minor(), 17000);

  // Trailing windows count whole calendar months ending with the month of `now`.
  EXPECT_EQ(Trailing(s, Day(45), 1).revenue_minor, 17000);
  EXPECT_EQ(Trailing(s, Day(45), 12).revenue_minor, 32000);
  EXPECT_EQ(Trailing(s, Day(70), 1).orders, 0);
  EXPECT_EQ(Trailing(s, Day(70), 2).orders, 1);

  // A purchase 14 months later keeps only the 13 months ending with its own.
  ApplyEvent(config, s, Priced(2.0 + 14 * 30.5, "o4", guanxi::v1::ORDER_KIND_ORDER, 100), 4);
  ASSERT_EQ(s.purchase_months_size(), 1);
  EXPECT_EQ(s.purchase_months(0).month(), (2027 - 1970) * 12 + 2);
  EXPECT_EQ(s.revenue_minor(), 32100);  // all-time figures are kept
  // A late purchase inside the window is inserted in order; one older is dropped.
  ApplyEvent(config, s, Priced(370, "o5", guanxi::v1::ORDER_KIND_ORDER, 7), 5);  // 2027-01
  ApplyEvent(config, s, Priced(40, "o6", guanxi::v1::ORDER_KIND_ORDER, 9), 6);   // 2026-02
  ASSERT_EQ(s.purchase_months_size(), 2);
  EXPECT_EQ(s.purchase_months(0).month(), (2027 - 1970) * 12 + 0);
  EXPECT_EQ(s.purchase_months(1).month(), (2027 - 1970) * 12 + 2);
  EXPECT_EQ(s.purchase_days(), 5);  // the late days count as new days
}

TEST(DeterminismTest, SameStreamTwiceGivesByteIdenticalStates) {
  const ProjectionConfig config = DefaultConfig();
  const std::vector<Step> steps = RandomStream(42, 300);
  CustomerState a, b;
  const std::string facts_a = ApplySteps(config, a, steps, 0, steps.size());
  const std::string facts_b = ApplySteps(config, b, steps, 0, steps.size());
  EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString());
  EXPECT_EQ(facts_a, facts_b);
  EXPECT_EQ(a.customer_id(), "c1");
}

TEST(DeterminismTest, RestartingThroughSerializedStateChangesNothing) {
  const ProjectionConfig config = DefaultConfig();
  std::mt19937 rng(20261122);
  for (uint32_t seed = 1; seed <= 50; ++seed) {
    const std::vector<Step> steps = RandomStream(seed, 120);
    CustomerState whole;
    const std::string facts_whole = ApplySteps(config, whole, steps, 0, steps.size());

    const size_t split = std::uniform_int_distribution<size_t>(0, steps.size())(rng);
    CustomerState first;
    std::string facts = ApplySteps(config, first, steps, 0, split);
    CustomerState restarted;
    ASSERT_TRUE(restarted.ParseFromString(first.SerializeAsString()));
    facts += ApplySteps(config, restarted, steps, split, steps.size());

    EXPECT_EQ(restarted.SerializeAsString(), whole.SerializeAsString()) << "seed " << seed;
    EXPECT_EQ(facts, facts_whole) << "seed " << seed;
    EXPECT_GE(whole.overall_score(), 0);
    EXPECT_LE(whole.overall_score(), 100);
  }
}

}  // namespace
}  // namespace guanxi::projections
