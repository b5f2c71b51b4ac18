// Time flags (--since, --until, --as-of): RFC 3339 ("2011-03-01T09:30:00Z") or a date
// ("2011-03-01": the end of that day, UTC, in every flag), read by engine::ParseTimeText
// (as the HTTP API reads ?as_of=).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "engine/query/time_text.h"
#include "google/protobuf/timestamp.pb.h"

namespace guanxi::app {

// InvalidArgument naming --`flag` when `text` is neither.
absl::StatusOr<google::protobuf::Timestamp> ParseTimeFlag(const std::string& flag,
                                                          const std::string& text);

}  // namespace guanxi::app
