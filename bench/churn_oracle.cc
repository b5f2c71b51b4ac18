// churn_oracle: how well ANY detector could find the simulator's planted churners, so
// that churn_quality's figures can be judged against what the events allow.
//
//   build/ci/bench/churn_oracle [--customers=2000] [--days=540] [--seed=1]
//                               [--without=CHANNEL,...] [--timing=simulator|flat]
//                               [--list=THETA] [--seeds=S,S,...]
//
// The oracle knows everything but the answer: the simulator's generating process
// (connectors/simulator.cc; every formula of how a decline changes the events is mirrored
// below), each customer's persona and own rates (GroundTruth.rates), and the prior of the
// planted churn (share, churn day, length of the decline). It does not know whether or
// when a customer churns. For each customer and each day t it computes, from the events
// seen by the end of day t, the exact posterior probability that the customer is declining
// or gone:
//
//   P(decline started by t | events <= t)
//     = sum_{h: s_h <= t} prior_h L_h / (prior_0 L_0 + sum_h prior_h L_h),
//
// over hypotheses h = (churn day c, decline length D, decline start s = c - D) on a grid
// (c every 3 days over the simulator's range, D every 5 days over 45..110), and h_0 = no
// churn. L is the likelihood of everything observed by t: each day's events (purchases with
// their amounts, calls with resolution, sentiment and usefulness, visit outcomes,
// information, guidance, project support, referrals, complaints with severity, competitor
// signals with their lean, activity attendance, surveys, assessments, opportunities), the
// events that arrive later with what they tell of the day they were caused (payments and
// their lateness, complaint resolutions, opportunity outcomes, renewal outcomes), what has
// NOT arrived yet (an unpaid invoice, an open complaint), the champion leaving (or not yet),
// and the silence after leaving. The alarm is raised once per customer, the first time the
// posterior reaches a threshold theta; it is scored exactly as churn_quality scores RAISED
// notices (TP inside [degrade_from, churn_at], FP for non-churners and before the decline,
// late after churn_at; recall over planted churners; median lead of the detected:
// bench/churn_score.h, shared with churn_quality).
//
// A Bayes-optimal posterior with a threshold is the best way to trade false alarms for
// early detections at each moment; it is not a proof that no rule does better on the
// three figures at once (a different threshold per customer kind could shift them), but
// no rule can see evidence the oracle does not weigh. The table sweeps theta: read
// precision, recall and median lead together, and compare with churn_quality's rows.
// --timing=flat takes away the one thing the oracle knows that no detector in the field
// could: when the simulator plants its declines (churn days in 0.45..0.9 of the run, so
// no decline starts before about day 133). The hypotheses then start on any day of the
// run (every 3 days, lengths 45..110 as before), with the same churn share spread over
// them: the best a detector that knows the generating process and each customer's own
// rates, but not the calendar of the declines, can do.
// --seeds=S,S,... runs each seed so, then pools each theta's figures over them (TP, FP,
// late and churners summed; precision and recall of the sums; the median lead of all
// detected churners and the mean of the seeds' medians; JSON "churn_oracle_pooled").
// --list=THETA (one of the table's thresholds) prints that row's alarms, one a line, as
// churn_quality --list does (verdict, customer, persona, day; lead for a TP).
// --without=purchase,call,... leaves channels out (their events count as uninformative),
// to show where the evidence lies. Channels: purchase, payment, call, visit, engagement
// (information, guidance, project support, referral), complaint, competitor, activity,
// survey, assessment, opportunity, champion, renewal.
//
// Output: a readable table, then one JSON line (prefix "json: "). Deterministic. A
// benchmark, not a test: nothing is asserted.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench/churn_score.h"
#include "connectors/simulator.h"

