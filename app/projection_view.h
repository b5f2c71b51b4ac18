// The projections of one partition as `guanxi audit trail` and `guanxi export` read
// them: either the live ones, from the partition's store opened as a RocksDB secondary
// (a running `guanxi run` is neither blocked nor disturbed), or, with an as-of time,
// recomputed from the log up to that event time in a scratch store
// (engine::RebuildAsOf: events that occurred later are left out, never read back from
// the current state).
//
//   ScratchDir scratch("guanxi_export");
//   ASSIGN_OR_RETURN(ProjectionView view,
//                    OpenProjectionView({.data_dir = data, .partition = 3,
//                                        .scratch_dir = scratch.path(), .config = config,
//                                        .as_of = as_of}, stop));
//   RETURN_IF_ERROR(view.store->ForEachState(...));
//
// Lifetime: the view keeps files under scratch_dir, which must outlive it. A view is a
// fixed picture: appends made after it was opened are not seen. Not thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/log/event_log.h"
#include "engine/log/projection_store.h"
#include "google/protobuf/timestamp.pb.h"
#include "guanxi/v1/config.pb.h"
#include "guanxi/v1/log.pb.h"

namespace guanxi::app {

struct ProjectionViewOptions {
  std::string data_dir{};
  int32_t partition = 0;
  std::string scratch_dir{};          // an empty directory of the view's own
  guanxi::v1::EngineConfig config{};  // validated; used only to recompute (as_of set)
  // Unset: the live projections. Set: recomputed from the log as of this event time.
  std::optional<google::protobuf::Timestamp> as_of{};
};

struct ProjectionView {
  int32_t partition = 0;
  std::optional<google::protobuf::Timestamp> as_of{};
  // Declared in this order so that `store` goes before the logs it reads.
  std::unique_ptr<engine::EventLog> log{};    // the partition's log, a secondary
  std::unique_ptr<engine::EventLog> fresh{};  // as-of: the scratch store it was built in
  std::unique_ptr<engine::ProjectionStore> store{};
  // The projections include exactly the log positions [0, projected_to): the live
  // checkpoint (the engine may have appended more since), or the log's length when the
  // view was recomputed.
  uint64_t projected_to = 0;

  // The customer's events that the projections include (position < projected_to and,
  // as of a time, occurred at or before it), in position order, until `visit` returns
  // false.
  absl::Status ForEachEvent(std::string_view customer_id,
                            const std::function<bool(const guanxi::v1::LogRecord&)>& visit) const;
  // The record at `position`, or nullopt past the end of the log.
  absl::StatusOr<std::optional<guanxi::v1::LogRecord>> RecordAt(uint64_t position) const;
};

// FailedPrecondition when the live store has no projections (it was not written by
// `guanxi run`); Cancelled when `stop` was set while recomputing. `progress(applied,
// total)` is called while recomputing.
absl::StatusOr<ProjectionView> OpenProjectionView(
    const ProjectionViewOptions& options, const std::atomic<bool>& stop,
    const std::function<void(uint64_t applied, uint64_t total)>& progress = nullptr);

// The partitions under `data_dir` whose stream index holds `customer_id` (Kafka keys
// events by customer, so normally exactly one), each opened as a secondary with its
// own directory under `scratch_dir`.
absl::StatusOr<std::vector<int32_t>> PartitionsOfCustomer(const std::string& data_dir,
                                                          const std::vector<int32_t>& partitions,
                                                          std::string_view customer_id,
                                                          const std::string& scratch_dir);

}  // namespace guanxi::app
