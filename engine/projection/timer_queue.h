// The inactivity timers of one partition's projector, in memory bounded whatever the
// population. A customer has at most one timer, armed for a deadline (Unix seconds of
// event time), and its deadline is in its state (CustomerState.timer_deadline_seconds),
// which is at hand whenever the timer fires or moves. The queue in (deadline, customer)
// order is the store's `timers` family; a TimerQueue holds its earliest part in memory:
// every armed timer before a frontier and none at or after it, up to 2 x `window` of
// them (when more are armed before the frontier, it moves down to keep `window`). When
// the part in memory runs out, the next `window` are read from the store, with the moves
// not committed yet laid over them. So a partition holds a few thousand timers in memory,
// not one per customer (docs/storage.md, "The memory budget").
//
//   TimerQueue timers(store);
//   while (due = timers.Due(clock)) fire it;   // firing moves the timer (Move)
//   timers.Move(customer, from, to);           // as the customer's state says
//   timers.WriteMoves(batch); store->Commit(batch); timers.Committed();
//
// Thread-compatible: one thread (the projector's).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/storage/projection_store.h"

namespace guanxi::engine {

class TimerQueue {
 public:
  using Key = std::pair<int64_t, std::string>;  // (deadline, customer_id)
  static constexpr size_t kDefaultWindow = 4096;

  // `store` must outlive the queue; `window` >= 1. Nothing is read until Due needs it.
  explicit TimerQueue(const ProjectionStore* store, size_t window = kDefaultWindow);

  // The earliest armed timer if it is due at or before `t`; none otherwise. Firing it
  // must move it (Move), or the next call returns it again.
  absl::StatusOr<std::optional<Key>> Due(int64_t t);
  // The customer's timer moved from `from` to `to` (nullopt: not armed), as its state
  // now says.
  void Move(const std::string& customer_id, std::optional<int64_t> from,
            std::optional<int64_t> to);
  // Every move since the last Committed(), one MoveTimer per customer.
  void WriteMoves(ProjectionStore::Batch& batch) const;
  // The batch WriteMoves filled is in the store.
  void Committed() { moved_.clear(); }

  size_t in_memory() const { return near_.size(); }

 private:
  struct Moved {
    std::optional<int64_t> committed;  // as the store holds it
    std::optional<int64_t> armed;      // now
  };
  bool InMemory(const Key& key) const { return !frontier_ || key < *frontier_; }
  // The next `window_` timers from the frontier on (precondition: a frontier).
  absl::Status ReadNext();
  // Over 2 x window_ in memory: keeps the earliest window_ (the frontier comes down).
  void Shrink();

  const ProjectionStore* store_;
  const size_t window_;
  std::set<Key> near_;
  // nullopt: every armed timer is in near_. Starts at the lowest key: none is.
  std::optional<Key> frontier_;
  std::unordered_map<std::string, Moved> moved_;
};

}  // namespace guanxi::engine
