#include "app/time_flag.h"

#include "absl/strings/str_cat.h"
#include "connectors/time_parse.h"
#include "google/protobuf/util/time_util.h"

namespace guanxi::app {

absl::StatusOr<google::protobuf::Timestamp> ParseTimeFlag(const std::string& flag,
                                                          const std::string& text,
                                                          DateMeans date_means) {
  google::protobuf::Timestamp ts;
  if (google::protobuf::util::TimeUtil::FromString(text, &ts)) return ts;
  auto day = connectors::ParseDateTime(
      absl::StrCat(text, date_means == DateMeans::kEndOfDay ? " 23:59:59" : " 00:00:00"));
  if (day.ok()) return *day;
  return absl::InvalidArgumentError(absl::StrCat(
      "--", flag, ": '", text, "' is neither RFC 3339 (2011-03-01T00:00:00Z) nor a date"));
}

}  // namespace guanxi::app
