// The population view: per-customer figures taken from the projection state, and the
// population models (models.proto: ABC cut-offs, RFM quintiles, BG/NBD) fitted over a
// set of customers, against which the population-relative classes are computed
// (projections/classes.h; docs/scoring.md, "Population models").
//
// A refit's input is small: FitFiguresOf takes from each customer's state the few
// figures the fit needs (48 bytes, none for a customer without a purchase), so the
// engine can gather them in one pass over its store and hand them to another thread,
// instead of copying every CustomerState:
//
//   if (RefitDue(config.classification(), last_model, now)) {
//     std::vector<FitFigures> figures;  // one partition's customers with a purchase
//     int64_t population = 0;           // all of the partition's customers
//     for (const guanxi::v1::CustomerState& state : ...) {
//       ++population;
//       if (auto f = FitFiguresOf(state, now)) figures.push_back(*f);
//     }
//     guanxi::v1::ModelRecord model =
//         FitPopulation(config.classification(), figures, population, now);
//     // append `model` to the partition's log, then Classify every customer with it
//   }
//
// Pure: no I/O, no clock, no threads, no randomness, no global mutable state. A fit is
// a function of the multiset of customer figures (or states), the population size and
// `as_of` alone: the order of the population does not change a single bit of the
// ModelRecord.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/types/span.h"
#include "google/protobuf/repeated_field.h"
#include "google/protobuf/timestamp.pb.h"
#include "guanxi/v1/config.pb.h"
#include "guanxi/v1/models.pb.h"
#include "guanxi/v1/state.pb.h"
#include "projections/churn/bgnbd.h"

namespace guanxi::projections {

// BG/NBD models are fitted, and evaluated, in weeks.
inline constexpr double kBgNbdTimeUnitDays = 7.0;

// The window of every "trailing" figure of the classes (ABC revenue, RFM frequency and
// monetary): the calendar month (UTC) of the moment of classification and the 11
// before it (relationship.h: Trailing()).
inline constexpr int kClassWindowMonths = 12;

// The UTC day `t` falls in, as days since 1970-01-01 (floor, also before 1970).
int64_t UtcDay(const google::protobuf::Timestamp& t);

// The customer's purchases as BG/NBD sees them at `as_of`, in units of `time_unit_days`
// days, counted in whole UTC days (purchases on one day are one purchase):
// x = purchase_days - 1, t_x = day(last purchase) - day(first purchase),
// T = day(as_of) - day(first purchase). nullopt for a customer without a purchase.
// `state` must hold the customer's events up to `as_of` (none later).
std::optional<CustomerHistory> PurchaseHistoryOf(const guanxi::v1::CustomerState& state,
                                                 const google::protobuf::Timestamp& as_of,
                                                 double time_unit_days);

// A customer's RFM measures at `now`: recency = whole UTC days from the last purchase
// to `now` (0 if the last purchase is on or after that day); frequency = orders and
// monetary = net revenue (minor units, cancellations subtracted) in the trailing 12
// months (kClassWindowMonths). nullopt for a customer without a purchase.
struct RfmFigures {
  int64_t recency_days = 0;
  int64_t frequency = 0;
  int64_t monetary_minor = 0;
};
std::optional<RfmFigures> RfmFiguresOf(const guanxi::v1::CustomerState& state,
                                       const google::protobuf::Timestamp& now);

// The quintile (1..5) `value` falls in, given the 4 ascending boundaries of
// RfmQuintiles: 1 + the number of boundaries strictly below `value`. So a value equal
// to a boundary belongs to the lower quintile, and equal values always share a
// quintile. For frequency and monetary the score is the quintile; for recency (fewer
// days is better) it is 6 - quintile. Returns 0 unless there are exactly 4 boundaries.
int Quintile(double value, const google::protobuf::RepeatedField<double>& boundaries);

// What the population fit needs of one customer with a purchase, at `as_of`: the RFM
// measures and the BG/NBD history in weeks.
struct FitFigures {
  RfmFigures rfm;           // RfmFiguresOf(state, as_of)
  CustomerHistory history;  // PurchaseHistoryOf(state, as_of, kBgNbdTimeUnitDays)
};

// The figures of `state` for a fit at `as_of` (the same `as_of` as FitPopulation's);
// nullopt for a customer without a purchase (purchase_days == 0), who is in no model's
// sample. `state` must hold the customer's events up to `as_of` (none later).
std::optional<FitFigures> FitFiguresOf(const guanxi::v1::CustomerState& state,
                                       const google::protobuf::Timestamp& as_of);

// The 64-bit FNV-1a hash of a customer id's bytes, what samples order customers by.
uint64_t CustomerHash(std::string_view customer_id);

// A bounded sample of a population's figures (T: FitFigures, RiskExample), deterministic:
// the `capacity` customers whose ids hash lowest (CustomerHash, ties broken by the id), so
// the sample is a function of the set of customers alone, whatever order they are added
// in, in every process and release; and unbiased, the hash having nothing to do with the
// figures. Memory O(capacity). With capacity 0 it keeps everyone.
//
//   FitSample sample(config.max_fit_sample());
//   for (each state) if (auto f = FitFiguresOf(state, as_of)) sample.Add(id, *f);
//   std::vector<FitFigures> figures = std::move(sample).Take();
template <typename T>
class LowestHashSample {
 public:
  explicit LowestHashSample(int64_t capacity) : capacity_(capacity) {}
  void Add(std::string_view customer_id, const T& figures) {
    ++offered_;
    Entry entry{.hash = CustomerHash(customer_id), .id = std::string(customer_id),
                .figures = figures};
    if (capacity_ <= 0 || static_cast<int64_t>(heap_.size()) < capacity_) {
      heap_.push_back(std::move(entry));
      return;
    }
    if (!sampling_) {
      std::make_heap(heap_.begin(), heap_.end());
      sampling_ = true;
    }
    if (!(entry < heap_.front())) return;  // hashes higher than every one kept
    std::pop_heap(heap_.begin(), heap_.end());
    heap_.back() = std::move(entry);
    std::push_heap(heap_.begin(), heap_.end());
  }
  // Customers added (the sample's population).
  int64_t offered() const { return offered_; }
  // The sample: everyone in the order added while no more than `capacity` were, else
  // the kept ones in (hash, id) order.
  std::vector<T> Take() && {
    if (sampling_) std::sort(heap_.begin(), heap_.end());
    std::vector<T> figures;
    figures.reserve(heap_.size());
    for (Entry& e : heap_) figures.push_back(std::move(e.figures));
    heap_.clear();
    return figures;
  }
  // Whether more than `capacity` were added (the sample is a part of them).
  bool sampled() const { return sampling_; }

