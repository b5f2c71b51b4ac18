// `guanxi audit trail` end to end, in-process, on a small data directory with live
// projections (tests/app/audit_data.h): the trail of events and facts, timer-driven
// facts, the as-of view against a recomputation by hand, and the error paths; and the
// HTTP API's GET /v1/customers/{id}/trail inside the engine against the command beside it.
#include <cctype>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "app/commands.h"
#include "engine/config/config.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/event_log.h"
#include "engine/projection/projector.h"
#include "engine/query/http_server.h"
#include "engine/query/projection_view.h"
#include "engine/query/trail.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "guanxi/v1/trail.pb.h"
#include "httplib.h"
#include "projections/projection.h"
#include "tests/app/audit_data.h"
#include "tests/app/command_run.h"
#include "tests/engine/event_log_test_util.h"

namespace guanxi::app {
namespace {

using ::google::protobuf::Timestamp;
using ::google::protobuf::util::TimeUtil;
using ::guanxi::app::testing::BuildAuditData;
using ::guanxi::app::testing::DayAt;
using ::guanxi::engine::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using ::guanxi::testing::CommandRun;

// Every command with the configuration the test data was projected with.
CommandRun Guanxi(std::vector<const char*> args) {
  return ::guanxi::testing::RunGuanxiWithConfig(std::move(args), testing::TestConfigPath());
}

// --json prints one guanxi.v1.Trail in protobuf's JSON mapping.
v1::Trail ParseTrail(const std::string& json) {
  v1::Trail trail;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &trail);
  EXPECT_TRUE(status.ok()) << status.message() << "\n" << json;
  return trail;
}

// The event ids the trail lists, in its order.
std::vector<std::string> EventIds(const v1::Trail& trail) {
  std::vector<std::string> ids;
  for (const v1::TrailEntry& entry : trail.entries()) {
    if (entry.has_event()) ids.push_back(entry.event().event_id());
  }
  return ids;
}

struct StageFact {
  uint64_t position = 0;
  v1::TrailEntry::Cause cause = v1::TrailEntry::CAUSE_UNSPECIFIED;
  v1::RelationshipChange change;
};

std::vector<StageFact> StageFacts(const v1::Trail& trail) {
  std::vector<StageFact> stages;
  for (const v1::TrailEntry& entry : trail.entries()) {
    if (!entry.has_change() || !entry.change().has_stage()) continue;
    stages.push_back({entry.position(), entry.cause(), entry.change()});
  }
  return stages;
}

std::string Transition(const StageFact& s) {
  return absl::StrCat(v1::TrailEntry::Cause_Name(s.cause), " ",
                      v1::LifecycleStage_Name(s.change.stage().from()), " -> ",
                      v1::LifecycleStage_Name(s.change.stage().to()));
}

bool Before(const Timestamp& a, const Timestamp& b) {
  return TimeUtil::TimestampToNanoseconds(a) < TimeUtil::TimestampToNanoseconds(b);
}

// The customer as of `as_of`, recomputed by hand from the partition's log with
// projections::CustomerProjection alone (no projector, no store): the customer's events
// that occurred by then, the population models fitted by then, and the inactivity
// timers that fire as the partition's clock (the latest event or tick time applied,
// then `as_of`) passes their deadlines.
std::optional<v1::CustomerState> RecomputeByHand(const std::string& data, int32_t partition,
                                                 const std::string& customer,
                                                 const Timestamp& as_of) {
  auto log = engine::EventLog::Open(engine::PartitionDir(data, partition),
                                    {.mode = engine::OpenMode::kReadOnly});
  EXPECT_TRUE(log.ok()) << log.status();
  if (!log.ok()) return std::nullopt;
  const projections::CustomerProjection projection(testing::TestConfig());
  v1::CustomerState state;
  bool has_state = false;
  std::optional<v1::ModelRecord> model;
  Timestamp clock;
  auto context = [&] {
    return projections::Context{.model = model ? &*model : nullptr, .partition = partition};
  };
  // The customer's armed timer: re-armed after every application, and after a timer
  // fired never at or before the deadline it fired at.
  std::optional<int64_t> armed;
  auto arm = [&](int64_t after) {
    armed = projection.NextDeadline(state);
    if (armed && *armed <= after) armed = after + 1;
  };
  auto advance = [&](const Timestamp& t, uint64_t position) {
    if (!Before(clock, t)) return;
    clock = t;
    while (armed && *armed <= t.seconds()) {
      const int64_t due = *armed;
      projection.OnTime(state, TimeUtil::SecondsToTimestamp(due), position, context());
      arm(due);
    }
  };
  constexpr int64_t kNoFloor = std::numeric_limits<int64_t>::min();
  const uint64_t end = (*log)->next_position();
  EXPECT_TRUE((*log)
                  ->ReadRange(0, end,
                              [&](const v1::LogRecord& r) {
                                if (r.has_event()) {
                                  if (Before(as_of, r.event().occurred_at())) return true;
                                  advance(r.event().occurred_at(), r.position());
                                  if (r.event().customer_id() == customer) {
                                    projection.OnEvent(state, r.event(), r.position(), context());
                                    has_state = true;
                                    arm(kNoFloor);
                                  }
                                } else if (r.has_tick()) {
                                  if (Before(as_of, r.tick().event_time())) return true;
                                  advance(r.tick().event_time(), r.position());
                                } else if (r.has_model()) {
                                  if (Before(as_of, r.model().as_of())) return true;
                                  model = r.model();
                                  if (has_state) {
                                    projection.OnModel(state, r.model().as_of(), r.position(),
                                                       context());
                                    arm(kNoFloor);
                                  }
                                }
                                return true;
                              })
                  .ok());
  advance(as_of, end);
  if (!has_state) return std::nullopt;
  if (armed) state.set_timer_deadline_seconds(*armed);  // the engine keeps it in the state
  return state;
}

class AuditTrailTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new TempDir();
    BuildAuditData(data_->path());
  }
  static void TearDownTestSuite() {
    delete data_;
    data_ = nullptr;
  }
  static const char* data() { return data_->path().c_str(); }

  static TempDir* data_;
};

