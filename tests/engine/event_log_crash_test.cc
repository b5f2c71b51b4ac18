// SIGKILLs a process while it appends to an event log, many times, and proves after each
// reopen: no torn batch, no duplicate, stored offsets consistent with the records, the
// chain intact. The writer is a separate executable (not a fork of this test), so it
// starts with a clean RocksDB and no inherited threads; it reports each committed
// offset over a pipe, which is how the test knows when to kill it (no sleeps).
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <set>
#include <string>

#include "engine/storage/event_log.h"
#include "gtest/gtest.h"
#include "tests/engine/crash_partition.h"
#include "tests/engine/event_log_test_util.h"

extern char** environ;

namespace guanxi::engine {
namespace {

using ::guanxi::engine::testing::kCrashTopic;
using ::guanxi::engine::testing::OriginalOffset;
using ::guanxi::engine::testing::TempDir;

constexpr int kRounds = 25;

// Runs the writer, lets it commit `commits` batches, then SIGKILLs it. Returns the last
// offset it reported as committed.
int64_t RunAndKill(const std::string& dir, uint64_t seed, int commits) {
  int pipe_fds[2];
  EXPECT_EQ(pipe(pipe_fds), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  const std::string seed_text = std::to_string(seed);
  std::string binary = GUANXI_CRASH_WRITER;
  char* argv[] = {binary.data(), const_cast<char*>(dir.c_str()),
                  const_cast<char*>(seed_text.c_str()), nullptr};
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv, environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  int64_t last = -1;
  for (int i = 0; i < commits; ++i) {
    int64_t offset = 0;
    size_t got = 0;
    while (got < sizeof offset) {
      const ssize_t n =
          read(pipe_fds[0], reinterpret_cast<char*>(&offset) + got, sizeof offset - got);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    if (got != sizeof offset) {
      ADD_FAILURE() << "the writer stopped before committing " << commits << " batches";
      break;
    }
    last = offset;
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  close(pipe_fds[0]);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the writer exited by itself (status " << status << ")";
  return last;
}

TEST(EventLogCrashTest, SigkillDuringAppendsLeavesNoTornBatchNoDuplicateAndAnIntactChain) {
  TempDir dir;
  const std::string path = dir.Sub("log");
  std::mt19937_64 rng(20261122);
  int64_t previous_stored = 0;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const int commits = 1 + static_cast<int>(rng() % 40);
    const int64_t reported = RunAndKill(path, rng(), commits);
    ASSERT_GE(reported, 0);

    auto log = EventLog::Open(path, {});
    ASSERT_TRUE(log.ok()) << log.status();
    auto stored_or = (*log)->StoredOffset(kCrashTopic, 0);
    ASSERT_TRUE(stored_or.ok() && stored_or->has_value());
    const int64_t stored = **stored_or;
    // What the writer saw committed is there (a later commit may have landed too).
    EXPECT_GE(stored, reported);
    EXPECT_GE(stored, previous_stored);
    previous_stored = stored;

    // Exactly the distinct events of offsets below the stored offset, each once, each
    // at the first offset that carried it: no torn batch, no duplicate, no stray event.
    std::set<int64_t> expected;
    for (int64_t o = 0; o < stored; ++o) expected.insert(OriginalOffset(o));
    std::set<std::string> seen;
    uint64_t events = 0;
    ASSERT_TRUE(
        (*log)
            ->ReadRange(
                0, UINT64_MAX,
                [&](const v1::LogRecord& r) {
                  ++events;
                  EXPECT_TRUE(seen.insert(r.event().event_id()).second)
                      << "duplicate " << r.event().event_id();
                  EXPECT_LT(r.source().offset(), stored);
                  EXPECT_EQ(r.event().event_id(), "ev-" + std::to_string(r.source().offset()))
                      << "appended from a re-send rather than the original";
                  return true;
                })
            .ok());
    EXPECT_EQ(events, expected.size());
    EXPECT_EQ((*log)->next_position(), expected.size());
    for (int64_t o : expected) {
      ASSERT_TRUE((*log)->FindEvent("ev-" + std::to_string(o)).ok()) << "lost ev-" << o;
    }
    // Verify: chain intact, positions dense, head matches, one dedup and one stream
    // entry per event record (the dedup index count equals the events).
    auto verified = (*log)->Verify();
    ASSERT_TRUE(verified.ok()) << verified.status();
    EXPECT_TRUE(verified->ok) << verified->reason;
    EXPECT_EQ(verified->records_checked, expected.size());
  }
}

}  // namespace
}  // namespace guanxi::engine