namespace guanxi::bench {
namespace {

using connectors::CustomerRates;
using connectors::GroundTruth;
using connectors::Persona;
using guanxi::v1::Event;

constexpr int64_t kDay = 86400;
// The log-likelihood added for what a hypothesis cannot produce. Finite, so sums stay
// ordered (two impossibilities are less likely than one) and nothing becomes NaN.
constexpr double kImpossible = -1e6;
// Decline progress p on a grid of kGrid + 1 points.
constexpr int kGrid = 50;
constexpr int kActivityDays[] = {38, 110, 190, 265, 340};

enum Channel {
  kPurchase,
  kPayment,
  kCall,
  kVisit,
  kEngagement,
  kComplaint,
  kCompetitor,
  kActivity,
  kSurvey,
  kAssessment,
  kOpportunity,
  kChampion,
  kRenewal,
  kChannels
};
const char* const kChannelNames[kChannels] = {
    "purchase", "payment", "call",       "visit",       "engagement", "complaint", "competitor",
    "activity", "survey",  "assessment", "opportunity", "champion",   "renewal"};

// The posterior thresholds theta, one row each.
constexpr double kThetas[] = {0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98};
constexpr int kThresholds = sizeof(kThetas) / sizeof(kThetas[0]);

struct Options {
  int64_t customers = 2000;
  int32_t days = 540;
  uint64_t seed = 1;
  std::array<bool, kChannels> on{};
  bool flat_timing = false;     // --timing=flat: a decline may start on any day
  double list_theta = 0;        // --list=THETA: print that row's alarms (0: none)
  std::vector<uint64_t> seeds;  // --seeds: one run each, then their figures pooled
};

std::optional<Options> ParseArgs(int argc, char** argv) {
  Options options;
  options.on.fill(true);
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* name) -> std::optional<std::string> {
      const std::string prefix = absl::StrCat("--", name, "=");
      if (arg.rfind(prefix, 0) != 0) return std::nullopt;
      return arg.substr(prefix.size());
    };
    int64_t n = 0;
    bool ok = true;
    if (auto v = value("customers"); v && absl::SimpleAtoi(*v, &n) && n > 0) {
      options.customers = n;
    } else if (auto d = value("days"); d && absl::SimpleAtoi(*d, &n) && n >= 200 && n <= 3650) {
      options.days = static_cast<int32_t>(n);
    } else if (auto s = value("seed"); s && absl::SimpleAtoi(*s, &n) && n >= 0) {
      options.seed = static_cast<uint64_t>(n);
    } else if (auto timing = value("timing");
               timing && (*timing == "simulator" || *timing == "flat")) {
      options.flat_timing = *timing == "flat";
    } else if (auto l = value("list"); l && absl::SimpleAtod(*l, &options.list_theta)) {
      ok = std::any_of(std::begin(kThetas), std::end(kThetas),
                       [&](double theta) { return std::abs(theta - options.list_theta) < 1e-9; });
    } else if (auto list = value("seeds"); list) {
      auto seeds = ParseSeeds(*list);
      ok = seeds.has_value();
      if (ok) options.seeds = *seeds;
    } else if (auto w = value("without"); w) {
      for (absl::string_view name : absl::StrSplit(*w, ',')) {
        const auto* it = std::find(std::begin(kChannelNames), std::end(kChannelNames), name);
        if (it == std::end(kChannelNames)) {
          std::cerr << "churn_oracle: unknown channel '" << name << "'\n";
          ok = false;
          break;
        }
        options.on[static_cast<size_t>(it - std::begin(kChannelNames))] = false;
      }
    } else {
      ok = false;
    }
    if (!ok) {
      std::cerr
          << "usage: churn_oracle [--customers=N] [--days=D>=200] [--seed=S | --seeds=S,S,...] "
             "[--without=CHANNEL,...] [--timing=simulator|flat] [--list=THETA]\n";
      return std::nullopt;
    }
  }
  return options;
}

// --- Distributions -------------------------------------------------------------------

double Log(double x) { return x > 0 ? std::log(x) : kImpossible; }
double Phi(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }
double UpperPhi(double z) { return 0.5 * std::erfc(z / std::sqrt(2.0)); }
double LogNormalPdf(double x, double mean, double sd) {
  const double z = (x - mean) / sd;
  return -0.5 * z * z - std::log(sd) - 0.5 * std::log(2 * M_PI);
}
// clamp(N(mean, sd), lo, hi) observed as x.
double ClampedNormal(double x, double mean, double sd, double lo, double hi) {
  if (x <= lo) return Log(Phi((lo - mean) / sd));
  if (x >= hi) return Log(UpperPhi((hi - mean) / sd));
  return LogNormalPdf(x, mean, sd);
}
// clamp(round(N(mean, sd)), lo, hi) observed as the integer v.
double RoundedNormal(int v, double mean, double sd, int lo, int hi) {
  if (v <= lo) return Log(Phi((lo + 0.5 - mean) / sd));
  if (v >= hi) return Log(UpperPhi((hi - 0.5 - mean) / sd));
  return Log(UpperPhi((v - 0.5 - mean) / sd) - UpperPhi((v + 0.5 - mean) / sd));
}
double Bernoulli(bool happened, double q) { return happened ? Log(q) : std::log1p(-q); }

