#include "projections/population.h"

#include <algorithm>
#include <cstdint>

namespace guanxi::projections {
namespace {

int64_t DayOf(const google::protobuf::Timestamp& t) {
  // Floor division: days before 1970 are negative whole days too.
  return t.seconds() >= 0 ? t.seconds() / 86400 : -((-t.seconds() + 86399) / 86400);
}

}  // namespace

std::optional<CustomerHistory> PurchaseHistoryOf(const guanxi::v1::CustomerState& state,
                                                 const google::protobuf::Timestamp& as_of,
                                                 double time_unit_days) {
  if (state.purchase_days() <= 0) return std::nullopt;
  const int64_t first = DayOf(state.first_purchase_at());
  const int64_t last = DayOf(state.last_purchase_at());
  const int64_t end = std::max(DayOf(as_of), last);
  CustomerHistory history;
  history.x = static_cast<double>(state.purchase_days() - 1);
  history.t_x = history.x > 0 ? static_cast<double>(last - first) / time_unit_days : 0.0;
  history.T = static_cast<double>(end - first) / time_unit_days;
  return history;
}

}  // namespace guanxi::projections
