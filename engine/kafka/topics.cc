#include "engine/kafka/topics.h"

namespace guanxi::engine {

absl::Status CreateGuanxiTopics(EmbeddedCluster& cluster, const guanxi::v1::KafkaConfig& kafka,
                                int events_partitions) {
  for (const std::string* topic : {&kafka.events_topic(), &kafka.warnings_topic(),
                                   &kafka.changes_topic(), &kafka.dead_letters_topic()}) {
    absl::Status s = cluster.CreateTopic(*topic, events_partitions, 3);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

KafkaProperties PropertiesOf(const guanxi::v1::KafkaConfig& kafka) {
  KafkaProperties properties;
  for (const auto& p : kafka.properties()) properties.emplace_back(p.name(), p.value());
  return properties;
}

}  // namespace guanxi::engine
