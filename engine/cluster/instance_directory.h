// Which instance owns which partition of the events topic, for reads that reach an
// instance that does not own the customer's partition (docs/operations.md, "Several
// instances"). Each instance started with `guanxi run --advertise ADDR` keeps one record
// on the instances topic (compacted, one partition, keyed by ADDR): a
// guanxi.v1.InstanceAdvert listing the partitions it owns, written anew at each
// assignment and revocation, and with none when it stops cleanly. Every instance reads
// the whole topic from its beginning and follows it; a partition's owner is the instance
// whose latest advert (the highest offset: the topic's one partition orders them all)
// lists it. A crashed instance's advert stays until the partition's next owner writes
// its own, after the group's session timeout: meanwhile reads forwarded to it fail with
// 503 and Retry-After, as they would during any rebalance.
//
//   ASSIGN_OR_RETURN(auto directory,
//                    InstanceDirectory::Start({.brokers = b, .kafka = config.kafka(),
//                                              .self = "10.0.0.7:8080"}));
//   directory->Advertise({0, 3}, 8);                   // on every (re)assignment
//   std::optional<std::string> owner = directory->OwnerOf(5);
//
// The reading runs on a thread of its own, in a consumer group of its own
// ("<group_id>.instances.<self>", always from the topic's beginning: nothing is
// committed). Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/kafka/kafka.h"
#include "guanxi/v1/config.pb.h"
#include "guanxi/v1/serving.pb.h"

namespace guanxi::engine {

struct InstanceDirectoryOptions {
  std::string brokers;
  guanxi::v1::KafkaConfig kafka;
  // This instance's HTTP address as the others reach it ("host:port").
  std::string self;
};

class InstanceDirectory {
 public:
  // NotFound naming the topic when the instances topic does not exist (`guanxi topics`
  // creates it); the client errors of Consumer/Producer::Create otherwise.
  static absl::StatusOr<std::unique_ptr<InstanceDirectory>> Start(
      InstanceDirectoryOptions options);
  // Advertises that this instance owns nothing (waiting up to 5 s for the broker to take
  // it), then stops reading.
  ~InstanceDirectory();
  InstanceDirectory(const InstanceDirectory&) = delete;
  InstanceDirectory& operator=(const InstanceDirectory&) = delete;

  // Writes this instance's advert: it owns exactly `partitions` of an events topic of
  // `events_partitions`. Does not wait for the broker (librdkafka retries a failed send
  // until its message.timeout.ms).
  void Advertise(std::vector<int32_t> partitions, int32_t events_partitions);
  // The instance whose latest advert lists `partition`, as read so far; nullopt if none.
  std::optional<std::string> OwnerOf(int32_t partition) const;
  const std::string& self() const { return options_.self; }

 private:
  class StartAtBeginning;
  explicit InstanceDirectory(InstanceDirectoryOptions options);
  void Read();  // the reading thread

  const InstanceDirectoryOptions options_;
  std::unique_ptr<StartAtBeginning> listener_;
  std::unique_ptr<Consumer> consumer_;  // used by the reading thread only
  std::unique_ptr<Producer> producer_;
  std::atomic<bool> stop_{false};
  std::thread reader_;

  struct Seen {
    int64_t offset = -1;
    guanxi::v1::InstanceAdvert advert;
  };
  mutable absl::Mutex mu_;
  std::map<std::string, Seen> adverts_ ABSL_GUARDED_BY(mu_);  // by instance
};

}  // namespace guanxi::engine
