// The projection workers against replay: random event streams appended in random
// batches, with duplicates, late events, ticks and restarts, give live projections
// identical (key for key) to a replay from position 0.
#include "engine/projection/projector.h"

#include <algorithm>
#include <deque>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/config/config.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/projection_store.h"
#include "engine/partition/model_slots.h"
#include "engine/projection/model_fitter.h"
#include "engine/projection/replay.h"
#include "engine/projection/worker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/event_log_test_util.h"

namespace guanxi::engine {
namespace {

using ::guanxi::engine::testing::TempDir;
using guanxi::v1::LogRecord;

constexpr int64_t kDay = 86400;
constexpr int64_t kStart = 1735689600;  // 2025-01-01

// A population model as a refit would append it (figures made up, but plausible).
LogRecord ModelAt(int64_t seconds) {
  LogRecord r;
  auto* m = r.mutable_model();
  m->mutable_as_of()->set_seconds(seconds);
  m->set_population(60);
  m->add_partitions(0);
  m->mutable_abc()->set_a_share(0.8);
  m->mutable_abc()->set_b_share(0.15);
  m->mutable_abc()->set_a_min_revenue_minor(600000);
  m->mutable_abc()->set_b_min_revenue_minor(150000);
  for (double v : {20.0, 45.0, 90.0, 200.0}) m->mutable_rfm()->add_recency_days(v);
  for (double v : {1.0, 2.0, 4.0, 7.0}) m->mutable_rfm()->add_frequency(v);
  for (double v : {50000.0, 200000.0, 500000.0, 1200000.0}) m->mutable_rfm()->add_monetary_minor(v);
  auto* b = m->mutable_bgnbd();
  b->set_r(0.24);
  b->set_alpha(4.4);
  b->set_a(0.79);
  b->set_b(2.4);
  b->set_time_unit_days(7);
  b->set_converged(true);
  return r;
}

// A random but reproducible stream of one partition's records: customers with bursts of
// activity and long quiet spells (so inactivity timers fire), some events late, some
// sent twice, and ticks.
std::vector<LogRecord> RandomStream(uint64_t seed, int customers) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  std::vector<LogRecord> records;
  for (int c = 0; c < customers; ++c) {
    const std::string customer = absl::StrCat("c", seed, "-", c);
    int64_t t = kStart + uniform(0, 60) * kDay;
    const int events = static_cast<int>(uniform(1, 40));
    for (int i = 0; i < events; ++i) {
      // Mostly days apart, sometimes a quiet spell of months.
      t += uniform(0, 5) == 0 ? uniform(80, 250) * kDay : uniform(1, 20) * kDay;
      LogRecord r;
      auto* e = r.mutable_event();
      e->set_event_id(absl::StrCat(customer, "-e", i));
      e->set_customer_id(customer);
      // A late event: up to 30 days before its predecessor.
      e->mutable_occurred_at()->set_seconds(uniform(0, 9) == 0 ? t - uniform(1, 30) * kDay : t);
      // Two sources, so the clock is a watermark over them across restarts and replay.
      e->set_source(c % 3 == 0 ? "erp" : "test");
      switch (uniform(0, 9)) {
        case 0:
        case 1:
        case 2: {
          auto* o = e->mutable_order();
          o->set_order_id(absl::StrCat("o", i));
          o->set_kind(uniform(0, 9) == 0 ? v1::ORDER_KIND_CANCELLATION : v1::ORDER_KIND_ORDER);
          o->mutable_amount()->set_minor_units(uniform(100, 500000));
          break;
        }
        case 3:
          e->mutable_visit()->set_outcome(static_cast<v1::Outcome>(uniform(1, 3)));
          break;
        case 4: {
          auto* call = e->mutable_call();
          call->set_direction(uniform(0, 1) ? v1::CALL_DIRECTION_INBOUND
                                            : v1::CALL_DIRECTION_OUTBOUND);
          call->set_resolved(uniform(0, 1) == 1);
          call->set_sentiment(static_cast<double>(uniform(-10, 10)) / 10.0);
          break;
        }
        case 5:
          e->mutable_complaint()->set_complaint_id(absl::StrCat("k", i));
          e->mutable_complaint()->set_severity(static_cast<v1::Severity>(uniform(1, 4)));
          break;
        case 6:
          e->mutable_complaint_resolved()->set_complaint_id(absl::StrCat("k", i - 1));
          e->mutable_complaint_resolved()->set_customer_satisfied(uniform(0, 1) == 1);
          break;
        case 7:
          e->mutable_contract()->set_contract_id("k");
          e->mutable_contract()->set_milestone(uniform(0, 2) == 0
                                                   ? v1::CONTRACT_MILESTONE_KIND_TERMINATED
                                                   : v1::CONTRACT_MILESTONE_KIND_SIGNED);
          break;
        case 8: {
          auto* s = e->mutable_survey();
          s->set_satisfaction(static_cast<double>(uniform(1, 5)));
          s->set_scale_min(1);
          s->set_scale_max(5);
          break;
        }
        default: {
          auto* cc = e->mutable_contact_change();
          cc->set_contact_id(absl::StrCat("p", uniform(0, 2)));
          cc->set_change(uniform(0, 1) ? v1::CONTACT_CHANGE_KIND_LEFT
                                       : v1::CONTACT_CHANGE_KIND_JOINED);
          cc->set_champion(uniform(0, 1) == 1);
          break;
        }
      }
      records.push_back(r);
    }
  }
  // Interleave customers roughly by time, with jitter (arrival order is not time order).
  std::vector<std::pair<int64_t, size_t>> order;
  for (size_t i = 0; i < records.size(); ++i) {
    order.emplace_back(records[i].event().occurred_at().seconds() + uniform(-3, 3) * kDay, i);
  }
  std::sort(order.begin(), order.end());
  std::vector<LogRecord> stream;
  int64_t latest = 0;
  for (const auto& [when, i] : order) {
    stream.push_back(records[i]);
    latest = std::max(latest, records[i].event().occurred_at().seconds());
    if (uniform(0, 49) == 0) {  // a tick a little ahead of the events
      LogRecord tick;
      tick.mutable_tick()->mutable_event_time()->set_seconds(latest + uniform(0, 10) * kDay);
      stream.push_back(tick);
    }
    if (uniform(0, 19) == 0) stream.push_back(records[i]);  // a re-send
    if (stream.size() % 700 == 0) {
      // Every other model reclassifies a few customers a record (1 to 3), the others
      // everyone at once, as the logs before reclassify_per_record hold.
      LogRecord model = ModelAt(latest);
      model.mutable_model()->set_reclassify_per_record(
          static_cast<uint32_t>((stream.size() / 700) % 2 == 0 ? (stream.size() / 1400) % 3 + 1 : 0));
      stream.push_back(model);
    }
  }
  // A final tick far ahead: every quiet customer's timers fire.
  LogRecord last;
  last.mutable_tick()->mutable_event_time()->set_seconds(latest + 400 * kDay);
  stream.push_back(last);
  return stream;
}

struct LiveStore {
  std::unique_ptr<EventLog> log;
  std::unique_ptr<ProjectionStore> store;

