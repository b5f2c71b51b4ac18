#include "engine/projection/timer_queue.h"

#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/storage/event_log.h"
#include "engine/storage/projection_store.h"
#include "gtest/gtest.h"
#include "tests/engine/event_log_test_util.h"

namespace guanxi::engine {
namespace {

using ::guanxi::engine::testing::TempDir;

struct Store {
  std::unique_ptr<EventLog> log;
  std::unique_ptr<ProjectionStore> projections;
};

Store OpenStore(const std::string& dir) {
  EventLogOptions options;
  options.extra_column_families = ProjectionStore::ColumnFamilies();
  auto log = EventLog::Open(dir, options);
  EXPECT_TRUE(log.ok()) << log.status();
  auto projections = ProjectionStore::Attach(log->get());
  EXPECT_TRUE(projections.ok()) << projections.status();
  return {std::move(*log), std::move(*projections)};
}

void Commit(TimerQueue& queue, ProjectionStore& store) {
  ProjectionStore::Batch batch;
  queue.WriteMoves(batch);
  ASSERT_TRUE(store.Commit(batch).ok());
  queue.Committed();
}

// Against a plain map of every customer's deadline: timers armed, moved and disarmed at
// random, commits at random, the clock advancing; whatever the window, Due gives the
// earliest armed timer, and the queue holds at most twice its window in memory.
TEST(TimerQueueTest, DueGivesTheEarliestArmedTimerWhateverTheWindowHolds) {
  for (size_t window : {size_t{1}, size_t{3}, size_t{4096}}) {
    SCOPED_TRACE(absl::StrCat("window ", window));
    TempDir dir;
    Store store = OpenStore(dir.path());
    TimerQueue queue(store.projections.get(), window);
    std::mt19937_64 rng(window);
    auto uniform = [&](int64_t lo, int64_t hi) {
      return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
    };
    std::map<std::string, int64_t> armed;  // the truth
    auto move = [&](const std::string& customer, std::optional<int64_t> to) {
      auto it = armed.find(customer);
      const std::optional<int64_t> from =
          it == armed.end() ? std::nullopt : std::optional<int64_t>(it->second);
      queue.Move(customer, from, to);
      if (to) {
        armed[customer] = *to;
      } else if (it != armed.end()) {
        armed.erase(it);
      }
    };
    int64_t clock = 0;
    size_t fired = 0;
    for (int step = 0; step < 3000; ++step) {
      const std::string customer = absl::StrCat("c", uniform(0, 199));
      move(customer, uniform(0, 5) == 0 ? std::nullopt
                                        : std::optional<int64_t>(clock + uniform(1, 500)));
      if (uniform(0, 9) == 0) Commit(queue, *store.projections);
      if (uniform(0, 4) == 0) clock += uniform(0, 40);
      for (;;) {
        auto due = queue.Due(clock);
        ASSERT_TRUE(due.ok()) << due.status();
        std::optional<std::pair<int64_t, std::string>> expected;
        for (const auto& [c, deadline] : armed) {
          if (deadline <= clock && (!expected || std::pair(deadline, c) < *expected)) {
            expected = std::pair(deadline, c);
          }
        }
        ASSERT_EQ(*due, expected) << "step " << step;
        if (!*due) break;
        ++fired;
        // Firing re-arms later, or disarms.
        move((*due)->second, uniform(0, 2) == 0 ? std::nullopt
                                                : std::optional<int64_t>(clock + uniform(1, 300)));
      }
      ASSERT_LE(queue.in_memory(), 2 * window);
    }
    EXPECT_GT(fired, 1000u);
    // What the store holds after a commit is what is armed.
    Commit(queue, *store.projections);
    std::map<std::string, int64_t> stored;
    ASSERT_TRUE(store.projections
                    ->ForEachTimer([&](int64_t deadline, std::string_view c) {
                      stored.emplace(std::string(c), deadline);
                      return true;
                    })
                    .ok());
    EXPECT_EQ(stored, armed);
  }
}

}  // namespace
}  // namespace guanxi::engine
