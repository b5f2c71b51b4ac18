#include "engine/partition/partition_manager.h"

#include <filesystem>
#include <utility>

#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "engine/config/config.h"
#include "engine/storage/data_dir.h"

namespace guanxi::engine {

PartitionManager::PartitionManager(std::string data_dir, const guanxi::v1::StorageConfig& storage)
    : data_dir_(std::move(data_dir)),
      storage_config_(storage),
      storage_(std::make_shared<const SharedStorage>(storage.block_cache_bytes(),
                                                     storage.write_buffer_bytes(),
                                                     MinFreeBytes(storage))) {
  if (!storage.snapshot_dir().empty()) {
    shelf_ = std::make_unique<SnapshotShelf>(storage.snapshot_dir(), storage.snapshots_kept());
    if (storage.snapshot_interval_seconds() > 0) {
      rounds_ = std::make_unique<SnapshotRounds>(
          shelf_.get(), absl::Seconds(storage.snapshot_interval_seconds()), absl::Now());
    }
  }
}

PartitionManager::~PartitionManager() {
  rounds_.reset();  // waits for a round in progress
  CloseAll();
  stores_.clear();  // a store a reader still holds closes when the reader lets go
}

absl::StatusOr<std::shared_ptr<PartitionStore>> PartitionManager::AcquireStore(int32_t partition) {
  // Still open: the partition was revoked while a reader held its store, so it was not
  // closed (RocksDB would refuse to open it again while it is: its LOCK). Its previous
  // writers (the partition's writer and worker, the publisher) are gone and wrote
  // through this very object, so it is exactly what a fresh open would find.
  if (auto it = stores_.find(partition); it != stores_.end()) return it->second;
  const std::string dir = PartitionDir(data_dir_, partition);
  if (shelf_ != nullptr && !std::filesystem::exists(dir)) {
    RETURN_IF_ERROR(shelf_->Restore(partition, dir).status());
  }
  EventLogOptions log_options;
  log_options.partition = partition;
  log_options.sync = storage_config_.sync();
  log_options.shared = storage_;
  log_options.min_free_bytes = MinFreeBytes(storage_config_);
  log_options.extra_column_families = ProjectionStore::ColumnFamilies();
  auto store = std::make_shared<PartitionStore>();
  ASSIGN_OR_RETURN(store->log, EventLog::Open(dir, log_options));
  ASSIGN_OR_RETURN(store->projections, ProjectionStore::Attach(store->log.get()));
  stores_[partition] = store;
  return store;
}

absl::StatusOr<Partition*> PartitionManager::Open(PartitionOptions options) {
  const int32_t partition = options.partition;
  ASSIGN_OR_RETURN(std::shared_ptr<PartitionStore> store, AcquireStore(partition));
  ASSIGN_OR_RETURN(std::unique_ptr<Partition> started,
                   Partition::Start(std::move(store), std::move(options)));
  Partition* p = started.get();
  owned_[partition] = std::move(started);
  return p;
}

absl::Status PartitionManager::Close(int32_t partition) {
  auto it = owned_.find(partition);
  if (it == owned_.end()) return absl::OkStatus();
  absl::Status status = it->second->Stop();
  SetDown(*it->second);
  owned_.erase(it);
  CloseReleased();
  return status;
}

void PartitionManager::CloseAll() {
  for (auto& [partition, p] : owned_) {
    p->Stop().IgnoreError();
    SetDown(*p);
  }
  owned_.clear();
  PublishViews();
  CloseReleased();
}

void PartitionManager::SetDown(const Partition& partition) {
  auto store = stores_.find(partition.partition());
  if (store == stores_.end()) return;
  EventLog& log = *store->second->log;
  log.Flush().IgnoreError();  // the log stays: replayed at the next open
  if (shelf_ == nullptr || partition.next_offset() < 0) return;  // nothing consumed
  shelf_->Take(log, partition.partition(), partition.next_offset())
      .IgnoreError();  // counted by the shelf
}

void PartitionManager::SnapshotIfDue(absl::Time now) {
  if (rounds_ == nullptr || !rounds_->Due(now)) return;
  std::vector<SnapshotRounds::Item> items;
  for (const auto& [partition, p] : owned_) {
    if (p->next_offset() >= 0) items.push_back({.view = p->View(), .offset = p->next_offset()});
  }
  rounds_->Start(now, std::move(items));
}

void PartitionManager::CloseReleased() {
  for (auto it = stores_.begin(); it != stores_.end();) {
    // Nobody else holds it, and nobody can start to: a holder copies from a holder.
    if (owned_.count(it->first) == 0 && it->second.use_count() == 1) {
      it = stores_.erase(it);
    } else {
      ++it;
    }
  }
}

Partition* PartitionManager::Find(int32_t partition) const {
  auto it = owned_.find(partition);
  return it == owned_.end() ? nullptr : it->second.get();
}

void PartitionManager::ForEach(const std::function<void(Partition&)>& visit) const {
  for (const auto& [partition, p] : owned_) visit(*p);
}

void PartitionManager::PublishViews() {
  std::vector<PartitionView> views;
  views.reserve(owned_.size());
  for (const auto& [partition, p] : owned_) views.push_back(p->View());
  absl::MutexLock lock(&views_mu_);
  views_ = std::move(views);
}

std::vector<PartitionView> PartitionManager::Views() const {
  absl::MutexLock lock(&views_mu_);
  return views_;
}

}  // namespace guanxi::engine
