// The topics a guanxi deployment uses, and creating them (on the embedded cluster, or on
// a real Kafka cluster through the admin API).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "engine/kafka/kafka.h"
#include "guanxi/v1/config.pb.h"

namespace guanxi::engine {

// The events topic (`events_partitions` partitions), the warnings, changes and
// dead-letter topics (one partition per events partition: a customer's notices keep
// their order when keyed by customer_id), and the instances topic (one partition,
// compacted), each with `replication_factor` replicas. The events topic keeps its
// messages for ever (retention.ms=-1, retention.bytes=-1).
std::vector<TopicSpec> GuanxiTopics(const guanxi::v1::KafkaConfig& kafka, int events_partitions,
                                    int replication_factor);

// Creates them on an embedded cluster (three replicas).
absl::Status CreateGuanxiTopics(EmbeddedCluster& cluster, const guanxi::v1::KafkaConfig& kafka,
                                int events_partitions);

// Creates them on the cluster of `kafka.brokers()`, with the configuration's librdkafka
// properties (TLS, SASL); topics that exist are left as they are.
absl::Status CreateGuanxiTopics(const guanxi::v1::KafkaConfig& kafka, int events_partitions,
                                int replication_factor, absl::Duration timeout);

// The librdkafka properties of the configuration, as the wrapper takes them.
KafkaProperties PropertiesOf(const guanxi::v1::KafkaConfig& kafka);

}  // namespace guanxi::engine
