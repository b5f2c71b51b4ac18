#include "projections/classes.h"

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "projections/churn/bgnbd.h"
#include "projections/population.h"
#include "projections/relationship.h"

namespace guanxi::projections {
namespace {

using google::protobuf::Timestamp;
using guanxi::v1::ClassificationConfig;
using guanxi::v1::CustomerState;
using guanxi::v1::Event;
using guanxi::v1::ModelRecord;
using guanxi::v1::RelationshipChange;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int64_t kDay = 86400;
constexpr int64_t kBase = 1767225600;  // 2026-01-01T00:00:00Z

Timestamp Day(int64_t day) {
  Timestamp t;
  t.set_seconds(kBase + day * kDay);
  return t;
}

const Timestamp kNow = Day(400);  // 2027-02-05

ClassificationConfig Config() { return guanxi::engine::DefaultEngineConfig().classification(); }

// A customer the relationship projection has seen (every dimension at 50), nothing else.
CustomerState NewCustomer() {
  CustomerState s;
  s.set_customer_id("c1");
  for (int d = 1; d <= 8; ++d) {
    auto* dim = s.add_dimensions();
    dim->set_dimension(static_cast<guanxi::v1::Dimension>(d));
    dim->set_score(50);
  }
  *s.mutable_as_of() = Day(0);
  *s.mutable_first_event_at() = Day(0);
  return s;
}

// Purchase figures: the last purchase `recency` days before kNow, and `orders` orders
// worth `revenue` booked in the calendar month of kNow (so all of it is in the trailing
// 12 months and in the last 6; the tests that need older months add them).
void Buy(CustomerState& s, int64_t recency, int64_t orders, int64_t revenue) {
  s.set_purchase_days(orders);
  *s.mutable_first_purchase_at() = Day(400 - 300);
  *s.mutable_last_purchase_at() = Day(400 - recency);
  s.set_orders(orders);
  s.set_revenue_minor(revenue);
  auto* month = s.add_purchase_months();
  month->set_month(MonthOf(kNow));
  month->set_orders(orders);
  month->set_revenue_minor(revenue);
}

CustomerState Buyer(int64_t recency, int64_t orders, int64_t revenue) {
  CustomerState s = NewCustomer();
  Buy(s, recency, orders, revenue);
  return s;
}

// A hand-made model: A from 100.00, B from 20.00; RFM boundaries
//   recency 10 / 30 / 60 / 120 days, frequency 1 / 2 / 4 / 8 orders,
//   monetary 10.00 / 50.00 / 100.00 / 500.00.
ModelRecord Model() {
  ModelRecord m;
  *m.mutable_as_of() = Day(390);
  m.set_population(100);
  m.mutable_abc()->set_a_share(0.8);
  m.mutable_abc()->set_b_share(0.15);
  m.mutable_abc()->set_a_min_revenue_minor(10000);
  m.mutable_abc()->set_b_min_revenue_minor(2000);
  for (double v : {10, 30, 60, 120}) m.mutable_rfm()->add_recency_days(v);
  for (double v : {1, 2, 4, 8}) m.mutable_rfm()->add_frequency(v);
  for (double v : {1000, 5000, 10000, 50000}) m.mutable_rfm()->add_monetary_minor(v);
  return m;
}

// The ClassChange for `field` among `changes`, or nullptr.
const guanxi::v1::ClassChange* Find(const std::vector<RelationshipChange>& changes,
                                    const std::string& field) {
  for (const auto& c : changes) {
    if (c.class_change().classification() == field) return &c.class_change();
  }
  return nullptr;
}

std::vector<RelationshipChange> ClassifyNow(CustomerState& s, const ModelRecord* model,
                                            const ClassificationConfig& config = Config(),
                                            uint64_t position = 9) {
  return Classify(config, model, s, kNow, position);
}

// --- ABC ------------------------------------------------------------------------------

TEST(ClassesAbcTest, CutOffsJustBelowAtAndAbove) {
  const ModelRecord model = Model();
  const std::pair<int64_t, const char*> cases[] = {
      {0, "C"}, {1999, "C"}, {2000, "B"}, {2001, "B"}, {9999, "B"}, {10000, "A"}, {10001, "A"},
  };
  for (const auto& [revenue, abc] : cases) {
    CustomerState s = Buyer(5, 1, revenue);
    ClassifyNow(s, &model);
    EXPECT_EQ(s.classes().abc(), abc) << revenue;
  }
}

TEST(ClassesAbcTest, ReasonNamesTheRevenueAndTheCutOffs) {
  ModelRecord model = Model();
  model.mutable_abc()->set_a_min_revenue_minor(980000);
  model.mutable_abc()->set_b_min_revenue_minor(200000);
  CustomerState s = Buyer(5, 3, 1240000);
  auto changes = ClassifyNow(s, &model);
  ASSERT_NE(Find(changes, "abc"), nullptr);
  EXPECT_EQ(Find(changes, "abc")->reason(),
            "trailing-12-month revenue 12,400.00 >= A cut-off 9,800.00");
  s = Buyer(5, 3, 500000);
  changes = ClassifyNow(s, &model);
  EXPECT_EQ(Find(changes, "abc")->to(), "B");
  EXPECT_EQ(Find(changes, "abc")->reason(),
            "trailing-12-month revenue 5,000.00 >= B cut-off 2,000.00, < A cut-off 9,800.00");
  s = Buyer(5, 1, 199999);
  changes = ClassifyNow(s, &model);
  EXPECT_EQ(Find(changes, "abc")->reason(),
            "trailing-12-month revenue 1,999.99 < B cut-off 2,000.00");
}

TEST(ClassesAbcTest, CustomerWithoutPurchaseIsC) {
  const ModelRecord model = Model();
  CustomerState s = NewCustomer();
  ClassifyNow(s, &model);
  EXPECT_EQ(s.classes().abc(), "C");
}

// --- RFM ------------------------------------------------------------------------------

TEST(ClassesRfmTest, ScoresAtTheQuintileBoundaries) {
  const ModelRecord model = Model();
  // Recency: fewer days score higher; a value equal to a boundary is in the lower
  // quintile (so, for recency, the higher score).
  const std::pair<int64_t, int> recency[] = {{0, 5},  {10, 5}, {11, 4},  {30, 4}, {31, 3},
                                             {60, 3}, {61, 2}, {120, 2}, {121, 1}};
  for (const auto& [days, score] : recency) {
    CustomerState s = Buyer(days, 1, 100);
    ClassifyNow(s, &model);
    EXPECT_EQ(s.classes().rfm_recency(), score) << days;
  }
  const std::pair<int64_t, int> frequency[] = {{1, 1}, {2, 2}, {3, 3}, {4, 3},
                                               {5, 4}, {8, 4}, {9, 5}};
  for (const auto& [orders, score] : frequency) {
    CustomerState s = Buyer(5, orders, 100);
    ClassifyNow(s, &model);
    EXPECT_EQ(s.classes().rfm_frequency(), score) << orders;
  }
  const std::pair<int64_t, int> monetary[] = {{-50, 1},   {1000, 1},  {1001, 2},
                                              {5000, 2},  {5001, 3},  {10000, 3},
                                              {10001, 4}, {50000, 4}, {50001, 5}};
  for (const auto& [revenue, score] : monetary) {
    CustomerState s = Buyer(5, 1, revenue);
    ClassifyNow(s, &model);
    EXPECT_EQ(s.classes().rfm_monetary(), score) << revenue;
  }
}

TEST(ClassesRfmTest, ReasonsNameTheFigureAndTheBoundariesAroundIt) {
  const ModelRecord model = Model();
  CustomerState s = Buyer(20, 5, 20000);
  const auto changes = ClassifyNow(s, &model);
  EXPECT_EQ(Find(changes, "rfm_recency")->to(), "4");
  EXPECT_EQ(Find(changes, "rfm_recency")->reason(),
            "last purchase 20 days ago: > 10 days (20th percentile), <= 30 days (40th "
            "percentile); fewer days score higher");
  EXPECT_EQ(Find(changes, "rfm_frequency")->reason(),
            "5 orders in the trailing 12 months: > 4 (60th percentile), <= 8 (80th percentile)");
  EXPECT_EQ(Find(changes, "rfm_monetary")->reason(),
            "trailing-12-month revenue 200.00: > 100.00 (60th percentile), <= 500.00 (80th "
            "percentile)");
  // The top and bottom quintiles have a bound on one side only.
  s = Buyer(200, 9, 100);
  const auto extremes = ClassifyNow(s, &model);
  EXPECT_EQ(Find(extremes, "rfm_recency")->reason(),
            "last purchase 200 days ago: > 120 days (80th percentile); fewer days score higher");
  EXPECT_EQ(Find(extremes, "rfm_frequency")->reason(),
            "9 orders in the trailing 12 months: > 8 (80th percentile)");
  EXPECT_EQ(Find(extremes, "rfm_monetary")->reason(),
            "trailing-12-month revenue 1.00: <= 10.00 (20th percentile)");
}

TEST(ClassesRfmTest, DefaultSegmentTable) {
  const ModelRecord model = Model();
  struct Case {
    int64_t recency, orders;
    const char* segment;
  };
  const Case cases[] = {
      {5, 9, "champions"},            // R5 F5
      {5, 5, "champions"},            // R5 F4
      {20, 9, "loyal"},               // R4 F5
      {40, 5, "loyal"},               // R3 F4
      {5, 3, "potential_loyalist"},   // R5 F3
      {20, 2, "potential_loyalist"},  // R4 F2
      {5, 1, "new"},                  // R5 F1
      {20, 1, "promising"},           // R4 F1
      {40, 3, "need_attention"},      // R3 F3
      {40, 2, "about_to_sleep"},      // R3 F2
      {90, 9, "cannot_lose"},         // R2 F5
      {200, 3, "at_risk"},            // R1 F3
      {90, 2, "hibernating"},         // R2 F2
      {200, 1, "hibernating"},        // R1 F1
  };
  for (const Case& c : cases) {
    CustomerState s = Buyer(c.recency, c.orders, 100);
    const auto changes = ClassifyNow(s, &model);
    EXPECT_EQ(s.classes().rfm_segment(), c.segment) << c.recency << " " << c.orders;
  }
  CustomerState s = Buyer(5, 9, 100);  // 5-5-1
  EXPECT_EQ(Find(ClassifyNow(s, &model), "rfm_segment")->reason(),
            "R-F-M 5-5-1 is in segment row 1 (R 5..5, F 4..5, M 1..5)");
}

TEST(ClassesRfmTest, FirstMatchingRowOfAConfiguredTableWins) {
  ClassificationConfig config = Config();
  config.clear_rfm_segments();
  auto row = [&](const char* name, int m_min) {
    auto* r = config.add_rfm_segments();
    r->set_name(name);
    r->set_r_min(1);
    r->set_r_max(5);
    r->set_f_min(1);
    r->set_f_max(5);
    r->set_m_min(m_min);
    r->set_m_max(5);
  };
  row("big_spenders", 5);
  row("everyone_else", 1);
  const ModelRecord model = Model();
  CustomerState big = Buyer(5, 1, 50001);
  ClassifyNow(big, &model, config);
  EXPECT_EQ(big.classes().rfm_segment(), "big_spenders");
  CustomerState small = Buyer(5, 1, 50000);
  ClassifyNow(small, &model, config);
  EXPECT_EQ(small.classes().rfm_segment(), "everyone_else");
}

// --- Transaction quadrant and value tier -----------------------------------------------

TEST(ClassesQuadrantTest, HighFrequencyAndHighAmountAtScoreFour) {
  const ModelRecord model = Model();
  struct Case {
    int64_t orders, revenue;  // F, M
    const char* quadrant;
  };
  const Case cases[] = {
      {4, 10000, "lost"},        // F3 M3: both just below
      {5, 10000, "potential"},   // F4 (at) M3
      {9, 10000, "potential"},   // F5 (above) M3
      {4, 10001, "one_off"},     // F3 M4 (at)
      {4, 50001, "one_off"},     // F3 M5 (above)
      {5, 10001, "high_value"},  // F4 M4
      {9, 50001, "high_value"},  // F5 M5
  };
  for (const Case& c : cases) {
    CustomerState s = Buyer(5, c.orders, c.revenue);
    ClassifyNow(s, &model);
    EXPECT_EQ(s.classes().transaction_quadrant(), c.quadrant) << c.orders << " " << c.revenue;
  }
  CustomerState s = Buyer(5, 5, 10000);
  EXPECT_EQ(Find(ClassifyNow(s, &model), "transaction_quadrant")->reason(),
            "F 4 >= 4 (high frequency), M 3 < 4 (low amount)");
}

TEST(ClassesValueTierTest, RfmSumJustBelowAtAndAboveEachThreshold) {
  const ModelRecord model = Model();
  struct Case {
    int64_t recency, orders, revenue;
    int sum;
    const char* tier;
  };
  const Case cases[] = {
      {40, 2, 3000, 7, "low"},      // R3 F2 M2
      {40, 3, 3000, 8, "medium"},   // R3 F3 M2
      {20, 5, 8000, 11, "medium"},  // R4 F4 M3
      {20, 5, 20000, 12, "high"},   // R4 F4 M4
      {5, 5, 20000, 13, "high"},    // R5 F4 M4
  };
  for (const Case& c : cases) {
    CustomerState s = Buyer(c.recency, c.orders, c.revenue);
    const auto changes = ClassifyNow(s, &model);
    const auto& k = s.classes();
    EXPECT_EQ(k.rfm_recency() + k.rfm_frequency() + k.rfm_monetary(), c.sum);
    EXPECT_EQ(k.value_tier(), c.tier) << c.sum;
  }
  CustomerState s = Buyer(20, 5, 8000);
  EXPECT_EQ(Find(ClassifyNow(s, &model), "value_tier")->reason(), "R+F+M 4+4+3 = 11 >= 8, < 12");
  CustomerState none = NewCustomer();
  const auto changes = ClassifyNow(none, &model);
  EXPECT_EQ(none.classes().value_tier(), "low");
  EXPECT_EQ(Find(changes, "value_tier")->reason(), "no purchase");
  EXPECT_EQ(none.classes().rfm_recency(), 0);
  EXPECT_EQ(none.classes().transaction_quadrant(), "");
}

// --- Potential tier -------------------------------------------------------------------

TEST(ClassesPotentialTest, UntappedEstimateAgainstTheAbcCutOffs) {
  const ModelRecord model = Model();  // A 100.00, B 20.00
  struct Case {
    int64_t estimate;
    const char* tier;
  };
  // A prospect (no revenue): untapped = the estimate.
  const Case cases[] = {{0, "low"},       {1999, "low"},   {2000, "medium"},
                        {9999, "medium"}, {10000, "high"}, {10001, "high"}};
  for (const Case& c : cases) {
    CustomerState s = NewCustomer();
    s.set_potential_estimate_minor(c.estimate);
    ClassifyNow(s, &model);
    EXPECT_EQ(s.classes().potential_tier(), c.tier) << c.estimate;
  }
  // Revenue already won is not potential: estimate 150.00 with 60.00 bought = 90.00.
  CustomerState s = Buyer(5, 2, 6000);
  s.set_potential_estimate_minor(15000);
  const auto changes = ClassifyNow(s, &model);
  EXPECT_EQ(s.classes().potential_tier(), "medium");
  EXPECT_EQ(Find(changes, "potential_tier")->reason(),
            "medium is the higher of: untapped potential 90.00 (estimate 150.00 - "
            "trailing-12-month revenue 60.00) >= B cut-off 20.00 (medium); no revenue in the 6 "
            "months before the last 6 (last 6 months 60.00): growth not measured (low)");
}

TEST(ClassesPotentialTest, RevenueGrowthOfTheLastSixMonthsJustBelowAtAndAbove) {
  const ModelRecord model = Model();
  struct Case {
    int64_t recent;
    const char* tier;
  };
  // 100.00 in the 6 months before the last 6; high from +25 %, medium from +5 %.
  const Case cases[] = {{5000, "low"},     {10499, "low"},  {10500, "medium"},
                        {12499, "medium"}, {12500, "high"}, {20000, "high"}};
  for (const Case& c : cases) {
    CustomerState s = Buyer(5, 1, c.recent);
    auto* before = s.add_purchase_months();  // 7 months before kNow's month
    before->set_month(MonthOf(kNow) - 7);
    before->set_orders(1);
    before->set_revenue_minor(10000);
    s.mutable_purchase_months()->SwapElements(0, 1);  // ascending months
    ClassifyNow(s, &model);
    EXPECT_EQ(s.classes().potential_tier(), c.tier) << c.recent;
  }
  CustomerState s = Buyer(5, 1, 12500);
  auto* before = s.add_purchase_months();
  before->set_month(MonthOf(kNow) - 6);  // the oldest month of the 6 before
  before->set_revenue_minor(10000);
  // A month 12 before kNow's is outside the trailing 12 months: it does not count.
  auto* old = s.add_purchase_months();
  old->set_month(MonthOf(kNow) - 12);
  old->set_revenue_minor(1000000);
  const auto changes = ClassifyNow(s, &model);
  EXPECT_EQ(Find(changes, "potential_tier")->reason(),
            "high is the higher of: no potential estimate (low); revenue growth +25.0% (last 6 "
            "months 125.00 vs 100.00 the 6 before) >= +25.0% (high)");
}

// --- Loyalty tier ---------------------------------------------------------------------

void SetFeeling(CustomerState& s, double score) {
  s.mutable_dimensions(static_cast<int>(guanxi::v1::DIMENSION_FEELING) - 1)->set_score(score);
}

TEST(ClassesLoyaltyTest, SatisfactionComplaintAndRenewalRatesAtTheirThresholds) {
  struct Case {
    double satisfaction;
    int64_t complaints, orders, renewed, terminated;
    const char* tier;
  };
  const Case cases[] = {
      // Satisfaction: low below 40, high from 65.
      {39.99, 0, 10, 0, 0, "low"},
      {40, 0, 10, 0, 0, "medium"},
      {64.99, 0, 10, 0, 0, "medium"},
      {65, 0, 10, 0, 0, "high"},
      {90, 0, 10, 0, 0, "high"},
      // Complaints per order: high up to 5 %, low above 25 %.
      {90, 1, 20, 0, 0, "high"},    // 5 %
      {90, 2, 20, 0, 0, "medium"},  // 10 %
      {90, 5, 20, 0, 0, "medium"},  // 25 %
      {90, 6, 20, 0, 0, "low"},     // 30 %
      {90, 1, 0, 0, 0, "low"},      // no order: one complaint per (one) order
      // Renewals: high from 80 %, low below 50 %.
      {90, 0, 10, 4, 1, "high"},    // 80 %
      {90, 0, 10, 3, 1, "medium"},  // 75 %
      {90, 0, 10, 1, 1, "medium"},  // 50 %
      {90, 0, 10, 1, 2, "low"},     // 33 %
  };
  for (const Case& c : cases) {
    CustomerState s = NewCustomer();
    SetFeeling(s, c.satisfaction);
    s.set_complaints(c.complaints);
    s.set_orders(c.orders);
    s.set_contracts_renewed(c.renewed);
    s.set_contracts_terminated(c.terminated);
    Classify(Config(), nullptr, s, kNow, 1);  // no model needed
    EXPECT_EQ(s.classes().loyalty_tier(), c.tier)
        << c.satisfaction << " " << c.complaints << "/" << c.orders << " " << c.renewed << "/"
        << c.terminated;
  }
}

TEST(ClassesLoyaltyTest, ReasonsNameTheDecidingFigures) {
  CustomerState s = NewCustomer();
  SetFeeling(s, 72);
  s.set_orders(10);
  s.set_contracts_renewed(2);
  auto changes = Classify(Config(), nullptr, s, kNow, 1);
  EXPECT_EQ(Find(changes, "loyalty_tier")->reason(),
            "satisfaction 72.0 >= 65.0, complaint rate 0.0% (0 complaints / 10 orders) <= 5.0%, "
            "renewal rate 100.0% (2 renewed, 0 terminated) >= 80.0%");
  SetFeeling(s, 35);
  s.set_complaints(3);
  changes = Classify(Config(), nullptr, s, kNow, 2);
  EXPECT_EQ(Find(changes, "loyalty_tier")->reason(),
            "satisfaction 35.0 < 40.0; complaint rate 30.0% (3 complaints / 10 orders) > 25.0%");
  SetFeeling(s, 50);
  s.set_complaints(0);
  changes = Classify(Config(), nullptr, s, kNow, 3);
  EXPECT_EQ(Find(changes, "loyalty_tier")->reason(),
            "not high: satisfaction 50.0 < 65.0; not low: satisfaction 50.0 >= 40.0, complaint "
            "rate 0.0% (0 complaints / 10 orders) <= 25.0%, renewal rate 100.0% (2 renewed, 0 "
            "terminated) >= 50.0%");
}

// --- Development matrix ---------------------------------------------------------------

TEST(ClassesDevelopmentTest, BenefitTimesGrowth) {
  const ModelRecord model = Model();
  // Value tier by RFM: high = R5 F5 M5, medium = R3 F3 M3, low = R1 F1 M1.
  struct Value {
    const char* tier;
    int64_t recency, orders, revenue;
  };
  const Value values[] = {{"high", 5, 9, 60000}, {"medium", 40, 3, 8000}, {"low", 200, 1, 500}};
  // Potential tier by the untapped estimate (no earlier revenue: growth is low).
  const std::pair<const char*, int64_t> potentials[] = {
      {"high", 10000}, {"medium", 2000}, {"low", 0}};
  const char* expected[3][3] = {
      // growth:  high           medium         low
      {"key_account", "key_account", "general_1"},  // benefit high
      {"key_account", "prospect", "prospect"},      // benefit medium
      {"general_2", "prospect", "prospect"},        // benefit low
  };
  for (int v = 0; v < 3; ++v) {
    for (int p = 0; p < 3; ++p) {
      CustomerState s = Buyer(values[v].recency, values[v].orders, values[v].revenue);
      if (potentials[p].second > 0) {
        s.set_potential_estimate_minor(values[v].revenue + potentials[p].second);
      }
      const auto changes = ClassifyNow(s, &model);
      ASSERT_EQ(s.classes().value_tier(), values[v].tier);
      ASSERT_EQ(s.classes().potential_tier(), potentials[p].first);
      EXPECT_EQ(s.classes().development_matrix(), expected[v][p])
          << values[v].tier << " x " << potentials[p].first;
      EXPECT_EQ(Find(changes, "development_matrix")->reason(),
                absl::StrCat("benefit (value tier) ", values[v].tier, ", growth (potential tier) ",
                             potentials[p].first));
    }
  }
}

// --- Intent class ---------------------------------------------------------------------

TEST(ClassesIntentTest, WindowsJustInsideAtAndOutside) {
  struct Case {
    const char* what;
    std::function<void(CustomerState&)> fill;
    const char* intent;
  };
  const Case cases[] = {
      {"nothing", [](CustomerState&) {}, "D"},
      {"conversion 364 days ago",
       [](CustomerState& s) { *s.mutable_last_conversion_at() = Day(36); }, "A"},
      {"conversion 365 days ago",
       [](CustomerState& s) { *s.mutable_last_conversion_at() = Day(35); }, "A"},
      {"conversion 366 days ago",
       [](CustomerState& s) { *s.mutable_last_conversion_at() = Day(34); }, "D"},
      {"active contract", [](CustomerState& s) { s.add_active_contracts("k1"); }, "A"},
      {"inbound call 90 days ago",
       [](CustomerState& s) { *s.mutable_last_inbound_call_at() = Day(310); }, "A"},
      {"inbound call 91 days ago",
       [](CustomerState& s) { *s.mutable_last_inbound_call_at() = Day(309); }, "D"},
      {"strategic", [](CustomerState& s) { s.set_strategic(true); }, "B"},
      {"opportunity 180 days ago",
       [](CustomerState& s) { *s.mutable_last_open_opportunity_at() = Day(220); }, "B"},
      {"opportunity 181 days ago",
       [](CustomerState& s) { *s.mutable_last_open_opportunity_at() = Day(219); }, "D"},
      {"interaction 179 days ago",
       [](CustomerState& s) { *s.mutable_last_interaction_at() = Day(221); }, "C"},
      {"interaction 180 days ago",
       [](CustomerState& s) { *s.mutable_last_interaction_at() = Day(220); }, "C"},
      {"interaction 181 days ago",
       [](CustomerState& s) { *s.mutable_last_interaction_at() = Day(219); }, "D"},
      {"strategic and converted",
       [](CustomerState& s) {
         s.set_strategic(true);
         *s.mutable_last_conversion_at() = Day(399);
       },
       "A"},
      {"strategic, interaction",
       [](CustomerState& s) {
         s.set_strategic(true);
         *s.mutable_last_interaction_at() = Day(399);
       },
       "B"},
  };
  for (const Case& c : cases) {
    CustomerState s = NewCustomer();
    c.fill(s);
    Classify(Config(), nullptr, s, kNow, 1);
    EXPECT_EQ(s.classes().intent_class(), c.intent) << c.what;
  }
}

TEST(ClassesIntentTest, ReasonsAndLapsingWithTime) {
  CustomerState s = NewCustomer();
  *s.mutable_last_conversion_at() = Day(380);
  *s.mutable_last_interaction_at() = Day(380);
  auto changes = Classify(Config(), nullptr, s, kNow, 1);
  EXPECT_EQ(Find(changes, "intent_class")->to(), "A");
  EXPECT_EQ(Find(changes, "intent_class")->reason(),
            "converted (order, won opportunity or contract) 20 days ago, within 365");
  // A tick a year later: the conversion has lapsed, and so has the contact.
  changes = Classify(Config(), nullptr, s, Day(746), 2);
  ASSERT_NE(Find(changes, "intent_class"), nullptr);
  EXPECT_EQ(Find(changes, "intent_class")->from(), "A");
  EXPECT_EQ(Find(changes, "intent_class")->to(), "D");
  EXPECT_EQ(Find(changes, "intent_class")->reason(),
            "no conversion within 365 days, no active contract, no inbound call within 90 days, "
            "not strategic, no opportunity in progress within 180 days, no interaction within "
            "180 days");
}

// --- Relationship kind ----------------------------------------------------------------

void AddContact(CustomerState& s, const char* id, guanxi::v1::ContactRole role,
                guanxi::v1::ContactLevel level) {
  auto* c = s.add_contacts();
  c->set_contact_id(id);
  c->set_role(role);
  c->set_level(level);
}

TEST(ClassesRelationshipKindTest, ContactsAndAccount) {
  using namespace guanxi::v1;  // NOLINT: the enum values read better unqualified here
  CustomerState s = NewCustomer();
  auto changes = Classify(Config(), nullptr, s, kNow, 1);
  EXPECT_EQ(s.classes().relationship_kind(), "general");
  EXPECT_EQ(Find(changes, "relationship_kind")->reason(), "no contact known");

  AddContact(s, "u1", CONTACT_ROLE_USER, CONTACT_LEVEL_STAFF);
  Classify(Config(), nullptr, s, kNow, 2);
  EXPECT_EQ(s.contacts(0).relationship_kind(), "general");
  EXPECT_EQ(s.classes().relationship_kind(), "general");

  AddContact(s, "x1", CONTACT_ROLE_INFLUENCER, CONTACT_LEVEL_EXECUTIVE);
  changes = Classify(Config(), nullptr, s, kNow, 3);
  EXPECT_EQ(s.contacts(1).relationship_kind(), "key");
  EXPECT_EQ(s.classes().relationship_kind(), "key");
  EXPECT_EQ(Find(changes, "relationship_kind")->reason(),
            "1 key contact (decision maker or executive); not organizational: 0 active contracts, "
            "contacts at 2 levels");

  // A contract: organization-to-organization, with contacts at two levels.
  s.add_active_contracts("k1");
  changes = Classify(Config(), nullptr, s, kNow, 4);
  EXPECT_EQ(s.classes().relationship_kind(), "organizational");
  EXPECT_EQ(Find(changes, "relationship_kind")->reason(),
            "1 active contract (min 1) and contacts at 2 levels (min 2)");

  // Contacts at one level only: below organizational_min_contact_levels.
  CustomerState one_level = NewCustomer();
  one_level.add_active_contracts("k1");
  AddContact(one_level, "d1", CONTACT_ROLE_DECISION_MAKER, CONTACT_LEVEL_MANAGER);
  AddContact(one_level, "d2", CONTACT_ROLE_USER, CONTACT_LEVEL_MANAGER);
  Classify(Config(), nullptr, one_level, kNow, 1);
  EXPECT_EQ(one_level.contacts(0).relationship_kind(), "key");  // a decision maker
  EXPECT_EQ(one_level.contacts(1).relationship_kind(), "general");
  EXPECT_EQ(one_level.classes().relationship_kind(), "key");
  auto config = Config();
  config.set_organizational_min_contact_levels(1);
  Classify(config, nullptr, one_level, kNow, 2);
  EXPECT_EQ(one_level.classes().relationship_kind(), "organizational");
}

// --- Facts ----------------------------------------------------------------------------

TEST(ClassifyTest, FactsInFieldOrderWithStableIdsAndNoneTheSecondTime) {
  const ModelRecord model = Model();
  CustomerState s = Buyer(20, 5, 20000);
  *s.mutable_last_conversion_at() = Day(380);
  const auto changes = Classify(Config(), &model, s, kNow, 42);
  std::vector<std::string> fields;
  for (const auto& c : changes) {
    fields.push_back(c.class_change().classification());
    EXPECT_EQ(c.change_id(), absl::StrCat("c1/42/class/", c.class_change().classification()));
    EXPECT_EQ(c.customer_id(), "c1");
    EXPECT_EQ(c.position(), 42u);
    EXPECT_EQ(c.event_time().seconds(), kNow.seconds());
    EXPECT_EQ(c.class_change().from(), "");
    EXPECT_FALSE(c.class_change().reason().empty()) << c.class_change().classification();
  }
  EXPECT_THAT(fields,
              ElementsAre("abc", "rfm_recency", "rfm_frequency", "rfm_monetary", "rfm_segment",
                          "transaction_quadrant", "value_tier", "potential_tier", "loyalty_tier",
                          "development_matrix", "intent_class", "relationship_kind"));
  const auto& k = s.classes();
  EXPECT_EQ(k.abc(), "A");
  EXPECT_EQ(k.rfm_segment(), "loyal");  // R4 F4
  EXPECT_EQ(k.transaction_quadrant(), "high_value");
  EXPECT_EQ(k.value_tier(), "high");
  EXPECT_EQ(k.potential_tier(), "low");
  EXPECT_EQ(k.loyalty_tier(), "medium");
  EXPECT_EQ(k.development_matrix(), "general_1");
  EXPECT_EQ(k.intent_class(), "A");
  EXPECT_EQ(k.relationship_kind(), "general");

  const std::string bytes = s.SerializeAsString();
  EXPECT_THAT(Classify(Config(), &model, s, kNow, 43), IsEmpty());
  EXPECT_EQ(s.SerializeAsString(), bytes);
}

TEST(ClassifyTest, WithoutAModelOnlyTheNonPopulationClassesAreSet) {
  CustomerState s = Buyer(20, 5, 20000);
  const auto changes = Classify(Config(), nullptr, s, kNow, 1);
  std::vector<std::string> fields;
  for (const auto& c : changes) fields.push_back(c.class_change().classification());
  EXPECT_THAT(fields, ElementsAre("loyalty_tier", "intent_class", "relationship_kind"));
  EXPECT_EQ(s.classes().abc(), "");
  EXPECT_EQ(s.classes().rfm_recency(), 0);
  EXPECT_EQ(s.p_alive(), 0);

  // A model with too small a population (neither ABC nor RFM) changes nothing either.
  ModelRecord empty;
  *empty.mutable_as_of() = Day(390);
  empty.set_population(3);
  EXPECT_THAT(Classify(Config(), &empty, s, kNow, 2), IsEmpty());

  // The first real model: the population classes appear, from "".
  const ModelRecord model = Model();
  const auto later = Classify(Config(), &model, s, kNow, 3);
  ASSERT_NE(Find(later, "abc"), nullptr);
  EXPECT_EQ(Find(later, "abc")->from(), "");
  EXPECT_EQ(Find(later, "abc")->to(), "A");
  EXPECT_EQ(Find(later, "loyalty_tier"), nullptr);  // unchanged

  // A model that lost its ABC cut-offs empties abc and potential, with a reason.
  ModelRecord no_abc = Model();
  no_abc.clear_abc();
  const auto lost = Classify(Config(), &no_abc, s, kNow, 4);
  ASSERT_NE(Find(lost, "abc"), nullptr);
  EXPECT_EQ(Find(lost, "abc")->to(), "");
  EXPECT_EQ(Find(lost, "abc")->reason(), "no population model with ABC cut-offs");
  EXPECT_EQ(s.classes().potential_tier(), "");
  EXPECT_EQ(s.classes().development_matrix(), "");
}

TEST(ClassifyTest, AStateWithoutEventsIsLeftAlone) {
  CustomerState s;
  const ModelRecord model = Model();
  EXPECT_THAT(Classify(Config(), &model, s, kNow, 1), IsEmpty());
  EXPECT_EQ(s.ByteSizeLong(), 0u);
}

TEST(ClassifyTest, ALateEventDoesNotMoveTheClockBack) {
  const ModelRecord model = Model();
  CustomerState s = Buyer(5, 1, 100);
  *s.mutable_as_of() = kNow;
  Classify(Config(), &model, s, kNow, 1);
  const std::string bytes = s.SerializeAsString();
  // Classified "at" an earlier moment: evaluated at state.as_of() all the same.
  EXPECT_THAT(Classify(Config(), &model, s, Day(100), 2), IsEmpty());
  EXPECT_EQ(s.SerializeAsString(), bytes);
}

// --- BG/NBD ---------------------------------------------------------------------------

TEST(ClassifyBgNbdTest, PAliveAndExpectedPurchasesFromAKnownModel) {
  ModelRecord model = Model();
  // The paper's CDNOW estimates (Fader, Hardie & Lee 2005), in weeks.
  const double r = 0.243, alpha = 4.414, a = 0.793, b = 2.426;
  auto& m = *model.mutable_bgnbd();
  m.set_r(r);
  m.set_alpha(alpha);
  m.set_a(a);
  m.set_b(b);
  m.set_time_unit_days(7);
  // First purchase on day 190, purchases on 3 distinct days, the last on day 260; now
  // is day 400: x = 2, t_x = 70 / 7 = 10 weeks, T = 210 / 7 = 30 weeks.
  CustomerState s = NewCustomer();
  s.set_purchase_days(3);
  *s.mutable_first_purchase_at() = Day(190);
  *s.mutable_last_purchase_at() = Day(260);
  Classify(Config(), &model, s, kNow, 1);
  // Paper eq. 13: P(alive) = 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x)).
  const double x = 2, t_x = 10, T = 30;
  const double p_alive =
      1.0 / (1.0 + a / (b + x - 1) * std::pow((alpha + T) / (alpha + t_x), r + x));
  EXPECT_NEAR(s.p_alive(), p_alive, 1e-12);
  EXPECT_NEAR(p_alive, 0.3802, 1e-4);  // the figure by hand
  const auto expected = ExpectedPurchases({r, alpha, a, b}, {x, t_x, T}, 90.0 / 7.0);
  ASSERT_TRUE(expected.ok());
  EXPECT_DOUBLE_EQ(s.expected_purchases_90d(), *expected);
  EXPECT_GT(s.expected_purchases_90d(), 0);

  // One purchase only: P(alive) is exactly 1 in the BG/NBD.
  CustomerState once = Buyer(10, 1, 100);
  Classify(Config(), &model, once, kNow, 1);
  EXPECT_EQ(once.p_alive(), 1.0);
  // No purchase, or no BG/NBD model: 0 (not known).
  CustomerState none = NewCustomer();
  Classify(Config(), &model, none, kNow, 1);
  EXPECT_EQ(none.p_alive(), 0);
  EXPECT_EQ(none.expected_purchases_90d(), 0);
  model.clear_bgnbd();
  Classify(Config(), &model, s, kNow, 2);
  EXPECT_EQ(s.p_alive(), 0);
  EXPECT_EQ(s.expected_purchases_90d(), 0);
}

// --- Through events: bookkeeping and replay ------------------------------------------

Event At(int64_t day, const std::string& id, const std::function<void(Event&)>& fill) {
  Event e;
  e.set_event_id(id);
  e.set_customer_id("c1");
  *e.mutable_occurred_at() = Day(day);
  fill(e);
  return e;
}

std::vector<Event> History() {
  using namespace guanxi::v1;  // NOLINT
  std::vector<Event> events;
  events.push_back(At(0, "p1", [](Event& e) {
    e.mutable_profile()->mutable_potential_estimate()->set_minor_units(500000);
    e.mutable_profile()->set_strategic(true);
  }));
  events.push_back(At(3, "x1", [](Event& e) {
    auto* c = e.mutable_contact_change();
    c->set_contact_id("ceo");
    c->set_change(CONTACT_CHANGE_KIND_JOINED);
    c->set_level(CONTACT_LEVEL_EXECUTIVE);
  }));
  events.push_back(At(5, "call1", [](Event& e) {
    e.mutable_call()->set_direction(CALL_DIRECTION_INBOUND);
    e.mutable_call()->set_resolved(true);
  }));
  events.push_back(At(10, "opp1", [](Event& e) {
    e.mutable_opportunity()->set_opportunity_id("o1");
    e.mutable_opportunity()->set_stage(OPPORTUNITY_STAGE_DEVELOPMENT);
  }));
  for (int i = 0; i < 4; ++i) {
    events.push_back(At(20 + 30 * i, absl::StrCat("ord", i), [i](Event& e) {
      e.mutable_order()->set_order_id(absl::StrCat("o", i));
      e.mutable_order()->set_kind(ORDER_KIND_ORDER);
      e.mutable_order()->mutable_amount()->set_minor_units(10000 + 5000 * i);
    }));
  }
  events.push_back(At(40, "cmp1", [](Event& e) {
    e.mutable_complaint()->set_complaint_id("q1");
    e.mutable_complaint()->set_severity(SEVERITY_LOW);
  }));
  events.push_back(At(60, "k1s", [](Event& e) {
    e.mutable_contract()->set_contract_id("k1");
    e.mutable_contract()->set_milestone(CONTRACT_MILESTONE_KIND_SIGNED);
  }));
  events.push_back(At(150, "k1r", [](Event& e) {
    e.mutable_contract()->set_contract_id("k1");
    e.mutable_contract()->set_milestone(CONTRACT_MILESTONE_KIND_RENEWED);
  }));
  events.push_back(At(160, "k2t", [](Event& e) {
    e.mutable_contract()->set_contract_id("k2");
    e.mutable_contract()->set_milestone(CONTRACT_MILESTONE_KIND_TERMINATED);
  }));
  events.push_back(At(170, "opp1w", [](Event& e) {
    e.mutable_opportunity()->set_opportunity_id("o1");
    e.mutable_opportunity()->set_stage(OPPORTUNITY_STAGE_WON);
  }));
  return events;
}

ProjectionConfig ScoringConfig() {
  const auto engine = guanxi::engine::DefaultEngineConfig();
  return ProjectionConfig(engine.scoring());
}

TEST(ClassesBookkeepingTest, EventsFillTheClassificationFields) {
  const ProjectionConfig scoring = ScoringConfig();
  CustomerState s;
  uint64_t position = 0;
  for (const Event& e : History()) ApplyEvent(scoring, s, e, ++position);
  EXPECT_EQ(s.potential_estimate_minor(), 500000);
  EXPECT_TRUE(s.strategic());
  EXPECT_EQ(s.complaints(), 1);
  EXPECT_EQ(s.contracts_renewed(), 1);
  EXPECT_EQ(s.contracts_terminated(), 1);
  EXPECT_EQ(s.last_inbound_call_at().seconds(), Day(5).seconds());
  EXPECT_EQ(s.last_open_opportunity_at().seconds(), Day(10).seconds());
  EXPECT_EQ(s.last_conversion_at().seconds(), Day(170).seconds());  // the won opportunity
  // A late event never moves a "latest" time back.
  ApplyEvent(
      scoring, s,
      At(1, "call0",
         [](Event& e) { e.mutable_call()->set_direction(guanxi::v1::CALL_DIRECTION_INBOUND); }),
      ++position);
  EXPECT_EQ(s.last_inbound_call_at().seconds(), Day(5).seconds());
  // A profile update without the fields leaves them.
  ApplyEvent(scoring, s, At(180, "p2", [](Event& e) { e.mutable_profile()->set_name("Acme"); }),
             ++position);
  EXPECT_EQ(s.potential_estimate_minor(), 500000);
  EXPECT_TRUE(s.strategic());
}

TEST(ClassesBookkeepingTest, ReplayWithStateRoundTripsGivesTheSameBytesAndFacts) {
  const ProjectionConfig scoring = ScoringConfig();
  const ModelRecord model = Model();
  const auto config = Config();
  CustomerState live, restarted;
  std::vector<std::string> live_facts, restarted_facts;
  uint64_t position = 0;
  for (const Event& e : History()) {
    ++position;
    ApplyEvent(scoring, live, e, position);
    for (const auto& c : Classify(config, &model, live, e.occurred_at(), position)) {
      live_facts.push_back(c.SerializeAsString());
    }
    CustomerState reloaded;
    ASSERT_TRUE(reloaded.ParseFromString(restarted.SerializeAsString()));
    ApplyEvent(scoring, reloaded, e, position);
    for (const auto& c : Classify(config, &model, reloaded, e.occurred_at(), position)) {
      restarted_facts.push_back(c.SerializeAsString());
    }
    restarted = reloaded;
  }
  EXPECT_EQ(live.SerializeAsString(), restarted.SerializeAsString());
  EXPECT_EQ(live_facts, restarted_facts);
  EXPECT_FALSE(live_facts.empty());
  // Where the history leaves the customer (at day 170).
  EXPECT_EQ(live.classes().intent_class(), "A");
  EXPECT_EQ(live.classes().relationship_kind(), "key");  // the CEO; contacts at 1 level
  EXPECT_EQ(live.contacts(0).relationship_kind(), "key");
  EXPECT_EQ(live.classes().abc(), "A");  // 700.00 in the trailing 12 months >= 100.00
}

}  // namespace
}  // namespace guanxi::projections

