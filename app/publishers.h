// Where `guanxi connect` and `guanxi simulate` send events.
#pragma once

#include <fstream>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "app/cli.h"
#include "connectors/run.h"

namespace guanxi::app {

// Produces events to Kafka (key = customer_id, value = serialized guanxi.v1.Event) with
// an idempotent producer; Flush waits for every delivery report. `config_path` (may be
// empty) supplies librdkafka properties (TLS, SASL) from the engine configuration. An
// event the producer would not take (over message.max.bytes with its key and framing:
// engine::Producer::max_message_bytes) or larger than the engine's kafka.max_event_bytes
// is refused (connectors::KafkaSizeRefusal), never produced.
absl::StatusOr<std::unique_ptr<connectors::EventPublisher>> NewKafkaEventPublisher(
    const std::string& brokers, const std::string& topic, const std::string& config_path);

// The flags OpenPublisher reads: --output, --brokers, --topic, --config.
std::vector<Flag> PublisherFlags();

// What `--output FILE|-` or `--brokers LIST` (exactly one; with --topic and --config)
// ask for: a JSONL writer (to `stdout_stream` for "-") or a Kafka producer. Giving both
// or neither is InvalidArgument (a usage error); an unwritable file is NotFound.
struct ChosenPublisher {
  std::unique_ptr<connectors::EventPublisher> publisher;
  std::unique_ptr<std::ofstream> file;  // owns the output file, if one was named
};
absl::StatusOr<ChosenPublisher> OpenPublisher(const Args& args, std::ostream& stdout_stream);

}  // namespace guanxi::app
