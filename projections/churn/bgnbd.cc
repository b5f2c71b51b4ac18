#include "projections/churn/bgnbd.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <compare>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"

namespace guanxi::projections {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// ---------------------------------------------------------------------------
// Special functions.

// Digamma psi(v) for v > 0: recurrence up to v >= 12, then the asymptotic
// series through v^-12 (truncation error < 1e-16 there).
double Digamma(double v) {
  double result = 0.0;
  while (v < 12.0) {
    result -= 1.0 / v;
    v += 1.0;
  }
  const double f = 1.0 / (v * v);
  return result + std::log(v) - 0.5 / v -
         f * (1.0 / 12 -
              f * (1.0 / 120 -
                   f * (1.0 / 252 - f * (1.0 / 240 - f * (1.0 / 132 - f * 691.0 / 32760)))));
}

// log(exp(u) + exp(v)) without overflow; -inf when both are -inf.
double LogAddExp(double u, double v) {
  const double hi = std::max(u, v);
  if (hi == -kInf) return -kInf;
  return hi + std::log1p(std::exp(std::min(u, v) - hi));
}

// ---------------------------------------------------------------------------
// Per-customer likelihood pieces (paper eq. 6), all in log space:
//   L = exp(base) * [exp(alive) + exp(dropped)]
// where exp(alive) is the "still alive at T" branch and exp(dropped) the
// "dropped out right after the last purchase at t_x" branch (absent if x = 0).
struct CustomerTerms {
  double base;
  double alive;
  double dropped;  // -inf when x == 0.
};

// The pieces that depend on the parameters and x alone: customers with the same
// number of repeat purchases share them, so a sum over histories sorted by x
// computes them once per distinct x (the lgamma and digamma calls are most of a
// fit's cost).
//
// The Beta part, log[B(a, b + x) / B(a, b)], and its derivatives are sums over
// the x repeat purchases:
//   log B(a, b + x) - log B(a, b) = -sum_{i<x} log1p(a / (b + i)),
//   d/da = -sum_{i<x} 1 / (a + b + i),   d/db = sum_{i<x} a / ((b + i)(a + b + i)).
// They stay exact however large a and b grow. The lgamma and digamma
// differences they replace cancel to noise there: a refit on a population
// without visible dropouts drifts towards a degenerate Beta (a and b to 1e16
// and beyond, a / b fixed), where those differences gave a log-likelihood of
// +760,000 and a fit that made half the customers look gone.
struct BetaSums {
  double x = 0.0;  // the sums run over i < x
  double log_ratio = 0.0;
  double d_a = 0.0;
  double d_b = 0.0;
};

// Extends `sums` to x (restarting from 0 when x is below what they hold), so a
// pass over histories sorted by x costs O(largest x) in all.
void ExtendBetaSums(const BgNbdParams& p, double x, BetaSums* sums) {
  if (x < sums->x) *sums = BetaSums{};
  for (double i = sums->x; i < x; i += 1.0) {
    const double bi = p.b + i;
    const double abi = p.a + bi;
    sums->log_ratio -= std::log1p(p.a / bi);
    sums->d_a -= 1.0 / abi;
    sums->d_b += p.a / (bi * abi);
  }
  sums->x = x;
}

struct RepeatTerms {
  double x = -1.0;  // what they were computed for; -1: nothing yet
  double rx = 0.0;
  double base = 0.0;
  double log_dropout = 0.0;  // log(a) - log(b + x - 1); unused when x == 0
};

// Preconditions: params valid, x integral >= 0, `beta` extended to x.
RepeatTerms ComputeRepeatTerms(const BgNbdParams& p, double x, const BetaSums& beta) {
  RepeatTerms t;
  t.x = x;
  t.rx = p.r + x;
  t.base = std::lgamma(t.rx) - std::lgamma(p.r) + p.r * std::log(p.alpha) + beta.log_ratio;
  t.log_dropout = x > 0.0 ? std::log(p.a) - std::log(p.b + x - 1.0) : 0.0;
  return t;
}

// `log_alpha_T` is log(alpha + T). Preconditions: params and history valid,
// `repeat` computed for h.x.
CustomerTerms ComputeTerms(const BgNbdParams& p, const CustomerHistory& h,
                           const RepeatTerms& repeat, double log_alpha_T) {
  CustomerTerms terms;
  terms.base = repeat.base;
  terms.alive = -repeat.rx * log_alpha_T;
  terms.dropped = h.x > 0.0 ? repeat.log_dropout - repeat.rx * std::log(p.alpha + h.t_x) : -kInf;
  return terms;
}

// Preconditions: params and history valid.
CustomerTerms ComputeTerms(const BgNbdParams& p, const CustomerHistory& h) {
  BetaSums beta;
  ExtendBetaSums(p, h.x, &beta);
  return ComputeTerms(p, h, ComputeRepeatTerms(p, h.x, beta), std::log(p.alpha + h.T));
}

double LogLikelihoodUnchecked(const BgNbdParams& p, const CustomerHistory& h) {
  const CustomerTerms terms = ComputeTerms(p, h);
  return terms.base + LogAddExp(terms.alive, terms.dropped);
}

// P(alive) = 1 / (1 + exp(log_odds)) with log_odds = log(exp(dropped) /
// exp(alive)) = log(a / (b + x - 1)) + (r + x) log((alpha + T) / (alpha + t_x))
// (paper eq. 13). log1p keeps full relative precision when t_x is close to T;
// the logistic is exactly 1 for x = 0 and never leaves [0, 1].
double ProbabilityAliveUnchecked(const BgNbdParams& p, const CustomerHistory& h) {
  if (h.x == 0.0) return 1.0;
  const double log_odds = std::log(p.a / (p.b + h.x - 1.0)) +
                          (p.r + h.x) * std::log1p((h.T - h.t_x) / (p.alpha + h.t_x));
  return 1.0 / (1.0 + std::exp(log_odds));
}

// Summed log-likelihood and its gradient with respect to (r, alpha, a, b), each
// group weighing its count. Preconditions: params and groups valid.
double LogLikelihoodAndGradient(const BgNbdParams& p, absl::Span<const HistoryGroup> groups,
                                std::array<double, 4>* gradient) {
  double sum = 0.0;
  std::array<double, 4> g = {0.0, 0.0, 0.0, 0.0};
  const double log_alpha = std::log(p.alpha);
  const double psi_r = Digamma(p.r);
  BetaSums beta;
  RepeatTerms repeat;
  double psi_rx = 0.0;
  for (const HistoryGroup& group : groups) {
    const CustomerHistory& h = group.history;
    if (h.x != repeat.x) {
      ExtendBetaSums(p, h.x, &beta);
      repeat = ComputeRepeatTerms(p, h.x, beta);
      psi_rx = Digamma(repeat.rx);
    }
    const double log_alpha_T = std::log(p.alpha + h.T);
    const CustomerTerms terms = ComputeTerms(p, h, repeat, log_alpha_T);
    // Posterior weights of the two branches; w_dropped is 0 when x == 0.
    const double w_alive = 1.0 / (1.0 + std::exp(terms.dropped - terms.alive));
    const double w_dropped = 1.0 / (1.0 + std::exp(terms.alive - terms.dropped));
    const double rx = repeat.rx;
    std::array<double, 4> one = {psi_rx - psi_r + log_alpha - w_alive * log_alpha_T,
                                 p.r / p.alpha - w_alive * rx / (p.alpha + h.T), beta.d_a,
                                 beta.d_b};
    if (h.x > 0.0) {
      one[0] -= w_dropped * std::log(p.alpha + h.t_x);
      one[1] -= w_dropped * rx / (p.alpha + h.t_x);
      one[2] += w_dropped / p.a;
      one[3] -= w_dropped / (p.b + h.x - 1.0);
    }
    // A count of 1 multiplies exactly: a history alone sums as if unweighted.
    const auto count = static_cast<double>(group.count);
    sum += count * (terms.base + LogAddExp(terms.alive, terms.dropped));
    for (int i = 0; i < 4; ++i) g[i] += count * one[i];
  }
  *gradient = g;
  return sum;
}

// Each history as a group of one, in the same order.
std::vector<HistoryGroup> Ungrouped(absl::Span<const CustomerHistory> histories) {
  std::vector<HistoryGroup> groups;
  groups.reserve(histories.size());
  for (const CustomerHistory& h : histories) groups.push_back({h, 1});
  return groups;
}

// E[X(t)] of paper eq. 7 for a customer with nothing observed yet, under
// `p`. Conditional expectations reuse it with the posterior parameters
// (r + x, alpha + T, a, b + x). Preconditions: p valid, t finite >= 0.
absl::StatusOr<double> ExpectedPurchasesFromPrior(const BgNbdParams& p, double t) {
  if (t == 0.0) return 0.0;
  if (p.a == 1.0) {
    return absl::InvalidArgumentError(
        "a == 1 is a removable singularity of the expected-purchases formula");
  }
  const double c = p.a + p.b - 1.0;
  if (!(c > 0.0)) {
    return absl::OutOfRangeError(
        absl::StrCat("expected purchases need a + b + x > 1 (hypergeometric c = ", c, ")"));
  }
  // z = t / (alpha + t); 1 - (alpha/(alpha+t))^r 2F1(...) evaluated as
  // -expm1(log ...) so that small t loses no precision to cancellation.
  const double z = t / (p.alpha + t);
  const absl::StatusOr<double> log_f = LogHypergeometric2F1(p.r, p.b, c, z);
  if (!log_f.ok()) return log_f.status();
  const double log_term = -p.r * std::log1p(t / p.alpha) + *log_f;
  return c / (p.a - 1.0) * -std::expm1(log_term);
}

// ---------------------------------------------------------------------------
// Optimizer: BFGS on the mean negative log-likelihood in log-parameter space.

using Vec4 = std::array<double, 4>;
using Mat4 = std::array<Vec4, 4>;

constexpr int kMaxLineSearchHalvings = 60;
constexpr double kArmijo = 1e-4;
// Largest change of any log-parameter in one step (a factor of e^3).
constexpr double kMaxLogStep = 3.0;
// Near the optimum the objective's change drops below its rounding noise, so
// a step is also accepted if it does not raise the objective by more than
// this relative amount and it cuts the directional derivative (strong Wolfe
// curvature condition). This lets the gradient reach ~1e-10.
constexpr double kObjectiveNoise = 1e-13;
constexpr double kCurvature = 0.9;

double Dot(const Vec4& u, const Vec4& v) {
  return u[0] * v[0] + u[1] * v[1] + u[2] * v[2] + u[3] * v[3];
}

double MaxAbs(const Vec4& v) {
  double m = 0.0;
  for (double e : v) m = std::max(m, std::abs(e));
  return m;
}

Mat4 ScaledIdentity(double scale) {
  Mat4 m{};
  for (int i = 0; i < 4; ++i) m[i][i] = scale;
  return m;
}

BgNbdParams ParamsFromLog(const Vec4& log_params) {
  return {std::exp(log_params[0]), std::exp(log_params[1]), std::exp(log_params[2]),
          std::exp(log_params[3])};
}

// The groups of a fit and the number of customers they hold.
struct FitData {
  absl::Span<const HistoryGroup> groups;
  double customers;
};

// Mean (over customers) negative log-likelihood at exp(log_params) and its
// gradient with respect to log_params; +inf when not finite (e.g. exp
// overflowed).
double Objective(const FitData& data, const Vec4& log_params, Vec4* gradient) {
  const BgNbdParams p = ParamsFromLog(log_params);
  if (!ValidateParams(p).ok()) return kInf;
  Vec4 g;
  const double ll = LogLikelihoodAndGradient(p, data.groups, &g);
  const double scale = -1.0 / data.customers;
  const Vec4 theta = {p.r, p.alpha, p.a, p.b};
  for (int i = 0; i < 4; ++i) (*gradient)[i] = scale * theta[i] * g[i];
  const double f = scale * ll;
  return std::isfinite(f) && std::isfinite(MaxAbs(*gradient)) ? f : kInf;
}

// h <- (I - rho s y') h (I - rho y s') + rho s s', rho = 1 / (s'y).
void BfgsUpdate(const Vec4& s, const Vec4& y, double sy, Mat4* h) {
  const double rho = 1.0 / sy;
  Vec4 hy{};
  for (int i = 0; i < 4; ++i) hy[i] = Dot((*h)[i], y);
  const double yhy = Dot(y, hy);
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) {
      (*h)[i][j] += -rho * (hy[i] * s[j] + s[i] * hy[j]) + (rho * rho * yhy + rho) * s[i] * s[j];
    }
  }
}

