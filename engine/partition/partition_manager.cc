#include "engine/partition/partition_manager.h"

#include <utility>

#include "common/status_macros.h"
#include "engine/storage/data_dir.h"

namespace guanxi::engine {

PartitionManager::PartitionManager(std::string data_dir, const guanxi::v1::StorageConfig& storage)
    : data_dir_(std::move(data_dir)),
      storage_config_(storage),
      storage_(std::make_shared<const SharedStorage>(storage.block_cache_bytes(),
                                                     storage.write_buffer_bytes())) {}

PartitionManager::~PartitionManager() {
  CloseAll();
  stores_.clear();  // a store a reader still holds closes when the reader lets go
}

absl::StatusOr<std::shared_ptr<PartitionStore>> PartitionManager::AcquireStore(int32_t partition) {
  // Still open: the partition was revoked while a reader held its store, so it was not
  // closed (RocksDB would refuse to open it again while it is: its LOCK). Its previous
  // writers (the partition's writer and worker, the publisher) are gone and wrote
  // through this very object, so it is exactly what a fresh open would find.
  if (auto it = stores_.find(partition); it != stores_.end()) return it->second;
  EventLogOptions log_options;
  log_options.partition = partition;
  log_options.sync = storage_config_.sync();
  log_options.shared = storage_;
  log_options.extra_column_families = ProjectionStore::ColumnFamilies();
  auto store = std::make_shared<PartitionStore>();
  ASSIGN_OR_RETURN(store->log, EventLog::Open(PartitionDir(data_dir_, partition), log_options));
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
  owned_.erase(it);
  CloseReleased();
  return status;
}

void PartitionManager::CloseAll() {
  for (auto& [partition, p] : owned_) p->Stop().IgnoreError();
  owned_.clear();
  PublishViews();
  CloseReleased();
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
