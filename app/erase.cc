// guanxi erase CUSTOMER: ask for the erasure of a customer's personal data, by producing
// a guanxi.v1.Erasure event to the events topic (engine/privacy/erasure.h).
#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "app/commands.h"
#include "app/publishers.h"
#include "engine/privacy/erasure.h"

namespace guanxi::app {
namespace {

int RunErase(const Args& args, Io& io) {
  const std::string& customer = args.positional()[0];
  std::string requested_by = args.Get("requested-by");
  if (requested_by.empty()) {
    const char* user = std::getenv("USER");
    requested_by = user != nullptr ? user : "unknown";
  }
  auto event = engine::ErasureEvent(customer, args.Get("reason"), requested_by, absl::Now());
  if (!event.ok()) return ReportUsageError(io, event.status());

  auto chosen = OpenPublisher(args, io.out);
  if (!chosen.ok()) {
    return chosen.status().code() == absl::StatusCode::kInvalidArgument
               ? ReportUsageError(io, chosen.status())
               : ReportFailure(io, chosen.status());
  }
  if (absl::Status s = chosen->publisher->Publish(*event); !s.ok()) return ReportFailure(io, s);
  auto failed = chosen->publisher->Flush();
  if (!failed.ok()) return ReportFailure(io, failed.status());
  if (*failed > 0) {
    return ReportFailure(io, absl::UnavailableError(absl::StrCat(
                                 "the erasure of '", customer,
                                 "' was not delivered; asking again is safe")));
  }
  io.err << "erasure of '" << customer << "' requested (event " << event->event_id()
         << "): the engine deletes the customer's key when it appends it; "
            "`guanxi audit trail` shows it\n";
  return kExitOk;
}

}  // namespace

Command EraseCommand() {
  Command command{
      .name = "erase",
      .summary = "Erase a customer's personal data (PIPL art. 47, GDPR art. 17).",
      .description =
          "Produces a guanxi.v1.Erasure event for CUSTOMER to the events topic, keyed by the\n"
          "customer, so it lands in their partition in order. The engine, appending it,\n"
          "deletes the customer's key: every personal field of their events (docs/events.md,\n"
          "\"Personal data\") becomes unreadable for good in the log, the states, the trail\n"
          "and exports; scores, stages, classes and warnings stay as they were. The erasure\n"
          "stays in the log as its audit record. What guanxi cannot erase (the input topic\n"
          "until its retention expires): docs/operations.md. Asking twice is harmless.",
      .positional_usage = "CUSTOMER",
      .min_positional = 1,
      .max_positional = 1,
      .flags = {{.name = "reason",
                 .value_name = "TEXT",
                 .help = "why (kept in the log: no personal data), e.g. a request number"},
                {.name = "requested-by",
                 .value_name = "NAME",
                 .help = "who asked (kept in the log; default: $USER)"}},
      .run = RunErase,
  };
  for (Flag& flag : PublisherFlags()) command.flags.push_back(std::move(flag));
  return command;
}

}  // namespace guanxi::app