// Payment lateness in days: max(-5, lround(N(-1 + 35p, 4 + 6p))).
double LateMean(double p) { return -1 + 35 * p; }
double LateSd(double p) { return 4 + 6 * p; }
double LogLate(int late, double p) {
  if (late < -5) return kImpossible;
  if (late == -5) return Log(Phi((-4.5 - LateMean(p)) / LateSd(p)));
  return Log(UpperPhi((late - 0.5 - LateMean(p)) / LateSd(p)) -
             UpperPhi((late + 0.5 - LateMean(p)) / LateSd(p)));
}
// P(lateness > x).
double LogLateAbove(int x, double p) {
  if (x < -5) return 0;
  return Log(UpperPhi((x + 0.5 - LateMean(p)) / LateSd(p)));
}
// Complaint resolution: scheduled with chance 0.92 - 0.6p, after max(1, floor(Exp(3 + 12p)))
// days.
double ResolutionChance(double p) { return 0.92 - 0.6 * p; }
double ResolutionMean(double p) { return 3 + 12 * p; }
double LogResolvedAfter(int j, double p) {
  const double mu = ResolutionMean(p);
  const double when = j <= 1 ? 1 - std::exp(-2 / mu) : std::exp(-j / mu) - std::exp(-(j + 1) / mu);
  return Log(ResolutionChance(p) * when);
}
// Not resolved within e days of being made.
double LogOpenAfter(int e, double p) {
  if (e < 1) return 0;
  return Log(1 - ResolutionChance(p) * (1 - std::exp(-(e + 1) / ResolutionMean(p))));
}

// --- One customer's observations -------------------------------------------------------

// What one day brought that the customer caused that day.
struct Day {
  bool order = false;
  double amount_minor = 0;
  bool call = false, call_resolved = false, call_useful = false;
  double sentiment = 0;
  bool stray_call = false;  // "account closure": only after leaving
  bool visit = false;
  int outcome = 0;  // 0 positive, 1 neutral, 2 negative
  bool info = false, guidance = false, support = false, referral = false;
  bool complaint = false;
  int severity = 0;
  bool competitor = false;
  double lean = 0;
  bool invite = false;
  int activity = -1;  // 1 attended, 0 declined, -1 none
  bool survey = false;
  double satisfaction = 0;
  int nps = 0;
  bool assessment = false;
  double ratings[6] = {};
  bool opportunity = false;
  bool renewal_due = false;
  bool champion_left = false;
  bool other = false;  // anything else (day 0: profile, contacts, contract)
};

// Something caused on day `created` and seen on day `arrived` (or not by the end).
struct Later {
  enum Kind { kPaymentOf, kResolutionOf, kOpportunityOf, kRenewalOf } kind = kPaymentOf;
  int created = 0;
  int arrived = std::numeric_limits<int>::max();
  int late = 0;             // payment
  bool satisfied = false;   // resolution
  bool won = false;         // opportunity
  bool terminated = false;  // renewal
};

struct Customer {
  const GroundTruth* truth = nullptr;
  std::vector<Day> days;
  std::vector<Later> later;
  bool has_champion = false;
  int champion_left_day = -1;
  int renewal_day = -1;
};

int DayIndex(int64_t seconds, int64_t start) { return static_cast<int>((seconds - start) / kDay); }

// --- The likelihood ------------------------------------------------------------------

class Model {
 public:
  Model(const Options& options, const GroundTruth& truth, const Customer& customer)
      : on_(options.on), truth_(truth), customer_(customer) {}

