// Times as people write them in a query parameter or a flag: RFC 3339
// ("2011-03-01T09:30:00Z", any offset) or a date ("2011-03-01", a day in UTC). One
// parser for the HTTP API's ?as_of= and the commands' --as-of, --since and --until, so
// that the same text names the same instant everywhere.
//
//   ASSIGN_OR_RETURN(Timestamp t, ParseTimeText("2025-06-01", DateMeans::kEndOfDay));
//   // t == 2025-06-01T23:59:59Z
//
// Pure and thread-safe.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "google/protobuf/timestamp.pb.h"

namespace guanxi::engine {

// Which instant of its day a date names.
enum class DateMeans {
  kStartOfDay,  // --since / --until: midnight UTC
  kEndOfDay,    // as of: the last second of the day (23:59:59 UTC), so the day counts
};

// InvalidArgument "'<text>' is neither RFC 3339 (...) nor a date (...)" for anything
// else, a date that does not exist (2025-02-30) included. A date is exactly YYYY-MM-DD.
absl::StatusOr<google::protobuf::Timestamp> ParseTimeText(std::string_view text,
                                                          DateMeans date_means);

}  // namespace guanxi::engine
