#include "engine/partition/partition.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "common/status_macros.h"

namespace guanxi::engine {

Partition::Partition(std::shared_ptr<PartitionStore> store, PartitionOptions options)
    : store_(std::move(store)), options_(std::move(options)) {}

Partition::~Partition() { Stop().IgnoreError(); }

absl::StatusOr<std::unique_ptr<Partition>> Partition::Start(std::shared_ptr<PartitionStore> store,
                                                             PartitionOptions options) {
  std::unique_ptr<Partition> p(new Partition(std::move(store), std::move(options)));
  EventLog* log = p->store_->log.get();
  ASSIGN_OR_RETURN(p->ingestor_, PartitionIngestor::Create(p->options_.topic, p->options_.partition,
                                                           log, p->options_.dead_letters,
                                                           p->options_.limits,
                                                           p->options_.now_unix_millis));
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
  while (!messages.empty()) {
    ASSIGN_OR_RETURN(const uint64_t room,
                     Room(std::min<uint64_t>(messages.size(),
                                             PartitionProjector::kModelLandingDistance),
                          total.models));
    // A message appends one record at most (none if dead-lettered or a duplicate).
    const size_t take = static_cast<size_t>(room);
    appended_.clear();
    ASSIGN_OR_RETURN(IngestStats stats, ingestor_->Process(messages.first(take), &appended_));
    worker_->Feed(std::move(appended_));
    total.messages += stats.messages;
    total.appended += stats.appended;
    total.duplicates += stats.duplicates;
    total.dead_letters += stats.dead_letters;
    messages.remove_prefix(take);
  }
  return total;
}

absl::StatusOr<uint64_t> Partition::Room(uint64_t n, int64_t& models) {
  const uint64_t distance = PartitionProjector::kModelLandingDistance;
  for (;;) {
    const uint64_t head = store_->log->next_position();
    // Every refit that can land below head + n is decided once the projector applied
    // head + n - distance: one decided at record P lands at P + 1 + distance.
    if (head + n > distance) RETURN_IF_ERROR(AwaitDecided(head + n - distance));
    const std::optional<uint64_t> due = slots_->Earliest();
    if (!due || *due >= head + n) return n;
    if (*due > head) return *due - head;
    // Due here (or overdue: asked for by a projector re-applying a log written before
    // models had fixed positions): the model goes next, once fitted.
    std::optional<guanxi::v1::LogRecord> model;
    while (!(model = slots_->TakeEarliest(absl::Seconds(1)))) {
      RETURN_IF_ERROR(worker_->status());
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

absl::StatusOr<int64_t> Partition::AppendTicks(std::vector<guanxi::v1::LogRecord> ticks) {
  int64_t models = 0;
  if (ticks.empty()) return models;
  ASSIGN_OR_RETURN(const uint64_t room, Room(ticks.size(), models));
  if (room < ticks.size()) ticks.resize(room);  // the rest would pass a model's position
  RETURN_IF_ERROR(AppendEngineRecords(std::move(ticks)).status());
  return models;
}

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
