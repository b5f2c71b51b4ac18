#include "engine/projection/replay.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/projection_store.h"

namespace guanxi::engine {

absl::StatusOr<std::unique_ptr<EventLog>> OpenLiveSecondary(const std::string& data_dir,
                                                            int32_t partition,
                                                            const std::string& scratch_dir) {
  EventLogOptions live_options{.mode = OpenMode::kSecondary,
                               .secondary_dir = absl::StrCat(scratch_dir, "/secondary")};
  live_options.extra_column_families = ProjectionStore::ColumnFamilies();
  return EventLog::Open(PartitionDir(data_dir, partition), live_options);
}

absl::StatusOr<std::unique_ptr<EventLog>> OpenReplayStore(const std::string& scratch_dir) {
  EventLogOptions fresh_options{.scratch = true};
  fresh_options.extra_column_families = ProjectionStore::ColumnFamilies();
  return EventLog::Open(absl::StrCat(scratch_dir, "/fresh"), fresh_options);
}

absl::StatusOr<AsOfView> RebuildAsOf(const ReplayOptions& options,
                                     const google::protobuf::Timestamp& as_of,
                                     const std::atomic<bool>& stop,
                                     const std::function<void(uint64_t, uint64_t)>& progress) {
  AsOfView view;
  ASSIGN_OR_RETURN(view.log,
                   OpenLiveSecondary(options.data_dir, options.partition, options.scratch_dir));
  ASSIGN_OR_RETURN(view.fresh, OpenReplayStore(options.scratch_dir));
  ASSIGN_OR_RETURN(view.store, ProjectionStore::Attach(view.fresh.get()));
  ASSIGN_OR_RETURN(auto projector, PartitionProjector::Create(view.log.get(), view.store.get(),
                                                              {.partition = options.partition,
                                                               .config = options.config,
                                                               .until = as_of}));
  const uint64_t target = view.log->next_position();
  RETURN_IF_ERROR(projector->CatchUp(target, stop, [&](const ProjectorStats&) {
    if (progress) progress(projector->next_position(), target);
  }));
  if (stop.load()) return absl::CancelledError("interrupted");
  RETURN_IF_ERROR(projector->FinishAt(as_of));
  view.stats = projector->stats();
  return view;
}

absl::StatusOr<ReplayResult> ReplayPartition(
    const ReplayOptions& options, const std::atomic<bool>& stop,
    const std::function<void(uint64_t, uint64_t)>& progress) {
  ReplayResult result;
  result.partition = options.partition;
  ASSIGN_OR_RETURN(auto live,
                   OpenLiveSecondary(options.data_dir, options.partition, options.scratch_dir));
  result.log_records = live->next_position();

  std::unique_ptr<ProjectionStore> live_store;
  uint64_t target = result.log_records;
  if (auto attached = ProjectionStore::Attach(live.get()); attached.ok()) {
    live_store = std::move(*attached);
    ASSIGN_OR_RETURN(const auto checkpoint, live_store->ReadCheckpoint());
    result.live_projections = checkpoint.next_position() > 0;
    target = std::min(target, checkpoint.next_position());
  }

  ASSIGN_OR_RETURN(auto fresh, OpenReplayStore(options.scratch_dir));
  ASSIGN_OR_RETURN(auto fresh_store, ProjectionStore::Attach(fresh.get()));
  ASSIGN_OR_RETURN(auto projector,
                   PartitionProjector::Create(live.get(), fresh_store.get(),
                                              {.partition = options.partition,
                                               .config = options.config}));
  RETURN_IF_ERROR(projector->CatchUp(target, stop, [&](const ProjectorStats&) {
    if (progress) progress(projector->next_position(), target);
  }));
  result.replayed_to = projector->next_position();
  result.stats = projector->stats();
  if (live_store == nullptr) {
    if (target > 0) {
      result.differences.push_back("the store has no live projections to compare with");
    }
    return result;
  }
  ASSIGN_OR_RETURN(result.differences,
                   ProjectionStore::Compare(*live_store, *fresh_store, options.max_differences));
  return result;
}

}  // namespace guanxi::engine
