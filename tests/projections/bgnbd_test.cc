#include "projections/churn/bgnbd.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#ifndef GUANXI_SHARED_DATA_DIR
#error "GUANXI_SHARED_DATA_DIR must point at the shared data directory"
#endif

namespace guanxi::projections {
namespace {

using ::testing::StartsWith;

// The paper's published CDNOW estimates (Fader, Hardie & Lee 2005, sec. 5).
constexpr BgNbdParams kPaperParams = {0.243, 4.414, 0.793, 2.426};
constexpr double kPaperLogLikelihood = -9582.4;

// ---------------------------------------------------------------------------
// Independent reference computations.

// E[X(t)] from the model's definition: given p, lambda, E[X(t)] =
// (1 - exp(-lambda p t)) / p; integrating lambda ~ Gamma(r, alpha) gives
// (1 - (alpha / (alpha + p t))^r) / p, which is integrated over p ~ Beta(a, b)
// numerically (Simpson after p = u^(1/a), which removes the p^(a-1)
// singularity). Needs b > 1 for a smooth integrand.
double ExpectedPurchasesByQuadrature(const BgNbdParams& p, double t) {
  const auto g = [&](double prob) {
    if (prob == 0.0) return p.r * t / p.alpha;
    return -std::expm1(-p.r * std::log1p(prob * t / p.alpha)) / prob;
  };
  const auto integrand = [&](double u) {
    const double prob = std::pow(u, 1.0 / p.a);
    return g(prob) * std::pow(1.0 - prob, p.b - 1.0);
  };
  constexpr int kIntervals = 200000;  // Even.
  const double h = 1.0 / kIntervals;
  double sum = integrand(0.0) + integrand(1.0);
  for (int i = 1; i < kIntervals; ++i) {
    sum += (i % 2 == 1 ? 4.0 : 2.0) * integrand(i * h);
  }
  const double log_beta = std::lgamma(p.a) + std::lgamma(p.b) - std::lgamma(p.a + p.b);
  return sum * h / 3.0 / (p.a * std::exp(log_beta));
}

// Paper eq. 6 as a plain product in long double (finite up to x ~ 1700).
long double DirectLikelihood(const BgNbdParams& p, const CustomerHistory& h) {
  const long double r = p.r, alpha = p.alpha, a = p.a, b = p.b, x = h.x;
  const auto beta = [](long double u, long double v) {
    return std::tgamma(u) * std::tgamma(v) / std::tgamma(u + v);
  };
  const long double gamma_part = std::tgamma(r + x) * std::pow(alpha, r) / std::tgamma(r);
  long double likelihood = beta(a, b + x) / beta(a, b) * gamma_part /
                           std::pow(alpha + static_cast<long double>(h.T), r + x);
  if (h.x > 0) {
    likelihood += beta(a + 1, b + x - 1) / beta(a, b) * gamma_part /
                  std::pow(alpha + static_cast<long double>(h.t_x), r + x);
  }
  return likelihood;
}

// Paper eq. 6 in log space, in long double: a higher-precision reference
// for histories too large for DirectLikelihood.
long double LongDoubleLogLikelihood(const BgNbdParams& p, const CustomerHistory& h) {
  const long double r = p.r, alpha = p.alpha, a = p.a, b = p.b, x = h.x;
  const long double base = std::lgamma(r + x) - std::lgamma(r) + r * std::log(alpha) +
                           std::lgamma(a + b) + std::lgamma(b + x) - std::lgamma(b) -
                           std::lgamma(a + b + x);
  const long double alive = -(r + x) * std::log(alpha + static_cast<long double>(h.T));
  if (h.x == 0) return base + alive;
  const long double dropped = std::log(a) - std::log(b + x - 1) -
                              (r + x) * std::log(alpha + static_cast<long double>(h.t_x));
  const long double hi = std::max(alive, dropped);
  return base + hi + std::log1p(std::exp(std::min(alive, dropped) - hi));
}

// ---------------------------------------------------------------------------
// CDNOW data.

struct CdnowData {
  std::vector<int> sample_ids;             // Ascending: 1..2357.
  std::vector<CustomerHistory> histories;  // Same order.
};

double DayNumber(int yyyymmdd) {
  using namespace std::chrono;
  const year_month_day date{year{yyyymmdd / 10000},
                            month{static_cast<unsigned>(yyyymmdd / 100 % 100)},
                            day{static_cast<unsigned>(yyyymmdd % 100)}};
  return static_cast<double>(sys_days{date}.time_since_epoch().count());
}

// Calibration summary per the paper: weeks, calibration 1997-01-01 ..
// 1997-09-30 inclusive, same-day purchases merged, T to 1997-09-30.
CdnowData LoadCdnow(const std::string& path) {
  std::ifstream in(path);
  std::map<int, std::vector<double>> weeks_by_sample_id;
  const double origin = DayNumber(19970101);
  int customer = 0, sample = 0, date = 0, cds = 0;
  double dollars = 0.0;
  while (in >> customer >> sample >> date >> cds >> dollars) {
    weeks_by_sample_id[sample].push_back((DayNumber(date) - origin) / 7.0);
  }
  const double calibration_end = (DayNumber(19970930) - origin) / 7.0;
  CdnowData data;
  for (const auto& [id, weeks] : weeks_by_sample_id) {
    const absl::StatusOr<CustomerHistory> history =
        HistoryFromPurchaseTimes(weeks, calibration_end, /*merge_equal_times=*/true);
    EXPECT_TRUE(history.ok()) << "sample id " << id << ": " << history.status();
    if (!history.ok()) continue;
    data.sample_ids.push_back(id);
    data.histories.push_back(*history);
  }
  return data;
}

class CdnowTest : public ::testing::Test {
 protected:
  static std::string Dir() { return std::string(GUANXI_SHARED_DATA_DIR) + "/cdnow"; }

