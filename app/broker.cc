// guanxi broker: a development Kafka on loopback (librdkafka's mock cluster).
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "app/commands.h"
#include "engine/config/config.h"
#include "engine/kafka/kafka.h"
#include "engine/kafka/topics.h"

namespace guanxi::app {
namespace {

absl::Status WriteAtomically(const std::string& path, const std::string& content) {
  const std::string temp = absl::StrCat(path, ".tmp.", getpid());
  {
    std::ofstream out(temp);
    out << content << "\n";
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", temp));
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot rename to ", path, ": ", ec.message()));
  return absl::OkStatus();
}

int RunBroker(const Args& args, Io& io) {
  auto partitions = args.GetInt("partitions", 1, 1024);
  if (!partitions.ok()) return ReportUsageError(io, partitions.status());
  auto nodes = args.GetInt("nodes", 1, 9);
  if (!nodes.ok()) return ReportUsageError(io, nodes.status());
  auto config = engine::LoadEngineConfig(args.Get("config"));
  if (!config.ok()) return ReportUsageError(io, config.status());

  // Block the stop signals before librdkafka starts its threads, so they inherit the
  // mask and only sigwait below receives them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  auto cluster = engine::EmbeddedCluster::Start(static_cast<int>(*nodes));
  if (!cluster.ok()) return ReportFailure(io, cluster.status());
  if (auto s =
          engine::CreateGuanxiTopics(**cluster, config->kafka(), static_cast<int>(*partitions));
      !s.ok()) {
    return ReportFailure(io, s);
  }
  const std::string bootstrap = (*cluster)->bootstrap_servers();
  if (args.Has("bootstrap-file")) {
    if (auto s = WriteAtomically(args.Get("bootstrap-file"), bootstrap); !s.ok()) {
      return ReportFailure(io, s);
    }
  }
  io.out << bootstrap << std::endl;
  io.err << "guanxi broker: " << *nodes << " brokers at " << bootstrap << "; topics "
         << config->kafka().events_topic() << " (" << *partitions << " partitions), "
         << config->kafka().warnings_topic() << ", " << config->kafka().changes_topic() << ", "
         << config->kafka().dead_letters_topic() << ", " << config->kafka().instances_topic()
         << ". In memory only; Ctrl-C stops it."
         << std::endl;
  int signal = 0;
  sigwait(&stop, &signal);
  io.err << "guanxi broker: stopping (signal " << signal << ")" << std::endl;
  return kExitOk;
}

}  // namespace

Command BrokerCommand() {
  return Command{
      .name = "broker",
      .summary = "Run a development Kafka on loopback (librdkafka's mock cluster).",
      .description =
          "Creates the events, churn-warnings, relationship-changes and dead-letters topics,\n"
          "prints its bootstrap address (and writes it to --bootstrap-file) and runs until\n"
          "SIGINT or SIGTERM. Other processes connect over TCP. For development and tests\n"
          "only: in memory, bounded, no transactions (docs/operations.md).",
      .flags = {{.name = "partitions",
                 .value_name = "N",
                 .help = "partitions of the events topic",
                 .default_value = "8"},
                {.name = "nodes", .value_name = "N", .help = "mock brokers", .default_value = "3"},
                {.name = "bootstrap-file",
                 .value_name = "FILE",
                 .help = "write the bootstrap address here (atomically)"},
                {.name = "config",
                 .value_name = "FILE",
                 .help = "engine configuration (topic names)"}},
      .run = RunBroker,
  };
}

}  // namespace guanxi::app
