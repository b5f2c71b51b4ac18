#include "engine/projection/timer_queue.h"

#include <iterator>
#include <string_view>
#include <vector>

#include "common/status_macros.h"

namespace guanxi::engine {

TimerQueue::TimerQueue(const ProjectionStore* store, size_t window)
    : store_(store), window_(window < 1 ? 1 : window), frontier_(Key{INT64_MIN, ""}) {}

absl::StatusOr<std::optional<TimerQueue::Key>> TimerQueue::Due(int64_t t) {
  // After ReadNext either near_ holds window_ timers or there is no frontier: this ends.
  while (near_.empty() && frontier_ && frontier_->first <= t) RETURN_IF_ERROR(ReadNext());
  if (near_.empty() || near_.begin()->first > t) return std::nullopt;
  return *near_.begin();
}

void TimerQueue::Move(const std::string& customer_id, std::optional<int64_t> from,
                      std::optional<int64_t> to) {
  if (from == to) return;
  auto [moved, fresh] = moved_.try_emplace(customer_id, Moved{from, to});
  if (!fresh) moved->second.armed = to;
  if (from) {
    if (Key key(*from, customer_id); InMemory(key)) near_.erase(key);
  }
  if (!to) return;
  if (Key key(*to, customer_id); InMemory(key)) {
    near_.insert(std::move(key));
    Shrink();
  }
}

void TimerQueue::Shrink() {
  if (near_.size() <= 2 * window_) return;
  // The latest go, and the frontier comes down to the earliest of them: they are in the
  // store, or in moved_ until the next commit.
  while (near_.size() > window_) {
    frontier_ = std::move(near_.extract(std::prev(near_.end())).value());
  }
}

void TimerQueue::WriteMoves(ProjectionStore::Batch& batch) const {
  for (const auto& [customer, moved] : moved_) {
    batch.MoveTimer(customer, moved.committed, moved.armed);
  }
}

absl::Status TimerQueue::ReadNext() {
  // The store holds the committed timers: those of customers moved since are skipped
  // there and taken from moved_.
  std::vector<Key> read;
  read.reserve(window_ + 1);
  RETURN_IF_ERROR(store_->ForEachTimer(
      [&](int64_t deadline, std::string_view customer) {
        if (moved_.find(std::string(customer)) != moved_.end()) return true;
        read.emplace_back(deadline, customer);
        return read.size() <= window_;
      },
      std::pair<int64_t, std::string_view>(frontier_->first, frontier_->second)));
  std::optional<Key> next;
  if (read.size() > window_) {
    next = std::move(read.back());
    read.pop_back();
  }
  for (const auto& [customer, moved] : moved_) {
    if (!moved.armed) continue;
    Key key(*moved.armed, customer);
    if (key >= *frontier_ && (!next || key < *next)) near_.insert(std::move(key));
  }
  near_.insert(std::make_move_iterator(read.begin()), std::make_move_iterator(read.end()));
  frontier_ = std::move(next);
  Shrink();
  return absl::OkStatus();
}

}  // namespace guanxi::engine
