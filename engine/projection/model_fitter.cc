#include "engine/projection/model_fitter.h"

#include <utility>

namespace guanxi::engine {

guanxi::v1::LogRecord FitModelRecord(const FitRequest& request) {
  guanxi::v1::LogRecord record;
  *record.mutable_model() = projections::FitPopulation(request.config, request.figures,
                                                       request.population, request.as_of);
  record.mutable_model()->add_partitions(request.partition);
  return record;
}

ModelFitter::ModelFitter() : thread_([this] { Loop(); }) {}

ModelFitter::~ModelFitter() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    queue_.clear();
  }
  thread_.join();
}

void ModelFitter::Submit(FitRequest request) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(request));
}

void ModelFitter::WaitIdle() {
  absl::MutexLock lock(&mu_);
  auto idle = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return queue_.empty() && !running_; };
  mu_.Await(absl::Condition(&idle));
}

uint64_t ModelFitter::fitted() const {
  absl::MutexLock lock(&mu_);
  return fitted_;
}

void ModelFitter::Loop() {
  for (;;) {
    FitRequest request;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !queue_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      request = std::move(queue_.front());
      queue_.pop_front();
      running_ = true;
    }
    guanxi::v1::LogRecord record = FitModelRecord(request);
    if (request.done) request.done(std::move(record));
    absl::MutexLock lock(&mu_);
    running_ = false;
    ++fitted_;
  }
}

}  // namespace guanxi::engine