  void Open(const std::string& dir) {
    store.reset();
    log.reset();
    EventLogOptions options;
    options.partition = 0;
    options.extra_column_families = ProjectionStore::ColumnFamilies();
    auto opened = EventLog::Open(dir, options);
    ASSERT_TRUE(opened.ok()) << opened.status();
    log = std::move(*opened);
    auto attached = ProjectionStore::Attach(log.get());
    ASSERT_TRUE(attached.ok()) << attached.status();
    store = std::move(*attached);
  }
};

ReplayResult Replay(const std::string& data_dir, const std::string& scratch,
                    const v1::EngineConfig& config = DefaultEngineConfig()) {
  const std::atomic<bool> stop{false};
  auto result = ReplayPartition(
      {.data_dir = data_dir, .partition = 0, .scratch_dir = scratch, .config = config}, stop);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : ReplayResult{};
}

// Counts the customers per lifecycle stage.
std::map<v1::LifecycleStage, int> Stages(const ProjectionStore& store) {
  std::map<v1::LifecycleStage, int> stages;
  EXPECT_TRUE(store
                  .ForEachState([&](const v1::CustomerState& s) {
                    ++stages[s.stage()];
                    return true;
                  })
                  .ok());
  return stages;
}

class ProjectorPropertyTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(ProjectorPropertyTest, LiveWithRestartsEqualsReplay) {
  const uint64_t seed = GetParam();
  std::mt19937_64 rng(seed * 7919);
  auto uniform = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  TempDir data;
  const std::string dir = PartitionDir(data.path(), 0);
  std::vector<LogRecord> stream = RandomStream(seed, 60);

  LiveStore live;
  live.Open(dir);
  const std::atomic<bool> stop{false};
  // Odd seeds: a state cache far smaller than the partition's customers, so states are
  // evicted and loaded again between commits.
  auto budget = std::make_shared<StateCacheBudget>(seed % 2 == 1 ? 4096 : int64_t{64} << 20);
  // Live holds 1 to 4 timers in memory and reads the others from the store as they come
  // due (TimerQueue); the replay below holds them all.
  auto make_projector = [&] {
    auto p = PartitionProjector::Create(live.log.get(), live.store.get(),
                                        {.partition = 0,
                                         .config = DefaultEngineConfig(),
                                         .chunk = static_cast<size_t>(uniform(1, 300)),
                                         .state_cache = budget,
                                         .timers_in_memory = static_cast<size_t>(uniform(1, 4))});
    EXPECT_TRUE(p.ok()) << p.status();
    return std::move(*p);
  };
  auto projector = make_projector();
  // Records handed over in memory as a worker gets them from the writer; some batches
  // are not (as when the hand-over overflows), and a restart loses them all.
  std::deque<LogRecord> handed_over;
  uint64_t records = 0, read_from_log = 0, evictions = 0;
  auto count = [&] {
    records += projector->stats().records;
    read_from_log += projector->stats().read_from_log;
    evictions += projector->state_cache().evictions();
  };
  int restarts = 0;
  size_t next = 0;
  while (next < stream.size()) {
    const size_t n = std::min<size_t>(stream.size() - next, static_cast<size_t>(uniform(1, 60)));
    std::vector<LogRecord> batch(stream.begin() + static_cast<std::ptrdiff_t>(next),
                                 stream.begin() + static_cast<std::ptrdiff_t>(next + n));
    next += n;
    ASSERT_TRUE(live.log->Append(absl::MakeSpan(batch), {}).ok());
    if (uniform(0, 3) != 0) handed_over.insert(handed_over.end(), batch.begin(), batch.end());
    if (uniform(0, 2) == 0) {
      // Applies part of what is there, as a worker stopped mid-way would.
      const uint64_t head = live.log->next_position();
      const uint64_t to = static_cast<uint64_t>(
          uniform(static_cast<int64_t>(projector->next_position()), static_cast<int64_t>(head)));
      ASSERT_TRUE(projector->CatchUp(to, stop, nullptr, &handed_over).ok());
    }
    if (uniform(0, 3) == 0) {  // a restart: everything reopened from disk
      count();
      projector.reset();
      handed_over.clear();
      live.Open(dir);
      projector = make_projector();
      ++restarts;
    }
  }
  ASSERT_TRUE(projector->CatchUp(live.log->next_position(), stop, nullptr, &handed_over).ok());
  count();
  EXPECT_GT(restarts, 0);
  EXPECT_GT(read_from_log, 0u);
  EXPECT_LT(read_from_log, records);
  if (seed % 2 == 1) {
    EXPECT_GT(evictions, 0u);
  }
  projector.reset();
  live = LiveStore{};

