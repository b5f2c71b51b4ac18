// churn_quality_real: the churn risk and the churn warnings on real data, both sets of
// ../shared/data. Each set goes through its connector into an event log; the engine's own
// projections are recomputed from the log as of a cut (engine::RebuildAsOf: every rule and
// timer as `guanxi run` applies them), with a population model fitted then and applied
// to every customer as a model record is; what each customer did after the cut is the
// truth.
//
//   build/release/bench/churn_quality_real [--set=retail,cdnow] [--data=../shared/data]
//                                          [--config=FILE] [--partitions=8]
//                                          [--diagnose=on]
//
// The sets (issue 19):
//   retail  the UCI online-retail orders; cut at the end of 2011-09-09, holdout the
//           3 months to the end of 2011-12-09 (the data's end).
//   cdnow   the CDNOW sample of Fader, Hardie and Lee (2005); cut at the end of the
//           paper's calibration period, 1997-09-30; holdout to the end of 1998-06-30.
// Population: the customers with a purchase before the cut. "Left": no purchase in the
// holdout. Rows:
//   AUC (the probability that a customer who left ranks above one who stayed; 0.5 is
//   chance) of each single signal and of the churn risk:
//     recency          days since the last purchase (more: leaving)
//     frequency        days with a purchase (fewer: leaving)
//     quiet / rhythm   days since the last purchase over the customer's usual gap
//     P(alive)         BG/NBD, one fit over the whole population (lower: leaving)
//     expected         BG/NBD expected purchases in the holdout, one fit over everyone
//     expected, split  the same with one fit per partition (--partitions random shares by
//                      the hash of the id, as the engine's partitions hold them)
//     churn risk       CustomerState.churn_risk, calibrated as the engine calibrates it:
//                      a refit churn.risk_horizon_days (90) before the cut takes every
//                      customer's snapshot, the refit at the cut fits the risk model on
//                      them against whether each customer went that long with nothing at
//                      all, and applies it
//   and precision / recall of the warnings open at the cut (any level, >= warning,
//   critical) and of the churn risk at 0.5.
// --diagnose=on adds, on stderr, the reasons and points at the cut and the risk model's
// weights. A benchmark, not a test: nothing is asserted. Output: a table per set, then one
// JSON line per set (prefix "json: ").
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "connectors/connector.h"
#include "connectors/line_reader.h"
#include "connectors/time_parse.h"
#include "engine/config/config.h"
#include "engine/projection/replay.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/event_log.h"
#include "projections/churn/bgnbd.h"
#include "projections/churn/risk.h"
#include "projections/churn/rules.h"
#include "projections/population.h"
#include "projections/projection.h"

namespace guanxi::bench {
namespace {

using google::protobuf::Timestamp;
using guanxi::v1::CustomerState;
using guanxi::v1::ModelRecord;

constexpr int64_t kDay = 86400;

struct Collect final : connectors::EventSink {
  std::vector<guanxi::v1::Event> events;
  void Accept(guanxi::v1::Event e) override { events.push_back(std::move(e)); }
  void Reject(int64_t, std::string) override {}
};

std::string Flag(int argc, char** argv, const std::string& name, const std::string& fallback) {
  const std::string prefix = "--" + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]).rfind(prefix, 0) == 0)
      return std::string(argv[i]).substr(prefix.size());
  }
  return fallback;
}

[[noreturn]] void Fail(const absl::Status& status) {
  std::fprintf(stderr, "%s\n", std::string(status.message()).c_str());
  std::exit(1);
}

struct DataSet {
  std::string name;
  std::string file;  // under --data
  std::unique_ptr<connectors::LineParser> (*parser)();
  std::string cut;           // a bare date: its end, UTC
  std::string holdout_end;   // a bare date: its end, UTC
};

int64_t EndOfDay(const std::string& date) {
  auto t = connectors::ParseDateTime(date + " 23:59:59");
  if (!t.ok()) Fail(t.status());
  return t->seconds();
}

Timestamp At(int64_t seconds) {
  Timestamp t;
  t.set_seconds(seconds);
  return t;
}

// The precision of the top-ranked customers who hold `recall` of the positives.
double PrecisionAtRecall(std::vector<std::pair<double, bool>> rows, double recall) {
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  int64_t positives = 0;
  for (const auto& r : rows) positives += r.second ? 1 : 0;
  int64_t hits = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    hits += rows[i].second ? 1 : 0;
    if (static_cast<double>(hits) >= recall * static_cast<double>(positives)) {
      return static_cast<double>(hits) / static_cast<double>(i + 1);
    }
  }
  return 0;
}

