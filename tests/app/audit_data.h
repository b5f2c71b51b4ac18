// A small data directory with live projections, for the audit-trail and export tests:
// two partitions, six customers, events of many kinds over 2025, a population model,
// a tick, and a long quiet spell of "acme" so that its churn warning puts it at risk and
// a timer of its fires at another customer's event. Built as `guanxi run` would leave it: each partition's log opened
// with the projection column families and projected by a PartitionProjector with
// TestConfig(): the defaults with the churn thresholds the scenario was written against
// (the first churn defaults, before they were tuned for precision on the simulator: with
// those, inactivity alone raises a watch, and no silence rule), so the scenario has
// warnings to show.
//
// What happens to acme (partition 0), by day of 2025 (09:00 UTC):
//   0 profile; 3 visit (positive); 20 order o1; 30 complaint c1 (high);
//   35 c1 resolved (satisfied); 45 contract k1 signed; ... quiet ...; 200 visit;
//   210 order o2; 300 survey.
// Its churn warning (inactivity: a watch from the model of day 120, a warning when it
// turns severe on day 200, just before its visit) puts it at risk on day 200; the order
// of day 210 ends the reasons, and the resolution 30 days later (day 240) fires when
// beta's payment of day 250 moves the partition's clock past it: winning back.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/config/config.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/event_log.h"
#include "engine/storage/projection_store.h"
#include "engine/projection/projector.h"
#include "gtest/gtest.h"
#include "guanxi/v1/log.pb.h"

namespace guanxi::app::testing {

// The configuration the scenario is projected with (see above); every command the tests
// run on it gets it too (--config TestConfigPath()).
inline constexpr char kTestConfigText[] =
    "churn { inactivity_multiple: 3 min_rhythm_purchase_days: 4 complaint_max_age_days: 90 "
    "complaint_run_count: 3 complaint_run_window_days: 60 satisfaction_drop: 20 score_drop: 8 "
    "late_payment_min_days: 10 late_payment_increase_days: 7 competitor_lean: 0.3 "
    "competitor_window_days: 90 severe_factor: 2 watch_points: 2 warning_points: 3 "
    "critical_points: 5 weights { inactivity: 2 low_p_alive: 2 unresolved_complaint: 1 "
    "complaint_run: 1 satisfaction_drop: 1 score_drop: 1 late_payments: 1 "
    "renewal_low_score: 2 champion_left: 2 competitor_signal: 1 silence: 0 } }\n";
inline guanxi::v1::EngineConfig TestConfig() {
  return *engine::ParseEngineConfig(kTestConfigText, "test config");
}
inline const std::string& TestConfigPath() {
  static const std::string* const path = [] {
    auto* p = new std::string((std::filesystem::temp_directory_path() /
                               absl::StrCat("guanxi_audit_test_", getpid(), ".conf"))
                                  .string());
    std::ofstream(*p) << kTestConfigText;
    return p;
  }();
  return *path;
}

inline constexpr int64_t kDay = 86400;
inline constexpr int64_t kYearStart = 1735689600;  // 2025-01-01T00:00:00Z

inline int64_t DayAt(int day) { return kYearStart + day * kDay + 9 * 3600; }

// Builds one customer's events.
class Events {
 public:
  Events(std::string customer, int32_t partition)
      : customer_(std::move(customer)), partition_(partition) {}

  v1::Event& Add(int day, const std::string& id) {
    v1::LogRecord r;
    auto* e = r.mutable_event();
    e->set_event_id(absl::StrCat(customer_, "/", id));
    e->set_customer_id(customer_);
    e->mutable_occurred_at()->set_seconds(DayAt(day));
    e->set_source("test");
    r.mutable_source()->set_topic("guanxi.events");
    r.mutable_source()->set_partition(partition_);
    records_.push_back(std::move(r));
    return *records_.back().mutable_event();
  }
  void Profile(int day) {
    auto* p = Add(day, "profile").mutable_profile();
    p->set_name(customer_);
    p->set_strategic(true);
    p->mutable_potential_estimate()->set_minor_units(5000000);
    p->mutable_potential_estimate()->set_currency("EUR");
  }
  void Visit(int day, v1::Outcome outcome = v1::OUTCOME_POSITIVE) {
    auto* v = Add(day, absl::StrCat("visit-", day)).mutable_visit();
    v->set_outcome(outcome);
    v->set_contact_id("li");
    v->set_contact_level(v1::CONTACT_LEVEL_MANAGER);
  }
  void Order(int day, const std::string& id, int64_t minor) {
    auto* o = Add(day, id).mutable_order();
    o->set_order_id(id);
    o->set_kind(v1::ORDER_KIND_ORDER);
    o->mutable_amount()->set_minor_units(minor);
    o->mutable_amount()->set_currency("EUR");
  }
  void Complaint(int day, const std::string& id) {
    auto* c = Add(day, id).mutable_complaint();
    c->set_complaint_id(id);
    c->set_severity(v1::SEVERITY_HIGH);
    c->set_category("delivery");
  }
  void Resolved(int day, const std::string& id) {
    auto* c = Add(day, absl::StrCat(id, "-resolved")).mutable_complaint_resolved();
    c->set_complaint_id(id);
    c->set_customer_satisfied(true);
  }
  void Contract(int day, const std::string& id) {
    auto* c = Add(day, id).mutable_contract();
    c->set_contract_id(id);
    c->set_milestone(v1::CONTRACT_MILESTONE_KIND_SIGNED);
  }
  void Call(int day) {
    auto* c = Add(day, absl::StrCat("call-", day)).mutable_call();
    c->set_direction(v1::CALL_DIRECTION_INBOUND);
    c->set_resolved(true);
    c->set_sentiment(0.5);
  }
  void Survey(int day, double satisfaction) {
    auto* s = Add(day, absl::StrCat("survey-", day)).mutable_survey();
    s->set_satisfaction(satisfaction);
    s->set_scale_min(1);
    s->set_scale_max(5);
  }
  void Payment(int day, const std::string& invoice, int days_late) {
    auto* p = Add(day, absl::StrCat("pay-", invoice)).mutable_payment();
    p->set_payment_id(absl::StrCat("pay-", invoice));
    p->set_invoice_id(invoice);
    p->mutable_amount()->set_minor_units(100000);
    p->mutable_due_at()->set_seconds(DayAt(day - days_late));
  }

