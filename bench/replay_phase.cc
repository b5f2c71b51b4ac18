// Phase 3: rebuild every projection from the log, as `guanxi replay` does.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "app/progress.h"
#include "bench/phases.h"
#include "common/status_macros.h"
#include "engine/config/config.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/event_log.h"
#include "engine/storage/projection_store.h"
#include "engine/projection/projector.h"
#include "engine/projection/replay.h"

namespace guanxi::bench {
namespace {

struct Rebuilt {
  int32_t partition = 0;
  uint64_t records = 0;
  uint64_t events = 0;
  double open_seconds = 0;     // opening the live log (secondary) and the fresh store
  double rebuild_seconds = 0;  // PartitionProjector::CatchUp
  std::vector<std::string> differences;
};

// ReplayPartition (engine/projection/replay.cc) step by step, so that only the rebuild
// is timed: the live log opened as a secondary, a fresh store, a projector from 0 to
// the live checkpoint.
absl::StatusOr<Rebuilt> Rebuild(const std::string& data_dir, int32_t partition,
                                const std::string& scratch, bool compare,
                                const std::function<void(uint64_t)>& applied) {
  Rebuilt out;
  out.partition = partition;
  std::error_code ec;
  std::filesystem::remove_all(scratch, ec);
  const auto opening = Clock::now();
  ASSIGN_OR_RETURN(auto live, engine::OpenLiveSecondary(data_dir, partition, scratch));
  ASSIGN_OR_RETURN(auto live_store, engine::ProjectionStore::Attach(live.get()));
  ASSIGN_OR_RETURN(const auto checkpoint, live_store->ReadCheckpoint());
  ASSIGN_OR_RETURN(auto fresh, engine::OpenReplayStore(scratch));
  ASSIGN_OR_RETURN(auto fresh_store, engine::ProjectionStore::Attach(fresh.get()));
  ASSIGN_OR_RETURN(auto projector,
                   engine::PartitionProjector::Create(
                       live.get(), fresh_store.get(),
                       {.partition = partition, .config = engine::DefaultEngineConfig()}));
  const std::atomic<bool> stop{false};
  out.open_seconds = SecondsSince(opening);
  const auto start = Clock::now();
  RETURN_IF_ERROR(projector->CatchUp(checkpoint.next_position(), stop,
                                     [&](const engine::ProjectorStats& s) { applied(s.records); }));
  out.rebuild_seconds = SecondsSince(start);
  out.records = projector->stats().records;
  out.events = projector->stats().events;
  if (compare) {
    ASSIGN_OR_RETURN(out.differences,
                     engine::ProjectionStore::Compare(*live_store, *fresh_store, 5));
  }
  projector.reset();
  fresh_store.reset();
  fresh.reset();
  live_store.reset();
  live.reset();
  return out;
}

}  // namespace

absl::StatusOr<Result> ReplayPhase(const std::string& data_dir, const std::string& scratch_dir,
                                   int threads) {
  ASSIGN_OR_RETURN(const std::vector<int32_t> partitions, engine::ListPartitions(data_dir));
  Result r;
  uint64_t total_records = 0;
  {
    // The log lengths, for progress.
    for (int32_t p : partitions) {
      engine::EventLogOptions options{.mode = engine::OpenMode::kReadOnly};
      options.extra_column_families = engine::ProjectionStore::ColumnFamilies();
      ASSIGN_OR_RETURN(auto log,
                       engine::EventLog::Open(engine::PartitionDir(data_dir, p), options));
      total_records += log->next_position();
    }
  }

  // Sequentially, as `guanxi replay` runs, comparing each partition afterwards.
  {
    app::Progress progress(std::cerr, "replay (1 thread)", isatty(STDERR_FILENO) != 0);
    uint64_t done = 0, records = 0, events = 0;
    double open_seconds = 0, rebuild_seconds = 0;
    int64_t differing = 0;
    std::vector<std::string> first_differences;
    const auto start = Clock::now();
    for (int32_t p : partitions) {
      ASSIGN_OR_RETURN(const Rebuilt rebuilt,
                       Rebuild(data_dir, p, absl::StrCat(scratch_dir, "/replay-", p), true,
                               [&](uint64_t applied) {
                                 progress.Update(static_cast<int64_t>(done + applied),
                                                 static_cast<int64_t>(total_records),
                                                 static_cast<int64_t>(done + applied), "records");
                               }));
      std::error_code ec;
      std::filesystem::remove_all(absl::StrCat(scratch_dir, "/replay-", p), ec);
      done += rebuilt.records;
      records += rebuilt.records;
      events += rebuilt.events;
      open_seconds += rebuilt.open_seconds;
      rebuild_seconds += rebuilt.rebuild_seconds;
      if (!rebuilt.differences.empty()) {
        ++differing;
        if (first_differences.empty()) first_differences = rebuilt.differences;
      }
    }
    const double wall = SecondsSince(start);
    progress.Finish();
    Result& seq = Child(r, "sequential");
    Put(seq, "partitions", static_cast<int64_t>(partitions.size()));
    Put(seq, "records", records);
    Put(seq, "events", events);
    // The headline: opening the stores and rebuilding, not the comparison.
    const double seconds = open_seconds + rebuild_seconds;
    Put(seq, "seconds", seconds);
    Put(seq, "open_seconds", open_seconds);
    Put(seq, "rebuild_seconds", rebuild_seconds);
    Put(seq, "wall_seconds_with_compare", wall);
    Put(seq, "events_per_second", static_cast<double>(events) / seconds);
    Put(seq, "records_per_second", static_cast<double>(records) / seconds);
    Put(seq, "rebuild_only_events_per_second", static_cast<double>(events) / rebuild_seconds);
    Put(seq, "partitions_differing_from_live", differing);
    PutBool(seq, "identical_to_live", differing == 0);
    if (!first_differences.empty()) Put(seq, "first_difference", first_differences.front());
    std::cerr << "replay (1 thread): " << Thousands(static_cast<int64_t>(events)) << " events in "
              << Fixed(seconds, 1) << " s; "
              << (differing == 0 ? "identical to the live projections"
                                 : "DIFFERENT from the live projections")
              << "\n";
  }

  // `threads` partitions at a time: the wall time of the whole rebuild.
  {
    app::Progress progress(std::cerr, absl::StrCat("replay (", threads, " threads)"),
                           isatty(STDERR_FILENO) != 0);
    std::atomic<size_t> next{0};
    std::atomic<uint64_t> events{0}, done{0};
    std::mutex mu;
    absl::Status failure;
    const auto start = Clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        for (size_t i = next++; i < partitions.size(); i = next++) {
          uint64_t last = 0;
          auto rebuilt =
              Rebuild(data_dir, partitions[i], absl::StrCat(scratch_dir, "/replay-", partitions[i]),
                      false, [&](uint64_t applied) {
                        done += applied - last;
                        last = applied;
                        std::lock_guard<std::mutex> lock(mu);
                        progress.Update(static_cast<int64_t>(done.load()),
                                        static_cast<int64_t>(total_records),
                                        static_cast<int64_t>(done.load()), "records");
                      });
          std::lock_guard<std::mutex> lock(mu);
          if (!rebuilt.ok()) {
            if (failure.ok()) failure = rebuilt.status();
            return;
          }
          events += rebuilt->events;
        }
      });
    }
    for (std::thread& t : pool) t.join();
    const double seconds = SecondsSince(start);
    progress.Finish();
    std::error_code ec;
    std::filesystem::remove_all(scratch_dir, ec);
    if (!failure.ok()) return failure;
    Result& par = Child(r, "parallel");
    Put(par, "threads", threads);
    Put(par, "events", events.load());
    Put(par, "wall_seconds", seconds);
    Put(par, "note", "wall time of opening the stores and rebuilding, no comparison");
    Put(par, "events_per_second", static_cast<double>(events.load()) / seconds);
  }
  return r;
}

}  // namespace guanxi::bench