  TempDir scratch;
  const ReplayResult replay = Replay(data.path(), scratch.path());
  EXPECT_TRUE(replay.live_projections);
  EXPECT_EQ(replay.replayed_to, replay.log_records);
  EXPECT_TRUE(replay.differences.empty()) << replay.differences.front();
  // The streams exercise what they should: timers fire and stages move both ways.
  EXPECT_GT(replay.stats.timers, 0u);
  EXPECT_GT(replay.stats.facts, replay.stats.events / 10);
  EXPECT_GT(replay.stats.warnings, 0u);  // churn-warning notices are replayed too
  EXPECT_GT(replay.stats.reclassified, 0u);

  live.Open(dir);
  const auto stages = Stages(*live.store);
  EXPECT_GT(stages.count(v1::LIFECYCLE_STAGE_LOST), 0u);
  int total = 0;
  for (const auto& [stage, n] : stages) total += n;
  EXPECT_EQ(total, 60);
}

INSTANTIATE_TEST_SUITE_P(Seeds, ProjectorPropertyTest, ::testing::Values(1, 2, 3, 4, 5));

LogRecord VisitBy(const std::string& source, const std::string& customer, int64_t day) {
  LogRecord r;
  auto* e = r.mutable_event();
  e->set_event_id(absl::StrCat(source, "-", customer, "-", day));
  e->set_customer_id(customer);
  e->set_source(source);
  e->mutable_occurred_at()->set_seconds(kStart + day * kDay);
  e->mutable_visit()->set_outcome(v1::OUTCOME_POSITIVE);
  return r;
}

// Issue 20: a few ERP rows dated months ahead of a call-center stream moved the
// partition's clock, and with it every customer, forward: nearly all went lost. The
// clock is the earliest active source's, so the call center's customers keep their
// story; the ERP's own customer is told in its own event time (its timers fire before
// its event, though the partition's clock is months behind).
TEST(ProjectorTest, ASourceRunningAheadDoesNotAgeTheOtherSourcesCustomers) {
  TempDir data;
  LiveStore live;
  live.Open(PartitionDir(data.path(), 0));
  std::vector<LogRecord> stream;
  stream.push_back(VisitBy("erp", "erp-y", 0));
  for (int64_t day = 0; day <= 100; day += 10) {
    for (int c = 0; c < 10; ++c) stream.push_back(VisitBy("callcenter", absl::StrCat("cc-", c), day));
    if (day == 50) stream.push_back(VisitBy("erp", "erp-x", 400));  // months ahead
  }
  stream.push_back(VisitBy("erp", "erp-y", 300));  // after 300 quiet days of its own
  ASSERT_TRUE(live.log->Append(absl::MakeSpan(stream), {}).ok());
  auto projector = PartitionProjector::Create(live.log.get(), live.store.get(),
                                              {.config = DefaultEngineConfig()});
  ASSERT_TRUE(projector.ok()) << projector.status();
  const std::atomic<bool> stop{false};
  ASSERT_TRUE((*projector)->CatchUp(live.log->next_position(), stop).ok());
  // The call center's latest event time, not the ERP's.
  EXPECT_EQ((*projector)->clock_seconds(), kStart + 100 * kDay);
  int callcenter = 0;
  ASSERT_TRUE(live.store
                  ->ForEachState([&](const v1::CustomerState& s) {
                    if (s.customer_id().starts_with("cc-")) {
                      ++callcenter;
                      EXPECT_NE(s.stage(), v1::LIFECYCLE_STAGE_LOST) << s.customer_id();
                      EXPECT_NE(s.stage(), v1::LIFECYCLE_STAGE_AT_RISK) << s.customer_id();
                    }
                    return true;
                  })
                  .ok());
  EXPECT_EQ(callcenter, 10);
  // erp-y went at risk and then lost on its own deadlines, before its day-300 visit.
  std::vector<v1::LifecycleStage> stages;
  ASSERT_TRUE(live.store
                  ->ForEachFact("erp-y",
                                [&](uint64_t, const v1::DerivedFact& f) {
                                  if (f.has_change() && f.change().has_stage()) {
                                    stages.push_back(f.change().stage().to());
                                  }
                                  return true;
                                })
                  .ok());
  EXPECT_NE(std::find(stages.begin(), stages.end(), v1::LIFECYCLE_STAGE_LOST), stages.end());
  projector->reset();
  live = LiveStore{};
  TempDir scratch;
  const ReplayResult replay = Replay(data.path(), scratch.path());
  EXPECT_TRUE(replay.differences.empty()) << replay.differences.front();
}

TEST(ProjectorTest, ResendingEverythingChangesNothing) {
  TempDir data;
  const std::string dir = PartitionDir(data.path(), 0);
  std::vector<LogRecord> stream = RandomStream(11, 30);
  LiveStore live;
  live.Open(dir);
  const std::atomic<bool> stop{false};
  auto projector = PartitionProjector::Create(live.log.get(), live.store.get(),
                                              {.config = DefaultEngineConfig()});
  ASSERT_TRUE(projector.ok());
  ASSERT_TRUE(live.log->Append(absl::MakeSpan(stream), {}).ok());
  ASSERT_TRUE((*projector)->CatchUp(live.log->next_position(), stop).ok());
  auto states = [&] {
    std::string all;
    EXPECT_TRUE(live.store
                    ->ForEachState([&](const v1::CustomerState& s) {
                      all += s.SerializeAsString();
                      return true;
                    })
                    .ok());
    return all;
  };
  const std::string before = states();
  const uint64_t head = live.log->next_position();

  // Every event again, in reverse order: the log takes none of them.
  std::vector<LogRecord> again;
  for (auto it = stream.rbegin(); it != stream.rend(); ++it) {
    if (it->has_event()) again.push_back(*it);
  }
  auto appended = live.log->Append(absl::MakeSpan(again), {});
  ASSERT_TRUE(appended.ok());
  EXPECT_EQ(appended->appended, 0u);
  EXPECT_EQ(live.log->next_position(), head);
  ASSERT_TRUE((*projector)->CatchUp(live.log->next_position(), stop).ok());
  EXPECT_EQ(states(), before);
}

// A partition's log and store with a projector at its default config, in a temporary
// directory.
struct ProjectedPartition {
  ProjectedPartition() {
    live.Open(PartitionDir(data.path(), 0));
    auto created = PartitionProjector::Create(live.log.get(), live.store.get(),
                                              {.config = DefaultEngineConfig()});
    EXPECT_TRUE(created.ok()) << created.status();
    if (created.ok()) projector = std::move(*created);
  }
  // Appends `records` and projects everything appended.
  void AppendAndProject(std::vector<LogRecord> records) {
    ASSERT_TRUE(live.log->Append(absl::MakeSpan(records), {}).ok());
    ASSERT_TRUE(projector->CatchUp(live.log->next_position(), stop).ok());
  }