struct MinimizeResult {
  Vec4 log_params;
  double objective;
  int iterations;
  bool converged;
};

MinimizeResult MinimizeBfgs(const FitData& data, const Vec4& start,
                            const BgNbdFitOptions& options) {
  MinimizeResult res{start, kInf, 0, false};
  Vec4 x = start;
  Vec4 g{};
  double f = Objective(data, x, &g);
  if (f == kInf) return res;
  Mat4 h = ScaledIdentity(1.0);
  bool h_reset = true;  // h is a (scaled) identity: no curvature learnt yet.
  while (true) {
    if (MaxAbs(g) <= options.tolerance) {
      res.converged = true;
      break;
    }
    if (res.iterations >= options.max_iterations) break;
    ++res.iterations;

    Vec4 d;
    for (int i = 0; i < 4; ++i) d[i] = -Dot(h[i], g);
    if (!(Dot(g, d) < 0.0)) {  // Not a descent direction: restart.
      h = ScaledIdentity(1.0);
      h_reset = true;
      for (int i = 0; i < 4; ++i) d[i] = -g[i];
    }
    const double shrink = std::min(1.0, kMaxLogStep / MaxAbs(d));
    for (double& e : d) e *= shrink;
    const double slope = Dot(g, d);

    bool accepted = false;
    Vec4 x_new{};
    Vec4 g_new{};
    double f_new = kInf;
    double step = 1.0;
    for (int k = 0; k < kMaxLineSearchHalvings && !accepted; ++k) {
      for (int i = 0; i < 4; ++i) x_new[i] = x[i] + step * d[i];
      f_new = Objective(data, x_new, &g_new);
      accepted = f_new <= f + kArmijo * step * slope ||
                 (f_new <= f + kObjectiveNoise * std::abs(f) &&
                  std::abs(Dot(g_new, d)) <= kCurvature * std::abs(slope));
      step *= 0.5;
    }
    if (!accepted) {
      if (h_reset) break;  // Stalled even along the steepest descent.
      h = ScaledIdentity(1.0);
      h_reset = true;
      continue;
    }
    Vec4 s;
    Vec4 y;
    for (int i = 0; i < 4; ++i) {
      s[i] = x_new[i] - x[i];
      y[i] = g_new[i] - g[i];
    }
    const double sy = Dot(s, y);
    if (sy > 0.0) {
      if (h_reset) h = ScaledIdentity(sy / Dot(y, y));
      BfgsUpdate(s, y, sy, &h);
      h_reset = false;
    }
    x = x_new;
    f = f_new;
    g = g_new;
  }
  res.log_params = x;
  res.objective = f;
  return res;
}

