#include "engine/projection/outbox_publisher.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/kafka/topics.h"

namespace guanxi::engine {
namespace {

constexpr size_t kRound = 1000;  // entries produced per partition before waiting for acks

}  // namespace

OutboxPublisher::OutboxPublisher(std::string brokers, guanxi::v1::EngineConfig config,
                                 absl::Duration round_timeout, StageTracer* tracer)
    : brokers_(std::move(brokers)),
      config_(std::move(config)),
      round_timeout_(round_timeout),
      tracer_(tracer) {}

OutboxPublisher::~OutboxPublisher() { Stop(); }

absl::Status OutboxPublisher::Start() {
  ASSIGN_OR_RETURN(producer_, Producer::Create(brokers_, PropertiesOf(config_.kafka()),
                                               [this](const Producer::Delivery& d) {
                                                 if (!d.status.ok() && delivery_failure_.ok()) {
                                                   delivery_failure_ = d.status;
                                                 }
                                               }));
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void OutboxPublisher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  // What the last round left unacknowledged is in the outbox still: drop it from the
  // producer, whose destruction would otherwise wait for it.
  if (producer_) producer_->Purge();
  std::map<int32_t, Partition> released;  // closed (if last) outside the lock
  absl::MutexLock lock(&mu_);
  released.swap(partitions_);
}

void OutboxPublisher::Add(int32_t partition, std::shared_ptr<ProjectionStore> store) {
  absl::MutexLock lock(&mu_);
  partitions_[partition] = Partition{.store = std::move(store)};
  pending_ = true;
  idle_ = false;
}

void OutboxPublisher::Remove(int32_t partition) {
  Partition removed;  // let go of outside the lock
  absl::MutexLock lock(&mu_);
  if (auto it = partitions_.find(partition); it != partitions_.end()) {
    removed = std::move(it->second);
    partitions_.erase(it);
  }
}

void OutboxPublisher::Notify() {
  absl::MutexLock lock(&mu_);
  pending_ = true;
  idle_ = false;
}

OutboxStats OutboxPublisher::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

bool OutboxPublisher::Stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

int64_t OutboxPublisher::AwaitAcknowledgements() {
  const absl::Time deadline = absl::Now() + round_timeout_;
  for (;;) {
    const absl::Duration slice =
        std::clamp(deadline - absl::Now(), absl::ZeroDuration(), absl::Milliseconds(100));
    const int64_t left = producer_->Flush(slice);
    if (left == 0 || absl::Now() >= deadline || Stopping()) return left;
  }
}

bool OutboxPublisher::WaitIdle(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto idle = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return idle_ || stopping_; };
  mu_.AwaitWithTimeout(absl::Condition(&idle), timeout);
  return idle_;
}

absl::StatusOr<size_t> OutboxPublisher::PublishRound(int32_t partition, Partition& p) {
  std::vector<std::pair<uint64_t, guanxi::v1::OutboxEntry>> entries;
  RETURN_IF_ERROR(p.store->ReadOutbox(p.next.value_or(0), kRound, &entries));
  if (entries.empty()) return 0;
  const auto& kafka = config_.kafka();
  uint64_t warnings = 0;
  for (const auto& [sequence, entry] : entries) {
    const bool warning = entry.topic() == guanxi::v1::OutboxEntry::TOPIC_CHURN_WARNINGS;
    warnings += warning ? 1 : 0;
    RETURN_IF_ERROR(producer_->Produce(warning ? kafka.warnings_topic() : kafka.changes_topic(),
                                       entry.key(), entry.value(), sequence));
  }
  {
    absl::MutexLock lock(&mu_);
    stats_.unacknowledged = entries.size();
  }
  const int64_t left = AwaitAcknowledgements();
  {
    absl::MutexLock lock(&mu_);
    stats_.unacknowledged = 0;
  }
  if (left > 0) {
    return absl::UnavailableError(
        absl::StrCat(left, " outbox messages of partition ", partition, " not acknowledged"));
  }
  if (!delivery_failure_.ok()) {
    absl::Status failure = std::move(delivery_failure_);
    delivery_failure_ = absl::OkStatus();
    return failure;
  }
  if (tracer_ != nullptr) {
    for (const auto& [sequence, entry] : entries) {
      if (tracer_->Traces(entry.key())) {
        tracer_->Reached(StageTracer::Stage::kPublished, entry.key(), {});
      }
    }
  }
  const uint64_t end = entries.back().first + 1;
  RETURN_IF_ERROR(p.store->DeleteOutbox(entries.front().first, end));
  p.next = end;
  absl::MutexLock lock(&mu_);
  stats_.published += entries.size();
  stats_.warnings += warnings;
  return entries.size();
}

void OutboxPublisher::Loop() {
  for (;;) {
    std::map<int32_t, Partition> round;
    {
      absl::MutexLock lock(&mu_);
      auto wake = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || pending_; };
      // After a failed round, retry within a second even without news.
      mu_.AwaitWithTimeout(absl::Condition(&wake), absl::Seconds(1));
      if (stopping_) return;
      pending_ = false;
      round = partitions_;
    }
    bool more = false, failed = false;
    for (auto& [partition, p] : round) {
      bool removed = false;
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) return;  // the remaining partitions' entries stay in their outboxes
        removed = partitions_.count(partition) == 0;
      }
      if (removed) {  // meanwhile
        p.store.reset();
        continue;
      }
      // Runs to its end even if the partition is removed meanwhile: `p` holds the store.
      auto taken = PublishRound(partition, p);
      // Declared before the lock: if it is the store's last holder, the store closes
      // unlocked.
      const std::shared_ptr<ProjectionStore> store = std::move(p.store);
      absl::MutexLock lock(&mu_);
      auto it = partitions_.find(partition);
      if (!taken.ok()) {
        ++stats_.failed_rounds;
        failed = true;  // left in the outbox: the next round (in a second) produces them again
      } else {
        // Removed and added again: `next` holds for the same store only.
        if (it != partitions_.end() && it->second.store == store) it->second.next = p.next;
        if (*taken > 0) more = true;
      }
    }
    absl::MutexLock lock(&mu_);
    if (more) pending_ = true;
    idle_ = !more && !failed && !pending_;
  }
}

}  // namespace guanxi::engine