  TempDir data;
  LiveStore live;
  std::unique_ptr<PartitionProjector> projector;
  const std::atomic<bool> stop{false};
};

// A pass over every customer parses only the states its caller does not hold.
TEST(StoreSnapshotTest, ForEachCustomerParsesOnlyTheStatesNotHeld) {
  ProjectedPartition partition;
  ASSERT_NE(partition.projector, nullptr);
  partition.AppendAndProject({testing::OrderRecord("e1", "c", kStart),
                              testing::OrderRecord("e2", "a", kStart),
                              testing::OrderRecord("e3", "b", kStart)});
  const LiveStore& live = partition.live;
  std::vector<std::string> seen;
  ASSERT_TRUE(live.store
                  ->ForEachCustomer([](const std::string& id) { return id == "b"; },
                                    [&](const std::string& id, const v1::CustomerState* state) {
                                      seen.push_back(state == nullptr
                                                         ? id + ": held"
                                                         : id + ": " + state->customer_id());
                                      return true;
                                    })
                  .ok());
  EXPECT_THAT(seen, ::testing::ElementsAre("a: a", "b: held", "c: c"));  // in id order
  seen.clear();
  ASSERT_TRUE(live.store
                  ->ForEachCustomer([](const std::string&) { return false; },
                                    [&](const std::string& id, const v1::CustomerState*) {
                                      seen.push_back(id);
                                      return id != "b";  // stops after b
                                    })
                  .ok());
  EXPECT_THAT(seen, ::testing::ElementsAre("a", "b"));
}

// A reader beside the projector (a query inside `guanxi run`): everything it reads at
// one snapshot is the store as one commit left it, however much is committed after.
TEST(StoreSnapshotTest, ReadsAtASnapshotAreTheStoreAsOneCommitLeftIt) {
  ProjectedPartition partition;
  ASSERT_NE(partition.projector, nullptr);
  const LiveStore& live = partition.live;
  auto append_and_project = [&](std::vector<LogRecord> records) {
    partition.AppendAndProject(std::move(records));
  };
  append_and_project(
      {testing::OrderRecord("e1", "a", kStart), testing::OrderRecord("e2", "b", kStart)});
  auto facts_of = [&](const StoreSnapshot* at) {
    std::vector<uint64_t> positions;
    EXPECT_TRUE(live.store
                    ->ForEachFact(
                        "a",
                        [&](uint64_t position, const v1::DerivedFact&) {
                          positions.push_back(position);
                          return true;
                        },
                        at)
                    .ok());
    return positions;
  };
  auto stream_of = [&](const StoreSnapshot* at) {
    std::vector<uint64_t> positions;
    EXPECT_TRUE(live.log
                    ->ReadStream(
                        "a", std::nullopt,
                        [&](const LogRecord& r) {
                          positions.push_back(r.position());
                          return true;
                        },
                        at)
                    .ok());
    return positions;
  };
  const std::unique_ptr<const StoreSnapshot> snapshot = live.log->TakeSnapshot();
  const std::vector<uint64_t> facts_before = facts_of(nullptr);
  ASSERT_FALSE(facts_before.empty());
  v1::CustomerState before;
  ASSERT_TRUE(*live.store->GetState("a", &before));

  // "a" orders again 100 days later: a new state, new facts, a new checkpoint.
  append_and_project({testing::OrderRecord("e3", "a", kStart + 100 * kDay)});
  v1::CustomerState now;
  ASSERT_TRUE(*live.store->GetState("a", &now));
  ASSERT_EQ(now.events_applied(), 2u);
  ASSERT_GT(facts_of(nullptr).size(), facts_before.size());

  v1::CustomerState at;
  ASSERT_TRUE(*live.store->GetState("a", &at, snapshot.get()));
  EXPECT_EQ(at.SerializeAsString(), before.SerializeAsString());
  EXPECT_EQ(facts_of(snapshot.get()), facts_before);
  EXPECT_EQ(live.store->ReadCheckpoint(snapshot.get())->next_position(), 2u);
  EXPECT_EQ(live.store->ReadCheckpoint()->next_position(), 3u);
  EXPECT_EQ(stream_of(snapshot.get()), std::vector<uint64_t>{0});
  EXPECT_EQ(stream_of(nullptr), (std::vector<uint64_t>{0, 2}));
  std::vector<uint64_t> range;
  ASSERT_TRUE(live.log
                  ->ReadRange(
                      0, 10,
                      [&](const LogRecord& r) {
                        range.push_back(r.position());
                        return true;
                      },
                      snapshot.get())
                  .ok());
  EXPECT_EQ(range, (std::vector<uint64_t>{0, 1}));
  EXPECT_FALSE(*live.store->GetState("c", &at, snapshot.get()));
}

TEST(ProjectionWorkerTest, FollowsTheAppendsAndEqualsReplay) {
  TempDir data;
  const std::string dir = PartitionDir(data.path(), 0);
  std::vector<LogRecord> stream = RandomStream(21, 80);
  LiveStore live;
  live.Open(dir);
  {
    auto projector = PartitionProjector::Create(live.log.get(), live.store.get(),
                                                {.config = DefaultEngineConfig(), .chunk = 64});
    ASSERT_TRUE(projector.ok());
    ProjectionWorker worker(std::move(*projector));
    worker.Start();
    for (size_t i = 0; i < stream.size(); i += 37) {
      const size_t n = std::min<size_t>(37, stream.size() - i);
      std::vector<LogRecord> batch(stream.begin() + static_cast<std::ptrdiff_t>(i),
                                   stream.begin() + static_cast<std::ptrdiff_t>(i + n));
      ASSERT_TRUE(live.log->Append(absl::MakeSpan(batch), {}).ok());
      worker.Notify(live.log->next_position());
    }
    ASSERT_TRUE(worker.WaitFor(live.log->next_position(), absl::Seconds(60)));
    EXPECT_TRUE(worker.Stop().ok());
    EXPECT_GT(worker.clock_seconds(), kStart);
  }
  live = LiveStore{};
  TempDir scratch;
  const ReplayResult replay = Replay(data.path(), scratch.path());
  EXPECT_EQ(replay.replayed_to, replay.log_records);
  EXPECT_TRUE(replay.differences.empty()) << replay.differences.front();
}

TEST(ReplayTest, NamesADifference) {
  TempDir data;
  const std::string dir = PartitionDir(data.path(), 0);
  std::vector<LogRecord> stream = RandomStream(31, 10);
  LiveStore live;
  live.Open(dir);
  const std::atomic<bool> stop{false};
  auto projector = PartitionProjector::Create(live.log.get(), live.store.get(),
                                              {.config = DefaultEngineConfig()});
  ASSERT_TRUE(projector.ok());
  ASSERT_TRUE(live.log->Append(absl::MakeSpan(stream), {}).ok());
  ASSERT_TRUE((*projector)->CatchUp(live.log->next_position(), stop).ok());
  // Tamper with one live state.
  v1::CustomerState state;
  ASSERT_TRUE(live.store->GetState("c31-3", &state).ok());
  state.set_overall_score(state.overall_score() + 1);
  ProjectionStore::Batch batch;
  batch.PutState(state);
  ASSERT_TRUE(live.store->Commit(batch).ok());
  projector->reset();
  live = LiveStore{};

  TempDir scratch;
  const ReplayResult replay = Replay(data.path(), scratch.path());
  ASSERT_EQ(replay.differences.size(), 1u);
  EXPECT_EQ(replay.differences[0], "state c31-3: values differ");
}

}  // namespace
}  // namespace guanxi::engine

