#include "engine/projection/projector.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "engine/projection/source_clock.h"
#include "engine/storage/personal_fields.h"
#include "projections/population.h"

namespace guanxi::engine {
namespace {

using google::protobuf::Timestamp;

bool Before(const Timestamp& a, const Timestamp& b) {
  return a.seconds() < b.seconds() || (a.seconds() == b.seconds() && a.nanos() < b.nanos());
}

// Whether the customer was reclassified under the model at `model_position` already.
bool ReclassifiedUnder(const guanxi::v1::CustomerState& state, uint64_t model_position) {
  return state.has_reclassified_under() && state.reclassified_under() == model_position;
}

Timestamp AtSeconds(int64_t seconds) {
  Timestamp t;
  t.set_seconds(seconds);
  return t;
}

}  // namespace

PartitionProjector::PartitionProjector(const EventLog* log, ProjectionStore* store,
                                       ProjectorOptions options)
    : log_(log),
      store_(store),
      options_(std::move(options)),
      projection_(options_.config),
      cache_(options_.state_cache, options_.config.workers().state_cache_bytes()),
      commit_interval_(options_.commit_interval > std::chrono::milliseconds::zero()
                           ? std::chrono::steady_clock::duration(options_.commit_interval)
                           : std::chrono::steady_clock::duration::max()),
      timers_(store, options_.timers_in_memory) {
  if (options_.chunk == 0) {
    options_.chunk = static_cast<size_t>(options_.config.workers().commit_records());
  }
  if (options_.chunk == 0) options_.chunk = 2000;  // a config not from DefaultEngineConfig
}

absl::StatusOr<std::unique_ptr<PartitionProjector>> PartitionProjector::Create(
    const EventLog* log, ProjectionStore* store, ProjectorOptions options) {
  std::unique_ptr<PartitionProjector> projector(
      new PartitionProjector(log, store, std::move(options)));
  projector->opened_at_ = log->next_position();
  ASSIGN_OR_RETURN(projector->checkpoint_, store->ReadCheckpoint());
  if (!projector->checkpoint_.timers_in_states()) {
    RETURN_IF_ERROR(projector->MoveTimersIntoStates());
  }
  if (projector->checkpoint_.reclassify().finishing()) {
    // It stopped on the way through a pass it was finishing before the next record.
    RETURN_IF_ERROR(projector->FinishReclassifying());
    RETURN_IF_ERROR(projector->Commit());
  }
  projector->reclassifying_ = projector->Reclassifying();
  if (projector->options_.models) {
    ASSIGN_OR_RETURN(projector->schedule_, store->ReadRefitSchedule());
    RETURN_IF_ERROR(projector->ResumeRefit());
  }
  return projector;
}

absl::Status PartitionProjector::MoveTimersIntoStates() {
  // Rerun from the start if interrupted: it only sets what the timers say.
  absl::Status status;
  bool any = false;
  RETURN_IF_ERROR(store_->ForEachTimer([&](int64_t deadline, std::string_view customer) {
    any = true;
    guanxi::v1::CustomerState state;
    absl::StatusOr<bool> found = store_->GetState(customer, &state);
    if (!found.ok()) status = found.status();
    if (!status.ok()) return false;
    if (!*found) return true;  // nothing to look at when it fires
    state.set_timer_deadline_seconds(deadline);
    batch_.PutState(state);
    if (batch_.writes() >= options_.chunk) status = store_->Commit(batch_);
    return status.ok();
  }));
  RETURN_IF_ERROR(status);
  checkpoint_.set_timers_in_states(true);  // a new store: written by its first commit
  return any ? Commit() : absl::OkStatus();
}

absl::Status PartitionProjector::CatchUp(
    uint64_t to, const std::atomic<bool>& stop,
    const std::function<void(const ProjectorStats&)>& progress,
    std::deque<guanxi::v1::LogRecord>* appended,
    const std::function<void(uint64_t)>& decided) {
  while (next_position() < to && !stop.load()) {
    AwaitOutboxRoom(stop);
    if (stop.load()) break;
    const uint64_t from = next_position();
    const uint64_t end = std::min<uint64_t>(to, from + options_.chunk);
    const auto started = std::chrono::steady_clock::now();
    const auto deadline = commit_interval_ == std::chrono::steady_clock::duration::max()
                              ? std::chrono::steady_clock::time_point::max()
                              : started + commit_interval_;
    while (appended && !appended->empty() && appended->front().position() < from) {
      appended->pop_front();
    }
    if (appended && !appended->empty() && appended->front().position() == from) {
      // Handed over in memory: exactly the records the log holds at these positions.
      uint32_t n = 0;
      while (!appended->empty() && next_position() < end &&
             appended->front().position() == next_position()) {
        RETURN_IF_ERROR(Apply(appended->front()));
        appended->pop_front();
        if (CommitWanted()) break;
        if ((++n & 63) == 0) {
          if (decided) decided(next_position());
          if (std::chrono::steady_clock::now() >= deadline) break;
        }
      }
    } else {
      const uint64_t read_to = appended && !appended->empty()
                                   ? std::min<uint64_t>(end, appended->front().position())
                                   : end;
      RETURN_IF_ERROR(ApplyFromLog(from, read_to, deadline, decided).status());
    }
    RETURN_IF_ERROR(Commit());
    // A model asked for is handed over before the commit is reported: whoever waits for
    // the commit then finds the model waiting to be appended too.
    RETURN_IF_ERROR(MaybeRefit());
    if (decided) decided(next_position());
    if (progress) progress(stats_);
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> PartitionProjector::ApplyFromLog(
    uint64_t from, uint64_t to, std::chrono::steady_clock::time_point deadline,
    const std::function<void(uint64_t)>& decided) {
  absl::Status applied;
  uint64_t expected = from;
  bool stopped_early = false;
  RETURN_IF_ERROR(log_->ReadRange(from, to, [&](const guanxi::v1::LogRecord& record) {
    if (record.position() != expected) {
      applied = absl::DataLossError(absl::StrCat("partition ", options_.partition,
                                                 ": expected log position ", expected,
                                                 ", read ", record.position()));
      return false;
    }
    applied = Apply(record);
    ++expected;
    ++stats_.read_from_log;
    if (!applied.ok()) return false;
    if (CommitWanted()) {
      stopped_early = true;
      return false;
    }
    if (((expected - from) & 63) == 0) {
      if (decided) decided(expected);
      if (std::chrono::steady_clock::now() >= deadline) {
        stopped_early = true;
        return false;
      }
    }
    return true;
  }));
  RETURN_IF_ERROR(applied);
  if (expected != to && !stopped_early) {
    return absl::DataLossError(absl::StrCat("partition ", options_.partition, ": log positions ",
                                            expected, "..", to - 1, " are missing"));
  }
  return expected;
}

bool PartitionProjector::CommitWanted() const {
  return RefitWanted() || OutboxFull() || cache_.dirty() >= options_.chunk;
}

bool PartitionProjector::OutboxFull() const {
  const uint64_t cap = options_.outbox_max_entries;
  if (cap == 0) return false;
  const uint64_t next = checkpoint_.next_outbox_sequence();
  const uint64_t start = store_->outbox_start();
  return next > start && next - start >= cap;
}

void PartitionProjector::AwaitOutboxRoom(const std::atomic<bool>& stop) {
  if (!OutboxFull()) return;
  // Everything derived so far is committed (CatchUp commits before it comes here), so
  // the publisher can deliver it and move the start.
  waiting_for_outbox_ = true;
  while (OutboxFull() && !stop.load()) {
    store_->AwaitOutboxStart(
        checkpoint_.next_outbox_sequence() - options_.outbox_max_entries + 1,
        absl::Milliseconds(100));
  }
  waiting_for_outbox_ = false;
}

bool PartitionProjector::RefitWanted() const {
  if (!options_.models) return false;
  if (clock_seconds() < schedule_.next_check_seconds()) return false;
  // Due after the latest model asked for, applied or not (none: the model in force).
  const google::protobuf::Timestamp* last = nullptr;
  if (requested_as_of_) {
    last = &*requested_as_of_;
  } else if (checkpoint_.has_model()) {
    last = &checkpoint_.model().as_of();
  }
  return projections::RefitDueSince(options_.config.classification(), last, checkpoint_.clock());
}

absl::Status PartitionProjector::MaybeRefit() {
  if (!RefitWanted()) return absl::OkStatus();
  const auto& config = options_.config.classification();
  // At most one try per day of event time, fitted or not (a population too small to fit
  // stays too small for a while).
  schedule_.set_next_check_seconds(clock_seconds() + 86400);
  // The compact figures of the customers with a purchase, as of the clock: all a fit
  // reads. The store holds every state as of now (this runs after a commit).
  FitRequest request{.partition = options_.partition,
                     .config = config,
                     .as_of = checkpoint_.clock(),
                     .land_at = next_position() + kModelLandingDistance,
                     .sink = options_.models};
  // A bounded sample of them (the same customers every time), past max_fit_sample; and
  // the churn risk's calibration, the customers whose snapshot is a horizon old.
  const auto& churn = options_.config.churn();
  projections::FitSample sample(config.max_fit_sample());
  projections::LowestHashSample<projections::RiskExample> risk(config.max_fit_sample());
  // With nothing dirty (this runs after a commit) a cached state is the stored one: read
  // from the cache, not parsed again.
  const bool committed = cache_.dirty() == 0;
  RETURN_IF_ERROR(store_->ForEachCustomer(
      [&](const std::string& id) { return committed && cache_.Peek(id) != nullptr; },
      [&](const std::string& id, const guanxi::v1::CustomerState* stored) {
        const guanxi::v1::CustomerState& state = stored != nullptr ? *stored : *cache_.Peek(id);
        ++request.population;
        if (auto figures = projections::FitFiguresOf(state, request.as_of)) {
          sample.Add(state.customer_id(), *figures);
        }
        if (auto example = projections::RiskExampleOf(churn, state, request.as_of)) {
          risk.Add(state.customer_id(), *example);
        }
        return true;
      }));
  if (sample.sampled()) request.purchasers = sample.offered();
  request.figures = std::move(sample).Take();
  request.risk_examples = std::move(risk).Take();
  request.risk_horizon_days = churn.risk_horizon_days();
  if (checkpoint_.has_model() && checkpoint_.model().has_churn_risk()) {
    request.previous_risk = checkpoint_.model().churn_risk();
  }
  // Only a certified fit as the start: from an uncertified one (a flat likelihood) BFGS
  // would not converge either, and the fixed start points would follow it.
  if (checkpoint_.has_model() && checkpoint_.model().bgnbd().converged()) {
    request.previous_bgnbd = checkpoint_.model().bgnbd();
  }
  // Too few to fit anything (FitPopulation would set no model): try again a day later.
  const bool fit = static_cast<int64_t>(request.figures.size()) >= config.min_population();
  // A restart that re-applies the record that made the refit due finds its model in the
  // log already, when the run before landed it: applied when reached, not asked again.
  bool logged = false;
  if (fit) {
    // The records since the refit before was due pace this model's reclassification.
    const uint64_t since = schedule_.last_due_position();
    request.interval_records = next_position() > since ? next_position() - since : 0;
    schedule_.set_last_due_position(next_position());
    requested_as_of_ = request.as_of;
    ASSIGN_OR_RETURN(logged, ModelLogged(next_position(), request.land_at + 1, request.as_of));
    if (!logged) *schedule_.add_pending() = PendingRefitOf(request);
  }
  // Stored now, not at the next commit: the checkpoint is already past the record that
  // made the refit due (this runs after the commit), and a restart from it must find
  // the refit decided. A crash before this write decides it again (ResumeRefit).
  ProjectionStore::Batch batch;
  batch.PutRefitSchedule(schedule_);
  RETURN_IF_ERROR(store_->Commit(batch));
  if (fit && !logged) Request(std::move(request));
  return absl::OkStatus();
}

absl::Status PartitionProjector::ResumeRefit() {
  // Every refit asked for whose model is neither applied nor in the log yet, in order;
  // then the one a crash may have interrupted the deciding of.
  for (const guanxi::v1::PendingRefit& pending : schedule_.pending()) {
    const int n = pending.recency_days_size();
    if (pending.frequency_size() != n || pending.monetary_minor_size() != n ||
        pending.x_size() != n || pending.t_x_size() != n || pending.big_t_size() != n ||
        pending.risk_features_size() != pending.risk_churned_size() * projections::kRiskFeatures) {
      return absl::DataLossError(absl::StrCat("partition ", options_.partition,
                                              ": the pending refit's figure columns differ in "
                                              "length"));
    }
    requested_as_of_ = pending.as_of();
    ASSIGN_OR_RETURN(const bool logged,
                     ModelLogged(next_position(), pending.land_at() + 1, pending.as_of()));
    if (!logged) {
      Request(FitRequestOf(pending, options_.partition, options_.config.classification(),
                           options_.models));
    }
  }
  return MaybeRefit();
}

absl::StatusOr<bool> PartitionProjector::ModelLogged(
    uint64_t from, uint64_t to, const google::protobuf::Timestamp& as_of) const {
  // Only a run before this projector can have landed it: this one asks for each as_of
  // once, and later ones each later (RefitWanted), so what was appended since it opened
  // holds no model for `as_of` that it did not ask for after this check. Live, the
  // range is empty and nothing is read (it was a parse of up to kModelLandingDistance
  // records at each refit).
  to = std::min(to, opened_at_);
  bool found = false;
  if (from >= to) return found;
  RETURN_IF_ERROR(log_->ReadRange(from, to, [&](const guanxi::v1::LogRecord& record) {
    found = record.has_model() && record.model().as_of().seconds() == as_of.seconds() &&
            record.model().as_of().nanos() == as_of.nanos();
    return !found;
  }));
  return found;
}

void PartitionProjector::Request(FitRequest request) {
  options_.models->Expect(request.land_at);
  if (options_.fitter != nullptr) {
    options_.fitter->Submit(std::move(request));
  } else {
    options_.models->Deliver(request.land_at, FitModelRecord(request));
  }
}

absl::Status PartitionProjector::Apply(const guanxi::v1::LogRecord& record) {
  const uint64_t position = record.position();
  if (position != fact_position_) {
    fact_position_ = position;
    fact_index_.clear();
  }
  if (options_.until && After(record)) {
    checkpoint_.set_next_position(position + 1);
    ++stats_.records;
    return absl::OkStatus();
  }
  const projections::Context context{.model = checkpoint_.has_model() ? &checkpoint_.model()
                                                                      : nullptr,
                                     .partition = options_.partition};
  switch (record.body_case()) {
    case guanxi::v1::LogRecord::kEvent: {
      const guanxi::v1::Event& event = record.event();
      // An erasure request moves nothing but the customer's personal data: its time is
      // the wall clock of whoever asked, so it neither moves the clock nor fires timers.
      if (event.has_erasure()) {
        RETURN_IF_ERROR(ApplyErasure(event));
        break;
      }
      RETURN_IF_ERROR(AdvanceClock(
          ObserveSource(checkpoint_.mutable_sources(),
                        static_cast<uint64_t>(options_.config.workers().source_idle_records()),
                        event.source(), event.occurred_at(), position),
          position));
      ASSIGN_OR_RETURN(guanxi::v1::CustomerState * state, Touch(event.customer_id()));
      // The customer's own timers due by its event fire first, whatever the partition's
      // clock: its story is told in its own event time.
      while (state->has_timer_deadline_seconds() &&
             state->timer_deadline_seconds() <= event.occurred_at().seconds()) {
        RETURN_IF_ERROR(FireTimer(state->timer_deadline_seconds(), event.customer_id(), position));
      }
      Record(*state, projection_.OnEvent(*state, event, position, context), position);
      ++stats_.events;
      if (options_.tracer != nullptr && options_.tracer->Traces(event.customer_id())) {
        options_.tracer->Reached(StageTracer::Stage::kProjected, event.customer_id(),
                                 event.event_id());
        traced_.emplace_back(event.customer_id(), event.event_id());
      }
      break;
    }
    case guanxi::v1::LogRecord::kTick:
      RETURN_IF_ERROR(AdvanceClock(record.tick().event_time(), position));
      break;
    case guanxi::v1::LogRecord::kModel:
      RETURN_IF_ERROR(ApplyModel(record));
      break;
    default:
      return absl::DataLossError(absl::StrCat("partition ", options_.partition, ": log position ",
                                              position, " holds no event, tick or model"));
  }
  checkpoint_.set_next_position(position + 1);
  ++stats_.records;
  if (Reclassifying()) RETURN_IF_ERROR(ContinueReclassifying(record));
  return absl::OkStatus();
}

bool PartitionProjector::After(const guanxi::v1::LogRecord& record) const {
  switch (record.body_case()) {
    case guanxi::v1::LogRecord::kEvent:
      return Before(*options_.until, record.event().occurred_at());
    case guanxi::v1::LogRecord::kTick:
      return Before(*options_.until, record.tick().event_time());
    case guanxi::v1::LogRecord::kModel:
      return Before(*options_.until, record.model().as_of());
    default:
      return false;
  }
}

absl::Status PartitionProjector::FinishAt(const Timestamp& t) {
  RETURN_IF_ERROR(AdvanceClock(t, next_position()));
  // An as-of view shows everyone under the model in force then.
  if (Reclassifying()) RETURN_IF_ERROR(FinishReclassifying());
  return Commit();
}

absl::Status PartitionProjector::AdvanceClock(const Timestamp& t, uint64_t position) {
  if (!Before(checkpoint_.clock(), t)) return absl::OkStatus();
  *checkpoint_.mutable_clock() = t;
  // A timer is due when its deadline is at or before the clock. Firing re-arms it only
  // strictly after the customer's own clock (NextDeadline), so this ends.
  for (;;) {
    ASSIGN_OR_RETURN(const std::optional<TimerQueue::Key> due, timers_.Due(t.seconds()));
    if (!due) return absl::OkStatus();
    RETURN_IF_ERROR(FireTimer(due->first, due->second, position));
  }
}

absl::Status PartitionProjector::FireTimer(int64_t deadline, const std::string& customer,
                                           uint64_t position) {
  const projections::Context context{.model = checkpoint_.has_model() ? &checkpoint_.model()
                                                                      : nullptr,
                                     .partition = options_.partition};
  bool reclassified = false;
  ASSIGN_OR_RETURN(guanxi::v1::CustomerState * state, Touch(customer, &reclassified));
  // Reclassifying the customer first re-armed the timer: it fires when due, at its
  // new deadline (the clock's loop finds it there).
  if (reclassified && (!state->has_timer_deadline_seconds() ||
                       state->timer_deadline_seconds() != deadline)) {
    return absl::OkStatus();
  }
  Record(*state, projection_.OnTime(*state, AtSeconds(deadline), position, context), position,
         deadline + 1);
  ++stats_.timers;
  return absl::OkStatus();
}

absl::Status PartitionProjector::ApplyModel(const guanxi::v1::LogRecord& record) {
  const uint64_t position = record.position();
  // The pass of the model before, if still going, ends first: its customers are
  // reclassified under it before this one comes into force. (A pass of this model
  // itself is one a restart interrupted: it starts again.)
  if (Reclassifying() && checkpoint_.reclassify().model_position() != position) {
    RETURN_IF_ERROR(FinishReclassifying());
  }
  *checkpoint_.mutable_model() = record.model();
  const int64_t as_of = record.model().as_of().seconds();
  if (requested_as_of_ && requested_as_of_->seconds() <= as_of) requested_as_of_.reset();
  // Models land in the order asked for: this one is the earliest pending (if it was
  // pending at all: a log written before models had fixed positions holds others).
  while (schedule_.pending_size() > 0 && schedule_.pending(0).as_of().seconds() <= as_of) {
    schedule_.mutable_pending()->erase(schedule_.mutable_pending()->begin());
    schedule_dirty_ = true;  // in the commit below, with the model
  }
  if (record.model().reclassify_per_record() > 0) {
    // A few customers after each record from this one on (ContinueReclassifying).
    checkpoint_.mutable_reclassify()->set_model_position(position);
  }
  // Everyone is reclassified from the store, so the pending batch goes first (a
  // customer new since the last commit is in the store then).
  RETURN_IF_ERROR(Commit());
  if (Reclassifying()) return absl::OkStatus();
  // Everyone now, in customer order, committing every `chunk` customers. If it is
  // interrupted, the rerun reclassifies the customers already done without deriving
  // anything twice (they are classified under this model already), so the store ends
  // the same.
  RETURN_IF_ERROR(ReclassifyCustomers(position, "", SIZE_MAX, /*marked=*/false, options_.chunk)
                      .status());
  return Commit();
}

absl::Status PartitionProjector::ContinueReclassifying(const guanxi::v1::LogRecord& record) {
  // A tick says the partition is quiet (or the engine finishes a backfill); once the
  // next refit is due, its figures must be the reclassified ones. Both are in the log,
  // so a replay finishes where the live projector did.
  if (record.has_tick() ||
      projections::RefitDueSince(options_.config.classification(), &checkpoint_.model().as_of(),
                                 checkpoint_.clock())) {
    return FinishReclassifying();
  }
  guanxi::v1::ReclassifyPass& pass = *checkpoint_.mutable_reclassify();
  ASSIGN_OR_RETURN(const std::optional<std::string> last,
                   ReclassifyCustomers(pass.model_position(), pass.after(),
                                       checkpoint_.model().reclassify_per_record(),
                                       /*marked=*/true, /*commit_every=*/0));
  if (last) {
    pass.set_after(*last);
  } else {
    checkpoint_.clear_reclassify();
  }
  return absl::OkStatus();
}

absl::Status PartitionProjector::FinishReclassifying() {
  guanxi::v1::ReclassifyPass& pass = *checkpoint_.mutable_reclassify();
  pass.set_finishing(true);  // in every commit on the way
  RETURN_IF_ERROR(ReclassifyCustomers(pass.model_position(), pass.after(), SIZE_MAX,
                                      /*marked=*/true, options_.chunk)
                      .status());
  checkpoint_.clear_reclassify();
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> PartitionProjector::ReclassifyCustomers(
    uint64_t model_position, std::string after, size_t limit, bool marked,
    size_t commit_every) {
  // A state in the cache is the one to change (the store holds it as of the last
  // commit, or not at all); the others are read from the store and cached cold, so a
  // pass does not push the partition's active customers out of the cache.
  //
  // Only the customers reclassified here count towards `limit` and move `last`: which
  // customers new since the model (marked when they came) the store holds yet depends on
  // when the commits fell, which a replay does not repeat; the ones to reclassify were
  // all committed before the model came into force (ApplyModel), so they do not.
  std::optional<std::string> last;
  size_t reclassified = 0;
  size_t since_commit = 0;
  bool more = false;
  absl::Status status;
  RETURN_IF_ERROR(store_->ForEachCustomer(
      [&](const std::string& id) { return cache_.Peek(id) != nullptr; },
      [&](const std::string& id, const guanxi::v1::CustomerState* stored) {
        const guanxi::v1::CustomerState& current = stored != nullptr ? *stored : *cache_.Peek(id);
        if (marked && ReclassifiedUnder(current, model_position)) return true;
        if (reclassified == limit) {
          more = true;
          return false;
        }
        ++reclassified;
        last = id;
        guanxi::v1::CustomerState* state =
            stored != nullptr ? cache_.InsertCold(id, *stored) : cache_.Find(id);
        ReclassifyCustomer(*state, model_position, marked);
        if (commit_every > 0 && ++since_commit >= commit_every) {
          since_commit = 0;
          if (marked) checkpoint_.mutable_reclassify()->set_after(id);
          status = Commit();
        }
        return status.ok();
      },
      after.empty() ? std::nullopt : std::optional<std::string_view>(after)));
  RETURN_IF_ERROR(status);
  if (!more) return std::nullopt;
  return last;
}

void PartitionProjector::ReclassifyCustomer(guanxi::v1::CustomerState& state,
                                            uint64_t model_position, bool marked) {
  const projections::Context context{.model = &checkpoint_.model(),
                                     .partition = options_.partition};
  Record(state,
         projection_.OnModel(state, checkpoint_.model().as_of(), model_position, context),
         model_position);
  if (marked) state.set_reclassified_under(model_position);
  ++stats_.reclassified;
}

absl::Status PartitionProjector::ApplyErasure(const guanxi::v1::Event& event) {
  // Not through CustomerProjection: an erasure is no interaction and carries no figure,
  // and its occurred_at is when it was asked for (wall-clock), which must not move the
  // partition's event-time clock (timers would fire for everyone).
  const std::string& customer = event.customer_id();
  guanxi::v1::CustomerState* state = cache_.Find(customer);
  if (state == nullptr) {
    guanxi::v1::CustomerState stored;
    ASSIGN_OR_RETURN(const bool found, store_->GetState(customer, &stored));
    if (found) state = cache_.Insert(customer, std::move(stored));
  }
  if (state != nullptr) ClearPersonal(*state);
  erased_.push_back(customer);
  return absl::OkStatus();
}

absl::StatusOr<guanxi::v1::CustomerState*> PartitionProjector::Touch(
    const std::string& customer_id, bool* reclassified) {
  guanxi::v1::CustomerState* state = cache_.Find(customer_id);
  bool known = state != nullptr;
  if (state == nullptr) {
    guanxi::v1::CustomerState stored;
    ASSIGN_OR_RETURN(known, store_->GetState(customer_id, &stored));
    state = cache_.Insert(customer_id, std::move(stored));
  }
  if (Reclassifying()) {
    // Before it changes, a customer the pass has not reached yet is reclassified (as
    // the pass would have, from the state as of the model); a new one has nothing to
    // reclassify.
    const uint64_t model_position = checkpoint_.reclassify().model_position();
    if (!known) {
      state->set_reclassified_under(model_position);
    } else if (!ReclassifiedUnder(*state, model_position)) {
      ReclassifyCustomer(*state, model_position, /*marked=*/true);
      if (reclassified != nullptr) *reclassified = true;
    }
  }
  return state;
}

void PartitionProjector::Record(guanxi::v1::CustomerState& state, projections::Derived derived,
                                uint64_t position, int64_t earliest_timer) {
  const std::string& customer = state.customer_id();
  // Numbered per (customer, position): from the record's count, or from 0 for the facts
  // of a model's reclassification after its record (a customer is reclassified once).
  uint32_t elsewhere = 0;
  auto next_index = [&]() -> uint32_t {
    return position == fact_position_ ? fact_index_[customer]++ : elsewhere++;
  };
  for (const guanxi::v1::RelationshipChange& change : derived.changes) {
    // Serialized once, for the fact and the outbox.
    std::string serialized = change.SerializeAsString();
    batch_.AddChangeFact(customer, position, next_index(), serialized);
    guanxi::v1::OutboxEntry entry;
    entry.set_topic(guanxi::v1::OutboxEntry::TOPIC_RELATIONSHIP_CHANGES);
    entry.set_key(customer);
    entry.set_value(std::move(serialized));
    batch_.AddOutbox(checkpoint_.next_outbox_sequence(), std::move(entry));
    checkpoint_.set_next_outbox_sequence(checkpoint_.next_outbox_sequence() + 1);
    ++stats_.facts;
  }
  for (guanxi::v1::ChurnWarning& warning : derived.warnings) {
    guanxi::v1::OutboxEntry entry;
    entry.set_topic(guanxi::v1::OutboxEntry::TOPIC_CHURN_WARNINGS);
    entry.set_key(customer);
    entry.set_value(warning.SerializeAsString());
    batch_.AddOutbox(checkpoint_.next_outbox_sequence(), std::move(entry));
    checkpoint_.set_next_outbox_sequence(checkpoint_.next_outbox_sequence() + 1);
    const uint32_t index = next_index();
    batch_.AddWarning(warning, position, index);
    guanxi::v1::DerivedFact fact;
    *fact.mutable_warning() = std::move(warning);
    batch_.AddFact(customer, position, index, fact);
    ++stats_.facts;
    ++stats_.warnings;
  }
  // Re-arm the timer. A timer that just fired is re-armed strictly later, so firing
  // always makes progress (NextDeadline promises that; this makes sure).
  std::optional<int64_t> next = projection_.NextDeadline(state);
  if (next && *next < earliest_timer) next = earliest_timer;
  const std::optional<int64_t> current =
      state.has_timer_deadline_seconds() ? std::optional(state.timer_deadline_seconds())
                                         : std::nullopt;
  if (next == current) return;
  timers_.Move(customer, current, next);
  if (next) {
    state.set_timer_deadline_seconds(*next);
  } else {
    state.clear_timer_deadline_seconds();
  }
}

absl::Status PartitionProjector::Commit() {
  cache_.ForEachDirty([&](const guanxi::v1::CustomerState& state) { batch_.PutState(state); });
  timers_.WriteMoves(batch_);
  batch_.PutCheckpoint(checkpoint_);
  if (schedule_dirty_) batch_.PutRefitSchedule(schedule_);
  RETURN_IF_ERROR(store_->Commit(batch_));
  schedule_dirty_ = false;
  for (const std::string& customer : erased_) RETURN_IF_ERROR(store_->PurgeErased(customer));
  erased_.clear();
  for (const auto& [customer, event] : traced_) {
    options_.tracer->Reached(StageTracer::Stage::kCommitted, customer, event);
  }
  traced_.clear();
  cache_.Committed();
  timers_.Committed();
  reclassifying_ = Reclassifying();
  ++stats_.commits;
  return absl::OkStatus();
}

}  // namespace guanxi::engine
