// The simulated partition shared by the crash test and its writer process.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/engine/event_log_test_util.h"

namespace guanxi::engine::testing {

inline constexpr char kCrashTopic[] = "guanxi.events";

// The offset whose event the message at `offset` carries: itself, or for every 7th
// offset (from 7 on) a re-send of the event of offset - 3.
inline int64_t OriginalOffset(int64_t offset) {
  return offset >= 7 && offset % 7 == 0 ? offset - 3 : offset;
}

inline guanxi::v1::LogRecord CrashMessage(int64_t offset) {
  const int64_t original = OriginalOffset(offset);
  auto record = OrderRecord(absl::StrCat("ev-", original), absl::StrCat("c", original % 13),
                            1'700'000'000 + original, offset);
  return record;
}

}  // namespace guanxi::engine::testing
