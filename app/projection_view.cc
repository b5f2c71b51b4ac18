#include "app/projection_view.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/log/data_dir.h"
#include "engine/projection/replay.h"

namespace guanxi::app {
namespace {

absl::StatusOr<std::unique_ptr<engine::EventLog>> OpenSecondary(const std::string& data_dir,
                                                                int32_t partition,
                                                                const std::string& secondary_dir) {
  engine::EventLogOptions options{.mode = engine::OpenMode::kSecondary,
                                  .secondary_dir = secondary_dir};
  options.extra_column_families = engine::ProjectionStore::ColumnFamilies();
  return engine::EventLog::Open(engine::PartitionDir(data_dir, partition), options);
}

}  // namespace

absl::Status ProjectionView::ForEachEvent(
    std::string_view customer_id,
    const std::function<bool(const guanxi::v1::LogRecord&)>& visit) const {
  return log->ReadStream(customer_id, as_of, [&](const guanxi::v1::LogRecord& record) {
    // The stream is in position order: nothing after the first unprojected one counts.
    if (record.position() >= projected_to) return false;
    return visit(record);
  });
}

absl::StatusOr<std::optional<guanxi::v1::LogRecord>> ProjectionView::RecordAt(
    uint64_t position) const {
  std::optional<guanxi::v1::LogRecord> found;
  if (position >= log->next_position()) return found;
  RETURN_IF_ERROR(log->ReadRange(position, position + 1, [&](const guanxi::v1::LogRecord& r) {
    found = r;
    return false;
  }));
  return found;
}

absl::StatusOr<ProjectionView> OpenProjectionView(
    const ProjectionViewOptions& options, const std::atomic<bool>& stop,
    const std::function<void(uint64_t, uint64_t)>& progress) {
  ProjectionView view;
  view.partition = options.partition;
  view.as_of = options.as_of;
  if (options.as_of) {
    ASSIGN_OR_RETURN(engine::AsOfView rebuilt,
                     engine::RebuildAsOf({.data_dir = options.data_dir,
                                          .partition = options.partition,
                                          .scratch_dir = options.scratch_dir,
                                          .config = options.config},
                                         *options.as_of, stop, progress));
    view.log = std::move(rebuilt.log);
    view.fresh = std::move(rebuilt.fresh);
    view.store = std::move(rebuilt.store);
  } else {
    ASSIGN_OR_RETURN(view.log, OpenSecondary(options.data_dir, options.partition,
                                             absl::StrCat(options.scratch_dir, "/secondary")));
    auto attached = engine::ProjectionStore::Attach(view.log.get());
    if (!attached.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "partition ", options.partition,
          " has no live projections (its store was not written by `guanxi run`); --as-of "
          "recomputes them from the log"));
    }
    view.store = std::move(*attached);
  }
  ASSIGN_OR_RETURN(const guanxi::v1::ProjectionCheckpoint checkpoint, view.store->ReadCheckpoint());
  view.projected_to = checkpoint.next_position();
  return view;
}

absl::StatusOr<std::vector<int32_t>> PartitionsOfCustomer(const std::string& data_dir,
                                                          const std::vector<int32_t>& partitions,
                                                          std::string_view customer_id,
                                                          const std::string& scratch_dir) {
  std::vector<int32_t> holding;
  for (int32_t p : partitions) {
    ASSIGN_OR_RETURN(auto log, OpenSecondary(data_dir, p, absl::StrCat(scratch_dir, "/find-", p)));
    bool found = false;
    RETURN_IF_ERROR(log->ReadStream(customer_id, std::nullopt, [&](const guanxi::v1::LogRecord&) {
      found = true;
      return false;
    }));
    if (found) holding.push_back(p);
  }
  return holding;
}

}  // namespace guanxi::app
