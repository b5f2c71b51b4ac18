#include "bench/own_topics.h"

#include <unistd.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "engine/kafka/kafka.h"
#include "engine/kafka/topics.h"

namespace guanxi::bench {

absl::Status UseOwnTopics(const std::string& brokers, int partitions, int replication_factor,
                          guanxi::v1::KafkaConfig& kafka) {
  const std::string run = absl::StrCat(".bench-", absl::ToUnixSeconds(absl::Now()), "-", getpid());
  kafka.set_brokers(brokers);
  for (std::string* name :
       {kafka.mutable_group_id(), kafka.mutable_events_topic(), kafka.mutable_warnings_topic(),
        kafka.mutable_changes_topic(), kafka.mutable_dead_letters_topic(),
        kafka.mutable_instances_topic()}) {
    name->append(run);
  }
  RETURN_IF_ERROR(
      engine::CreateGuanxiTopics(kafka, partitions, replication_factor, absl::Seconds(60)));
  ASSIGN_OR_RETURN(auto consumer, engine::Consumer::Create(brokers, kafka.group_id(),
                                                           engine::PropertiesOf(kafka), nullptr));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (const engine::TopicSpec& topic :
       engine::GuanxiTopics(kafka, partitions, replication_factor)) {
    for (;;) {
      absl::StatusOr<int32_t> count = consumer->PartitionCount(topic.name, absl::Seconds(10));
      if (count.ok() && *count == topic.partitions) break;
      if (std::chrono::steady_clock::now() > deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat("topic ", topic.name, " created on ", brokers,
                         " but not in its metadata after 60 s",
                         count.ok() ? "" : absl::StrCat(": ", count.status().message())));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the cluster's pace
    }
  }
  consumer->Close();
  return absl::OkStatus();
}

}  // namespace guanxi::bench
