// churn_quality: how well the churn-warning rules find the simulator's planted churners.
//
//   build/ci/bench/churn_quality [--customers=2000] [--days=540] [--seed=1 | --seeds=1,2,3]
//                                [--config=FILE] [--model=on|off] [--daily=on|off]
//                                [--sentiment-shift=X] [--sentiment-spread=S]
//                                [--diagnose] [--list] [--rates[=CUT]]
//
// Runs the generator of `guanxi simulate` (connectors/simulator.h) in process and drives
// every customer through projections::CustomerProjection, the entry point the engine's
// projector calls, with the whole simulated population as one partition (the engine
// fits a model per partition, over that partition's customers only):
//   - each event, in time order: the clock moves to it (timers due by then fire first),
//     then OnEvent;
//   - timers: each customer's NextDeadline, fired with OnTime at the deadline and
//     re-armed as PartitionProjector does;
//   - midnight ticks: at every UTC midnight every customer gets OnTime. In the engine
//     time passes on a partition through its events and through tick records (a quiet
//     partition gets one once event time elsewhere on the instance is more than
//     workers.tick_lag_seconds ahead); a tick only moves the clock and fires the timers
//     due. The daily OnTime for everyone approximates that (time passes on quiet days
//     too), but also evaluates every customer once a day, which the engine does not;
//     --daily=off ticks as the engine does (midnight fires the due timers only): the
//     score's drift with time is then seen only at events and timers, as live;
//   - the population model (--model=on, the default): after every record (event or
//     tick), projections::RefitDue with the configuration's classification settings
//     (every model_refit_days, at most one try per day of event time, as
//     PartitionProjector::MaybeRefit); when due, FitPopulation over every customer that
//     has had an event, at the clock. A fit with no ABC, RFM or BG/NBD part is dropped.
//     Otherwise it is the model in force from then on (Context.model of every later
//     call) and every such customer gets OnModel at its as_of, as
//     PartitionProjector::ApplyModel does. One difference: the engine appends the model
//     record to the log and applies it when it reads it back, a few records later; here
//     it is applied at once, before the next record. With --model=off there is no model
//     (Context.model = nullptr): low_p_alive never holds and no population classes are
//     computed, the figures of the rules that need no model.
// The rules' configuration is the built-in default, or DEFAULTS + FILE with --config
// (protobuf text, as guanxi run reads). --sentiment-shift and --sentiment-spread move
// every call's sentiment by X + S x z, z a fixed standard normal per customer (clamped
// to -1..1): how the rules fare with a call center whose scores sit elsewhere than the
// simulator's, overall (X) or customer by customer (S). ChurnWarning notices are taken from
// Derived.warnings of every call.
//
// What is scored: RAISED notices (a new episode), against the ground truth.
//   - True positive (TP): a RAISED notice for a planted churner at an event time between
//     the start of its planted degradation (GroundTruth.degrade_from) and its churn date
//     (GroundTruth.churn_at), both inclusive. Its lead time is churn_at - event time.
//   - False positive (FP): a RAISED notice for a customer that is not a planted churner,
//     or for a planted churner before its degradation started.
//   - Late: a RAISED notice for a planted churner after its churn date. The customer is
//     indeed gone, so it is no false alarm, but it is no detection either: counted in
//     neither TP nor FP, and shown in its own column.
//   precision = TP / (TP + FP);
//   recall    = planted churners with at least one TP / planted churners;
//   lead      = per detected churner, the lead time of its first TP; the median is shown.
// The rows "first >= warning" and "first = critical" score, instead of RAISED notices,
// the first notice of each episode (RAISED or ESCALATED) at that level or above, the
// same way. A churner already in an episode when its degradation starts gets no new
// RAISED notice, so that episode's RAISED counts as an FP and the churner may count as
// missed: the strict reading, the one a consumer of RAISED notices experiences.
//
// --rates prints, instead of scoring the rules, how often each kind of event comes in
// normal times and in a decline, by persona (bench/churn_rates.h): what the weights of
// decline_evidence were set from.
// --diagnose adds how often each rule holds (projections::AssessChurn at every midnight,
// with the model in force); --list prints every RAISED notice with its verdict (for a TP,
// its lead and how far through the decline it came).
// Output: a readable table, then one JSON line (prefix "json: ") with the same figures
// and "model": true or false. --seeds runs each seed so, then pools them: TP, FP, late
// and churners summed, precision and recall of the sums, the median lead of all the
// detected churners together and the mean of the seeds' medians; a table and one JSON
// line ("bench":"churn_quality_pooled", "seeds", "model", and per score the fields of a
// single run plus "mean_of_median_lead_days"). A single run (2000 x 540, seed 1) takes
// about 14 s of CPU with the model (2026-12-02). A benchmark, not a test: nothing is
// asserted.
// Deterministic: the same flags give the same output.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench/churn_rates.h"
#include "bench/churn_score.h"
#include "common/random.h"
#include "connectors/simulator.h"
#include "engine/config/config.h"
#include "projections/churn/risk.h"
#include "projections/churn/rules.h"
#include "projections/population.h"
#include "projections/projection.h"

