// The topics a guanxi deployment uses, and creating them on the embedded cluster.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "engine/kafka/kafka.h"
#include "guanxi/v1/config.pb.h"

namespace guanxi::engine {

// Creates the events topic (`events_partitions` partitions) and the warnings, changes
// and dead-letter topics (one partition per events partition: a customer's notices
// keep their order when keyed by customer_id) on an embedded cluster.
absl::Status CreateGuanxiTopics(EmbeddedCluster& cluster, const guanxi::v1::KafkaConfig& kafka,
                                int events_partitions);

// The librdkafka properties of the configuration, as the wrapper takes them.
KafkaProperties PropertiesOf(const guanxi::v1::KafkaConfig& kafka);

}  // namespace guanxi::engine