  const std::vector<v1::LogRecord>& records() const { return records_; }

 private:
  std::string customer_;
  int32_t partition_;
  std::vector<v1::LogRecord> records_;
};

// A population model (figures made up, but plausible) as a refit would append it.
inline v1::LogRecord ModelAt(int64_t seconds, int32_t partition) {
  v1::LogRecord r;
  auto* m = r.mutable_model();
  m->mutable_as_of()->set_seconds(seconds);
  m->set_population(3);
  m->add_partitions(partition);
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

inline int64_t TimeOf(const v1::LogRecord& r) {
  if (r.has_event()) return r.event().occurred_at().seconds();
  if (r.has_tick()) return r.tick().event_time().seconds();
  return r.model().as_of().seconds();
}

// The customers of each partition.
inline std::vector<Events> PartitionCustomers(int32_t partition) {
  std::vector<Events> customers;
  if (partition == 0) {
    Events acme("acme", 0);
    acme.Profile(0);
    acme.Visit(3);
    acme.Order(20, "o1", 120000);
    acme.Complaint(30, "c1");
    acme.Resolved(35, "c1");
    acme.Contract(45, "k1");
    acme.Visit(200);
    acme.Order(210, "o2", 90000);
    acme.Survey(300, 5);
    Events beta("beta", 0);
    beta.Profile(1);
    beta.Call(60);
    beta.Order(100, "b1", 700000);
    beta.Visit(140);
    beta.Order(150, "b2", 300000);
    beta.Payment(250, "b2", 12);
    beta.Order(330, "b3", 400000);
    Events gamma("gamma, Ltd.", 0);  // a comma for CSV quoting; quiet, so it gets lost
    gamma.Visit(10);
    customers = {acme, beta, gamma};
  } else {
    Events delta("delta", 1);
    delta.Profile(5);
    delta.Order(15, "d1", 250000);
    delta.Order(40, "d2", 250000);
    delta.Contract(50, "dk");
    delta.Payment(80, "d2", 20);
    delta.Call(200);
    Events epsilon("epsilon", 1);
    epsilon.Visit(2);
    epsilon.Call(300);
    Events quoted("say \"hi\", inc", 1);  // quotes and a comma for CSV quoting
    quoted.Visit(20);
    customers = {delta, epsilon, quoted};
  }
  return customers;
}

// Writes partitions 0 and 1 under `data` with live projections.
inline void BuildAuditData(const std::string& data) {
  for (int32_t p : {0, 1}) {
    std::vector<v1::LogRecord> records;
    for (const Events& c : PartitionCustomers(p)) {
      records.insert(records.end(), c.records().begin(), c.records().end());
    }
    if (p == 0) {
      records.push_back(ModelAt(DayAt(120), 0));
      v1::LogRecord tick;
      tick.mutable_tick()->mutable_event_time()->set_seconds(DayAt(364));
      records.push_back(tick);
    }
    // Roughly as they would arrive: in event time.
    std::stable_sort(
        records.begin(), records.end(),
        [](const v1::LogRecord& a, const v1::LogRecord& b) { return TimeOf(a) < TimeOf(b); });
    for (size_t i = 0; i < records.size(); ++i) {
      records[i].mutable_source()->set_offset(static_cast<int64_t>(i));
    }
    engine::EventLogOptions options{.partition = p};
    options.extra_column_families = engine::ProjectionStore::ColumnFamilies();
    auto log = engine::EventLog::Open(engine::PartitionDir(data, p), options);
    ASSERT_TRUE(log.ok()) << log.status();
    // In a few batches, projected after each, as the engine's worker would.
    const std::atomic<bool> stop{false};
    auto store = engine::ProjectionStore::Attach(log->get());
    ASSERT_TRUE(store.ok()) << store.status();
    auto projector = engine::PartitionProjector::Create(
        log->get(), store->get(), {.partition = p, .config = TestConfig(), .chunk = 4});
    ASSERT_TRUE(projector.ok()) << projector.status();
    for (size_t from = 0; from < records.size(); from += 5) {
      std::vector<v1::LogRecord> batch(
          records.begin() + static_cast<std::ptrdiff_t>(from),
          records.begin() + static_cast<std::ptrdiff_t>(std::min(records.size(), from + 5)));
      ASSERT_TRUE((*log)->Append(absl::MakeSpan(batch), {}).ok());
      ASSERT_TRUE((*projector)->CatchUp((*log)->next_position(), stop).ok());
    }
  }
}

}  // namespace guanxi::app::testing