  // Log-likelihood of what day d caused, for a customer not gone, at decline progress p.
  double DayLL(int d, double p) const {
    const Day& o = customer_.days[static_cast<size_t>(d)];
    const CustomerRates& r = truth_.rates;
    const Persona persona = truth_.persona;
    const bool key = persona == Persona::kKeyAccount;
    const bool invited = key || persona == Persona::kRegular;
    auto at = [&](Channel c) { return on_[c] ? p : 0.0; };
    double ll = 0;
    {  // purchases (prospects never buy; the oracle skips them)
      const double q = r.purchase_per_day * (1 - 0.85 * at(kPurchase));
      ll += Bernoulli(o.order, q);
      if (o.order) {
        ll += LogNormalPdf(std::log(o.amount_minor),
                           std::log(r.order_median_eur * (1 - 0.5 * at(kPurchase)) * 100), 0.5);
      }
    }
    {
      const double pc = at(kCall);
      ll += Bernoulli(o.call, r.call_per_day * (1 + pc));
      if (o.call) {
        ll += Bernoulli(o.call_resolved, 0.88 - 0.4 * pc);
        ll += ClampedNormal(o.sentiment, 0.35 - 0.9 * pc, 0.3, -1, 1);
        ll += Bernoulli(o.call_useful, 0.15 * (1 - pc));
      }
    }
    if (o.stray_call) ll += kImpossible;
    {
      const double pv = at(kVisit);
      ll += Bernoulli(o.visit, r.visit_per_day);
      if (o.visit) {
        const double chances[] = {0.6 - 0.5 * pv, 0.3 + 0.2 * pv, 0.1 + 0.3 * pv};
        ll += Log(chances[o.outcome]);
      }
    }
    {
      const double pe = at(kEngagement);
      ll += Bernoulli(o.info, r.info_per_day * (1 - 0.8 * pe));
      ll += Bernoulli(o.guidance, r.guidance_per_day * (1 - 0.8 * pe));
      ll += Bernoulli(o.support, r.support_per_day * (1 - 0.9 * pe));
      if (key) ll += Bernoulli(o.referral, 1.0 / 300 * (1 - pe));
      if (!key && o.referral) ll += kImpossible;
    }
    {
      const double pq = at(kComplaint);
      ll += Bernoulli(o.complaint, r.complaint_per_day * (1 + 5 * pq) + (pq > 0 ? 0.004 : 0));
      if (o.complaint) {
        const double chances[] = {(1 - pq) / 3, 1.0 / 3, 1.0 / 3, pq / 3};
        ll += Log(chances[std::clamp(o.severity, 1, 4) - 1]);
      }
    }
    {
      const double pk = at(kCompetitor);
      ll += Bernoulli(o.competitor, 1.0 / 220 + 0.02 * pk);
      if (o.competitor) ll += ClampedNormal(o.lean, 0.2 - pk, 0.3, -1, 1);
    }
    // Events certain while the customer is there: invitations and activity days, the
    // quarterly assessment, the renewal coming due.
    bool invite_day = false, activity_day = false;
    if (invited) {
      for (int a : kActivityDays) {
        if (a >= static_cast<int>(customer_.days.size())) continue;
        invite_day = invite_day || d == std::max(0, a - 30);
        activity_day = activity_day || d == a;
      }
    }
    if (invite_day != o.invite) ll += kImpossible;
    if (activity_day != (o.activity >= 0)) ll += kImpossible;
    if (o.activity >= 0) {
      ll += Bernoulli(o.activity == 1, r.attend_activity * (1 - 0.9 * at(kActivity)));
    }
    const bool quarter = d % 91 == 85;
    if (invited && quarter) {
      ll += Bernoulli(o.survey, 0.55);
      if (o.survey) {
        const double ps = at(kSurvey);
        ll += RoundedNormal(static_cast<int>(o.satisfaction), 4.1 - 2.2 * ps, 0.6, 1, 5);
        ll += RoundedNormal(o.nps, 8 - 5 * ps, 1.5, 0, 10);
      }
    } else if (o.survey) {
      ll += kImpossible;
    }
    if (key && quarter) {
      if (!o.assessment) ll += kImpossible;
      const double pa = at(kAssessment);
      const double bases[] = {72, 60, 62, 50, 58, 65};
      for (int i = 0; i < 6 && o.assessment; ++i) {
        ll += ClampedNormal(o.ratings[i], bases[i] - 35 * pa, 8, 0, 100);
      }
    } else if (o.assessment) {
      ll += kImpossible;
    }
    if (invited) ll += Bernoulli(o.opportunity, 1.0 / 120);
    if (d == customer_.renewal_day) {
      if (!o.renewal_due) ll += kImpossible;
    } else if (o.renewal_due) {
      ll += kImpossible;
    }
    return ll;
  }

  // Log-likelihood of day d for a customer gone: a rare stray call, nothing else.
  double GoneLL(int d) const {
    const Day& o = customer_.days[static_cast<size_t>(d)];
    const bool anything = o.order || o.call || o.visit || o.info || o.guidance || o.support ||
                          o.referral || o.complaint || o.competitor || o.invite ||
                          o.activity >= 0 || o.survey || o.assessment || o.opportunity ||
                          o.renewal_due || o.champion_left || o.other;
    return (anything ? kImpossible : 0) + Bernoulli(o.stray_call, 1.0 / 250);
  }

  // What a later item tells when it arrives, at the progress p of the day it was caused.
  double ArrivalLL(const Later& item, double p) const {
    switch (item.kind) {
      case Later::kPaymentOf:
        return LogLate(item.late, on_[kPayment] ? p : 0);
      case Later::kResolutionOf: {
        const double pq = on_[kComplaint] ? p : 0;
        return LogResolvedAfter(item.arrived - item.created, pq) +
               Bernoulli(item.satisfied, 0.8 - 0.5 * pq);
      }
      case Later::kOpportunityOf:
        return Bernoulli(item.won, 0.55 - 0.5 * (on_[kOpportunity] ? p : 0));
      case Later::kRenewalOf:
        return 0;  // decided by the hypothesis, not by p (see RenewalLL)
    }
    return 0;
  }
  // What a later item not arrived by the end of day t tells.
  double PendingLL(const Later& item, int t, double p) const {
    switch (item.kind) {
      case Later::kPaymentOf:
        return LogLateAbove(t - item.created - 30, on_[kPayment] ? p : 0);
      case Later::kResolutionOf:
        return LogOpenAfter(t - item.created, on_[kComplaint] ? p : 0);
      default:
        return 0;
    }
  }
  bool channel(Channel c) const { return on_[c]; }

 private:
  std::array<bool, kChannels> on_;
  const GroundTruth& truth_;
  const Customer& customer_;
};

