#include "engine/config/config.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace guanxi::engine {
namespace {

class CollectErrors final : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (first_.empty()) {
      first_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
      line_ = line;
    }
  }
  void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
  const std::string& first() const { return first_; }
  int line() const { return line_; }

 private:
  std::string first_;
  int line_ = -1;
};

absl::Status FieldError(std::string_view field, std::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(std::string(field), ": ", std::string(problem)));
}

}  // namespace

guanxi::v1::EngineConfig DefaultEngineConfig() {
  guanxi::v1::EngineConfig config;
  auto* kafka = config.mutable_kafka();
  kafka->set_brokers("embedded");
  kafka->set_group_id("guanxi-engine");
  kafka->set_events_topic("guanxi.events");
  kafka->set_warnings_topic("guanxi.churn-warnings");
  kafka->set_changes_topic("guanxi.relationship-changes");
  kafka->set_dead_letters_topic("guanxi.dead-letters");
  kafka->set_max_event_bytes(1 << 20);
  auto* storage = config.mutable_storage();
  storage->set_sync(false);
  storage->set_block_cache_bytes(int64_t{256} << 20);
  storage->set_write_buffer_bytes(int64_t{256} << 20);
  return config;
}

absl::StatusOr<guanxi::v1::EngineConfig> ParseEngineConfig(std::string_view text,
                                                           std::string_view origin) {
  guanxi::v1::EngineConfig config = DefaultEngineConfig();
  google::protobuf::TextFormat::Parser parser;
  CollectErrors errors;
  parser.RecordErrorsTo(&errors);
  // Fields named in the file replace the defaults; repeated fields (kafka.properties)
  // start empty by default, so merging appends nothing unexpected.
  if (!parser.MergeFromString(std::string(text), &config)) {
    // Quote the offending line: protobuf's message gives the position, the line shows
    // which field it is.
    std::string quoted;
    std::istringstream lines{std::string(text)};
    std::string line;
    for (int i = 0; std::getline(lines, line); ++i) {
      if (i == errors.line()) quoted = absl::StrCat(" (in: ", line, ")");
    }
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(origin), ":", errors.first(), quoted));
  }
  if (absl::Status s = ValidateEngineConfig(config); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(origin), ": ", s.message()));
  }
  return config;
}

absl::StatusOr<guanxi::v1::EngineConfig> LoadEngineConfig(const std::string& path) {
  if (path.empty()) return DefaultEngineConfig();
  std::ifstream file(path);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read configuration ", path));
  std::stringstream text;
  text << file.rdbuf();
  return ParseEngineConfig(text.str(), path);
}

absl::Status ValidateEngineConfig(const guanxi::v1::EngineConfig& config) {
  const auto& kafka = config.kafka();
  if (kafka.brokers().empty()) return FieldError("kafka.brokers", "must not be empty");
  if (kafka.group_id().empty()) return FieldError("kafka.group_id", "must not be empty");
  const std::pair<const char*, const std::string*> topics[] = {
      {"kafka.events_topic", &kafka.events_topic()},
      {"kafka.warnings_topic", &kafka.warnings_topic()},
      {"kafka.changes_topic", &kafka.changes_topic()},
      {"kafka.dead_letters_topic", &kafka.dead_letters_topic()}};
  for (const auto& [field, topic] : topics) {
    if (topic->empty()) return FieldError(field, "must not be empty");
    for (char c : *topic) {
      const bool legal = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
      if (!legal)
        return FieldError(field, absl::StrCat("'", *topic, "' is not a legal Kafka topic name"));
    }
  }
  if (kafka.dead_letters_topic() == kafka.events_topic()) {
    return FieldError("kafka.dead_letters_topic", "must differ from kafka.events_topic");
  }
  if (kafka.max_event_bytes() <= 0) return FieldError("kafka.max_event_bytes", "must be > 0");
  for (int i = 0; i < kafka.properties_size(); ++i) {
    if (kafka.properties(i).name().empty()) {
      return FieldError(absl::StrCat("kafka.properties[", i, "].name"), "must not be empty");
    }
  }
  const auto& storage = config.storage();
  if (storage.block_cache_bytes() < (int64_t{1} << 20)) {
    return FieldError("storage.block_cache_bytes", "must be at least 1 MiB");
  }
  if (storage.write_buffer_bytes() < (int64_t{4} << 20)) {
    return FieldError("storage.write_buffer_bytes", "must be at least 4 MiB");
  }
  return absl::OkStatus();
}

}  // namespace guanxi::engine