TempDir* AuditTrailTest::data_ = nullptr;

const std::vector<std::string> kAcmeEvents = {
    "acme/profile", "acme/visit-3",   "acme/o1", "acme/c1",        "acme/c1-resolved",
    "acme/k1",      "acme/visit-200", "acme/o2", "acme/survey-300"};

TEST_F(AuditTrailTest, ListsTheCustomersEventsInOrderWithTheFactsEachDerived) {
  const CommandRun r = Guanxi({"audit", "trail", "acme", "--data", data(), "--json"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  const v1::Trail trail = ParseTrail(r.out);
  EXPECT_EQ(trail.customer_id(), "acme");
  EXPECT_EQ(trail.partition(), 0);
  EXPECT_FALSE(trail.has_as_of());
  EXPECT_EQ(trail.projected_to(), 19u);
  EXPECT_EQ(trail.unprojected_events(), 0u);
  EXPECT_EQ(EventIds(trail), kAcmeEvents);
  uint64_t last_position = 0;
  for (const v1::TrailEntry& entry : trail.entries()) {
    EXPECT_GE(entry.position(), last_position);
    last_position = entry.position();
    // A fact has a cause; an event entry has none (and none in the JSON).
    EXPECT_EQ(entry.has_cause(), !entry.has_event());
  }
  EXPECT_THAT(r.out, HasSubstr("{\"position\":\"0\",\"event\":{\"eventId\":\"acme/profile\""));

  // Every stage transition, with what caused it: the warning that turned severe on day
  // 200, just before acme's visit (time passed), puts it at risk; the warning's
  // resolution on day 240 fired at beta's payment of day 250 (time passed) and the survey
  // of day 300 found the score recovered.
  const std::vector<StageFact> stages = StageFacts(trail);
  std::vector<std::string> transitions;
  for (const auto& s : stages) transitions.push_back(Transition(s));
  EXPECT_THAT(transitions,
              ElementsAre("CAUSE_EVENT LIFECYCLE_STAGE_UNSPECIFIED -> LIFECYCLE_STAGE_IDENTIFIED",
                          "CAUSE_EVENT LIFECYCLE_STAGE_IDENTIFIED -> LIFECYCLE_STAGE_ENGAGING",
                          "CAUSE_EVENT LIFECYCLE_STAGE_ENGAGING -> LIFECYCLE_STAGE_DEEPENING",
                          "CAUSE_EVENT LIFECYCLE_STAGE_DEEPENING -> LIFECYCLE_STAGE_MAINTAINING",
                          "CAUSE_TIME LIFECYCLE_STAGE_MAINTAINING -> LIFECYCLE_STAGE_AT_RISK",
                          "CAUSE_TIME LIFECYCLE_STAGE_AT_RISK -> LIFECYCLE_STAGE_WINNING_BACK",
                          "CAUSE_EVENT LIFECYCLE_STAGE_WINNING_BACK -> LIFECYCLE_STAGE_MAINTAINING"));
  ASSERT_EQ(stages.size(), 7u);
  EXPECT_EQ(stages[2].change.stage().cause(), "first purchase: order o1");
  EXPECT_EQ(stages[3].change.stage().cause(), "contract k1 signed");
  EXPECT_EQ(stages[4].change.stage().cause(),
            absl::StrCat("churn warning acme/model:", DayAt(120),
                         " escalated to level warning: inactivity"));
  EXPECT_EQ(stages[4].change.event_time().seconds(), DayAt(200));
  const StageFact& timer = stages[5];
  EXPECT_EQ(timer.change.stage().cause(),
            absl::StrCat("churn warning acme/model:", DayAt(120), " resolved"));
  EXPECT_EQ(timer.change.event_time().seconds(), DayAt(240));
  // Its position holds no event of acme's: beta's payment.
  auto log = engine::EventLog::Open(engine::PartitionDir(data(), 0),
                                    {.mode = engine::OpenMode::kReadOnly});
  ASSERT_TRUE(log.ok()) << log.status();
  auto beta_payment = (*log)->FindEvent("beta/pay-b2");
  ASSERT_TRUE(beta_payment.ok()) << beta_payment.status();
  EXPECT_EQ(timer.position, beta_payment->position());
  // Their ids name what derived them.
  EXPECT_EQ(timer.change.change_id(), absl::StrCat("acme/time:", DayAt(240), "/stage"));
  EXPECT_EQ(stages[6].change.change_id(), "acme/event:acme/survey-300/stage");

  // Churn-warning notices: acme's episode escalated when its 180-day deadline fell due
  // exactly at its visit of day 200, just before the visit was applied.
  const auto& entries = trail.entries();
  bool escalation_seen = false;
  for (int i = 0; i + 1 < entries.size(); ++i) {
    if (!entries[i].has_warning()) continue;
    const v1::ChurnWarning& warning = entries[i].warning();
    if (warning.notice() != v1::WARNING_NOTICE_ESCALATED) continue;
    escalation_seen = true;
    EXPECT_EQ(entries[i].cause(), v1::TrailEntry::CAUSE_TIME);
    EXPECT_EQ(warning.level(), v1::WARNING_LEVEL_WARNING);
    EXPECT_EQ(warning.event_time().seconds(), DayAt(200));
    ASSERT_TRUE(entries[i + 1].has_event());
    EXPECT_EQ(entries[i + 1].event().event_id(), "acme/visit-200");
  }
  EXPECT_TRUE(escalation_seen);

  // Class changes under the population model appended on day 120 (and a churn-warning
  // notice its reassessment raised).
  int model_changes = 0;
  for (const v1::TrailEntry& entry : trail.entries()) {
    if (entry.cause() != v1::TrailEntry::CAUSE_MODEL || !entry.has_change()) continue;
    ++model_changes;
    EXPECT_TRUE(entry.change().has_class_change()) << entry.DebugString();
    EXPECT_EQ(
        entry.change().change_id().rfind(absl::StrCat("acme/model:", DayAt(120), "/class/"), 0), 0u)
        << entry.DebugString();
  }
  EXPECT_GT(model_changes, 0);
  EXPECT_THAT(r.out, HasSubstr("\"cause\":\"CAUSE_MODEL\""));

  ASSERT_TRUE(trail.has_state());
  const v1::CustomerState& state = trail.state();
  EXPECT_EQ(state.stage(), v1::LIFECYCLE_STAGE_MAINTAINING);
  EXPECT_EQ(state.events_applied(), 9u);
  EXPECT_EQ(state.classes().abc(), "B");
  EXPECT_GT(state.p_alive(), 0);
}

TEST_F(AuditTrailTest, TextShowsFactsUnderTheirEventAndTimePassed) {
  const CommandRun r = Guanxi({"audit", "trail", "acme", "--data", data()});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out,
              HasSubstr("customer acme, partition 0: live projections (19 log records applied)\n"));
  EXPECT_THAT(r.out, HasSubstr("2025-01-21T09:00:00Z  #4  order o1: 1200.00 EUR\n"
                               "    class intent_class B -> A (converted (order, won opportunity "
                               "or contract) 0 days ago, within 365)\n"
                               "    stage engaging -> deepening: first purchase: order o1\n"));
  EXPECT_THAT(r.out, HasSubstr("  time passed (the partition's clock moved on: another customer's "
                               "event at 2025-09-08T09:00:00Z)\n"
                               "    class rfm_recency 5 -> 4 ("));
  EXPECT_THAT(r.out, HasSubstr("    stage at_risk -> winning_back: churn warning "
                               "acme/model:1746090000 resolved\n"
                               "    churn warning resolved, level warning (warning "
                               "acme/model:1746090000)\n"));
  EXPECT_THAT(r.out, HasSubstr("a new population model came into force (everyone reclassified)\n"
                               "    class abc - -> C ("));
  // The deadline that fell due at acme's own visit: first the timer, then the visit.
  EXPECT_THAT(r.out, HasSubstr("time passed (the partition's clock moved on: this customer's "
                               "event at 2025-07-20T09:00:00Z)\n"
                               "    stage maintaining -> at_risk: churn warning "
                               "acme/model:1746090000 escalated to level warning: inactivity\n"
                               "    churn warning escalated, level warning: inactivity: "));
  EXPECT_THAT(r.out, HasSubstr("#16  survey: satisfaction 5 on 1..5\n"
                               "    score 55.2 -> 58.7 ("));
  EXPECT_THAT(r.out, HasSubstr("  stage maintaining since 2025-10-28T09:00:00Z\n"));
  EXPECT_THAT(r.out,
              HasSubstr("  classes: abc B, rfm_recency 3, rfm_frequency 2, rfm_monetary 3, "));
  EXPECT_THAT(r.out, HasSubstr("  P(alive) 0.665, expected purchases in 90 days 0.23\n"));
  EXPECT_THAT(r.out, HasSubstr("  churn warning: watch open since 2025-10-28T09:00:00Z (warning "
                               "acme/time:"));
}

TEST_F(AuditTrailTest, AsOfIsTheCustomerRecomputedFromTheLogUpToThatTime) {
  const CommandRun r =
      Guanxi({"audit", "trail", "acme", "--data", data(), "--as-of", "2025-06-01", "--json"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  const v1::Trail trail = ParseTrail(r.out);
  // A date means the end of that day.
  EXPECT_THAT(r.out, HasSubstr("\"asOf\":\"2025-06-01T23:59:59.999999999Z\""));
  EXPECT_EQ(TimeUtil::ToString(trail.as_of()), "2025-06-01T23:59:59.999999999Z");
  EXPECT_EQ(EventIds(trail),
            std::vector<std::string>(kAcmeEvents.begin(), kAcmeEvents.begin() + 6));
  ASSERT_TRUE(trail.has_state());
  const v1::CustomerState& as_of_state = trail.state();

  Timestamp as_of;
  ASSERT_TRUE(TimeUtil::FromString("2025-06-01T23:59:59.999999999Z", &as_of));
  const std::optional<v1::CustomerState> by_hand = RecomputeByHand(data(), 0, "acme", as_of);
  ASSERT_TRUE(by_hand.has_value());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(as_of_state, *by_hand))
      << "trail: " << as_of_state.DebugString() << "\nby hand: " << by_hand->DebugString();
  EXPECT_EQ(as_of_state.stage(), v1::LIFECYCLE_STAGE_MAINTAINING);  // a watch only
  EXPECT_EQ(as_of_state.events_applied(), 6u);

  // Not the current state read back.
  const CommandRun live = Guanxi({"audit", "trail", "acme", "--data", data(), "--json"});
  ASSERT_EQ(live.code, kExitOk) << live.err;
  const v1::CustomerState live_state = ParseTrail(live.out).state();
  EXPECT_FALSE(google::protobuf::util::MessageDifferencer::Equals(as_of_state, live_state));
  EXPECT_NE(as_of_state.overall_score(), live_state.overall_score());

  // The whole year recomputed equals the live projections, and by hand too.
  const CommandRun year =
      Guanxi({"audit", "trail", "acme", "--data", data(), "--as-of", "2025-12-31", "--json"});
  ASSERT_EQ(year.code, kExitOk) << year.err;
  const v1::CustomerState year_state = ParseTrail(year.out).state();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(year_state, live_state));
  Timestamp year_end;
  ASSERT_TRUE(TimeUtil::FromString("2025-12-31T23:59:59.999999999Z", &year_end));
  const auto year_by_hand = RecomputeByHand(data(), 0, "acme", year_end);
  ASSERT_TRUE(year_by_hand.has_value());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(year_state, *year_by_hand));
}