namespace guanxi::engine {
namespace {

// A reader following the running engine (audit, replay, the tests' watchers) sees new
// appends, also after the writer flushed (RocksDB 7.8's TryCatchUpWithPrimary did not),
// whether or not it declared the projection families.
TEST(SecondaryTest, FollowsAWriterThatAlsoWritesProjections) {
  TempDir data, scratch;
  const std::string dir = PartitionDir(data.path(), 0);
  std::vector<LogRecord> stream = RandomStream(41, 20);
  LiveStore live;
  live.Open(dir);
  const std::atomic<bool> stop{false};
  auto projector = PartitionProjector::Create(live.log.get(), live.store.get(),
                                              {.config = DefaultEngineConfig()});
  ASSERT_TRUE(projector.ok());
  const size_t half = stream.size() / 2;
  ASSERT_TRUE(live.log->Append(absl::MakeSpan(stream.data(), half), {{"t", 0, 10}}).ok());
  ASSERT_TRUE((*projector)->CatchUp(live.log->next_position(), stop).ok());

  for (bool with_projections : {false, true}) {
    SCOPED_TRACE(with_projections);
    EventLogOptions options{.mode = OpenMode::kSecondary,
                            .secondary_dir = scratch.Sub(with_projections ? "a" : "b")};
    if (with_projections) options.extra_column_families = ProjectionStore::ColumnFamilies();
    auto reader = EventLog::Open(dir, options);
    ASSERT_TRUE(reader.ok()) << reader.status();
    // The projection families are opened even when not declared.
    EXPECT_TRUE(ProjectionStore::Attach(reader->get()).ok());
    const uint64_t seen = (*reader)->next_position();
    EXPECT_EQ(seen, live.log->next_position());

    const size_t from = half + (with_projections ? 5 : 0);
    ASSERT_TRUE(live.log->Append(absl::MakeSpan(stream.data() + from, 5), {{"t", 0, 20}}).ok());
    ASSERT_TRUE((*projector)->CatchUp(live.log->next_position(), stop).ok());
    ASSERT_TRUE(live.log->Flush().ok());  // the overwritten head and offset keys go to SSTs
    ASSERT_TRUE((*reader)->CatchUp().ok());
    EXPECT_EQ((*reader)->next_position(), live.log->next_position());
    auto offset = (*reader)->StoredOffset("t", 0);
    ASSERT_TRUE(offset.ok());
    EXPECT_EQ(offset->value_or(-1), 20);
  }
}

}  // namespace
}  // namespace guanxi::engine

