// guanxi simulate: a synthetic event stream with planted churners.
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "app/commands.h"
#include "app/progress.h"
#include "app/publishers.h"
#include "connectors/simulator.h"
#include "connectors/time_parse.h"

namespace guanxi::app {
namespace {

int RunSimulate(const Args& args, Io& io) {
  auto customers = args.GetInt("customers", 1, 10'000'000);
  if (!customers.ok()) return ReportUsageError(io, customers.status());
  auto days = args.GetInt("days", 1, 3650);
  if (!days.ok()) return ReportUsageError(io, days.status());
  auto seed = args.GetInt("seed", 0, INT64_MAX);
  if (!seed.ok()) return ReportUsageError(io, seed.status());
  auto share = args.GetDouble("churn-share");
  if (!share.ok()) return ReportUsageError(io, share.status());
  if (*share < 0 || *share > 1) {
    return ReportUsageError(io, absl::InvalidArgumentError("--churn-share: must be in [0, 1]"));
  }
  auto start = connectors::ParseDateTime(absl::StrCat(args.Get("start"), " 00:00:00"));
  if (!start.ok()) {
    return ReportUsageError(
        io, absl::InvalidArgumentError(absl::StrCat("--start: ", start.status().message())));
  }

  auto chosen = OpenPublisher(args, io.out);
  if (!chosen.ok()) {
    return chosen.status().code() == absl::StatusCode::kInvalidArgument
               ? ReportUsageError(io, chosen.status())
               : ReportFailure(io, chosen.status());
  }
  connectors::EventPublisher* publisher = chosen->publisher.get();

  connectors::Simulator sim(connectors::SimulatorOptions{.customers = *customers,
                                                         .days = static_cast<int32_t>(*days),
                                                         .seed = static_cast<uint64_t>(*seed),
                                                         .start_unix_seconds = start->seconds(),
                                                         .churn_share = *share});
  Progress progress(io.err, "simulate", isatty(STDERR_FILENO) != 0);
  int64_t events = 0;
  absl::Status status;
  const int64_t first = start->seconds();
  const int64_t span = *days * 86400;
  sim.Run([&](const v1::Event& e) {
    if (!status.ok()) return;
    status = publisher->Publish(e);
    ++events;
    if (events % 4096 == 0)
      progress.Update(e.occurred_at().seconds() - first, span, events, "events");
  });
  progress.Finish();
  if (!status.ok()) return ReportFailure(io, status);
  auto failed = publisher->Flush();
  if (!failed.ok()) return ReportFailure(io, failed.status());

  int64_t churners = 0;
  if (args.Has("truth")) {
    std::ofstream truth(args.Get("truth"));
    for (const connectors::GroundTruth& t : sim.truth()) {
      truth << connectors::GroundTruthJsonLine(t) << "\n";
    }
    if (!truth) {
      return ReportFailure(io,
                           absl::DataLossError(absl::StrCat("cannot write ", args.Get("truth"))));
    }
  }
  for (const connectors::GroundTruth& t : sim.truth()) churners += t.churns ? 1 : 0;
  io.err << "simulate: " << WithThousands(*customers) << " customers over " << *days
         << " days: " << WithThousands(events - *failed) << " events sent";
  if (*failed > 0) io.err << ", FAILED delivery " << WithThousands(*failed);
  io.err << "; " << WithThousands(churners) << " planted churners"
         << (args.Has("truth") ? absl::StrCat(" (ground truth: ", args.Get("truth"), ")") : "")
         << "\n";
  return *failed > 0 && *failed == events ? kExitFailure : kExitOk;
}

}  // namespace

Command SimulateCommand() {
  Command command{
      .name = "simulate",
      .summary = "Generate a realistic synthetic event stream with planted churners.",
      .description =
          "Every event type of docs/events.md, a population of key accounts, regular and\n"
          "small customers and prospects, and planted churners whose behaviour degrades\n"
          "(fewer orders, later payments, complaints, falling satisfaction, a champion\n"
          "leaving) before they go silent. The same --seed gives the same stream.",
      .flags =
          {{.name = "customers",
            .value_name = "N",
            .help = "population size",
            .default_value = "1000"},
           {.name = "days", .value_name = "D", .help = "days of history", .default_value = "365"},
           {.name = "seed", .value_name = "S", .help = "random seed", .default_value = "1"},
           {.name = "start",
            .value_name = "DATE",
            .help = "first day (YYYY-MM-DD, UTC)",
            .default_value = "2025-01-01"},
           {.name = "churn-share",
            .value_name = "F",
            .help = "share of buying customers planted to churn",
            .default_value = "0.15"},
           {.name = "truth",
            .value_name = "FILE",
            .help = "write the ground truth (who churns when) as JSON lines"}},
      .run = RunSimulate,
  };
  for (Flag& flag : PublisherFlags()) command.flags.push_back(std::move(flag));
  return command;
}

}  // namespace guanxi::app
