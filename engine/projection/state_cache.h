// The customer states of one partition's projector, in memory and parsed, bounded in
// bytes: an event updates the cached state in place, and the states changed since the
// last commit (dirty) are written back to the store in that commit's one WriteBatch.
// So a customer active in consecutive commits is read and parsed once, not once per
// commit.
//
//   StateCache cache(budget);                      // budget shared by every partition
//   CustomerState* s = cache.Find(id);             // null on a miss: load, then Insert
//   if (!s) s = cache.Insert(id, std::move(loaded));
//   ... change *s ...                              // Insert and Find mark it dirty
//   cache.ForEachDirty([&](const CustomerState& s) { batch.PutState(s); });
//   commit; cache.Committed();                     // clean again, then evicts to budget
//
// The bound: every cache of a process charges one StateCacheBudget. After a commit a
// cache evicts its least recently used states while the process is over the budget and
// the cache holds more than its share (budget / caches). Dirty states are never evicted
// (they are not in the store yet), so between commits a cache may exceed its share by
// what one commit changes. A state is charged its serialized size times
// kParsedBytesPerSerializedByte plus kEntryOverheadBytes (an estimate of the parsed
// message and the index; docs/storage.md, "The memory budget").
//
// Thread-compatible: one thread per cache (its projector's). The budget is thread-safe.
// Pointers returned by Find and Insert stay valid until the next Committed() or Clear().
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "guanxi/v1/state.pb.h"

namespace guanxi::engine {

// The byte budget every partition's StateCache of one process charges.
class StateCacheBudget {
 public:
  explicit StateCacheBudget(int64_t limit_bytes) : limit_(limit_bytes) {}
  int64_t limit() const { return limit_; }
  int64_t used() const { return used_.load(std::memory_order_relaxed); }
  int caches() const { return caches_.load(std::memory_order_relaxed); }

 private:
  friend class StateCache;
  const int64_t limit_;
  std::atomic<int64_t> used_{0};
  std::atomic<int> caches_{0};
};

class StateCache {
 public:
  // Measured on the engine's states (SpaceUsedLong against ByteSizeLong: 2,720 bytes
  // parsed for 453 serialized), with the allocator's headers on top.
  static constexpr int64_t kParsedBytesPerSerializedByte = 7;
  static constexpr int64_t kEntryOverheadBytes = 256;

  // `budget` is shared (null: a private one of `private_limit_bytes`).
  explicit StateCache(std::shared_ptr<StateCacheBudget> budget,
                      int64_t private_limit_bytes = int64_t{64} << 20);
  ~StateCache();
  StateCache(const StateCache&) = delete;
  StateCache& operator=(const StateCache&) = delete;

  // The cached state of the customer, marked dirty and most recently used; null if it
  // is not cached.
  guanxi::v1::CustomerState* Find(const std::string& customer_id);
  // Caches `state` (as loaded from the store, or new) dirty, and returns it.
  guanxi::v1::CustomerState* Insert(const std::string& customer_id,
                                    guanxi::v1::CustomerState state);
  // As Insert, but least recently used: after the commit that writes it, it is the first
  // evicted (a pass over the whole population does not push the active customers out).
  guanxi::v1::CustomerState* InsertCold(const std::string& customer_id,
                                        guanxi::v1::CustomerState state);
  // The state if cached, without marking it (for readers of a committed state).
  const guanxi::v1::CustomerState* Peek(const std::string& customer_id) const;

  // Each state changed since the last Committed(), in no particular order.
  void ForEachDirty(const std::function<void(const guanxi::v1::CustomerState&)>& visit) const;
  size_t dirty() const { return dirty_.size(); }
  // The dirty states are in the store now, each serialized since it last changed (as
  // ProjectionStore::Batch::PutState does, which sets its cached size): marks them clean,
  // charges their size, and evicts down to this cache's share of the budget.
  void Committed();
  // Forgets everything (dirty states included).
  void Clear();

  size_t size() const { return entries_.size(); }
  int64_t charged_bytes() const { return charged_; }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }
  uint64_t evictions() const { return evictions_; }

 private:
  struct Entry {
    guanxi::v1::CustomerState state;
    std::list<std::string>::iterator lru;  // in lru_, most recent first
    int64_t charge = 0;
    bool dirty = false;
  };
  static int64_t ChargeOf(const std::string& customer_id, size_t serialized_bytes);
  void MarkDirty(Entry& entry);
  guanxi::v1::CustomerState* Put(const std::string& customer_id, guanxi::v1::CustomerState state,
                                 bool recent);
  void Charge(int64_t delta);

  std::shared_ptr<StateCacheBudget> budget_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;
  std::vector<Entry*> dirty_;
  int64_t charged_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace guanxi::engine
