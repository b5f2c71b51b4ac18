#include "engine/kafka/topics.h"

namespace guanxi::engine {

std::vector<TopicSpec> GuanxiTopics(const guanxi::v1::KafkaConfig& kafka, int events_partitions,
                                    int replication_factor) {
  std::vector<TopicSpec> topics;
  for (const std::string* topic : {&kafka.events_topic(), &kafka.warnings_topic(),
                                   &kafka.changes_topic(), &kafka.dead_letters_topic()}) {
    topics.push_back({.name = *topic,
                      .partitions = events_partitions,
                      .replication_factor = replication_factor});
  }
  // The events are the system of record: a partition rebuilt on another instance reads
  // its topic from offset 0 (docs/operations.md, "Scaling out, and the retention it needs").
  topics.front().configs = {{"retention.ms", "-1"}, {"retention.bytes", "-1"}};
  // Small, read whole by every instance at its start, each key's latest record all that
  // matters: one partition (a total order of the adverts), compacted.
  topics.push_back({.name = kafka.instances_topic(),
                    .partitions = 1,
                    .replication_factor = replication_factor,
                    .configs = {{"cleanup.policy", "compact"}}});
  return topics;
}

absl::Status CreateGuanxiTopics(EmbeddedCluster& cluster, const guanxi::v1::KafkaConfig& kafka,
                                int events_partitions) {
  for (const TopicSpec& topic : GuanxiTopics(kafka, events_partitions, 3)) {
    absl::Status s = cluster.CreateTopic(topic.name, topic.partitions, topic.replication_factor);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status CreateGuanxiTopics(const guanxi::v1::KafkaConfig& kafka, int events_partitions,
                                int replication_factor, absl::Duration timeout) {
  return CreateTopics(kafka.brokers(), PropertiesOf(kafka),
                      GuanxiTopics(kafka, events_partitions, replication_factor), timeout);
}

KafkaProperties PropertiesOf(const guanxi::v1::KafkaConfig& kafka) {
  KafkaProperties properties;
  for (const auto& p : kafka.properties()) properties.emplace_back(p.name(), p.value());
  return properties;
}

}  // namespace guanxi::engine
