#include "engine/projection/outbox_publisher.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/kafka/topics.h"

namespace guanxi::engine {
namespace {

constexpr size_t kRead = 1000;     // entries read from one outbox at a time
constexpr size_t kWindow = 10000;  // entries of one partition unacknowledged at most
// Deleting acknowledged entries is one range deletion; more than this many, or this
// long since the last one, or nothing in flight, and it is due.
constexpr uint64_t kDeleteEvery = 1000;
constexpr absl::Duration kDeleteAfter = absl::Milliseconds(20);
constexpr absl::Duration kRetryAfter = absl::Seconds(1);  // after a failed delivery or read
// While entries are in flight and nothing else is to do, acknowledgements are waited for
// this long at a time (they end the wait at once; a notification waits for the rest).
constexpr absl::Duration kAckWait = absl::Milliseconds(2);

}  // namespace

OutboxPublisher::OutboxPublisher(std::string brokers, guanxi::v1::EngineConfig config,
                                 absl::Duration removal_timeout, StageTracer* tracer)
    : brokers_(std::move(brokers)),
      config_(std::move(config)),
      removal_timeout_(removal_timeout),
      tracer_(tracer) {}

OutboxPublisher::~OutboxPublisher() { Stop(); }

absl::Status OutboxPublisher::Start() {
  ASSIGN_OR_RETURN(producer_,
                   Producer::Create(brokers_, PropertiesOf(config_.kafka()),
                                    [this](const Producer::Delivery& d) { OnDelivery(d); }));
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void OutboxPublisher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  // What is in flight stays in the outbox: drop it from the producer, whose destruction
  // would otherwise wait for it (its failed reports find nothing to fail).
  uint64_t failed = 0;
  for (const auto& [id, o] : outboxes_) failed += o.in_flight.empty() ? 0 : 1;
  produced_.clear();
  if (producer_) producer_->Purge();
  producer_.reset();
  std::map<uint64_t, Outbox> outboxes;  // the stores close (if last) outside the lock
  outboxes.swap(outboxes_);
  std::map<int32_t, std::shared_ptr<ProjectionStore>> released;
  absl::MutexLock lock(&mu_);
  released.swap(partitions_);
  stats_.failed_rounds += failed;
  stats_.unacknowledged = 0;
}

void OutboxPublisher::Add(int32_t partition, std::shared_ptr<ProjectionStore> store) {
  absl::MutexLock lock(&mu_);
  partitions_[partition] = std::move(store);
  pending_ = true;
  idle_ = false;
}

void OutboxPublisher::Remove(int32_t partition) {
  std::shared_ptr<ProjectionStore> removed;  // let go of outside the lock
  absl::MutexLock lock(&mu_);
  if (auto it = partitions_.find(partition); it != partitions_.end()) {
    removed = std::move(it->second);
    partitions_.erase(it);
  }
  pending_ = true;  // the thread marks its outbox removed
  idle_ = false;
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

bool OutboxPublisher::WaitIdle(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto idle = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return idle_ || stopping_; };
  mu_.AwaitWithTimeout(absl::Condition(&idle), timeout);
  return idle_;
}

void OutboxPublisher::Track(
    const std::map<int32_t, std::shared_ptr<ProjectionStore>>& registered) {
  std::map<int32_t, const Outbox*> active;
  for (auto& [id, o] : outboxes_) {
    if (o.removed_at.has_value()) continue;
    auto it = registered.find(o.partition);
    // Removed, or removed and added again with another store: `next` holds for the same
    // store only.
    if (it == registered.end() || it->second != o.store) {
      o.removed_at = absl::Now();
    } else {
      active[o.partition] = &o;
    }
  }
  for (const auto& [partition, store] : registered) {
    if (active.count(partition) == 0) {
      Outbox& o = outboxes_[next_outbox_++];
      o.partition = partition;
      o.store = store;
    }
  }
}

bool OutboxPublisher::ProduceFrom(uint64_t id, Outbox& o) {
  if (o.removed_at.has_value() || o.failed.has_value() || absl::Now() < o.retry_at) return false;
  if (o.in_flight.size() >= kWindow) return false;
  std::vector<std::pair<uint64_t, guanxi::v1::OutboxEntry>> entries;
  if (!o.store->ReadOutbox(o.next.value_or(0), std::min(kRead, kWindow - o.in_flight.size()),
                           &entries)
           .ok()) {
    absl::MutexLock lock(&mu_);
    ++stats_.failed_rounds;
    o.retry_at = absl::Now() + kRetryAfter;
    return false;
  }
  if (entries.empty()) return false;
  if (!o.deleted.has_value()) o.deleted = entries.front().first;
  const auto& kafka = config_.kafka();
  for (const auto& [sequence, entry] : entries) {
    const bool warning = entry.topic() == guanxi::v1::OutboxEntry::TOPIC_CHURN_WARNINGS;
    const uint64_t cookie = next_cookie_++;
    produced_[cookie] = Produced{
        .outbox = id,
        .sequence = sequence,
        .warning = warning,
        .traced_key = tracer_ != nullptr && tracer_->Traces(entry.key()) ? entry.key() : ""};
    o.in_flight.insert(sequence);
    o.next = sequence + 1;
    if (!producer_
             ->Produce(warning ? kafka.warnings_topic() : kafka.changes_topic(), entry.key(),
                       entry.value(), cookie)
             .ok()) {
      produced_.erase(cookie);
      o.in_flight.erase(sequence);
      Fail(o, sequence);
      break;
    }
  }
  return true;
}

void OutboxPublisher::Fail(Outbox& o, uint64_t sequence) {
  o.failed = std::min(o.failed.value_or(sequence), sequence);
}

void OutboxPublisher::OnDelivery(const Producer::Delivery& d) {
  auto it = produced_.find(d.cookie);
  if (it == produced_.end()) return;  // its outbox was let go of
  const Produced produced = std::move(it->second);
  produced_.erase(it);
  auto o = outboxes_.find(produced.outbox);
  if (o == outboxes_.end()) return;
  o->second.in_flight.erase(produced.sequence);
  if (!d.status.ok()) {
    Fail(o->second, produced.sequence);
    return;
  }
  ++o->second.acknowledged;
  o->second.acknowledged_warnings += produced.warning ? 1 : 0;
  if (!produced.traced_key.empty()) {
    tracer_->Reached(StageTracer::Stage::kPublished, produced.traced_key, {});
  }
}

bool OutboxPublisher::Settle(Outbox& o, absl::Time now) {
  // Everything below `through` is acknowledged.
  uint64_t through = o.in_flight.empty() ? o.next.value_or(0) : *o.in_flight.begin();
  if (o.failed.has_value()) through = std::min(through, *o.failed);
  const uint64_t deleted = o.deleted.value_or(through);
  const bool due = through - deleted >= kDeleteEvery || now - o.deleted_at >= kDeleteAfter ||
                   o.in_flight.empty();
  if (through > deleted && due) {
    if (o.store->DeleteOutbox(deleted, through).ok()) {
      o.deleted = through;
      o.deleted_at = now;
      absl::MutexLock lock(&mu_);
      stats_.published += o.acknowledged;
      stats_.warnings += o.acknowledged_warnings;
      o.acknowledged = o.acknowledged_warnings = 0;
    }  // else: deleted later (and, after a crash, published again)
  }
  if (o.failed.has_value() && o.in_flight.empty()) {
    // Every report of the outbox is in: produce again from the first failure, later.
    o.next = *o.failed;
    o.failed.reset();
    o.retry_at = now + kRetryAfter;
    absl::MutexLock lock(&mu_);
    ++stats_.failed_rounds;
  }
  if (!o.removed_at.has_value()) return true;
  // A removed outbox is done when nothing of it is in flight any more, or at the timeout
  // (what is not acknowledged stays for the partition's next owner).
  return !o.in_flight.empty() && now - *o.removed_at < removal_timeout_;
}

void OutboxPublisher::Loop() {
  bool busy = false;  // produced something, or something is in flight
  for (;;) {
    std::map<int32_t, std::shared_ptr<ProjectionStore>> registered;
    {
      absl::MutexLock lock(&mu_);
      auto wake = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || pending_; };
      // Idle, it waits for news; a failed delivery or read is retried within a second
      // even without.
      if (!busy) mu_.AwaitWithTimeout(absl::Condition(&wake), kRetryAfter);
      if (stopping_) return;
      pending_ = false;
      registered = partitions_;
    }
    Track(registered);
    bool produced = false;
    for (auto& [id, o] : outboxes_) produced = ProduceFrom(id, o) || produced;
    size_t in_flight = 0;
    for (const auto& [id, o] : outboxes_) in_flight += o.in_flight.size();
    if (in_flight > 0) producer_->Poll(produced ? absl::ZeroDuration() : kAckWait);

    const absl::Time now = absl::Now();
    std::vector<Outbox> done;  // their stores close (if last) outside the lock
    bool failing = false;
    in_flight = 0;
    for (auto it = outboxes_.begin(); it != outboxes_.end();) {
      if (Settle(it->second, now)) {
        failing = failing || it->second.failed.has_value() || now < it->second.retry_at;
        in_flight += it->second.in_flight.size();
        ++it;
      } else {
        done.push_back(std::move(it->second));
        it = outboxes_.erase(it);
      }
    }
    busy = produced || in_flight > 0;
    absl::MutexLock lock(&mu_);
    stats_.unacknowledged = in_flight;
    idle_ = !busy && !failing && !pending_;
  }
}

}  // namespace guanxi::engine
