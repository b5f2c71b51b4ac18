#include "app/time_flag.h"

#include "absl/strings/str_cat.h"

namespace guanxi::app {

absl::StatusOr<google::protobuf::Timestamp> ParseTimeFlag(const std::string& flag,
                                                          const std::string& text) {
  auto parsed = engine::ParseTimeText(text);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", parsed.status().message()));
  }
  return parsed;
}

}  // namespace guanxi::app
