// A benchmark run on a shared Kafka cluster (`--brokers`, `--latency-brokers`): topics
// and a consumer group of its own, so runs never read each other's messages.
//
//   guanxi::v1::EngineConfig config = engine::DefaultEngineConfig();
//   RETURN_IF_ERROR(UseOwnTopics(brokers, 16, 1, *config.mutable_kafka()));
#pragma once

#include <string>

#include "absl/status/status.h"
#include "guanxi/v1/config.pb.h"

namespace guanxi::bench {

// Names every topic and the group of `kafka` after the run (`<name>.bench-<unix>-<pid>`),
// points it at `brokers`, creates the topics (`partitions` each, `replication_factor`),
// and returns once they show in the cluster's metadata (the engine looks its topic up
// once at start and stops when it is not there yet).
absl::Status UseOwnTopics(const std::string& brokers, int partitions, int replication_factor,
                          guanxi::v1::KafkaConfig& kafka);

}  // namespace guanxi::bench
