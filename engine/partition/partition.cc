#include "engine/partition/partition.h"

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
  ASSIGN_OR_RETURN(auto projector,
                   PartitionProjector::Create(log, p->store_->projections.get(),
                                              std::move(projector_options)));
  p->worker_ = std::make_unique<ProjectionWorker>(std::move(projector), p->options_.on_commit);
  p->worker_->Start();
  p->worker_->Notify(log->next_position());
  return p;
}

absl::StatusOr<IngestStats> Partition::Ingest(absl::Span<const ConsumedMessage> messages) {
  appended_.clear();
  ASSIGN_OR_RETURN(IngestStats stats, ingestor_->Process(messages, &appended_));
  worker_->Feed(std::move(appended_));
  return stats;
}

absl::Status Partition::AppendEngineRecords(std::vector<guanxi::v1::LogRecord> records) {
  if (records.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(const AppendResult appended,
                   store_->log->Append(absl::MakeSpan(records), {}));
  (void)appended;  // engine records are never duplicates: all of them are appended
  worker_->Feed(std::move(records));
  return absl::OkStatus();
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