  void SetUp() override {
    if (!std::filesystem::exists(Dir() + "/CDNOW_sample.txt")) {
      GTEST_SKIP() << "CDNOW data missing: " << Dir()
                   << "/CDNOW_sample.txt (set GUANXI_SHARED_DATA_DIR)";
    }
  }

  static const CdnowData& Data() {
    static const CdnowData* const data = new CdnowData(LoadCdnow(Dir() + "/CDNOW_sample.txt"));
    return *data;
  }

  static const BgNbdFit& Fit() {
    static const BgNbdFit* const fit = [] {
      const absl::StatusOr<BgNbdFit> result = FitBgNbd(Data().histories);
      EXPECT_TRUE(result.ok()) << result.status();
      return new BgNbdFit(result.ok() ? *result : BgNbdFit{});
    }();
    return *fit;
  }
};

TEST_F(CdnowTest, CalibrationSummaryMatchesReferenceRowForRow) {
  const CdnowData& data = Data();
  ASSERT_EQ(data.histories.size(), 2357u);
  const std::string summary_path = Dir() + "/cdnow_customers_summary.csv";
  if (!std::filesystem::exists(summary_path)) GTEST_SKIP() << "missing " << summary_path;
  std::ifstream in(summary_path);
  std::string line;
  std::getline(in, line);
  ASSERT_EQ(line, "ID,frequency,recency,T");
  size_t row = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    int id = 0;
    double frequency = 0, recency = 0, T = 0;
    char comma = 0;
    ASSERT_TRUE(fields >> id >> comma >> frequency >> comma >> recency >> comma >> T) << line;
    ASSERT_LT(row, data.histories.size());
    // The reference's ID is the file's second column (sample id), 1..2357.
    ASSERT_EQ(id, data.sample_ids[row]);
    const CustomerHistory& h = data.histories[row];
    EXPECT_NEAR(h.x, frequency, 0.01) << "ID " << id;
    EXPECT_NEAR(h.t_x, recency, 0.01) << "ID " << id;
    EXPECT_NEAR(h.T, T, 0.01) << "ID " << id;
    ++row;
  }
  EXPECT_EQ(row, 2357u);
  // First purchase on 1997-01-01: T = 272 days.
  EXPECT_DOUBLE_EQ(data.histories[0].T, 272.0 / 7.0);
}

TEST_F(CdnowTest, FitReproducesPaperEstimates) {
  const BgNbdFit& fit = Fit();
  EXPECT_TRUE(fit.converged);
  EXPECT_EQ(fit.customers, 2357);
  EXPECT_NEAR(fit.params.r, kPaperParams.r, 0.005 * kPaperParams.r);
  EXPECT_NEAR(fit.params.alpha, kPaperParams.alpha, 0.005 * kPaperParams.alpha);
  EXPECT_NEAR(fit.params.a, kPaperParams.a, 0.005 * kPaperParams.a);
  EXPECT_NEAR(fit.params.b, kPaperParams.b, 0.005 * kPaperParams.b);
  EXPECT_NEAR(fit.log_likelihood, kPaperLogLikelihood, 0.1);
  // At the optimum the analytic gradient vanishes.
  const std::array<double, 4> g = BgNbdLogLikelihoodGradient(fit.params, Data().histories);
  for (double component : g) EXPECT_LT(std::abs(component), 1e-4);

  std::printf(
      "[ BG/NBD  ] CDNOW fit: r=%.9f alpha=%.9f a=%.9f b=%.9f LL=%.9f "
      "iterations=%d converged=%d\n",
      fit.params.r, fit.params.alpha, fit.params.a, fit.params.b, fit.log_likelihood,
      fit.iterations, fit.converged ? 1 : 0);
}

TEST_F(CdnowTest, PublishedConditionalExpectation) {
  // Fader & Hardie, "Implementing the BG/NBD Model for Customer Base Analysis
  // in Excel" (2005): E[Y(39) | x = 2, t_x = 30.43, T = 38.86] = 1.226.
  const absl::StatusOr<double> expected =
      ExpectedPurchases(Fit().params, CustomerHistory{2, 30.43, 38.86}, 39.0);
  ASSERT_TRUE(expected.ok()) << expected.status();
  EXPECT_NEAR(*expected, 1.226, 0.0005);
  std::printf("[ BG/NBD  ] E[Y(39) | 2, 30.43, 38.86] = %.6f, P(alive) = %.6f\n", *expected,
              ProbabilityAlive(Fit().params, CustomerHistory{2, 30.43, 38.86}));
}

TEST_F(CdnowTest, GroupedFitEqualsTheUngroupedFitAndThePaper) {
  const std::vector<HistoryGroup> groups = GroupHistories(Data().histories);
  const absl::StatusOr<BgNbdFit> grouped = FitBgNbd(groups);
  ASSERT_TRUE(grouped.ok()) << grouped.status();
  const BgNbdFit& ungrouped = Fit();
  EXPECT_TRUE(grouped->converged);
  EXPECT_EQ(grouped->customers, 2357);
  EXPECT_NEAR(grouped->log_likelihood, ungrouped.log_likelihood,
              1e-9 * std::abs(ungrouped.log_likelihood));
  EXPECT_NEAR(grouped->params.r, ungrouped.params.r, 1e-6 * ungrouped.params.r);
  EXPECT_NEAR(grouped->params.alpha, ungrouped.params.alpha, 1e-6 * ungrouped.params.alpha);
  EXPECT_NEAR(grouped->params.a, ungrouped.params.a, 1e-6 * ungrouped.params.a);
  EXPECT_NEAR(grouped->params.b, ungrouped.params.b, 1e-6 * ungrouped.params.b);
  EXPECT_NEAR(grouped->params.r, kPaperParams.r, 0.005 * kPaperParams.r);
  EXPECT_NEAR(grouped->params.alpha, kPaperParams.alpha, 0.005 * kPaperParams.alpha);
  EXPECT_NEAR(grouped->params.a, kPaperParams.a, 0.005 * kPaperParams.a);
  EXPECT_NEAR(grouped->params.b, kPaperParams.b, 0.005 * kPaperParams.b);
  EXPECT_NEAR(grouped->log_likelihood, kPaperLogLikelihood, 0.1);
}

// A refit starts from the model in force (BgNbdFitOptions::start): from a month-old
// model near today's optimum it converges to the same optimum from that one start, in
// fewer iterations, and the fixed start points are not tried.
TEST_F(CdnowTest, AFitFromThePreviousModelFindsTheSameOptimumFromOneStart) {
  const std::vector<HistoryGroup> groups = GroupHistories(Data().histories);
  const absl::StatusOr<BgNbdFit> cold = FitBgNbd(groups);
  ASSERT_TRUE(cold.ok()) << cold.status();
  EXPECT_EQ(cold->starts, 3);
  const BgNbdParams previous{.r = cold->params.r * 1.1,
                             .alpha = cold->params.alpha * 0.9,
                             .a = cold->params.a * 1.2,
                             .b = cold->params.b * 0.8};
  const absl::StatusOr<BgNbdFit> warm = FitBgNbd(groups, {.start = previous});
  ASSERT_TRUE(warm.ok()) << warm.status();
  EXPECT_TRUE(warm->converged);
  EXPECT_EQ(warm->starts, 1);
  EXPECT_LT(warm->iterations, cold->iterations);
  EXPECT_NEAR(warm->log_likelihood, cold->log_likelihood, 1e-9 * std::abs(cold->log_likelihood));
  EXPECT_NEAR(warm->params.r, cold->params.r, 1e-6 * cold->params.r);
  EXPECT_NEAR(warm->params.alpha, cold->params.alpha, 1e-6 * cold->params.alpha);
  EXPECT_NEAR(warm->params.a, cold->params.a, 1e-6 * cold->params.a);
  EXPECT_NEAR(warm->params.b, cold->params.b, 1e-6 * cold->params.b);
  // A start that is no model (a parameter of 0) is not tried.
  const absl::StatusOr<BgNbdFit> invalid =
      FitBgNbd(groups, {.start = BgNbdParams{.r = 0, .alpha = 1, .a = 1, .b = 1}});
  ASSERT_TRUE(invalid.ok()) << invalid.status();
  EXPECT_EQ(invalid->starts, 3);
  EXPECT_EQ(invalid->log_likelihood, cold->log_likelihood);
}

// ---------------------------------------------------------------------------
// Table tests.

TEST(BgNbdLogLikelihoodTest, ZeroRepeatsIsNbdZeroProbability) {
  // x = 0: nobody can have dropped out, so L = P(no purchase in (0, T]) =
  // (alpha / (alpha + T))^r.
  for (const double T : {0.0, 1.0, 38.857, 1e3, 1e9}) {
    const CustomerHistory h{0, 0, T};
    EXPECT_NEAR(BgNbdLogLikelihood(kPaperParams, h),
                kPaperParams.r * std::log(kPaperParams.alpha / (kPaperParams.alpha + T)), 1e-12)
        << "T=" << T;
  }
}

TEST(BgNbdLogLikelihoodTest, MatchesLongDoubleDirectProduct) {
  const CustomerHistory cases[] = {
      {1, 0.5, 2}, {2, 30.43, 38.86}, {10, 20, 52}, {150, 90, 100}, {1000, 499, 500}};
  for (const CustomerHistory& h : cases) {
    const double expected = static_cast<double>(std::log(DirectLikelihood(kPaperParams, h)));
    EXPECT_NEAR(BgNbdLogLikelihood(kPaperParams, h), expected, 1e-12 * std::abs(expected))
        << "x=" << h.x;
  }
}

TEST(BgNbdLogLikelihoodTest, LargeHistoriesStayFiniteAndAccurate) {
  const CustomerHistory cases[] = {
      {5000, 999, 1000}, {5000, 100, 1e6}, {20000, 1e5, 1e5}, {3, 1, 1e12}};
  for (const CustomerHistory& h : cases) {
    const double ll = BgNbdLogLikelihood(kPaperParams, h);
    ASSERT_TRUE(std::isfinite(ll)) << "x=" << h.x << " T=" << h.T;
    const double expected = static_cast<double>(LongDoubleLogLikelihood(kPaperParams, h));
    EXPECT_NEAR(ll, expected, 1e-12 * std::abs(expected)) << "x=" << h.x << " T=" << h.T;
    const double alive = ProbabilityAlive(kPaperParams, h);
    EXPECT_GE(alive, 0.0);
    EXPECT_LE(alive, 1.0);
    // Paper eq. 13 in long double, as a logistic of the log odds.
    const long double rx = kPaperParams.r + h.x;
    const long double log_odds =
        std::log(static_cast<long double>(kPaperParams.a) / (kPaperParams.b + h.x - 1)) +
        rx * (std::log(kPaperParams.alpha + static_cast<long double>(h.T)) -
              std::log(kPaperParams.alpha + static_cast<long double>(h.t_x)));
    const double expected_alive = static_cast<double>(1 / (1 + std::exp(log_odds)));
    EXPECT_NEAR(alive, expected_alive, 1e-12 * std::max(expected_alive, 1e-300))
        << "x=" << h.x << " T=" << h.T;
  }
}

// As a and b grow with a / (a + b) = q fixed, every customer drops out with the same
// probability q after each purchase, and the likelihood tends to the closed form
//   Gamma(r + x) alpha^r / Gamma(r) [(1 - q)^x / (alpha + T)^(r + x)
//                                    + q (1 - q)^(x - 1) / (alpha + t_x)^(r + x)].
// A refit on a population without visible dropouts drifts there (a and b of 1e16 and
// more were seen), where lgamma and digamma differences cancel to noise.
TEST(BgNbdLogLikelihoodTest, DegenerateBetaTendsToAFixedDropoutProbability) {
  const double r = 2.0, alpha = 6.0, q = 0.3;
  const std::vector<CustomerHistory> hs = {{5, 20, 30}, {1, 2, 40}, {60, 70, 71}};
  std::vector<std::array<double, 4>> gradients;
  for (const double scale : {1e12, 1e16, 1e20}) {
    const BgNbdParams p = {r, alpha, q * scale, (1 - q) * scale};
    for (const CustomerHistory& h : hs) {
      const double rx = r + h.x;
      const double base = std::lgamma(rx) - std::lgamma(r) + r * std::log(alpha);
      const double alive = h.x * std::log1p(-q) - rx * std::log(alpha + h.T);
      const double dropped =
          std::log(q) + (h.x - 1) * std::log1p(-q) - rx * std::log(alpha + h.t_x);
      const double expected =
          base + std::max(alive, dropped) +
          std::log1p(std::exp(std::min(alive, dropped) - std::max(alive, dropped)));
      EXPECT_NEAR(BgNbdLogLikelihood(p, h), expected, 1e-9 * std::abs(expected))
          << "scale " << scale << " x " << h.x;
    }
    // The gradient with respect to (log a, log b): flat along the ray (a, b) * s, and
    // the same at every scale, not noise the size of the lgamma values.
    std::array<double, 4> g = BgNbdLogLikelihoodGradient(p, hs);
    g[2] *= p.a;
    g[3] *= p.b;
    EXPECT_NEAR(g[2] + g[3], 0, 1e-9 * std::abs(g[2])) << "scale " << scale;
    gradients.push_back(g);
  }
  for (const auto& g : gradients) {
    for (int i = 0; i < 4; ++i) {
      EXPECT_NEAR(g[i], gradients[0][i], 1e-9 * std::abs(gradients[0][i])) << "component " << i;
    }
  }
}

TEST(BgNbdLogLikelihoodTest, SumOverCustomers) {
  const std::vector<CustomerHistory> hs = {{0, 0, 10}, {3, 5, 10}};
  EXPECT_DOUBLE_EQ(
      BgNbdLogLikelihood(kPaperParams, hs),
      BgNbdLogLikelihood(kPaperParams, hs[0]) + BgNbdLogLikelihood(kPaperParams, hs[1]));
}

TEST(BgNbdLogLikelihoodTest, GradientMatchesCentralDifferences) {
  const std::vector<CustomerHistory> hs = {
      {0, 0, 38}, {1, 2, 38}, {2, 30.43, 38.86}, {7, 30, 35}, {300, 200, 210}};
  const BgNbdParams p = {0.7, 3.0, 1.3, 2.2};
  const std::array<double, 4> g = BgNbdLogLikelihoodGradient(p, hs);
  for (int i = 0; i < 4; ++i) {
    BgNbdParams lo = p, hi = p;
    double* lo_field[] = {&lo.r, &lo.alpha, &lo.a, &lo.b};
    double* hi_field[] = {&hi.r, &hi.alpha, &hi.a, &hi.b};
    const double step = 1e-6 * *lo_field[i];
    *lo_field[i] -= step;
    *hi_field[i] += step;
    const double numeric = (BgNbdLogLikelihood(hi, hs) - BgNbdLogLikelihood(lo, hs)) / (2 * step);
    EXPECT_NEAR(g[i], numeric, 1e-6 * std::max(1.0, std::abs(numeric))) << "component " << i;
  }
}

// The sum shares the pieces that depend on x alone between neighbours with the same x
// (histories sorted by x cost one lgamma set per distinct x); in any order, each
// history must still count with its own x.
TEST(BgNbdLogLikelihoodTest, GradientOfASumIsTheSumOfGradientsInAnyOrder) {
  const std::vector<CustomerHistory> hs = {{2, 5, 10}, {2, 7, 12}, {0, 0, 9},
                                           {2, 1, 3},  {5, 8, 9},  {5, 2, 20}};
  const BgNbdParams p = {0.7, 3.0, 1.3, 2.2};
  std::array<double, 4> expected = {0, 0, 0, 0};
  for (const CustomerHistory& h : hs) {
    const std::array<double, 4> one =
        BgNbdLogLikelihoodGradient(p, std::vector<CustomerHistory>{h});
    for (int i = 0; i < 4; ++i) expected[i] += one[i];
  }
  const std::array<double, 4> g = BgNbdLogLikelihoodGradient(p, hs);
  for (int i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(g[i], expected[i]) << "component " << i;
  double ll = 0;
  for (const CustomerHistory& h : hs) ll += BgNbdLogLikelihood(p, h);
  EXPECT_DOUBLE_EQ(BgNbdLogLikelihood(p, hs), ll);
}

// Grouped histories: each group weighs its count, so a sum over groups is the sum over
// the histories expanded.
TEST(BgNbdLogLikelihoodTest, GroupsCountAsTheirHistoriesExpanded) {
  const std::vector<HistoryGroup> groups = {
      {{0, 0, 38}, 700}, {{0, 0, 12}, 3}, {{2, 5, 10}, 1}, {{2, 7, 12}, 40}, {{5, 8, 9}, 12}};
  std::vector<CustomerHistory> expanded;
  for (const HistoryGroup& g : groups) expanded.insert(expanded.end(), g.count, g.history);
  const BgNbdParams p = {0.7, 3.0, 1.3, 2.2};
  const double expected = BgNbdLogLikelihood(p, expanded);
  EXPECT_NEAR(BgNbdLogLikelihood(p, groups), expected, 1e-12 * std::abs(expected));
  const std::array<double, 4> g_expanded = BgNbdLogLikelihoodGradient(p, expanded);
  const std::array<double, 4> g_grouped = BgNbdLogLikelihoodGradient(p, groups);
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(g_grouped[i], g_expanded[i], 1e-12 * std::abs(g_expanded[i])) << "component " << i;
  }
  // A group of one is its history.
  const std::vector<HistoryGroup> one = {{{2, 5, 10}, 1}};
  EXPECT_EQ(BgNbdLogLikelihood(p, one), BgNbdLogLikelihood(p, one[0].history));
}

TEST(BgNbdLogLikelihoodTest, InvalidGroupsGiveNaN) {
  const BgNbdParams p = {0.7, 3.0, 1.3, 2.2};
  for (const HistoryGroup& bad : {HistoryGroup{{1, 1, 2}, 0}, HistoryGroup{{1, 1, 2}, -3},
                                  HistoryGroup{{1, 3, 2}, 5}}) {
    const std::vector<HistoryGroup> groups = {{{0, 0, 5}, 2}, bad};
    EXPECT_TRUE(std::isnan(BgNbdLogLikelihood(p, groups))) << bad.count;
    for (double component : BgNbdLogLikelihoodGradient(p, groups)) {
      EXPECT_TRUE(std::isnan(component)) << bad.count;
    }
  }
}

TEST(GroupHistoriesTest, OneGroupPerDistinctHistoryAscendingInAnyInputOrder) {
  std::vector<CustomerHistory> hs = {{2, 5, 10}, {0, 0, 9}, {2, 5, 10}, {0, 0, 3},
                                     {0, 0, 9},  {2, 5, 11}, {1, 4, 9}, {0, 0, 9}};
  const auto fields = [](const std::vector<HistoryGroup>& groups) {
    std::vector<std::array<double, 4>> out;
    for (const HistoryGroup& g : groups) {
      out.push_back({g.history.x, g.history.t_x, g.history.T, static_cast<double>(g.count)});
    }
    return out;
  };
  const std::vector<std::array<double, 4>> expected = {
      {0, 0, 3, 1}, {0, 0, 9, 3}, {1, 4, 9, 1}, {2, 5, 10, 2}, {2, 5, 11, 1}};
  EXPECT_EQ(fields(GroupHistories(hs)), expected);
  std::mt19937 rng(3);
  for (int round = 0; round < 5; ++round) {
    std::shuffle(hs.begin(), hs.end(), rng);
    EXPECT_EQ(fields(GroupHistories(hs)), expected) << round;
  }
  EXPECT_TRUE(GroupHistories({}).empty());
}

TEST(ProbabilityAliveTest, OneWithoutRepeatPurchases) {
  for (const double T : {0.0, 5.0, 1e6}) {
    EXPECT_EQ(ProbabilityAlive(kPaperParams, CustomerHistory{0, 0, T}), 1.0);
  }
}

TEST(ProbabilityAliveTest, MatchesClosedFormAndDecreasesWithT) {
  const BgNbdParams& p = kPaperParams;
  double previous = 1.0;
  for (const double T : {10.0, 20.0, 40.0, 80.0, 160.0}) {
    const CustomerHistory h{3, 10, T};
    // Paper eq. 13.
    const double expected =
        1.0 /
        (1.0 + p.a / (p.b + h.x - 1) * std::pow((p.alpha + T) / (p.alpha + h.t_x), p.r + h.x));
    const double alive = ProbabilityAlive(p, h);
    EXPECT_NEAR(alive, expected, 1e-14) << "T=" << T;
    EXPECT_LT(alive, previous) << "T=" << T;
    previous = alive;
  }
  // A purchase right at T: alive with probability 1 / (1 + a / (b + x - 1)).
  EXPECT_NEAR(ProbabilityAlive(p, CustomerHistory{3, 40, 40}), 1.0 / (1.0 + p.a / (p.b + 2)),
              1e-15);
}

TEST(LogHypergeometric2F1Test, KnownClosedForms) {
  for (const double z : {0.0, 1e-8, 0.1, 0.5, 0.9, 0.999}) {
    // 2F1(1, 1; 2; z) = -log(1 - z) / z.
    const absl::StatusOr<double> f = LogHypergeometric2F1(1, 1, 2, z);
    ASSERT_TRUE(f.ok()) << f.status();
    const double expected = z == 0 ? 0.0 : std::log(-std::log1p(-z) / z);
    EXPECT_NEAR(*f, expected, 1e-13) << "z=" << z;
    // 2F1(a, b; b; z) = (1 - z)^-a, also with huge parameters (terms up to
    // 1e5000 at z = 0.9; at z = 0.999 a = 5000.2 needs ~1e7 terms, see below).
    for (const double a : {0.3, 5000.2}) {
      if (a > 1000 && z > 0.9) continue;
      const absl::StatusOr<double> g = LogHypergeometric2F1(a, 7002.5, 7002.5, z);
      ASSERT_TRUE(g.ok()) << g.status();
      EXPECT_NEAR(*g, -a * std::log1p(-z), 1e-11 * std::max(1.0, std::abs(*g)))
          << "a=" << a << " z=" << z;
    }
  }
}

TEST(LogHypergeometric2F1Test, FailsClearlyInsteadOfTruncating) {
  EXPECT_EQ(LogHypergeometric2F1(1, 1, 2, 0.999, 100).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(LogHypergeometric2F1(5000.2, 7002.5, 7002.5, 0.999).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(LogHypergeometric2F1(1, 1, 2, 1.0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LogHypergeometric2F1(1, 1, -0.5, 0.5).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ExpectedPurchasesTest, NewCustomerMatchesModelDefinition) {
  for (const double t : {1.0, 39.0, 78.0, 500.0}) {
    const absl::StatusOr<double> e = ExpectedPurchasesNewCustomer(kPaperParams, t);
    ASSERT_TRUE(e.ok()) << e.status();
    const double reference = ExpectedPurchasesByQuadrature(kPaperParams, t);
    EXPECT_NEAR(*e, reference, 1e-6 * reference) << "t=" << t;
  }
  // Small t: E[X(t)] ~ E[lambda] t = r t / alpha, with no cancellation loss.
  const double t = 1e-7;
  const absl::StatusOr<double> e = ExpectedPurchasesNewCustomer(kPaperParams, t);
  ASSERT_TRUE(e.ok());
  EXPECT_NEAR(*e, kPaperParams.r * t / kPaperParams.alpha, 1e-6 * *e);
  EXPECT_EQ(*ExpectedPurchasesNewCustomer(kPaperParams, 0.0), 0.0);
}

TEST(ExpectedPurchasesTest, ConditionalMatchesPosteriorQuadrature) {
  // Given alive at T, the future is a new BG/NBD customer with posterior
  // parameters (r + x, alpha + T, a, b + x); x = 0 customers are alive.
  const CustomerHistory cases[] = {{0, 0, 38.86}, {0, 0, 5}, {2, 30.43, 38.86}, {12, 36, 38}};
  for (const CustomerHistory& h : cases) {
    const BgNbdParams posterior = {kPaperParams.r + h.x, kPaperParams.alpha + h.T, kPaperParams.a,
                                   kPaperParams.b + h.x};
    for (const double t : {1.0, 39.0, 104.0}) {
      const absl::StatusOr<double> e = ExpectedPurchases(kPaperParams, h, t);
      ASSERT_TRUE(e.ok()) << e.status();
      const double reference =
          ProbabilityAlive(kPaperParams, h) * ExpectedPurchasesByQuadrature(posterior, t);
      EXPECT_NEAR(*e, reference, 1e-6 * reference) << "x=" << h.x << " T=" << h.T << " t=" << t;
    }
  }
}

TEST(ExpectedPurchasesTest, LargeHistoryIsFiniteAndBounded) {
  const CustomerHistory h{5000, 999, 1000};
  const double t = 52.0;
  const absl::StatusOr<double> e = ExpectedPurchases(kPaperParams, h, t);
  ASSERT_TRUE(e.ok()) << e.status();
  // Dropout can only lower it below the posterior mean rate times t.
  const double upper = (kPaperParams.r + h.x) / (kPaperParams.alpha + h.T) * t;
  EXPECT_GT(*e, 0.5 * upper);
  EXPECT_LT(*e, upper);
}

TEST(ExpectedPurchasesTest, RejectsBadInput) {
  EXPECT_EQ(ExpectedPurchases(kPaperParams, CustomerHistory{1, 1, 2}, -1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ExpectedPurchasesNewCustomer({0.2, 4, 1.0, 2}, 10).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ExpectedPurchasesNewCustomer({0.2, 4, 0.3, 0.5}, 10).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(ExpectedPurchasesNewCustomer({0.2, -4, 0.3, 0.5}, 10).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// Building histories.

TEST(HistoryFromPurchaseTimesTest, MergesIgnoresLateAndSorts) {
  const std::vector<double> times = {3.0, 1.0, 3.0, 2.0, 9.0};
  const absl::StatusOr<CustomerHistory> merged = HistoryFromPurchaseTimes(times, 5.0, true);
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ(merged->x, 2);  // 2 and 3 (twice, merged); 9 is after the end.
  EXPECT_EQ(merged->t_x, 2.0);
  EXPECT_EQ(merged->T, 4.0);
  const absl::StatusOr<CustomerHistory> unmerged = HistoryFromPurchaseTimes(times, 5.0, false);
  ASSERT_TRUE(unmerged.ok());
  EXPECT_EQ(unmerged->x, 3);
  const absl::StatusOr<CustomerHistory> single = HistoryFromPurchaseTimes({{4.0}}, 4.0, true);
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(single->x, 0);
  EXPECT_EQ(single->T, 0.0);
}

TEST(HistoryFromPurchaseTimesTest, Errors) {
  EXPECT_EQ(HistoryFromPurchaseTimes({}, 5.0, true).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HistoryFromPurchaseTimes({{6.0}}, 5.0, true).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HistoryFromPurchaseTimes({{1.0, NAN}}, 5.0, true).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// Error paths.

TEST(ValidateHistoryTest, NamesTheField) {
  struct Case {
    CustomerHistory history;
    const char* field;
  };
  const Case cases[] = {{{-1, 0, 5}, "x ("},  {{1.5, 1, 5}, "x ("}, {{2, 6, 5}, "t_x ("},
                        {{0, 1, 5}, "t_x ("}, {{1, 1, -1}, "T ("},  {{1, NAN, 5}, "t_x ("}};
  for (const Case& c : cases) {
    const absl::Status status = ValidateHistory(c.history);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), StartsWith(c.field));
  }
  EXPECT_TRUE(ValidateHistory({0, 0, 0}).ok());
  EXPECT_TRUE(ValidateHistory({3, 7, 7}).ok());
}

TEST(FitBgNbdTest, RejectsEmptyInput) {
  EXPECT_EQ(FitBgNbd(absl::Span<const CustomerHistory>()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FitBgNbd(absl::Span<const HistoryGroup>()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FitBgNbdTest, RejectsInvalidHistoryNamingIndexAndField) {
  const struct {
    CustomerHistory bad;
    const char* field;
  } cases[] = {{{-1, 0, 5}, "x ("}, {{2, 6, 5}, "t_x ("}, {{1.5, 1, 5}, "x ("}};
  for (const auto& c : cases) {
    const std::vector<CustomerHistory> hs = {{1, 1, 5}, c.bad};
    const absl::Status status = FitBgNbd(hs).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), StartsWith(std::string("histories[1]: ") + c.field));
  }
}

TEST(FitBgNbdTest, RejectsInvalidGroupNamingIndexAndField) {
  const struct {
    HistoryGroup bad;
    const char* field;
  } cases[] = {{{{1, 1, 5}, 0}, "count ("}, {{{2, 6, 5}, 3}, "t_x ("}, {{{1.5, 1, 5}, 1}, "x ("}};
  for (const auto& c : cases) {
    const std::vector<HistoryGroup> groups = {{{1, 1, 5}, 2}, c.bad};
    const absl::Status status = FitBgNbd(groups).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), StartsWith(std::string("groups[1]: ") + c.field));
  }
}

// 6000 customers whose purchases follow the BG/NBD story (r 0.5, alpha 4 weeks, a 0.9,
// b 2.5; a fixed seed), acquired in the first 13 weeks of a 39-week calibration period
// and seen in whole weeks: most histories have many twins.
std::vector<CustomerHistory> WeeklyPopulation() {
  std::mt19937 rng(11);
  std::gamma_distribution<double> rate(0.5, 1.0 / 4.0);  // per week
  std::gamma_distribution<double> ga(0.9, 1.0), gb(2.5, 1.0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<CustomerHistory> histories;
  for (int i = 0; i < 6000; ++i) {
    const double first = std::floor(13.0 * u(rng));
    const double lambda = rate(rng);
    const double ya = ga(rng), yb = gb(rng);
    const double p = ya / (ya + yb);
    std::vector<double> weeks = {first};
    double t = first;
    while (true) {
      t += -std::log(1.0 - u(rng)) / lambda;
      if (t > 39.0) break;
      weeks.push_back(std::floor(t));
      if (u(rng) < p) break;  // dropped out after this purchase
    }
    histories.push_back(*HistoryFromPurchaseTimes(weeks, 39.0, /*merge_equal_times=*/true));
  }
  return histories;
}

TEST(FitBgNbdTest, GroupedFitEqualsTheUngroupedFit) {
  const std::vector<CustomerHistory> histories = WeeklyPopulation();
  const std::vector<HistoryGroup> groups = GroupHistories(histories);
  ASSERT_LT(groups.size() * 3, histories.size());  // many duplicates
  const absl::StatusOr<BgNbdFit> ungrouped = FitBgNbd(histories);
  const absl::StatusOr<BgNbdFit> grouped = FitBgNbd(groups);
  ASSERT_TRUE(ungrouped.ok()) << ungrouped.status();
  ASSERT_TRUE(grouped.ok()) << grouped.status();
  EXPECT_TRUE(ungrouped->converged);
  EXPECT_TRUE(grouped->converged);
  EXPECT_EQ(grouped->customers, 6000);
  EXPECT_EQ(ungrouped->customers, 6000);
  const double ll = ungrouped->log_likelihood;
  EXPECT_NEAR(grouped->log_likelihood, ll, 1e-9 * std::abs(ll));
  EXPECT_NEAR(grouped->params.r, ungrouped->params.r, 1e-6 * ungrouped->params.r);
  EXPECT_NEAR(grouped->params.alpha, ungrouped->params.alpha, 1e-6 * ungrouped->params.alpha);
  EXPECT_NEAR(grouped->params.a, ungrouped->params.a, 1e-6 * ungrouped->params.a);
  EXPECT_NEAR(grouped->params.b, ungrouped->params.b, 1e-6 * ungrouped->params.b);
  // The likelihood of the groups at the fit is that of the histories expanded.
  EXPECT_NEAR(BgNbdLogLikelihood(grouped->params, groups),
              BgNbdLogLikelihood(grouped->params, histories), 1e-12 * std::abs(ll));
  // And the fit recovers the generating parameters roughly.
  EXPECT_NEAR(grouped->params.r, 0.5, 0.15);
  EXPECT_NEAR(grouped->params.a / (grouped->params.a + grouped->params.b), 0.9 / 3.4, 0.1);
}

TEST(FitBgNbdTest, InvalidParamsGiveNaN) {
  const CustomerHistory h{1, 1, 2};
  EXPECT_TRUE(std::isnan(BgNbdLogLikelihood({0, 1, 1, 1}, h)));
  EXPECT_TRUE(std::isnan(ProbabilityAlive({1, 1, 1, NAN}, h)));
  EXPECT_TRUE(std::isnan(BgNbdLogLikelihood(kPaperParams, CustomerHistory{-1, 0, 1})));
}

TEST(FitBgNbdTest, RejectsDataWithoutRepeatPurchases) {
  // Nobody repeats: a and b do not enter the likelihood and r / alpha -> 0.
  const std::vector<CustomerHistory> hs = {{0, 0, 10}, {0, 0, 20}, {0, 0, 30}};
  EXPECT_EQ(FitBgNbd(hs).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(FitBgNbdTest, IterationCapReportsNotConverged) {
  const std::vector<CustomerHistory> hs = {{0, 0, 10}, {2, 5, 10}, {5, 9, 10}, {1, 3, 8}};
  const absl::StatusOr<BgNbdFit> fit = FitBgNbd(hs, {.max_iterations = 1, .tolerance = 1e-10});
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_FALSE(fit->converged);
  EXPECT_EQ(fit->iterations, 1);
  EXPECT_TRUE(std::isfinite(fit->log_likelihood));
  // A given start that does not converge is followed by the fixed ones, the best kept.
  const absl::StatusOr<BgNbdFit> started = FitBgNbd(
      hs, {.max_iterations = 1, .start = BgNbdParams{.r = 1, .alpha = 1, .a = 1, .b = 1}});
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_FALSE(started->converged);
  EXPECT_EQ(started->starts, 4);
  EXPECT_GE(started->log_likelihood, fit->log_likelihood);
}

}  // namespace
}  // namespace guanxi::projections