namespace guanxi::bench {
namespace {

using connectors::GroundTruth;
using connectors::Persona;
using google::protobuf::Timestamp;
using guanxi::v1::ChurnWarning;
using guanxi::v1::CustomerState;

constexpr int64_t kDay = 86400;

struct Options {
  int64_t customers = 2000;
  int32_t days = 540;
  uint64_t seed = 1;
  std::vector<uint64_t> seeds;  // --seeds: one run each, then their figures pooled
  std::string config;
  bool diagnose = false;
  bool list = false;  // print every RAISED notice with its verdict
  bool model = true;  // fit and apply the population model as the engine does
  bool daily = true;  // OnTime for every customer at every midnight
  // Every call's sentiment moved by shift + spread x z, z a fixed standard normal per
  // customer (clamped to -1..1): a call center whose scores sit elsewhere, customer by
  // customer. 0 and 0: the simulator's own scores.
  double sentiment_shift = 0;
  double sentiment_spread = 0;
  double rates_cut = 0;  // > 0: print the evidence rates with this cut (--rates) and stop
};

std::optional<Options> ParseArgs(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* name) -> std::optional<std::string> {
      const std::string prefix = absl::StrCat("--", name, "=");
      if (arg.rfind(prefix, 0) != 0) return std::nullopt;
      return arg.substr(prefix.size());
    };
    int64_t n = 0;
    if (auto v = value("customers"); v && absl::SimpleAtoi(*v, &n) && n > 0) {
      options.customers = n;
    } else if (auto d = value("days"); d && absl::SimpleAtoi(*d, &n) && n >= 30 && n <= 3650) {
      options.days = static_cast<int32_t>(n);
    } else if (auto s = value("seed"); s && absl::SimpleAtoi(*s, &n) && n >= 0) {
      options.seed = static_cast<uint64_t>(n);
    } else if (auto list = value("seeds"); list) {
      auto seeds = ParseSeeds(*list);
      if (!seeds) {
        std::cerr << "churn_quality: --seeds wants seeds separated by commas, e.g. --seeds=1,2,3\n";
        return std::nullopt;
      }
      options.seeds = *seeds;
    } else if (auto c = value("config"); c) {
      options.config = *c;
    } else if (auto m = value("model"); m && (*m == "on" || *m == "off")) {
      options.model = *m == "on";
    } else if (auto t = value("daily"); t && (*t == "on" || *t == "off")) {
      options.daily = *t == "on";
    } else if (auto h = value("sentiment-shift"); h &&
                                                  absl::SimpleAtod(*h, &options.sentiment_shift) &&
                                                  std::abs(options.sentiment_shift) <= 1) {
      // parsed in the condition
    } else if (auto p = value("sentiment-spread");
               p && absl::SimpleAtod(*p, &options.sentiment_spread) &&
               options.sentiment_spread >= 0 && options.sentiment_spread <= 1) {
      // parsed in the condition
    } else if (arg == "--rates") {
      options.rates_cut = 0.5;
    } else if (auto r = value("rates"); r && absl::SimpleAtod(*r, &options.rates_cut) &&
                                        options.rates_cut > 0 && options.rates_cut < 1) {
      // parsed in the condition
    } else if (arg == "--diagnose") {
      options.diagnose = true;
    } else if (arg == "--list") {
      options.list = true;
    } else {
      std::cerr
          << "churn_quality: bad argument '" << arg
          << "'\nusage: churn_quality [--customers=N] [--days=D] [--seed=S | --seeds=S,S,...] "
             "[--config=FILE] [--model=on|off] [--daily=on|off] [--sentiment-shift=X] "
             "[--sentiment-spread=S] [--diagnose] [--list] [--rates[=CUT]]\n";
      return std::nullopt;
    }
  }
  if (!options.seeds.empty() && options.rates_cut > 0) {
    std::cerr << "churn_quality: --rates takes one --seed, not --seeds\n";
    return std::nullopt;
  }
  return options;
}

