#include "engine/projection/state_cache.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace guanxi::engine {
namespace {

guanxi::v1::CustomerState StateOf(const std::string& id) {
  guanxi::v1::CustomerState state;
  state.set_customer_id(id);
  return state;
}

// Serializes every dirty state, as ProjectionStore::Batch::PutState does, and commits.
void Commit(StateCache& cache) {
  cache.ForEachDirty([](const guanxi::v1::CustomerState& s) { (void)s.SerializeAsString(); });
  cache.Committed();
}

// What a cache charges for one of the states above (a one-letter id).
int64_t ChargeOfOne() {
  return StateCache::kEntryOverheadBytes + 2 +
         StateCache::kParsedBytesPerSerializedByte *
             static_cast<int64_t>(StateOf("a").ByteSizeLong());
}

TEST(StateCacheTest, FindReturnsTheInsertedStateAndMarksItDirty) {
  StateCache cache(nullptr);
  EXPECT_EQ(cache.Find("a"), nullptr);
  cache.Insert("a", StateOf("a"))->set_events_applied(3);
  EXPECT_EQ(cache.dirty(), 1u);
  Commit(cache);
  EXPECT_EQ(cache.dirty(), 0u);
  guanxi::v1::CustomerState* a = cache.Find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->events_applied(), 3u);
  EXPECT_EQ(cache.dirty(), 1u);
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 1u);
}

TEST(StateCacheTest, DirtyStatesAreVisitedOnceAndNeverEvicted) {
  auto budget = std::make_shared<StateCacheBudget>(1);  // smaller than any state
  StateCache cache(budget);
  for (const char* id : {"a", "b", "c"}) cache.Insert(id, StateOf(id));
  cache.Find("a");  // dirty already: not listed twice
  int visited = 0;
  cache.ForEachDirty([&](const guanxi::v1::CustomerState&) { ++visited; });
  EXPECT_EQ(visited, 3);
  EXPECT_EQ(cache.size(), 3u);  // over budget, but nothing is committed yet
  Commit(cache);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.evictions(), 3u);
  EXPECT_EQ(budget->used(), 0);
}

TEST(StateCacheTest, EvictsTheLeastRecentlyUsedFirst) {
  const int64_t one = ChargeOfOne();
  auto budget = std::make_shared<StateCacheBudget>(2 * one);
  StateCache cache(budget);
  for (const char* id : {"a", "b", "c"}) {
    cache.Insert(id, StateOf(id));
    Commit(cache);
  }
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.Peek("a"), nullptr);
  ASSERT_NE(cache.Find("b"), nullptr);  // b is now the most recent: c goes next
  Commit(cache);
  cache.Insert("d", StateOf("d"));
  Commit(cache);
  EXPECT_NE(cache.Peek("b"), nullptr);
  EXPECT_EQ(cache.Peek("c"), nullptr);
  EXPECT_NE(cache.Peek("d"), nullptr);
  EXPECT_LE(budget->used(), budget->limit());
}

// A state put in cold (a reclassification pass) goes before the customers in use.
TEST(StateCacheTest, AStateInsertedColdIsEvictedFirst) {
  const int64_t one = ChargeOfOne();
  auto budget = std::make_shared<StateCacheBudget>(2 * one);
  StateCache cache(budget);
  for (const char* id : {"a", "b"}) {
    cache.Insert(id, StateOf(id));
    Commit(cache);
  }
  cache.InsertCold("c", StateOf("c"))->set_events_applied(1);
  EXPECT_EQ(cache.dirty(), 1u);
  Commit(cache);
  EXPECT_EQ(cache.Peek("c"), nullptr);  // with Insert, "a" would have gone
  EXPECT_NE(cache.Peek("a"), nullptr);
  EXPECT_NE(cache.Peek("b"), nullptr);
}

// A busy cache uses what the others leave of the budget; one under its share keeps it.
TEST(StateCacheTest, CachesSharingABudgetStayWithinIt) {
  auto budget = std::make_shared<StateCacheBudget>(4000);
  StateCache busy(budget), idle(budget);
  idle.Insert("x", StateOf("x"));
  Commit(idle);
  for (int i = 0; i < 100; ++i) {
    const std::string id = "c" + std::to_string(i);
    busy.Insert(id, StateOf(id));
    Commit(busy);
  }
  EXPECT_LE(budget->used(), budget->limit());
  EXPECT_GT(busy.charged_bytes(), budget->limit() / 2);
  EXPECT_GT(busy.evictions(), 0u);
  EXPECT_NE(idle.Peek("x"), nullptr);  // under its share: kept
  EXPECT_EQ(budget->used(), busy.charged_bytes() + idle.charged_bytes());
}

TEST(StateCacheTest, ClearReleasesTheBudget) {
  auto budget = std::make_shared<StateCacheBudget>(1 << 20);
  {
    StateCache cache(budget);
    cache.Insert("a", StateOf("a"));
    Commit(cache);
    EXPECT_GT(budget->used(), 0);
    EXPECT_EQ(budget->caches(), 1);
  }
  EXPECT_EQ(budget->used(), 0);
  EXPECT_EQ(budget->caches(), 0);
}

}  // namespace
}  // namespace guanxi::engine
