// The projection of one partition: applies the partition's log, in position order, to
// its customers' projections (projections/projection.h), and commits the states, the
// inactivity timers, the derived facts, the outbox entries and the checkpoint in one
// WriteBatch per chunk of records (engine/storage/projection_store.h).
//
//   ASSIGN_OR_RETURN(auto projector, PartitionProjector::Create(log, store, options));
//   RETURN_IF_ERROR(projector->CatchUp(log->next_position(), stop));
//
// Everything it derives is a function of the log alone: event time (occurred_at, tick
// and model records), never the wall clock; the chunking of commits changes nothing. So
// a replay into an empty store reproduces the live store key for key
// (ProjectionStore::Compare), which `guanxi replay` checks.
//
// Time: the partition's clock is a watermark: the earliest of its active sources' latest
// event times (source_clock.h), or a tick's time when later. When it advances, every
// timer due at or before it fires, in (deadline, customer) order, at its own deadline,
// before the record that advanced the clock is applied; and before an event is applied,
// its customer's own timers due by the event's time fire, whatever the clock.
//
// Models: a model record comes into force at its position, and every customer of the
// partition is reclassified under it: all at once there (a record without
// reclassify_per_record, as every log before it held), or a few customers after each
// record from there on, in customer-id order, where a customer about to change (an event,
// a timer) is reclassified first; a tick, the next model record or the next refit's due
// time finishes the pass (docs/architecture.md, "Reclassifying a partition").
//
// Thread-compatible: one thread per projector. The log may be appended to meanwhile.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/storage/event_log.h"
#include "engine/storage/projection_store.h"
#include "engine/projection/model_fitter.h"
#include "engine/trace/stage_tracer.h"
#include "engine/projection/state_cache.h"
#include "engine/projection/timer_queue.h"
#include "guanxi/v1/config.pb.h"
#include "guanxi/v1/log.pb.h"
#include "guanxi/v1/projection.pb.h"
#include "projections/projection.h"

namespace guanxi::engine {

struct ProjectorOptions {
  int32_t partition = 0;
  guanxi::v1::EngineConfig config{};  // validated
  // Records applied per commit, at most; 0: workers.commit_records of `config`.
  size_t chunk = 0;
  // Live only (null in replay): where the partition's model records go (its writer).
  // When the partition's event time says a refit is due (projections::RefitDue), the
  // projector gathers its customers' figures at the record P that made it due, announces
  // the model at position P + 1 + kModelLandingDistance, and fits the population models
  // (inline, or on `fitter`); the record goes to the sink, which lands it there (or
  // earlier, at the log's end, when the partition runs out of input first). It takes
  // effect when the projector reaches it in the log, like any record.
  std::shared_ptr<ModelSink> models{};
  // An as-of view (audit, export, model fit): records whose event time is after `until`
  // (events that occurred later, later ticks, models fitted later) are passed over as if
  // they were not in the log. Call FinishAt(until) after the last CatchUp.
  std::optional<google::protobuf::Timestamp> until{};
  // The byte budget of the customer-state cache, shared by every partition of a process
  // (StateCache); null: a budget of the projector's own, workers.state_cache_bytes.
  std::shared_ptr<StateCacheBudget> state_cache{};
  // Live: a commit also after this much wall time of applying (workers.commit_interval_ms),
  // so a backlog does not hold back what the first records derived. Zero: records only
  // (replay, audit and the benchmarks' instruction counts stay independent of timing).
  // Where commits fall changes nothing the projector derives.
  std::chrono::milliseconds commit_interval{0};
  // Live: where refits run (off this projector's thread); null: inline, on this thread
  // (the benchmarks' instruction counts, tests). Must outlive the projector.
  ModelFitter* fitter = nullptr;
  // Follows traced events (projected, committed); must outlive the projector.
  StageTracer* tracer = nullptr;
  // Live: the partition's outbox holds at most about this many entries
  // (workers.outbox_max_entries; it passes it by what one record derives). At it,
  // CatchUp commits, then applies nothing more until the outbox publisher deleted some
  // (ProjectionStore::outbox_start), checking `stop` meanwhile; the partition's writer,
  // kept within kModelLandingDistance of it, and then its consumer wait too. 0: no cap
  // (replay, audit: nobody publishes their outbox).
  uint64_t outbox_max_entries = 0;
  // How many of the earliest timers the projector holds in memory (TimerQueue); tests
  // make it small to read the rest from the store often.
  size_t timers_in_memory = TimerQueue::kDefaultWindow;
};

struct ProjectorStats {
  uint64_t records = 0;   // log records applied
  uint64_t events = 0;
  uint64_t timers = 0;    // timers fired
  uint64_t facts = 0;     // derived facts written (warning notices included)
  uint64_t warnings = 0;  // churn-warning notices
  uint64_t commits = 0;
  uint64_t read_from_log = 0;  // records read back from the log (not handed over in memory)
  uint64_t reclassified = 0;   // customers reclassified under a new model
};

class PartitionProjector {
 public:
  // `log` is read (it may be a different store than `store`'s: replay reads the live log
  // into a fresh store); both must outlive the projector. Resumes from the store's
  // checkpoint.
  static absl::StatusOr<std::unique_ptr<PartitionProjector>> Create(const EventLog* log,
                                                                    ProjectionStore* store,
                                                                    ProjectorOptions options);

