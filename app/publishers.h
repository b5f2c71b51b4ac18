// Where `guanxi connect` and `guanxi simulate` send events.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "connectors/run.h"

namespace guanxi::app {

// Produces events to Kafka (key = customer_id, value = serialized guanxi.v1.Event) with
// an idempotent producer; Flush waits for every delivery report. `config_path` (may be
// empty) supplies librdkafka properties (TLS, SASL) from the engine configuration.
absl::StatusOr<std::unique_ptr<connectors::EventPublisher>> NewKafkaEventPublisher(
    const std::string& brokers, const std::string& topic, const std::string& config_path);

}  // namespace guanxi::app