Timestamp At(int64_t seconds) {
  Timestamp t;
  t.set_seconds(seconds);
  return t;
}

// For --diagnose: how often each rule holds, by the customer's ground truth.
struct RuleStats {
  // Customer-days (at the midnight ticks) on which the rule holds: non-churners;
  // churners before degrading; degrading; after the churn.
  int64_t days[4] = {};
  // Customers for which the rule held at least once: non-churners; churners while
  // degrading.
  std::vector<bool> ever_non, ever_degrading;
  // Per churner: the first midnight inside its degradation at which the rule held.
  std::vector<int64_t> first_degrading;
};

const char* const kCodes[] = {
    "inactivity",        "silence",        "low_p_alive",   "unresolved_complaint", "complaint_run",
    "satisfaction_drop", "score_drop",     "late_payments", "renewal_low_score",    "champion_left",
    "competitor_signal", "call_sentiment", "level>=watch",  "level>=warning"};
constexpr int kCodeCount = sizeof(kCodes) / sizeof(kCodes[0]);

// The three ways a run's notices are scored: their rows in the table and keys in the JSON.
const char* const kScoreRows[] = {"RAISED (any level)", "first >= warning", "first = critical"};
const char* const kScoreKeys[] = {"raised", "first_warning", "first_critical"};

