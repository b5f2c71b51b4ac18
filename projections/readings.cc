#include "projections/readings.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace guanxi::projections {
namespace {

constexpr int64_t kDay = 86400;

}  // namespace

std::optional<double> SatisfactionOf(const guanxi::v1::Event& event) {
  const auto& s = event.survey();
  const double range = s.scale_max() - s.scale_min();
  if (!(range > 0) || !std::isfinite(range) || !std::isfinite(s.satisfaction())) {
    return std::nullopt;
  }
  return std::clamp((s.satisfaction() - s.scale_min()) / range * 100.0, 0.0, 100.0);
}

std::optional<PaymentLateness> LatenessOf(const guanxi::v1::Event& event) {
  const auto& p = event.payment();
  if (!IsSet(p.due_at())) return std::nullopt;
  const int64_t paid = IsSet(p.paid_at()) ? p.paid_at().seconds() : event.occurred_at().seconds();
  return PaymentLateness{paid, std::max<int64_t>(0, (paid - p.due_at().seconds()) / kDay)};
}

std::optional<double> SentimentOf(const guanxi::v1::Event& event) {
  const auto& call = event.call();
  if (!call.has_sentiment() || !std::isfinite(call.sentiment())) return std::nullopt;
  return std::clamp(call.sentiment(), -1.0, 1.0);
}

std::optional<double> LeanOf(const guanxi::v1::Event& event) {
  const double lean = event.competitor_signal().lean();
  if (!std::isfinite(lean)) return std::nullopt;
  return std::clamp(lean, -1.0, 1.0);
}

std::array<std::optional<double>, 6> AssessmentRatingsOf(const guanxi::v1::Event& event) {
  const auto& a = event.assessment();
  const std::pair<bool, double> rated[] = {
      {a.has_acceptance(), a.acceptance()},
      {a.has_participation(), a.participation()},
      {a.has_information(), a.information()},
      {a.has_guidance(), a.guidance()},
      {a.has_project_support(), a.project_support()},
      {a.has_competitive_preference(), a.competitive_preference()}};
  std::array<std::optional<double>, 6> ratings;
  for (size_t i = 0; i < ratings.size(); ++i) {
    if (rated[i].first && std::isfinite(rated[i].second)) {
      ratings[i] = std::clamp(rated[i].second, 0.0, 100.0);
    }
  }
  return ratings;
}

}  // namespace guanxi::projections