// The probability that a random positive scores above a random negative (ties half).
double Auc(std::vector<std::pair<double, bool>> rows) {
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  double positives = 0, negatives = 0, rank_sum = 0;
  for (size_t i = 0; i < rows.size();) {
    size_t j = i;
    while (j < rows.size() && rows[j].first == rows[i].first) ++j;
    const double mid_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (size_t k = i; k < j; ++k) {
      if (rows[k].second) {
        rank_sum += mid_rank;
        ++positives;
      } else {
        ++negatives;
      }
    }
    i = j;
  }
  if (positives == 0 || negatives == 0) return 0.5;
  return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

// The states as of `as_of`, recomputed from the log.
std::vector<CustomerState> StatesAsOf(const std::string& work,
                                      const guanxi::v1::EngineConfig& config, int64_t as_of) {
  const std::atomic<bool> stop{false};
  std::filesystem::remove_all(work + "/scratch");
  auto view = engine::RebuildAsOf(
      {.data_dir = work + "/data", .partition = 0, .scratch_dir = work + "/scratch",
       .config = config},
      At(as_of), stop);
  if (!view.ok()) Fail(view.status());
  std::vector<CustomerState> states;
  auto read = view->store->ForEachState([&](const CustomerState& s) {
    states.push_back(s);
    return true;
  });
  if (!read.ok()) Fail(read);
  return states;
}

// A refit at `as_of` over `states`, as the engine's (the population models and the churn
// risk calibrated on the snapshots a horizon old), applied to each as a model record is
// (CustomerProjection::OnModel: classes, P(alive), the risk and its snapshot, the rules).
ModelRecord Refit(const guanxi::v1::EngineConfig& config, std::vector<CustomerState>& states,
                  int64_t as_of) {
  std::vector<const CustomerState*> all;
  for (const auto& s : states) all.push_back(&s);
  ModelRecord model = projections::FitPopulation(config.classification(), all, At(as_of));
  if (auto risk = projections::RefitChurnRisk(config.churn(), all, At(as_of), nullptr)) {
    *model.mutable_churn_risk() = *std::move(risk);
  }
  const projections::CustomerProjection projection(config);
  for (auto& s : states) projection.OnModel(s, At(as_of), 0, {.model = &model});
  return model;
}

// BG/NBD expected purchases in the next `days` for a customer, by `model` (0 without).
double Expected(const ModelRecord& model, const CustomerState& s, int64_t as_of, double days) {
  if (!model.has_bgnbd()) return 0;
  const auto& m = model.bgnbd();
  const projections::BgNbdParams params{m.r(), m.alpha(), m.a(), m.b()};
  const auto h = projections::PurchaseHistoryOf(s, At(as_of), m.time_unit_days());
  if (!h) return 0;
  const auto e = projections::ExpectedPurchases(params, *h, days / m.time_unit_days());
  return e.ok() && std::isfinite(*e) ? *e : 0;
}

void Run(const DataSet& set, const std::string& data, const guanxi::v1::EngineConfig& config,
         int partitions, bool diagnose) {
  const std::string path = data + "/" + set.file;
  std::fprintf(stderr, "%s: reading %s ...\n", set.name.c_str(), path.c_str());
  auto reader = connectors::LineReader::Open(path);
  if (!reader.ok()) Fail(reader.status());
  Collect sink;
  auto parser = set.parser();
  std::string line;
  int64_t n = 0;
  while ((*reader)->Next(line)) parser->Line(++n, line, sink);
  parser->Finish(sink);

  const int64_t cut = EndOfDay(set.cut);
  const int64_t holdout_end = EndOfDay(set.holdout_end);
  const double holdout_days = static_cast<double>(holdout_end - cut) / kDay;
  // Who bought when (purchases only), to know what happened after the cut.
  std::set<std::string> bought_before, bought_after;
  for (const auto& e : sink.events) {
    if (!e.has_order() || e.order().kind() == guanxi::v1::ORDER_KIND_CANCELLATION) continue;
    const int64_t t = e.occurred_at().seconds();
    if (t <= cut) bought_before.insert(e.customer_id());
    if (t > cut && t <= holdout_end) bought_after.insert(e.customer_id());
  }

  const std::string work = (std::filesystem::temp_directory_path() /
                            absl::StrCat("guanxi_churn_real_", set.name, "_", getpid()))
                               .string();
  std::filesystem::remove_all(work);
  {
    auto log = engine::EventLog::Open(engine::PartitionDir(work + "/data", 0), {.partition = 0});
    if (!log.ok()) Fail(log.status());
    std::vector<guanxi::v1::LogRecord> records;
    for (const auto& e : sink.events) *records.emplace_back().mutable_event() = e;
    if (auto s = (*log)->Append(absl::MakeSpan(records), {}); !s.ok()) Fail(s.status());
  }
  std::fprintf(stderr, "%s: %zu events appended; projecting as of the cut and %d days before\n",
               set.name.c_str(), sink.events.size(), config.churn().risk_horizon_days());

  // Two refits, as the engine makes them: one a horizon before the cut (its model record
  // takes each customer's snapshot), one at the cut, which calibrates the churn risk on
  // those snapshots against what each customer did since, and applies it.
  const int64_t since = cut - int64_t{config.churn().risk_horizon_days()} * kDay;
  std::vector<CustomerState> then = StatesAsOf(work, config, since);
  Refit(config, then, since);
  std::map<std::string, const CustomerState*> then_of;
  for (const auto& s : then) then_of[s.customer_id()] = &s;
  std::vector<CustomerState> now = StatesAsOf(work, config, cut);
  for (auto& s : now) {
    const auto earlier = then_of.find(s.customer_id());
    if (earlier != then_of.end()) *s.mutable_risk_snapshot() = earlier->second->risk_snapshot();
  }
  const ModelRecord model = Refit(config, now, cut);
  const guanxi::v1::ChurnRiskModel* risk_model =
      model.has_churn_risk() ? &model.churn_risk() : nullptr;

  // One fit per partition: the customers split by the hash of their id.
  std::vector<std::vector<const CustomerState*>> shares(static_cast<size_t>(partitions));
  for (const auto& s : now) {
    shares[projections::CustomerHash(s.customer_id()) % static_cast<uint64_t>(partitions)]
        .push_back(&s);
  }
  std::map<std::string, double> expected_split;
  int split_fitted = 0;
  for (const auto& share : shares) {
    const ModelRecord m = projections::FitPopulation(config.classification(), share, At(cut));
    split_fitted += m.has_bgnbd() ? 1 : 0;
    for (const CustomerState* s : share) {
      expected_split[s->customer_id()] = Expected(m, *s, cut, holdout_days);
    }
  }

  std::map<std::string, std::vector<std::pair<double, bool>>> signals;
  struct Counts {
    int64_t predicted = 0, predicted_left = 0;
  };
  Counts any, warning, critical, risky;
  int64_t population = 0, left = 0;
  for (const auto& s : now) {
    if (!bought_before.count(s.customer_id())) continue;
    ++population;
    const bool gone = !bought_after.count(s.customer_id());
    left += gone ? 1 : 0;
    const double quiet = static_cast<double>(cut - s.last_purchase_at().seconds()) / kDay;
    signals["recency"].push_back({quiet, gone});
    signals["frequency"].push_back({-static_cast<double>(s.purchase_days()), gone});
    signals["quiet / rhythm"].push_back(
        {quiet / projections::PurchaseRhythmDays(config.churn(), s), gone});
    signals["P(alive)"].push_back({-s.p_alive(), gone});
    signals["expected"].push_back({-Expected(model, s, cut, holdout_days), gone});
    signals["expected, split"].push_back({-expected_split[s.customer_id()], gone});
    double risk = 0;
    if (risk_model) {
      risk = s.churn_risk();
      signals["churn risk"].push_back({risk, gone});
    }
    const int level = s.churn_episode().warning_id().empty() ? 0 : s.churn_episode().level();
    for (auto [counts, min_level] : {std::pair{&any, 1}, {&warning, 2}, {&critical, 3}}) {
      if (level >= min_level) {
        ++counts->predicted;
        counts->predicted_left += gone ? 1 : 0;
      }
    }
    if (risk_model && risk >= 0.5) {
      ++risky.predicted;
      risky.predicted_left += gone ? 1 : 0;
    }
  }
  std::filesystem::remove_all(work);

  if (diagnose) {
    std::map<std::string, int64_t> reasons;
    for (const auto& s : now) {
      for (const auto& r : projections::AssessChurn(config.churn(), s, &model, At(cut)).reasons) {
        ++reasons[r.code()];
      }
    }
    for (const auto& [code, count] : reasons) {
      std::fprintf(stderr, "  reason %s: %lld\n", code.c_str(), static_cast<long long>(count));
    }
    if (risk_model) {
      std::fprintf(stderr, "  churn risk: %lld examples, %lld went quiet; intercept %.3f\n",
                   static_cast<long long>(risk_model->examples()),
                   static_cast<long long>(risk_model->churned()), risk_model->intercept());
      for (int j = 0; j < risk_model->weights_size(); ++j) {
        std::fprintf(stderr, "    %-20s weight %+.3f (mean %.3f, scale %.3f)\n",
                     risk_model->features(j).c_str(), risk_model->weights(j),
                     risk_model->mean(j), risk_model->scale(j));
      }
    }
  }

  std::printf(
      "%s, cut %s, holdout to %s: %lld customers with a purchase before the cut, %lld of them "
      "(%.1f%%) bought nothing in the holdout; BG/NBD %s over everyone, on %d of %d partitions "
      "split\n",
      set.name.c_str(), set.cut.c_str(), set.holdout_end.c_str(),
      static_cast<long long>(population), static_cast<long long>(left),
      100.0 * static_cast<double>(left) / static_cast<double>(std::max<int64_t>(population, 1)),
      model.has_bgnbd() ? "fitted" : "not fitted", split_fitted, partitions);
  std::string json = absl::StrFormat(
      "{\"set\":\"%s\",\"cut\":\"%s\",\"holdoutEnd\":\"%s\",\"population\":%d,\"left\":%d,"
      "\"signals\":{",
      set.name, set.cut, set.holdout_end, population, left);
  std::printf("%-22s %8s %14s\n", "signal", "AUC", "p at recall .5");
  bool first = true;
  for (const char* name : {"recency", "frequency", "quiet / rhythm", "P(alive)", "expected",
                           "expected, split", "churn risk"}) {
    if (!signals.count(name)) continue;
    const double auc = Auc(signals[name]);
    const double precision = PrecisionAtRecall(signals[name], 0.5);
    std::printf("%-22s %8.3f %14.3f\n", name, auc, precision);
    absl::StrAppendFormat(&json, "%s\"%s\":{\"auc\":%.4f,\"precisionAtHalfRecall\":%.4f}",
                          first ? "" : ",", name, auc, precision);
    first = false;
  }
  absl::StrAppend(&json, "},\"rows\":[");
  std::printf("%-22s %10s %10s %10s\n", "at the cut", "customers", "precision", "recall");
  first = true;
  for (auto [name, counts] : {std::pair{"episode, any level", &any},
                              {"episode >= warning", &warning},
                              {"episode = critical", &critical},
                              {"churn risk >= 0.5", &risky}}) {
    const double precision = counts->predicted == 0
                                 ? 0
                                 : static_cast<double>(counts->predicted_left) /
                                       static_cast<double>(counts->predicted);
    const double recall =
        left == 0 ? 0 : static_cast<double>(counts->predicted_left) / static_cast<double>(left);
    std::printf("%-22s %10lld %10.3f %10.3f\n", name, static_cast<long long>(counts->predicted),
                precision, recall);
    absl::StrAppendFormat(&json,
                          "%s{\"rule\":\"%s\",\"predicted\":%d,\"precision\":%.4f,\"recall\":%.4f}",
                          first ? "" : ",", name, counts->predicted, precision, recall);
    first = false;
  }
  std::printf("json: %s]}\n", json.c_str());
}

int Main(int argc, char** argv) {
  const std::string data = Flag(argc, argv, "data", GUANXI_SHARED_DATA_DIR);
  auto config = engine::LoadEngineConfig(Flag(argc, argv, "config", ""));
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  const int partitions = std::stoi(Flag(argc, argv, "partitions", "8"));
  const bool diagnose = Flag(argc, argv, "diagnose", "off") == "on";
  if (partitions < 1) {
    std::fprintf(stderr, "--partitions must be 1 or more\n");
    return 2;
  }
  const std::vector<DataSet> known = {
      {"retail", "online-retail.csv.gz", connectors::NewOnlineRetailParser, "2011-09-09",
       "2011-12-09"},
      {"cdnow", "cdnow/CDNOW_sample.txt", connectors::NewCdnowParser, "1997-09-30",
       "1998-06-30"},
  };
  const std::vector<std::string> names = absl::StrSplit(Flag(argc, argv, "set", "retail,cdnow"), ',');
  for (const std::string& name : names) {
    auto set = std::find_if(known.begin(), known.end(),
                            [&](const DataSet& s) { return s.name == name; });
    if (set == known.end()) {
      std::fprintf(stderr, "--set: unknown set \"%s\" (retail, cdnow)\n", name.c_str());
      return 2;
    }
    Run(*set, data, *config, partitions, diagnose);
  }
  return 0;
}

}  // namespace
}  // namespace guanxi::bench

int main(int argc, char** argv) { return guanxi::bench::Main(argc, argv); }
