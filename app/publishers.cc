#include "app/publishers.h"

#include "absl/strings/str_cat.h"
#include "engine/config/config.h"
#include "engine/kafka/kafka.h"
#include "engine/kafka/topics.h"

namespace guanxi::app {
namespace {

class KafkaEventPublisher final : public connectors::EventPublisher {
 public:
  KafkaEventPublisher(std::string topic, size_t max_event_bytes) : topic_(std::move(topic)) {
    limits_.max_event_bytes = max_event_bytes;
  }

  absl::Status Init(const std::string& brokers, const engine::KafkaProperties& properties) {
    auto producer =
        engine::Producer::Create(brokers, properties, [this](const engine::Producer::Delivery& d) {
          if (!d.status.ok()) ++failed_;
        });
    if (!producer.ok()) return producer.status();
    producer_ = std::move(*producer);
    limits_.max_message_bytes = producer_->max_message_bytes();
    return absl::OkStatus();
  }

  std::optional<std::string> Refusal(const guanxi::v1::Event& event) const override {
    return connectors::KafkaSizeRefusal(event.customer_id().size(), event.ByteSizeLong(), limits_);
  }

  absl::Status Publish(const guanxi::v1::Event& event) override {
    event.SerializeToString(&buffer_);
    if (auto refused = connectors::KafkaSizeRefusal(event.customer_id().size(), buffer_.size(),
                                                    limits_)) {
      return absl::InvalidArgumentError(*refused);
    }
    return producer_->Produce(topic_, event.customer_id(), buffer_, 0);
  }

  absl::StatusOr<int64_t> Flush() override {
    // Every delivery report, however long the broker takes (bounded: 5 minutes).
    const int64_t outstanding = producer_->Flush(absl::Minutes(5));
    if (absl::Status health = producer_->health(); !health.ok()) return health;
    if (outstanding > 0) {
      return absl::DeadlineExceededError(
          absl::StrCat(outstanding, " events still unacknowledged after 5 minutes"));
    }
    return failed_;
  }

 private:
  std::string topic_;
  connectors::KafkaSizeLimits limits_;
  std::unique_ptr<engine::Producer> producer_;
  std::string buffer_;
  int64_t failed_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<connectors::EventPublisher>> NewKafkaEventPublisher(
    const std::string& brokers, const std::string& topic, const std::string& config_path) {
  auto config = engine::LoadEngineConfig(config_path);
  if (!config.ok()) return config.status();
  auto publisher = std::make_unique<KafkaEventPublisher>(
      topic, static_cast<size_t>(config->kafka().max_event_bytes()));
  if (auto s = publisher->Init(brokers, engine::PropertiesOf(config->kafka())); !s.ok()) return s;
  return publisher;
}

std::vector<Flag> PublisherFlags() {
  return {
      {.name = "output", .value_name = "FILE", .help = "write the events as JSONL (- for stdout)"},
      {.name = "brokers",
       .value_name = "LIST",
       .help = "produce to Kafka instead (bootstrap servers host:port,...)"},
      {.name = "topic",
       .value_name = "TOPIC",
       .help = "the events topic",
       .default_value = "guanxi.events"},
      {.name = "config",
       .value_name = "FILE",
       .help = "engine configuration (librdkafka properties for TLS/SASL)"}};
}

absl::StatusOr<ChosenPublisher> OpenPublisher(const Args& args, std::ostream& stdout_stream) {
  if (args.Has("brokers") == args.Has("output")) {
    return absl::InvalidArgumentError("give exactly one of --brokers and --output");
  }
  ChosenPublisher chosen;
  if (args.Has("brokers")) {
    auto kafka = NewKafkaEventPublisher(args.Get("brokers"), args.Get("topic"), args.Get("config"));
    if (!kafka.ok()) return kafka.status();
    chosen.publisher = std::move(*kafka);
    return chosen;
  }
  std::ostream* out = &stdout_stream;
  if (args.Get("output") != "-") {
    chosen.file = std::make_unique<std::ofstream>(args.Get("output"));
    if (!*chosen.file)
      return absl::NotFoundError(absl::StrCat("cannot write ", args.Get("output")));
    out = chosen.file.get();
  }
  chosen.publisher = std::make_unique<connectors::JsonlPublisher>(*out);
  return chosen;
}

}  // namespace guanxi::app
