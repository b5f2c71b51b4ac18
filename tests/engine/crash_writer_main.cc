// The writer the crash test kills: appends a simulated Kafka partition to an event log
// forever, resuming from the offset the log stored, and after every committed Append
// writes the committed next offset (8 bytes, host order) to stdout.
//
//   event_log_crash_writer DIR SEED
//
// The partition's message at offset o carries event "ev-<o>", except every 7th offset,
// which re-sends the event of offset o-3 (same event_id: a producer retry). On start it
// rewinds a few offsets before the stored one (a redelivery). Batches are 1..50 messages.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "engine/storage/event_log.h"
#include "tests/engine/crash_partition.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DIR SEED\n", argv[0]);
    return 2;
  }
  auto log = guanxi::engine::EventLog::Open(argv[1], {});
  if (!log.ok()) {
    std::fprintf(stderr, "open: %s\n", std::string(log.status().message()).c_str());
    return 1;
  }
  auto stored = (*log)->StoredOffset(guanxi::engine::testing::kCrashTopic, 0);
  if (!stored.ok()) return 1;
  std::mt19937_64 rng(std::strtoull(argv[2], nullptr, 10));
  int64_t offset = stored->value_or(0);
  offset = std::max<int64_t>(0, offset - static_cast<int64_t>(rng() % 5));  // redelivery
  while (true) {
    const int64_t count = 1 + static_cast<int64_t>(rng() % 50);
    std::vector<guanxi::v1::LogRecord> batch;
    for (int64_t o = offset; o < offset + count; ++o) {
      batch.push_back(guanxi::engine::testing::CrashMessage(o));
    }
    offset += count;
    auto result =
        (*log)->Append(absl::MakeSpan(batch), {{guanxi::engine::testing::kCrashTopic, 0, offset}});
    if (!result.ok()) {
      std::fprintf(stderr, "append: %s\n", std::string(result.status().message()).c_str());
      return 1;
    }
    if (write(STDOUT_FILENO, &offset, sizeof offset) != sizeof offset) return 1;
  }
}
