// A partition's projection worker: a thread that keeps a PartitionProjector caught up
// with its log. The append side hands over what it appended (Feed) or says how far the
// log reaches (Notify); the worker sleeps on a condition until the head moves (no
// polling), then applies and commits. Records handed over are applied from memory; the
// worker reads the log only for what it was not handed (at start, after a restart, or
// when it fell more than kMaxHandedOver records behind and the oldest were dropped).
//
//   ProjectionWorker worker(std::move(projector));
//   worker.Start();
//   ... log->Append(records, ...); worker.Feed(std::move(appended_records));
//   RETURN_IF_ERROR(worker.status());      // a failed worker is fatal for the engine
//   RETURN_IF_ERROR(worker.Stop());
//
// Thread-safe: Notify, status, applied and clock_seconds from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/projection/projector.h"

namespace guanxi::engine {

class ProjectionWorker {
 public:
  // `on_commit`, if set, is called (on the worker's thread) after every commit.
  explicit ProjectionWorker(std::unique_ptr<PartitionProjector> projector,
                            std::function<void()> on_commit = nullptr);
  ~ProjectionWorker();  // Stop()
  ProjectionWorker(const ProjectionWorker&) = delete;
  ProjectionWorker& operator=(const ProjectionWorker&) = delete;

  // Records handed over and not yet applied, at most (the oldest beyond are dropped
  // and read back from the log instead).
  static constexpr size_t kMaxHandedOver = 4096;

  void Start();
  // The log now holds records up to `head` (exclusive).
  void Notify(uint64_t head);
  // `records` were just appended to the log at consecutive positions, as the log stores
  // them (EventLog::Append filled in position, prev_hash and recorded_at); also
  // notifies their end.
  void Feed(std::vector<guanxi::v1::LogRecord> records);
  // Stops at the next commit boundary and joins; the first error the worker met.
  absl::Status Stop();

  // The first error (the worker stops at it), or OK.
  absl::Status status() const;
  // The next log position to apply: everything below it is committed.
  uint64_t applied() const { return applied_.load(); }
  // The partition's event time (Unix seconds), as far as applied.
  int64_t clock_seconds() const { return clock_.load(); }
  // Whether the projector waits for its outbox to drain (ProjectorOptions::outbox_max_entries).
  bool waiting_for_outbox() const { return projector_->waiting_for_outbox(); }
  // Whether, as far as committed, a model is still reclassifying the partition a few
  // customers a record (PartitionProjector::reclassifying).
  bool reclassifying() const { return projector_->reclassifying(); }
  // Waits until applied() >= position, the worker failed or stopped, or `timeout`.
  // True when the position was reached.
  bool WaitFor(uint64_t position, absl::Duration timeout) const;
  // The same for the position through which every refit is decided (applied in memory,
  // not necessarily committed: PartitionProjector::CatchUp's `decided`).
  bool WaitDecided(uint64_t position, absl::Duration timeout) const;
  uint64_t decided() const;

 private:
  void Loop();

  std::unique_ptr<PartitionProjector> projector_;
  std::function<void()> on_commit_;
  mutable absl::Mutex mu_;
  uint64_t head_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<guanxi::v1::LogRecord> handed_over_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> applied_{0};
  uint64_t decided_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<int64_t> clock_{0};
  std::thread thread_;
};

}  // namespace guanxi::engine
