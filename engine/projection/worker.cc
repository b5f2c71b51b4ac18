#include "engine/projection/worker.h"

#include <utility>

namespace guanxi::engine {

ProjectionWorker::ProjectionWorker(std::unique_ptr<PartitionProjector> projector,
                                   std::function<void()> on_commit)
    : projector_(std::move(projector)), on_commit_(std::move(on_commit)) {
  applied_ = projector_->next_position();
  clock_ = projector_->clock_seconds();
  absl::MutexLock lock(&mu_);
  decided_ = projector_->next_position();
}

ProjectionWorker::~ProjectionWorker() { Stop().IgnoreError(); }

void ProjectionWorker::Start() { thread_ = std::thread([this] { Loop(); }); }

void ProjectionWorker::Notify(uint64_t head) {
  absl::MutexLock lock(&mu_);
  if (head > head_) head_ = head;
}

void ProjectionWorker::Feed(std::vector<guanxi::v1::LogRecord> records) {
  if (records.empty()) return;
  absl::MutexLock lock(&mu_);
  const uint64_t end = records.back().position() + 1;
  for (guanxi::v1::LogRecord& r : records) handed_over_.push_back(std::move(r));
  while (handed_over_.size() > kMaxHandedOver) handed_over_.pop_front();
  if (end > head_) head_ = end;
}

absl::Status ProjectionWorker::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  return status();
}

absl::Status ProjectionWorker::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

bool ProjectionWorker::WaitFor(uint64_t position, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return applied_.load() >= position || done_ || stopping_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
  return applied_.load() >= position;
}

uint64_t ProjectionWorker::decided() const {
  absl::MutexLock lock(&mu_);
  return decided_;
}

bool ProjectionWorker::WaitDecided(uint64_t position, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return decided_ >= position || done_ || stopping_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
  return decided_ >= position;
}

void ProjectionWorker::Loop() {
  std::deque<guanxi::v1::LogRecord> handed_over;
  for (;;) {
    uint64_t head = 0;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || head_ > applied_.load();
      };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) break;
      head = head_;
      if (handed_over.empty()) {
        handed_over.swap(handed_over_);
      } else {
        for (auto& r : handed_over_) handed_over.push_back(std::move(r));
        handed_over_.clear();
        while (handed_over.size() > kMaxHandedOver) handed_over.pop_front();
      }
    }
    absl::Status s = projector_->CatchUp(head, stop_, [this](const ProjectorStats&) {
      clock_ = projector_->clock_seconds();
      {
        absl::MutexLock lock(&mu_);  // wakes WaitFor
        applied_ = projector_->next_position();
      }
      if (on_commit_) on_commit_();
    }, &handed_over, [this](uint64_t position) {
      absl::MutexLock lock(&mu_);  // wakes WaitDecided
      decided_ = position;
    });
    if (!s.ok()) {
      absl::MutexLock lock(&mu_);
      status_ = std::move(s);
      break;
    }
  }
  absl::MutexLock lock(&mu_);
  done_ = true;
}

}  // namespace guanxi::engine
