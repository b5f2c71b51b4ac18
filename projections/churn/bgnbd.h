// BG/NBD ("beta-geometric / negative binomial distribution") model of repeat
// purchasing and customer dropout: Fader, Hardie & Lee (2005), "Counting Your
// Customers the Easy Way: An Alternative to the Pareto/NBD Model", Marketing
// Science 24(2):275-284.
//
// Model: while alive, a customer buys as a Poisson process with rate lambda;
// after every purchase they drop out with probability p. Across customers,
// lambda ~ Gamma(shape r, rate alpha) and p ~ Beta(a, b).
//
// Time is in whatever unit the caller picks (weeks, days, ...); alpha and every
// time argument must use that same unit. Everything here is pure: no I/O, no
// clock, no threads, no exceptions, no global state. All evaluations are in
// log space, so histories with thousands of purchases or very long T neither
// overflow nor underflow.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace guanxi::projections {

// The four population parameters; all must be finite and > 0.
struct BgNbdParams {
  double r = 0.0;      // Gamma shape of the purchase rate.
  double alpha = 0.0;  // Gamma rate of the purchase rate, in time units.
  double a = 0.0;      // Beta shape of the dropout probability.
  double b = 0.0;      // Beta shape of the dropout probability.
};

// One customer's calibration-period summary, in the caller's time unit, with
// the paper's names. Time zero is the customer's first purchase.
struct CustomerHistory {
  double x = 0.0;    // Number of repeat purchases (integral, >= 0).
  double t_x = 0.0;  // Time of the last repeat purchase (0 if x == 0).
  double T = 0.0;    // Length of observation: calibration end - first purchase.
};

// `count` customers with one and the same history. The likelihood of a population is
// a product over its customers, so equal histories need evaluating only once: their
// log-likelihood (and its gradient) counts `count` times. Populations summarised in
// whole days have many equal histories (every one-time buyer first seen on a given
// day, for one), so a fit over groups does correspondingly less work.
struct HistoryGroup {
  CustomerHistory history;
  int64_t count = 1;  // Number of customers with `history`; >= 1.
};

// The histories grouped: one group per distinct (x, t_x, T) with the number of
// histories equal to it, in ascending order of (x, t_x, T) (IEEE total order, so
// the result is the same bits for any order of `histories`, and sums over it do
// not depend on that order). The counts add up to histories.size().
std::vector<HistoryGroup> GroupHistories(absl::Span<const CustomerHistory> histories);

struct BgNbdFitOptions {
  // BFGS iterations allowed per start point.
  int max_iterations = 2000;
  // Convergence: the largest absolute component of the gradient of the MEAN
  // per-customer log-likelihood with respect to (log r, log alpha, log a,
  // log b) must fall to this. 1e-10 is about as far as double rounding of a
  // sum over thousands of customers lets the gradient go; do not go lower.
  double tolerance = 1e-10;
  // A start point tried before the fixed ones, e.g. the previous fit of a population
  // that has changed a little since: when BFGS converges from it, the fixed start points
  // are not tried (a refit then costs a few iterations instead of three starts' worth);
  // otherwise they are, and the best of all wins. Ignored unless every parameter is
  // finite and > 0.
  std::optional<BgNbdParams> start = std::nullopt;
};

struct BgNbdFit {
  BgNbdParams params;
  double log_likelihood = 0.0;  // Sum over customers, at `params`.
  int iterations = 0;           // BFGS iterations of the start that won.
  int starts = 0;               // Start points BFGS ran from (options.start included).
  // True iff the gradient criterion of BgNbdFitOptions::tolerance was met.
  // False means the best point found is returned but is not certified to be a
  // stationary point (iteration cap hit or the line search stalled); callers
  // that need a certified optimum must check it.
  bool converged = false;
  int customers = 0;  // Number of histories fitted (the sum of the counts of groups).
};

// OK iff every parameter is finite and > 0.
absl::Status ValidateParams(const BgNbdParams& params);

// OK iff all fields are finite, x >= 0 is integral, 0 <= t_x <= T, and
// x == 0 implies t_x == 0. The error message names the offending field.
absl::Status ValidateHistory(const CustomerHistory& history);

// OK iff the history is valid and count >= 1; the message names the field
// ("count (0) must be >= 1", or ValidateHistory's).
absl::Status ValidateHistoryGroup(const HistoryGroup& group);

// Log-likelihood of one history (paper eq. 6, evaluated in log space). Returns
// NaN if ValidateParams or ValidateHistory fails.
double BgNbdLogLikelihood(const BgNbdParams& params, const CustomerHistory& history);

// Sum of the per-customer log-likelihoods; NaN if any input is invalid.
double BgNbdLogLikelihood(const BgNbdParams& params, absl::Span<const CustomerHistory> histories);

// The same over groups: the sum of count * (log-likelihood of the group's
// history), equal (up to rounding) to the sum over the histories expanded.
// NaN if any input is invalid (ValidateHistoryGroup).
double BgNbdLogLikelihood(const BgNbdParams& params, absl::Span<const HistoryGroup> groups);

