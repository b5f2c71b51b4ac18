#include "engine/partition/partition.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "common/status_macros.h"
#include "engine/trace/stage_tracer.h"

namespace guanxi::engine {

Partition::Partition(std::shared_ptr<PartitionStore> store, PartitionOptions options)
    : store_(std::move(store)), options_(std::move(options)) {}

Partition::~Partition() { Stop().IgnoreError(); }

absl::StatusOr<std::unique_ptr<Partition>> Partition::Start(std::shared_ptr<PartitionStore> store,
                                                             PartitionOptions options) {
  std::unique_ptr<Partition> p(new Partition(std::move(store), std::move(options)));
  EventLog* log = p->store_->log.get();
  ASSIGN_OR_RETURN(p->ingestor_, PartitionIngestor::Create(p->options_.topic, p->options_.partition,
                                                           log, p->options_.side,
                                                           p->options_.limits,
                                                           p->options_.now_unix_millis,
                                                           p->options_.topic_partitions));
  ProjectorOptions projector_options = p->options_.projector;
  projector_options.partition = p->options_.partition;
  projector_options.models = p->slots_;
  ASSIGN_OR_RETURN(auto projector,
                   PartitionProjector::Create(log, p->store_->projections.get(),
                                              std::move(projector_options)));
  p->worker_ = std::make_unique<ProjectionWorker>(std::move(projector), p->options_.on_commit);
  p->worker_->Start();
  p->worker_->Notify(log->next_position());
  return p;
}

absl::StatusOr<IngestStats> Partition::Ingest(absl::Span<const ConsumedMessage> messages) {
  IngestStats total;
  RETURN_IF_ERROR(AppendSome(messages, /*wait=*/true, total).status());
  return total;
}

void Partition::Offer(int64_t offset, std::string key, std::string value) {
  inbox_.push_back({offset, std::move(key), std::move(value)});
}

absl::StatusOr<IngestStats> Partition::Drain() {
  // A window of the inbox at a time (as much as one Room can grant), so a poll that
  // finds no room costs one window, not the whole inbox.
  IngestStats total;
  while (!inbox_.empty()) {
    const size_t window =
        std::min<size_t>(inbox_.size(), PartitionProjector::kModelLandingDistance);
    views_.clear();
    for (size_t i = 0; i < window; ++i) {
      views_.push_back({inbox_[i].offset, inbox_[i].key, inbox_[i].value});
    }
    ASSIGN_OR_RETURN(const size_t taken, AppendSome(views_, /*wait=*/false, total));
    views_.clear();
    inbox_.erase(inbox_.begin(), inbox_.begin() + static_cast<std::ptrdiff_t>(taken));
    if (taken < window) break;  // no more room for now
  }
  return total;
}

absl::StatusOr<size_t> Partition::AppendSome(absl::Span<const ConsumedMessage> messages,
                                             bool wait, IngestStats& total) {
  size_t taken = 0;
  while (taken < messages.size()) {
    const absl::Span<const ConsumedMessage> rest = messages.subspan(taken);
    ASSIGN_OR_RETURN(const uint64_t room,
                     Room(std::min<uint64_t>(rest.size(),
                                             PartitionProjector::kModelLandingDistance),
                          total.models, wait));
    if (room == 0) break;  // not without waiting
    // A message appends one record at most (none if dead-lettered or a duplicate).
    const size_t take = static_cast<size_t>(room);
    appended_.clear();
    ASSIGN_OR_RETURN(IngestStats stats, ingestor_->Process(rest.first(take), &appended_));
    if (StageTracer* tracer = options_.projector.tracer) {
      for (const guanxi::v1::LogRecord& r : appended_) {
        if (tracer->Traces(r.event().customer_id())) {
          tracer->Reached(StageTracer::Stage::kAppended, r.event().customer_id(),
                          r.event().event_id());
        }
      }
    }
    worker_->Feed(std::move(appended_));
    total += stats;
    taken += take;
  }
  return taken;
}

absl::StatusOr<uint64_t> Partition::Room(uint64_t n, int64_t& models, bool wait) {
  const uint64_t distance = PartitionProjector::kModelLandingDistance;
  for (;;) {
    const uint64_t head = store_->log->next_position();
    // Every refit that can land below head + m is decided once the projector decided
    // through head + m - distance: one decided at record P lands at P + 1 + distance.
    uint64_t allowed = n;
    if (head + n > distance) {
      if (wait) {
        RETURN_IF_ERROR(AwaitDecided(head + n - distance));
      } else {
        const uint64_t decided = worker_->decided();
        if (decided + distance <= head) {
          RETURN_IF_ERROR(worker_->status());
          return 0;
        }
        allowed = std::min(n, decided + distance - head);
      }
    }
    const std::optional<uint64_t> due = slots_->Earliest();
    if (!due || *due >= head + allowed) return allowed;
    if (*due > head) return *due - head;
    // Due here (or overdue: asked for by a projector re-applying a log written before
    // models had fixed positions): the model goes next, once fitted.
    std::optional<guanxi::v1::LogRecord> model;
    while (!(model = slots_->TakeEarliest(wait ? absl::Seconds(1) : absl::ZeroDuration()))) {
      RETURN_IF_ERROR(worker_->status());
      if (!wait) return 0;
    }
    std::vector<guanxi::v1::LogRecord> records;
    records.push_back(std::move(*model));
    ASSIGN_OR_RETURN(const int64_t landed, AppendEngineRecords(std::move(records)));
    models += landed;
  }
}

absl::Status Partition::AwaitDecided(uint64_t position) const {
  while (!worker_->WaitDecided(position, absl::Seconds(1))) {
    RETURN_IF_ERROR(worker_->status());
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Partition::AppendTick(int64_t event_time_seconds) {
  int64_t models = 0;
  // Room for one record: always (it lands the models due at the head first).
  RETURN_IF_ERROR(Room(1, models, /*wait=*/true).status());
  std::vector<guanxi::v1::LogRecord> tick(1);
  tick[0].mutable_tick()->mutable_event_time()->set_seconds(event_time_seconds);
  RETURN_IF_ERROR(AppendEngineRecords(std::move(tick)).status());
  return models;
}

absl::StatusOr<int64_t> Partition::FinishReclassifying() { return AppendTick(clock_seconds()); }

absl::StatusOr<int64_t> Partition::LandModels(bool wait) {
  std::vector<guanxi::v1::LogRecord> models;
  if (wait) {
    while (slots_->Earliest()) {
      if (auto model = slots_->TakeEarliest(absl::Seconds(1))) {
        models.push_back(std::move(*model));
      } else {
        RETURN_IF_ERROR(worker_->status());
      }
    }
  } else {
    models = slots_->TakeFitted();
  }
  return AppendEngineRecords(std::move(models));
}

absl::StatusOr<int64_t> Partition::AppendEngineRecords(std::vector<guanxi::v1::LogRecord> records) {
  if (records.empty()) return 0;
  ASSIGN_OR_RETURN(const AppendResult appended,
                   store_->log->Append(absl::MakeSpan(records), {}));
  (void)appended;  // engine records are never duplicates: all of them are appended
  const auto n = static_cast<int64_t>(records.size());
  worker_->Feed(std::move(records));
  return n;
}

absl::Status Partition::Stop() {
  if (!worker_) return absl::OkStatus();
  return worker_->Stop();
}

PartitionView Partition::View() const {
  return {.partition = options_.partition,
          .log = std::shared_ptr<const EventLog>(store_, store_->log.get()),
          .store = std::shared_ptr<const ProjectionStore>(store_, store_->projections.get())};
}

}  // namespace guanxi::engine
