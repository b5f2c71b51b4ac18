#include "engine/query/json.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace guanxi::engine {

absl::StatusOr<std::string> MessageJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;  // every field, zero or not
  std::string json;
  if (auto s = google::protobuf::util::MessageToJsonString(message, &json, options); !s.ok()) {
    return absl::InternalError(absl::StrCat("JSON: ", std::string(s.message())));
  }
  return json;
}

}  // namespace guanxi::engine
