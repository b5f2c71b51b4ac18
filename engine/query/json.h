// Messages in protobuf's JSON mapping as the HTTP API and the commands print them:
// lowerCamelCase names, every field present (a message field or a proto3 `optional`
// field only when set), enums by name, 64-bit integers as strings, timestamps in
// RFC 3339. Thread-safe.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"

namespace guanxi::engine {

// Internal if protobuf cannot print it (a value JSON cannot hold, e.g. an out-of-range
// timestamp).
absl::StatusOr<std::string> MessageJson(const google::protobuf::Message& message);

}  // namespace guanxi::engine
