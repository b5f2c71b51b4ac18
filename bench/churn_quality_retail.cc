// churn_quality_retail: the churn warnings on real data. The UCI online-retail orders
// (../shared/data/online-retail.csv.gz) go through the online-retail connector into an
// event log; the engine's own projections are recomputed from the log as of a cut date
// (engine::RebuildAsOf: every rule and timer exactly as `guanxi run` applies them), and
// the warning state at the cut is scored against what the customers did next.
//
//   build/release/bench/churn_quality_retail [--cut=2011-09-01] [--horizon-days=90]
//                                            [--data=../shared/data] [--config=FILE]
//                                            [--model=on|off] [--diagnose=on]
//
// Population: customers with at least one purchase before the cut. A customer "churned"
// when it made no purchase in (cut, cut + horizon]. Predicted: the customer's warning
// episode is open at the cut (at any level; the rows "level >= warning" and
// "level = critical" count only episodes at that level or above).
//   precision = churned among predicted / predicted;   recall = predicted among churned.
// At the cut, the population model is fitted over the customers (FitPopulation) and
// applied to each as a model record is (CustomerProjection::OnModel), so P(alive) counts
// as in the engine (--model=off leaves it out). The data end on 2011-12-09: the default cut leaves
// the 90-day horizon inside them. --diagnose=on adds, on stderr, the reasons and points at the cut
// and, for single silence figures (P(alive), BG/NBD's P(no purchase in the horizon), expected
// purchases, days quiet, days quiet over the usual gap), precision and recall of the top
// 10..50% of customers ranked by each. A benchmark, not a test: nothing is asserted. Output: a
// table, then one JSON line (prefix "json: ").
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "connectors/connector.h"
#include "connectors/line_reader.h"
#include "connectors/time_parse.h"
#include "engine/config/config.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/event_log.h"
#include "engine/projection/replay.h"
#include "projections/churn/rules.h"
#include "projections/population.h"
#include "projections/projection.h"