 private:
  struct Entry {
    uint64_t hash = 0;
    std::string id;
    T figures;
    bool operator<(const Entry& o) const { return hash != o.hash ? hash < o.hash : id < o.id; }
  };
  const int64_t capacity_;
  int64_t offered_ = 0;
  bool sampling_ = false;
  std::vector<Entry> heap_;  // a max-heap on (hash, id) once sampling
};
using FitSample = LowestHashSample<FitFigures>;

// Fits the population models at event time `as_of` over `figures`: FitFiguresOf(state,
// as_of) of each of one partition's customers with a purchase, in any order.
// `population_size` is the number of customers they were taken from, those without a
// purchase included; it is recorded as ModelRecord.population and fits nothing.
//
// - population: `population_size`; as_of: `as_of`. `partitions` is left for the caller.
// - The customers with a purchase (one FitFigures each) are the sample of every model;
//   with fewer than config.min_population of them, abc, rfm and bgnbd are all unset.
// - abc: the trailing-12-month net revenues at `as_of` (rfm.monetary_minor) that are
//   > 0, sorted in descending order r_1 >= r_2 >= ... >= r_n with cumulative sums C_i
//   and total C_n. a_min_revenue_minor = r_i for the smallest i with
//   C_i >= a_share * C_n, and b_min_revenue_minor = r_j for the smallest j with
//   C_j >= (a_share + b_share) * C_n (shares rounded to millionths, compared exactly in
//   128-bit integers). A customer is A at or above a_min, B at or above b_min: tied
//   revenues share a class, so the A class may hold a little more than a_share of the
//   revenue. Unset when no customer has positive revenue.
// - rfm: for each measure of FitFigures::rfm, the values sorted ascending
//   v[0] <= ... <= v[n-1]; boundary k (k = 1..4) is v[ceil(k * n / 5) - 1] (the
//   nearest-rank k*20th percentile: the smallest value with at least k/5 of the
//   customers at or below it). Ties make boundaries equal; Quintile() then skips scores
//   rather than splitting equal values.
// - bgnbd: FitBgNbd over every customer with a purchase (FitFigures::history, in
//   weeks), the histories grouped by (x, t_x, T) with counts (GroupHistories: each
//   distinct history is evaluated once and weighs its count), in ascending order so
//   that the floating-point sums do not depend on the input order. bgnbd.customers is
//   the number of customers, not of groups. Unset with fewer than
//   config.bgnbd_min_repeat_buyers repeat buyers (x > 0) or when the fit fails; a fit
//   that did not certify convergence is kept, with converged = false. `previous` (the
//   BG/NBD model in force, if any) is where the fit starts (BgNbdFitOptions::start):
//   the same optimum, to the fit's tolerance, in a fraction of the iterations.
guanxi::v1::ModelRecord FitPopulation(const guanxi::v1::ClassificationConfig& config,
                                      absl::Span<const FitFigures> figures,
                                      int64_t population_size,
                                      const google::protobuf::Timestamp& as_of,
                                      const guanxi::v1::BgNbdModel* previous = nullptr);

// The same over `population` (one partition's customers, each state holding its
// customer's events up to `as_of`, none later): FitPopulation over their FitFiguresOf,
// with population.size() as the population size.
guanxi::v1::ModelRecord FitPopulation(const guanxi::v1::ClassificationConfig& config,
                                      absl::Span<const guanxi::v1::CustomerState* const> population,
                                      const google::protobuf::Timestamp& as_of);

// Whether a partition whose latest model record is `last` (nullptr: none yet) should
// fit a new one at event time `now`: with no model yet, or once `now` is at least
// config.model_refit_days days (of 86400 s) after last->as_of().
bool RefitDue(const guanxi::v1::ClassificationConfig& config, const guanxi::v1::ModelRecord* last,
              const google::protobuf::Timestamp& now);
// The same, from the as_of of the latest model (nullptr: none).
bool RefitDueSince(const guanxi::v1::ClassificationConfig& config,
              const google::protobuf::Timestamp* last_as_of, const google::protobuf::Timestamp& now);

}  // namespace guanxi::projections