  // Applies the records [next_position(), to) of the log, committing every `chunk`
  // records or workers.commit_interval_ms of applying, whichever comes first, until done
  // or `stop` is set (then at a commit). `progress`, if set, is called after each commit.
  // `appended`, if set, holds records as the partition's writer appended them, in
  // position order (a ProjectionWorker's hand-over): those at the position to apply next
  // are applied from there instead of being read back from the log, and consumed; those
  // below it are dropped. Either way the same records are applied.
  // `decided`, if set, is called with a position through which every refit is decided
  // (asked for, or known not due): every 64 records and after each commit, so a writer
  // learns early that no model can land below it (Partition::Room).
  absl::Status CatchUp(uint64_t to, const std::atomic<bool>& stop,
                       const std::function<void(const ProjectorStats&)>& progress = nullptr,
                       std::deque<guanxi::v1::LogRecord>* appended = nullptr,
                       const std::function<void(uint64_t)>& decided = nullptr);

  // Lets event time reach `t`: fires the timers due by then, at log position
  // next_position() (the end of what was applied), and commits.
  absl::Status FinishAt(const google::protobuf::Timestamp& t);

  // How many records after the one that made a refit due its model record lands, at
  // the latest: a function of the log, so the same input gives the same log. The writer
  // stays at most this far ahead of what the projector applied (it waits).
  static constexpr uint64_t kModelLandingDistance = 1024;

  uint64_t next_position() const { return checkpoint_.next_position(); }
  // The partition's event time (Unix seconds; 0 before the first event).
  int64_t clock_seconds() const { return checkpoint_.clock().seconds(); }
  const guanxi::v1::ProjectionCheckpoint& checkpoint() const { return checkpoint_; }
  const ProjectorStats& stats() const { return stats_; }
  const StateCache& state_cache() const { return cache_; }
  // Whether CatchUp waits for the outbox to drain below its cap. Thread-safe.
  bool waiting_for_outbox() const { return waiting_for_outbox_.load(); }
  // Whether, as of the last commit, the model in force was still reclassifying the
  // customers a few at a time (a tick finishes it: Partition::FinishReclassifying).
  // Thread-safe.
  bool reclassifying() const { return reclassifying_.load(); }

