// The model records a partition's projector asked for, by the log position each lands
// at (at the latest): the writer's side of ModelSink. The projector announces a model
// when it asks for the fit (Expect) and the fitter delivers the record (Deliver); the
// partition's writer lands each at its position (Partition), waiting for the fit if it
// gets there first.
//
//   slots->Expect(p);                 // projector thread
//   slots->Deliver(p, record);        // fitter thread
//   if (auto due = slots->Earliest(); due && *due <= head) record = slots->TakeEarliest();
//
// Thread-safe. Shared (shared_ptr) by the partition and the fits in flight, so a fit that
// ends after its partition was revoked delivers into a slot nobody reads.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/projection/model_fitter.h"
#include "guanxi/v1/log.pb.h"

namespace guanxi::engine {

class ModelSlots final : public ModelSink {
 public:
  void Expect(uint64_t land_at) override;
  void Deliver(uint64_t land_at, guanxi::v1::LogRecord record) override;

  // The earliest landing position expected, if any.
  std::optional<uint64_t> Earliest() const;
  // Removes the earliest expected model and returns its record, once fitted; nullopt if
  // none is expected, or after `timeout` without its fit.
  std::optional<guanxi::v1::LogRecord> TakeEarliest(absl::Duration timeout);
  // Removes and returns the fitted models in landing order, up to the first one not
  // fitted yet.
  std::vector<guanxi::v1::LogRecord> TakeFitted();

 private:
  mutable absl::Mutex mu_;
  std::map<uint64_t, std::optional<guanxi::v1::LogRecord>> slots_ ABSL_GUARDED_BY(mu_);
};

}  // namespace guanxi::engine