// --- Reading the simulator's events ------------------------------------------------------

std::vector<Customer> Observe(const std::vector<Event>& events,
                              const std::vector<GroundTruth>& truth, int64_t start, int days) {
  std::vector<Customer> customers(truth.size());
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < truth.size(); ++i) {
    index[truth[i].customer_id] = i;
    customers[i].truth = &truth[i];
    customers[i].days.resize(static_cast<size_t>(days));
  }
  // Later items by the id that links cause and arrival.
  std::vector<std::unordered_map<std::string, size_t>> open(truth.size());
  for (const Event& e : events) {
    const size_t i = index.at(e.customer_id());
    Customer& c = customers[i];
    const int d = DayIndex(e.occurred_at().seconds(), start);
    Day& o = c.days[static_cast<size_t>(d)];
    auto cause = [&](Later::Kind kind, const std::string& id) {
      Later item;
      item.kind = kind;
      item.created = d;
      open[i][id] = c.later.size();
      c.later.push_back(item);
    };
    auto arrive = [&](const std::string& id) -> Later* {
      auto it = open[i].find(id);
      if (it == open[i].end()) return nullptr;
      Later& item = c.later[it->second];
      item.arrived = d;
      open[i].erase(it);
      return &item;
    };
    switch (e.payload_case()) {
      case Event::kOrder:
        o.order = true;
        o.amount_minor =
            static_cast<double>(std::max<int64_t>(1, e.order().amount().minor_units()));
        cause(Later::kPaymentOf, e.order().order_id());
        break;
      case Event::kPayment:
        if (Later* item = arrive(e.payment().invoice_id())) {
          item->late = d - item->created - 30;
        }
        break;
      case Event::kCall:
        if (e.call().reason() == "account closure") {
          o.stray_call = true;
        } else {
          o.call = true;
          o.call_resolved = e.call().resolved();
          o.sentiment = e.call().sentiment();
          o.call_useful = e.call().useful_information();
        }
        break;
      case Event::kVisit:
        o.visit = true;
        o.outcome = e.visit().outcome() == guanxi::v1::OUTCOME_POSITIVE  ? 0
                    : e.visit().outcome() == guanxi::v1::OUTCOME_NEUTRAL ? 1
                                                                         : 2;
        break;
      case Event::kInformationShared:
        o.info = true;
        break;
      case Event::kGuidanceGiven:
        o.guidance = true;
        break;
      case Event::kProjectSupport:
        o.support = true;
        break;
      case Event::kReferral:
        o.referral = true;
        break;
      case Event::kComplaint:
        o.complaint = true;
        o.severity = static_cast<int>(e.complaint().severity());
        cause(Later::kResolutionOf, e.complaint().complaint_id());
        break;
      case Event::kComplaintResolved:
        if (Later* item = arrive(e.complaint_resolved().complaint_id())) {
          item->satisfied = e.complaint_resolved().customer_satisfied();
        }
        break;
      case Event::kCompetitorSignal:
        o.competitor = true;
        o.lean = e.competitor_signal().lean();
        break;
      case Event::kActivity:
        if (e.activity().status() == guanxi::v1::PARTICIPATION_STATUS_INVITED) {
          o.invite = true;
        } else {
          o.activity = e.activity().status() == guanxi::v1::PARTICIPATION_STATUS_ATTENDED ? 1 : 0;
        }
        break;
      case Event::kSurvey:
        o.survey = true;
        o.satisfaction = e.survey().satisfaction();
        o.nps = e.survey().nps();
        break;
      case Event::kAssessment: {
        o.assessment = true;
        const auto& a = e.assessment();
        const double r[] = {a.acceptance(), a.participation(),   a.information(),
                            a.guidance(),   a.project_support(), a.competitive_preference()};
        std::copy(std::begin(r), std::end(r), o.ratings);
        break;
      }
      case Event::kOpportunity:
        if (e.opportunity().stage() == guanxi::v1::OPPORTUNITY_STAGE_DISCOVERY) {
          o.opportunity = true;
          cause(Later::kOpportunityOf, e.opportunity().opportunity_id());
        } else if (Later* item = arrive(e.opportunity().opportunity_id())) {
          item->won = e.opportunity().stage() == guanxi::v1::OPPORTUNITY_STAGE_WON;
        }
        break;
      case Event::kContactChange:
        if (e.contact_change().change() == guanxi::v1::CONTACT_CHANGE_KIND_LEFT) {
          o.champion_left = true;
          c.champion_left_day = d;
        } else {
          o.other = true;
          c.has_champion = c.has_champion || e.contact_change().champion();
        }
        break;
      case Event::kContract:
        switch (e.contract().milestone()) {
          case guanxi::v1::CONTRACT_MILESTONE_KIND_SIGNED:
            o.other = true;
            if (e.contract().has_renewal_due_at()) {
              c.renewal_day = DayIndex(e.contract().renewal_due_at().seconds(), start);
            }
            break;
          case guanxi::v1::CONTRACT_MILESTONE_KIND_RENEWAL_DUE:
            o.renewal_due = true;
            cause(Later::kRenewalOf, e.contract().contract_id());
            break;
          default:
            if (Later* item = arrive(e.contract().contract_id())) {
              item->terminated =
                  e.contract().milestone() == guanxi::v1::CONTRACT_MILESTONE_KIND_TERMINATED;
            }
            break;
        }
        break;
      default:
        o.other = true;
        break;
    }
  }
  return customers;
}

