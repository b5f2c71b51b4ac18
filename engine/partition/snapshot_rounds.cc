#include "engine/partition/snapshot_rounds.h"

#include <utility>

namespace guanxi::engine {

SnapshotRounds::SnapshotRounds(SnapshotShelf* shelf, absl::Duration interval, absl::Time start)
    : shelf_(shelf), interval_(interval), last_(start) {}

SnapshotRounds::~SnapshotRounds() {
  if (thread_.joinable()) thread_.join();
}

bool SnapshotRounds::Due(absl::Time now) const {
  return !running_.load() && now - last_ >= interval_;
}

void SnapshotRounds::Start(absl::Time now, std::vector<Item> items) {
  if (thread_.joinable()) thread_.join();  // ended: running_ is false
  last_ = now;
  running_ = true;
  thread_ = std::thread([this, items = std::move(items)]() mutable {
    for (Item& item : items) {
      // A failure is counted by the shelf; the next round, or the release, tries again.
      shelf_->Take(*item.view.log, item.view.partition, item.offset).IgnoreError();
      item.view = {};  // lets the store go as soon as it is copied
    }
    running_ = false;
  });
}

}  // namespace guanxi::engine
