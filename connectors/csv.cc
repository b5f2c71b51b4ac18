#include "connectors/csv.h"

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "connectors/checked_int.h"

namespace guanxi::connectors {

absl::StatusOr<std::vector<std::string>> SplitCsvLine(std::string_view line) {
  std::vector<std::string> fields;
  std::string field;
  size_t i = 0;
  while (true) {
    field.clear();
    if (i < line.size() && line[i] == '"') {
      ++i;
      while (true) {
        if (i >= line.size()) return absl::InvalidArgumentError("a quoted field is not closed");
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field.push_back(line[i++]);
      }
      if (i < line.size() && line[i] != ',') {
        return absl::InvalidArgumentError(
            absl::StrCat("text after a closing quote at column ", i + 1));
      }
    } else {
      const size_t end = line.find(',', i);
      const size_t stop = end == std::string_view::npos ? line.size() : end;
      field.assign(line.substr(i, stop - i));
      i = stop;
    }
    fields.push_back(field);
    if (i >= line.size()) break;
    ++i;  // the comma
    if (i == line.size()) {
      fields.emplace_back();  // a trailing comma ends with an empty field
      break;
    }
  }
  return fields;
}

absl::StatusOr<int64_t> ParseFixedPoint(std::string_view text, int scale) {
  const std::string shown(text);
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat("'", shown, "' is not a decimal number"));
  };
  bool negative = false;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  const size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view frac =
      dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  if (whole.empty() && frac.empty()) return bad();
  if (static_cast<int>(frac.size()) > scale) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", shown, "' has more than ", scale, " decimals"));
  }
  auto too_large = [&] {
    return absl::InvalidArgumentError(absl::StrCat("'", shown, "' is too large"));
  };
  int64_t value = 0;
  for (std::string_view part : {whole, frac}) {
    for (char c : part) {
      if (c < '0' || c > '9') return bad();
      auto shifted = CheckedMul(value, 10);
      auto next = shifted ? CheckedAdd(*shifted, c - '0') : std::nullopt;
      if (!next) return too_large();
      value = *next;
    }
  }
  for (int k = static_cast<int>(frac.size()); k < scale; ++k) {
    auto shifted = CheckedMul(value, 10);
    if (!shifted) return too_large();
    value = *shifted;
  }
  return negative ? -value : value;
}

}  // namespace guanxi::connectors
