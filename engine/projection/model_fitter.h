// Fits population models (projections::FitPopulation) on a thread of its own, so a
// refit never stalls the projection of its partition: the projector gathers the compact
// figures of its customers at the record that made the refit due (a function of the log
// up to there), hands them here, and goes on; the fitted ModelRecord goes to the
// request's `done`, which appends it through the partition's writer. Where it lands in
// the log depends on when the fit ends; what it holds does not.
//
//   ModelFitter fitter;                                  // one per process
//   fitter.Submit({.config = ..., .figures = ..., .done = [](LogRecord r) { ... }});
//   fitter.WaitIdle();                                   // nothing queued or running
//
// Thread-safe. Fits run one at a time, in submission order. The destructor waits for
// the fit in progress and drops those queued (their partitions' next owner refits).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "google/protobuf/timestamp.pb.h"
#include "guanxi/v1/config.pb.h"
#include "guanxi/v1/log.pb.h"
#include "projections/population.h"

namespace guanxi::engine {

struct FitRequest {
  int32_t partition = 0;
  guanxi::v1::ClassificationConfig config{};
  std::vector<projections::FitFigures> figures{};
  int64_t population = 0;
  google::protobuf::Timestamp as_of{};
  // Called on the fitter's thread with the model record (partitions set).
  std::function<void(guanxi::v1::LogRecord)> done{};
};

// The model record of a fit (synchronous): what ModelFitter hands to `done`.
guanxi::v1::LogRecord FitModelRecord(const FitRequest& request);

class ModelFitter {
 public:
  ModelFitter();
  ~ModelFitter();
  ModelFitter(const ModelFitter&) = delete;
  ModelFitter& operator=(const ModelFitter&) = delete;

  void Submit(FitRequest request);
  // Waits until nothing is queued or running.
  void WaitIdle();
  uint64_t fitted() const;

 private:
  void Loop();

  mutable absl::Mutex mu_;
  std::deque<FitRequest> queue_ ABSL_GUARDED_BY(mu_);
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t fitted_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace guanxi::engine
