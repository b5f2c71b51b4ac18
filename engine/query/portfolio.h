// GET /v1/portfolio (docs/api.md): the customers of the partitions an instance owns,
// counted per lifecycle stage, class, open churn warning and account manager, in one pass
// over their states (a guanxi.v1.Portfolio, proto/guanxi/v1/portfolio.proto).
//
//   ASSIGN_OR_RETURN(guanxi::v1::Portfolio p, CountPortfolio(views, filter));
//
// Thread-safe. Each call reads every state of the views: a sales director's page, not a
// per-event query.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "engine/partition/view.h"
#include "engine/query/customer_filter.h"
#include "guanxi/v1/portfolio.pb.h"

namespace guanxi::engine {

absl::StatusOr<guanxi::v1::Portfolio> CountPortfolio(const std::vector<PartitionView>& views,
                                                     const CustomerFilter& filter);

}  // namespace guanxi::engine