// --- The posterior -------------------------------------------------------------------------

struct Hypothesis {
  int churn_day = 0, length = 0, start = 0;
};

int GridOf(double p) { return static_cast<int>(std::lround(p * kGrid)); }

// The posterior P(decline started by t | events by the end of day t), for t = 0..days-1.
std::vector<float> Posterior(const Model& model, const Customer& c,
                             const std::vector<Hypothesis>& hypotheses, double churn_share,
                             int days) {
  // Per day and grid point: log-likelihood ratio of the day against no decline.
  std::vector<std::array<double, kGrid + 1>> rel(static_cast<size_t>(days));
  std::vector<double> gone(static_cast<size_t>(days));
  for (int d = 0; d < days; ++d) {
    const double base = model.DayLL(d, 0);
    for (int k = 0; k <= kGrid; ++k) {
      rel[static_cast<size_t>(d)][static_cast<size_t>(k)] =
          k == 0 ? 0 : model.DayLL(d, static_cast<double>(k) / kGrid) - base;
    }
    gone[static_cast<size_t>(d)] = model.GoneLL(d) - base;
  }
  // Per later item and grid point: arrival ratio; pending ratios are computed on the fly
  // from small tables.
  const size_t n = c.later.size();
  std::vector<std::array<double, kGrid + 1>> arrival(n);
  std::vector<std::vector<int>> arriving(static_cast<size_t>(days));
  for (size_t i = 0; i < n; ++i) {
    const Later& item = c.later[i];
    const double base = model.ArrivalLL(item, 0);
    for (int k = 0; k <= kGrid; ++k) {
      arrival[i][static_cast<size_t>(k)] =
          model.ArrivalLL(item, static_cast<double>(k) / kGrid) - base;
    }
    if (item.arrived < days)
      arriving[static_cast<size_t>(item.arrived)].push_back(static_cast<int>(i));
  }
  // Pending tables: [k][elapsed] for payments (elapsed from the order) and resolutions.
  constexpr int kSpan = 200;
  static const auto pending_tables = [] {
    std::vector<std::array<double, kSpan>> pay(kGrid + 1), res(kGrid + 1);
    for (int k = 0; k <= kGrid; ++k) {
      const double p = static_cast<double>(k) / kGrid;
      for (int e = 0; e < kSpan; ++e) {
        pay[static_cast<size_t>(k)][static_cast<size_t>(e)] =
            LogLateAbove(e - 30, p) - LogLateAbove(e - 30, 0);
        res[static_cast<size_t>(k)][static_cast<size_t>(e)] =
            LogOpenAfter(e, p) - LogOpenAfter(e, 0);
      }
    }
    return std::make_pair(pay, res);
  }();
  // Channels switched off contribute nothing while pending.
  const bool pay_on = model.channel(kPayment), res_on = model.channel(kComplaint);
  auto pending = [&](const Later& item, int t, int k) {
    const int e = std::min(t - item.created, kSpan - 1);
    if (item.kind == Later::kPaymentOf) {
      return pay_on ? pending_tables.first[static_cast<size_t>(k)][static_cast<size_t>(e)] : 0.0;
    }
    if (item.kind == Later::kResolutionOf) {
      return res_on ? pending_tables.second[static_cast<size_t>(k)][static_cast<size_t>(e)] : 0.0;
    }
    return 0.0;
  };

  const double log_prior_h = std::log(churn_share / static_cast<double>(hypotheses.size()));
  const double log_prior_0 = std::log(1 - churn_share);
  // For each t: the hypotheses' log weights (those started by t) and the prior mass of
  // those not started yet (their data so far is exactly as without a decline).
  std::vector<std::vector<double>> started(static_cast<size_t>(days));
  std::vector<double> not_started_mass(static_cast<size_t>(days), 0);
  for (const Hypothesis& h : hypotheses) {
    for (int t = 0; t < std::min(h.start, days); ++t) {
      not_started_mass[static_cast<size_t>(t)] += 1;
    }
    auto grid_at = [&](int d) {
      return GridOf(static_cast<double>(d - h.start) / static_cast<double>(h.length));
    };
    // The items caused inside the decline: the only ones whose ratio is not 1.
    std::vector<const Later*> caused_inside;
    for (const Later& item : c.later) {
      if (item.created > h.start && item.created < h.churn_day) caused_inside.push_back(&item);
    }
    double cum = 0;
    for (int t = h.start; t < days; ++t) {
      const size_t ts = static_cast<size_t>(t);
      cum += t < h.churn_day ? rel[ts][static_cast<size_t>(grid_at(t))] : gone[ts];
      for (int i : arriving[ts]) {
        const Later& item = c.later[static_cast<size_t>(i)];
        if (item.kind == Later::kRenewalOf) {
          // Terminated exactly when the renewal fell inside the decline (p > 0).
          const bool inside = item.created > h.start && item.created < h.churn_day;
          cum += item.terminated == inside ? (item.terminated ? -kImpossible : 0) : kImpossible;
          continue;
        }
        if (item.created <= h.start || item.created >= h.churn_day) continue;
        cum += arrival[static_cast<size_t>(i)][static_cast<size_t>(grid_at(item.created))];
      }
      double extra = 0;
      for (const Later* item : caused_inside) {
        if (item->created > t || item->arrived <= t) continue;
        extra += pending(*item, t, grid_at(item->created));
      }
      if (model.channel(kChampion) && c.has_champion) {
        // Against no decline (where a champion never leaves): left on a day of the
        // decline with chance 0.45 / D; not (yet) left by t.
        const double share = 0.45 / h.length;
        if (c.champion_left_day >= 0 && c.champion_left_day <= t) {
          const bool inside = c.champion_left_day >= h.start && c.champion_left_day < h.churn_day;
          extra += inside ? std::log(share) - kImpossible : 0;
        } else {
          extra += std::log1p(-share * std::min(t - h.start + 1, h.length));
        }
      }
      started[ts].push_back(log_prior_h + cum + extra);
    }
  }
  std::vector<float> posterior(static_cast<size_t>(days));
  for (int t = 0; t < days; ++t) {
    const size_t ts = static_cast<size_t>(t);
    // The no-decline side: h_0 and the hypotheses not started (both at ratio 1), and,
    // where the data so far rule h_0 out (a champion left, a contract terminated), the
    // started ones carry the mass.
    double top = log_prior_0;
    for (double w : started[ts]) top = std::max(top, w);
    double num = 0;
    for (double w : started[ts]) num += std::exp(w - top);
    const double rest =
        std::exp(log_prior_0 - top) + not_started_mass[ts] * std::exp(log_prior_h - top);
    posterior[ts] = static_cast<float>(num / (num + rest));
  }
  return posterior;
}

