// The population view: per-customer figures taken from the projection state, from which
// the population models (models.proto: ABC cut-offs, RFM quintiles, BG/NBD) are fitted.
// Pure: no I/O, no clock, no threads.
#pragma once

#include <optional>

#include "google/protobuf/timestamp.pb.h"
#include "guanxi/v1/state.pb.h"
#include "projections/churn/bgnbd.h"

namespace guanxi::projections {

// The customer's purchases as BG/NBD sees them at `as_of`, in units of `time_unit_days`
// days, counted in whole UTC days (purchases on one day are one purchase):
// x = purchase_days - 1, t_x = day(last purchase) - day(first purchase),
// T = day(as_of) - day(first purchase). nullopt for a customer without a purchase.
// `state` must hold the customer's events up to `as_of` (none later).
std::optional<CustomerHistory> PurchaseHistoryOf(const guanxi::v1::CustomerState& state,
                                                 const google::protobuf::Timestamp& as_of,
                                                 double time_unit_days);

}  // namespace guanxi::projections
