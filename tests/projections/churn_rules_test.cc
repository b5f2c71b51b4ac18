#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "connectors/simulator.h"
#include "engine/config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "projections/churn/rules.h"
#include "projections/relationship.h"

namespace guanxi::projections {
namespace {

using google::protobuf::Timestamp;
using guanxi::v1::ChurnConfig;
using guanxi::v1::ChurnWarning;
using guanxi::v1::CustomerState;
using guanxi::v1::Event;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr int64_t kDay = 86400;
constexpr int64_t kBase = 1767225600;  // 2026-01-01T00:00:00Z

Timestamp Day(double day, int64_t plus_seconds = 0) {
  Timestamp t;
  t.set_seconds(kBase + static_cast<int64_t>(std::llround(day * kDay)) + plus_seconds);
  return t;
}

// A configuration fixed here, so that tuning the shipped defaults does not move these
// hand-computed expectations. Every weight is 1 (decline_evidence: 0) and each level is
// one point apart.
ChurnConfig TestConfig() {
  ChurnConfig c;
  c.set_inactivity_multiple(3);
  c.set_rhythm_purchase_days(13);
  c.set_min_rhythm_purchase_days(4);
  c.set_default_rhythm_days(30);
  c.set_min_rhythm_days(7);
  c.set_p_alive_threshold(0.3);
  c.set_risk_threshold(0.8);
  c.set_complaint_service_level_days(14);
  c.set_complaint_max_age_days(90);
  c.set_complaint_run_count(3);
  c.set_complaint_run_window_days(60);
  c.set_satisfaction_drop(20);
  c.set_satisfaction_window_days(200);
  c.set_score_drop(8);
  c.set_score_drop_window_days(60);
  c.set_late_payment_recent(2);
  c.set_late_payment_baseline(4);
  c.set_late_payment_min_days(10);
  c.set_late_payment_increase_days(7);
  c.set_renewal_window_days(60);
  c.set_renewal_low_score(55);
  c.set_champion_left_days(120);
  c.set_contract_terminated_days(120);
  c.set_low_score(40);
  c.set_competitor_lean(0.3);
  c.set_competitor_signal_count(1);
  c.set_competitor_window_days(90);
  c.set_call_sentiment_threshold(-0.2);
  c.set_call_min_count(2);
  c.set_call_window_days(60);
  auto* e = c.mutable_evidence();
  e->set_call_sentiment_weight(2);
  e->set_call_sentiment_pivot(0);
  e->set_complaint(1);
  e->set_competitor_signal(1.5);
  e->set_late_payment(1);
  e->set_negative_visit(0.5);
  e->set_decay_per_day(0.1);
  e->set_threshold(2);
  auto* w = c.mutable_weights();
  w->set_inactivity(1);
  w->set_low_p_alive(1);
  w->set_unresolved_complaint(1);
  w->set_complaint_run(1);
  w->set_satisfaction_drop(1);
  w->set_score_drop(1);
  w->set_late_payments(1);
  w->set_renewal_low_score(1);
  w->set_champion_left(1);
  w->set_competitor_signal(1);
  w->set_call_sentiment(1);
  // Off: the other rules' tests set scores and terminate contracts (their own tests
  // switch them on).
  w->set_contract_terminated(0);
  w->set_low_score(0);
  // Off: it adds up events the other rules' hand-computed tests feed (its own tests use
  // EvidenceOnlyConfig).
  w->set_decline_evidence(0);
  c.set_severe_factor(2);
  c.set_watch_points(1);
  c.set_warning_points(2);
  c.set_critical_points(3);
  c.set_resolve_points(0);
  c.set_resolve_after_days(30);
  c.set_risk_horizon_days(90);
  return c;
}

// One customer, fed as the engine feeds it: ApplyEvent, ObserveForChurn, EvaluateChurn.
class Customer {
 public:
  explicit Customer(ChurnConfig config = TestConfig())
      : config_(std::move(config)),
        projection_(guanxi::engine::DefaultEngineConfig().scoring()) {}

  // Applies the event at the next log position; returns the notice of the evaluation
  // that follows it (at the same position), if any.
  std::optional<ChurnWarning> Feed(Event e) {
    e.set_event_id(absl::StrCat("e", ++events_));
    e.set_customer_id("c1");
    ApplyEvent(projection_, state, e, ++position);
    ObserveForChurn(config_, state, e);
    return EvaluateAt(e.occurred_at(), position);
  }
  // Applies the event without evaluating (to set figures up before an evaluation).
  void Observe(Event e) {
    e.set_event_id(absl::StrCat("e", ++events_));
    e.set_customer_id("c1");
    ApplyEvent(projection_, state, e, ++position);
    ObserveForChurn(config_, state, e);
  }
  // A tick at `now` (no event), at the next log position: its notice, if any.
  std::optional<ChurnWarning> Evaluate(const Timestamp& now) { return EvaluateAt(now, ++position); }
  std::optional<ChurnWarning> EvaluateAt(const Timestamp& now, uint64_t at_position) {
    ChurnContext ctx;
    ctx.model = model;
    ctx.now = now;
    ctx.position = at_position;
    ctx.partition = 3;
    return EvaluateChurn(config_, state, ctx);
  }
  ChurnAssessment Assess(const Timestamp& at) const {
    return AssessChurn(config_, state, model, at);
  }
  std::vector<std::string> Codes(const Timestamp& at) const {
    std::vector<std::string> codes;
    for (const auto& r : Assess(at).reasons) codes.push_back(r.code());
    return codes;
  }
  // The reason `code` at `at`, if it holds.
  std::optional<guanxi::v1::WarningReason> ReasonAt(const Timestamp& at,
                                                    const std::string& code) const {
    for (const auto& r : Assess(at).reasons) {
      if (r.code() == code) return r;
    }
    return std::nullopt;
  }
  ChurnConfig& config() { return config_; }

  CustomerState state;
  uint64_t position = 0;
  const guanxi::v1::ModelRecord* model = nullptr;

