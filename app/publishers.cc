#include "app/publishers.h"

#include "absl/status/status.h"

namespace guanxi::app {

absl::StatusOr<std::unique_ptr<connectors::EventPublisher>> NewKafkaEventPublisher(
    const std::string&, const std::string&, const std::string&) {
  return absl::UnimplementedError(
      "producing to Kafka needs the engine's Kafka wrapper, which is not built yet; "
      "use --output FILE for now");
}

}  // namespace guanxi::app
