#include "connectors/simulator.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/random.h"
#include "google/protobuf/util/time_util.h"

namespace guanxi::connectors {
namespace {

using guanxi::v1::Event;
constexpr int64_t kDay = 86400;

CustomerRates Traits(Persona p) {
  switch (p) {
    case Persona::kKeyAccount:
      return {1.0 / 9, 18000, 1.0 / 15, 1.0 / 25, 1.0 / 35, 1.0 / 50, 1.0 / 80, 1.0 / 150, 0.65, 5};
    case Persona::kRegular:
      return {1.0 / 24,  2500,      1.0 / 35,  1.0 / 80, 1.0 / 110,
              1.0 / 160, 1.0 / 300, 1.0 / 180, 0.4,      3};
    case Persona::kSmall:
      return {1.0 / 55, 400, 1.0 / 70, 1.0 / 400, 1.0 / 400, 1.0 / 600, 0, 1.0 / 250, 0.15, 1};
    case Persona::kProspect:
      return {0, 300, 1.0 / 120, 1.0 / 150, 1.0 / 300, 0, 0, 0, 0.1, 1};
  }
  return {};
}

// Company-wide activities: (day of year, kind). Key and regular customers are invited.
constexpr std::pair<int, guanxi::v1::ActivityKind> kActivities[] = {
    {38, guanxi::v1::ACTIVITY_KIND_SPRING_RECEPTION},
    {110, guanxi::v1::ACTIVITY_KIND_CUSTOMER_FORUM},
    {190, guanxi::v1::ACTIVITY_KIND_SEMINAR},
    {265, guanxi::v1::ACTIVITY_KIND_ROADSHOW},
    {340, guanxi::v1::ACTIVITY_KIND_BANQUET}};

const char* const kIndustries[] = {"manufacturing", "retail",     "logistics",
                                   "energy",        "healthcare", "finance"};
const char* const kRegions[] = {"North", "South", "East", "West"};
const char* const kCompetitors[] = {"Acme", "Borealis", "Cobalt"};
const char* const kCallReasons[] = {"order status", "billing question", "technical issue",
                                    "delivery", "product inquiry"};
const char* const kComplaintCategories[] = {"delivery", "quality", "billing", "service"};

}  // namespace

const char* PersonaName(Persona persona) {
  switch (persona) {
    case Persona::kKeyAccount:
      return "key_account";
    case Persona::kRegular:
      return "regular";
    case Persona::kSmall:
      return "small";
    case Persona::kProspect:
      return "prospect";
  }
  return "unknown";
}

struct Simulator::Customer {
  GroundTruth* truth;
  CustomerRates traits;
  std::string id;
  int64_t converts_day = 0;  // prospects: first day they buy (> days: never)
  int champion = -1;         // index of the champion contact, -1 for none
  bool champion_leaves = false;
  int64_t champion_leaves_at = 0;
  int64_t events = 0;
  int64_t orders = 0;
  int64_t complaints = 0;
  int64_t renewal_day = -1;
};

Simulator::Simulator(const SimulatorOptions& options) : options_(options) {}

void Simulator::Run(const std::function<void(const Event&)>& emit) {
  Random rng(options_.seed ^ 0x6775616E7869ull);
  const int64_t start = options_.start_unix_seconds;
  const int32_t days = options_.days;

  // Population and ground truth.
  truth_.assign(static_cast<size_t>(options_.customers), {});
  std::vector<Customer> customers(static_cast<size_t>(options_.customers));
  for (size_t i = 0; i < customers.size(); ++i) {
    Customer& c = customers[i];
    GroundTruth& t = truth_[i];
    c.truth = &t;
    c.id = absl::StrFormat("sim-%06d", i);
    t.customer_id = c.id;
    const double u = rng.Uniform();
    t.persona = u < 0.10   ? Persona::kKeyAccount
                : u < 0.55 ? Persona::kRegular
                : u < 0.85 ? Persona::kSmall
                           : Persona::kProspect;
    c.traits = Traits(t.persona);
    // Individual heterogeneity around the persona (as BG/NBD assumes).
    c.traits.purchase_per_day *= rng.LogNormal(1.0, 0.35);
    c.traits.order_median_eur *= rng.LogNormal(1.0, 0.4);
    t.rates = c.traits;
    c.converts_day = t.persona == Persona::kProspect
                         ? (rng.Chance(0.4) ? rng.Int(30, days - 30) : int64_t{days} + 1)
                         : 0;
    if (t.persona == Persona::kKeyAccount || (t.persona == Persona::kRegular && rng.Chance(0.5))) {
      c.champion = 0;
    }
    if (t.persona != Persona::kProspect && days >= 2 && rng.Chance(options_.churn_share)) {
      t.churns = true;
      const int64_t churn_day = rng.Int(std::max<int64_t>(1, static_cast<int64_t>(days * 0.45)),
                                        static_cast<int64_t>(days * 0.9));
      // The decline starts 45..110 days before leaving (sooner in a short simulation).
      const int64_t degrade_days = std::min<int64_t>(rng.Int(45, 110), churn_day);
      t.churn_at = start + churn_day * kDay;
      t.degrade_from = start + (churn_day - degrade_days) * kDay;
      if (c.champion >= 0 && rng.Chance(0.45)) {
        c.champion_leaves = true;
        c.champion_leaves_at = t.degrade_from + rng.Int(0, degrade_days - 1) * kDay;
      }
    }
    if (t.persona == Persona::kKeyAccount && days >= 30) {
      c.renewal_day = rng.Int(days / 3, days - 10);
    }
  }

  // Events due later (payments, complaint resolutions) wait in per-day buckets.
  std::vector<std::vector<Event>> later(static_cast<size_t>(days));
  std::vector<Event> today;

  for (int32_t day = 0; day < days; ++day) {
    const int64_t day_start = start + int64_t{day} * kDay;
    today.clear();
    std::swap(today, later[static_cast<size_t>(day)]);

    for (Customer& c : customers) {
      const GroundTruth& t = *c.truth;
      // Degradation progress 0..1 before churn; after churn the customer is gone.
      double p = 0;
      const bool gone = t.churns && day_start >= t.churn_at;
      if (t.churns && day_start >= t.degrade_from && !gone) {
        p = static_cast<double>(day_start - t.degrade_from) /
            static_cast<double>(t.churn_at - t.degrade_from);
      }
      const bool buying = day >= c.converts_day && !gone;

      auto make = [&](int64_t at) -> Event& {
        Event& e = today.emplace_back();
        e.set_event_id(absl::StrCat("sim-", options_.seed, "-", c.id, "-", c.events++));
        e.set_customer_id(c.id);
        e.mutable_occurred_at()->set_seconds(at);
        e.set_source("simulator");
        return e;
      };
      auto daytime = [&] { return day_start + rng.Int(8 * 3600, 18 * 3600); };
      // A later event, at least a day ahead (today's bucket is being filled, and
      // references into it must stay valid).
      auto schedule = [&](int64_t delay_days) -> Event* {
        const int64_t target = day + std::max<int64_t>(1, delay_days);
        if (target >= days) return nullptr;
        Event& e = later[static_cast<size_t>(target)].emplace_back();
        e.set_event_id(absl::StrCat("sim-", options_.seed, "-", c.id, "-", c.events++));
        e.set_customer_id(c.id);
        e.mutable_occurred_at()->set_seconds(start + target * kDay + rng.Int(8 * 3600, 18 * 3600));
        e.set_source("simulator");
        return &e;
      };

      if (day == 0) {
        Event& e = make(day_start + 8 * 3600);
        auto* profile = e.mutable_profile();
        profile->set_name(absl::StrCat("Customer ", c.id.substr(4)));
        profile->set_industry(kIndustries[rng.Int(0, 5)]);
        profile->set_region(kRegions[rng.Int(0, 3)]);
        profile->set_size(t.persona == Persona::kKeyAccount ? guanxi::v1::COMPANY_SIZE_ENTERPRISE
                          : t.persona == Persona::kRegular  ? guanxi::v1::COMPANY_SIZE_LARGE
                                                            : guanxi::v1::COMPANY_SIZE_SMALL);
        profile->mutable_potential_estimate()->set_currency("EUR");
        profile->mutable_potential_estimate()->set_minor_units(static_cast<int64_t>(
            c.traits.order_median_eur * 100 * 365 * std::max(c.traits.purchase_per_day, 1.0 / 90) *
            rng.LogNormal(1.3, 0.5)));
        profile->set_strategic(t.persona == Persona::kKeyAccount);
        profile->set_owner(absl::StrCat("am-", rng.Int(1, 12)));
        for (int k = 0; k < c.traits.contacts; ++k) {
          Event& j = make(day_start + 8 * 3600 + k + 1);
          auto* change = j.mutable_contact_change();
          change->set_contact_id(absl::StrCat(c.id, "/contact-", k));
          change->set_change(guanxi::v1::CONTACT_CHANGE_KIND_JOINED);
          change->set_role(k == 0   ? guanxi::v1::CONTACT_ROLE_DECISION_MAKER
                           : k == 1 ? guanxi::v1::CONTACT_ROLE_INFLUENCER
                                    : guanxi::v1::CONTACT_ROLE_USER);
          change->set_level(k == 0 ? guanxi::v1::CONTACT_LEVEL_EXECUTIVE
                                   : guanxi::v1::CONTACT_LEVEL_MANAGER);
          change->set_champion(k == c.champion);
        }
        if (t.persona == Persona::kKeyAccount) {
          Event& s = make(day_start + 9 * 3600);
          auto* contract = s.mutable_contract();
          contract->set_contract_id(absl::StrCat(c.id, "-K1"));
          contract->set_milestone(guanxi::v1::CONTRACT_MILESTONE_KIND_SIGNED);
          contract->mutable_value()->set_currency("EUR");
          contract->mutable_value()->set_minor_units(
              static_cast<int64_t>(c.traits.order_median_eur * 100 * 40));
          if (c.renewal_day >= 0) {
            contract->mutable_renewal_due_at()->set_seconds(start + c.renewal_day * kDay);
          }
        }
      }
      if (gone) {
        // After leaving: silence, but for a rare stray inbound call.
        if (rng.Chance(1.0 / 250)) {
          Event& e = make(daytime());
          e.mutable_call()->set_call_id(absl::StrCat(c.id, "-", day));
          e.mutable_call()->set_direction(guanxi::v1::CALL_DIRECTION_INBOUND);
          e.mutable_call()->set_duration_seconds(static_cast<int32_t>(rng.Int(30, 300)));
          e.mutable_call()->set_reason("account closure");
          e.mutable_call()->set_resolved(true);
        }
        continue;
      }

      // Purchases, and the invoice's payment some days later.
      if (buying && rng.Chance(c.traits.purchase_per_day * (1.0 - 0.85 * p))) {
        Event& e = make(daytime());
        auto* order = e.mutable_order();
        order->set_order_id(absl::StrCat(c.id, "-O", ++c.orders));
        order->set_kind(guanxi::v1::ORDER_KIND_ORDER);
        order->mutable_amount()->set_currency("EUR");
        order->mutable_amount()->set_minor_units(static_cast<int64_t>(
            rng.LogNormal(c.traits.order_median_eur, 0.5) * (1.0 - 0.5 * p) * 100));
        order->set_quantity(rng.Int(1, 40));
        order->set_line_count(static_cast<int32_t>(rng.Int(1, 6)));
        order->set_product_line(rng.Chance(0.5) ? "core" : "services");
        const int64_t due_days = 30;
        const int64_t late = std::max<int64_t>(
            -5, static_cast<int64_t>(std::lround(rng.Normal(-1 + 35 * p, 4 + 6 * p))));
        if (Event* pay = schedule(due_days + late)) {
          auto* payment = pay->mutable_payment();
          payment->set_payment_id(absl::StrCat(order->order_id(), "-P"));
          payment->set_invoice_id(order->order_id());
          *payment->mutable_amount() = order->amount();
          payment->mutable_due_at()->set_seconds(e.occurred_at().seconds() + due_days * kDay);
          *payment->mutable_paid_at() = pay->occurred_at();
        }
      }
      // Calls: inbound and outbound.
      if (rng.Chance(c.traits.call_per_day * (1.0 + p))) {
        Event& e = make(daytime());
        auto* call = e.mutable_call();
        call->set_call_id(absl::StrCat(c.id, "-C", c.events));
        call->set_direction(rng.Chance(0.6) ? guanxi::v1::CALL_DIRECTION_INBOUND
                                            : guanxi::v1::CALL_DIRECTION_OUTBOUND);
        call->set_duration_seconds(static_cast<int32_t>(rng.Int(60, 1200)));
        call->set_reason(kCallReasons[rng.Int(0, 4)]);
        call->set_resolved(rng.Chance(0.88 - 0.4 * p));
        call->set_sentiment(std::clamp(rng.Normal(0.35 - 0.9 * p, 0.3), -1.0, 1.0));
        call->set_agent(absl::StrCat("agent-", rng.Int(1, 40)));
        call->set_useful_information(rng.Chance(0.15 * (1.0 - p)));
      }
      // Account-manager visits.
      if (rng.Chance(c.traits.visit_per_day)) {
        Event& e = make(daytime());
        auto* visit = e.mutable_visit();
        visit->set_visitor(absl::StrCat("am-", rng.Int(1, 12)));
        const int contact = static_cast<int>(rng.Int(0, c.traits.contacts - 1));
        visit->set_contact_id(absl::StrCat(c.id, "/contact-", contact));
        visit->set_contact_level(contact == 0 ? guanxi::v1::CONTACT_LEVEL_EXECUTIVE
                                              : guanxi::v1::CONTACT_LEVEL_MANAGER);
        visit->set_purpose("account review");
        const double u = rng.Uniform();
        visit->set_outcome(u < 0.6 - 0.5 * p   ? guanxi::v1::OUTCOME_POSITIVE
                           : u < 0.9 - 0.3 * p ? guanxi::v1::OUTCOME_NEUTRAL
                                               : guanxi::v1::OUTCOME_NEGATIVE);
      }
      // What the relationship brings us: information, guidance, project support.
      if (rng.Chance(c.traits.info_per_day * (1.0 - 0.8 * p))) {
        Event& e = make(daytime());
        e.mutable_information_shared()->set_contact_id(absl::StrCat(c.id, "/contact-0"));
        e.mutable_information_shared()->set_topic(rng.Chance(0.5) ? "budget" : "plans");
      }
      if (rng.Chance(c.traits.guidance_per_day * (1.0 - 0.8 * p))) {
        Event& e = make(daytime());
        e.mutable_guidance_given()->set_contact_id(absl::StrCat(c.id, "/contact-1"));
        e.mutable_guidance_given()->set_topic("process");
      }
      if (rng.Chance(c.traits.support_per_day * (1.0 - 0.9 * p))) {
        Event& e = make(daytime());
        e.mutable_project_support()->set_contact_id(absl::StrCat(c.id, "/contact-0"));
        e.mutable_project_support()->set_project("expansion");
      }
      // Complaints, resolved some days later (or never).
      if (rng.Chance(c.traits.complaint_per_day * (1.0 + 5 * p) + (p > 0 ? 0.004 : 0))) {
        Event& e = make(daytime());
        auto* complaint = e.mutable_complaint();
        complaint->set_complaint_id(absl::StrCat(c.id, "-Q", ++c.complaints));
        complaint->set_severity(static_cast<guanxi::v1::Severity>(
            std::min<int64_t>(4, rng.Int(1, 3) + (rng.Chance(p) ? 1 : 0))));
        complaint->set_category(kComplaintCategories[rng.Int(0, 3)]);
        complaint->set_channel(rng.Chance(0.7) ? "phone" : "email");
        if (rng.Chance(0.92 - 0.6 * p)) {
          const int64_t after = std::max<int64_t>(
              0, static_cast<int64_t>(-std::log(1 - rng.Uniform()) * (3 + 12 * p)));
          if (Event* done = schedule(after)) {
            done->mutable_complaint_resolved()->set_complaint_id(complaint->complaint_id());
            done->mutable_complaint_resolved()->set_customer_satisfied(rng.Chance(0.8 - 0.5 * p));
            done->mutable_complaint_resolved()->set_resolution("resolved by support");
          }
        }
      }
      // Competitor signals: rare, and leaning away while degrading.
      if (rng.Chance(1.0 / 220 + 0.02 * p)) {
        Event& e = make(daytime());
        e.mutable_competitor_signal()->set_competitor(kCompetitors[rng.Int(0, 2)]);
        e.mutable_competitor_signal()->set_lean(
            std::clamp(rng.Normal(0.2 - 1.0 * p, 0.3), -1.0, 1.0));
      }
      if (t.persona == Persona::kKeyAccount && rng.Chance(1.0 / 300 * (1 - p))) {
        Event& e = make(daytime());
        e.mutable_referral()->set_referred_customer_id(absl::StrCat(c.id, "-ref-", day));
        e.mutable_referral()->set_contact_id(absl::StrCat(c.id, "/contact-0"));
      }
      // Company activities: invitations a month ahead, attendance on the day.
      if (t.persona == Persona::kKeyAccount || t.persona == Persona::kRegular) {
        for (const auto& [activity_day, kind] : kActivities) {
          if (activity_day >= days) continue;
          if (day == std::max(0, activity_day - 30) || day == activity_day) {
            const bool invite = day != activity_day;
            const bool attends = rng.Chance(c.traits.attend_activity * (1.0 - 0.9 * p));
            Event& e = make(day_start + (invite ? 10 : 18) * 3600);
            auto* a = e.mutable_activity();
            a->set_activity_id(absl::StrCat("activity-", activity_day));
            a->set_kind(kind);
            a->set_contact_id(absl::StrCat(c.id, "/contact-0"));
            a->set_status(invite    ? guanxi::v1::PARTICIPATION_STATUS_INVITED
                          : attends ? guanxi::v1::PARTICIPATION_STATUS_ATTENDED
                                    : guanxi::v1::PARTICIPATION_STATUS_DECLINED);
          }
        }
      }
      // Quarterly: surveys (key and regular) and account-manager assessments (key).
      if (day % 91 == 85) {
        if (t.persona != Persona::kProspect && t.persona != Persona::kSmall && rng.Chance(0.55)) {
          Event& e = make(daytime());
          auto* survey = e.mutable_survey();
          survey->set_survey_id(absl::StrCat("survey-", day));
          survey->set_scale_min(1);
          survey->set_scale_max(5);
          survey->set_satisfaction(
              std::clamp(std::round(rng.Normal(4.1 - 2.2 * p, 0.6)), 1.0, 5.0));
          survey->set_nps(
              static_cast<int32_t>(std::clamp(std::round(rng.Normal(8 - 5 * p, 1.5)), 0.0, 10.0)));
        }
        if (t.persona == Persona::kKeyAccount) {
          Event& e = make(daytime());
          auto* a = e.mutable_assessment();
          a->set_assessor("am");
          auto rate = [&](double base) {
            return std::clamp(rng.Normal(base - 35 * p, 8), 0.0, 100.0);
          };
          a->set_acceptance(rate(72));
          a->set_participation(rate(60));
          a->set_information(rate(62));
          a->set_guidance(rate(50));
          a->set_project_support(rate(58));
          a->set_competitive_preference(rate(65));
        }
      }
      // Opportunities for key accounts and regulars.
      if ((t.persona == Persona::kKeyAccount || t.persona == Persona::kRegular) &&
          rng.Chance(1.0 / 120)) {
        const std::string opp = absl::StrCat(c.id, "-OP", day);
        Event& e = make(daytime());
        e.mutable_opportunity()->set_opportunity_id(opp);
        e.mutable_opportunity()->set_stage(guanxi::v1::OPPORTUNITY_STAGE_DISCOVERY);
        e.mutable_opportunity()->mutable_value()->set_currency("EUR");
        e.mutable_opportunity()->mutable_value()->set_minor_units(
            static_cast<int64_t>(c.traits.order_median_eur * 100 * 5));
        if (Event* close = schedule(rng.Int(20, 60))) {
          const bool won = rng.Chance(0.55 - 0.5 * p);
          close->mutable_opportunity()->set_opportunity_id(opp);
          close->mutable_opportunity()->set_stage(won ? guanxi::v1::OPPORTUNITY_STAGE_WON
                                                      : guanxi::v1::OPPORTUNITY_STAGE_LOST);
          *close->mutable_opportunity()->mutable_value() = e.opportunity().value();
          if (!won)
            close->mutable_opportunity()->set_lost_to_competitor(kCompetitors[rng.Int(0, 2)]);
        }
      }
      // The champion leaves during the decline (some churners).
      if (c.champion_leaves && day_start <= c.champion_leaves_at &&
          c.champion_leaves_at < day_start + kDay) {
        Event& e = make(daytime());
        auto* change = e.mutable_contact_change();
        change->set_contact_id(absl::StrCat(c.id, "/contact-", c.champion));
        change->set_change(guanxi::v1::CONTACT_CHANGE_KIND_LEFT);
        change->set_role(guanxi::v1::CONTACT_ROLE_DECISION_MAKER);
        change->set_level(guanxi::v1::CONTACT_LEVEL_EXECUTIVE);
        change->set_champion(true);
      }
      // Key-account contracts: renewal due, then renewed, or terminated by a churner.
      if (c.renewal_day == day) {
        Event& e = make(day_start + 9 * 3600);
        e.mutable_contract()->set_contract_id(absl::StrCat(c.id, "-K1"));
        e.mutable_contract()->set_milestone(guanxi::v1::CONTRACT_MILESTONE_KIND_RENEWAL_DUE);
        if (Event* next = schedule(14)) {
          next->mutable_contract()->set_contract_id(absl::StrCat(c.id, "-K1"));
          const bool leaving = t.churns && p > 0;
          next->mutable_contract()->set_milestone(
              leaving ? guanxi::v1::CONTRACT_MILESTONE_KIND_TERMINATED
                      : guanxi::v1::CONTRACT_MILESTONE_KIND_RENEWED);
        }
      }
      if (t.churns && t.churn_at >= day_start && t.churn_at < day_start + kDay &&
          t.persona == Persona::kKeyAccount) {
        Event& e = make(day_start + 17 * 3600);
        e.mutable_contract()->set_contract_id(absl::StrCat(c.id, "-K1"));
        e.mutable_contract()->set_milestone(guanxi::v1::CONTRACT_MILESTONE_KIND_TERMINATED);
      }
    }

    // One day's events in time order; ties broken by id so the order is total.
    std::sort(today.begin(), today.end(), [](const Event& a, const Event& b) {
      if (a.occurred_at().seconds() != b.occurred_at().seconds()) {
        return a.occurred_at().seconds() < b.occurred_at().seconds();
      }
      return a.event_id() < b.event_id();
    });
    for (const Event& e : today) emit(e);
  }
}

std::string GroundTruthJsonLine(const GroundTruth& truth) {
  auto when = [](int64_t seconds) {
    return google::protobuf::util::TimeUtil::ToString(
        google::protobuf::util::TimeUtil::SecondsToTimestamp(seconds));
  };
  std::string line =
      absl::StrCat("{\"customerId\":\"", truth.customer_id, "\",\"persona\":\"",
                   PersonaName(truth.persona), "\",\"churns\":", truth.churns ? "true" : "false");
  if (truth.churns) {
    absl::StrAppend(&line, ",\"degradeFrom\":\"", when(truth.degrade_from), "\",\"churnAt\":\"",
                    when(truth.churn_at), "\"");
  }
  absl::StrAppend(&line, "}");
  return line;
}

}  // namespace guanxi::connectors
