#include "projections/churn/risk.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "projections/churn/rules.h"
#include "projections/readings.h"
#include "projections/relationship.h"

namespace guanxi::projections {
namespace {

using google::protobuf::Timestamp;
using guanxi::v1::ChurnRiskModel;
using guanxi::v1::CustomerState;

constexpr double kDay = 86400.0;
// The columns of the features a customer must not be below the calibration in.
constexpr int kPurchaseDaysFeature = 3;
constexpr int kAgeFeature = 4;
static_assert(kRiskFeatureNames[kPurchaseDaysFeature] == "purchase_days");
static_assert(kRiskFeatureNames[kAgeFeature] == "age_days");
// The L2 penalty on the standardised weights: small beside any population that can be
// fitted (20 or more), enough to make the fit unique when two features coincide (on data
// with purchases only, quiet_days and unbought_days are one and the same).
constexpr double kPenalty = 1.0;
constexpr int kMaxIterations = 100;
constexpr double kTolerance = 1e-9;

// Whether `model` has this build's features (a record written by another release may not).
bool OfThisFeatureSet(const ChurnRiskModel& model) {
  return model.weights_size() == kRiskFeatures && model.mean_size() == kRiskFeatures &&
         model.scale_size() == kRiskFeatures && model.low_size() == kRiskFeatures &&
         model.high_size() == kRiskFeatures;
}

double DaysBetween(int64_t from, int64_t to) {
  return std::max(0.0, static_cast<double>(to - from) / kDay);
}

// Orders and revenue (major units, net of cancellations, never below 0) in the last 3
// calendar months against the 9 months before (a third of them).
struct Trends {
  double orders = 0, spend = 0;
};
Trends TrendsOf(const CustomerState& state, const Timestamp& at) {
  const TrailingPurchases recent = Trailing(state, at, 3);
  const TrailingPurchases year = Trailing(state, at, 12);
  const double orders = static_cast<double>(recent.orders);
  const double orders_before = static_cast<double>(year.orders - recent.orders);
  const double spend = std::max(0.0, static_cast<double>(recent.revenue_minor) / 100.0);
  const double spend_before =
      std::max(0.0, static_cast<double>(year.revenue_minor - recent.revenue_minor) / 100.0);
  return {std::log((orders + 0.5) / (orders_before / 3.0 + 0.5)),
          std::log((spend + 1.0) / (spend_before / 3.0 + 1.0))};
}

double Sigmoid(double z) {
  if (z >= 0) return 1.0 / (1.0 + std::exp(-z));
  const double e = std::exp(z);
  return e / (1.0 + e);
}

// log(1 + e^z), without overflow.
double Softplus(double z) { return z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z)); }

// Solves a x = b for a symmetric positive definite `a` (n x n, row-major) in place by
// Cholesky; false when `a` is not positive definite.
bool SolveSpd(std::vector<double>& a, std::vector<double>& b, int n) {
  for (int j = 0; j < n; ++j) {
    double d = a[j * n + j];
    for (int k = 0; k < j; ++k) d -= a[j * n + k] * a[j * n + k];
    if (!(d > 0)) return false;
    d = std::sqrt(d);
    a[j * n + j] = d;
    for (int i = j + 1; i < n; ++i) {
      double s = a[i * n + j];
      for (int k = 0; k < j; ++k) s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / d;
    }
  }
  for (int i = 0; i < n; ++i) {  // L y = b
    double s = b[i];
    for (int k = 0; k < i; ++k) s -= a[i * n + k] * b[k];
    b[i] = s / a[i * n + i];
  }
  for (int i = n - 1; i >= 0; --i) {  // L^T x = y
    double s = b[i];
    for (int k = i + 1; k < n; ++k) s -= a[k * n + i] * b[k];
    b[i] = s / a[i * n + i];
  }
  return true;
}

}  // namespace

RiskFeatures RiskFeaturesOf(const guanxi::v1::ChurnConfig& churn, const CustomerState& state,
                            const Timestamp& at) {
  const int64_t now = at.seconds();
  const bool bought = IsSet(state.last_purchase_at());
  const int64_t first = state.first_event_at().seconds();
  const int64_t last_contact =
      IsSet(state.last_interaction_at()) ? state.last_interaction_at().seconds() : first;
  const double unbought = DaysBetween(bought ? state.last_purchase_at().seconds() : first, now);
  const double purchase_days = static_cast<double>(std::max<int64_t>(state.purchase_days(), 0));
  const double per_day =
      purchase_days > 0
          ? static_cast<double>(std::max<int64_t>(state.revenue_minor(), 0)) / 100.0 / purchase_days
          : 0.0;
  const Trends trends = TrendsOf(state, at);
  return {
      std::log1p(DaysBetween(last_contact, now)),
      std::log1p(unbought),
      bought ? std::log1p(unbought / PurchaseRhythmDays(churn, state)) : 0.0,
      std::log1p(purchase_days),
      std::log1p(DaysBetween(first, now)),
      trends.orders,
      trends.spend,
      std::log1p(per_day),
      state.p_alive(),
      std::log1p(state.expected_purchases_90d()),
      (state.overall_score() - 50.0) / 50.0,
      DeclineEvidenceAt(state, at),
  };
}