 private:
  ChurnConfig config_;
  ProjectionConfig projection_;
  int events_ = 0;
};

Event At(double day) {
  Event e;
  *e.mutable_occurred_at() = Day(day);
  return e;
}
Event Order(double day) {
  Event e = At(day);
  e.mutable_order()->set_order_id(absl::StrCat("o", day));
  e.mutable_order()->set_kind(guanxi::v1::ORDER_KIND_ORDER);
  return e;
}
Event Complaint(double day, const std::string& id) {
  Event e = At(day);
  e.mutable_complaint()->set_complaint_id(id);
  e.mutable_complaint()->set_severity(guanxi::v1::SEVERITY_MEDIUM);
  return e;
}
Event Resolved(double day, const std::string& id) {
  Event e = At(day);
  e.mutable_complaint_resolved()->set_complaint_id(id);
  e.mutable_complaint_resolved()->set_customer_satisfied(true);
  return e;
}
Event Survey(double day, double satisfaction) {  // on a 1..5 scale
  Event e = At(day);
  e.mutable_survey()->set_survey_id(absl::StrCat("s", day));
  e.mutable_survey()->set_satisfaction(satisfaction);
  e.mutable_survey()->set_scale_min(1);
  e.mutable_survey()->set_scale_max(5);
  return e;
}
Event Payment(double day, int days_late) {
  Event e = At(day);
  e.mutable_payment()->set_payment_id(absl::StrCat("p", day));
  *e.mutable_payment()->mutable_due_at() = Day(day - days_late);
  *e.mutable_payment()->mutable_paid_at() = Day(day);
  return e;
}
Event Contract(double day, guanxi::v1::ContractMilestoneKind kind,
               std::optional<double> renewal_due_day = std::nullopt) {
  Event e = At(day);
  e.mutable_contract()->set_contract_id("k1");
  e.mutable_contract()->set_milestone(kind);
  if (renewal_due_day) *e.mutable_contract()->mutable_renewal_due_at() = Day(*renewal_due_day);
  return e;
}
Event Champion(double day, guanxi::v1::ContactChangeKind change, bool champion = true) {
  Event e = At(day);
  e.mutable_contact_change()->set_contact_id(absl::StrCat("p", day));
  e.mutable_contact_change()->set_change(change);
  e.mutable_contact_change()->set_champion(champion);
  e.mutable_contact_change()->set_name("Li Wei");
  return e;
}
Event Call(double day, std::optional<double> sentiment) {
  Event e = At(day);
  e.mutable_call()->set_call_id(absl::StrCat("call", day));
  if (sentiment) e.mutable_call()->set_sentiment(*sentiment);
  return e;
}
Event Visit(double day, guanxi::v1::Outcome outcome) {
  Event e = At(day);
  e.mutable_visit()->set_visitor("am-1");
  e.mutable_visit()->set_outcome(outcome);
  return e;
}
// An assessment rating every dimension `value` (0..100).
Event Assessment(double day, double value) {
  Event e = At(day);
  auto* a = e.mutable_assessment();
  a->set_assessor("am-1");
  a->set_acceptance(value);
  a->set_participation(value);
  a->set_information(value);
  a->set_guidance(value);
  a->set_project_support(value);
  a->set_competitive_preference(value);
  return e;
}
Event Competitor(double day, double lean) {
  Event e = At(day);
  e.mutable_competitor_signal()->set_competitor("Acme");
  e.mutable_competitor_signal()->set_lean(lean);
  return e;
}

// --- Configuration ---------------------------------------------------------------------

TEST(ChurnConfigTest, TestAndDefaultConfigsAreValid) {
  auto engine = guanxi::engine::DefaultEngineConfig();
  EXPECT_TRUE(guanxi::engine::ValidateEngineConfig(engine).ok());
  *engine.mutable_churn() = TestConfig();
  EXPECT_TRUE(guanxi::engine::ValidateEngineConfig(engine).ok())
      << guanxi::engine::ValidateEngineConfig(engine);
}

TEST(ChurnConfigTest, BadValuesNameTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {"churn { inactivity_multiple: 1 }", "churn.inactivity_multiple"},
      {"churn { rhythm_purchase_days: 1 }", "churn.rhythm_purchase_days"},
      {"churn { rhythm_purchase_days: 65 }", "churn.rhythm_purchase_days"},
      {"churn { min_rhythm_purchase_days: 14 }", "churn.min_rhythm_purchase_days"},
      {"churn { default_rhythm_days: 0 }", "churn.default_rhythm_days"},
      {"churn { min_rhythm_days: -1 }", "churn.min_rhythm_days"},
      {"churn { p_alive_threshold: 1.5 }", "churn.p_alive_threshold"},
      {"churn { complaint_service_level_days: 0 }", "churn.complaint_service_level_days"},
      {"churn { complaint_max_age_days: 1 }", "churn.complaint_max_age_days"},
      {"churn { complaint_run_count: 1 }", "churn.complaint_run_count"},
      {"churn { complaint_run_window_days: nan }", "churn.complaint_run_window_days"},
      {"churn { satisfaction_drop: 0 }", "churn.satisfaction_drop"},
      {"churn { satisfaction_window_days: inf }", "churn.satisfaction_window_days"},
      {"churn { score_drop: 101 }", "churn.score_drop"},
      {"churn { score_drop_window_days: 0 }", "churn.score_drop_window_days"},
      {"churn { late_payment_recent: 0 }", "churn.late_payment_recent"},
      {"churn { late_payment_baseline: -1 }", "churn.late_payment_baseline"},
      {"churn { late_payment_min_days: -1 }", "churn.late_payment_min_days"},
      {"churn { late_payment_increase_days: -1 }", "churn.late_payment_increase_days"},
      {"churn { renewal_window_days: 0 }", "churn.renewal_window_days"},
      {"churn { renewal_low_score: 120 }", "churn.renewal_low_score"},
      {"churn { champion_left_days: 0 }", "churn.champion_left_days"},
      {"churn { competitor_lean: 2 }", "churn.competitor_lean"},
      {"churn { competitor_signal_count: 0 }", "churn.competitor_signal_count"},
      {"churn { competitor_window_days: -5 }", "churn.competitor_window_days"},
      {"churn { weights { score_drop: -1 } }", "churn.weights.score_drop"},
      {"churn { severe_factor: 0.5 }", "churn.severe_factor"},
      {"churn { watch_points: 0 }", "churn.watch_points"},
      {"churn { warning_points: 0.5 }", "churn.warning_points"},
      {"churn { critical_points: 1 }", "churn.critical_points"},
      {"churn { resolve_points: -1 }", "churn.resolve_points"},
      {"churn { resolve_points: 100 }", "churn.resolve_points"},
      {"churn { resolve_after_days: -1 }", "churn.resolve_after_days"},
      {"churn { call_sentiment_threshold: -1.5 }", "churn.call_sentiment_threshold"},
      {"churn { call_min_count: 0 }", "churn.call_min_count"},
      {"churn { call_window_days: 0 }", "churn.call_window_days"},
      {"churn { weights { call_sentiment: -1 } }", "churn.weights.call_sentiment"},
      {"churn { evidence { threshold: 0 } }", "churn.evidence.threshold"},
      {"churn { evidence { call_sentiment_pivot: 2 } }", "churn.evidence.call_sentiment_pivot"},
      {"churn { evidence { decay_per_day: -0.1 } }", "churn.evidence.decay_per_day"},
      {"churn { evidence { complaint: nan } }", "churn.evidence.complaint"},
      {"churn { evidence { complaint_rate_ratio: -1 } }", "churn.evidence.complaint_rate_ratio"},
      {"churn { evidence { purchase_rate_ratio: inf } }", "churn.evidence.purchase_rate_ratio"},
      {"churn { evidence { min_exposure_days: -1 } }", "churn.evidence.min_exposure_days"},
      {"churn { evidence { competitor_lean_pivot: 2 } }", "churn.evidence.competitor_lean_pivot"},
      {"churn { evidence { critical_complaint: -1 } }", "churn.evidence.critical_complaint"},
      {"churn { evidence { survey_pivot: 1.5 } }", "churn.evidence.survey_pivot"},
      {"churn { evidence { unresolved_call_shift: 1 } }", "churn.evidence.unresolved_call_shift"},
      {"churn { evidence { call_sentiment_baseline: 2 } }",
       "churn.evidence.call_sentiment_baseline"},
      {"churn { evidence { call_sentiment_prior_calls: -1 } }",
       "churn.evidence.call_sentiment_prior_calls"},
      {"churn { evidence { late_payment_weight: -0.1 } }", "churn.evidence.late_payment_weight"},
      {"churn { evidence { late_payment_pivot: nan } }", "churn.evidence.late_payment_pivot"},
      {"churn { evidence { late_payment_floor: -1 } }", "churn.evidence.late_payment_floor"},
      {"churn { evidence { late_payment_cap: -1 } }", "churn.evidence.late_payment_cap"},
      {"churn { evidence { late_payment_prior_payments: -1 } }",
       "churn.evidence.late_payment_prior_payments"},
      {"churn { evidence { assessment_weight: inf } }", "churn.evidence.assessment_weight"},
      {"churn { evidence { assessment_pivot: 1.5 } }", "churn.evidence.assessment_pivot"},
      {"churn { evidence { assessment_baseline: -0.1 } }", "churn.evidence.assessment_baseline"},
      {"churn { evidence { assessment_prior: -1 } }", "churn.evidence.assessment_prior"},
  };
  for (const auto& [text, field] : cases) {
    auto config = guanxi::engine::ParseEngineConfig(text, "c");
    ASSERT_FALSE(config.ok()) << text;
    EXPECT_THAT(config.status().message(), HasSubstr(field)) << text;
  }
}

// --- The rules, each at its threshold ----------------------------------------------------

struct Row {
  Timestamp at;
  bool holds;
  double observed = 0;  // when it holds
  double points = 0;    // when it holds: the reason's weight (1) times 1 or 2 (severe)
};

void ExpectRows(const Customer& c, const std::string& code, const std::vector<Row>& rows) {
  for (const Row& row : rows) {
    SCOPED_TRACE(absl::StrCat(code, " at second ", row.at.seconds() - kBase));
    const auto reason = c.ReasonAt(row.at, code);
    ASSERT_EQ(reason.has_value(), row.holds);
    if (!row.holds) continue;
    EXPECT_DOUBLE_EQ(reason->observed(), row.observed);
    EXPECT_FALSE(reason->description().empty());
    EXPECT_DOUBLE_EQ(c.Assess(row.at).points, row.points);
  }
}

TEST(ChurnRulesTest, InactivityAtThreeTimesTheUsualGapAndSevereAtTwiceThat) {
  Customer c;
  for (int day : {0, 10, 20, 30, 40}) c.Observe(Order(day));
  EXPECT_DOUBLE_EQ(PurchaseRhythmDays(c.config(), c.state), 10);
  // Threshold 3 x 10 = 30 days after the last purchase (day 40): day 70; severe at 60
  // days (severe_factor 2): day 100.
  ExpectRows(c, "inactivity",
             {{Day(70, -1), false},
              {Day(70), true, 30, 1},
              {Day(100, -1), true, 60 - 1.0 / kDay, 1},
              {Day(100), true, 60, 2}});
  EXPECT_DOUBLE_EQ(c.ReasonAt(Day(70), "inactivity")->threshold(), 30);
  EXPECT_THAT(c.ReasonAt(Day(70), "inactivity")->description(),
              HasSubstr("no purchase for 30 days; usual gap 10.0 days"));
  // A purchase ends it.
  c.Observe(Order(75));
  EXPECT_THAT(c.Codes(Day(80)), IsEmpty());
}

TEST(ChurnRulesTest, SilenceIsInactivityWithNoContactEitherAndTakesItsPlace) {
  ChurnConfig config = TestConfig();
  config.mutable_weights()->set_silence(5);
  Customer buyer(config), caller(config);
  for (int day : {0, 10, 20, 30, 40}) {
    buyer.Observe(Order(day));
    caller.Observe(Order(day));
  }
  Event call = At(55);
  call.mutable_call()->set_call_id("k1");
  call.mutable_call()->set_direction(guanxi::v1::CALL_DIRECTION_INBOUND);
  caller.Observe(call);
  // Only purchases: 30 days after the last one (3 x the 10-day gap) it is silence, not
  // inactivity, worth the silence weight; severe at 60 days.
  EXPECT_THAT(buyer.Codes(Day(70, -1)), IsEmpty());
  EXPECT_THAT(buyer.Codes(Day(70)), ElementsAre("silence"));
  EXPECT_DOUBLE_EQ(buyer.Assess(Day(70)).points, 5);
  EXPECT_DOUBLE_EQ(buyer.Assess(Day(100)).points, 10);
  EXPECT_THAT(buyer.ReasonAt(Day(70), "silence")->description(),
              HasSubstr("no purchase and no contact of any kind for 30 days; usual gap 10.0 days"));
  // A call on day 55: no purchase for 30 days is inactivity (1 point) until the silence
  // since the call reaches 30 days too, on day 85.
  EXPECT_THAT(caller.Codes(Day(70)), ElementsAre("inactivity"));
  EXPECT_DOUBLE_EQ(caller.Assess(Day(70)).points, 1);
  EXPECT_THAT(caller.Codes(Day(85, -1)), ElementsAre("inactivity"));
  EXPECT_THAT(caller.Codes(Day(85)), ElementsAre("silence"));
  EXPECT_DOUBLE_EQ(caller.ReasonAt(Day(85), "silence")->observed(), 30);
  // The deadline arms the moment silence begins.
  caller.Evaluate(Day(70));
  ASSERT_TRUE(NextChurnDeadline(caller.config(), caller.state));
  EXPECT_EQ(NextChurnDeadline(caller.config(), caller.state)->seconds(), Day(85).seconds());
  // Its weight at 0 switches silence off and inactivity counts as before.
  Customer off;  // TestConfig: silence weight 0
  for (int day : {0, 10, 20, 30, 40}) off.Observe(Order(day));
  EXPECT_THAT(off.Codes(Day(70)), ElementsAre("inactivity"));
}

TEST(ChurnRulesTest, PurchaseRhythmIsTheMeanGapWithDefaultAndFloor) {
  const struct {
    std::vector<int> days;
    double rhythm;
  } cases[] = {
      {{}, 30},                  // no purchase: the default (not used: never checked)
      {{0, 10, 20}, 30},         // fewer than 4 purchase days: the default
      {{0, 10, 30, 36}, 12},     // gaps 10 20 6: 36 days over 3 gaps
      {{0, 5, 17, 20, 40}, 10},  // gaps 5 12 3 20: 40 days over 4 gaps
      {{0, 1, 2, 3, 4, 5}, 7},   // daily: the 7-day floor
      // Bursts of three days a month: the median gap would be 1 day (the 7-day floor),
      // which would call a normal month's pause inactivity; the mean is 90 days over 9.
      {{0, 1, 2, 30, 31, 32, 60, 61, 62, 90}, 10},
      // 20 purchase days, gaps 1 (x10) then 20 (x9): only the last 13 days (days 7 to
      // 190, 12 gaps) are kept: 183 days over 12 gaps.
      {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 30, 50, 70, 90, 110, 130, 150, 170, 190}, 183.0 / 12},
  };
  for (const auto& tc : cases) {
    Customer c;
    for (int day : tc.days) c.Observe(Order(day));
    EXPECT_DOUBLE_EQ(PurchaseRhythmDays(c.config(), c.state), tc.rhythm)
        << ::testing::PrintToString(tc.days);
    EXPECT_LE(c.state.churn_evidence().purchase_days_size(), 13);
  }
  // Same day twice is one purchase day; a late purchase lands in order.
  Customer in_order, shuffled;
  for (int day : {0, 10, 20, 30}) in_order.Observe(Order(day));
  for (int day : {0, 20, 30, 30}) shuffled.Observe(Order(day));
  shuffled.Observe(Order(10));
  EXPECT_EQ(shuffled.state.churn_evidence().SerializeAsString(),
            in_order.state.churn_evidence().SerializeAsString());
}

