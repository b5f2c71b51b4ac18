// Drives a connector: reads lines, parses them into events, filters by event time, and
// hands the events to a publisher; counts every outcome.
//
//   JsonlPublisher out(std::cout);
//   ASSIGN_OR_RETURN(ConnectSummary s, RunConnector(*reader, *parser, out, options, hooks));
//
// Not thread-safe; one run at a time per reader/parser/publisher.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "connectors/connector.h"
#include "connectors/line_reader.h"
#include "google/protobuf/timestamp.pb.h"

namespace guanxi::connectors {

// Where a connector's events go: Kafka (app/, through the engine's producer) or a JSONL
// stream. Publish may buffer; Flush returns once every published event is durably
// handed over (for Kafka: every delivery report received) and says whether all were.
class EventPublisher {
 public:
  virtual ~EventPublisher() = default;
  // Why this destination could never take `event`, whatever the retry (for Kafka: it is
  // larger than the producer's message size limit), or nullopt. RunConnector asks before
  // Publish and rejects the event's row instead, so the run goes on; Publish of such an
  // event is InvalidArgument with the same reason. By default nothing is refused.
  virtual std::optional<std::string> Refusal(const guanxi::v1::Event& /*event*/) const {
    return std::nullopt;
  }
  virtual absl::Status Publish(const guanxi::v1::Event& event) = 0;
  // Waits for everything published so far; returns how many events failed delivery.
  virtual absl::StatusOr<int64_t> Flush() = 0;
};

// The sizes a Kafka message of guanxi.events must keep to.
struct KafkaSizeLimits {
  // The most key and value bytes together the producer takes in one message
  // (engine::Producer::max_message_bytes: its message.max.bytes, librdkafka's default
  // 1,000,000, less the record framing librdkafka counts); a larger one it refuses.
  size_t max_message_bytes = 0;
  // The engine's kafka.max_event_bytes: a larger value is dead-lettered as "oversized".
  size_t max_event_bytes = 1 << 20;
};

// Why an event of `value_bytes` keyed by `key_bytes` breaks `limits`, or nullopt:
// "oversized: the event is 1200065 bytes, over the 999933 bytes a Kafka message may carry
// with its 3-byte key (message.max.bytes less framing)".
std::optional<std::string> KafkaSizeRefusal(size_t key_bytes, size_t value_bytes,
                                            const KafkaSizeLimits& limits);

// Writes each event as one line of protobuf JSON (the jsonl connector's input format).
class JsonlPublisher final : public EventPublisher {
 public:
  // `out` must outlive the publisher.
  explicit JsonlPublisher(std::ostream& out) : out_(out) {}
  absl::Status Publish(const guanxi::v1::Event& event) override;
  absl::StatusOr<int64_t> Flush() override;

 private:
  std::ostream& out_;
};

struct ConnectOptions {
  // Event-time window (since, until]: after `since`, at or before `until`, so that one
  // run's --until T and the next one's --since T neither overlap nor leave a gap. Events
  // outside it are counted as filtered.
  std::optional<google::protobuf::Timestamp> since{};
  std::optional<google::protobuf::Timestamp> until{};
};

struct ConnectHooks {
  // Each rejected row, as it is found.
  std::function<void(int64_t line, const std::string& reason)> on_reject{};
  // Called every few thousand lines and at the end: bytes read and total (0 if unknown).
  std::function<void(int64_t bytes_read, int64_t bytes_total, int64_t lines)> on_progress{};
};

struct ConnectSummary {
  int64_t lines = 0;                                  // lines read, header included
  int64_t events = 0;                                 // events the parser made
  int64_t filtered = 0;                               // events outside --since/--until
  int64_t sent = 0;                                   // events delivered
  int64_t failed = 0;                                 // events whose delivery failed
  int64_t rejected = 0;                               // rows reported as bad
  std::map<std::string, int64_t> rejected_by_reason;  // the reason's text up to ':'
};

// Runs to the end of the input. A read error or a publisher that fails outright is an
// error; bad rows and failed deliveries are counted in the summary.
absl::StatusOr<ConnectSummary> RunConnector(LineReader& reader, LineParser& parser,
                                            EventPublisher& publisher,
                                            const ConnectOptions& options,
                                            const ConnectHooks& hooks);

}  // namespace guanxi::connectors