 private:
  PartitionProjector(const EventLog* log, ProjectionStore* store, ProjectorOptions options);
  // A store written before the states held their timer's deadline: puts each armed
  // timer's deadline into its customer's state, and commits (once per store).
  absl::Status MoveTimersIntoStates();
  absl::Status Apply(const guanxi::v1::LogRecord& record);
  // Applies log records [from, to) read back from the log, until `deadline`; returns the
  // position reached.
  absl::StatusOr<uint64_t> ApplyFromLog(uint64_t from, uint64_t to,
                                        std::chrono::steady_clock::time_point deadline,
                                        const std::function<void(uint64_t)>& decided);
  // Whether the record's event time is after options_.until.
  bool After(const guanxi::v1::LogRecord& record) const;
  absl::Status ApplyModel(const guanxi::v1::LogRecord& record);
  // Whether the model in force is reclassifying the customers a few at a time.
  bool Reclassifying() const { return checkpoint_.has_reclassify(); }
  // After each record while Reclassifying(): the next reclassify_per_record customers, or
  // all the others after a tick or once the next refit is due.
  absl::Status ContinueReclassifying(const guanxi::v1::LogRecord& record);
  // Reclassifies the rest of the pass now (committing as it goes: a projector that stops
  // on the way finishes it when it opens), and ends it.
  absl::Status FinishReclassifying();
  // Reclassifies under the model in force, at log position `model_position`, the
  // customers after `after` in id order (all, or `limit` visited), skipping those done
  // already when `marked` (and marking the others). With commit_every > 0, commits every
  // that many customers, first setting the pass's cursor when `marked`. Returns the last
  // customer visited, or nullopt when it reached the end.
  absl::StatusOr<std::optional<std::string>> ReclassifyCustomers(uint64_t model_position,
                                                                 std::string after,
                                                                 size_t limit, bool marked,
                                                                 size_t commit_every);
  // OnModel for one customer, facts at `model_position`; marks it when `marked`.
  void ReclassifyCustomer(guanxi::v1::CustomerState& state, uint64_t model_position, bool marked);
  // An erasure (Erasure event): clears the personal fields of the customer's state
  // (none if the customer has no state); no score, stage, class or clock moves. The
  // store is purged of the earlier versions after the next commit (PurgeErased).
  absl::Status ApplyErasure(const guanxi::v1::Event& event);
  // Advances the clock to `t` (if later) and fires the timers due by then.
  absl::Status AdvanceClock(const google::protobuf::Timestamp& t, uint64_t position);
  // Fires `customer`'s timer armed for `deadline` (a copy: firing re-arms it), at log
  // position `position`.
  absl::Status FireTimer(int64_t deadline, const std::string& customer, uint64_t position);
  // The customer's state as of the pending batch (loaded from the store on a cache miss),
  // to be changed: it is written back at the next commit. While a model's pass is going,
  // a customer it has not reached yet is reclassified first (`reclassified` says so).
  absl::StatusOr<guanxi::v1::CustomerState*> Touch(const std::string& customer_id,
                                                   bool* reclassified = nullptr);
  // Records what one application derived and re-arms the customer's timer (not before
  // `earliest_timer`, Unix seconds). Facts are numbered per (customer, position).
  void Record(guanxi::v1::CustomerState& state, projections::Derived derived, uint64_t position,
              int64_t earliest_timer = INT64_MIN);
  absl::Status Commit();
  // Whether CatchUp commits before the next record: a refit is due, the outbox is full,
  // or a chunk's worth of states is dirty (a pass adds states to what records change).
  bool CommitWanted() const;
  // Whether the outbox holds outbox_max_entries or more (never without a cap).
  bool OutboxFull() const;
  // While OutboxFull() and not `stop`: waits (waiting_for_outbox()).
  void AwaitOutboxRoom(const std::atomic<bool>& stop);
  // Live: whether a model record is due (checked after every record, so the fit is over
  // the states as of the record that made it due, wherever the commits fall).
  bool RefitWanted() const;
  // Live: asks for a model record when one is due, and writes the refit bookkeeping.
  absl::Status MaybeRefit();
  // Live, at start: asks again for the model a pending refit awaits (unless it is in the
  // log already), or decides the refit a crash interrupted.
  absl::Status ResumeRefit();
  // Whether the log holds the model record fitted at `as_of` in [from, to) (one not
  // applied yet).
  absl::StatusOr<bool> ModelLogged(uint64_t from, uint64_t to,
                                   const google::protobuf::Timestamp& as_of) const;
  // Announces the model to the sink and fits it (on the fitter, or inline).
  void Request(FitRequest request);

  const EventLog* log_;
  // The log's next position when this projector opened (ModelLogged).
  uint64_t opened_at_ = 0;
  ProjectionStore* store_;
  ProjectorOptions options_;
  projections::CustomerProjection projection_;
  guanxi::v1::ProjectionCheckpoint checkpoint_;
  ProjectorStats stats_;

  // Customer states: those touched since the last commit (dirty) and those kept from
  // before (clean), bounded by the budget.
  StateCache cache_;
  ProjectionStore::Batch batch_;
  // Customers erased since the last commit: purged from the store after it.
  std::vector<std::string> erased_;
  std::chrono::steady_clock::duration commit_interval_;
  // The armed timers (each customer's deadline is also in its state).
  TimerQueue timers_;
  // The as_of of the latest model record asked for and not yet applied (refits are due
  // model_refit_days after it, so they keep their pace in event time however long each
  // takes to land). The refit bookkeeping as stored (next check, pending refits) and
  // whether it changed since (written at the next commit).
  std::optional<google::protobuf::Timestamp> requested_as_of_;
  guanxi::v1::RefitSchedule schedule_;
  bool schedule_dirty_ = false;
  // Traced events applied since the last commit: (customer_id, event_id).
  std::vector<std::pair<std::string, std::string>> traced_;
  // Facts numbered per (customer, position).
  uint64_t fact_position_ = 0;
  std::unordered_map<std::string, uint32_t> fact_index_;
  std::atomic<bool> waiting_for_outbox_{false};
  std::atomic<bool> reclassifying_{false};
};

}  // namespace guanxi::engine
