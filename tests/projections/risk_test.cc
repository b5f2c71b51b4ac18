#include "projections/churn/risk.h"

#include <cmath>
#include <random>
#include <vector>

#include "engine/config/config.h"
#include "gtest/gtest.h"
#include "projections/relationship.h"

namespace guanxi::projections {
namespace {

using google::protobuf::Timestamp;
using guanxi::v1::CustomerState;

constexpr int64_t kDay = 86400;
constexpr int64_t kBase = 1767225600;  // 2026-01-01T00:00:00Z

Timestamp Day(int64_t day) {
  Timestamp t;
  t.set_seconds(kBase + day * kDay);
  return t;
}

int Index(std::string_view name) {
  for (int j = 0; j < kRiskFeatures; ++j) {
    if (kRiskFeatureNames[j] == name) return j;
  }
  return -1;
}

TEST(RiskFeaturesTest, ReadTheStateAtTheGivenTime) {
  const auto config = engine::DefaultEngineConfig();
  CustomerState s;
  *s.mutable_first_event_at() = Day(0);
  *s.mutable_last_purchase_at() = Day(40);
  *s.mutable_last_interaction_at() = Day(90);
  s.set_purchase_days(3);
  s.set_revenue_minor(30000);  // 300.00 over 3 purchase days
  s.set_overall_score(75);
  s.set_p_alive(0.8);
  s.set_expected_purchases_90d(1.5);
  const RiskFeatures f = RiskFeaturesOf(config.churn(), s, Day(100));
  EXPECT_DOUBLE_EQ(f[Index("quiet_days")], std::log1p(10.0));
  EXPECT_DOUBLE_EQ(f[Index("unbought_days")], std::log1p(60.0));
  // Fewer purchase days than a rhythm needs: the default usual gap.
  EXPECT_DOUBLE_EQ(f[Index("quiet_over_rhythm")],
                   std::log1p(60.0 / std::max(config.churn().default_rhythm_days(),
                                              config.churn().min_rhythm_days())));
  EXPECT_DOUBLE_EQ(f[Index("purchase_days")], std::log1p(3.0));
  EXPECT_DOUBLE_EQ(f[Index("age_days")], std::log1p(100.0));
  EXPECT_DOUBLE_EQ(f[Index("monetary")], std::log1p(100.0));
  EXPECT_DOUBLE_EQ(f[Index("p_alive")], 0.8);
  EXPECT_DOUBLE_EQ(f[Index("expected_purchases")], std::log1p(1.5));
  EXPECT_DOUBLE_EQ(f[Index("score")], 0.5);
  EXPECT_DOUBLE_EQ(f[Index("order_trend")], std::log(0.5 / 0.5));  // no months kept
  EXPECT_DOUBLE_EQ(f[Index("spend_trend")], std::log(1.0 / 1.0));
}

TEST(RiskFeaturesTest, TrendsSetTheLastThreeMonthsAgainstTheNineBefore) {
  const auto config = engine::DefaultEngineConfig();
  CustomerState s;
  *s.mutable_first_event_at() = Day(0);
  *s.mutable_last_purchase_at() = Day(300);
  const int32_t now = MonthOf(Day(300));
  // 2 orders for 100.00 this month; 6 orders for 900.00 five months before.
  auto* recent = s.add_purchase_months();
  recent->set_month(now);
  recent->set_orders(2);
  recent->set_revenue_minor(10000);
  auto* before = s.add_purchase_months();
  before->set_month(now - 5);
  before->set_orders(6);
  before->set_revenue_minor(90000);
  const RiskFeatures f = RiskFeaturesOf(config.churn(), s, Day(300));
  EXPECT_DOUBLE_EQ(f[Index("order_trend")], std::log((2 + 0.5) / (6 / 3.0 + 0.5)));
  EXPECT_DOUBLE_EQ(f[Index("spend_trend")], std::log((100 + 1.0) / (900 / 3.0 + 1.0)));
}

TEST(RiskFeaturesTest, ACustomerWhoNeverBoughtCountsFromItsFirstEvent) {
  const auto config = engine::DefaultEngineConfig();
  CustomerState s;
  *s.mutable_first_event_at() = Day(10);
  const RiskFeatures f = RiskFeaturesOf(config.churn(), s, Day(30));
  EXPECT_DOUBLE_EQ(f[Index("quiet_days")], std::log1p(20.0));
  EXPECT_DOUBLE_EQ(f[Index("unbought_days")], std::log1p(20.0));
  EXPECT_DOUBLE_EQ(f[Index("quiet_over_rhythm")], 0.0);
}

TEST(WentQuietTest, NothingAtAllAfterTheFeaturesTime) {
  CustomerState s;
  *s.mutable_last_purchase_at() = Day(5);
  *s.mutable_last_interaction_at() = Day(10);
  EXPECT_TRUE(WentQuiet(s, Day(10)));
  EXPECT_FALSE(WentQuiet(s, Day(9)));  // an interaction on day 10
  *s.mutable_last_interaction_at() = Day(3);
  EXPECT_FALSE(WentQuiet(s, Day(4)));  // a purchase on day 5
}

// Examples whose outcome follows a known logistic law in two features (quiet days up,
// purchase days down), the rest noise.
std::vector<RiskExample> Planted(int n, uint32_t seed) {
  std::mt19937 random(seed);
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::vector<RiskExample> examples;
  for (int i = 0; i < n; ++i) {
    RiskExample e;
    for (double& f : e.features) f = normal(random);
    const double eta = 1.5 * e.features[Index("quiet_days")] -
                       1.0 * e.features[Index("purchase_days")] - 0.5;
    e.churned = uniform(random) < 1 / (1 + std::exp(-eta));
    examples.push_back(e);
  }
  return examples;
}

TEST(FitChurnRiskTest, RecoversAPlantedLawAndItsCalibration) {
  const auto examples = Planted(4000, 7);
  const auto model = FitChurnRisk(examples, 90);
  ASSERT_TRUE(model.has_value());
  EXPECT_TRUE(model->converged());
  EXPECT_EQ(model->horizon_days(), 90);
  EXPECT_EQ(model->examples(), 4000);
  ASSERT_EQ(model->weights_size(), kRiskFeatures);
  ASSERT_EQ(model->features_size(), kRiskFeatures);
  EXPECT_EQ(model->features(0), "quiet_days");
  // Standardised weights: the planted ones near 1.5 and -1.0 (the features are N(0, 1)),
  // every other one near 0.
  for (int j = 0; j < kRiskFeatures; ++j) {
    const double expected = j == Index("quiet_days") ? 1.5 : j == Index("purchase_days") ? -1.0 : 0;
    EXPECT_NEAR(model->weights(j), expected, 0.15)
        << kRiskFeatureNames[j];
  }
  EXPECT_NEAR(model->intercept(), -0.5, 0.15);
  // Calibrated: the mean predicted risk is the share that churned.
  double predicted = 0;
  for (const auto& e : examples) predicted += ChurnRisk(*model, e.features);
  EXPECT_NEAR(predicted / 4000, static_cast<double>(model->churned()) / 4000, 0.005);
  RiskFeatures quiet{}, busy{};
  quiet[Index("quiet_days")] = 2;
  busy[Index("quiet_days")] = -2;
  EXPECT_GT(ChurnRisk(*model, quiet), 0.9);
  EXPECT_LT(ChurnRisk(*model, busy), 0.1);
}

TEST(FitChurnRiskTest, IsAFunctionOfTheExamples) {
  const auto a = FitChurnRisk(Planted(500, 3), 90);
  const auto b = FitChurnRisk(Planted(500, 3), 90);
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(a->SerializeAsString(), b->SerializeAsString());
}

TEST(FitChurnRiskTest, NothingToFitWithOneOutcomeOrTooFew) {
  auto examples = Planted(100, 5);
  EXPECT_FALSE(FitChurnRisk(absl::MakeConstSpan(examples).subspan(0, 10), 90).has_value());
  for (auto& e : examples) e.churned = true;
  EXPECT_FALSE(FitChurnRisk(examples, 90).has_value());
  for (auto& e : examples) e.churned = false;
  EXPECT_FALSE(FitChurnRisk(examples, 90).has_value());
}

TEST(FitChurnRiskTest, TwoIdenticalFeaturesStillFitOnce) {
  // On purchase-only data quiet_days and unbought_days are the same figure.
  auto examples = Planted(1000, 11);
  for (auto& e : examples) e.features[Index("unbought_days")] = e.features[Index("quiet_days")];
  const auto model = FitChurnRisk(examples, 90);
  ASSERT_TRUE(model.has_value());
  EXPECT_TRUE(model->converged());
  // The penalty shares the planted weight between the two.
  EXPECT_NEAR(model->weights(Index("quiet_days")), model->weights(Index("unbought_days")), 1e-6);
}

TEST(ChurnRiskTest, AModelOfAnotherFeatureSetGivesNoRisk) {
  guanxi::v1::ChurnRiskModel model;
  model.set_intercept(3);
  model.add_weights(1);
  model.add_mean(0);
  model.add_scale(1);
  EXPECT_EQ(ChurnRisk(model, RiskFeatures{}), 0);
}

TEST(UpdateChurnRiskTest, NotKnownForACustomerYoungerThanTheCalibrationsCustomers) {
  const auto config = engine::DefaultEngineConfig();
  guanxi::v1::ModelRecord model;
  auto fitted = FitChurnRisk(Planted(500, 4), 90);
  ASSERT_TRUE(fitted.has_value());
  // The calibration saw customers 100 days old or more, with at least one purchase day.
  fitted->set_low(Index("age_days"), std::log1p(100.0));
  fitted->set_low(Index("purchase_days"), std::log1p(1.0));
  *model.mutable_churn_risk() = *fitted;
  CustomerState s;
  *s.mutable_first_event_at() = Day(0);
  *s.mutable_last_purchase_at() = Day(0);
  s.set_purchase_days(1);
  UpdateChurnRisk(config.churn(), &model, s, Day(99));
  EXPECT_FALSE(s.has_churn_risk());  // 99 days old
  UpdateChurnRisk(config.churn(), &model, s, Day(100));
  EXPECT_TRUE(s.has_churn_risk());
  s.set_purchase_days(0);  // never bought: fewer purchase days than any of them
  UpdateChurnRisk(config.churn(), &model, s, Day(100));
  EXPECT_FALSE(s.has_churn_risk());
  UpdateChurnRisk(config.churn(), nullptr, s, Day(100));
  EXPECT_FALSE(s.has_churn_risk());
}

TEST(ChurnRiskTest, HoldsEachFeatureWithinTheRangeTheCalibrationSaw) {
  const auto model = FitChurnRisk(Planted(2000, 9), 90);
  ASSERT_TRUE(model.has_value());
  const int quiet = Index("quiet_days");
  RiskFeatures edge{}, beyond{};
  edge[quiet] = model->high(quiet);
  beyond[quiet] = model->high(quiet) * 100;  // far outside anything it was fitted on
  EXPECT_EQ(ChurnRisk(*model, beyond), ChurnRisk(*model, edge));
  EXPECT_LT(model->low(quiet), -2.5);  // N(0, 1) over 2,000 draws
  EXPECT_GT(model->high(quiet), 2.5);
}

}  // namespace
}  // namespace guanxi::projections
