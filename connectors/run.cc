#include "connectors/run.h"

#include <algorithm>
#include <ostream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"  // Timestamp's operator<

namespace guanxi::connectors {
namespace {

class Pipeline final : public EventSink {
 public:
  Pipeline(EventPublisher& publisher, const ConnectOptions& options, const ConnectHooks& hooks,
           ConnectSummary& summary)
      : publisher_(publisher), options_(options), hooks_(hooks), summary_(summary) {}

  void Accept(guanxi::v1::Event event) override {
    ++summary_.events;
    if (!InWindow(event)) {
      ++summary_.filtered;
      return;
    }
    if (!status_.ok()) return;
    status_ = publisher_.Publish(event);
    if (status_.ok()) ++published_;
  }

  void Reject(int64_t line, std::string reason) override {
    ++summary_.rejected;
    const size_t colon = reason.find(':');
    ++summary_.rejected_by_reason[reason.substr(0, colon)];
    if (hooks_.on_reject) hooks_.on_reject(line, reason);
  }

  // Only what would be published can be refused.
  std::optional<std::string> Refusal(const guanxi::v1::Event& event) const override {
    return InWindow(event) ? publisher_.Refusal(event) : std::nullopt;
  }

  const absl::Status& status() const { return status_; }
  int64_t published() const { return published_; }

 private:
  bool InWindow(const guanxi::v1::Event& event) const {
    const google::protobuf::Timestamp& at = event.occurred_at();
    return !(options_.since && at <= *options_.since) && !(options_.until && *options_.until < at);
  }

  EventPublisher& publisher_;
  const ConnectOptions& options_;
  const ConnectHooks& hooks_;
  ConnectSummary& summary_;
  absl::Status status_;
  int64_t published_ = 0;
};

}  // namespace

absl::Status JsonlPublisher::Publish(const guanxi::v1::Event& event) {
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(event, &json);
  if (!status.ok()) return absl::InternalError(std::string(status.message()));
  out_ << json << '\n';
  return out_ ? absl::OkStatus() : absl::DataLossError("cannot write the output");
}

absl::StatusOr<int64_t> JsonlPublisher::Flush() {
  out_.flush();
  if (!out_) return absl::DataLossError("cannot write the output");
  return 0;
}

std::optional<std::string> KafkaSizeRefusal(size_t key_bytes, size_t value_bytes,
                                            const KafkaSizeLimits& limits) {
  if (key_bytes > limits.max_message_bytes ||
      value_bytes > limits.max_message_bytes - key_bytes) {
    return absl::StrCat("oversized: the event is ", value_bytes, " bytes, over the ",
                        limits.max_message_bytes - std::min(key_bytes, limits.max_message_bytes),
                        " bytes a Kafka message may carry with its ", key_bytes,
                        "-byte key (message.max.bytes less framing)");
  }
  if (value_bytes > limits.max_event_bytes) {
    return absl::StrCat("oversized: the event is ", value_bytes,
                        " bytes, over kafka.max_event_bytes ", limits.max_event_bytes,
                        " (the engine would dead-letter it)");
  }
  return std::nullopt;
}

absl::StatusOr<ConnectSummary> RunConnector(LineReader& reader, LineParser& parser,
                                            EventPublisher& publisher,
                                            const ConnectOptions& options,
                                            const ConnectHooks& hooks) {
  ConnectSummary summary;
  Pipeline pipeline(publisher, options, hooks, summary);
  std::string line;
  while (reader.Next(line)) {
    ++summary.lines;
    if (reader.overlong_bytes() > 0) {
      pipeline.Reject(summary.lines,
                      absl::StrCat("too long: the line is ", reader.overlong_bytes(),
                                   " bytes, over the ", reader.max_line_bytes(),
                                   " a line may have (no event is that large)"));
    } else {
      parser.Line(summary.lines, line, pipeline);
    }
    if (!pipeline.status().ok()) return pipeline.status();
    if (hooks.on_progress && summary.lines % 4096 == 0) {
      hooks.on_progress(reader.bytes_read(), reader.size_bytes(), summary.lines);
    }
  }
  if (!reader.status().ok()) return reader.status();
  parser.Finish(pipeline);
  if (!pipeline.status().ok()) return pipeline.status();
  auto failed = publisher.Flush();
  if (!failed.ok()) return failed.status();
  summary.failed = *failed;
  summary.sent = pipeline.published() - *failed;
  if (hooks.on_progress) hooks.on_progress(reader.bytes_read(), reader.size_bytes(), summary.lines);
  return summary;
}

}  // namespace guanxi::connectors