TEST(ChurnRulesTest, NeverPurchasedCustomerIsNotInactive) {
  Customer c;
  c.Observe(Complaint(0, "q1"));
  c.Observe(Resolved(1, "q1"));
  EXPECT_THAT(c.Codes(Day(500)), IsEmpty());
}

TEST(ChurnRulesTest, UnresolvedComplaintPastServiceLevelUntilMaxAge) {
  Customer c;
  c.Observe(Complaint(0, "q1"));
  ExpectRows(
      c, "unresolved_complaint",
      {{Day(14, -1), false}, {Day(14), true, 1, 1}, {Day(90, -1), true, 1, 1}, {Day(90), false}});
  EXPECT_THAT(c.ReasonAt(Day(20), "unresolved_complaint")->description(),
              HasSubstr("1 complaint open past the 14-day service level; the oldest, q1, for 20"));
  // Two overdue complaints: 2 >= severe_factor x 1, twice the weight.
  c.Observe(Complaint(5, "q2"));
  ExpectRows(c, "unresolved_complaint", {{Day(19), true, 2, 2}});
  // Resolved before its service level: never overdue.
  Customer r;
  r.Observe(Complaint(0, "q1"));
  r.Observe(Resolved(10, "q1"));
  EXPECT_THAT(r.Codes(Day(14)), IsEmpty());
}

TEST(ChurnRulesTest, ComplaintRunCountsComplaintsInTheWindow) {
  Customer c;
  c.Observe(Complaint(0, "q1"));
  c.Observe(Resolved(1, "q1"));
  c.Observe(Complaint(30, "q2"));
  c.Observe(Resolved(31, "q2"));
  ExpectRows(c, "complaint_run", {{Day(59), false}});
  c.Observe(Complaint(59, "q3"));
  c.Observe(Resolved(59.5, "q3"));
  // Three in the last 60 days until day 60, when the first is 60 days old.
  ExpectRows(c, "complaint_run",
             {{Day(59.5), true, 3, 1}, {Day(60, -1), true, 3, 1}, {Day(60), false}});
  for (int i = 0; i < 3; ++i) {
    c.Observe(Complaint(61 + i, absl::StrCat("r", i)));
    c.Observe(Resolved(61.5 + i, absl::StrCat("r", i)));
  }
  // Days 30, 59, 61, 62, 63: 5 in the window; severe at 2 x 3 = 6.
  ExpectRows(c, "complaint_run", {{Day(64), true, 5, 1}});
  c.Observe(Complaint(64, "r3"));
  c.Observe(Resolved(64.5, "r3"));
  ExpectRows(c, "complaint_run", {{Day(65), true, 6, 2}});
}

TEST(ChurnRulesTest, SatisfactionDropAgainstTheMeanOfTheSurveysBefore) {
  // 5 and 4 of 5 (100 and 75 of 100, mean 87.5), then 3 (50): a drop of 37.5.
  const struct {
    double threshold;
    bool holds;
  } cases[] = {{37.4, true}, {37.5, true}, {37.6, false}};
  for (const auto& tc : cases) {
    Customer c;
    c.config().set_satisfaction_drop(tc.threshold);
    c.Observe(Survey(0, 5));
    c.Observe(Survey(90, 4));
    c.Observe(Survey(180, 3));
    ExpectRows(c, "satisfaction_drop",
               {{Day(181), tc.holds, 37.5, 1},
                {Day(380, -1), tc.holds, 37.5, 1},
                {Day(380), false}});  // the latest survey is 200 days old
  }
  Customer c;
  c.Observe(Survey(0, 5));
  c.Observe(Survey(180, 3));
  EXPECT_THAT(c.ReasonAt(Day(181), "satisfaction_drop")->description(),
              HasSubstr("satisfaction 50/100 on 2026-06-30, down 50.0 points from 100"));
  // A recovered next survey ends it; a survey 200 days before is no baseline.
  c.Observe(Survey(200, 5));
  EXPECT_THAT(c.Codes(Day(201)), IsEmpty());
  Customer old;
  old.Observe(Survey(0, 5));
  old.Observe(Survey(200, 1));
  EXPECT_THAT(old.Codes(Day(201)), IsEmpty());
}

TEST(ChurnRulesTest, ScoreDropFromTheHighestDailyScoreInTheWindow) {
  const struct {
    double score;
    bool holds;
  } cases[] = {{62.25, false}, {62, true}, {61.75, true}};  // from 70: 7.75, 8, 8.25
  for (const auto& tc : cases) {
    Customer c;
    c.Observe(Order(0));
    c.state.set_overall_score(70);
    c.Evaluate(Day(0));
    c.state.set_overall_score(tc.score);
    ExpectRows(c, "score_drop",
               {{Day(10), tc.holds, 70 - tc.score, 1},
                {Day(59, kDay - 1), tc.holds, 70 - tc.score, 1},
                {Day(60), false}});  // day 0 is no longer among the last 60 days
  }
  // Severe at 2 x 8 = 16.
  Customer c;
  c.Observe(Order(0));
  c.state.set_overall_score(70);
  c.Evaluate(Day(0));
  c.state.set_overall_score(54);
  ExpectRows(c, "score_drop", {{Day(1), true, 16, 2}});
  EXPECT_THAT(c.ReasonAt(Day(1), "score_drop")->description(),
              HasSubstr("relationship score 54.0, down 16.0 points from 70.0 on 2026-01-01"));
}

TEST(ChurnRulesTest, ScoreHighsKeepOnlyWhatCanStillBeTheHighest) {
  Customer c;
  c.Observe(Order(0));
  const double scores[] = {60, 65, 63, 64, 50, 70, 40};
  for (int day = 0; day < 7; ++day) {
    c.state.set_overall_score(scores[day]);
    c.Evaluate(Day(day));
  }
  // 70 (day 5) is above all before it; then 40 (day 6).
  const auto& highs = c.state.churn_evidence().score_highs();
  ASSERT_EQ(highs.size(), 2);
  EXPECT_EQ(highs[0].at().seconds(), Day(5).seconds());
  EXPECT_DOUBLE_EQ(highs[0].value(), 70);
  EXPECT_DOUBLE_EQ(highs[1].value(), 40);
}

TEST(ChurnRulesTest, LatePaymentsAgainstMinimumAndBaseline) {
  const struct {
    int baseline_late;
    int recent_late;
    bool holds;
    double points;
  } cases[] = {
      {0, 9, false, 0},                     // threshold max(10, 0 + 7) = 10
      {0, 10, true, 1},  {0, 20, true, 2},  // severe: 2 x 10
      {5, 11, false, 0},                    // threshold max(10, 5 + 7) = 12
      {5, 12, true, 1},
  };
  for (const auto& tc : cases) {
    Customer c;
    for (int i = 0; i < 4; ++i) c.Observe(Payment(10 * i, tc.baseline_late));
    c.Observe(Payment(40, tc.recent_late));
    c.Observe(Payment(50, tc.recent_late));
    ExpectRows(c, "late_payments", {{Day(51), tc.holds, double(tc.recent_late), tc.points}});
  }
  // One late payment is not yet a trend; back to on time, the last two decide.
  Customer c;
  for (int i = 0; i < 4; ++i) c.Observe(Payment(10 * i, 0));
  c.Observe(Payment(40, 15));
  EXPECT_THAT(c.Codes(Day(41)), IsEmpty());  // (0 + 15) / 2 below 10
  c.Observe(Payment(50, 15));
  EXPECT_THAT(c.Codes(Day(51)), ElementsAre("late_payments"));
  c.Observe(Payment(60, 0));
  c.Observe(Payment(70, 0));
  EXPECT_THAT(c.Codes(Day(71)), IsEmpty());
  EXPECT_EQ(c.state.churn_evidence().payments_size(), 6);  // recent + baseline
}

