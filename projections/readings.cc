#include "projections/readings.h"

#include <algorithm>
#include <cmath>

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

}  // namespace guanxi::projections
