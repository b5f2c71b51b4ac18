#include "engine/projection/model_fitter.h"

#include <algorithm>
#include <utility>

namespace guanxi::engine {

uint32_t ReclassifyPerRecord(int64_t population, uint64_t interval_records) {
  const uint64_t half = interval_records / 2;
  if (half == 0) return kMaxReclassifyPerRecord;
  const uint64_t customers = static_cast<uint64_t>(std::max<int64_t>(population, 0));
  const uint64_t per_record = (customers + half - 1) / half;  // rounded up
  return static_cast<uint32_t>(
      std::clamp<uint64_t>(per_record, 1, kMaxReclassifyPerRecord));
}

guanxi::v1::LogRecord FitModelRecord(const FitRequest& request) {
  guanxi::v1::LogRecord record;
  *record.mutable_model() = projections::FitPopulation(
      request.config, request.figures, request.population, request.as_of,
      request.previous_bgnbd ? &*request.previous_bgnbd : nullptr);
  record.mutable_model()->add_partitions(request.partition);
  record.mutable_model()->set_reclassify_per_record(
      ReclassifyPerRecord(request.population, request.interval_records));
  if (request.purchasers > static_cast<int64_t>(request.figures.size())) {
    record.mutable_model()->set_sample(static_cast<int64_t>(request.figures.size()));
  }
  if (auto risk = projections::CalibrateChurnRisk(
          request.risk_examples, request.risk_horizon_days,
          request.previous_risk ? &*request.previous_risk : nullptr)) {
    *record.mutable_model()->mutable_churn_risk() = *std::move(risk);
  }
  return record;
}

guanxi::v1::PendingRefit PendingRefitOf(const FitRequest& request) {
  guanxi::v1::PendingRefit pending;
  pending.set_land_at(request.land_at);
  *pending.mutable_as_of() = request.as_of;
  pending.set_population(request.population);
  pending.set_purchasers(request.purchasers);
  for (const projections::FitFigures& f : request.figures) {
    pending.add_recency_days(f.rfm.recency_days);
    pending.add_frequency(f.rfm.frequency);
    pending.add_monetary_minor(f.rfm.monetary_minor);
    pending.add_x(f.history.x);
    pending.add_t_x(f.history.t_x);
    pending.add_big_t(f.history.T);
  }
  for (const projections::RiskExample& e : request.risk_examples) {
    // Lossless: the features come from CustomerState.risk_snapshot, in floats.
    for (double f : e.features) pending.add_risk_features(static_cast<float>(f));
    pending.add_risk_churned(e.churned);
  }
  pending.set_risk_horizon_days(request.risk_horizon_days);
  if (request.previous_risk) *pending.mutable_previous_risk() = *request.previous_risk;
  if (request.previous_bgnbd) *pending.mutable_previous_bgnbd() = *request.previous_bgnbd;
  pending.set_interval_records(request.interval_records);
  return pending;
}

FitRequest FitRequestOf(const guanxi::v1::PendingRefit& pending, int32_t partition,
                        const guanxi::v1::ClassificationConfig& config,
                        std::shared_ptr<ModelSink> sink) {
  FitRequest request{.partition = partition,
                     .config = config,
                     .population = pending.population(),
                     .purchasers = pending.purchasers(),
                     .as_of = pending.as_of(),
                     .land_at = pending.land_at(),
                     .sink = std::move(sink),
                     .interval_records = pending.interval_records()};
  const int n = pending.recency_days_size();
  request.figures.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    request.figures.push_back(
        {.rfm = {.recency_days = pending.recency_days(i),
                 .frequency = pending.frequency(i),
                 .monetary_minor = pending.monetary_minor(i)},
         .history = {.x = pending.x(i), .t_x = pending.t_x(i), .T = pending.big_t(i)}});
  }
  request.risk_horizon_days = pending.risk_horizon_days();
  request.risk_examples.resize(static_cast<size_t>(pending.risk_churned_size()));
  for (int i = 0; i < pending.risk_churned_size(); ++i) {
    projections::RiskExample& e = request.risk_examples[static_cast<size_t>(i)];
    for (int j = 0; j < projections::kRiskFeatures; ++j) {
      e.features[static_cast<size_t>(j)] = pending.risk_features(i * projections::kRiskFeatures + j);
    }
    e.churned = pending.risk_churned(i);
  }
  if (pending.has_previous_risk()) request.previous_risk = pending.previous_risk();
  if (pending.has_previous_bgnbd()) request.previous_bgnbd = pending.previous_bgnbd();
  return request;
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
    if (request.sink) request.sink->Deliver(request.land_at, std::move(record));
    absl::MutexLock lock(&mu_);
    running_ = false;
    ++fitted_;
  }
}

}  // namespace guanxi::engine