TEST(ChurnRulesTest, RenewalDueWithinTheWindowWhileTheScoreIsLow) {
  Customer c;
  c.Observe(Contract(0, guanxi::v1::CONTRACT_MILESTONE_KIND_SIGNED));
  c.Observe(Contract(100, guanxi::v1::CONTRACT_MILESTONE_KIND_RENEWAL_DUE, 160));
  c.state.set_overall_score(54.9);
  // Due on day 160: from 60 days before until 60 days overdue.
  ExpectRows(c, "renewal_low_score",
             {{Day(100, -1), false},
              {Day(100), true, 54.9, 1},
              {Day(220, -1), true, 54.9, 1},
              {Day(220), false}});
  EXPECT_THAT(c.ReasonAt(Day(130), "renewal_low_score")->description(),
              HasSubstr("contract k1 renewal due 2026-06-10 (in 30 days) with relationship "
                        "score 54.9 below 55.0"));
  c.state.set_overall_score(55);
  EXPECT_THAT(c.Codes(Day(130)), IsEmpty());
  c.state.set_overall_score(40);
  c.Observe(Contract(150, guanxi::v1::CONTRACT_MILESTONE_KIND_RENEWED));
  c.state.set_overall_score(40);
  EXPECT_THAT(c.Codes(Day(151)), IsEmpty());
  // A renewal date carried by a signed contract counts too; termination ends it.
  Customer s;
  s.Observe(Contract(0, guanxi::v1::CONTRACT_MILESTONE_KIND_SIGNED, 365));
  s.state.set_overall_score(30);
  EXPECT_THAT(s.Codes(Day(305, -1)), IsEmpty());
  EXPECT_THAT(s.Codes(Day(305)), ElementsAre("renewal_low_score"));
  s.Observe(Contract(310, guanxi::v1::CONTRACT_MILESTONE_KIND_TERMINATED));
  s.state.set_overall_score(30);
  EXPECT_THAT(s.Codes(Day(311)), IsEmpty());
}

TEST(ChurnRulesTest, ChampionLeftUntilLookbackOrANewChampion) {
  Customer c;
  c.Observe(Champion(5, guanxi::v1::CONTACT_CHANGE_KIND_LEFT));
  ExpectRows(c, "champion_left",
             {{Day(5), true, 0, 1}, {Day(125, -1), true, 120 - 1.0 / kDay, 1}, {Day(125), false}});
  EXPECT_THAT(c.ReasonAt(Day(6), "champion_left")->description(),
              HasSubstr("champion p5 left on 2026-01-06"));  // by id: names are personal
  c.Observe(Champion(20, guanxi::v1::CONTACT_CHANGE_KIND_JOINED));
  EXPECT_THAT(c.Codes(Day(21)), IsEmpty());
  Customer other;
  other.Observe(Champion(5, guanxi::v1::CONTACT_CHANGE_KIND_LEFT, /*champion=*/false));
  EXPECT_THAT(other.Codes(Day(6)), IsEmpty());
}

TEST(ChurnRulesTest, ContractTerminatedUntilLookbackOrANewContract) {
  Customer c;
  c.config().mutable_weights()->set_contract_terminated(1);
  c.Observe(Contract(0, guanxi::v1::CONTRACT_MILESTONE_KIND_SIGNED));
  EXPECT_THAT(c.Codes(Day(1)), IsEmpty());
  c.Observe(Contract(5, guanxi::v1::CONTRACT_MILESTONE_KIND_TERMINATED));
  ExpectRows(c, "contract_terminated",
             {{Day(5), true, 0, 1}, {Day(125, -1), true, 120 - 1.0 / kDay, 1},
              {Day(125), false}});  // no severe form
  EXPECT_EQ(c.ReasonAt(Day(6), "contract_terminated")->description(),
            "contract k1 terminated on 2026-01-06, no active contract left");
  EXPECT_EQ(NextChurnDeadline(c.config(), c.state)->seconds(), Day(125).seconds());
  c.Observe(Contract(20, guanxi::v1::CONTRACT_MILESTONE_KIND_SIGNED));  // a contract again
  EXPECT_THAT(c.Codes(Day(21)), IsEmpty());
  // Terminating one of two contracts leaves one active: no reason.
  Customer two;
  two.config().mutable_weights()->set_contract_terminated(1);
  Event other = Contract(0, guanxi::v1::CONTRACT_MILESTONE_KIND_SIGNED);
  other.mutable_contract()->set_contract_id("k2");
  two.Observe(other);
  two.Observe(Contract(1, guanxi::v1::CONTRACT_MILESTONE_KIND_SIGNED));
  two.Observe(Contract(5, guanxi::v1::CONTRACT_MILESTONE_KIND_TERMINATED));
  EXPECT_THAT(two.Codes(Day(6)), IsEmpty());
}

TEST(ChurnRulesTest, LowScoreBelowTheThresholdAndSevereAtItsFraction) {
  Customer c;
  c.config().mutable_weights()->set_low_score(1);
  c.Observe(Visit(0, guanxi::v1::OUTCOME_NEUTRAL));
  const struct {
    double score;
    bool holds;
    double points;
  } cases[] = {{40, false, 0}, {39.9, true, 1}, {20.1, true, 1}, {20, true, 2}};  // 40 / 2
  for (const auto& tc : cases) {
    c.state.set_overall_score(tc.score);
    const auto reason = c.ReasonAt(Day(1), "low_score");
    ASSERT_EQ(reason.has_value(), tc.holds) << tc.score;
    EXPECT_DOUBLE_EQ(c.Assess(Day(1)).points, tc.points);
    if (reason) {
      EXPECT_DOUBLE_EQ(reason->observed(), tc.score);
    }
  }
}

TEST(ChurnRulesTest, CompetitorSignalsLeaningAwayInTheWindow) {
  const struct {
    double lean;
    bool holds;
  } cases[] = {{-0.29, false}, {-0.3, true}, {-0.31, true}, {0.5, false}};
  for (const auto& tc : cases) {
    Customer c;
    c.Observe(Competitor(0, tc.lean));
    ExpectRows(c, "competitor_signal",
               {{Day(1), tc.holds, 1, 1}, {Day(90, -1), tc.holds, 1, 1}, {Day(90), false}});
  }
  Customer c;
  c.Observe(Competitor(0, -0.5));
  c.Observe(Competitor(10, -0.9));
  ExpectRows(c, "competitor_signal", {{Day(11), true, 2, 2}});  // severe: 2 x 1
}

TEST(ChurnRulesTest, CallSentimentIsTheMeanOverTheCallsInTheWindow) {
  Customer c;
  c.Observe(Call(0, -0.1));
  EXPECT_THAT(c.Codes(Day(1)), IsEmpty());  // one call: fewer than call_min_count
  c.Observe(Call(5, std::nullopt));         // not scored: does not count
  c.Observe(Call(10, -0.4));
  // Mean (-0.1 - 0.4) / 2 = -0.25 <= -0.2, until the call of day 0 leaves the 60-day window.
  ExpectRows(c, "call_sentiment",
             {{Day(10), true, -0.25, 1}, {Day(60, -1), true, -0.25, 1}, {Day(60), false}});
  EXPECT_THAT(c.ReasonAt(Day(11), "call_sentiment")->description(),
              HasSubstr("mean sentiment -0.25 over 2 calls in the last 60 days (lowest -0.40)"));
  // A good call lifts the mean above the threshold: (-0.1 - 0.4 + 0.5) / 3 = 0.
  c.Observe(Call(20, 0.5));
  EXPECT_THAT(c.Codes(Day(21)), IsEmpty());

  Customer at_threshold;
  at_threshold.Observe(Call(0, -0.2));
  at_threshold.Observe(Call(1, -0.2));
  ExpectRows(at_threshold, "call_sentiment", {{Day(2), true, -0.2, 1}});
  Customer above;
  above.Observe(Call(0, -0.1));
  above.Observe(Call(1, -0.2));
  EXPECT_THAT(above.Codes(Day(2)), IsEmpty());
}

// TestConfig: calls add 2 x (0 - sentiment), a complaint 1, a competitor signal leaning
// away 1.5, a late payment 1, a negative visit 0.5; -0.1 a day; holds at 2, severe at 4.
// TestConfig with decline_evidence as the only rule.
ChurnConfig EvidenceOnlyConfig() {
  ChurnConfig config = TestConfig();
  guanxi::v1::ChurnReasonWeights only;
  only.set_decline_evidence(1);
  *config.mutable_weights() = only;
  return config;
}

TEST(ChurnRulesTest, DeclineEvidenceAddsSmallSignsAndFadesWithTime) {
  Customer c(EvidenceOnlyConfig());
  c.Observe(Complaint(0, "q1"));  // 1
  c.Observe(Call(5, -0.25));      // 1 - 0.5 + 0.5 = 1
  EXPECT_THAT(c.Codes(Day(5)), Not(Contains("decline_evidence")));
  c.Observe(Visit(5, guanxi::v1::OUTCOME_NEGATIVE));  // 1.5
  c.Observe(Competitor(5, -0.5));                     // 3.0
  c.Observe(Visit(5, guanxi::v1::OUTCOME_POSITIVE));  // nothing
  // 3.0 on day 5, less 0.1 a day: 2.0 on day 15, below 2 just after.
  ExpectRows(c, "decline_evidence",
             {{Day(5), true, 3.0, 1}, {Day(15), true, 2.0, 1}, {Day(15, 1), false}});
  EXPECT_THAT(c.ReasonAt(Day(6), "decline_evidence")->description(),
              HasSubstr("weight of evidence of a decline 2.9, at or above 2.0; latest signs: "
                        "complaint +1.0 (2026-01-01), call sentiment -0.25 +0.5 (2026-01-06), "
                        "negative visit +0.5 (2026-01-06), competitor signal lean -0.50 +1.5 "
                        "(2026-01-06); falling 0.10 a day"));
  EXPECT_EQ(c.state.churn_evidence().decline_evidence_at().seconds(), Day(5).seconds());

  // A good call takes evidence away, never below 0.
  c.Observe(Call(6, 1.0));  // 2.9 - 2 = 0.9
  EXPECT_THAT(c.Codes(Day(6)), Not(Contains("decline_evidence")));
  EXPECT_EQ(c.state.churn_evidence().decline_signs_size(), 5);
  c.Observe(Call(7, 1.0));  // 0.8 - 2 -> 0: the signs before no longer count
  EXPECT_DOUBLE_EQ(c.state.churn_evidence().decline_evidence(), 0);
  EXPECT_EQ(c.state.churn_evidence().decline_signs_size(), 0);

  // Severe at twice the threshold (severe_factor 2): 4 late payments of 10 days = 4.
  Customer late(EvidenceOnlyConfig());
  for (int i = 0; i < 4; ++i) late.Observe(Payment(10, 10));
  ExpectRows(late, "decline_evidence", {{Day(10), true, 4, 2}});
  // A payment less late than late_payment_min_days (10) adds nothing.
  Customer on_time(EvidenceOnlyConfig());
  on_time.Observe(Payment(10, 9));
  EXPECT_DOUBLE_EQ(on_time.state.churn_evidence().decline_evidence(), 0);
}