// One run. Its scores, one per theta, go to `out` when given.
int Run(const Options& options, std::vector<Score>* out = nullptr) {
  connectors::SimulatorOptions sim_options;
  sim_options.customers = options.customers;
  sim_options.days = options.days;
  sim_options.seed = options.seed;
  connectors::Simulator sim(sim_options);
  std::vector<Event> events;
  sim.Run([&](const Event& e) { events.push_back(e); });
  const std::vector<GroundTruth>& truth = sim.truth();
  const int64_t start = sim_options.start_unix_seconds;
  const int days = options.days;
  const std::vector<Customer> customers = Observe(events, truth, start, days);

  // The simulator's prior, on a grid: churn day uniform over [0.45, 0.9] x days, decline
  // length uniform over 45..110 days; with --timing=flat, decline start uniform over the
  // run instead.
  std::vector<Hypothesis> hypotheses;
  if (options.flat_timing) {
    for (int begin = 0; begin < days; begin += 3) {
      for (int length = 45; length <= 110; length += 5) {
        hypotheses.push_back({begin + length, length, begin});
      }
    }
  } else {
    const int first = static_cast<int>(days * 0.45), last = static_cast<int>(days * 0.9);
    for (int churn = first; churn <= last; churn += 3) {
      for (int length = 45; length <= 110; length += 5) {
        hypotheses.push_back({churn, length, churn - length});
      }
    }
  }

  // First day each customer's posterior reaches each threshold (-1: never).
  std::vector<std::array<int, kThresholds>> first_day(customers.size());
  std::fprintf(stderr, "churn_oracle: %zu customers, %zu hypotheses each\n", customers.size(),
               hypotheses.size());
  for (size_t i = 0; i < customers.size(); ++i) {
    first_day[i].fill(-1);
    if (truth[i].persona == Persona::kProspect) continue;  // never planted to churn
    const Model model(options, truth[i], customers[i]);
    const std::vector<float> posterior =
        Posterior(model, customers[i], hypotheses, sim_options.churn_share, days);
    for (int k = 0; k < kThresholds; ++k) {
      for (int t = 0; t < days; ++t) {
        if (posterior[static_cast<size_t>(t)] >= kThetas[k]) {
          first_day[i][static_cast<size_t>(k)] = t;
          break;
        }
      }
    }
    if ((i + 1) % 200 == 0 || i + 1 == customers.size()) {
      std::fprintf(stderr, "\r  %zu / %zu customers", i + 1, customers.size());
    }
  }
  std::fprintf(stderr, "\n");

  std::string off;
  for (int c = 0; c < kChannels; ++c) {
    if (!options.on[static_cast<size_t>(c)])
      absl::StrAppend(&off, off.empty() ? "" : ",", kChannelNames[c]);
  }
  const char* const timing = options.flat_timing ? "flat" : "simulator";
  std::printf("churn oracle: %lld customers x %d days, seed %llu, %zu hypotheses, %s timing%s\n",
              static_cast<long long>(options.customers), days,
              static_cast<unsigned long long>(options.seed), hypotheses.size(), timing,
              off.empty() ? "" : absl::StrCat(", without ", off).c_str());
  std::printf("%-9s %s   %s\n", "theta", ScoreHeading("alarms").c_str(), "recall by persona");
  std::string json = absl::StrFormat(
      R"({"bench":"churn_oracle","customers":%d,"days":%d,"seed":%d,"timing":"%s","without":"%s",)"
      R"("rows":[)",
      options.customers, days, options.seed, timing, off);
  std::string listed;  // --list
  for (int k = 0; k < kThresholds; ++k) {
    std::vector<Alarm> alarms;
    for (size_t i = 0; i < customers.size(); ++i) {
      const int d = first_day[i][static_cast<size_t>(k)];
      if (d >= 0) alarms.push_back({i, start + int64_t{d + 1} * kDay - 1, {}});  // end of day d
    }
    const Score s = ScoreAlarms(alarms, truth);
    if (std::abs(kThetas[k] - options.list_theta) < 1e-9) {
      for (const Alarm& a : alarms) {
        listed += AlarmLine(truth[a.customer].customer_id, truth[a.customer], a.at, start) + "\n";
      }
    }
    std::string personas;
    for (const auto& [name, counts] : s.detected_by_persona) {
      absl::StrAppend(&personas, " ", name, " ", counts.first, "/", counts.second);
    }
    std::printf("%-9.2f %s  %s\n", kThetas[k], ScoreColumns(s).c_str(), personas.c_str());
    absl::StrAppendFormat(&json, R"(%s{"theta":%.2f,%s})", k == 0 ? "" : ",", kThetas[k],
                          ScoreJsonFields(s));
    if (out != nullptr) out->push_back(s);
  }
  json += "]}";
  if (!listed.empty())
    std::printf("\nalarms at theta %.2f:\n%s", options.list_theta, listed.c_str());
  std::printf("\njson: %s\n", json.c_str());
  return 0;
}

