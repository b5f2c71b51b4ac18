// Fits population models (projections::FitPopulation) on a thread of its own, so a
// refit never stalls the projection of its partition: the projector gathers the compact
// figures of its customers at the record that made the refit due (a function of the log
// up to there), hands them here, and goes on; the fitted ModelRecord goes to the
// request's `sink`, the partition's writer, which appends it at the position the
// request names (ModelSink). What it holds and where it lands depend on the log only.
//
//   ModelFitter fitter;                                  // one per process
//   fitter.Submit({.config = ..., .figures = ..., .land_at = p, .sink = slots});
//   fitter.WaitIdle();                                   // nothing queued or running
//
// Thread-safe. Fits run one at a time, in submission order. The destructor waits for
// the fit in progress and drops those queued (their partitions' next owner refits).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "google/protobuf/timestamp.pb.h"
#include "guanxi/v1/config.pb.h"
#include "guanxi/v1/log.pb.h"
#include "guanxi/v1/projection.pb.h"
#include "projections/churn/risk.h"
#include "projections/population.h"

namespace guanxi::engine {

// Where one partition's model records go: its writer. The projector announces a model
// when it asks for the fit (Expect), so the writer holds its log at the model's landing
// position until the record is there; the record follows once fitted (Deliver, on the
// fitter's thread). Thread-safe.
class ModelSink {
 public:
  virtual ~ModelSink() = default;
  virtual void Expect(uint64_t land_at) = 0;
  virtual void Deliver(uint64_t land_at, guanxi::v1::LogRecord record) = 0;
};

struct FitRequest {
  int32_t partition = 0;
  guanxi::v1::ClassificationConfig config{};
  std::vector<projections::FitFigures> figures{};
  int64_t population = 0;
  // The customers with a purchase `figures` were sampled from (FitSample); 0 or
  // figures.size(): all of them.
  int64_t purchasers = 0;
  google::protobuf::Timestamp as_of{};
  // The log position the model record lands at (at the latest), and where it goes: its
  // Deliver is called on the fitter's thread with the record (partitions set).
  uint64_t land_at = 0;
  std::shared_ptr<ModelSink> sink{};
  // The churn risk's calibration (projections::RiskExampleOf, sampled as `figures` are),
  // its horizon, and the churn risk model in force, kept when nothing can be calibrated.
  std::vector<projections::RiskExample> risk_examples{};
  int32_t risk_horizon_days = 0;
  std::optional<guanxi::v1::ChurnRiskModel> previous_risk{};
  // The BG/NBD model in force, if it converged: where the fit starts (FitPopulation).
  std::optional<guanxi::v1::BgNbdModel> previous_bgnbd{};
  // The records applied since the refit before was due (RefitSchedule.last_due_position):
  // what paces the model's reclassification (ReclassifyPerRecord). 0: not known.
  uint64_t interval_records = 0;
};

// How many customers a model record reclassifies after each record applied
// (ModelRecord.reclassify_per_record), so that no record waits for a whole partition:
// enough to finish the pass within half as many records as the partition applied in the
// refit interval before (`interval_records`), at least 1 and at most
// kMaxReclassifyPerRecord (about half a millisecond of work, some 16 microseconds a
// customer on the benchmark machine; 0 interval records: that most). Paced to the
// partition's own traffic, the pass costs each record little where every partition
// reclassifying 32 a record at once took the cores from the events (docs/architecture.md,
// "Reclassifying a partition"); a pass that would need more than the most per record
// ends at the next refit's due time or when the partition is quiet, as before.
inline constexpr uint32_t kMaxReclassifyPerRecord = 32;
uint32_t ReclassifyPerRecord(int64_t population, uint64_t interval_records);

// The model record of a fit (synchronous): what ModelFitter hands to the sink. It
// reclassifies ReclassifyPerRecord(population, interval_records) customers a record.
guanxi::v1::LogRecord FitModelRecord(const FitRequest& request);

// A request's input as stored with the refit bookkeeping, and back.
guanxi::v1::PendingRefit PendingRefitOf(const FitRequest& request);
FitRequest FitRequestOf(const guanxi::v1::PendingRefit& pending, int32_t partition,
                        const guanxi::v1::ClassificationConfig& config,
                        std::shared_ptr<ModelSink> sink);

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