// One run. Its scores (RAISED, first >= warning, first = critical) go to `out` when given.
int Run(const Options& options, std::array<Score, 3>* out = nullptr) {
  guanxi::v1::EngineConfig engine_config = engine::DefaultEngineConfig();
  if (!options.config.empty()) {
    auto loaded = engine::LoadEngineConfig(options.config);
    if (!loaded.ok()) {
      std::cerr << "churn_quality: " << loaded.status() << "\n";
      return 2;
    }
    engine_config = *loaded;
  }
  const guanxi::v1::ChurnConfig& churn = engine_config.churn();

  connectors::SimulatorOptions sim_options;
  sim_options.customers = options.customers;
  sim_options.days = options.days;
  sim_options.seed = options.seed;
  connectors::Simulator sim(sim_options);
  std::vector<guanxi::v1::Event> events;
  sim.Run([&](const guanxi::v1::Event& e) { events.push_back(e); });
  const std::vector<GroundTruth>& truth = sim.truth();
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < truth.size(); ++i) index[truth[i].customer_id] = i;
  if (options.sentiment_shift != 0 || options.sentiment_spread != 0) {
    // A fixed standard normal per customer, from its index and the seed: the first
    // draws of two generators keyed by them (Box-Muller).
    std::vector<double> offset(truth.size());
    for (size_t i = 0; i < truth.size(); ++i) {
      const uint64_t key = (options.seed << 32) ^ (static_cast<uint64_t>(i) << 1);
      Random radius(key), angle(key | 1);
      const double z = std::sqrt(-2.0 * std::log(1.0 - radius.Uniform())) *
                       std::cos(2.0 * M_PI * angle.Uniform());
      offset[i] = options.sentiment_shift + options.sentiment_spread * z;
    }
    for (guanxi::v1::Event& e : events) {
      if (!e.has_call() || !e.call().has_sentiment()) continue;
      const double moved = e.call().sentiment() + offset[index.at(e.customer_id())];
      e.mutable_call()->set_sentiment(std::clamp(moved, -1.0, 1.0));
    }
  }
  if (options.rates_cut > 0) {
    std::vector<size_t> customer_of;
    customer_of.reserve(events.size());
    for (const guanxi::v1::Event& e : events) customer_of.push_back(index.at(e.customer_id()));
    PrintEvidenceRates(events, truth, customer_of, sim_options.start_unix_seconds, options.days,
                       options.rates_cut);
    return 0;
  }

  // The engine's per-customer state, timers (as PartitionProjector keeps them) and the
  // partition's event-time clock and log positions.
  const projections::CustomerProjection projection(engine_config);
  const guanxi::v1::ClassificationConfig& classification = engine_config.classification();
  std::vector<CustomerState> states(truth.size());
  std::vector<bool> known(truth.size(), false);    // in the store: had an event
  std::vector<int64_t> deadline(truth.size(), 0);  // 0: none armed
  using Armed = std::pair<int64_t, size_t>;
  std::priority_queue<Armed, std::vector<Armed>, std::greater<>> timers;
  Timestamp clock;
  uint64_t position = 0;
  int64_t applications = 0;
  std::vector<ChurnWarning> warnings;
  std::vector<size_t> warning_customer;

  // The population model in force (the last model record), as PartitionProjector
  // refits and applies it.
  std::optional<guanxi::v1::ModelRecord> model;
  int64_t next_refit_check = 0;
  int64_t fits_tried = 0, models_applied = 0, models_with_bgnbd = 0;
  auto context = [&] {
    return projections::Context{.model = model ? &*model : nullptr, .partition = 0};
  };

  RuleStats stats[kCodeCount];
  for (auto& s : stats) {
    s.ever_non.assign(truth.size(), false);
    s.ever_degrading.assign(truth.size(), false);
    s.first_degrading.assign(truth.size(), 0);
  }
  int64_t phase_days[4] = {};

  // What one application derived: its notices, and the customer's timer re-armed
  // (not before `earliest_timer`: a timer that fired is re-armed strictly later).
  auto record = [&](size_t i, projections::Derived derived, int64_t earliest_timer) {
    ++applications;
    for (ChurnWarning& w : derived.warnings) {
      warnings.push_back(std::move(w));
      warning_customer.push_back(i);
    }
    std::optional<int64_t> next = projection.NextDeadline(states[i]);
    if (next && *next < earliest_timer) next = earliest_timer;
    deadline[i] = next.value_or(0);
    if (next) timers.emplace(*next, i);
  };
  // Timers due at or before `until`, in (deadline, customer) order, each at its own
  // deadline, at the log position of the record that moved the clock.
  auto run_timers = [&](int64_t until) {
    while (!timers.empty() && timers.top().first <= until) {
      const auto [at, i] = timers.top();
      timers.pop();
      if (deadline[i] != at) continue;  // re-armed since
      record(i, projection.OnTime(states[i], At(at), position, context()), at + 1);
    }
  };
  // PartitionProjector::MaybeRefit, with the model record applied at once
  // (PartitionProjector::ApplyModel: every customer, OnModel at the model's as_of).
  auto maybe_refit = [&] {
    if (!options.model || clock.seconds() < next_refit_check) return;
    if (!projections::RefitDue(classification, model ? &*model : nullptr, clock)) return;
    next_refit_check = clock.seconds() + kDay;
    ++fits_tried;
    std::vector<const CustomerState*> population;
    for (size_t i = 0; i < states.size(); ++i) {
      if (known[i]) population.push_back(&states[i]);
    }
    guanxi::v1::ModelRecord fitted = projections::FitPopulation(classification, population, clock);
    if (!fitted.has_abc() && !fitted.has_rfm() && !fitted.has_bgnbd()) return;
    if (auto risk = projections::RefitChurnRisk(
            engine_config.churn(), population, clock,
            model && model->has_churn_risk() ? &model->churn_risk() : nullptr)) {
      *fitted.mutable_churn_risk() = *std::move(risk);
    }
    fitted.add_partitions(0);
    model = std::move(fitted);
    ++models_applied;
    if (model->has_bgnbd()) ++models_with_bgnbd;
    ++position;
    for (size_t i = 0; i < states.size(); ++i) {
      if (!known[i]) continue;
      record(i, projection.OnModel(states[i], model->as_of(), position, context()), 0);
    }
  };

  const int64_t start = sim_options.start_unix_seconds;
  size_t next_event = 0;
  for (int32_t day = 0; day <= options.days; ++day) {
    // The midnight tick: one record; every customer is brought to midnight.
    const int64_t midnight = start + int64_t{day} * kDay;
    ++position;
    run_timers(midnight - 1);
    if (clock.seconds() < midnight) clock = At(midnight);
    if (options.daily) {
      for (size_t i = 0; i < states.size(); ++i) {
        if (known[i]) record(i, projection.OnTime(states[i], At(midnight), position, context()), 0);
      }
    } else {
      run_timers(midnight);  // as an engine tick: the clock moves, due timers fire
    }
    maybe_refit();
    if (options.diagnose) {
      const guanxi::v1::ModelRecord* in_force = model ? &*model : nullptr;
      for (size_t i = 0; i < states.size(); ++i) {
        if (!known[i]) continue;
        const int phase = Phase(truth[i], midnight);
        ++phase_days[phase];
        const auto a = projections::AssessChurn(churn, states[i], in_force, At(midnight));
        auto count = [&](int code) {
          ++stats[code].days[phase];
          if (phase == 0) stats[code].ever_non[i] = true;
          if (phase == 2 && !stats[code].ever_degrading[i]) {
            stats[code].ever_degrading[i] = true;
            stats[code].first_degrading[i] = midnight;
          }
        };
        for (const auto& r : a.reasons) {
          for (int c = 0; c < kCodeCount; ++c) {
            if (r.code() == kCodes[c]) count(c);
          }
        }
        if (a.level >= guanxi::v1::WARNING_LEVEL_WATCH) count(kCodeCount - 2);
        if (a.level >= guanxi::v1::WARNING_LEVEL_WARNING) count(kCodeCount - 1);
      }
    }
    // The day's events, each one record: the clock moves to it (timers due by then fire
    // first), then the event is applied.
    const int64_t day_end = midnight + kDay;
    while (next_event < events.size() && events[next_event].occurred_at().seconds() < day_end) {
      const guanxi::v1::Event& e = events[next_event++];
      ++position;
      if (clock.seconds() < e.occurred_at().seconds()) {
        clock = e.occurred_at();
        run_timers(clock.seconds());
      }
      const size_t i = index.at(e.customer_id());
      known[i] = true;
      record(i, projection.OnEvent(states[i], e, position, context()), 0);
      maybe_refit();
    }
  }

  // The alarms to score.
  std::vector<Alarm> raised, warning_level, critical_level;
  std::map<std::string, int> episode_max;  // warning_id -> highest level alarmed so far
  std::map<std::string, std::pair<int64_t, int64_t>> raised_codes;  // code -> TP, FP
  for (size_t k = 0; k < warnings.size(); ++k) {
    const ChurnWarning& w = warnings[k];
    Alarm alarm{warning_customer[k], w.event_time().seconds(), {}};
    for (const auto& r : w.reasons()) alarm.codes.push_back(r.code());
    if (w.notice() == guanxi::v1::WARNING_NOTICE_RESOLVED) continue;
    if (w.notice() == guanxi::v1::WARNING_NOTICE_RAISED) {
      raised.push_back(alarm);
      const GroundTruth& t = truth[alarm.customer];
      const int phase = Phase(t, alarm.at);
      if (options.list) {
        std::printf("%s level %d:",
                    AlarmLine(w.customer_id(), t, alarm.at, sim_options.start_unix_seconds).c_str(),
                    static_cast<int>(w.level()));
        for (const auto& r : w.reasons()) std::printf(" [%s]", r.description().c_str());
        std::printf("\n");
      }
      for (const auto& code : alarm.codes) {
        if (phase == 2) ++raised_codes[code].first;
        if (phase <= 1) ++raised_codes[code].second;
      }
    }
    int& seen = episode_max[w.warning_id()];
    if (w.level() >= guanxi::v1::WARNING_LEVEL_WARNING &&
        seen < guanxi::v1::WARNING_LEVEL_WARNING) {
      warning_level.push_back(alarm);
    }
    if (w.level() >= guanxi::v1::WARNING_LEVEL_CRITICAL &&
        seen < guanxi::v1::WARNING_LEVEL_CRITICAL) {
      critical_level.push_back(alarm);
    }
    seen = std::max(seen, static_cast<int>(w.level()));
  }
  int64_t notices[4] = {};
  for (const auto& w : warnings) ++notices[w.notice()];
  std::vector<bool> warned(truth.size(), false);
  for (const Alarm& a : raised) warned[a.customer] = true;
  int64_t non_churners = 0, non_churners_warned = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    if (truth[i].churns) continue;
    ++non_churners;
    if (warned[i]) ++non_churners_warned;
  }

  const Score scores[] = {ScoreAlarms(raised, truth), ScoreAlarms(warning_level, truth),
                          ScoreAlarms(critical_level, truth)};
  std::printf("churn quality: %lld customers x %d days, seed %llu, %s%s\n",
              static_cast<long long>(options.customers), options.days,
              static_cast<unsigned long long>(options.seed),
              options.model
                  ? absl::StrFormat("population model refitted (%d fits tried, %d applied, %d "
                                    "with BG/NBD)",
                                    fits_tried, models_applied, models_with_bgnbd)
                        .c_str()
                  : "no population model (--model=off)",
              options.config.empty() ? ", default config"
                                     : absl::StrCat(", config ", options.config).c_str());
  if (options.sentiment_shift != 0 || options.sentiment_spread != 0) {
    std::printf("call sentiments moved by %+.2f + %.2f x z per customer\n", options.sentiment_shift,
                options.sentiment_spread);
  }
  std::printf(
      "%zu events, %lld applications; notices: %lld raised, %lld escalated, %lld resolved\n",
      events.size(), static_cast<long long>(applications), static_cast<long long>(notices[1]),
      static_cast<long long>(notices[2]), static_cast<long long>(notices[3]));
  std::printf("planted churners: %lld; non-churners: %lld, of which %lld (%.1f%%) got a RAISED\n\n",
              static_cast<long long>(scores[0].churners), static_cast<long long>(non_churners),
              static_cast<long long>(non_churners_warned),
              non_churners > 0 ? 100.0 * static_cast<double>(non_churners_warned) /
                                     static_cast<double>(non_churners)
                               : 0.0);
  std::printf("%-20s %s\n", "alarm", ScoreHeading("count").c_str());
  for (int r = 0; r < 3; ++r) {
    const Score& s = scores[r];
    std::printf("%-20s %s\n", kScoreRows[r], ScoreColumns(s).c_str());
  }
  std::printf("\nrecall of RAISED by persona:");
  for (const auto& [persona, counts] : scores[0].detected_by_persona) {
    std::printf("  %s %lld/%lld", persona.c_str(), static_cast<long long>(counts.first),
                static_cast<long long>(counts.second));
  }
  std::printf("\nreasons on RAISED notices (TP / FP):");
  for (const auto& [code, counts] : raised_codes) {
    std::printf("  %s %lld/%lld", code.c_str(), static_cast<long long>(counts.first),
                static_cast<long long>(counts.second));
  }
  std::printf("\n");

  if (options.diagnose) {
    std::printf("\nrule diagnosis (customer-days at midnight ticks where the rule holds, %%):\n");
    std::printf("%-22s %10s %10s %10s %10s %12s %12s %9s\n", "rule", "non-churn", "pre-degr",
                "degrading", "after", "cust non %", "cust degr %", "lead (d)");
    int64_t churners = 0;
    for (const auto& t : truth) churners += t.churns ? 1 : 0;
    for (int c = 0; c < kCodeCount; ++c) {
      auto pct = [&](int phase) {
        return phase_days[phase] > 0 ? 100.0 * static_cast<double>(stats[c].days[phase]) /
                                           static_cast<double>(phase_days[phase])
                                     : 0.0;
      };
      const auto ever_non = std::count(stats[c].ever_non.begin(), stats[c].ever_non.end(), true);
      const auto ever_deg =
          std::count(stats[c].ever_degrading.begin(), stats[c].ever_degrading.end(), true);
      std::vector<double> leads;
      for (size_t i = 0; i < truth.size(); ++i) {
        if (stats[c].ever_degrading[i]) {
          leads.push_back(static_cast<double>(truth[i].churn_at - stats[c].first_degrading[i]) /
                          kDay);
        }
      }
      std::sort(leads.begin(), leads.end());
      std::printf(
          "%-22s %10.2f %10.2f %10.2f %10.2f %12.1f %12.1f %9.1f\n", kCodes[c], pct(0), pct(1),
          pct(2), pct(3), 100.0 * static_cast<double>(ever_non) / static_cast<double>(non_churners),
          churners > 0 ? 100.0 * static_cast<double>(ever_deg) / static_cast<double>(churners)
                       : 0.0,
          leads.empty() ? 0.0 : leads[leads.size() / 2]);
    }
  }

  std::string json = absl::StrFormat(
      R"({"bench":"churn_quality","customers":%d,"days":%d,"seed":%d,"model":%s,)"
      R"("sentiment_shift":%g,"sentiment_spread":%g,)"
      R"("events":%d,"churners":%d,"non_churners":%d,"non_churners_warned":%d)",
      options.customers, options.days, options.seed, options.model ? "true" : "false",
      options.sentiment_shift, options.sentiment_spread, events.size(), scores[0].churners,
      non_churners, non_churners_warned);
  for (int r = 0; r < 3; ++r) {
    absl::StrAppendFormat(&json, R"(,"%s":{%s})", kScoreKeys[r], ScoreJsonFields(scores[r]));
  }
  json += "}";
  std::printf("\njson: %s\n", json.c_str());
  if (out != nullptr) std::copy(std::begin(scores), std::end(scores), out->begin());
  return 0;
}