// EvidenceOnlyConfig with no decay and no fixed weights: only what a test sets counts.
ChurnConfig RatesOnlyConfig() {
  ChurnConfig config = EvidenceOnlyConfig();
  auto* e = config.mutable_evidence();
  e->set_call_sentiment_weight(0);
  e->set_complaint(0);
  e->set_competitor_signal(0);
  e->set_late_payment(0);
  e->set_negative_visit(0);
  e->set_decay_per_day(0);
  e->set_min_exposure_days(10);
  return config;
}

double EvidenceOf(const Customer& c) { return c.state.churn_evidence().decline_evidence(); }
double DriftOf(const Customer& c) { return c.state.churn_evidence().decline_drift(); }

TEST(ChurnRulesTest, DeclineEvidenceWeighsRatesAgainstTheCustomersOwn) {
  ChurnConfig config = RatesOnlyConfig();
  config.mutable_evidence()->set_complaint_rate_ratio(3);
  Customer c(config);
  c.Observe(Order(0));
  // No complaint yet: the own rate is (0 + 1/2) / 10 days (min_exposure_days).
  EXPECT_DOUBLE_EQ(EvidenceOf(c), 0);
  EXPECT_DOUBLE_EQ(DriftOf(c), -2 * 0.5 / 10);
  c.Observe(Complaint(20, "q1"));  // 0 (it fell no lower) + log 3
  EXPECT_DOUBLE_EQ(EvidenceOf(c), std::log(3.0));
  EXPECT_DOUBLE_EQ(DriftOf(c), -2 * 1.5 / 20);
  c.Observe(Complaint(20, "q2"));  // 2 log 3 = 2.197: holds (threshold 2)
  EXPECT_DOUBLE_EQ(EvidenceOf(c), 2 * std::log(3.0));
  EXPECT_DOUBLE_EQ(DriftOf(c), -2 * 2.5 / 20);
  // Falls 0.25 a day: below 2 after 0.79 days.
  EXPECT_NEAR(c.ReasonAt(Day(20.5), "decline_evidence")->observed(), 2 * std::log(3.0) - 0.25 * 0.5,
              1e-12);
  EXPECT_THAT(c.ReasonAt(Day(20.5), "decline_evidence")->description(),
              HasSubstr("latest signs: complaint +1.1 (2026-01-21), complaint +1.1 (2026-01-21); "
                        "falling 0.25 a day"));
  EXPECT_FALSE(c.ReasonAt(Day(20.8), "decline_evidence"));
  const auto deadline = NextChurnDeadline(c.config(), c.state);
  ASSERT_TRUE(deadline);
  Timestamp before = *deadline;
  before.set_seconds(before.seconds() - 1);
  EXPECT_TRUE(c.ReasonAt(before, "decline_evidence"));
  EXPECT_FALSE(c.ReasonAt(*deadline, "decline_evidence"));
}

TEST(ChurnRulesTest, DeclineEvidenceRisesWhilePurchasesFailToCome) {
  ChurnConfig config = RatesOnlyConfig();
  config.mutable_evidence()->set_purchase_rate_ratio(0.5);
  Customer c(config);
  c.Observe(Order(0));  // log 0.5 < 0: stays 0
  EXPECT_DOUBLE_EQ(EvidenceOf(c), 0);
  // One purchase day in 10 (min_exposure_days): +0.5 x 1.5 / 10 = 0.075 a day.
  EXPECT_DOUBLE_EQ(DriftOf(c), 0.075);
  EXPECT_FALSE(c.ReasonAt(Day(26), "decline_evidence"));
  EXPECT_THAT(c.ReasonAt(Day(27), "decline_evidence")->description(),
              HasSubstr("rising 0.07 a day"));
  // The deadline is the first second at which 0.075 a day reaches 2.
  const auto deadline = NextChurnDeadline(c.config(), c.state);
  ASSERT_TRUE(deadline);
  Timestamp before = *deadline;
  before.set_seconds(before.seconds() - 1);
  EXPECT_FALSE(c.ReasonAt(before, "decline_evidence"));
  EXPECT_TRUE(c.ReasonAt(*deadline, "decline_evidence"));
  EXPECT_NEAR(static_cast<double>(deadline->seconds() - Day(0).seconds()) / kDay, 2 / 0.075,
              1.0 / kDay);
  // A purchase takes log 2 away and slows the rise: 2 purchase days in 30.
  c.Observe(Order(20));
  EXPECT_NEAR(EvidenceOf(c), 0.075 * 20 - std::log(2.0), 1e-12);
  EXPECT_DOUBLE_EQ(DriftOf(c), 0.5 * 2.5 / 20);
}

TEST(ChurnRulesTest, DeclineEvidenceReadsResolutionAgainstTheCustomersOwnShare) {
  ChurnConfig config = RatesOnlyConfig();
  config.mutable_evidence()->set_unresolved_call_shift(0.5);
  auto resolved_call = [](double day, bool resolved) {
    Event e = Call(day, std::nullopt);
    e.mutable_call()->set_resolved(resolved);
    return e;
  };
  // Calls are usually resolved here: an unresolved one after ten says a lot.
  Customer usual(config);
  for (int i = 0; i < 10; ++i) usual.Observe(resolved_call(i, true));  // log 0.5 each: stays 0
  EXPECT_DOUBLE_EQ(EvidenceOf(usual), 0);
  usual.Observe(resolved_call(10, false));
  const double q = 0.5 / 11;                                           // (0 + 1/2) / (10 + 1)
  EXPECT_DOUBLE_EQ(EvidenceOf(usual), std::log1p((1 - q) * 0.5 / q));  // log 11.5
  EXPECT_TRUE(usual.ReasonAt(Day(10), "decline_evidence"));
  // A source that never marks calls resolved: its share is near 1, so little evidence.
  Customer never(config);
  for (int i = 0; i < 40; ++i) never.Observe(resolved_call(i, false));
  EXPECT_GT(EvidenceOf(never), 0);
  EXPECT_LT(EvidenceOf(never), 1.5);
}

TEST(ChurnRulesTest, DeclineEvidenceMovesTheSentimentPivotWithTheCustomersOwnMean) {
  ChurnConfig config = RatesOnlyConfig();
  auto* e = config.mutable_evidence();
  e->set_call_sentiment_weight(2);
  e->set_call_sentiment_pivot(0);
  e->set_call_sentiment_baseline(0.3);
  e->set_call_sentiment_prior_calls(4);
  Customer c(config);
  // The first call is read against the baseline alone: pivot 0, 2 x (0 + 0.2) = 0.4.
  c.Observe(Call(0, -0.2));
  EXPECT_NEAR(EvidenceOf(c), 0.4, 1e-12);
  // Own mean (-0.2 + 4 x 0.3) / 5 = 0.2: pivot 0 + (0.2 - 0.3) = -0.1, adds 0.2.
  c.Observe(Call(0, -0.2));
  EXPECT_NEAR(EvidenceOf(c), 0.6, 1e-12);
  // (-0.4 + 1.2) / 6: a customer whose calls always score -0.2 soon adds nothing.
  c.Observe(Call(0, -0.2));
  EXPECT_NEAR(EvidenceOf(c), 0.6 + 2 * (0.8 / 6 - 0.3 + 0.2), 1e-12);
  // A call well below its own usual still counts: (-0.6 + 1.2) / 7 = 0.0857.
  c.Observe(Call(0, -0.8));
  EXPECT_NEAR(EvidenceOf(c), 0.6 + 2 * (0.8 / 6 - 0.1) + 2 * (0.6 / 7 - 0.3 + 0.8), 1e-12);
  // A call without a sentiment moves nothing.
  const double before = EvidenceOf(c);
  c.Observe(Call(0, std::nullopt));
  EXPECT_DOUBLE_EQ(EvidenceOf(c), before);
  EXPECT_EQ(c.state.churn_evidence().scored_calls(), 4);
}

TEST(ChurnRulesTest, DeclineEvidenceReadsTheMarksOfEachEvent) {
  ChurnConfig config = RatesOnlyConfig();
  auto* e = config.mutable_evidence();
  e->set_competitor_lean_weight(3);
  e->set_competitor_lean_pivot(0.1);
  e->set_critical_complaint(2.5);
  e->set_unsatisfied_resolution(0.75);
  e->set_survey_weight(4);
  e->set_survey_pivot(0.75);
  Customer c(config);
  c.Observe(Competitor(0, -0.3));  // 3 x (0.1 + 0.3) = 1.2
  EXPECT_NEAR(EvidenceOf(c), 1.2, 1e-12);
  c.Observe(Competitor(0, 0.5));  // 3 x (0.1 - 0.5) = -1.2
  EXPECT_NEAR(EvidenceOf(c), 0, 1e-12);
  c.Observe(Competitor(0, -7));  // read as -1: 3 x 1.1 = 3.3
  EXPECT_NEAR(EvidenceOf(c), 3.3, 1e-12);
  c.Observe(Competitor(0, 7));  // read as +1: 3 x (0.1 - 1) = -2.7
  c.Observe(Competitor(0, 1));  // -2.7: back to 0
  EXPECT_NEAR(EvidenceOf(c), 0, 1e-12);
  Event critical = Complaint(1, "q1");
  critical.mutable_complaint()->set_severity(guanxi::v1::SEVERITY_CRITICAL);
  c.Observe(critical);            // 2.5
  c.Observe(Complaint(1, "q2"));  // medium: nothing (complaint 0, no rate ratio)
  EXPECT_DOUBLE_EQ(EvidenceOf(c), 2.5);
  Event unsatisfied = Resolved(2, "q1");
  unsatisfied.mutable_complaint_resolved()->set_customer_satisfied(false);
  c.Observe(unsatisfied);        // 0.75
  c.Observe(Resolved(2, "q2"));  // satisfied: nothing
  EXPECT_DOUBLE_EQ(EvidenceOf(c), 3.25);
  c.Observe(Survey(3, 3));  // 0.5 on 0..1: 4 x (0.75 - 0.5) = 1
  EXPECT_DOUBLE_EQ(EvidenceOf(c), 4.25);
  c.Observe(Survey(4, 5));  // 1.0: 4 x (0.75 - 1) = -1
  EXPECT_DOUBLE_EQ(EvidenceOf(c), 3.25);
  EXPECT_THAT(c.ReasonAt(Day(4), "decline_evidence")->description(),
              HasSubstr("critical complaint +2.5 (2026-01-02), complaint resolved, customer not "
                        "satisfied +0.8 (2026-01-03), survey satisfaction 50/100 +1.0 "
                        "(2026-01-04), survey satisfaction 100/100 -1.0 (2026-01-05)"));
}

