// CSV fields of one line (RFC 4180 quoting: "a,b" and "say ""hi""" are one field each).
// Pure and thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace guanxi::connectors {

// Splits one line into fields. A quote left open or text after a closing quote is
// InvalidArgument. Records spanning several lines are not supported (none of our
// sources write them).
absl::StatusOr<std::vector<std::string>> SplitCsvLine(std::string_view line);

// Parses a non-negative or negative decimal like "2.55", "-11062.06", "0.001" into an
// integer count of 10^-scale units ("2.55" at scale 3 = 2550). More than `scale`
// decimals, anything that is not a decimal, or a count that does not fit in int64
// ("'...' is too large") is InvalidArgument.
absl::StatusOr<int64_t> ParseFixedPoint(std::string_view text, int scale);

}  // namespace guanxi::connectors