bool WentQuiet(const CustomerState& later, const Timestamp& since) {
  return later.last_interaction_at().seconds() <= since.seconds() &&
         later.last_purchase_at().seconds() <= since.seconds();
}

std::optional<ChurnRiskModel> FitChurnRisk(absl::Span<const RiskExample> examples,
                                           int horizon_days, int64_t min_examples) {
  const int64_t n = static_cast<int64_t>(examples.size());
  int64_t churned = 0;
  for (const RiskExample& e : examples) churned += e.churned ? 1 : 0;
  if (n < std::max<int64_t>(min_examples, 2) || churned == 0 || churned == n) return std::nullopt;

  constexpr int k = kRiskFeatures;
  // Standardise: each feature's mean and standard deviation over the examples; and the
  // range it covers, to which scoring holds a feature.
  std::array<double, k> mean{}, scale{}, low = examples[0].features, high = examples[0].features;
  for (const RiskExample& e : examples) {
    for (int j = 0; j < k; ++j) {
      mean[j] += e.features[j];
      low[j] = std::min(low[j], e.features[j]);
      high[j] = std::max(high[j], e.features[j]);
    }
  }
  for (int j = 0; j < k; ++j) mean[j] /= static_cast<double>(n);
  for (const RiskExample& e : examples) {
    for (int j = 0; j < k; ++j) scale[j] += (e.features[j] - mean[j]) * (e.features[j] - mean[j]);
  }
  for (int j = 0; j < k; ++j) {
    const double sd = std::sqrt(scale[j] / static_cast<double>(n));
    scale[j] = sd > 1e-12 ? sd : 1.0;
  }
  std::vector<std::array<double, k + 1>> z(examples.size());
  for (size_t i = 0; i < examples.size(); ++i) {
    z[i][0] = 1.0;  // the intercept
    for (int j = 0; j < k; ++j) z[i][j + 1] = (examples[i].features[j] - mean[j]) / scale[j];
  }

  // The penalised negative log-likelihood, its minimum by Newton's method with halving
  // steps (the objective is strictly convex: one minimum).
  constexpr int d = k + 1;
  std::array<double, d> w{};
  const double base = static_cast<double>(churned) / static_cast<double>(n);
  w[0] = std::log(base / (1 - base));
  auto objective = [&](const std::array<double, d>& v) {
    double f = 0;
    for (size_t i = 0; i < z.size(); ++i) {
      double eta = 0;
      for (int j = 0; j < d; ++j) eta += v[j] * z[i][j];
      f += Softplus(eta) - (examples[i].churned ? eta : 0.0);
    }
    for (int j = 1; j < d; ++j) f += 0.5 * kPenalty * v[j] * v[j];
    return f;
  };
  double current = objective(w);
  bool converged = false;
  int iterations = 0;
  for (; iterations < kMaxIterations && !converged; ++iterations) {
    std::vector<double> hessian(d * d, 0.0), gradient(d, 0.0);
    for (size_t i = 0; i < z.size(); ++i) {
      double eta = 0;
      for (int j = 0; j < d; ++j) eta += w[j] * z[i][j];
      const double p = Sigmoid(eta);
      const double residual = p - (examples[i].churned ? 1.0 : 0.0);
      const double weight = p * (1 - p);
      for (int a = 0; a < d; ++a) {
        gradient[a] += residual * z[i][a];
        for (int b = 0; b <= a; ++b) hessian[a * d + b] += weight * z[i][a] * z[i][b];
      }
    }
    for (int a = 1; a < d; ++a) {
      gradient[a] += kPenalty * w[a];
      hessian[a * d + a] += kPenalty;
    }
    for (int a = 0; a < d; ++a) {
      for (int b = a + 1; b < d; ++b) hessian[a * d + b] = hessian[b * d + a];
    }
    std::vector<double> step = gradient;
    if (!SolveSpd(hessian, step, d)) break;
    double length = 1.0;
    std::array<double, d> next{};
    double value = current;
    for (int halvings = 0; halvings < 40; ++halvings, length /= 2) {
      for (int j = 0; j < d; ++j) next[j] = w[j] - length * step[j];
      value = objective(next);
      if (value <= current) break;
    }
    if (!(value <= current)) break;
    double moved = 0;
    for (int j = 0; j < d; ++j) moved = std::max(moved, std::abs(next[j] - w[j]));
    w = next;
    current = value;
    converged = moved < kTolerance;
  }

  ChurnRiskModel model;
  model.set_horizon_days(horizon_days);
  model.set_examples(n);
  model.set_churned(churned);
  model.set_intercept(w[0]);
  for (int j = 0; j < k; ++j) {
    model.add_features(std::string(kRiskFeatureNames[j]));
    model.add_mean(mean[j]);
    model.add_scale(scale[j]);
    model.add_weights(w[j + 1]);
    model.add_low(low[j]);
    model.add_high(high[j]);
  }
  model.set_penalised_log_likelihood(-current);
  model.set_converged(converged);
  return model;
}