TEST(ChurnRulesTest, DeclineEvidenceGradesAPaymentAgainstTheCustomersOwnPunctuality) {
  ChurnConfig config = RatesOnlyConfig();
  auto* e = config.mutable_evidence();
  e->set_late_payment(0.5);  // besides, at late_payment_min_days (10) or more
  e->set_late_payment_weight(0.5);
  e->set_late_payment_pivot(2);
  e->set_late_payment_floor(1);
  e->set_late_payment_cap(3);
  e->set_late_payment_prior_payments(2);
  Customer c(config);
  // The first payment is read against 2 payments' worth of on time: 0.5 x (4 - 0 - 2).
  c.Observe(Payment(0, 4));
  EXPECT_DOUBLE_EQ(EvidenceOf(c), 1);
  // Usual (4 + 0) / 3: 0.5 x (6 - 4/3 - 2) = 1.33.
  c.Observe(Payment(1, 6));
  EXPECT_NEAR(EvidenceOf(c), 1 + 0.5 * (6 - 4.0 / 3 - 2), 1e-12);
  // A payment on time takes away at most the floor: 0.5 x (0 - 10/4 - 2) = -2.25 -> -1.
  c.Observe(Payment(2, 0));
  EXPECT_NEAR(EvidenceOf(c), 1.333333333333333, 1e-12);
  // Very late: at most the cap (3), plus late_payment (0.5) at 10 days or more.
  c.Observe(Payment(30, 25));
  EXPECT_NEAR(EvidenceOf(c), 4.833333333333333, 1e-12);
  EXPECT_EQ(c.state.churn_evidence().timed_payments(), 4);
  EXPECT_DOUBLE_EQ(c.state.churn_evidence().days_late_sum(), 35);
  EXPECT_THAT(c.ReasonAt(Day(30), "decline_evidence")->description(),
              HasSubstr("latest signs: payment 4 days late (usually 0.0) +1.0 (2026-01-01), "
                        "payment 6 days late (usually 1.3) +1.3 (2026-01-02), payment on time "
                        "(usually 2.5) -1.0 (2026-01-03), payment 25 days late (usually 2.0) "
                        "+3.5 (2026-01-31)"));
  // A payment without a due date is not read.
  Event undated = Payment(31, 40);
  undated.mutable_payment()->clear_due_at();
  c.Observe(undated);
  EXPECT_EQ(c.state.churn_evidence().timed_payments(), 4);

  // A customer who always pays 12 days late: its twelfth payment so is no sign, while
  // the same payment from a punctual customer is.
  Customer habit(config);
  for (int i = 0; i < 11; ++i) habit.Observe(Payment(i, 12));
  const double before = EvidenceOf(habit);
  habit.Observe(Payment(11, 12));  // usual 132 / 13 = 10.2: 0.5 x (12 - 10.2 - 2) < 0
  EXPECT_LT(EvidenceOf(habit), before + 0.5);
  Customer punctual(config);
  for (int i = 0; i < 11; ++i) punctual.Observe(Payment(i, 0));
  punctual.Observe(Payment(11, 12));  // 0.5 (late_payment) + min(3, 0.5 x 10)
  EXPECT_DOUBLE_EQ(EvidenceOf(punctual), 3.5);

  // Without late_payment_weight, only late_payment counts, at late_payment_min_days.
  ChurnConfig fixed_only = config;
  fixed_only.mutable_evidence()->set_late_payment_weight(0);
  Customer fixed(fixed_only);
  fixed.Observe(Payment(0, 9));
  EXPECT_DOUBLE_EQ(EvidenceOf(fixed), 0);
  fixed.Observe(Payment(1, 10));
  EXPECT_DOUBLE_EQ(EvidenceOf(fixed), 0.5);
  EXPECT_EQ(fixed.state.churn_evidence().timed_payments(), 0);  // not counted either
  EXPECT_FALSE(fixed.ReasonAt(Day(1), "decline_evidence"));
  fixed.config().mutable_evidence()->set_threshold(0.5);
  EXPECT_THAT(fixed.ReasonAt(Day(1), "decline_evidence")->description(),
              HasSubstr("latest signs: payment 10 days late +0.5 (2026-01-02)"));
}

TEST(ChurnRulesTest, DeclineEvidenceReadsAnAssessmentAgainstTheCustomersOwn) {
  ChurnConfig config = RatesOnlyConfig();
  auto* e = config.mutable_evidence();
  e->set_assessment_weight(40);
  e->set_assessment_pivot(0.05);
  e->set_assessment_baseline(0.6);
  e->set_assessment_prior(1);
  Customer c(config);
  // The first one against the baseline alone: 40 x (0.6 - 0.45 - 0.05) = 4.
  c.Observe(Assessment(0, 45));
  EXPECT_NEAR(EvidenceOf(c), 4, 1e-12);
  // Then against (0.6 + 0.45) / 2 = 0.525: a 70 takes 40 x (0.525 - 0.7 - 0.05) = 9 away.
  c.Observe(Assessment(91, 70));
  EXPECT_DOUBLE_EQ(EvidenceOf(c), 0);
  // Usual (0.6 + 0.45 + 0.7) / 3 = 0.583: a fall to 40 adds 40 x (0.583 - 0.4 - 0.05).
  c.Observe(Assessment(182, 40));
  EXPECT_NEAR(EvidenceOf(c), 40 * (1.75 / 3 - 0.45), 1e-12);
  EXPECT_THAT(c.ReasonAt(Day(182), "decline_evidence")->description(),
              HasSubstr("latest signs: assessment 40/100 (usually 58) +5.3 (2026-07-02)"));
  // Only rated dimensions count, each within 0..100; with none rated, nothing is read.
  Event partial = At(183);
  partial.mutable_assessment()->set_acceptance(250);
  partial.mutable_assessment()->set_guidance(0);  // mean 50
  Event unrated = At(184);
  unrated.mutable_assessment()->set_assessor("am-1");
  c.Observe(partial);
  c.Observe(unrated);
  EXPECT_EQ(c.state.churn_evidence().assessments(), 4);
  EXPECT_NEAR(c.state.churn_evidence().assessment_sum(), 0.45 + 0.7 + 0.4 + 0.5, 1e-12);
  // With assessment_weight 0 they are neither read nor counted.
  ChurnConfig off = config;
  off.mutable_evidence()->set_assessment_weight(0);
  Customer unread(off);
  unread.Observe(Assessment(0, 10));
  EXPECT_DOUBLE_EQ(EvidenceOf(unread), 0);
  EXPECT_EQ(unread.state.churn_evidence().assessments(), 0);
}

TEST(ChurnRulesTest, LowPAliveOnlyWithABgNbdModel) {
  guanxi::v1::ModelRecord with_fit;
  with_fit.mutable_bgnbd()->set_r(1);
  guanxi::v1::ModelRecord without_fit;
  const struct {
    const guanxi::v1::ModelRecord* model;
    double p_alive;
    bool holds;
    double points;
  } cases[] = {{&with_fit, 0.31, false, 0}, {&with_fit, 0.3, false, 0},
               {&with_fit, 0.29, true, 1},  {&with_fit, 0.15, true, 2},
               {nullptr, 0.01, false, 0},   {&without_fit, 0.01, false, 0}};
  for (const auto& tc : cases) {
    Customer c;
    c.Observe(Order(0));
    c.model = tc.model;
    c.state.set_p_alive(tc.p_alive);
    const auto reason = c.ReasonAt(Day(1), "low_p_alive");
    ASSERT_EQ(reason.has_value(), tc.holds) << tc.p_alive;
    if (reason) {
      EXPECT_DOUBLE_EQ(reason->observed(), tc.p_alive);
      EXPECT_DOUBLE_EQ(c.Assess(Day(1)).points, tc.points);
    }
  }
}

TEST(ChurnRulesTest, ChurnRiskOnlyOnceTheRiskIsKnown) {
  // Threshold 0.8, severe_factor 2: severe once the chance of any purchase or contact,
  // 1 - risk, is 0.2 / 2 = 0.1 or less.
  const struct {
    std::optional<double> risk;
    bool holds;
    double points;
  } cases[] = {{std::nullopt, false, 0}, {0.79, false, 0}, {0.8, true, 1},
               {0.89, true, 1},          {0.9, true, 2},   {0.99, true, 2}};
  for (const auto& tc : cases) {
    Customer c;
    c.config().mutable_weights()->set_churn_risk(1);
    c.Observe(Order(0));
    if (tc.risk) c.state.set_churn_risk(*tc.risk);
    const auto reason = c.ReasonAt(Day(1), "churn_risk");
    ASSERT_EQ(reason.has_value(), tc.holds) << tc.risk.value_or(-1);
    if (reason) {
      EXPECT_DOUBLE_EQ(reason->observed(), *tc.risk);
      EXPECT_DOUBLE_EQ(reason->threshold(), 0.8);
      EXPECT_THAT(reason->description(), HasSubstr("in the next 90 days"));
      EXPECT_DOUBLE_EQ(c.Assess(Day(1)).points, tc.points);
    }
  }
}

