// Calendar parsing shared by the connectors: strict, UTC, pure.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "google/protobuf/timestamp.pb.h"

namespace guanxi::connectors {

// "YYYYMMDD" -> midnight UTC of that day. A date that does not exist is InvalidArgument.
absl::StatusOr<google::protobuf::Timestamp> ParseCompactDate(std::string_view text);

// "YYYY-MM-DD HH:MM[:SS]" -> that instant read as UTC.
absl::StatusOr<google::protobuf::Timestamp> ParseDateTime(std::string_view text);

}  // namespace guanxi::connectors
