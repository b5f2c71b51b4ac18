#include "engine/projection/state_cache.h"

#include <algorithm>
#include <utility>

namespace guanxi::engine {

StateCache::StateCache(std::shared_ptr<StateCacheBudget> budget, int64_t private_limit_bytes)
    : budget_(budget ? std::move(budget)
                     : std::make_shared<StateCacheBudget>(private_limit_bytes)) {
  budget_->caches_.fetch_add(1, std::memory_order_relaxed);
}

StateCache::~StateCache() {
  Clear();
  budget_->caches_.fetch_sub(1, std::memory_order_relaxed);
}

int64_t StateCache::ChargeOf(const std::string& customer_id, size_t serialized_bytes) {
  return kEntryOverheadBytes + static_cast<int64_t>(customer_id.size()) * 2 +
         kParsedBytesPerSerializedByte * static_cast<int64_t>(serialized_bytes);
}

void StateCache::Charge(int64_t delta) {
  charged_ += delta;
  budget_->used_.fetch_add(delta, std::memory_order_relaxed);
}

void StateCache::MarkDirty(Entry& entry) {
  if (entry.dirty) return;
  entry.dirty = true;
  dirty_.push_back(&entry);
}

guanxi::v1::CustomerState* StateCache::Find(const std::string& customer_id) {
  auto it = entries_.find(customer_id);
  if (it == entries_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  Entry& entry = it->second;
  lru_.splice(lru_.begin(), lru_, entry.lru);
  MarkDirty(entry);
  return &entry.state;
}

guanxi::v1::CustomerState* StateCache::Insert(const std::string& customer_id,
                                              guanxi::v1::CustomerState state) {
  return Put(customer_id, std::move(state), /*recent=*/true);
}

guanxi::v1::CustomerState* StateCache::InsertCold(const std::string& customer_id,
                                                  guanxi::v1::CustomerState state) {
  return Put(customer_id, std::move(state), /*recent=*/false);
}

guanxi::v1::CustomerState* StateCache::Put(const std::string& customer_id,
                                           guanxi::v1::CustomerState state, bool recent) {
  auto [it, inserted] = entries_.try_emplace(customer_id);
  Entry& entry = it->second;
  entry.state = std::move(state);
  const auto at = recent ? lru_.begin() : lru_.end();
  if (inserted) {
    entry.lru = lru_.insert(at, customer_id);
    // Charged its real size at the commit that writes it.
    entry.charge = ChargeOf(customer_id, 0);
    Charge(entry.charge);
  } else {
    lru_.splice(at, lru_, entry.lru);
  }
  MarkDirty(entry);
  return &entry.state;
}

const guanxi::v1::CustomerState* StateCache::Peek(const std::string& customer_id) const {
  auto it = entries_.find(customer_id);
  return it == entries_.end() ? nullptr : &it->second.state;
}

void StateCache::ForEachDirty(
    const std::function<void(const guanxi::v1::CustomerState&)>& visit) const {
  for (const Entry* entry : dirty_) visit(entry->state);
}

void StateCache::Committed() {
  for (Entry* entry : dirty_) {
    entry->dirty = false;
    const int64_t charge =
        ChargeOf(entry->state.customer_id(), static_cast<size_t>(entry->state.GetCachedSize()));
    Charge(charge - entry->charge);
    entry->charge = charge;
  }
  dirty_.clear();
  // Evict the least recently used while the process is over its budget and this cache
  // holds more than its share (so an idle partition's states go first, and a busy one
  // keeps at least its share).
  const int64_t share = budget_->limit() / std::max(1, budget_->caches());
  while (!lru_.empty() && charged_ > share && budget_->used() > budget_->limit()) {
    auto it = entries_.find(lru_.back());
    Charge(-it->second.charge);
    entries_.erase(it);
    lru_.pop_back();
    ++evictions_;
  }
}

void StateCache::Clear() {
  Charge(-charged_);
  entries_.clear();
  lru_.clear();
  dirty_.clear();
}

}  // namespace guanxi::engine