TEST(ChurnRulesTest, ZeroWeightSwitchesARuleOff) {
  Customer c;
  c.config().mutable_weights()->set_competitor_signal(0);
  c.Observe(Competitor(0, -1));
  EXPECT_THAT(c.Codes(Day(1)), IsEmpty());
}

// --- Levels ----------------------------------------------------------------------------

TEST(ChurnLevelTest, PointsOfTheReasonsGiveTheLevel) {
  Customer c;  // watch 1, warning 2, critical 3, every weight 1
  c.config().mutable_weights()->set_champion_left(1.5);
  EXPECT_EQ(c.Assess(Day(0)).level, guanxi::v1::WARNING_LEVEL_UNSPECIFIED);
  c.Observe(Competitor(0, -0.5));
  EXPECT_EQ(c.Assess(Day(1)).level, guanxi::v1::WARNING_LEVEL_WATCH);  // 1
  c.Observe(Champion(1, guanxi::v1::CONTACT_CHANGE_KIND_LEFT));
  EXPECT_DOUBLE_EQ(c.Assess(Day(2)).points, 2.5);
  EXPECT_EQ(c.Assess(Day(2)).level, guanxi::v1::WARNING_LEVEL_WARNING);
  c.Observe(Complaint(2, "q1"));
  // From day 16 the complaint is overdue: 3.5 points.
  EXPECT_EQ(c.Assess(Day(16)).level, guanxi::v1::WARNING_LEVEL_CRITICAL);
  // Reasons come in the fixed order of the codes.
  EXPECT_THAT(c.Codes(Day(16)),
              ElementsAre("unresolved_complaint", "champion_left", "competitor_signal"));
}

// --- Episodes: hysteresis ----------------------------------------------------------------

TEST(ChurnEpisodeTest, RaisedOnceEscalatedOnRiseResolvedAfterQuietPeriod) {
  Customer c;
  c.state.set_customer_id("c1");
  auto raised = c.Feed(Competitor(0, -0.5));  // 1 point: watch
  ASSERT_TRUE(raised);
  EXPECT_EQ(raised->notice(), guanxi::v1::WARNING_NOTICE_RAISED);
  EXPECT_EQ(raised->level(), guanxi::v1::WARNING_LEVEL_WATCH);
  EXPECT_EQ(raised->warning_id(), "c1/1");  // the position of the competitor signal
  EXPECT_EQ(raised->position(), 1u);
  EXPECT_EQ(raised->partition(), 3);
  EXPECT_EQ(raised->event_time().seconds(), Day(0).seconds());
  EXPECT_EQ(raised->customer_id(), "c1");
  ASSERT_EQ(raised->reasons_size(), 1);
  EXPECT_EQ(raised->reasons(0).code(), "competitor_signal");
  EXPECT_DOUBLE_EQ(raised->score(), c.state.overall_score());
  EXPECT_EQ(raised->stage(), c.state.stage());
  EXPECT_EQ(raised->p_alive(), 0);  // no model

  // The same episode at the same level: nothing, however often evaluated.
  EXPECT_FALSE(c.Evaluate(Day(1)));
  EXPECT_FALSE(c.Evaluate(Day(1.5)));
  // A second signal: two is severe (2 points): warning, escalated, the same id.
  auto escalated = c.Feed(Competitor(2, -0.4));
  ASSERT_TRUE(escalated);
  EXPECT_EQ(escalated->notice(), guanxi::v1::WARNING_NOTICE_ESCALATED);
  EXPECT_EQ(escalated->level(), guanxi::v1::WARNING_LEVEL_WARNING);
  EXPECT_EQ(escalated->warning_id(), "c1/1");
  EXPECT_FALSE(c.Evaluate(Day(3)));

  // The champion leaves: 3 points, critical.
  auto critical = c.Feed(Champion(4, guanxi::v1::CONTACT_CHANGE_KIND_LEFT));
  ASSERT_TRUE(critical);
  EXPECT_EQ(critical->notice(), guanxi::v1::WARNING_NOTICE_ESCALATED);
  EXPECT_EQ(critical->level(), guanxi::v1::WARNING_LEVEL_CRITICAL);
  EXPECT_EQ(critical->warning_id(), "c1/1");
  // Down to warning (a new champion) and back to critical (the next one leaves): the
  // episode already notified critical, so nothing.
  EXPECT_FALSE(c.Feed(Champion(5, guanxi::v1::CONTACT_CHANGE_KIND_JOINED)));
  EXPECT_FALSE(c.Feed(Champion(6, guanxi::v1::CONTACT_CHANGE_KIND_LEFT)));
  EXPECT_FALSE(c.Feed(Champion(7, guanxi::v1::CONTACT_CHANGE_KIND_JOINED)));

  // The signals expire at day 90 and 92: quiet from day 92. Resolved 30 days later.
  EXPECT_FALSE(c.Evaluate(Day(91)));  // one signal left (1 point)
  EXPECT_FALSE(c.Evaluate(Day(92)));  // quiet since day 92
  EXPECT_EQ(c.state.churn_episode().quiet_since().seconds(), Day(92).seconds());
  EXPECT_FALSE(c.Evaluate(Day(122, -1)));
  auto resolved = c.Evaluate(Day(122));
  ASSERT_TRUE(resolved);
  EXPECT_EQ(resolved->notice(), guanxi::v1::WARNING_NOTICE_RESOLVED);
  EXPECT_EQ(resolved->level(), guanxi::v1::WARNING_LEVEL_CRITICAL);  // the episode's level
  EXPECT_EQ(resolved->warning_id(), "c1/1");
  EXPECT_THAT(resolved->reasons(), IsEmpty());
  EXPECT_TRUE(c.state.churn_episode().warning_id().empty());
  EXPECT_FALSE(c.Evaluate(Day(130)));  // closed: nothing more

  // A new episode gets a new id: the position that raised it.
  auto again = c.Feed(Competitor(140, -0.6));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->notice(), guanxi::v1::WARNING_NOTICE_RAISED);
  EXPECT_EQ(again->warning_id(), absl::StrCat("c1/", c.position));
  EXPECT_NE(again->warning_id(), "c1/1");
}

TEST(ChurnEpisodeTest, NoFlappingAroundTheThresholdAndTheMargin) {
  // A figure that crosses its threshold back and forth: the score around a drop of 8.
  Customer c;
  c.state.set_customer_id("c1");
  c.Observe(Order(0));
  c.state.set_overall_score(70);
  EXPECT_FALSE(c.Evaluate(Day(0)));
  std::vector<ChurnWarning> notices;
  for (int day = 1; day <= 40; ++day) {
    c.state.set_overall_score(day % 2 == 1 ? 61.5 : 62.5);  // drop 8.5, then 7.5
    if (auto w = c.Evaluate(Day(day))) notices.push_back(*w);
  }
  // Raised once on day 1; every quiet spell is a day long, shorter than 30 days.
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].notice(), guanxi::v1::WARNING_NOTICE_RAISED);

  // With a margin: points at or below resolve_points (but above 0) count as quiet.
  Customer m;
  m.config().set_watch_points(2);
  m.config().set_warning_points(2);
  m.config().set_critical_points(3);
  m.config().set_resolve_points(1);
  m.config().set_resolve_after_days(0);
  m.state.set_customer_id("c1");
  m.Observe(Competitor(0, -0.5));
  EXPECT_FALSE(m.Evaluate(Day(0)));  // 1 point: below watch, no episode
  auto raised = m.Feed(Champion(1, guanxi::v1::CONTACT_CHANGE_KIND_LEFT));  // 2 points
  ASSERT_TRUE(raised);
  EXPECT_EQ(raised->notice(), guanxi::v1::WARNING_NOTICE_RAISED);
  auto resolved = m.Feed(Champion(2, guanxi::v1::CONTACT_CHANGE_KIND_JOINED));  // 1 point
  ASSERT_TRUE(resolved);
  EXPECT_EQ(resolved->notice(), guanxi::v1::WARNING_NOTICE_RESOLVED);
  ASSERT_EQ(resolved->reasons_size(), 1);  // what is left, at or below the margin
}

TEST(ChurnEpisodeTest, QuietSpellInterruptedRestartsTheResolutionClock) {
  Customer c;
  c.state.set_customer_id("c1");
  ASSERT_TRUE(c.Feed(Competitor(0, -0.5)));
  EXPECT_FALSE(c.Evaluate(Day(90)));            // quiet since 90
  EXPECT_FALSE(c.Feed(Competitor(100, -0.5)));  // the same episode, no notice
  EXPECT_FALSE(c.state.churn_episode().has_quiet_since());
  EXPECT_FALSE(c.Evaluate(Day(120)));  // 30 days after 90, but not quiet since
  EXPECT_FALSE(c.Evaluate(Day(190)));  // quiet again from 190
  EXPECT_FALSE(c.Evaluate(Day(220, -1)));
  auto resolved = c.Evaluate(Day(220));
  ASSERT_TRUE(resolved);
  EXPECT_EQ(resolved->notice(), guanxi::v1::WARNING_NOTICE_RESOLVED);
  EXPECT_EQ(resolved->warning_id(), "c1/1");
}

TEST(ChurnEpisodeTest, LateEventNeverMovesTheClockBack) {
  Customer c;
  c.state.set_customer_id("c1");
  ASSERT_TRUE(c.Feed(Competitor(0, -0.5)));
  EXPECT_FALSE(c.Evaluate(Day(100)));  // quiet since 100 (the signal expired at 90)
  // A complaint dated day 50 arrives late: evaluated at the clock (day 100), it is
  // overdue there (50 days old).
  auto w = c.Feed(Complaint(50, "q1"));
  EXPECT_FALSE(w);  // same episode, watch again: no notice
  EXPECT_EQ(c.state.churn_episode().evaluated_at().seconds(), Day(100).seconds());
  EXPECT_THAT(c.Codes(Day(100)), ElementsAre("unresolved_complaint"));
}