void UpdateChurnRisk(const guanxi::v1::ChurnConfig& churn, const guanxi::v1::ModelRecord* model,
                     CustomerState& state, const Timestamp& now) {
  // A model of another feature set (a record written by another release) gives no risk:
  // not known, rather than a number from mismatched weights.
  if (model == nullptr || !model->has_churn_risk() || !OfThisFeatureSet(model->churn_risk())) {
    state.clear_churn_risk();
    return;
  }
  const guanxi::v1::ChurnRiskModel& risk = model->churn_risk();
  const RiskFeatures features = RiskFeaturesOf(churn, state, now);
  // Not known for a customer younger, or with fewer purchase days, than every customer
  // the calibration saw: a model fitted on a year-old population does not speak for one
  // that arrived yesterday (it put brand-new contacts at 0.9).
  // (With a margin: the calibration's lows come from snapshots kept in floats.)
  constexpr double kMargin = 1e-6;
  if (features[kAgeFeature] + kMargin < risk.low(kAgeFeature) ||
      features[kPurchaseDaysFeature] + kMargin < risk.low(kPurchaseDaysFeature)) {
    state.clear_churn_risk();
    return;
  }
  state.set_churn_risk(ChurnRisk(risk, features));
}

void SnapshotForRisk(const guanxi::v1::ChurnConfig& churn, CustomerState& state,
                     const Timestamp& now) {
  if (state.has_risk_snapshot() &&
      now.seconds() - state.risk_snapshot().at().seconds() <
          int64_t{churn.risk_horizon_days()} * 86400) {
    return;  // not used yet
  }
  // The customer's own time when its events ran ahead of the model's (a record lands
  // after the one that made it due): the features then hold those events.
  const Timestamp& at = state.as_of().seconds() > now.seconds() ? state.as_of() : now;
  guanxi::v1::RiskSnapshot& snapshot = *state.mutable_risk_snapshot();
  snapshot.clear_features();
  for (double f : RiskFeaturesOf(churn, state, at)) snapshot.add_features(static_cast<float>(f));
  *snapshot.mutable_at() = at;
}

std::optional<RiskExample> RiskExampleOf(const guanxi::v1::ChurnConfig& churn,
                                         const CustomerState& state, const Timestamp& as_of) {
  if (!state.has_risk_snapshot()) return std::nullopt;
  const guanxi::v1::RiskSnapshot& snapshot = state.risk_snapshot();
  if (snapshot.features_size() != kRiskFeatures ||
      as_of.seconds() - snapshot.at().seconds() < int64_t{churn.risk_horizon_days()} * 86400) {
    return std::nullopt;
  }
  RiskExample example;
  for (int j = 0; j < kRiskFeatures; ++j) example.features[j] = snapshot.features(j);
  example.churned = WentQuiet(state, snapshot.at());
  return example;
}

std::optional<ChurnRiskModel> RefitChurnRisk(const guanxi::v1::ChurnConfig& churn,
                                             absl::Span<const CustomerState* const> population,
                                             const Timestamp& as_of,
                                             const ChurnRiskModel* in_force) {
  std::vector<RiskExample> examples;
  for (const CustomerState* state : population) {
    if (auto example = RiskExampleOf(churn, *state, as_of)) examples.push_back(*example);
  }
  return CalibrateChurnRisk(examples, churn.risk_horizon_days(), in_force);
}

std::optional<ChurnRiskModel> CalibrateChurnRisk(absl::Span<const RiskExample> examples,
                                                 int horizon_days, const ChurnRiskModel* in_force) {
  if (auto fitted = FitChurnRisk(examples, horizon_days)) return fitted;
  if (in_force != nullptr) return *in_force;
  return std::nullopt;
}

double ChurnRisk(const ChurnRiskModel& model, const RiskFeatures& features) {
  if (!OfThisFeatureSet(model)) return 0;
  double eta = model.intercept();
  for (int j = 0; j < kRiskFeatures; ++j) {
    const double f = std::min(std::max(features[j], model.low(j)), model.high(j));
    eta += model.weights(j) * (f - model.mean(j)) / model.scale(j);
  }
  return Sigmoid(eta);
}

}  // namespace guanxi::projections