namespace guanxi::bench {
namespace {

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

// The built-in defaults, or DEFAULTS + FILE with --config=FILE (as guanxi run reads it).
guanxi::v1::EngineConfig LoadConfig(int argc, char** argv) {
  auto config = engine::LoadEngineConfig(Flag(argc, argv, "config", ""));
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", std::string(config.status().message()).c_str());
    std::exit(2);
  }
  return *config;
}

int Main(int argc, char** argv) {
  const std::string data = Flag(argc, argv, "data", GUANXI_SHARED_DATA_DIR);
  const std::string cut_text = Flag(argc, argv, "cut", "2011-09-01");
  const int horizon_days = std::stoi(Flag(argc, argv, "horizon-days", "90"));
  auto cut = connectors::ParseDateTime(cut_text + " 00:00:00");
  if (!cut.ok()) {
    std::fprintf(stderr, "--cut: %s\n", std::string(cut.status().message()).c_str());
    return 2;
  }
  const int64_t horizon_end = cut->seconds() + int64_t{horizon_days} * 86400;

  std::fprintf(stderr, "reading %s/online-retail.csv.gz ...\n", data.c_str());
  auto reader = connectors::LineReader::Open(data + "/online-retail.csv.gz");
  if (!reader.ok()) {
    std::fprintf(stderr, "%s\n", std::string(reader.status().message()).c_str());
    return 1;
  }
  Collect sink;
  auto parser = connectors::NewOnlineRetailParser();
  std::string line;
  int64_t n = 0;
  while ((*reader)->Next(line)) parser->Line(++n, line, sink);
  parser->Finish(sink);

  // Who bought when (purchases only), to know what happened after the cut.
  std::map<std::string, bool> bought_before, bought_after;
  for (const auto& e : sink.events) {
    if (!e.has_order() || e.order().kind() == guanxi::v1::ORDER_KIND_CANCELLATION) continue;
    const int64_t t = e.occurred_at().seconds();
    if (t < cut->seconds()) bought_before[e.customer_id()] = true;
    if (t >= cut->seconds() && t < horizon_end) bought_after[e.customer_id()] = true;
  }

  // Into an event log, then the projections as of the cut, recomputed from it.
  const std::string work =
      (std::filesystem::temp_directory_path() / absl::StrCat("guanxi_retail_quality_", getpid()))
          .string();
  std::filesystem::remove_all(work);
  {
    auto log = engine::EventLog::Open(engine::PartitionDir(work + "/data", 0), {.partition = 0});
    if (!log.ok()) {
      std::fprintf(stderr, "%s\n", std::string(log.status().message()).c_str());
      return 1;
    }
    std::vector<guanxi::v1::LogRecord> records;
    for (const auto& e : sink.events) *records.emplace_back().mutable_event() = e;
    if (auto s = (*log)->Append(absl::MakeSpan(records), {}); !s.ok()) {
      std::fprintf(stderr, "%s\n", std::string(s.status().message()).c_str());
      return 1;
    }
  }
  std::fprintf(stderr, "%zu events appended; projecting as of %s ...\n", sink.events.size(),
               cut_text.c_str());
  const std::atomic<bool> stop{false};
  google::protobuf::Timestamp as_of;
  as_of.set_seconds(cut->seconds() - 1);  // the end of the day before the cut
  auto view = engine::RebuildAsOf({.data_dir = work + "/data",
                                   .partition = 0,
                                   .scratch_dir = work + "/scratch",
                                   .config = LoadConfig(argc, argv)},
                                  as_of, stop);
  if (!view.ok()) {
    std::fprintf(stderr, "%s\n", std::string(view.status().message()).c_str());
    return 1;
  }
  // The population model the engine would have in force: fitted over the customers as
  // of the cut, then applied to each of them as a model record is (CustomerProjection::
  // OnModel: classes, P(alive), then the churn rules).
  std::vector<guanxi::v1::CustomerState> states;
  auto read = view->store->ForEachState([&](const guanxi::v1::CustomerState& s) {
    states.push_back(s);
    return true;
  });
  if (!read.ok()) {
    std::fprintf(stderr, "%s\n", std::string(read.message()).c_str());
    return 1;
  }
  const guanxi::v1::EngineConfig config = LoadConfig(argc, argv);
  std::vector<const guanxi::v1::CustomerState*> population_view;
  for (const auto& s : states) population_view.push_back(&s);
  const guanxi::v1::ModelRecord model =
      projections::FitPopulation(config.classification(), population_view, as_of);
  const projections::CustomerProjection projection(config);
  if (Flag(argc, argv, "model", "on") == "on") {
    for (auto& s : states) projection.OnModel(s, as_of, 0, {.model = &model});
  }
  std::fprintf(stderr, "population model: BG/NBD %s\n",
               model.has_bgnbd() ? "fitted" : "not fitted");
  if (Flag(argc, argv, "diagnose", "off") == "on") {
    std::map<std::string, int64_t> reasons;
    std::map<double, int64_t> points;
    for (const auto& s : states) {
      const auto a = projections::AssessChurn(config.churn(), s, &model, as_of);
      ++points[a.points];
      for (const auto& r : a.reasons) ++reasons[r.code()];
    }
    for (const auto& [code, count] : reasons) {
      std::fprintf(stderr, "  reason %s: %lld\n", code.c_str(), static_cast<long long>(count));
    }
    for (const auto& [p, count] : points) {
      std::fprintf(stderr, "  points %.1f: %lld\n", p, static_cast<long long>(count));
    }
    // Candidate silence signals, each at several thresholds: how well it alone tells
    // who buys nothing in the horizon.
    struct Row {
      double score;
      bool gone;
    };
    std::map<std::string, std::vector<Row>> signals;
    for (const auto& s : states) {
      if (!bought_before.count(s.customer_id())) continue;
      const bool gone = !bought_after.count(s.customer_id());
      signals["p_alive (low)"].push_back({-s.p_alive(), gone});
      signals["expected_90d (low)"].push_back({-s.expected_purchases_90d(), gone});
      const double rhythm = projections::PurchaseRhythmDays(config.churn(), s);
      const double quiet =
          static_cast<double>(as_of.seconds() - s.last_purchase_at().seconds()) / 86400;
      signals["quiet/rhythm"].push_back({quiet / rhythm, gone});
      signals["quiet days"].push_back({quiet, gone});
      if (model.has_bgnbd()) {
        const auto& m = model.bgnbd();
        if (auto h = projections::PurchaseHistoryOf(s, as_of, m.time_unit_days())) {
          const double tau = horizon_days / m.time_unit_days();
          const double stay = std::pow((m.alpha() + h->T) / (m.alpha() + h->T + tau), m.r() + h->x);
          signals["P(none in horizon)"].push_back({1 - s.p_alive() + s.p_alive() * stay, gone});
        }
      }
    }
    for (auto& [name, rows] : signals) {
      std::sort(rows.begin(), rows.end(),
                [](const Row& a, const Row& b) { return a.score > b.score; });
      int64_t total_gone = 0;
      for (const auto& r : rows) total_gone += r.gone;
      std::fprintf(stderr, "  %s:", name.c_str());
      int64_t tp = 0;
      for (size_t i = 0; i < rows.size(); ++i) {
        tp += rows[i].gone;
        for (double q : {0.1, 0.2, 0.3, 0.4, 0.5}) {
          if (i + 1 == static_cast<size_t>(q * static_cast<double>(rows.size()))) {
            std::fprintf(stderr, "  top%.0f%% (>=%.3g) p=%.3f r=%.3f", q * 100, rows[i].score,
                         static_cast<double>(tp) / static_cast<double>(i + 1),
                         static_cast<double>(tp) / static_cast<double>(total_gone));
          }
        }
      }
      std::fprintf(stderr, "\n");
    }
  }

  struct Counts {
    int64_t predicted = 0, predicted_churned = 0;
  };
  Counts any, warning, critical;
  int64_t population = 0, churned = 0;
  auto visit = [&](const guanxi::v1::CustomerState& s) {
    if (!bought_before.count(s.customer_id())) return true;
    ++population;
    const bool gone = !bought_after.count(s.customer_id());
    churned += gone ? 1 : 0;
    const int level = s.churn_episode().warning_id().empty() ? 0 : s.churn_episode().level();
    for (auto [counts, min_level] : {std::pair{&any, 1}, {&warning, 2}, {&critical, 3}}) {
      if (level >= min_level) {
        ++counts->predicted;
        counts->predicted_churned += gone ? 1 : 0;
      }
    }
    return true;
  };
  for (const auto& s : states) visit(s);
  std::filesystem::remove_all(work);
  std::printf(
      "online retail, cut %s, horizon %d days: %lld customers with a purchase before the "
      "cut, %lld of them (%.1f%%) bought nothing in the horizon\n",
      cut_text.c_str(), horizon_days, static_cast<long long>(population),
      static_cast<long long>(churned),
      100.0 * static_cast<double>(churned) / static_cast<double>(std::max<int64_t>(population, 1)));
  std::printf("%-22s %10s %10s %10s\n", "open episode at cut", "customers", "precision", "recall");
  std::string json = absl::StrFormat(
      "{\"cut\":\"%s\",\"horizonDays\":%d,\"population\":%d,\"churned\":%d,\"rows\":[", cut_text,
      horizon_days, population, churned);
  bool first = true;
  for (auto [name, counts] : {std::pair{"any level", &any},
                              {"level >= warning", &warning},
                              {"level = critical", &critical}}) {
    const double precision = counts->predicted == 0
                                 ? 0
                                 : static_cast<double>(counts->predicted_churned) /
                                       static_cast<double>(counts->predicted);
    const double recall = churned == 0 ? 0
                                       : static_cast<double>(counts->predicted_churned) /
                                             static_cast<double>(churned);
    std::printf("%-22s %10lld %10.3f %10.3f\n", name, static_cast<long long>(counts->predicted),
                precision, recall);
    absl::StrAppendFormat(&json,
                          "%s{\"rule\":\"%s\",\"predicted\":%d,\"precision\":%.4f,\"recall\":%.4f}",
                          first ? "" : ",", name, counts->predicted, precision, recall);
    first = false;
  }
  std::printf("json: %s]}\n", json.c_str());
  return 0;
}

}  // namespace
}  // namespace guanxi::bench

int main(int argc, char** argv) { return guanxi::bench::Main(argc, argv); }
