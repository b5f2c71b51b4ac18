// guanxi run: the engine. Joins the consumer group and appends every owned partition
// of the events topic to its event log, effectively once.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "app/commands.h"
#include "app/progress.h"
#include "engine/config/config.h"
#include "engine/ingest/ingest_engine.h"
#include "engine/kafka/kafka.h"
#include "engine/kafka/topics.h"
#include "engine/query/http_server.h"

namespace guanxi::app {
namespace {

std::atomic<bool> stop_requested{false};

void OnStopSignal(int) { stop_requested.store(true); }

int RunEngine(const Args& args, Io& io) {
  auto config = engine::LoadEngineConfig(args.Get("config"));
  if (!config.ok()) return ReportUsageError(io, config.status());
  if (args.Has("brokers")) config->mutable_kafka()->set_brokers(args.Get("brokers"));
  auto partitions = args.GetInt("partitions", 1, 1024);
  if (!partitions.ok()) return ReportUsageError(io, partitions.status());

  std::unique_ptr<engine::EmbeddedCluster> cluster;
  std::string brokers = config->kafka().brokers();
  if (brokers == "embedded") {
    auto started = engine::EmbeddedCluster::Start(3);
    if (!started.ok()) return ReportFailure(io, started.status());
    cluster = std::move(*started);
    if (auto s =
            engine::CreateGuanxiTopics(*cluster, config->kafka(), static_cast<int>(*partitions));
        !s.ok()) {
      return ReportFailure(io, s);
    }
    brokers = cluster->bootstrap_servers();
    io.err << "guanxi run: embedded Kafka at " << brokers << " (" << *partitions
           << " partitions; feed it with guanxi connect/simulate --brokers " << brokers << ")\n";
    if (args.Has("bootstrap-file")) {
      std::ofstream(args.Get("bootstrap-file")) << brokers << "\n";
    }
  } else if (args.Has("bootstrap-file") || args.Has("partitions")) {
    return ReportUsageError(
        io,
        absl::InvalidArgumentError("--partitions and --bootstrap-file go with --brokers embedded"));
  }

  struct sigaction action = {};
  action.sa_handler = OnStopSignal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  Progress progress(io.err, "run", isatty(STDERR_FILENO) != 0);
  engine::IngestEngine engine({
      .brokers = brokers,
      .data_dir = args.Get("data"),
      .config = *config,
      .until_caught_up = args.IsSet("until-caught-up"),
      .on_progress =
          [&](const engine::IngestStats& t, size_t owned) {
            progress.Update(0, 0, t.messages, absl::StrCat("messages (", owned, " partitions)"));
          },
  });
  std::unique_ptr<engine::HttpServer> http;
  if (args.Has("http")) {
    auto ready_lag = args.GetInt("ready-lag", 0, int64_t{1} << 40);
    if (!ready_lag.ok()) return ReportUsageError(io, ready_lag.status());
    std::string token;
    if (args.Has("http-token-file")) {
      auto read = engine::ReadTokenFile(args.Get("http-token-file"));
      if (!read.ok()) return ReportUsageError(io, read.status());
      token = *read;
    }
    auto started = engine::HttpServer::Start({.address = args.Get("http"),
                                              .bearer_token = token,
                                              .partitions = [&] { return engine.Partitions(); },
                                              .status = [&] { return engine.Status(); },
                                              .data_dir = args.Get("data"),
                                              .config = *config,
                                              .ready_lag = *ready_lag});
    if (!started.ok()) {
      return started.status().code() == absl::StatusCode::kInvalidArgument
                 ? ReportUsageError(io, started.status())
                 : ReportFailure(io, started.status());
    }
    http = std::move(*started);
    io.err << "guanxi run: HTTP API on port " << http->port()
           << (token.empty() ? " (no authentication)" : " (bearer token required)") << "\n";
  } else if (args.Has("http-token-file")) {
    return ReportUsageError(io, absl::InvalidArgumentError("--http-token-file goes with --http"));
  }
  absl::Status status = engine.Run(stop_requested);
  http.reset();  // before the engine goes
  progress.Finish();
  const engine::IngestStats& t = engine.totals();
  io.err << "guanxi run: " << WithThousands(t.messages)
         << " messages: " << WithThousands(t.appended) << " appended, "
         << WithThousands(t.duplicates) << " duplicates, " << WithThousands(t.dead_letters)
         << " dead letters";
  if (t.forwarded > 0) {
    io.err << ", " << WithThousands(t.forwarded)
           << " forwarded to their customer's home partition (docs/events.md)";
  }
  io.err << "\n";
  if (!status.ok()) return ReportFailure(io, status);
  return kExitOk;
}

}  // namespace

Command RunCommand() {
  return Command{
      .name = "run",
      .summary = "Run the engine: consume the events topic into the event logs.",
      .description =
          "Joins the consumer group; for each owned partition resumes from the offset stored\n"
          "in its event log (DATA/partitions/<N>), decodes and validates each message,\n"
          "dead-letters bad ones, and appends the rest with their offsets in one atomic\n"
          "write: nothing lost, nothing appended twice. --brokers embedded starts an\n"
          "in-process development Kafka. Ctrl-C (SIGINT/SIGTERM) stops cleanly.",
      .flags =
          {{.name = "data", .value_name = "DIR", .help = "the data directory", .required = true},
           {.name = "brokers",
            .value_name = "LIST",
            .help = "Kafka bootstrap servers, or 'embedded' (default: the configuration's)"},
           {.name = "config",
            .value_name = "FILE",
            .help = "engine configuration (deploy/guanxi.conf.textproto documents it)"},
           {.name = "until-caught-up",
            .help = "exit 0 once every owned partition reached the high watermark seen at start"},
           {.name = "partitions",
            .value_name = "N",
            .help = "with --brokers embedded: partitions of the events topic",
            .default_value = "8"},
           {.name = "bootstrap-file",
            .value_name = "FILE",
            .help = "with --brokers embedded: write the bootstrap address here"},
           {.name = "http",
            .value_name = "HOST:PORT",
            .help = "serve the HTTP API (docs/api.md) here; port 0 picks a free one"},
           {.name = "http-token-file",
            .value_name = "FILE",
            .help = "require this bearer token on every endpoint but /healthz and /readyz"},
           {.name = "ready-lag",
            .value_name = "N",
            .help = "GET /readyz answers ready once every owned partition is within N "
                    "messages of the broker's end, consumed and projected",
            .default_value = "1000"}},
      .run = RunEngine,
  };
}

}  // namespace guanxi::app