// --- Deadlines ---------------------------------------------------------------------------

// A state can hold evidence dated after its clock (the later of as_of and the last
// evaluation; a state is any stored message). Its rule holds from that date on, and the
// deadline is the first candidate time at which the whole assessment differs, whichever
// rule the candidate came from: here a renewal's (whose rule never holds) inside the
// window of a champion who left after the clock.
TEST(ChurnDeadlineTest, EvidenceDatedAfterTheClockCountsAtTheNextCandidateOfAnyRule) {
  Customer c;
  c.config().set_renewal_low_score(0);
  c.config().set_score_drop_window_days(365);  // the score's high is no candidate before 365
  c.Feed(Visit(0, guanxi::v1::OUTCOME_POSITIVE));
  auto& evidence = *c.state.mutable_churn_evidence();
  auto* renewal = evidence.add_renewals();
  renewal->set_contract_id("k1");
  *renewal->mutable_due_at() = Day(160);  // candidates at 100 and 220
  evidence.set_champion_left("Li Wei");
  *evidence.mutable_champion_left_at() = Day(20);  // holds over [20, 140)
  EXPECT_THAT(c.Codes(Day(0)), IsEmpty());
  EXPECT_THAT(c.Codes(Day(100)), ElementsAre("champion_left"));
  const auto deadline = NextChurnDeadline(c.config(), c.state);
  ASSERT_TRUE(deadline);
  EXPECT_EQ(deadline->seconds(), Day(100).seconds());
}

TEST(ChurnDeadlineTest, EachRuleItsOwnDeadline) {
  {
    Customer c;
    c.Feed(Complaint(0, "q1"));
    ASSERT_TRUE(NextChurnDeadline(c.config(), c.state));
    EXPECT_EQ(NextChurnDeadline(c.config(), c.state)->seconds(), Day(14).seconds());
    c.Evaluate(Day(14));
    // Overdue now; next: it stops counting at 90 days (max age).
    EXPECT_EQ(NextChurnDeadline(c.config(), c.state)->seconds(), Day(90).seconds());
  }
  {
    Customer c;
    for (int day : {0, 10, 20, 30, 40}) c.Feed(Order(day));
    EXPECT_EQ(NextChurnDeadline(c.config(), c.state)->seconds(), Day(70).seconds());
    c.Evaluate(Day(70));
    EXPECT_EQ(NextChurnDeadline(c.config(), c.state)->seconds(), Day(100).seconds());  // severe
    c.Evaluate(Day(100));
    EXPECT_FALSE(NextChurnDeadline(c.config(), c.state));  // only a purchase ends it
  }
  {
    Customer c;
    c.state.set_customer_id("c1");
    c.Feed(Competitor(0, -0.5));
    EXPECT_EQ(NextChurnDeadline(c.config(), c.state)->seconds(), Day(90).seconds());
    c.Evaluate(Day(90));  // quiet: resolution due 30 days later
    EXPECT_EQ(NextChurnDeadline(c.config(), c.state)->seconds(), Day(120).seconds());
    ASSERT_TRUE(c.Evaluate(Day(120)));
    EXPECT_FALSE(NextChurnDeadline(c.config(), c.state));
  }
  {
    Customer c;
    c.Feed(Call(0, -0.5));
    c.Feed(Call(10, -0.5));
    // The first call leaves the 60-day window on day 60.
    EXPECT_EQ(NextChurnDeadline(c.config(), c.state)->seconds(), Day(60).seconds());
  }
  {
    Customer c(EvidenceOnlyConfig());
    c.state.set_customer_id("c1");
    c.Feed(Call(0, -1));
    c.Feed(Call(0, -1));
    c.Feed(Call(0, -0.5));  // 5: severe (>= 4) until day 10, holds (>= 2) until day 30
    EXPECT_EQ(NextChurnDeadline(c.config(), c.state)->seconds(), Day(10).seconds() + 1);
    c.Evaluate(Day(10, 1));
    EXPECT_EQ(NextChurnDeadline(c.config(), c.state)->seconds(), Day(30).seconds() + 1);
  }
}

// Replays a simulated stream the way the engine runs it: every event (ApplyEvent,
// ObserveForChurn, EvaluateChurn), a tick for every customer at every UTC midnight, and
// an evaluation at every deadline. `round_trip` stores and reloads every state as bytes
// after every step. Returns every notice, serialized, in order.
struct Replay {
  std::vector<std::string> notices;
  std::vector<std::string> states;
  int64_t deadlines_checked = 0;
};

Replay RunSimulated(bool round_trip, bool check_deadlines) {
  const auto engine = guanxi::engine::DefaultEngineConfig();
  const ProjectionConfig projection(engine.scoring());
  const ChurnConfig& churn = engine.churn();
  connectors::Simulator sim(connectors::SimulatorOptions{.customers = 100, .days = 400, .seed = 5});
  std::vector<Event> events;
  sim.Run([&](const Event& e) { events.push_back(e); });
  const size_t n = sim.truth().size();
  std::vector<CustomerState> states(n);
  std::vector<std::optional<int64_t>> deadline(n);
  Replay replay;
  uint64_t position = 0;

  auto reload = [&](size_t i) {
    if (!round_trip) return;
    CustomerState copy;
    EXPECT_TRUE(copy.ParseFromString(states[i].SerializeAsString()));
    states[i] = copy;
  };
  auto evaluate = [&](size_t i, const Timestamp& now) {
    ChurnContext ctx;
    ctx.now = now;
    ctx.position = position;
    ctx.partition = 0;
    if (auto w = EvaluateChurn(churn, states[i], ctx)) {
      replay.notices.push_back(w->SerializeAsString());
    }
    reload(i);
    const auto next = NextChurnDeadline(churn, states[i]);
    deadline[i] = next ? std::optional<int64_t>(next->seconds()) : std::nullopt;
    if (!check_deadlines || !next) return;
    // Consistency: nothing changes from the clock to just before the deadline; at the
    // deadline the outcome changes, or the open episode resolves.
    ++replay.deadlines_checked;
    const int64_t clock =
        std::max(states[i].as_of().seconds(), states[i].churn_episode().evaluated_at().seconds());
    EXPECT_GT(next->seconds(), clock);
    auto signature = [&](int64_t at) {
      Timestamp t;
      t.set_seconds(at);
      const auto a = AssessChurn(churn, states[i], nullptr, t);
      std::string s = absl::StrCat(a.points, "/", a.level);
      for (const auto& r : a.reasons) absl::StrAppend(&s, "/", r.code());
      return s;
    };
    const std::string now_sig = signature(clock);
    EXPECT_EQ(signature(clock + (next->seconds() - clock) / 2), now_sig);
    EXPECT_EQ(signature(next->seconds() - 1), now_sig);
    if (signature(next->seconds()) == now_sig) {
      CustomerState copy = states[i];
      ChurnContext at_deadline;
      at_deadline.now = *next;
      auto w = EvaluateChurn(churn, copy, at_deadline);
      EXPECT_TRUE(w && w->notice() == guanxi::v1::WARNING_NOTICE_RESOLVED)
          << "deadline " << next->seconds() << " changes nothing for customer " << i;
    }
  };
  auto tick = [&](size_t i, int64_t at) {
    Timestamp t;
    t.set_seconds(at);
    AdvanceTime(projection, states[i], t, ++position);
    reload(i);
    evaluate(i, t);
  };
  auto run_deadlines = [&](int64_t until) {
    for (bool any = true; any;) {
      any = false;
      for (size_t i = 0; i < n; ++i) {
        if (deadline[i] && *deadline[i] <= until) {
          tick(i, *deadline[i]);
          any = true;
        }
      }
    }
  };
  const int64_t start = connectors::SimulatorOptions{}.start_unix_seconds;
  size_t next = 0;
  for (int day = 0; day <= 400; ++day) {
    const int64_t midnight = start + int64_t{day} * kDay;
    run_deadlines(midnight - 1);
    for (size_t i = 0; i < n; ++i) {
      if (states[i].events_applied() > 0) tick(i, midnight);
    }
    while (next < events.size() && events[next].occurred_at().seconds() < midnight + kDay) {
      const Event& e = events[next++];
      run_deadlines(e.occurred_at().seconds() - 1);
      const size_t i = std::stoul(e.customer_id().substr(4));
      ApplyEvent(projection, states[i], e, ++position);
      reload(i);
      ObserveForChurn(churn, states[i], e);
      reload(i);
      evaluate(i, e.occurred_at());
    }
  }
  for (const auto& s : states) replay.states.push_back(s.SerializeAsString());
  return replay;
}

TEST(ChurnReplayTest, SameStreamSameWarningsAndStoredStateChangesNothing) {
  const Replay live = RunSimulated(/*round_trip=*/false, /*check_deadlines=*/false);
  const Replay again = RunSimulated(false, false);
  const Replay stored = RunSimulated(/*round_trip=*/true, false);
  EXPECT_EQ(again.notices, live.notices);
  EXPECT_EQ(stored.notices, live.notices);
  EXPECT_EQ(again.states, live.states);
  EXPECT_EQ(stored.states, live.states);
  // Not vacuous: the stream raises, and resolves, warnings.
  int raised = 0, resolved = 0;
  for (const auto& bytes : live.notices) {
    ChurnWarning w;
    ASSERT_TRUE(w.ParseFromString(bytes));
    raised += w.notice() == guanxi::v1::WARNING_NOTICE_RAISED;
    resolved += w.notice() == guanxi::v1::WARNING_NOTICE_RESOLVED;
    EXPECT_THAT(w.warning_id(), ::testing::StartsWith(absl::StrCat(w.customer_id(), "/")));
    for (const auto& r : w.reasons()) EXPECT_FALSE(r.description().empty());
  }
  EXPECT_GT(raised, 0);
  EXPECT_GT(resolved, 0);
}

TEST(ChurnReplayTest, EveryDeadlineIsExactOnASimulatedStream) {
  const Replay replay = RunSimulated(/*round_trip=*/false, /*check_deadlines=*/true);
  EXPECT_GT(replay.deadlines_checked, 1000);
}

}  // namespace
}  // namespace guanxi::projections
