// guanxi topics: create the guanxi topics on a Kafka cluster.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "app/commands.h"
#include "engine/config/config.h"
#include "engine/kafka/topics.h"

namespace guanxi::app {
namespace {

int RunTopics(const Args& args, Io& io) {
  auto partitions = args.GetInt("partitions", 1, 10000);
  if (!partitions.ok()) return ReportUsageError(io, partitions.status());
  auto replicas = args.GetInt("replication-factor", 1, 32);
  if (!replicas.ok()) return ReportUsageError(io, replicas.status());
  auto timeout = args.GetInt("timeout-seconds", 1, 3600);
  if (!timeout.ok()) return ReportUsageError(io, timeout.status());
  auto config = engine::LoadEngineConfig(args.Get("config"));
  if (!config.ok()) return ReportUsageError(io, config.status());
  if (args.Has("brokers")) config->mutable_kafka()->set_brokers(args.Get("brokers"));
  if (config->kafka().brokers().empty() || config->kafka().brokers() == "embedded") {
    return ReportUsageError(
        io, absl::InvalidArgumentError("--brokers (or kafka.brokers in --config) names no cluster"));
  }
  const auto& kafka = config->kafka();
  if (auto s = engine::CreateGuanxiTopics(kafka, static_cast<int>(*partitions),
                                          static_cast<int>(*replicas), absl::Seconds(*timeout));
      !s.ok()) {
    return ReportFailure(io, s);
  }
  std::vector<std::string> names;
  for (const engine::TopicSpec& t : engine::GuanxiTopics(kafka, 1, 1)) names.push_back(t.name);
  io.err << "guanxi topics: " << absl::StrJoin(names, ", ") << " on " << kafka.brokers() << " ("
         << *partitions << " partitions each but " << kafka.instances_topic()
         << ", which has one and is compacted; " << *replicas
         << " replica(s) each; topics that existed are left as they were)" << std::endl;
  return kExitOk;
}

}  // namespace

Command TopicsCommand() {
  return Command{
      .name = "topics",
      .summary = "Create the guanxi topics on a Kafka cluster.",
      .description =
          "Creates the events, churn-warnings, relationship-changes and dead-letters topics\n"
          "(names from --config) with Kafka's admin API, each with --partitions partitions:\n"
          "the output topics have as many partitions as the events topic, so a customer's\n"
          "notices keep their order. And the instances topic, one partition, compacted,\n"
          "where instances started with `run --advertise` say which partitions they own.\n"
          "A topic that exists is left as it is. The connection\n"
          "takes the librdkafka properties of --config (TLS, SASL); a cluster that does not\n"
          "answer within --timeout-seconds is an error, not a hang.",
      .flags = {{.name = "brokers",
                 .value_name = "LIST",
                 .help = "bootstrap servers host:port,... (default: kafka.brokers of --config)"},
                {.name = "partitions",
                 .value_name = "N",
                 .help = "partitions of each topic",
                 .default_value = "8"},
                {.name = "replication-factor",
                 .value_name = "R",
                 .help = "replicas of each partition",
                 .default_value = "1"},
                {.name = "timeout-seconds",
                 .value_name = "S",
                 .help = "give up after this long",
                 .default_value = "30"},
                {.name = "config",
                 .value_name = "FILE",
                 .help = "engine configuration (topic names, librdkafka properties)"}},
      .run = RunTopics,
  };
}

}  // namespace guanxi::app