namespace guanxi::engine {
namespace {

// The events of a random stream of 120 customers over two years, without its model
// records: the projector under test asks for its own.
std::vector<LogRecord> RefitStream() {
  std::vector<LogRecord> stream;
  for (const LogRecord& r : RandomStream(51, 120)) {
    if (!r.has_model()) stream.push_back(r);
  }
  return stream;
}

// A live projector asks for a model record once the partition's population is large
// enough; applying it classifies every customer, with a fact per class that changed.
// Feeds a random stream of 120 customers to a projector with `config`, appending the
// models it asks for as the writer does; checks that models were fitted and used and
// that a replay gives the same store; the last model.
v1::ModelRecord RefitAlong(const v1::EngineConfig& config) {
  TempDir data;
  const std::string dir = PartitionDir(data.path(), 0);
  const std::vector<LogRecord> stream = RefitStream();
  LiveStore live;
  live.Open(dir);
  auto slots = std::make_shared<ModelSlots>();
  const std::atomic<bool> stop{false};
  auto projector = PartitionProjector::Create(live.log.get(), live.store.get(),
                                              {.config = config, .chunk = 100, .models = slots});
  EXPECT_TRUE(projector.ok());
  if (!projector.ok()) return {};
  uint64_t models = 0;
  std::vector<LogRecord> requested;
  // Where the last model asked for became due: within [due_from, due_to).
  uint64_t due_from = 0, due_to = 1;
  for (size_t i = 0; i < stream.size(); i += 100) {
    std::vector<LogRecord> batch(
        stream.begin() + static_cast<std::ptrdiff_t>(i),
        stream.begin() + static_cast<std::ptrdiff_t>(std::min(stream.size(), i + 100)));
    // The writer's part: append the fitted models, then the next events.
    for (LogRecord& m : requested) batch.insert(batch.begin(), m);
    models += requested.size();
    const uint64_t from = live.log->next_position();
    EXPECT_TRUE(live.log->Append(absl::MakeSpan(batch), {}).ok());
    EXPECT_TRUE((*projector)->CatchUp(live.log->next_position(), stop).ok());
    requested = slots->TakeFitted();
    for (const LogRecord& m : requested) {
      // Its pass paced to the records since the refit before was due (the first: since
      // position 0), known here within a batch at either end.
      const uint64_t to = live.log->next_position();
      const int64_t population = m.model().population();
      EXPECT_GE(m.model().reclassify_per_record(), ReclassifyPerRecord(population, to - due_from));
      EXPECT_LE(m.model().reclassify_per_record(),
                ReclassifyPerRecord(population, from > due_to ? from - due_to : 0));
      due_from = from;
      due_to = to;
    }
  }
  EXPECT_GE(models, 2u);  // about monthly over the stream's two years
  EXPECT_TRUE((*projector)->checkpoint().has_model());
  const v1::ModelRecord model = (*projector)->checkpoint().model();
  EXPECT_TRUE(model.has_abc());
  EXPECT_TRUE(model.has_rfm());
  EXPECT_EQ(model.partitions_size(), 1);
  int classified = 0, risked = 0, states = 0;
  EXPECT_TRUE(live.store
                  ->ForEachState([&](const v1::CustomerState& s) {
                    ++states;
                    if (!s.classes().abc().empty()) ++classified;
                    if (s.has_churn_risk()) {
                      ++risked;
                      EXPECT_GE(s.churn_risk(), 0.0);
                      EXPECT_LE(s.churn_risk(), 1.0);
                    }
                    return true;
                  })
                  .ok());
  EXPECT_GT(classified, 60);
  // Once a model holds a churn risk model, every customer has its risk.
  EXPECT_EQ(risked, model.has_churn_risk() ? states : 0);
  projector->reset();
  live = LiveStore{};

  TempDir scratch;
  const ReplayResult replay = Replay(data.path(), scratch.path(), config);
  EXPECT_TRUE(replay.differences.empty()) << replay.differences.front();
  return model;
}

TEST(ProjectorTest, RefitsThePopulationModelAsEventTimePasses) {
  const v1::ModelRecord model = RefitAlong(DefaultEngineConfig());
  EXPECT_EQ(model.sample(), 0);  // every customer with a purchase
  // Two years of refits: the churn risk is calibrated on the customers' snapshots of a
  // horizon before.
  ASSERT_TRUE(model.has_churn_risk());
  EXPECT_EQ(model.churn_risk().horizon_days(), 90);
  EXPECT_GE(model.churn_risk().examples(), 20);
  EXPECT_GT(model.churn_risk().churned(), 0);
  EXPECT_LT(model.churn_risk().churned(), model.churn_risk().examples());
  EXPECT_TRUE(model.churn_risk().converged());
}

// A projector that asked for a model and stopped before applying it asks again when it
// reopens, unless the writer landed the model meanwhile: then it applies that one.
TEST(ProjectorTest, AReopenedProjectorAsksAgainOnlyForAModelNotInTheLog) {
  for (const bool landed : {false, true}) {
    SCOPED_TRACE(landed ? "the model landed before the restart" : "the restart came first");
    TempDir data;
    const std::string dir = PartitionDir(data.path(), 0);
    const std::vector<LogRecord> stream = RefitStream();
    LiveStore live;
    live.Open(dir);
    const std::atomic<bool> stop{false};
    auto slots = std::make_shared<ModelSlots>();
    google::protobuf::Timestamp asked_as_of;
    {
      auto projector = PartitionProjector::Create(
          live.log.get(), live.store.get(),
          {.config = DefaultEngineConfig(), .chunk = 100, .models = slots});
      ASSERT_TRUE(projector.ok());
      // Events until the projector asks for its first model (fitted inline).
      for (size_t i = 0; i < stream.size() && !slots->Earliest(); i += 100) {
        std::vector<LogRecord> batch(
            stream.begin() + static_cast<std::ptrdiff_t>(i),
            stream.begin() + static_cast<std::ptrdiff_t>(std::min(stream.size(), i + 100)));
        ASSERT_TRUE(live.log->Append(absl::MakeSpan(batch), {}).ok());
        ASSERT_TRUE((*projector)->CatchUp(live.log->next_position(), stop).ok());
      }
      ASSERT_TRUE(slots->Earliest().has_value());
      std::vector<LogRecord> fitted = slots->TakeFitted();
      ASSERT_EQ(fitted.size(), 1u);
      asked_as_of = fitted[0].model().as_of();
      if (landed) {
        ASSERT_TRUE(live.log->Append(absl::MakeSpan(fitted), {}).ok());
      }
    }
    auto reopened_slots = std::make_shared<ModelSlots>();
    auto reopened = PartitionProjector::Create(
        live.log.get(), live.store.get(),
        {.config = DefaultEngineConfig(), .chunk = 100, .models = reopened_slots});
    ASSERT_TRUE(reopened.ok());
    EXPECT_EQ(reopened_slots->Earliest().has_value(), !landed);
    if (landed) {
      ASSERT_TRUE((*reopened)->CatchUp(live.log->next_position(), stop).ok());
      ASSERT_TRUE((*reopened)->checkpoint().has_model());
      EXPECT_EQ((*reopened)->checkpoint().model().as_of().seconds(), asked_as_of.seconds());
    } else {
      std::vector<LogRecord> again = reopened_slots->TakeFitted();
      ASSERT_EQ(again.size(), 1u);
      EXPECT_EQ(again[0].model().as_of().seconds(), asked_as_of.seconds());
    }
  }
}

TEST(ProjectorTest, APartitionPastMaxFitSampleFitsOnABoundedSample) {
  v1::EngineConfig config = DefaultEngineConfig();
  config.mutable_classification()->set_max_fit_sample(config.classification().min_population());
  const v1::ModelRecord model = RefitAlong(config);
  EXPECT_EQ(model.sample(), config.classification().max_fit_sample());
  EXPECT_GT(model.population(), model.sample());
  EXPECT_EQ(model.bgnbd().customers(), model.sample());
}

// The customers' states (the pass's marks left out) and facts, for comparing stores.
std::map<std::string, std::string> StatesAndFacts(const ProjectionStore& store) {
  std::map<std::string, std::string> all;
  EXPECT_TRUE(store
                  .ForEachState([&](const v1::CustomerState& stored) {
                    v1::CustomerState s = stored;
                    s.clear_reclassified_under();
                    std::string& text = all[s.customer_id()];
                    text = s.SerializeAsString();
                    EXPECT_TRUE(store
                                    .ForEachFact(s.customer_id(),
                                                 [&](uint64_t position, const v1::DerivedFact& f) {
                                                   absl::StrAppend(&text, "|", position, ":",
                                                                   f.SerializeAsString());
                                                   return true;
                                                 })
                                    .ok());
                    return true;
                  })
                  .ok());
  return all;
}

// Ten customers with an order, a model at position 10 reclassifying `per_record` a
// record, then visits of c8, c0, c1, c2, c3 and c4 the next day.
std::vector<LogRecord> TenCustomersAndAModel(uint32_t per_record) {
  std::vector<LogRecord> records;
  for (int c = 0; c < 10; ++c) {
    records.push_back(
        testing::OrderRecord(absl::StrCat("o", c), absl::StrCat("c", c), kStart + c));
  }
  LogRecord model = ModelAt(kStart + 3600);
  model.mutable_model()->set_reclassify_per_record(per_record);
  records.push_back(model);
  for (const char* c : {"c8", "c0", "c1", "c2", "c3", "c4"}) records.push_back(VisitBy("test", c, 1));
  return records;
}

// Issue 16: a model record reclassified every customer of its partition before the next
// record (ten seconds at 600,000 customers); now a few after each record, and a
// customer about to change before its turn first.
TEST(ProjectorTest, AModelReclassifiesAFewCustomersAfterEachRecord) {
  ProjectedPartition p;
  ASSERT_NE(p.projector, nullptr);
  std::vector<LogRecord> records = TenCustomersAndAModel(3);
  ASSERT_TRUE(p.live.log->Append(absl::MakeSpan(records), {}).ok());
  auto marked = [&] {
    std::vector<std::string> ids;
    EXPECT_TRUE(p.live.store
                    ->ForEachState([&](const v1::CustomerState& s) {
                      if (s.has_reclassified_under()) {
                        EXPECT_EQ(s.reclassified_under(), 10u) << s.customer_id();
                        ids.push_back(s.customer_id());
                      }
                      return true;
                    })
                    .ok());
    return ids;
  };
  using ::testing::ElementsAre;
  ASSERT_TRUE(p.projector->CatchUp(11, p.stop).ok());  // the model, and the first three
  EXPECT_EQ(p.projector->checkpoint().reclassify().after(), "c2");
  EXPECT_THAT(marked(), ElementsAre("c0", "c1", "c2"));
  ASSERT_TRUE(p.projector->CatchUp(12, p.stop).ok());  // c8 visits: c8 first, then c3..c5
  EXPECT_THAT(marked(), ElementsAre("c0", "c1", "c2", "c3", "c4", "c5", "c8"));
  ASSERT_TRUE(p.projector->CatchUp(13, p.stop).ok());  // c6, c7, c9 (c8 done: not counted)
  EXPECT_FALSE(p.projector->checkpoint().has_reclassify());  // and the end
  ASSERT_TRUE(p.projector->CatchUp(14, p.stop).ok());
  EXPECT_FALSE(p.projector->reclassifying());
  EXPECT_EQ(marked().size(), 10u);
  EXPECT_EQ(p.projector->stats().reclassified, 10u);
  // c8's classes changed under the model at the model's position, before its visit.
  std::vector<uint64_t> positions;
  ASSERT_TRUE(p.live.store
                  ->ForEachFact("c8",
                                [&](uint64_t position, const v1::DerivedFact& f) {
                                  if (f.has_change() &&
                                      absl::StrContains(f.change().change_id(), "/model:")) {
                                    positions.push_back(position);
                                  }
                                  return true;
                                })
                  .ok());
  EXPECT_THAT(positions, ::testing::Each(10u));
  EXPECT_FALSE(positions.empty());
  ASSERT_TRUE(p.projector->CatchUp(p.live.log->next_position(), p.stop).ok());
  p.projector.reset();
  p.live = LiveStore{};
  TempDir scratch;
  const ReplayResult replay = Replay(p.data.path(), scratch.path());
  EXPECT_TRUE(replay.differences.empty()) << replay.differences.front();
}

// Where no timer falls due on the way, a pass a few customers at a time ends with the
// states and facts of reclassifying everyone at the model's record.
// Customers new since a model are in the store or not yet depending on when the live
// projector committed, which a replay does not repeat: the pass skips them (marked when
// they came) without counting them, so it reclassifies the same customers after the same
// records either way. Counted, the live pass below fell a record behind the replay's at
// each new customer committed ahead of it.
TEST(ProjectorTest, APassDoesNotDependOnWhenTheLiveProjectorCommitted) {
  ProjectedPartition p;
  ASSERT_NE(p.projector, nullptr);
  std::vector<LogRecord> records = TenCustomersAndAModel(1);
  records.resize(11);  // the ten customers and the model, which reclassifies one a record
  // New customers after the pass's end in id order (c91 ..), then ones it has passed
  // (a0 ..): the latter are marked only while the pass is going, and a pass that counted
  // the former (in the store after a live commit, not in a replay's) ended later live.
  for (const std::string id : {"c91", "c92", "c93", "c94", "a0", "a1", "a2", "a3", "a4", "a5",
                               "a6", "a7", "a8", "a9"}) {
    records.push_back(testing::OrderRecord(absl::StrCat("n-", id), id,
                                           kStart + 7200 + static_cast<int64_t>(records.size())));
  }
  ASSERT_TRUE(p.live.log->Append(absl::MakeSpan(records), {}).ok());
  for (uint64_t to = 1; to <= p.live.log->next_position(); ++to) {
    ASSERT_TRUE(p.projector->CatchUp(to, p.stop).ok());  // a commit after every record
  }
  EXPECT_FALSE(p.projector->checkpoint().has_reclassify());
  EXPECT_EQ(p.projector->stats().reclassified, 10u);
  p.projector.reset();
  p.live = LiveStore{};
  TempDir scratch;
  const ReplayResult replay = Replay(p.data.path(), scratch.path());
  EXPECT_TRUE(replay.differences.empty()) << replay.differences.front();
}

TEST(ProjectorTest, APassAFewAtATimeEndsWhereEveryoneAtOnceWould) {
  std::map<std::string, std::string> ends[2];
  for (uint32_t per_record : {0u, 2u}) {
    ProjectedPartition p;
    ASSERT_NE(p.projector, nullptr);
    p.AppendAndProject(TenCustomersAndAModel(per_record));
    EXPECT_FALSE(p.projector->checkpoint().has_reclassify());
    EXPECT_EQ(p.projector->stats().reclassified, 10u);
    ends[per_record == 0 ? 0 : 1] = StatesAndFacts(*p.live.store);
  }
  EXPECT_EQ(ends[0].size(), 10u);
  EXPECT_EQ(ends[0], ends[1]);
}

// A tick (the partition is quiet) finishes the pass at once.
TEST(ProjectorTest, ATickFinishesAPass) {
  ProjectedPartition p;
  ASSERT_NE(p.projector, nullptr);
  std::vector<LogRecord> records = TenCustomersAndAModel(1);
  records.resize(11);  // the orders and the model
  p.AppendAndProject(records);
  EXPECT_EQ(p.projector->stats().reclassified, 1u);
  EXPECT_TRUE(p.projector->reclassifying());
  LogRecord tick;
  tick.mutable_tick()->mutable_event_time()->set_seconds(kStart + 3600);
  p.AppendAndProject({tick});
  EXPECT_EQ(p.projector->stats().reclassified, 10u);
  EXPECT_FALSE(p.projector->reclassifying());
}

// A projector that stopped while finishing a pass (its commits on the way say
// `finishing`) finishes it when it opens, before applying anything else.
TEST(ProjectorTest, APassStoppedWhileFinishingIsFinishedAtOpen) {
  ProjectedPartition p;
  ASSERT_NE(p.projector, nullptr);
  std::vector<LogRecord> records = TenCustomersAndAModel(1);
  records.resize(11);  // the orders and the model: c0 done after it
  p.AppendAndProject(records);
  v1::ProjectionCheckpoint checkpoint = p.projector->checkpoint();
  ASSERT_EQ(checkpoint.reclassify().after(), "c0");
  p.projector.reset();
  // As its first commit on the way would have left it.
  checkpoint.mutable_reclassify()->set_finishing(true);
  ProjectionStore::Batch batch;
  batch.PutCheckpoint(checkpoint);
  ASSERT_TRUE(p.live.store->Commit(batch).ok());
  auto reopened = PartitionProjector::Create(p.live.log.get(), p.live.store.get(),
                                             {.config = DefaultEngineConfig()});
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->stats().reclassified, 9u);
  EXPECT_FALSE((*reopened)->checkpoint().has_reclassify());
  EXPECT_FALSE((*reopened)->reclassifying());
  int marked = 0;
  ASSERT_TRUE(p.live.store
                  ->ForEachState([&](const v1::CustomerState& s) {
                    marked += s.reclassified_under() == 10u ? 1 : 0;
                    return true;
                  })
                  .ok());
  EXPECT_EQ(marked, 10);
  ASSERT_TRUE(p.live.store->ReadCheckpoint().ok());
  EXPECT_FALSE(p.live.store->ReadCheckpoint()->has_reclassify());
}

}  // namespace
}  // namespace guanxi::engine
