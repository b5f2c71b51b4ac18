#include "projections/population.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/numeric/int128.h"
#include "projections/relationship.h"

namespace guanxi::projections {
namespace {

using google::protobuf::Timestamp;
using guanxi::v1::CustomerState;

constexpr int64_t kMillionths = 1'000'000;

int64_t ToMillionths(double share) {
  return std::clamp<int64_t>(std::llround(share * 1e6), 0, kMillionths);
}

// The ABC cut-offs over the positive trailing revenues (see FitPopulation).
bool FitAbc(const guanxi::v1::ClassificationConfig& config, std::vector<int64_t> revenues,
            guanxi::v1::AbcCutoffs& abc) {
  if (revenues.empty()) return false;
  std::sort(revenues.begin(), revenues.end(), [](int64_t a, int64_t b) { return a > b; });
  absl::int128 total = 0;
  for (int64_t r : revenues) total += r;
  const int64_t a_share = ToMillionths(config.abc_a_share());
  const int64_t ab_share = std::min(kMillionths, a_share + ToMillionths(config.abc_b_share()));
  std::optional<int64_t> a_min, b_min;
  absl::int128 cumulative = 0;
  for (int64_t r : revenues) {
    cumulative += r;
    if (!a_min && cumulative * kMillionths >= total * a_share) a_min = r;
    if (!b_min && cumulative * kMillionths >= total * ab_share) b_min = r;
    if (a_min && b_min) break;
  }
  abc.set_a_share(config.abc_a_share());
  abc.set_b_share(config.abc_b_share());
  // Both are found by the last revenue at the latest (cumulative == total there).
  abc.set_a_min_revenue_minor(a_min.value_or(revenues.back()));
  abc.set_b_min_revenue_minor(b_min.value_or(revenues.back()));
  return true;
}

// Appends the 4 nearest-rank quintile boundaries of `values` (see FitPopulation).
void AddBoundaries(std::vector<int64_t> values, google::protobuf::RepeatedField<double>& out) {
  std::sort(values.begin(), values.end());
  const auto n = static_cast<int64_t>(values.size());
  for (int64_t k = 1; k <= 4; ++k) {
    const int64_t rank = (k * n + 4) / 5;  // ceil(k * n / 5), >= 1 for n >= 1
    out.Add(static_cast<double>(values[static_cast<size_t>(rank - 1)]));
  }
}

}  // namespace

int64_t UtcDay(const Timestamp& t) {
  // Floor division: days before 1970 are negative whole days too.
  return t.seconds() >= 0 ? t.seconds() / 86400 : -((-t.seconds() + 86399) / 86400);
}

std::optional<CustomerHistory> PurchaseHistoryOf(const CustomerState& state, const Timestamp& as_of,
                                                 double time_unit_days) {
  if (state.purchase_days() <= 0) return std::nullopt;
  const int64_t first = UtcDay(state.first_purchase_at());
  const int64_t last = UtcDay(state.last_purchase_at());
  const int64_t end = std::max(UtcDay(as_of), last);
  CustomerHistory history;
  history.x = static_cast<double>(state.purchase_days() - 1);
  history.t_x = history.x > 0 ? static_cast<double>(last - first) / time_unit_days : 0.0;
  history.T = static_cast<double>(end - first) / time_unit_days;
  return history;
}

std::optional<RfmFigures> RfmFiguresOf(const CustomerState& state, const Timestamp& now) {
  if (state.purchase_days() <= 0) return std::nullopt;
  const TrailingPurchases trailing = Trailing(state, now, kClassWindowMonths);
  RfmFigures figures;
  figures.recency_days = std::max<int64_t>(0, UtcDay(now) - UtcDay(state.last_purchase_at()));
  figures.frequency = trailing.orders;
  figures.monetary_minor = trailing.revenue_minor;
  return figures;
}

int Quintile(double value, const google::protobuf::RepeatedField<double>& boundaries) {
  if (boundaries.size() != 4) return 0;
  int quintile = 1;
  for (double b : boundaries) quintile += value > b ? 1 : 0;
  return quintile;
}

uint64_t CustomerHash(std::string_view customer_id) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a, 64-bit
  for (unsigned char c : customer_id) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

std::optional<FitFigures> FitFiguresOf(const CustomerState& state, const Timestamp& as_of) {
  std::optional<RfmFigures> rfm = RfmFiguresOf(state, as_of);
  if (!rfm) return std::nullopt;
  // RfmFiguresOf and PurchaseHistoryOf agree on who has a purchase (purchase_days > 0).
  return FitFigures{*rfm, *PurchaseHistoryOf(state, as_of, kBgNbdTimeUnitDays)};
}

guanxi::v1::ModelRecord FitPopulation(const guanxi::v1::ClassificationConfig& config,
                                      absl::Span<const FitFigures> figures,
                                      int64_t population_size, const Timestamp& as_of,
                                      const guanxi::v1::BgNbdModel* previous) {
  guanxi::v1::ModelRecord model;
  *model.mutable_as_of() = as_of;
  model.set_population(population_size);
  if (static_cast<int64_t>(figures.size()) < config.min_population()) return model;

  std::vector<int64_t> positive_revenues, recency, frequency, monetary;
  std::vector<CustomerHistory> histories;
  recency.reserve(figures.size());
  frequency.reserve(figures.size());
  monetary.reserve(figures.size());
  histories.reserve(figures.size());
  int64_t repeat_buyers = 0;
  for (const FitFigures& f : figures) {
    recency.push_back(f.rfm.recency_days);
    frequency.push_back(f.rfm.frequency);
    monetary.push_back(f.rfm.monetary_minor);
    if (f.rfm.monetary_minor > 0) positive_revenues.push_back(f.rfm.monetary_minor);
    histories.push_back(f.history);
    if (f.history.x > 0) ++repeat_buyers;
  }

  guanxi::v1::AbcCutoffs abc;
  if (FitAbc(config, std::move(positive_revenues), abc)) *model.mutable_abc() = abc;
  auto& rfm = *model.mutable_rfm();
  AddBoundaries(std::move(recency), *rfm.mutable_recency_days());
  AddBoundaries(std::move(frequency), *rfm.mutable_frequency());
  AddBoundaries(std::move(monetary), *rfm.mutable_monetary_minor());

  if (repeat_buyers < config.bgnbd_min_repeat_buyers()) return model;
  // Sorted by (x, t_x, T): the fit's sums do not depend on the order of `figures`.
  const std::vector<HistoryGroup> groups = GroupHistories(histories);
  // A population without visible dropouts has a flat likelihood (a, b -> infinity), on
  // which BFGS would spend its whole default budget of 2000 iterations per start; the
  // fitter serves every partition one fit at a time, so a fit gets 300 (a well-posed
  // one, CDNOW's for one, converges in far fewer) and an uncertified fit is kept as
  // converged=false.
  BgNbdFitOptions options{.max_iterations = 300};
  if (previous != nullptr) {
    options.start = BgNbdParams{
        .r = previous->r(), .alpha = previous->alpha(), .a = previous->a(), .b = previous->b()};
  }
  const absl::StatusOr<BgNbdFit> fit = FitBgNbd(groups, options);
  if (!fit.ok() || !ValidateParams(fit->params).ok()) return model;
  auto& bgnbd = *model.mutable_bgnbd();
  bgnbd.set_r(fit->params.r);
  bgnbd.set_alpha(fit->params.alpha);
  bgnbd.set_a(fit->params.a);
  bgnbd.set_b(fit->params.b);
  bgnbd.set_log_likelihood(fit->log_likelihood);
  bgnbd.set_customers(fit->customers);
  bgnbd.set_time_unit_days(kBgNbdTimeUnitDays);
  bgnbd.set_converged(fit->converged);
  return model;
}

guanxi::v1::ModelRecord FitPopulation(const guanxi::v1::ClassificationConfig& config,
                                      absl::Span<const CustomerState* const> population,
                                      const Timestamp& as_of) {
  std::vector<FitFigures> figures;
  figures.reserve(population.size());
  for (const CustomerState* state : population) {
    if (std::optional<FitFigures> f = FitFiguresOf(*state, as_of)) figures.push_back(*f);
  }
  return FitPopulation(config, figures, static_cast<int64_t>(population.size()), as_of);
}

bool RefitDue(const guanxi::v1::ClassificationConfig& config, const guanxi::v1::ModelRecord* last,
              const Timestamp& now) {
  return RefitDueSince(config, last == nullptr ? nullptr : &last->as_of(), now);
}

bool RefitDueSince(const guanxi::v1::ClassificationConfig& config, const Timestamp* last_as_of,
                   const Timestamp& now) {
  if (last_as_of == nullptr) return true;
  return now.seconds() - last_as_of->seconds() >= int64_t{config.model_refit_days()} * 86400;
}

}  // namespace guanxi::projections
