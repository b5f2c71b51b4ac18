// Times as people write them in a query parameter or a flag: RFC 3339
// ("2011-03-01T09:30:00Z", any offset) or a date ("2011-03-01", a day in UTC). One
// parser for the HTTP API's ?as_of= and ?entered_since= and the commands' --as-of,
// --since and --until, so that the same text names the same instant everywhere. A date
// means the end of that day, UTC (its last nanosecond), in every one of them: "as of 30
// June" and "until 30 June" both take in the whole of 30 June, and "since 30 June" starts
// after it.
//
//   ASSIGN_OR_RETURN(Timestamp t, ParseTimeText("2025-06-01"));
//   // t == 2025-06-01T23:59:59.999999999Z
//
// Pure and thread-safe.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "google/protobuf/timestamp.pb.h"

namespace guanxi::engine {

// InvalidArgument "'<text>' is neither RFC 3339 (...) nor a date (...)" for anything
// else, a date that does not exist (2025-02-30) included. A date is exactly YYYY-MM-DD.
absl::StatusOr<google::protobuf::Timestamp> ParseTimeText(std::string_view text);

}  // namespace guanxi::engine
