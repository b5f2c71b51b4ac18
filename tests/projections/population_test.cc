#include "projections/population.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "projections/relationship.h"

namespace guanxi::projections {
namespace {

using google::protobuf::Timestamp;
using guanxi::v1::CustomerState;
using ::testing::ElementsAre;

constexpr int64_t kDay = 86400;
constexpr int64_t kBase = 1767225600;  // 2026-01-01T00:00:00Z

Timestamp Day(int64_t day) {
  Timestamp t;
  t.set_seconds(kBase + day * kDay);
  return t;
}

const Timestamp kAsOf = Day(200);  // 2026-07-20

// A customer with a purchase: everything bought in the month of kAsOf (so all of it is
// trailing-12-month revenue), the last purchase `recency` days before kAsOf, the first
// `age` days before it, on `purchase_days` distinct days.
CustomerState Buyer(const std::string& id, int64_t revenue_minor, int64_t orders = 1,
                    int64_t recency = 10, int64_t purchase_days = 1, int64_t age = 100) {
  CustomerState s;
  s.set_customer_id(id);
  s.set_purchase_days(purchase_days);
  *s.mutable_first_purchase_at() = Day(200 - age);
  *s.mutable_last_purchase_at() = Day(200 - recency);
  s.set_orders(orders);
  s.set_revenue_minor(revenue_minor);
  auto* month = s.add_purchase_months();
  month->set_month(MonthOf(kAsOf));
  month->set_orders(orders);
  month->set_revenue_minor(revenue_minor);
  return s;
}

guanxi::v1::ClassificationConfig SmallPopulationConfig() {
  auto config = guanxi::engine::DefaultEngineConfig().classification();
  config.set_min_population(1);
  return config;
}

std::vector<const CustomerState*> Pointers(const std::vector<CustomerState>& states) {
  std::vector<const CustomerState*> out;
  for (const auto& s : states) out.push_back(&s);
  return out;
}

guanxi::v1::ModelRecord Fit(const guanxi::v1::ClassificationConfig& config,
                            const std::vector<CustomerState>& states) {
  return FitPopulation(config, Pointers(states), kAsOf);
}

std::vector<double> Values(const google::protobuf::RepeatedField<double>& field) {
  return {field.begin(), field.end()};
}

// --- ABC ------------------------------------------------------------------------------

// Revenues 500, 300, 100, 50, 30, 20 (x100 minor units): cumulative shares 50 %, 80 %,
// 90 %, 95 %, 98 %, 100 %.
std::vector<CustomerState> SixBuyers() {
  std::vector<CustomerState> states;
  const int64_t revenues[] = {50000, 30000, 10000, 5000, 3000, 2000};
  for (int i = 0; i < 6; ++i) states.push_back(Buyer(absl::StrCat("c", i), revenues[i]));
  return states;
}

TEST(PopulationAbcTest, CutOffsAreTheRevenueWhereTheCumulativeShareIsReached) {
  auto config = SmallPopulationConfig();  // 0.80 / 0.15
  const auto model = Fit(config, SixBuyers());
  ASSERT_TRUE(model.has_abc());
  // 80 % is reached exactly at the second customer (50 % + 30 %): A down to 300.00.
  EXPECT_EQ(model.abc().a_min_revenue_minor(), 30000);
  // 95 % is reached exactly at the fourth (90 % + 5 %): B down to 50.00.
  EXPECT_EQ(model.abc().b_min_revenue_minor(), 5000);
  EXPECT_EQ(model.abc().a_share(), 0.80);
  EXPECT_EQ(model.abc().b_share(), 0.15);
  EXPECT_EQ(model.population(), 6);
}

TEST(PopulationAbcTest, ShareJustBelowAtAndAboveACumulativeStep) {
  struct Case {
    double a_share;
    int64_t a_min;
  };
  const Case cases[] = {
      {0.499999, 50000},  // below 50 %: the first customer alone reaches it
      {0.5, 50000},       // at 50 %: still the first
      {0.500001, 30000},  // above: the second is needed
      {0.79, 30000},     {0.81, 10000}, {1.0, 2000},  // everyone with positive revenue is A
  };
  for (const Case& c : cases) {
    auto config = SmallPopulationConfig();
    config.set_abc_a_share(c.a_share);
    config.set_abc_b_share(0);
    const auto model = Fit(config, SixBuyers());
    EXPECT_EQ(model.abc().a_min_revenue_minor(), c.a_min) << c.a_share;
    // No B share: the B cut-off is the A cut-off, so nobody is B.
    EXPECT_EQ(model.abc().b_min_revenue_minor(), c.a_min) << c.a_share;
  }
}

TEST(PopulationAbcTest, TiedRevenuesShareTheClassAndNonPositiveRevenueIsIgnored) {
  std::vector<CustomerState> states = {Buyer("a", 40000), Buyer("b", 40000), Buyer("c", 20000),
                                       Buyer("zero", 0), Buyer("minus", -500)};
  auto config = SmallPopulationConfig();
  config.set_abc_a_share(0.3);
  config.set_abc_b_share(0.15);
  const auto model = Fit(config, states);
  // 30 % is reached by the first 400.00 (40 %); the tied second is A too (80 % in A).
  EXPECT_EQ(model.abc().a_min_revenue_minor(), 40000);
  // 45 % is reached by the second 400.00: B starts at 400.00 as well, so B is empty.
  EXPECT_EQ(model.abc().b_min_revenue_minor(), 40000);
  // The zero and negative revenues change no share: the same as without them.
  states.resize(3);
  EXPECT_EQ(Fit(config, states).abc().SerializeAsString(), model.abc().SerializeAsString());
}

TEST(PopulationAbcTest, NoPositiveRevenueMeansNoAbc) {
  const auto model = Fit(SmallPopulationConfig(), {Buyer("a", 0), Buyer("b", -100)});
  EXPECT_FALSE(model.has_abc());
  EXPECT_TRUE(model.has_rfm());
}

// --- RFM ------------------------------------------------------------------------------

TEST(PopulationRfmTest, NearestRankQuintileBoundaries) {
  // Frequencies 1..10 and revenues 100..1000: boundaries at ranks 2, 4, 6, 8.
  std::vector<CustomerState> states;
  for (int i = 1; i <= 10; ++i) {
    states.push_back(Buyer(absl::StrCat("c", i), i * 100, i, /*recency=*/i * 3));
  }
  const auto model = Fit(SmallPopulationConfig(), states);
  EXPECT_THAT(Values(model.rfm().frequency()), ElementsAre(2, 4, 6, 8));
  EXPECT_THAT(Values(model.rfm().monetary_minor()), ElementsAre(200, 400, 600, 800));
  EXPECT_THAT(Values(model.rfm().recency_days()), ElementsAre(6, 12, 18, 24));
}

TEST(PopulationRfmTest, SevenCustomersUseRanksCeilOfKTimesNOverFive) {
  // ceil(7k/5) for k = 1..4: ranks 2, 3, 5, 6.
  std::vector<CustomerState> states;
  for (int i = 1; i <= 7; ++i) states.push_back(Buyer(absl::StrCat("c", i), i, i * 10));
  const auto model = Fit(SmallPopulationConfig(), states);
  EXPECT_THAT(Values(model.rfm().frequency()), ElementsAre(20, 30, 50, 60));
}

TEST(PopulationRfmTest, TiesMakeEqualBoundariesAndEqualValuesShareAScore) {
  // Six customers with one order, then 2, 3, 4, 5 orders.
  const int orders[] = {1, 1, 1, 1, 1, 1, 2, 3, 4, 5};
  std::vector<CustomerState> states;
  for (int i = 0; i < 10; ++i) states.push_back(Buyer(absl::StrCat("c", i), 100, orders[i]));
  const auto model = Fit(SmallPopulationConfig(), states);
  EXPECT_THAT(Values(model.rfm().frequency()), ElementsAre(1, 1, 1, 3));
  const auto& f = model.rfm().frequency();
  EXPECT_EQ(Quintile(1, f), 1);  // all six one-order customers
  EXPECT_EQ(Quintile(2, f), 4);  // above three boundaries: 2 and 3 are skipped
  EXPECT_EQ(Quintile(3, f), 4);  // equal to the last boundary: the lower quintile
  EXPECT_EQ(Quintile(4, f), 5);
  // Everyone spent 100: every boundary is 100, everyone is in quintile 1.
  EXPECT_THAT(Values(model.rfm().monetary_minor()), ElementsAre(100, 100, 100, 100));
}

TEST(PopulationRfmTest, QuintileAtTheBoundaries) {
  google::protobuf::RepeatedField<double> b;
  for (double v : {2.0, 4.0, 6.0, 8.0}) b.Add(v);
  const std::pair<double, int> cases[] = {{0, 1}, {2, 1}, {2.5, 2}, {4, 2},   {4.001, 3},
                                          {6, 3}, {7, 4}, {8, 4},   {8.5, 5}, {1e9, 5}};
  for (const auto& [value, quintile] : cases) EXPECT_EQ(Quintile(value, b), quintile) << value;
  google::protobuf::RepeatedField<double> three;
  three.Add(1);
  EXPECT_EQ(Quintile(5, three), 0);
}

TEST(PopulationRfmTest, CustomersWithoutPurchaseAreNotInTheSample) {
  std::vector<CustomerState> states;
  for (int i = 1; i <= 5; ++i) states.push_back(Buyer(absl::StrCat("c", i), i * 100, i));
  const auto with_buyers_only = Fit(SmallPopulationConfig(), states);
  CustomerState prospect;
  prospect.set_customer_id("p");
  states.push_back(prospect);
  const auto model = Fit(SmallPopulationConfig(), states);
  EXPECT_EQ(model.population(), 6);
  EXPECT_EQ(model.rfm().SerializeAsString(), with_buyers_only.rfm().SerializeAsString());
}

TEST(PopulationTest, BelowMinimumPopulationNoModelIsFitted) {
  auto config = SmallPopulationConfig();
  config.set_min_population(7);
  const auto model = Fit(config, SixBuyers());
  EXPECT_FALSE(model.has_abc());
  EXPECT_FALSE(model.has_rfm());
  EXPECT_FALSE(model.has_bgnbd());
  EXPECT_EQ(model.population(), 6);
  EXPECT_EQ(model.as_of().seconds(), kAsOf.seconds());
  config.set_min_population(6);  // at the minimum: fitted
  EXPECT_TRUE(Fit(config, SixBuyers()).has_rfm());
}

// --- BG/NBD and determinism -----------------------------------------------------------

// 60 customers whose purchases follow the BG/NBD story (r 2, alpha 3 weeks, a 0.8,
// b 2.5; a fixed seed), acquired 400..699 days before kAsOf: one-time buyers, active
// repeat buyers and repeat buyers who dropped out, as the fit expects to see.
std::vector<CustomerState> VariedPopulation() {
  std::mt19937 rng(7);
  std::gamma_distribution<double> rate(2.0, 1.0 / 3.0);  // per week
  std::gamma_distribution<double> ga(0.8, 1.0), gb(2.5, 1.0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<CustomerState> states;
  for (int i = 0; i < 60; ++i) {
    const int64_t age = 400 + (i * 37) % 300;
    const double lambda = rate(rng);
    const double x = ga(rng), y = gb(rng);
    const double p = x / (x + y);
    std::vector<int64_t> days = {0};  // days since the first purchase
    double t = 0;
    while (true) {
      t += -std::log(1.0 - u(rng)) / lambda * 7.0;
      if (t > static_cast<double>(age)) break;
      if (days.back() != static_cast<int64_t>(t)) days.push_back(static_cast<int64_t>(t));
      if (u(rng) < p) break;  // dropped out after this purchase
    }
    const auto n = static_cast<int64_t>(days.size());
    states.push_back(
        Buyer(absl::StrCat("cust-", i), 1000 + (i * 7919) % 50000, n, age - days.back(), n, age));
  }
  return states;
}

TEST(PopulationBgNbdTest, FitsTheHistoriesInWeeks) {
  auto config = SmallPopulationConfig();
  const auto states = VariedPopulation();
  const auto model = Fit(config, states);
  ASSERT_TRUE(model.has_bgnbd());
  std::vector<CustomerHistory> histories;
  for (const auto& s : states) histories.push_back(*PurchaseHistoryOf(s, kAsOf, 7.0));
  const auto fit = FitBgNbd(GroupHistories(histories));
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_EQ(model.bgnbd().r(), fit->params.r);
  EXPECT_EQ(model.bgnbd().alpha(), fit->params.alpha);
  EXPECT_EQ(model.bgnbd().a(), fit->params.a);
  EXPECT_EQ(model.bgnbd().b(), fit->params.b);
  EXPECT_EQ(model.bgnbd().log_likelihood(), fit->log_likelihood);
  EXPECT_EQ(model.bgnbd().customers(), 60);
  EXPECT_EQ(model.bgnbd().time_unit_days(), 7.0);
  EXPECT_EQ(model.bgnbd().converged(), fit->converged);
  EXPECT_TRUE(model.bgnbd().converged());
}

// Each of VariedPopulation's customers four times over (other ids, equal figures): the
// fit runs over one group per distinct history, and matches the fit over the histories
// one by one; bgnbd.customers counts customers, not groups.
TEST(PopulationBgNbdTest, FitsGroupedHistoriesAndCountsCustomers) {
  std::vector<CustomerState> states;
  for (int copy = 0; copy < 4; ++copy) {
    for (CustomerState s : VariedPopulation()) {
      s.set_customer_id(absl::StrCat(s.customer_id(), "-", copy));
      states.push_back(std::move(s));
    }
  }
  const auto model = Fit(SmallPopulationConfig(), states);
  ASSERT_TRUE(model.has_bgnbd());
  EXPECT_EQ(model.bgnbd().customers(), 240);
  std::vector<CustomerHistory> histories;
  for (const auto& s : states) histories.push_back(*PurchaseHistoryOf(s, kAsOf, 7.0));
  ASSERT_LE(GroupHistories(histories).size(), 60u);
  const auto ungrouped = FitBgNbd(histories, {.max_iterations = 300});
  ASSERT_TRUE(ungrouped.ok()) << ungrouped.status();
  EXPECT_EQ(model.bgnbd().converged(), ungrouped->converged);
  const double ll = ungrouped->log_likelihood;
  EXPECT_NEAR(model.bgnbd().log_likelihood(), ll, 1e-9 * std::abs(ll));
  EXPECT_NEAR(model.bgnbd().r(), ungrouped->params.r, 1e-6 * ungrouped->params.r);
  EXPECT_NEAR(model.bgnbd().alpha(), ungrouped->params.alpha, 1e-6 * ungrouped->params.alpha);
  EXPECT_NEAR(model.bgnbd().a(), ungrouped->params.a, 1e-6 * ungrouped->params.a);
  EXPECT_NEAR(model.bgnbd().b(), ungrouped->params.b, 1e-6 * ungrouped->params.b);
}

TEST(PopulationBgNbdTest, TooFewRepeatBuyersLeaveBgNbdUnset) {
  auto config = SmallPopulationConfig();
  // Nobody bought twice: the fit has no finite maximum; no error, no model.
  EXPECT_FALSE(Fit(config, SixBuyers()).has_bgnbd());
  EXPECT_TRUE(Fit(config, SixBuyers()).has_abc());
  const auto states = VariedPopulation();
  int64_t repeat = 0;
  for (const auto& s : states) repeat += s.purchase_days() > 1 ? 1 : 0;
  config.set_bgnbd_min_repeat_buyers(static_cast<int32_t>(repeat) + 1);
  EXPECT_FALSE(Fit(config, states).has_bgnbd());
  config.set_bgnbd_min_repeat_buyers(static_cast<int32_t>(repeat));
  EXPECT_TRUE(Fit(config, states).has_bgnbd());
}

TEST(PopulationTest, ShuffledPopulationGivesTheSameModelBytes) {
  const auto config = SmallPopulationConfig();
  const auto states = VariedPopulation();
  const std::string reference = Fit(config, states).SerializeAsString();
  ASSERT_TRUE(Fit(config, states).has_bgnbd());
  std::vector<const CustomerState*> shuffled = Pointers(states);
  std::mt19937 rng(42);
  for (int round = 0; round < 5; ++round) {
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    EXPECT_EQ(FitPopulation(config, shuffled, kAsOf).SerializeAsString(), reference) << round;
  }
  std::reverse(shuffled.begin(), shuffled.end());
  EXPECT_EQ(FitPopulation(config, shuffled, kAsOf).SerializeAsString(), reference);
}

std::vector<FitFigures> FiguresOf(const std::vector<CustomerState>& states) {
  std::vector<FitFigures> figures;
  for (const auto& s : states) {
    if (auto f = FitFiguresOf(s, kAsOf)) figures.push_back(*f);
  }
  return figures;
}

TEST(PopulationTest, FiguresGiveTheModelOfTheStates) {
  const auto config = SmallPopulationConfig();
  std::vector<CustomerState> states = VariedPopulation();
  CustomerState prospect;
  prospect.set_customer_id("prospect");
  states.push_back(prospect);
  const std::vector<FitFigures> figures = FiguresOf(states);
  ASSERT_EQ(figures.size(), states.size() - 1);
  const auto from_figures =
      FitPopulation(config, figures, static_cast<int64_t>(states.size()), kAsOf);
  ASSERT_TRUE(from_figures.has_bgnbd());
  EXPECT_EQ(from_figures.population(), 61);
  EXPECT_EQ(from_figures.bgnbd().customers(), 60);
  EXPECT_EQ(from_figures.SerializeAsString(), Fit(config, states).SerializeAsString());
}

TEST(PopulationTest, ShuffledFiguresGiveTheSameModelBytes) {
  const auto config = SmallPopulationConfig();
  std::vector<FitFigures> figures = FiguresOf(VariedPopulation());
  const std::string reference = FitPopulation(config, figures, 75, kAsOf).SerializeAsString();
  std::mt19937 rng(43);
  for (int round = 0; round < 5; ++round) {
    std::shuffle(figures.begin(), figures.end(), rng);
    EXPECT_EQ(FitPopulation(config, figures, 75, kAsOf).SerializeAsString(), reference) << round;
  }
  std::reverse(figures.begin(), figures.end());
  EXPECT_EQ(FitPopulation(config, figures, 75, kAsOf).SerializeAsString(), reference);
}

TEST(PopulationTest, PopulationSizeIsRecordedAndFitsNothing) {
  const auto config = SmallPopulationConfig();
  const auto model = FitPopulation(config, {}, 12, kAsOf);
  EXPECT_EQ(model.population(), 12);
  EXPECT_FALSE(model.has_abc());
  EXPECT_FALSE(model.has_rfm());
  EXPECT_FALSE(model.has_bgnbd());
  const std::vector<FitFigures> figures = FiguresOf(SixBuyers());
  EXPECT_EQ(FitPopulation(config, figures, 1000, kAsOf).rfm().SerializeAsString(),
            FitPopulation(config, figures, 6, kAsOf).rfm().SerializeAsString());
}

TEST(PopulationTest, RefitIsDueAfterTheRefitInterval) {
  const auto config = SmallPopulationConfig();  // 30 days
  guanxi::v1::ModelRecord last;
  *last.mutable_as_of() = Day(100);
  EXPECT_TRUE(RefitDue(config, nullptr, Day(100)));
  EXPECT_FALSE(RefitDue(config, &last, Day(129)));
  Timestamp almost = Day(130);
  almost.set_seconds(almost.seconds() - 1);
  EXPECT_FALSE(RefitDue(config, &last, almost));
  EXPECT_TRUE(RefitDue(config, &last, Day(130)));
  EXPECT_TRUE(RefitDue(config, &last, Day(131)));
}

TEST(PopulationTest, RfmFiguresOfACustomer) {
  CustomerState s = Buyer("c", 12345, 3, /*recency=*/17);
  const auto figures = RfmFiguresOf(s, kAsOf);
  ASSERT_TRUE(figures.has_value());
  EXPECT_EQ(figures->recency_days, 17);
  EXPECT_EQ(figures->frequency, 3);
  EXPECT_EQ(figures->monetary_minor, 12345);
  // Thirteen months later the purchases are out of the trailing 12 months.
  Timestamp later = Day(200 + 400);
  EXPECT_EQ(RfmFiguresOf(s, later)->frequency, 0);
  EXPECT_EQ(RfmFiguresOf(s, later)->recency_days, 417);
  EXPECT_FALSE(RfmFiguresOf(CustomerState(), kAsOf).has_value());
}

TEST(PopulationTest, FitFiguresOfACustomer) {
  // Bought on 4 days, the first 100 days and the last 17 days before kAsOf.
  CustomerState s = Buyer("c", 12345, 5, /*recency=*/17, /*purchase_days=*/4, /*age=*/100);
  const auto figures = FitFiguresOf(s, kAsOf);
  ASSERT_TRUE(figures.has_value());
  EXPECT_EQ(figures->rfm.recency_days, 17);
  EXPECT_EQ(figures->rfm.frequency, 5);
  EXPECT_EQ(figures->rfm.monetary_minor, 12345);
  EXPECT_EQ(figures->history.x, 3);
  EXPECT_EQ(figures->history.t_x, 83.0 / 7.0);
  EXPECT_EQ(figures->history.T, 100.0 / 7.0);
  EXPECT_FALSE(FitFiguresOf(CustomerState(), kAsOf).has_value());
}

}  // namespace
}  // namespace guanxi::projections

namespace guanxi::projections {
namespace {

// A customer's figures, told apart by their monetary value.
FitFigures FiguresNumbered(int64_t n) {
  return {.rfm = {.recency_days = n % 30, .frequency = 1 + n % 7, .monetary_minor = 1000 + n},
          .history = {.x = 1, .t_x = 2, .T = 10}};
}

TEST(FitSampleTest, TheHashIsFnv1aOfTheIdBytes) {
  EXPECT_EQ(CustomerHash(""), 14695981039346656037ull);
  EXPECT_EQ(CustomerHash("a"), 0xaf63dc4c8601ec8cull);
}

TEST(FitSampleTest, UpToItsCapacityEveryoneInTheOrderAdded) {
  FitSample sample(5);
  for (int64_t i = 0; i < 5; ++i) sample.Add(absl::StrCat("C-", i), FiguresNumbered(i));
  EXPECT_FALSE(sample.sampled());
  EXPECT_EQ(sample.offered(), 5);
  std::vector<int64_t> kept;
  for (const FitFigures& f : std::move(sample).Take()) kept.push_back(f.rfm.monetary_minor);
  EXPECT_THAT(kept, ElementsAre(1000, 1001, 1002, 1003, 1004));
}

TEST(FitSampleTest, BeyondItTheLowestHashesWhateverTheOrder) {
  constexpr int64_t kCustomers = 5000, kCapacity = 300;
  std::vector<int64_t> order(kCustomers);
  for (int64_t i = 0; i < kCustomers; ++i) order[static_cast<size_t>(i)] = i;
  // The expected sample: the ids of the kCapacity lowest (hash, id), by their figures.
  std::vector<std::pair<std::pair<uint64_t, std::string>, int64_t>> ranked;
  for (int64_t i : order) {
    const std::string id = absl::StrCat("C-", i);
    ranked.push_back({{CustomerHash(id), id}, 1000 + i});
  }
  std::sort(ranked.begin(), ranked.end());
  std::vector<int64_t> expected;
  for (int64_t k = 0; k < kCapacity; ++k) expected.push_back(ranked[static_cast<size_t>(k)].second);

  std::mt19937 rng(20261205);
  for (int round = 0; round < 3; ++round) {
    std::shuffle(order.begin(), order.end(), rng);
    FitSample sample(kCapacity);
    for (int64_t i : order) sample.Add(absl::StrCat("C-", i), FiguresNumbered(i));
    EXPECT_TRUE(sample.sampled());
    EXPECT_EQ(sample.offered(), kCustomers);
    std::vector<int64_t> kept;
    for (const FitFigures& f : std::move(sample).Take()) kept.push_back(f.rfm.monetary_minor);
    EXPECT_EQ(kept, expected) << "round " << round;
  }
}

TEST(FitSampleTest, CapacityZeroKeepsEveryone) {
  FitSample sample(0);
  for (int64_t i = 0; i < 1000; ++i) sample.Add(absl::StrCat("C-", i), FiguresNumbered(i));
  EXPECT_FALSE(sample.sampled());
  EXPECT_EQ(std::move(sample).Take().size(), 1000u);
}

}  // namespace
}  // namespace guanxi::projections
