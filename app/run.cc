// guanxi run: the engine. Joins the consumer group and appends every owned partition
// of the events topic to its event log, effectively once.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "app/commands.h"
#include "app/progress.h"
#include "engine/cluster/instance_directory.h"
#include "engine/config/config.h"
#include "engine/ingest/ingest_engine.h"
#include "engine/kafka/kafka.h"
#include "engine/kafka/topics.h"
#include "engine/privacy/erasure.h"
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

  if (!args.Has("http")) {
    for (const char* flag : {"http-token-file", "http-admin-token-file", "http-tls-cert-file",
                             "http-tls-key-file", "http-tls-ca-file", "ready-lag", "advertise"}) {
      if (args.Has(flag)) {
        return ReportUsageError(
            io, absl::InvalidArgumentError(absl::StrCat("--", flag, " goes with --http")));
      }
    }
  }
  // Several instances: each tells the others which partitions it owns, and forwards a
  // read for a customer it does not own to the owner.
  std::unique_ptr<engine::InstanceDirectory> directory;
  std::function<void(std::vector<int32_t>, int32_t)> advertise;
  std::function<std::optional<std::string>(int32_t)> owner_of;
  if (args.Has("advertise")) {
    auto started = engine::InstanceDirectory::Start(
        {.brokers = brokers, .kafka = config->kafka(), .self = args.Get("advertise")});
    if (!started.ok()) return ReportFailure(io, started.status());
    directory = std::move(*started);
    advertise = [&](std::vector<int32_t> owned, int32_t events_partitions) {
      directory->Advertise(std::move(owned), events_partitions);
    };
    owner_of = [&](int32_t partition) { return directory->OwnerOf(partition); };
  }

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
      .on_owned = advertise,
  });
  std::unique_ptr<engine::HttpServer> http;
  if (args.Has("http")) {
    auto ready_lag = args.GetInt("ready-lag", 0, int64_t{1} << 40);
    if (!ready_lag.ok()) return ReportUsageError(io, ready_lag.status());
    std::string tokens[2];  // read, admin
    const char* token_flags[2] = {"http-token-file", "http-admin-token-file"};
    for (int i = 0; i < 2; ++i) {
      if (!args.Has(token_flags[i])) continue;
      auto read = engine::ReadTokenFile(args.Get(token_flags[i]));
      if (!read.ok()) {
        return ReportUsageError(
            io, absl::Status(read.status().code(),
                             absl::StrCat("--", token_flags[i], ": ", read.status().message())));
      }
      tokens[i] = *read;
    }
    // POST /v1/customers/{id}/erase: the erasure on the events topic, as `guanxi erase`
    // puts it there, on a producer of its own.
    const auto produce_erasure = [&brokers, &config](const guanxi::v1::Event& erasure) {
      return engine::ProduceErasure(brokers, engine::PropertiesOf(config->kafka()),
                                    config->kafka().events_topic(), erasure, absl::Seconds(10));
    };
    const std::string& token = tokens[0];
    const std::string& admin_token = tokens[1];
    auto started = engine::HttpServer::Start({.address = args.Get("http"),
                                              .bearer_token = token,
                                              .admin_token = admin_token,
                                              .tls_cert_file = args.Get("http-tls-cert-file"),
                                              .tls_key_file = args.Get("http-tls-key-file"),
                                              .tls_ca_file = args.Get("http-tls-ca-file"),
                                              .partitions = [&] { return engine.Partitions(); },
                                              .status = [&] { return engine.Status(); },
                                              .data_dir = args.Get("data"),
                                              .config = *config,
                                              .ready_lag = *ready_lag,
                                              .self = args.Get("advertise"),
                                              .owner_of = owner_of,
                                              .produce_erasure = produce_erasure});
    if (!started.ok()) {
      return started.status().code() == absl::StatusCode::kInvalidArgument
                 ? ReportUsageError(io, started.status())
                 : ReportFailure(io, started.status());
    }
    http = std::move(*started);
    io.err << "guanxi run: HTTP" << (args.Has("http-tls-cert-file") ? "S" : "")
           << " API on port " << http->port()
           << (token.empty() && admin_token.empty() ? " (no authentication)"
               : admin_token.empty()                ? " (read token required)"
               : token.empty()                      ? " (admin token required)"
                                                    : " (read or admin token required)");
    if (directory != nullptr) io.err << ", advertised as " << directory->self();
    io.err << "\n";
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
            .help = "the read token: a bearer token required on every endpoint but /healthz, "
                    "/readyz and the web view's files; it reads, it cannot call admin "
                    "endpoints (docs/api.md)"},
           {.name = "http-admin-token-file",
            .value_name = "FILE",
            .help = "the admin token: reads, and calls the admin endpoints (which answer 403 "
                    "without it); must differ from the read token"},
           {.name = "http-tls-cert-file",
            .value_name = "FILE",
            .help = "serve HTTPS (only) with this PEM certificate chain, the server's "
                    "certificate first; with --http-tls-key-file"},
           {.name = "http-tls-key-file",
            .value_name = "FILE",
            .help = "the unencrypted PEM private key of --http-tls-cert-file"},
           {.name = "http-tls-ca-file",
            .value_name = "FILE",
            .help = "with --http-tls-cert-file and --advertise: the CA certificates (PEM) the "
                    "other instances' certificates must chain to for a read to be forwarded "
                    "to them (default: the system's trusted CAs)"},
           {.name = "ready-lag",
            .value_name = "N",
            .help = "GET /readyz answers ready once every owned partition is within N "
                    "messages of the broker's end, consumed and projected",
            .default_value = "1000"},
           {.name = "advertise",
            .value_name = "HOST:PORT",
            .help = "with several instances: the address the others reach this one's --http "
                    "at; it advertises the partitions it owns on kafka.instances_topic and "
                    "forwards a read for a customer another instance owns there"}},
      .run = RunEngine,
  };
}

}  // namespace guanxi::app