// --seeds: every seed's run as usual, then each theta's figures over all of them.
int RunSeeds(Options options) {
  std::vector<std::vector<Score>> runs(kThresholds);  // per theta, per seed
  for (const uint64_t seed : options.seeds) {
    options.seed = seed;
    std::vector<Score> scores;
    if (const int rc = Run(options, &scores); rc != 0) return rc;
    for (int k = 0; k < kThresholds; ++k)
      runs[static_cast<size_t>(k)].push_back(scores[static_cast<size_t>(k)]);
    std::printf("\n");
  }
  const std::string seeds = absl::StrJoin(options.seeds, ",");
  PrintPooledPreamble(seeds);
  std::printf("%-9s %s %16s\n", "theta", ScoreHeading("alarms").c_str(), "mean of medians");
  std::string json =
      absl::StrFormat(R"({"bench":"churn_oracle_pooled","seeds":[%s],"timing":"%s","rows":[)",
                      seeds, options.flat_timing ? "flat" : "simulator");
  for (int k = 0; k < kThresholds; ++k) {
    const std::vector<Score>& row = runs[static_cast<size_t>(k)];
    const Score p = Pool(row);
    const double mean = MeanOfMedians(row);
    std::printf("%-9.2f %s %16.1f\n", kThetas[k], ScoreColumns(p).c_str(), mean);
    absl::StrAppendFormat(&json, R"(%s{"theta":%.2f,%s,"mean_of_median_lead_days":%.1f})",
                          k == 0 ? "" : ",", kThetas[k], ScoreJsonFields(p), mean);
  }
  json += "]}";
  std::printf("\njson: %s\n", json.c_str());
  return 0;
}

}  // namespace
}  // namespace guanxi::bench

int main(int argc, char** argv) {
  const auto options = guanxi::bench::ParseArgs(argc, argv);
  if (!options) return 2;
  return options->seeds.empty() ? guanxi::bench::Run(*options) : guanxi::bench::RunSeeds(*options);
}
