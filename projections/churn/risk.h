// The churn risk of a customer: the estimated probability that it makes no purchase and
// has no interaction at all in the next H days (docs/scoring.md, "Churn risk").
//
// It combines what the engine knows of the customer (recency against its own rhythm,
// frequency, the trend of its orders, BG/NBD P(alive) and expected purchases, the
// relationship score, the weight of evidence of a decline) in a logistic model that is
// calibrated on the log itself: the population's features as of some moment S, against
// whether each customer then went H days with nothing.
//
//   RiskFeatures f = RiskFeaturesOf(churn_config, state, at);  // kRiskFeatureNames
//   std::vector<RiskExample> examples = ...;            // features at S, outcome after S
//   guanxi::v1::ChurnRiskModel m = FitChurnRisk(examples, horizon_days);
//   double risk = ChurnRisk(m, RiskFeaturesOf(churn_config, state, now));  // 0..1
//
// Pure: no clock, no I/O; the fit is a function of the examples in their order.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/types/span.h"
#include "google/protobuf/timestamp.pb.h"
#include "guanxi/v1/config.pb.h"
#include "guanxi/v1/models.pb.h"
#include "guanxi/v1/state.pb.h"

namespace guanxi::projections {

// The features of the risk model, in this order (docs/scoring.md lists their meanings).
inline constexpr std::array<std::string_view, 12> kRiskFeatureNames = {
    "quiet_days",          // log(1 + days since the last interaction of any kind)
    "unbought_days",       // log(1 + days since the last purchase, or since the first event)
    "quiet_over_rhythm",   // log(1 + days since the last purchase / the usual gap); 0 unbought
    "purchase_days",       // log(1 + days with a purchase, all time)
    "age_days",            // log(1 + days since the first event)
    "order_trend",         // log((orders in the last 3 months + 0.5) /
                           //     (orders in the 9 months before / 3 + 0.5))
    "spend_trend",         // log((revenue in the last 3 months + 1) /
                           //     (revenue in the 9 months before / 3 + 1)), major units
    "monetary",            // log(1 + revenue per purchase day, in major units)
    "p_alive",             // CustomerState.p_alive (BG/NBD; 0 without a model or a purchase)
    "expected_purchases",  // log(1 + CustomerState.expected_purchases_90d)
    "score",               // (overall relationship score - 50) / 50
    "decline_evidence",    // the weight of evidence of a decline (churn_evidence)
};
inline constexpr int kRiskFeatures = static_cast<int>(kRiskFeatureNames.size());

using RiskFeatures = std::array<double, kRiskFeatures>;

// The customer's features at `at` (its own latest time or later). P(alive) and the
// expected purchases are the state's, as the population model in force set them
// (classes.h, Classify).
RiskFeatures RiskFeaturesOf(const guanxi::v1::ChurnConfig& churn,
                            const guanxi::v1::CustomerState& state,
                            const google::protobuf::Timestamp& at);

// One customer of the calibration: its features at the moment S and whether it then
// went the whole horizon after S with no purchase and no interaction.
struct RiskExample {
  RiskFeatures features{};
  bool churned = false;
};

// Whether the customer, whose features were taken at `since`, made no purchase and had
// no interaction in (since, since + horizon], judged from its state at or after the
// horizon's end (an interaction after the horizon's end cannot be told from one inside
// it: the caller takes the state at the horizon's end).
bool WentQuiet(const guanxi::v1::CustomerState& later, const google::protobuf::Timestamp& since);

// The logistic model fitted to `examples` (features standardised over them, an L2
// penalty on the standardised weights, Newton's method). With fewer than
// `min_examples` examples, or with none churned or none staying, nothing can be fitted:
// std::nullopt.
std::optional<guanxi::v1::ChurnRiskModel> FitChurnRisk(absl::Span<const RiskExample> examples,
                                                      int horizon_days,
                                                      int64_t min_examples = 20);

// The churn risk of the customer at `now` by the population model in force
// (CustomerState.churn_risk): set when `model` holds a churn risk model, cleared when
// not, or when the customer is younger or has fewer purchase days than every customer
// the model was calibrated on (outside what it knows). Called after the classification
// (which sets P(alive)) on every event, tick and model record.
void UpdateChurnRisk(const guanxi::v1::ChurnConfig& churn, const guanxi::v1::ModelRecord* model,
                     guanxi::v1::CustomerState& state, const google::protobuf::Timestamp& now);

// When a model record is applied (at `now`, its as_of or the customer's later time):
// takes the customer's features as its calibration snapshot, unless it holds one that no
// refit has used yet (younger than the horizon). So each customer's snapshot is taken at
// a model record and used by the first refit a horizon or more later.
void SnapshotForRisk(const guanxi::v1::ChurnConfig& churn, guanxi::v1::CustomerState& state,
                     const google::protobuf::Timestamp& now);

// The customer's calibration example for a refit at `as_of`: its snapshot's features and
// whether it went quiet since, once the snapshot is a horizon old; nullopt before.
std::optional<RiskExample> RiskExampleOf(const guanxi::v1::ChurnConfig& churn,
                                         const guanxi::v1::CustomerState& state,
                                         const google::protobuf::Timestamp& as_of);

// The churn risk model a refit puts in its model record: fitted on `examples`, or
// `in_force` (nullptr: none) when nothing can be calibrated; nullopt when neither.
std::optional<guanxi::v1::ChurnRiskModel> CalibrateChurnRisk(
    absl::Span<const RiskExample> examples, int horizon_days,
    const guanxi::v1::ChurnRiskModel* in_force);

// The same over a whole population held in memory (a benchmark, `guanxi model fit`; the
// engine samples the examples as it does the other figures): the examples are
// RiskExampleOf each customer at `as_of`.
std::optional<guanxi::v1::ChurnRiskModel> RefitChurnRisk(
    const guanxi::v1::ChurnConfig& churn,
    absl::Span<const guanxi::v1::CustomerState* const> population,
    const google::protobuf::Timestamp& as_of, const guanxi::v1::ChurnRiskModel* in_force);

// The model's probability, 0..1, for these features; 0 for a model with another number
// of features than this build's (a record of another version: docs/scoring.md).
double ChurnRisk(const guanxi::v1::ChurnRiskModel& model, const RiskFeatures& features);

}  // namespace guanxi::projections
