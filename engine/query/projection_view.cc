#include "engine/query/projection_view.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/storage/data_dir.h"
#include "engine/projection/replay.h"

namespace guanxi::engine {
namespace {

absl::StatusOr<std::unique_ptr<EventLog>> OpenSecondary(const std::string& data_dir,
                                                        int32_t partition,
                                                        const std::string& secondary_dir) {
  EventLogOptions options{.mode = OpenMode::kSecondary, .secondary_dir = secondary_dir};
  options.extra_column_families = ProjectionStore::ColumnFamilies();
  return EventLog::Open(PartitionDir(data_dir, partition), options);
}

}  // namespace

absl::Status ProjectionView::ForEachEvent(
    std::string_view customer_id,
    const std::function<bool(const guanxi::v1::LogRecord&)>& visit, uint64_t from) const {
  return log->ReadStream(
      customer_id, as_of,
      [&](const guanxi::v1::LogRecord& record) {
        // The stream is in position order: nothing after the first unprojected one counts.
        if (record.position() >= projected_to) return false;
        return visit(record);
      },
      snapshot.get(), from);
}

absl::StatusOr<uint64_t> ProjectionView::UnprojectedEvents(std::string_view customer_id) const {
  uint64_t unprojected = 0;
  if (as_of) return unprojected;
  RETURN_IF_ERROR(log->ReadStream(
      customer_id, std::nullopt,
      [&](const guanxi::v1::LogRecord&) {
        ++unprojected;
        return true;
      },
      snapshot.get(), projected_to));
  return unprojected;
}

absl::Status ProjectionView::ForEachFact(
    std::string_view customer_id,
    const std::function<bool(uint64_t, const guanxi::v1::DerivedFact&)>& visit,
    uint64_t from) const {
  return store->ForEachFact(customer_id, visit, snapshot.get(), from);
}

absl::StatusOr<bool> ProjectionView::GetState(std::string_view customer_id,
                                              guanxi::v1::CustomerState* state) const {
  return store->GetState(customer_id, state, snapshot.get());
}

absl::StatusOr<std::optional<guanxi::v1::LogRecord>> ProjectionView::RecordAt(
    uint64_t position) const {
  std::optional<guanxi::v1::LogRecord> found;
  if (position >= projected_to) return found;
  RETURN_IF_ERROR(log->ReadRange(
      position, position + 1,
      [&](const guanxi::v1::LogRecord& r) {
        found = r;
        return false;
      },
      snapshot.get()));
  return found;
}

absl::StatusOr<ProjectionView> OpenProjectionView(
    const ProjectionViewOptions& options, const std::atomic<bool>& stop,
    const std::function<void(uint64_t, uint64_t)>& progress) {
  ProjectionView view;
  view.partition = options.partition;
  view.as_of = options.as_of;
  if (options.as_of) {
    ASSIGN_OR_RETURN(AsOfView rebuilt, RebuildAsOf({.data_dir = options.data_dir,
                                                    .partition = options.partition,
                                                    .scratch_dir = options.scratch_dir,
                                                    .config = options.config},
                                                   *options.as_of, stop, progress));
    view.log = std::move(rebuilt.log);
    view.fresh = std::move(rebuilt.fresh);
    view.store = std::move(rebuilt.store);
    ASSIGN_OR_RETURN(const guanxi::v1::ProjectionCheckpoint checkpoint,
                     view.store->ReadCheckpoint());
    view.projected_to = checkpoint.next_position();
    return view;
  }
  ASSIGN_OR_RETURN(std::unique_ptr<EventLog> secondary,
                   OpenSecondary(options.data_dir, options.partition,
                                 absl::StrCat(options.scratch_dir, "/secondary")));
  auto attached = ProjectionStore::Attach(secondary.get());
  if (!attached.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "partition ", options.partition,
        " has no live projections (its store was not written by `guanxi run`); --as-of "
        "recomputes them from the log"));
  }
  view.log = std::move(secondary);
  view.store = std::move(*attached);
  ASSIGN_OR_RETURN(const guanxi::v1::ProjectionCheckpoint checkpoint, view.store->ReadCheckpoint());
  view.projected_to = checkpoint.next_position();
  return view;
}

absl::StatusOr<ProjectionView> LiveProjectionView(const PartitionView& partition) {
  ProjectionView view;
  view.partition = partition.partition;
  view.log = partition.log;
  view.store = partition.store;
  view.snapshot = partition.log->TakeSnapshot();
  ASSIGN_OR_RETURN(const guanxi::v1::ProjectionCheckpoint checkpoint,
                   view.store->ReadCheckpoint(view.snapshot.get()));
  view.projected_to = checkpoint.next_position();
  return view;
}

absl::StatusOr<bool> HoldsCustomer(const EventLog& log, std::string_view customer_id) {
  bool found = false;
  RETURN_IF_ERROR(log.ReadStream(customer_id, std::nullopt, [&](const guanxi::v1::LogRecord&) {
    found = true;
    return false;
  }));
  return found;
}

absl::StatusOr<std::vector<int32_t>> PartitionsOfCustomer(const std::string& data_dir,
                                                          const std::vector<int32_t>& partitions,
                                                          std::string_view customer_id,
                                                          const std::string& scratch_dir) {
  std::vector<int32_t> holding;
  for (int32_t p : partitions) {
    ASSIGN_OR_RETURN(auto log, OpenSecondary(data_dir, p, absl::StrCat(scratch_dir, "/find-", p)));
    ASSIGN_OR_RETURN(const bool found, HoldsCustomer(*log, customer_id));
    if (found) holding.push_back(p);
  }
  return holding;
}

}  // namespace guanxi::engine