namespace guanxi::projections {
namespace {

// The example of docs/scoring.md, "Classes": the reasons as the account manager reads them.
TEST(DocsExampleTest, MatchesDocsScoringClasses) {
  using namespace guanxi::v1;  // NOLINT
  ModelRecord model;
  *model.mutable_as_of() = Day(390);
  model.mutable_abc()->set_a_min_revenue_minor(980000);
  model.mutable_abc()->set_b_min_revenue_minor(200000);
  for (double v : {10, 30, 60, 120}) model.mutable_rfm()->add_recency_days(v);
  for (double v : {1, 2, 4, 8}) model.mutable_rfm()->add_frequency(v);
  for (double v : {10000, 50000, 100000, 500000}) model.mutable_rfm()->add_monetary_minor(v);

  CustomerState s = NewCustomer();
  s.set_customer_id("acme");
  // 5 orders in the last 12 months worth 12,400.00: 8,000.00 in the last 6 months, 4,400.00
  // in the 6 before; the last one 20 days ago.
  s.set_purchase_days(5);
  s.set_orders(5);
  *s.mutable_first_purchase_at() = Day(150);
  *s.mutable_last_purchase_at() = Day(380);
  *s.mutable_last_conversion_at() = Day(380);
  *s.mutable_last_interaction_at() = Day(395);
  auto* earlier = s.add_purchase_months();
  earlier->set_month(MonthOf(kNow) - 8);
  earlier->set_orders(2);
  earlier->set_revenue_minor(440000);
  auto* recent = s.add_purchase_months();
  recent->set_month(MonthOf(kNow));
  recent->set_orders(3);
  recent->set_revenue_minor(800000);
  s.set_potential_estimate_minor(3000000);
  SetFeeling(s, 68);
  s.set_contracts_renewed(1);
  s.add_active_contracts("K-17");
  AddContact(s, "cfo", CONTACT_ROLE_DECISION_MAKER, CONTACT_LEVEL_EXECUTIVE);
  AddContact(s, "buyer", CONTACT_ROLE_USER, CONTACT_LEVEL_MANAGER);

  const auto changes = Classify(Config(), &model, s, kNow, 1234);
  std::vector<std::string> lines;
  for (const auto& c : changes) {
    lines.push_back(absl::StrCat(c.class_change().classification(), " | ", c.class_change().to(),
                                 " | ", c.class_change().reason()));
  }
  EXPECT_THAT(
      lines,
      ElementsAre(
          "abc | A | trailing-12-month revenue 12,400.00 >= A cut-off 9,800.00",
          "rfm_recency | 4 | last purchase 20 days ago: > 10 days (20th percentile), <= 30 days "
          "(40th percentile); fewer days score higher",
          "rfm_frequency | 4 | 5 orders in the trailing 12 months: > 4 (60th percentile), <= 8 "
          "(80th percentile)",
          "rfm_monetary | 5 | trailing-12-month revenue 12,400.00: > 5,000.00 (80th percentile)",
          "rfm_segment | loyal | R-F-M 4-4-5 is in segment row 2 (R 3..4, F 4..5, M 1..5)",
          "transaction_quadrant | high_value | F 4 >= 4 (high frequency), M 5 >= 4 (high amount)",
          "value_tier | high | R+F+M 4+4+5 = 13 >= 12",
          "potential_tier | high | high is the higher of: untapped potential 17,600.00 (estimate "
          "30,000.00 - trailing-12-month revenue 12,400.00) >= A cut-off 9,800.00 (high); revenue "
          "growth +81.8% (last 6 months 8,000.00 vs 4,400.00 the 6 before) >= +25.0% (high)",
          "loyalty_tier | high | satisfaction 68.0 >= 65.0, complaint rate 0.0% (0 complaints / 5 "
          "orders) <= 5.0%, renewal rate 100.0% (1 renewed, 0 terminated) >= 80.0%",
          "development_matrix | key_account | benefit (value tier) high, growth (potential tier) "
          "high",
          "intent_class | A | converted (order, won opportunity or contract) 20 days ago, within "
          "365",
          "relationship_kind | organizational | 1 active contract (min 1) and contacts at 2 levels "
          "(min 2)"));
  EXPECT_EQ(changes[0].change_id(), "acme/1234/class/abc");
  EXPECT_EQ(s.contacts(0).relationship_kind(), "key");
  EXPECT_EQ(s.contacts(1).relationship_kind(), "general");
}

}  // namespace
}  // namespace guanxi::projections
