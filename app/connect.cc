// guanxi connect SOURCE: feed a source's records to Kafka (or to JSONL).
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "app/commands.h"
#include "app/time_flag.h"
#include "app/progress.h"
#include "app/publishers.h"
#include "common/status_macros.h"
#include "connectors/connector.h"
#include "connectors/line_reader.h"
#include "connectors/run.h"
#include "connectors/time_parse.h"

namespace guanxi::app {
namespace {

constexpr int kRejectsShown = 20;

struct Source {
  const char* name;
  const char* what;
  std::unique_ptr<connectors::LineParser> (*make)();
};

const Source kSources[] = {
    {"jsonl", "one guanxi.v1.Event per line in protobuf JSON (docs/events.md)",
     connectors::NewJsonlParser},
    {"online-retail", "the UCI Online Retail export (CSV, plain or .gz)",
     connectors::NewOnlineRetailParser},
    {"cdnow", "the CDNOW purchase sample (whitespace-separated)", connectors::NewCdnowParser},
    {"callcenter-calls", "call-center call records (CSV, docs/connectors.md)",
     connectors::NewCallCenterCallsParser},
    {"callcenter-complaints", "call-center complaints and their resolution (CSV)",
     connectors::NewCallCenterComplaintsParser},
    {"erp-orders", "ERP orders, invoices and cancellations (CSV)", connectors::NewErpOrdersParser},
    {"erp-payments", "ERP payments with due and paid dates (CSV)",
     connectors::NewErpPaymentsParser},
    {"erp-contracts", "ERP contract milestones (CSV)", connectors::NewErpContractsParser},
};

int RunConnect(const Args& args, Io& io) {
  const std::string source_name = args.positional()[0];
  const Source* source = nullptr;
  for (const Source& s : kSources) {
    if (source_name == s.name) source = &s;
  }
  if (source == nullptr) {
    std::vector<std::string> names;
    for (const Source& s : kSources) names.emplace_back(s.name);
    return ReportUsageError(
        io, absl::InvalidArgumentError(absl::StrCat("unknown source '", source_name,
                                                    "'; available: ", absl::StrJoin(names, ", "))));
  }
  connectors::ConnectOptions options;
  for (const char* flag : {"since", "until"}) {
    if (!args.Has(flag)) continue;
    auto ts = ParseTimeFlag(flag, args.Get(flag));
    if (!ts.ok()) return ReportUsageError(io, ts.status());
    (std::string(flag) == "since" ? options.since : options.until) = *ts;
  }

  auto reader = connectors::LineReader::Open(args.Get("input"));
  if (!reader.ok()) return ReportFailure(io, reader.status());

  auto chosen = OpenPublisher(args, io.out);
  if (!chosen.ok()) {
    return chosen.status().code() == absl::StatusCode::kInvalidArgument
               ? ReportUsageError(io, chosen.status())
               : ReportFailure(io, chosen.status());
  }
  connectors::EventPublisher* publisher = chosen->publisher.get();

  std::ofstream rejects;
  if (args.Has("rejects")) {
    rejects.open(args.Get("rejects"));
    if (!rejects) {
      return ReportFailure(io,
                           absl::NotFoundError(absl::StrCat("cannot write ", args.Get("rejects"))));
    }
  }
  int64_t shown = 0;
  Progress progress(io.err, absl::StrCat("connect ", source_name), isatty(STDERR_FILENO) != 0);
  connectors::ConnectHooks hooks;
  hooks.on_reject = [&](int64_t line, const std::string& reason) {
    if (rejects.is_open()) rejects << "line " << line << ": " << reason << "\n";
    if (shown < kRejectsShown) {
      progress.Finish();
      io.err << "line " << line << ": " << reason << "\n";
    } else if (shown == kRejectsShown && !rejects.is_open()) {
      io.err << "(further rejected lines are counted below; --rejects FILE lists them all)\n";
    }
    ++shown;
  };
  hooks.on_progress = [&](int64_t done, int64_t total, int64_t lines) {
    progress.Update(done, total, lines, "lines");
  };
  auto parser = source->make();
  auto summary = connectors::RunConnector(**reader, *parser, *publisher, options, hooks);
  progress.Finish();
  if (!summary.ok()) return ReportFailure(io, summary.status());

  io.err << "connect " << source_name << ": read " << WithThousands(summary->lines) << " lines -> "
         << WithThousands(summary->events) << " events; sent " << WithThousands(summary->sent)
         << ", rejected " << WithThousands(summary->rejected) << " lines, filtered "
         << WithThousands(summary->filtered) << " by event time";
  if (summary->failed > 0) io.err << ", FAILED delivery " << WithThousands(summary->failed);
  io.err << "\n";
  for (const auto& [reason, count] : summary->rejected_by_reason) {
    io.err << "  rejected " << WithThousands(count) << ": " << reason << "\n";
  }
  const bool attempted =
      summary->rejected > 0 || summary->failed > 0 || summary->events > summary->filtered;
  return summary->sent == 0 && attempted ? kExitFailure : kExitOk;
}

}  // namespace

Command ConnectCommand() {
  std::string sources;
  for (const Source& s : kSources) absl::StrAppend(&sources, "  ", s.name, ": ", s.what, "\n");
  Command command{
      .name = "connect",
      .summary = "Feed a source's records to Kafka as events (or to JSONL).",
      .description = absl::StrCat(
          "Sources:\n", sources,
          "\nEvent ids are deterministic from the source record, so running a connector\n"
          "twice on the same input adds nothing to the log. A bad row is reported with its\n"
          "line number and reason and the rest goes through. Producing is idempotent and\n"
          "waits for every delivery report. Exit 1 only when nothing could be sent."),
      .positional_usage = "SOURCE",
      .min_positional = 1,
      .max_positional = 1,
      .flags = {{.name = "input",
                 .value_name = "FILE",
                 .help = "the input file, or - for stdin",
                 .required = true},
                {.name = "since",
                 .value_name = "TIME",
                 .help = "only events after TIME (RFC 3339, or YYYY-MM-DD: the end of that "
                         "day, UTC, so the day itself is left out)"},
                {.name = "until",
                 .value_name = "TIME",
                 .help = "only events at or before TIME (RFC 3339, or YYYY-MM-DD: the end of "
                         "that day, UTC, so the day itself is sent)"},
                {.name = "rejects",
                 .value_name = "FILE",
                 .help = "write every rejected line's number and reason to FILE"}},
      .run = RunConnect,
  };
  for (Flag& flag : PublisherFlags()) command.flags.push_back(std::move(flag));
  return command;
}

}  // namespace guanxi::app
