#include "connectors/time_parse.h"

#include <charconv>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace guanxi::connectors {
namespace {

bool ParseDigits(std::string_view text, int& out) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

absl::StatusOr<google::protobuf::Timestamp> Make(std::string_view text, int y, int mo, int d, int h,
                                                 int mi, int s) {
  const absl::CivilSecond civil(y, mo, d, h, mi, s);
  if (civil.year() != y || civil.month() != mo || civil.day() != d || civil.hour() != h ||
      civil.minute() != mi || civil.second() != s || y < 1) {
    return absl::InvalidArgumentError(absl::StrCat("'", std::string(text), "' is not a real date"));
  }
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(absl::FromCivil(civil, absl::UTCTimeZone())));
  return ts;
}

}  // namespace

absl::StatusOr<google::protobuf::Timestamp> ParseCompactDate(std::string_view text) {
  int y = 0, m = 0, d = 0;
  if (text.size() != 8 || !ParseDigits(text.substr(0, 4), y) ||
      !ParseDigits(text.substr(4, 2), m) || !ParseDigits(text.substr(6, 2), d)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", std::string(text), "' is not a date in YYYYMMDD form"));
  }
  return Make(text, y, m, d, 0, 0, 0);
}

absl::StatusOr<google::protobuf::Timestamp> ParseDateTime(std::string_view text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  const bool ok = (text.size() == 16 || text.size() == 19) && text[4] == '-' && text[7] == '-' &&
                  text[10] == ' ' && text[13] == ':' && ParseDigits(text.substr(0, 4), y) &&
                  ParseDigits(text.substr(5, 2), mo) && ParseDigits(text.substr(8, 2), d) &&
                  ParseDigits(text.substr(11, 2), h) && ParseDigits(text.substr(14, 2), mi) &&
                  (text.size() == 16 || (text[16] == ':' && ParseDigits(text.substr(17, 2), s)));
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", std::string(text), "' is not a date-time in YYYY-MM-DD HH:MM:SS form"));
  }
  return Make(text, y, mo, d, h, mi, s);
}

}  // namespace guanxi::connectors