// Analytic gradient of the summed log-likelihood with respect to
// (r, alpha, a, b), in that order. All NaN if any input is invalid.
std::array<double, 4> BgNbdLogLikelihoodGradient(const BgNbdParams& params,
                                                 absl::Span<const CustomerHistory> histories);
std::array<double, 4> BgNbdLogLikelihoodGradient(const BgNbdParams& params,
                                                 absl::Span<const HistoryGroup> groups);

// Maximum-likelihood fit. Deterministic: BFGS with the analytic gradient in
// log-parameter space from options.start, if given, and unless it converges from a
// fixed set of start points (scaled by the data's mean x and T), keeping the best.
// Errors:
//   InvalidArgument: empty input, or an invalid history ("histories[i]: ...").
//   FailedPrecondition: no history has x > 0 (no finite maximiser).
//   Internal: no start point produced a finite log-likelihood.
// Non-convergence is NOT an error: see BgNbdFit::converged.
absl::StatusOr<BgNbdFit> FitBgNbd(absl::Span<const CustomerHistory> histories,
                                  const BgNbdFitOptions& options = {});

// The same fit over grouped histories (e.g. GroupHistories): the same objective
// (the mean over customers, each group weighing its count), start points and
// tolerance, so it finds the fit of the histories expanded, up to rounding, with
// one evaluation per group instead of one per customer. BgNbdFit::customers is
// the sum of the counts. For a result that does not depend on the order of the
// customers, pass the groups in a fixed order (GroupHistories' is). Errors as
// above, with "groups[i]: ..." for an invalid group (ValidateHistoryGroup), and
// InvalidArgument for counts adding up to more than INT_MAX customers. (An empty
// `{}` argument matches both overloads: pass a typed empty span.)
absl::StatusOr<BgNbdFit> FitBgNbd(absl::Span<const HistoryGroup> groups,
                                  const BgNbdFitOptions& options = {});

// P(customer is still alive at T | history) (paper eq. 13). Exactly 1 when
// x == 0 (in the BG/NBD a customer can only drop out right after a repeat
// purchase). Returns NaN on invalid input.
double ProbabilityAlive(const BgNbdParams& params, const CustomerHistory& history);

// E[number of purchases in (T, T + t] | history] (paper eq. 10), t >= 0 in
// the time unit. Errors: InvalidArgument for invalid params/history/t, or for
// a == 1 exactly (a removable singularity of the closed form; accuracy
// degrades like 1e-16 / |a - 1| near it); OutOfRange when a + b + x <= 1
// (the hypergeometric series used needs a positive third parameter); and the
// errors of LogHypergeometric2F1.
absl::StatusOr<double> ExpectedPurchases(const BgNbdParams& params, const CustomerHistory& history,
                                         double t);

// Unconditional E[X(t)] for a customer just acquired at time 0 (paper eq. 7):
// repeat purchases in (0, t]. Same errors as ExpectedPurchases with x = 0.
absl::StatusOr<double> ExpectedPurchasesNewCustomer(const BgNbdParams& params, double t);

// Default term cap for LogHypergeometric2F1 (about 5 ms of work). The series
// needs roughly (a z + 37) / (1 - z) terms; for ExpectedPurchases that is
// about ((r + x) t + 37 (alpha + T + t)) / (alpha + T).
inline constexpr int kDefaultHypergeometricMaxTerms = 1'000'000;

// log 2F1(a, b; c; z), the Gauss hypergeometric function, for a, b, c > 0 and
// 0 <= z < 1, summing its (then all-positive) power series with rescaled
// terms so that neither terms nor sum overflow. Stops as soon as a rigorous
// geometric bound on the remaining tail falls below 2^-53 of the partial sum;
// the relative error is then a few ulps times the number of terms.
// Errors: InvalidArgument outside that domain; ResourceExhausted if
// `max_terms` terms do not reach the bound (never a silently truncated sum).
absl::StatusOr<double> LogHypergeometric2F1(double a, double b, double c, double z,
                                            int max_terms = kDefaultHypergeometricMaxTerms);

// Builds one customer's history from raw purchase times (any order, in the
// time unit) and the calibration end (same unit, same origin). Purchases after
// `calibration_end` are ignored; the earliest purchase is the first (not
// repeat) purchase and the origin of t_x and T. With `merge_equal_times`,
// purchases at exactly equal times count once: to merge same-day purchases,
// derive the times from whole day numbers (e.g. day_index / 7.0 for weeks),
// so one day always maps to one double. Errors: InvalidArgument for no
// purchases, non-finite times, or a first purchase after `calibration_end`.
absl::StatusOr<CustomerHistory> HistoryFromPurchaseTimes(absl::Span<const double> purchase_times,
                                                         double calibration_end,
                                                         bool merge_equal_times);

}  // namespace guanxi::projections
