// Debian bookworm's Abseil (20220623) has its own absl::string_view, distinct from
// std::string_view, and absl::StrCat does not accept the latter. Wrap std::string_view
// arguments in Sv(): absl::StrCat("unknown flag '", Sv(name), "'").
#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace guanxi {

inline absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace guanxi
