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
      {"kafka { instances_topic: \"guanxi.churn-warnings\" }", "kafka.instances_topic"},
      {"kafka { instances_topic: \"\" }", "kafka.instances_topic"},
      {"kafka { properties { value: \"x\" } }", "kafka.properties[0].name"},
      {"storage { block_cache_bytes: 10 }", "storage.block_cache_bytes"},
      {"storage { write_buffer_bytes: -1 }", "storage.write_buffer_bytes"},
      {"storage { snapshots_kept: 1 }", "storage.snapshots_kept"},
      {"classification { max_fit_sample: 10 }", "classification.max_fit_sample"},
      {"storage { snapshot_interval_seconds: -1 }", "storage.snapshot_interval_seconds"},
      {"workers { state_cache_bytes: 1000 }", "workers.state_cache_bytes"},
      {"workers { commit_records: 0 }", "workers.commit_records"},
      {"workers { commit_interval_ms: 0 }", "workers.commit_interval_ms"},
      {"kafka { max_event_bytes: \"big\" }", "max_event_bytes"},
      {"scoring { prior: 101 }", "scoring.prior"},
      {"scoring { prior_weight: 0 }", "scoring.prior_weight"},
      {"scoring { assessment_weight: -1 }", "scoring.assessment_weight"},
      {"scoring { score_change_step: -0.5 }", "scoring.score_change_step"},
      {"scoring { payment_grace_days: -1 }", "scoring.payment_grace_days"},
      {"scoring { dimensions { dimension: DIMENSION_ACCEPTANCE half_life_days: 10 } }",
       "scoring.dimensions"},  // the other seven are missing
      {"scoring { rules { dimension: DIMENSION_ACCEPTANCE value: 50 weight: 1 } }",
       "scoring.rules[0].signal"},
      {"scoring { rules { signal: SIGNAL_ORDER dimension: DIMENSION_BEHAVIOUR value: 120 "
       "weight: 1 } }",
       "scoring.rules[0].value"},
      {"scoring { rules { signal: SIGNAL_ORDER dimension: DIMENSION_BEHAVIOUR value: 80 } }",
       "scoring.rules[0].weight"},
      {"scoring { rules { signal: SIGNAL_NO_SUCH dimension: DIMENSION_BEHAVIOUR } }",
       "SIGNAL_NO_SUCH"},
      {"lifecycle { at_risk_score: 60 recovered_score: 50 }", "lifecycle.recovered_score"},
      {"lifecycle { maintaining_score: -1 }", "lifecycle.maintaining_score"},
      {"lifecycle { maintaining_min_orders: 0 }", "lifecycle.maintaining_min_orders"},
      {"lifecycle { at_risk_inactive_days: 0 }", "lifecycle.at_risk_inactive_days"},
      {"lifecycle { lost_inactive_days: 90 }", "lifecycle.lost_inactive_days"},
      {"classification { model_refit_days: 0 }", "classification.model_refit_days"},
      {"classification { min_population: -1 }", "classification.min_population"},
      {"classification { abc_a_share: 0 }", "classification.abc_a_share"},
      {"classification { abc_a_share: 1.5 }", "classification.abc_a_share"},
      {"classification { abc_a_share: 0.9 abc_b_share: 0.2 }", "classification.abc_b_share"},
      {"classification { rfm_segments { name: \"all\" r_min: 1 r_max: 5 f_min: 1 f_max: 5 "
       "m_min: 1 m_max: 4 } }",
       "classification.rfm_segments: no row matches R-F-M cell 1-1-5"},
      {"classification { rfm_segments { r_min: 1 r_max: 5 f_min: 1 f_max: 5 m_min: 1 "
       "m_max: 5 } }",
       "classification.rfm_segments[0].name"},
      {"classification { rfm_segments { name: \"x\" r_min: 0 r_max: 5 f_min: 1 f_max: 5 "
       "m_min: 1 m_max: 5 } }",
       "classification.rfm_segments[0].r_min/r_max"},
      {"classification { quadrant_high_frequency_score: 6 }",
       "classification.quadrant_high_frequency_score"},
      {"classification { value_medium_rfm_sum: 13 }", "classification.value_medium_rfm_sum"},
      {"classification { potential_medium_growth: 0.5 }", "classification.potential_medium_growth"},
      {"classification { loyalty_low_satisfaction: 70 }",
       "classification.loyalty_low_satisfaction"},
      {"classification { loyalty_low_complaint_rate: 0.01 }",
       "classification.loyalty_low_complaint_rate"},
      {"classification { loyalty_high_renewal_rate: 1.2 }",
       "classification.loyalty_high_renewal_rate"},
      {"classification { intent_inquiry_days: 0 }", "classification.intent_inquiry_days"},
      {"classification { organizational_min_contact_levels: 4 }",
       "classification.organizational_min_contact_levels"},
  };
  for (const auto& [text, field] : cases) {
    auto config = ParseEngineConfig(text, "c");
    ASSERT_FALSE(config.ok()) << text;
    EXPECT_THAT(config.status().message(), HasSubstr(field)) << text;
  }
}

TEST(EngineConfigTest, ScoringTablesInAFileReplaceTheDefaultTables) {
  const auto defaults = DefaultEngineConfig();
  auto config = ParseEngineConfig(
      "scoring { prior: 40 rules { signal: SIGNAL_ORDER dimension: DIMENSION_BEHAVIOUR "
      "value: 90 weight: 2 } }",
      "t");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->scoring().prior(), 40);
  ASSERT_EQ(config->scoring().rules_size(), 1);
  EXPECT_EQ(config->scoring().rules(0).value(), 90);
  // Untouched: the dimension table and the other fields keep their defaults.
  EXPECT_EQ(config->scoring().dimensions_size(), defaults.scoring().dimensions_size());
  EXPECT_EQ(config->scoring().assessment_weight(), defaults.scoring().assessment_weight());
  EXPECT_EQ(config->lifecycle().lost_inactive_days(), 180);
}

TEST(EngineConfigTest, RfmSegmentTableInAFileReplacesTheDefaultTable) {
  auto config = ParseEngineConfig(
      "classification { abc_a_share: 0.7 rfm_segments { name: \"everyone\" r_min: 1 r_max: 5 "
      "f_min: 1 f_max: 5 m_min: 1 m_max: 5 } }",
      "t");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->classification().rfm_segments_size(), 1);
  EXPECT_EQ(config->classification().rfm_segments(0).name(), "everyone");
  EXPECT_EQ(config->classification().abc_a_share(), 0.7);
  EXPECT_EQ(config->classification().abc_b_share(), 0.15);
  EXPECT_EQ(config->classification().model_refit_days(), 30);
}

TEST(EngineConfigTest, DefaultClassificationValues) {
  const auto c = DefaultEngineConfig().classification();
  EXPECT_EQ(c.abc_a_share(), 0.80);
  EXPECT_EQ(c.abc_b_share(), 0.15);
  EXPECT_EQ(c.model_refit_days(), 30);
  EXPECT_EQ(c.rfm_segments_size(), 10);
  EXPECT_TRUE(ValidateEngineConfig(DefaultEngineConfig()).ok());
}

TEST(EngineConfigTest, MissingFileIsNotFound) {
  auto config = LoadEngineConfig("/nonexistent/guanxi.conf");
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace guanxi::engine