// FitBgNbd over groups already validated.
absl::StatusOr<BgNbdFit> FitValidGroups(absl::Span<const HistoryGroup> groups,
                                        const BgNbdFitOptions& options) {
  if (groups.empty()) {
    return absl::InvalidArgumentError("FitBgNbd needs at least one history");
  }
  int64_t customers = 0;
  double sum_x = 0.0;
  double sum_T = 0.0;
  for (const HistoryGroup& group : groups) {
    // BgNbdFit::customers is an int.
    if (group.count > std::numeric_limits<int>::max() - customers) {
      return absl::InvalidArgumentError(
          absl::StrCat("more than ", std::numeric_limits<int>::max(), " customers"));
    }
    const auto count = static_cast<double>(group.count);
    customers += group.count;
    sum_x += count * group.history.x;
    sum_T += count * group.history.T;
  }
  if (sum_x == 0.0) {
    return absl::FailedPreconditionError(
        "no history has a repeat purchase: a and b are not identifiable and "
        "the likelihood has no finite maximiser");
  }
  // Fixed, data-scaled start points: alpha so that the prior mean purchase
  // rate r / alpha roughly matches the observed repeat rate.
  const FitData data = {groups, static_cast<double>(customers)};
  const double n = data.customers;
  const double rate = (sum_x / n + 0.5) / std::max(sum_T / n, 1e-6);
  constexpr std::array<std::array<double, 3>, 3> kStarts = {
      {{1.0, 1.0, 1.0}, {0.5, 0.5, 4.0}, {2.0, 2.0, 0.5}}};  // {r, a, b}
  MinimizeResult best{{}, kInf, 0, false};
  int starts = 0;
  auto consider = [&](const MinimizeResult& res) {
    ++starts;
    // Prefer converged starts; among equals, the lower objective.
    if ((res.converged && !best.converged) ||
        (res.converged == best.converged && res.objective < best.objective)) {
      best = res;
    }
  };
  if (options.start && ValidateParams(*options.start).ok()) {
    const BgNbdParams& p = *options.start;
    consider(MinimizeBfgs(data, {std::log(p.r), std::log(p.alpha), std::log(p.a), std::log(p.b)},
                          options));
  }
  if (!best.converged) {  // from no given start, or not from it
    for (const auto& [r, a, b] : kStarts) {
      const Vec4 start = {std::log(r), std::log(r / rate), std::log(a), std::log(b)};
      consider(MinimizeBfgs(data, start, options));
    }
  }
  if (best.objective == kInf) {
    return absl::InternalError("no start point gave a finite BG/NBD log-likelihood");
  }
  BgNbdFit fit;
  fit.params = ParamsFromLog(best.log_params);
  fit.log_likelihood = BgNbdLogLikelihood(fit.params, groups);
  fit.iterations = best.iterations;
  fit.starts = starts;
  fit.converged = best.converged;
  fit.customers = static_cast<int>(customers);
  return fit;
}

}  // namespace

