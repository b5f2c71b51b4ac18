// The projections of one partition as a query reads them (the audit trail, the export,
// the HTTP API's trail), one of three ways:
//  - live, from a data directory: the partition's store opened as a RocksDB secondary,
//    so a running `guanxi run` is neither blocked nor disturbed (OpenProjectionView);
//  - live, inside the engine: the engine's own open store, read at a StoreSnapshot, so
//    the state, the facts and the checkpoint read are the ones one commit of the
//    projection worker left, however much it commits meanwhile (LiveProjectionView);
//  - as of an event time, recomputed from the log up to then in a scratch store
//    (engine::RebuildAsOf: events that occurred later are left out, never read back from
//    the current state), the log read from the store opened as a secondary
//    (OpenProjectionView with as_of; inside the engine too: a recomputation takes a
//    while, and holding the engine's own store that long would keep a revoked
//    partition's store open that long). It costs one pass over the partition's whole log.
//
//   ScratchDir scratch("guanxi_export");
//   ASSIGN_OR_RETURN(ProjectionView view,
//                    OpenProjectionView({.data_dir = data, .partition = 3,
//                                        .scratch_dir = scratch.path(), .config = config,
//                                        .as_of = as_of}, stop));
//   RETURN_IF_ERROR(view.store->ForEachState(...));
//
// A view is a fixed picture: what is appended or projected after it was opened is not
// seen. Lifetime: it keeps what it reads open (a view of the engine's own partition
// keeps it open even if it is revoked: hold one for one short query); files under
// scratch_dir must outlive it. Thread-safety: its reads may run concurrently.
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
#include "engine/partition/status.h"
#include "engine/partition/view.h"
#include "engine/storage/event_log.h"
#include "engine/storage/projection_store.h"
#include "google/protobuf/timestamp.pb.h"
#include "guanxi/v1/config.pb.h"
#include "guanxi/v1/log.pb.h"
#include "guanxi/v1/projection.pb.h"
#include "guanxi/v1/state.pb.h"

namespace guanxi::engine {

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
  // Declared in this order so that `snapshot` goes first, then `store`, then the logs.
  std::shared_ptr<const EventLog> log{};    // the partition's log: a secondary, or the engine's
  std::unique_ptr<const EventLog> fresh{};  // as of: the scratch store it was built in
  std::shared_ptr<const ProjectionStore> store{};
  // Inside the engine: the point of `log` (which is also `store`'s database) read at.
  std::shared_ptr<const StoreSnapshot> snapshot{};
  // The projections include exactly the log positions [0, projected_to): the live
  // checkpoint (the engine may have appended more since), or the log's length when the
  // view was recomputed.
  uint64_t projected_to = 0;

  // The customer's events that the projections include (position < projected_to and,
  // as of a time, occurred at or before it), from position `from` on, in position order,
  // until `visit` returns false.
  absl::Status ForEachEvent(std::string_view customer_id,
                            const std::function<bool(const guanxi::v1::LogRecord&)>& visit,
                            uint64_t from = 0) const;
  // Live: the customer's events in the log that the projections do not include yet; 0 as
  // of a time.
  absl::StatusOr<uint64_t> UnprojectedEvents(std::string_view customer_id) const;
  // The customer's derived facts from position `from` on, in (position, index) order.
  absl::Status ForEachFact(
      std::string_view customer_id,
      const std::function<bool(uint64_t position, const guanxi::v1::DerivedFact&)>& visit,
      uint64_t from = 0) const;
  // The customer's state; false if the customer has none.
  absl::StatusOr<bool> GetState(std::string_view customer_id,
                                guanxi::v1::CustomerState* state) const;
  // The record at `position`, or nullopt at or past projected_to (as of a time: the
  // as-of time itself, where the timers due by then fired).
  absl::StatusOr<std::optional<guanxi::v1::LogRecord>> RecordAt(uint64_t position) const;
};

// From a data directory. FailedPrecondition when the live store has no projections (it
// was not written by `guanxi run`); Cancelled when `stop` was set while recomputing.
// `progress(applied, total)` is called while recomputing.
absl::StatusOr<ProjectionView> OpenProjectionView(
    const ProjectionViewOptions& options, const std::atomic<bool>& stop,
    const std::function<void(uint64_t applied, uint64_t total)>& progress = nullptr);

// Inside the engine: the partition's live projections at a snapshot taken now.
absl::StatusOr<ProjectionView> LiveProjectionView(const PartitionView& partition);

// Whether the log's per-customer stream index holds `customer_id` (Kafka keys events by
// customer, so one partition's log holds all of a customer's events).
absl::StatusOr<bool> HoldsCustomer(const EventLog& log, std::string_view customer_id);

// The partitions under `data_dir` whose log holds `customer_id` (normally exactly one),
// each opened as a secondary with its own directory under `scratch_dir`.
absl::StatusOr<std::vector<int32_t>> PartitionsOfCustomer(const std::string& data_dir,
                                                          const std::vector<int32_t>& partitions,
                                                          std::string_view customer_id,
                                                          const std::string& scratch_dir);

}  // namespace guanxi::engine
