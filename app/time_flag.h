// Time flags (--since, --until, --as-of): RFC 3339 ("2011-03-01T09:30:00Z") or a date
// ("2011-03-01", UTC).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/timestamp.pb.h"

namespace guanxi::app {

enum class DateMeans {
  kStartOfDay,  // --since / --until: midnight UTC
  kEndOfDay,    // --as-of: the last second of the day (23:59:59 UTC), so the day counts
};

// InvalidArgument naming --`flag` when `text` is neither.
absl::StatusOr<google::protobuf::Timestamp> ParseTimeFlag(const std::string& flag,
                                                          const std::string& text,
                                                          DateMeans date_means);

}  // namespace guanxi::app