TEST_F(AuditTrailTest, AsOfTimeFiresTheTimersDueByThen) {
  // gamma (one visit on day 10) is lost after 180 days of silence: on day 190, July 10.
  // Nothing in partition 0 occurred between beta's order of May 31 and acme's visit of
  // July 20, so as of July 15 it is the as-of time itself that passes the deadline.
  const CommandRun r = Guanxi(
      {"audit", "trail", "gamma, Ltd.", "--data", data(), "--as-of", "2025-07-15T00:00:00Z"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("2025-07-10T09:00:00Z  #19  time passed (the partition's clock "
                               "moved on: up to the as-of time)\n"
                               "    stage engaging -> lost: no interaction for 180 days "
                               "(threshold 180)\n"));
  EXPECT_THAT(r.out, HasSubstr("  stage lost since 2025-07-10T09:00:00Z\n"));
}

TEST_F(AuditTrailTest, AsOfBeforeTheFirstEventHasNoState) {
  const CommandRun r =
      Guanxi({"audit", "trail", "acme", "--data", data(), "--as-of", "2024-12-31", "--json"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  // No entries, and no state (left out of the JSON).
  EXPECT_THAT(r.out, HasSubstr("\"entries\":[]"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("\"state\"")));
  EXPECT_FALSE(ParseTrail(r.out).has_state());
  const CommandRun text =
      Guanxi({"audit", "trail", "acme", "--data", data(), "--as-of", "2024-12-31"});
  EXPECT_THAT(text.out, HasSubstr("no state: the customer had no event at or before "
                                  "2024-12-31T23:59:59.999999999Z"));
}

TEST_F(AuditTrailTest, UnknownCustomerExitsOneNamingTheDataDirectory) {
  const CommandRun r = Guanxi({"audit", "trail", "nobody", "--data", data()});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_THAT(r.err,
              HasSubstr(absl::StrCat("customer nobody is not in any partition under ", data())));
  EXPECT_EQ(r.out, "");
}

TEST_F(AuditTrailTest, BadAsOfIsAUsageError) {
  const CommandRun r = Guanxi({"audit", "trail", "acme", "--data", data(), "--as-of", "soon"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--as-of: 'soon' is neither RFC 3339"));
  const CommandRun missing = Guanxi({"audit", "trail", "--data", data()});
  EXPECT_EQ(missing.code, kExitUsage);
  EXPECT_THAT(missing.err, HasSubstr("missing CUSTOMER"));
}

TEST(AuditTrailLiveTest, ReadsBesideARunningWriterAndLeavesOutWhatIsNotProjected) {
  TempDir data;
  BuildAuditData(data.path());
  // The engine holds partition 0 and appends an event its worker has not projected yet.
  engine::EventLogOptions options{.partition = 0};
  options.extra_column_families = engine::ProjectionStore::ColumnFamilies();
  auto writer = engine::EventLog::Open(engine::PartitionDir(data.path(), 0), options);
  ASSERT_TRUE(writer.ok()) << writer.status();
  testing::Events acme("acme", 0);
  acme.Visit(340);
  std::vector<v1::LogRecord> batch = acme.records();
  ASSERT_TRUE((*writer)->Append(absl::MakeSpan(batch), {}).ok());

  const CommandRun r = Guanxi({"audit", "trail", "acme", "--data", data.path().c_str(), "--json"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(EventIds(ParseTrail(r.out)), kAcmeEvents);
  EXPECT_EQ(ParseTrail(r.out).unprojected_events(), 1u);
  EXPECT_THAT(r.err, HasSubstr("1 later event is in the log but not projected yet; not shown"));

  // Recomputed as of a time, the new event counts: the log is the truth.
  const CommandRun as_of = Guanxi(
      {"audit", "trail", "acme", "--data", data.path().c_str(), "--as-of", "2025-12-31", "--json"});
  ASSERT_EQ(as_of.code, kExitOk) << as_of.err;
  EXPECT_EQ(EventIds(ParseTrail(as_of.out)).size(), kAcmeEvents.size() + 1);
}

TEST(AuditTrailLiveTest, StoreWithoutProjectionsNeedsAsOf) {
  TempDir data;
  {
    auto log = engine::EventLog::Open(engine::PartitionDir(data.path(), 2), {.partition = 2});
    ASSERT_TRUE(log.ok()) << log.status();
    std::vector<v1::LogRecord> batch = {
        engine::testing::OrderRecord("e1", "zeta", DayAt(10), 0, 2)};
    ASSERT_TRUE((*log)->Append(absl::MakeSpan(batch), {}).ok());
  }
  const CommandRun live = Guanxi({"audit", "trail", "zeta", "--data", data.path().c_str()});
  EXPECT_EQ(live.code, kExitFailure);
  EXPECT_THAT(live.err, HasSubstr("partition 2 has no live projections"));
  const CommandRun as_of =
      Guanxi({"audit", "trail", "zeta", "--data", data.path().c_str(), "--as-of", "2025-02-01"});
  ASSERT_EQ(as_of.code, kExitOk) << as_of.err;
  EXPECT_THAT(as_of.out, HasSubstr("#0  order e1: 1.00\n"));
}

// The text trail is read and printed a page (1000 entries) at a time: a customer with
// 2,500 events prints one heading, every event once, in order, and the state once.
TEST(AuditTrailLiveTest, ALongTrailPrintsAsTextPageByPageEveryEventOnce) {
  TempDir data;
  constexpr int kEvents = 2500;
  {
    engine::EventLogOptions options{.partition = 0};
    options.extra_column_families = engine::ProjectionStore::ColumnFamilies();
    auto log = engine::EventLog::Open(engine::PartitionDir(data.path(), 0), options);
    ASSERT_TRUE(log.ok()) << log.status();
    std::vector<v1::LogRecord> records;
    for (int i = 0; i < kEvents; ++i) {
      records.push_back(engine::testing::OrderRecord(absl::StrCat("o", i), "big",
                                                     DayAt(0) + int64_t{i} * 3600, i));
    }
    ASSERT_TRUE((*log)->Append(absl::MakeSpan(records), {}).ok());
    auto store = engine::ProjectionStore::Attach(log->get());
    ASSERT_TRUE(store.ok()) << store.status();
    auto projector = engine::PartitionProjector::Create(
        log->get(), store->get(), {.partition = 0, .config = testing::TestConfig()});
    ASSERT_TRUE(projector.ok()) << projector.status();
    const std::atomic<bool> stop{false};
    ASSERT_TRUE((*projector)->CatchUp((*log)->next_position(), stop).ok());
  }
  const CommandRun json = Guanxi({"audit", "trail", "big", "--data", data.path().c_str(), "--json"});
  ASSERT_EQ(json.code, kExitOk) << json.err;
  const v1::Trail whole = ParseTrail(json.out);
  ASSERT_GT(whole.entries_size(), 2000);  // three pages of text

  const CommandRun text = Guanxi({"audit", "trail", "big", "--data", data.path().c_str()});
  ASSERT_EQ(text.code, kExitOk) << text.err;
  std::vector<std::string> order_lines;
  int headings = 0, states = 0, facts = 0;
  for (absl::string_view line : absl::StrSplit(text.out, '\n')) {
    if (absl::StartsWith(line, "customer big, partition 0")) ++headings;
    if (absl::StartsWith(line, "state (")) ++states;
    if (absl::StartsWith(line, "    ") && states == 0) ++facts;  // not the state's lines
    const size_t order = line.find("  order o");
    if (order != absl::string_view::npos && !absl::StartsWith(line, " ")) {
      order_lines.emplace_back(line.substr(order + 8, line.find(':', order) - order - 8));
    }
  }
  EXPECT_EQ(headings, 1);
  EXPECT_EQ(states, 1);
  ASSERT_EQ(order_lines.size(), static_cast<size_t>(kEvents));
  for (int i = 0; i < kEvents; ++i) EXPECT_EQ(order_lines[i], absl::StrCat("o", i));
  EXPECT_EQ(facts, whole.entries_size() - kEvents);
}

// A store written before fact ids named their cause ("<customer>/<position>/<kind>"): the
// trail tells what derived each fact by where it is, its time and the order of facts.
TEST(AuditTrailOlderIdsTest, FactsWhoseIdNamesNoCauseAreToldByPositionTimeAndOrder) {
  TempDir data;
  {
    engine::EventLogOptions options{.partition = 0};
    options.extra_column_families = engine::ProjectionStore::ColumnFamilies();
    auto log = engine::EventLog::Open(engine::PartitionDir(data.path(), 0), options);
    ASSERT_TRUE(log.ok()) << log.status();
    testing::Events x("x", 0), y("y", 0);
    x.Visit(0);
    y.Visit(190);
    x.Visit(200);
    std::vector<v1::LogRecord> records = {x.records()[0], y.records()[0], x.records()[1]};
    ASSERT_TRUE((*log)->Append(absl::MakeSpan(records), {}).ok());
    auto store = engine::ProjectionStore::Attach(log->get());
    ASSERT_TRUE(store.ok()) << store.status();
    auto fact = [](uint64_t position, int day, const char* kind) {
      v1::DerivedFact f;
      auto* c = f.mutable_change();
      c->set_change_id(absl::StrCat("x/", position, "/", kind));
      c->set_customer_id("x");
      c->set_position(position);
      c->mutable_event_time()->set_seconds(DayAt(day));
      return f;
    };
    auto stage = [&](uint64_t position, int day, v1::LifecycleStage from, v1::LifecycleStage to) {
      v1::DerivedFact f = fact(position, day, "stage");
      f.mutable_change()->mutable_stage()->set_from(from);
      f.mutable_change()->mutable_stage()->set_to(to);
      return f;
    };
    engine::ProjectionStore::Batch batch;
    batch.AddFact("x", 0, 0,
                  stage(0, 0, v1::LIFECYCLE_STAGE_UNSPECIFIED, v1::LIFECYCLE_STAGE_ENGAGING));
    // Due on day 180, fired at y's visit of day 190.
    batch.AddFact("x", 1, 0, stage(1, 180, v1::LIFECYCLE_STAGE_ENGAGING, v1::LIFECYCLE_STAGE_LOST));
    // At x's own visit of day 200: a timer due exactly then (a class change), then the
    // visit's score move and stage change.
    v1::DerivedFact timer_class = fact(2, 200, "class/intent_class");
    timer_class.mutable_change()->mutable_class_change()->set_classification("intent_class");
    timer_class.mutable_change()->mutable_class_change()->set_to("D");
    batch.AddFact("x", 2, 0, timer_class);
    v1::DerivedFact score = fact(2, 200, "score");
    score.mutable_change()->mutable_score()->set_to(55);
    batch.AddFact("x", 2, 1, score);
    batch.AddFact("x", 2, 2,
                  stage(2, 200, v1::LIFECYCLE_STAGE_LOST, v1::LIFECYCLE_STAGE_WINNING_BACK));
    v1::CustomerState state;
    state.set_customer_id("x");
    state.set_stage(v1::LIFECYCLE_STAGE_WINNING_BACK);
    batch.PutState(state);
    v1::ProjectionCheckpoint checkpoint;
    checkpoint.set_next_position(3);
    batch.PutCheckpoint(checkpoint);
    ASSERT_TRUE((*store)->Commit(batch).ok());
  }
  const CommandRun r = Guanxi({"audit", "trail", "x", "--data", data.path().c_str(), "--json"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  const v1::Trail trail = ParseTrail(r.out);
  std::vector<std::string> entries;
  for (const v1::TrailEntry& entry : trail.entries()) {
    entries.push_back(
        absl::StrCat(entry.position(), " ",
                     entry.has_event() ? "event" : v1::TrailEntry::Cause_Name(entry.cause())));
  }
  EXPECT_THAT(entries, ElementsAre("0 event", "0 CAUSE_EVENT", "1 CAUSE_TIME", "2 CAUSE_TIME",
                                   "2 event", "2 CAUSE_EVENT", "2 CAUSE_EVENT"));
}

// Inside the engine: its partitions opened read-write as `guanxi run` holds them, and the
// HTTP API serving them; `guanxi audit trail` runs beside it, on secondaries.
class TrailEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BuildAuditData(data_.path());
    for (int32_t p : {0, 1}) {
      engine::EventLogOptions options{.partition = p};
      options.extra_column_families = engine::ProjectionStore::ColumnFamilies();
      auto log = engine::EventLog::Open(engine::PartitionDir(data_.path(), p), options);
      ASSERT_TRUE(log.ok()) << log.status();
      logs_.push_back(std::move(*log));
      auto store = engine::ProjectionStore::Attach(logs_.back().get());
      ASSERT_TRUE(store.ok()) << store.status();
      stores_.push_back(std::move(*store));
      views_.push_back({p, logs_.back(), stores_.back()});
    }
    auto server = engine::HttpServer::Start({.address = "127.0.0.1:0",
                                             .bearer_token = "token",
                                             .partitions = [this] { return views_; },
                                             .status =
                                                 [] {
                                                   engine::EngineStatus status;
                                                   status.assigned = true;
                                                   return status;
                                                 },
                                             .data_dir = data_.path(),
                                             .config = testing::TestConfig()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_bearer_token_auth("token");
    client_->set_url_encode(false);  // Endpoint() encodes
  }

  // The body of a 200 answer to GET /v1/customers/{customer}/trail[?as_of=].
  std::string Endpoint(const std::string& customer, const std::string& as_of = "") {
    std::string path = "/v1/customers/";
    for (const char c : customer) {  // percent-encoded but for RFC 3986's unreserved
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
          c == '~') {
        path.push_back(c);
      } else {
        absl::StrAppendFormat(&path, "%%%02X", static_cast<unsigned char>(c));
      }
    }
    absl::StrAppend(&path, "/trail");
    if (!as_of.empty()) absl::StrAppend(&path, "?as_of=", as_of);
    auto r = client_->Get(path.c_str());
    EXPECT_TRUE(r) << path;
    if (!r) return "";
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return r->body;
  }
  std::string Command(const std::string& customer, const std::string& as_of = "") {
    std::vector<const char*> args = {
        "audit", "trail", customer.c_str(), "--data", data_.path().c_str(), "--json"};
    if (!as_of.empty()) {
      args.push_back("--as-of");
      args.push_back(as_of.c_str());
    }
    const CommandRun r = Guanxi(args);
    EXPECT_EQ(r.code, kExitOk) << r.err;
    return r.out;
  }

  TempDir data_;
  std::vector<std::shared_ptr<engine::EventLog>> logs_;
  std::vector<std::shared_ptr<engine::ProjectionStore>> stores_;
  std::vector<engine::PartitionView> views_;
  std::unique_ptr<engine::HttpServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(TrailEndpointTest, EndpointAndCommandGiveTheSameTrailLiveAndAsOfATime) {
  for (const std::string customer :
       {"acme", "beta", "gamma, Ltd.", "delta", "epsilon", "say \"hi\", inc"}) {
    const std::string live = Endpoint(customer);
    EXPECT_EQ(live, Command(customer)) << customer;
    EXPECT_EQ(ParseTrail(live).customer_id(), customer);
    for (const std::string as_of : {"2025-06-01", "2025-07-15T00:00:00Z", "2024-12-31"}) {
      EXPECT_EQ(Endpoint(customer, as_of), Command(customer, as_of)) << customer << " " << as_of;
    }
  }
  // The as-of time fired gamma's deadline (tested above for the command): so did the
  // endpoint's.
  EXPECT_EQ(ParseTrail(Endpoint("gamma, Ltd.", "2025-07-15T00:00:00Z")).state().stage(),
            v1::LIFECYCLE_STAGE_LOST);
  EXPECT_EQ(ParseTrail(Endpoint("acme", "2025-06-01")).state().events_applied(), 6u);
}

TEST_F(TrailEndpointTest, LiveTrailIsOneSnapshotWhileTheWorkerAppendsAndCommits) {
  const std::string before = Endpoint("acme");
  auto view = engine::LiveProjectionView(views_[0]);
  ASSERT_TRUE(view.ok()) << view.status();

  // The engine appends acme's visit of day 340; its worker has not projected it yet.
  testing::Events acme("acme", 0);
  acme.Visit(340);
  std::vector<v1::LogRecord> batch = acme.records();
  ASSERT_TRUE(logs_[0]->Append(absl::MakeSpan(batch), {}).ok());
  const v1::Trail appended = ParseTrail(Endpoint("acme"));
  EXPECT_EQ(appended.unprojected_events(), 1u);
  EXPECT_EQ(EventIds(appended), kAcmeEvents);
  // Recomputed as of a time, it counts: the log is the truth.
  EXPECT_EQ(EventIds(ParseTrail(Endpoint("acme", "2025-12-31"))).size(), kAcmeEvents.size() + 1);

  // The worker projects it: a new state, new facts, a new checkpoint, in one commit.
  const std::atomic<bool> stop{false};
  auto projector = engine::PartitionProjector::Create(
      logs_[0].get(), stores_[0].get(), {.partition = 0, .config = testing::TestConfig()});
  ASSERT_TRUE(projector.ok()) << projector.status();
  ASSERT_TRUE((*projector)->CatchUp(logs_[0]->next_position(), stop).ok());
  const v1::Trail after = ParseTrail(Endpoint("acme"));
  EXPECT_EQ(after.unprojected_events(), 0u);
  EXPECT_EQ(after.state().events_applied(), 10u);
  EXPECT_EQ(after.projected_to(), ParseTrail(before).projected_to() + 1);

  // The view taken before still reads the store as it was then: events, facts, state and
  // checkpoint of one commit.
  auto old = engine::ReadTrail(*view, "acme");
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(*engine::TrailJson(*old) + "\n", before);
}

}  // namespace
}  // namespace guanxi::app