// --seeds: every seed's run as usual, then the figures of all of them together.
int RunSeeds(Options options) {
  std::vector<Score> runs[3];
  for (const uint64_t seed : options.seeds) {
    options.seed = seed;
    std::array<Score, 3> scores;
    if (const int rc = Run(options, &scores); rc != 0) return rc;
    for (int r = 0; r < 3; ++r) runs[r].push_back(scores[static_cast<size_t>(r)]);
    std::printf("\n");
  }
  std::string seeds = absl::StrJoin(options.seeds, ",");
  PrintPooledPreamble(seeds);
  std::printf("%-20s %s %14s\n", "alarm", ScoreHeading("count").c_str(), "mean of medians");
  std::string json = absl::StrFormat(R"({"bench":"churn_quality_pooled","seeds":[%s],"model":%s)",
                                     seeds, options.model ? "true" : "false");
  for (int r = 0; r < 3; ++r) {
    const Score p = Pool(runs[r]);
    const double mean = MeanOfMedians(runs[r]);
    std::printf("%-20s %s %14.1f\n", kScoreRows[r], ScoreColumns(p).c_str(), mean);
    absl::StrAppendFormat(&json, R"(,"%s":{%s,"mean_of_median_lead_days":%.1f})", kScoreKeys[r],
                          ScoreJsonFields(p), mean);
  }
  json += "}";
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