absl::Status ValidateParams(const BgNbdParams& params) {
  const std::array<std::pair<const char*, double>, 4> fields = {
      {{"r", params.r}, {"alpha", params.alpha}, {"a", params.a}, {"b", params.b}}};
  for (const auto& [name, value] : fields) {
    if (!(std::isfinite(value) && value > 0.0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("parameter ", name, " (", value, ") must be finite and > 0"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateHistory(const CustomerHistory& history) {
  const double x = history.x;
  const double t_x = history.t_x;
  const double T = history.T;
  if (!std::isfinite(x) || x < 0.0 || x != std::floor(x)) {
    return absl::InvalidArgumentError(absl::StrCat("x (", x, ") must be a non-negative integer"));
  }
  if (!std::isfinite(T) || T < 0.0) {
    return absl::InvalidArgumentError(absl::StrCat("T (", T, ") must be finite and >= 0"));
  }
  if (!std::isfinite(t_x) || t_x < 0.0 || t_x > T) {
    return absl::InvalidArgumentError(
        absl::StrCat("t_x (", t_x, ") must lie in [0, T] = [0, ", T, "]"));
  }
  if (x == 0.0 && t_x != 0.0) {
    return absl::InvalidArgumentError(absl::StrCat("t_x (", t_x, ") must be 0 when x is 0"));
  }
  return absl::OkStatus();
}

absl::Status ValidateHistoryGroup(const HistoryGroup& group) {
  if (group.count < 1) {
    return absl::InvalidArgumentError(absl::StrCat("count (", group.count, ") must be >= 1"));
  }
  return ValidateHistory(group.history);
}

std::vector<HistoryGroup> GroupHistories(absl::Span<const CustomerHistory> histories) {
  // std::strong_order: a total order on doubles (NaN included), so the sort is
  // well defined for any input and equal keys are equal bits.
  const auto order = [](const CustomerHistory& u, const CustomerHistory& v) {
    if (const auto c = std::strong_order(u.x, v.x); c != 0) return c;
    if (const auto c = std::strong_order(u.t_x, v.t_x); c != 0) return c;
    return std::strong_order(u.T, v.T);
  };
  std::vector<CustomerHistory> sorted(histories.begin(), histories.end());
  std::sort(sorted.begin(), sorted.end(),
            [&](const CustomerHistory& u, const CustomerHistory& v) { return order(u, v) < 0; });
  std::vector<HistoryGroup> groups;
  for (const CustomerHistory& h : sorted) {
    if (!groups.empty() && order(groups.back().history, h) == 0) {
      ++groups.back().count;
    } else {
      groups.push_back({h, 1});
    }
  }
  return groups;
}

double BgNbdLogLikelihood(const BgNbdParams& params, const CustomerHistory& history) {
  if (!ValidateParams(params).ok() || !ValidateHistory(history).ok()) return kNaN;
  return LogLikelihoodUnchecked(params, history);
}

double BgNbdLogLikelihood(const BgNbdParams& params, absl::Span<const CustomerHistory> histories) {
  double sum = 0.0;
  for (const CustomerHistory& h : histories) sum += BgNbdLogLikelihood(params, h);
  return sum;
}

double BgNbdLogLikelihood(const BgNbdParams& params, absl::Span<const HistoryGroup> groups) {
  double sum = 0.0;
  for (const HistoryGroup& group : groups) {
    if (!ValidateHistoryGroup(group).ok()) return kNaN;
    sum += static_cast<double>(group.count) * BgNbdLogLikelihood(params, group.history);
  }
  return sum;
}

std::array<double, 4> BgNbdLogLikelihoodGradient(const BgNbdParams& params,
                                                 absl::Span<const CustomerHistory> histories) {
  return BgNbdLogLikelihoodGradient(params, Ungrouped(histories));
}

std::array<double, 4> BgNbdLogLikelihoodGradient(const BgNbdParams& params,
                                                 absl::Span<const HistoryGroup> groups) {
  bool valid = ValidateParams(params).ok();
  for (const HistoryGroup& group : groups) valid = valid && ValidateHistoryGroup(group).ok();
  if (!valid) return {kNaN, kNaN, kNaN, kNaN};
  std::array<double, 4> gradient;
  LogLikelihoodAndGradient(params, groups, &gradient);
  return gradient;
}

absl::StatusOr<BgNbdFit> FitBgNbd(absl::Span<const CustomerHistory> histories,
                                  const BgNbdFitOptions& options) {
  for (size_t i = 0; i < histories.size(); ++i) {
    if (absl::Status status = ValidateHistory(histories[i]); !status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("histories[", i, "]: ", status.message()));
    }
  }
  return FitValidGroups(Ungrouped(histories), options);
}

absl::StatusOr<BgNbdFit> FitBgNbd(absl::Span<const HistoryGroup> groups,
                                  const BgNbdFitOptions& options) {
  for (size_t i = 0; i < groups.size(); ++i) {
    if (absl::Status status = ValidateHistoryGroup(groups[i]); !status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("groups[", i, "]: ", status.message()));
    }
  }
  return FitValidGroups(groups, options);
}

double ProbabilityAlive(const BgNbdParams& params, const CustomerHistory& history) {
  if (!ValidateParams(params).ok() || !ValidateHistory(history).ok()) return kNaN;
  return ProbabilityAliveUnchecked(params, history);
}

absl::StatusOr<double> ExpectedPurchases(const BgNbdParams& params, const CustomerHistory& history,
                                         double t) {
  if (absl::Status s = ValidateParams(params); !s.ok()) return s;
  if (absl::Status s = ValidateHistory(history); !s.ok()) return s;
  if (!(std::isfinite(t) && t >= 0.0)) {
    return absl::InvalidArgumentError(absl::StrCat("horizon t (", t, ") must be finite and >= 0"));
  }
  // Given alive at T, the posterior is lambda ~ Gamma(r + x, alpha + T),
  // p ~ Beta(a, b + x), and the future is a fresh BG/NBD process.
  const BgNbdParams posterior = {params.r + history.x, params.alpha + history.T, params.a,
                                 params.b + history.x};
  const absl::StatusOr<double> if_alive = ExpectedPurchasesFromPrior(posterior, t);
  if (!if_alive.ok()) return if_alive.status();
  return *if_alive * ProbabilityAliveUnchecked(params, history);
}

absl::StatusOr<double> ExpectedPurchasesNewCustomer(const BgNbdParams& params, double t) {
  return ExpectedPurchases(params, CustomerHistory{0.0, 0.0, 0.0}, t);
}

absl::StatusOr<double> LogHypergeometric2F1(double a, double b, double c, double z, int max_terms) {
  if (!(std::isfinite(a) && a > 0.0 && std::isfinite(b) && b > 0.0 && std::isfinite(c) &&
        c > 0.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("2F1 needs finite a, b, c > 0; got ", a, ", ", b, ", ", c));
  }
  if (!(z >= 0.0 && z < 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat("2F1 needs 0 <= z < 1; got ", z));
  }
  // Terms t_n = (a)_n (b)_n / ((c)_n n!) z^n are all positive. `term` and
  // `sum` hold t_n and the partial sum through t_n, both times exp(-log_scale)
  // so that neither overflows.
  constexpr double kTailTolerance = 0x1p-53;
  constexpr double kRescaleAbove = 1e200;
  double term = 1.0;
  double sum = 1.0;
  double log_scale = 0.0;
  const double k = a + b - c - 1.0;
  const double q = a * b - c;
  for (int n = 0; n < max_terms; ++n) {
    const double dn = static_cast<double>(n);
    // Tail bound. For m >= n the ratio t_{m+1}/t_m = z f(m) with
    // f(m) = (a+m)/(c+m) * (b+m)/(m+1). Two valid bounds on sup_{m>=n} f(m):
    //  (1) each factor is monotone in m towards 1, so f(m) <= the product of
    //      max(1, factor at n);
    //  (2) f(m) - 1 = (k m + q) / ((c+m)(m+1)) with k = a+b-c-1, q = ab-c,
    //      whence f(m) <= 1 + max(k n + q, 0) / ((c+n)(n+1)) + max(k, 0)/(n+1).
    // With the smaller one below 1 the tail is below a geometric series.
    const double a_factor = (a + dn) / (c + dn);
    const double b_factor = (b + dn) / (dn + 1.0);
    const double bound1 = std::max(1.0, a_factor) * std::max(1.0, b_factor);
    const double bound2 =
        1.0 + std::max(k * dn + q, 0.0) / ((c + dn) * (dn + 1.0)) + std::max(k, 0.0) / (dn + 1.0);
    const double ratio_bound = z * std::min(bound1, bound2);
    if (ratio_bound < 1.0 && term * ratio_bound / (1.0 - ratio_bound) <= kTailTolerance * sum) {
      return log_scale + std::log(sum);
    }
    term *= z * a_factor * b_factor;
    sum += term;
    if (sum > kRescaleAbove) {
      term /= kRescaleAbove;
      sum /= kRescaleAbove;
      log_scale += std::log(kRescaleAbove);
    }
    if (!std::isfinite(sum)) {
      return absl::OutOfRangeError(
          absl::StrCat("2F1(", a, ", ", b, "; ", c, "; ", z, ") series overflowed at term ", n));
    }
  }
  return absl::ResourceExhaustedError(absl::StrCat(
      "2F1(", a, ", ", b, "; ", c, "; ", z, ") series did not converge in ", max_terms, " terms"));
}

absl::StatusOr<CustomerHistory> HistoryFromPurchaseTimes(absl::Span<const double> purchase_times,
                                                         double calibration_end,
                                                         bool merge_equal_times) {
  if (purchase_times.empty()) {
    return absl::InvalidArgumentError("no purchase times");
  }
  if (!std::isfinite(calibration_end)) {
    return absl::InvalidArgumentError("calibration_end must be finite");
  }
  std::vector<double> times(purchase_times.begin(), purchase_times.end());
  for (double t : times) {
    if (!std::isfinite(t)) {
      return absl::InvalidArgumentError(absl::StrCat("purchase time ", t, " is not finite"));
    }
  }
  std::sort(times.begin(), times.end());
  const double first = times.front();
  if (first > calibration_end) {
    return absl::InvalidArgumentError(absl::StrCat(
        "first purchase (", first, ") is after calibration_end (", calibration_end, ")"));
  }
  double repeats = 0.0;
  double last = first;
  for (size_t i = 1; i < times.size() && times[i] <= calibration_end; ++i) {
    if (merge_equal_times && times[i] == last) continue;
    repeats += 1.0;
    last = times[i];
  }
  return CustomerHistory{repeats, last - first, calibration_end - first};
}

}  // namespace guanxi::projections
