#include "engine/query/time_text.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/strings.h"
#include "google/protobuf/util/time_util.h"

namespace guanxi::engine {

absl::StatusOr<google::protobuf::Timestamp> ParseTimeText(std::string_view text) {
  google::protobuf::Timestamp ts;
  if (google::protobuf::util::TimeUtil::FromString(std::string(text), &ts)) return ts;
  // A date: exactly YYYY-MM-DD, of a day that exists (what Abseil parses must print back
  // the same, so no other form and no normalised 2025-02-30 gets through).
  absl::CivilDay day;
  if (text.size() == 10 && absl::ParseCivilTime(Sv(text), &day) &&
      absl::FormatCivilTime(day) == Sv(text)) {
    // The end of the day: one nanosecond before the next day's midnight.
    ts.set_seconds(absl::ToUnixSeconds(absl::FromCivil(day + 1, absl::UTCTimeZone())) - 1);
    ts.set_nanos(999'999'999);
    return ts;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "'", Sv(text), "' is neither RFC 3339 (2011-03-01T00:00:00Z) nor a date (2011-03-01)"));
}

}  // namespace guanxi::engine
