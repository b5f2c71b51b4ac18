#include "engine/config/config.h"

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace guanxi::engine {
namespace {

using ::testing::HasSubstr;

TEST(EngineConfigTest, DocumentedDefaultFileEqualsBuiltInDefaults) {
  auto config = LoadEngineConfig(std::string(GUANXI_SOURCE_DIR) + "/deploy/guanxi.conf.textproto");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*config, DefaultEngineConfig()))
      << config->DebugString();
}

TEST(EngineConfigTest, EmptyTextMeansDefaultsAndFieldsOverrideThem) {
  auto config = ParseEngineConfig("", "t");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->kafka().events_topic(), "guanxi.events");
  config = ParseEngineConfig(
      "kafka { brokers: \"k1:9092\" properties { name: \"security.protocol\" value: \"SSL\" } }",
      "t");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->kafka().brokers(), "k1:9092");
  EXPECT_EQ(config->kafka().group_id(), "guanxi-engine");
  ASSERT_EQ(config->kafka().properties_size(), 1);
}

TEST(EngineConfigTest, UnknownFieldIsNamedWithItsPosition) {
  auto config = ParseEngineConfig("kafka {\n  bogus_field: 1\n}\n", "my.conf");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("my.conf:2:"));
  EXPECT_THAT(config.status().message(), HasSubstr("bogus_field"));
}

TEST(EngineConfigTest, BadValuesNameTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {"kafka { max_event_bytes: 0 }", "kafka.max_event_bytes"},
      {"kafka { events_topic: \"bad topic\" }", "kafka.events_topic"},
      {"kafka { group_id: \"\" }", "kafka.group_id"},
      {"kafka { dead_letters_topic: \"guanxi.events\" }", "kafka.dead_letters_topic"},
      {"kafka { properties { value: \"x\" } }", "kafka.properties[0].name"},
      {"storage { block_cache_bytes: 10 }", "storage.block_cache_bytes"},
      {"storage { write_buffer_bytes: -1 }", "storage.write_buffer_bytes"},
      {"kafka { max_event_bytes: \"big\" }", "max_event_bytes"},
  };
  for (const auto& [text, field] : cases) {
    auto config = ParseEngineConfig(text, "c");
    ASSERT_FALSE(config.ok()) << text;
    EXPECT_THAT(config.status().message(), HasSubstr(field)) << text;
  }
}

TEST(EngineConfigTest, MissingFileIsNotFound) {
  auto config = LoadEngineConfig("/nonexistent/guanxi.conf");
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace guanxi::engine
