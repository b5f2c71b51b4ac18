#include "engine/cluster/instance_directory.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/kafka/topics.h"
#include "google/protobuf/util/time_util.h"

namespace guanxi::engine {

// The directory keeps no offsets: every start reads the instances topic whole.
class InstanceDirectory::StartAtBeginning final : public RebalanceListener {
 public:
  std::vector<int64_t> OnAssigned(const std::vector<TopicPartition>& partitions) override {
    return std::vector<int64_t>(partitions.size(), kOffsetBeginning);
  }
  void OnRevoked(const std::vector<TopicPartition>&) override {}
};

InstanceDirectory::InstanceDirectory(InstanceDirectoryOptions options)
    : options_(std::move(options)), listener_(std::make_unique<StartAtBeginning>()) {}

absl::StatusOr<std::unique_ptr<InstanceDirectory>> InstanceDirectory::Start(
    InstanceDirectoryOptions options) {
  std::unique_ptr<InstanceDirectory> directory(new InstanceDirectory(std::move(options)));
  InstanceDirectory* self = directory.get();
  const KafkaProperties properties = PropertiesOf(self->options_.kafka);
  const std::string& topic = self->options_.kafka.instances_topic();
  auto consumer =
      Consumer::Create(self->options_.brokers,
                       absl::StrCat(self->options_.kafka.group_id(), ".instances.", self->self()),
                       properties, self->listener_.get());
  if (!consumer.ok()) return consumer.status();
  self->consumer_ = std::move(*consumer);
  auto partitions = self->consumer_->PartitionCount(topic, absl::Seconds(30));
  if (absl::IsNotFound(partitions.status())) {
    return absl::NotFoundError(absl::StrCat(
        "the instances topic ", topic, " (kafka.instances_topic) does not exist; --advertise "
        "needs it: create it with `guanxi topics` (docs/operations.md, \"Several instances\")"));
  }
  if (!partitions.ok()) return partitions.status();
  // A failed advert is not resent here: the next assignment writes a newer one, and a
  // reader meanwhile gets a 503 with Retry-After from the instance it asked.
  auto producer = Producer::Create(self->options_.brokers, properties, nullptr);
  if (!producer.ok()) return producer.status();
  self->producer_ = std::move(*producer);
  if (auto s = self->consumer_->Subscribe({topic}); !s.ok()) return s;
  self->reader_ = std::thread([self] { self->Read(); });
  return directory;
}

InstanceDirectory::~InstanceDirectory() {
  Advertise({}, 0);
  producer_->Flush(absl::Seconds(5));
  stop_ = true;
  if (reader_.joinable()) reader_.join();
  consumer_->Close();
}

void InstanceDirectory::Advertise(std::vector<int32_t> partitions, int32_t events_partitions) {
  std::sort(partitions.begin(), partitions.end());
  guanxi::v1::InstanceAdvert advert;
  advert.set_instance(options_.self);
  advert.mutable_partitions()->Add(partitions.begin(), partitions.end());
  advert.set_events_partitions(events_partitions);
  *advert.mutable_written_at() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now()));
  producer_->Produce(options_.kafka.instances_topic(), options_.self, advert.SerializeAsString(),
                     /*cookie=*/0, absl::Seconds(1))
      .IgnoreError();  // as a failed delivery (above)
}

std::optional<std::string> InstanceDirectory::OwnerOf(int32_t partition) const {
  absl::MutexLock lock(&mu_);
  std::optional<std::string> owner;
  int64_t latest = -1;
  for (const auto& [instance, seen] : adverts_) {
    if (seen.offset <= latest) continue;
    const auto& owned = seen.advert.partitions();
    if (std::find(owned.begin(), owned.end(), partition) == owned.end()) continue;
    latest = seen.offset;
    owner = instance;
  }
  return owner;
}

void InstanceDirectory::Read() {
  while (!stop_.load()) {
    std::vector<KafkaMessage> messages = consumer_->Poll(100, absl::Milliseconds(100));
    producer_->Poll(absl::ZeroDuration());  // serves delivery reports
    absl::MutexLock lock(&mu_);
    for (const KafkaMessage& m : messages) {
      if (!m.error.ok()) continue;  // transient; librdkafka retries
      guanxi::v1::InstanceAdvert advert;
      // A tombstone, or a record this version cannot read, says nothing of ownership.
      if (m.value.empty() || !advert.ParseFromString(m.value)) {
        adverts_.erase(m.key);
        continue;
      }
      adverts_[m.key] = {.offset = m.offset, .advert = std::move(advert)};
    }
  }
}

}  // namespace guanxi::engine
