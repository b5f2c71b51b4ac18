#include "engine/partition/model_slots.h"

#include <utility>

namespace guanxi::engine {

void ModelSlots::Expect(uint64_t land_at) {
  absl::MutexLock lock(&mu_);
  slots_.try_emplace(land_at);
}

void ModelSlots::Deliver(uint64_t land_at, guanxi::v1::LogRecord record) {
  absl::MutexLock lock(&mu_);
  slots_[land_at] = std::move(record);
}

std::optional<uint64_t> ModelSlots::Earliest() const {
  absl::MutexLock lock(&mu_);
  if (slots_.empty()) return std::nullopt;
  return slots_.begin()->first;
}

std::optional<guanxi::v1::LogRecord> ModelSlots::TakeEarliest(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto fitted = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return slots_.empty() || slots_.begin()->second.has_value();
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&fitted), timeout) || slots_.empty()) {
    return std::nullopt;
  }
  guanxi::v1::LogRecord record = std::move(*slots_.begin()->second);
  slots_.erase(slots_.begin());
  return record;
}

std::vector<guanxi::v1::LogRecord> ModelSlots::TakeFitted() {
  absl::MutexLock lock(&mu_);
  std::vector<guanxi::v1::LogRecord> records;
  while (!slots_.empty() && slots_.begin()->second.has_value()) {
    records.push_back(std::move(*slots_.begin()->second));
    slots_.erase(slots_.begin());
  }
  return records;
}

}  // namespace guanxi::engine
