// guanxi model fit: the population models as of an event time, fitted over every
// partition's customers recomputed from the log, printed for anyone to check.
#include <unistd.h>

#include <atomic>
#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "app/commands.h"
#include "app/progress.h"
#include "app/time_flag.h"
#include "common/scratch_dir.h"
#include "engine/config/config.h"
#include "engine/storage/data_dir.h"
#include "engine/projection/replay.h"
#include "engine/query/json.h"
#include "google/protobuf/util/time_util.h"
#include "projections/churn/risk.h"
#include "projections/population.h"

namespace guanxi::app {
namespace {

std::string Boundaries(const google::protobuf::RepeatedField<double>& b) {
  return absl::StrJoin(b, " / ",
                       [](std::string* out, double v) { absl::StrAppendFormat(out, "%g", v); });
}

int RunFit(const Args& args, Io& io) {
  auto config = engine::LoadEngineConfig(args.Get("config"));
  if (!config.ok()) return ReportUsageError(io, config.status());
  auto as_of = ParseTimeFlag("as-of", args.Get("as-of"));
  if (!as_of.ok()) return ReportUsageError(io, as_of.status());
  const std::string data = args.Get("data");
  auto partitions = engine::ListPartitions(data);
  if (!partitions.ok()) return ReportFailure(io, partitions.status());

  // Every partition's customers as of the time, recomputed from its log.
  const std::atomic<bool> stop{false};
  Progress progress(io.err, "model fit", isatty(STDERR_FILENO) != 0);
  std::vector<guanxi::v1::CustomerState> states;
  uint64_t done = 0;
  for (int32_t p : *partitions) {
    ScratchDir scratch("guanxi_model");
    auto view = engine::RebuildAsOf(
        {.data_dir = data, .partition = p, .scratch_dir = scratch.path(), .config = *config},
        *as_of, stop, [&](uint64_t applied, uint64_t) {
          progress.Update(0, 0, static_cast<int64_t>(done + applied), "records");
        });
    if (!view.ok()) {
      progress.Finish();
      return ReportFailure(
          io, absl::Status(view.status().code(),
                           absl::StrCat("partition ", p, ": ", view.status().message())));
    }
    done += view->stats.records;
    absl::Status read = view->store->ForEachState([&](const guanxi::v1::CustomerState& s) {
      states.push_back(s);
      return true;
    });
    if (!read.ok()) return ReportFailure(io, read);
  }
  progress.Finish();
  std::vector<const guanxi::v1::CustomerState*> population;
  for (const auto& s : states) population.push_back(&s);
  guanxi::v1::ModelRecord model =
      projections::FitPopulation(config->classification(), population, *as_of);
  for (int32_t p : *partitions) model.add_partitions(p);
  // The churn risk, calibrated on the snapshots the log's model records took a horizon
  // or more before (none in a log without model records).
  if (auto risk = projections::RefitChurnRisk(config->churn(), population, *as_of, nullptr)) {
    *model.mutable_churn_risk() = *std::move(risk);
  }

  if (args.IsSet("json")) {
    const absl::StatusOr<std::string> json = engine::MessageJson(model);
    if (!json.ok()) return ReportFailure(io, json.status());
    io.out << *json << "\n";
    return kExitOk;
  }
  io.out << "population models as of " << google::protobuf::util::TimeUtil::ToString(*as_of)
         << " over " << WithThousands(model.population()) << " customers (" << partitions->size()
         << " partitions)\n";
  if (model.has_bgnbd()) {
    const auto& b = model.bgnbd();
    io.out << absl::StrFormat(
        "BG/NBD (time unit %g days): r %.5f  alpha %.5f  a %.5f  b %.5f  log-likelihood %.3f  "
        "(%d customers, %s)\n",
        b.time_unit_days(), b.r(), b.alpha(), b.a(), b.b(), b.log_likelihood(), b.customers(),
        b.converged() ? "converged" : "NOT converged");
  } else {
    io.out << "BG/NBD: not fitted (too few repeat buyers)\n";
  }
  if (model.has_churn_risk()) {
    const auto& r = model.churn_risk();
    io.out << absl::StrFormat(
        "churn risk (%d days): calibrated on %d customers, %d of whom went quiet (%s)\n",
        r.horizon_days(), r.examples(), r.churned(), r.converged() ? "converged" : "NOT converged");
  } else {
    io.out << "churn risk: not calibrated (no customer snapshot a horizon old)\n";
  }
  if (model.has_abc()) {
    io.out << absl::StrFormat("ABC: A from %.2f, B from %.2f trailing-12-month revenue\n",
                              static_cast<double>(model.abc().a_min_revenue_minor()) / 100,
                              static_cast<double>(model.abc().b_min_revenue_minor()) / 100);
  }
  if (model.has_rfm()) {
    io.out << "RFM quintile boundaries: recency days " << Boundaries(model.rfm().recency_days())
           << "; frequency " << Boundaries(model.rfm().frequency()) << "; monetary (minor) "
           << Boundaries(model.rfm().monetary_minor()) << "\n";
  }
  return kExitOk;
}

}  // namespace

Command ModelCommand() {
  Command model{.name = "model", .summary = "The population models (ABC, RFM, BG/NBD)."};
  model.Add(Command{
      .name = "fit",
      .summary = "Fit the population models as of an event time and print them.",
      .description =
          "Recomputes every customer of every partition under --data as of --as-of from\n"
          "the log (events that occurred later are left out), then fits the population\n"
          "models over all of them together: ABC cut-offs, RFM quintiles and the BG/NBD\n"
          "model (Fader, Hardie & Lee 2005) in weeks, same-day purchases merged,\n"
          "T = the days from a customer's first purchase to the --as-of day. A date means\n"
          "the end of that day (UTC). --json prints the guanxi.v1.ModelRecord in protobuf's\n"
          "JSON mapping (proto/guanxi/v1/models.proto). The engine's own refits are per\n"
          "partition (docs/scoring.md, \"Population models\").",
      .flags =
          {{.name = "data", .value_name = "DIR", .help = "the data directory", .required = true},
           {.name = "as-of",
            .value_name = "TIME",
            .help = "event time: RFC 3339 or a date (its end)",
            .required = true},
           {.name = "config",
            .value_name = "FILE",
            .help = "engine configuration (protobuf text format); default: built-in"},
           {.name = "json", .help = "print the ModelRecord as JSON"}},
      .run = RunFit,
  });
  return model;
}

}  // namespace guanxi::app
