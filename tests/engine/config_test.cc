#include "engine/config/config.h"

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
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
      // No longer used (a customer is at risk while a churn warning is open): refused.
      {"lifecycle { at_risk_inactive_days: 90 }", "lifecycle.at_risk_inactive_days"},
      {"lifecycle { lost_inactive_days: 0 }", "lifecycle.lost_inactive_days"},
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

// A field given twice is a mistake (which of the two did the author mean?), never
// "the last one wins", even when the first value is the field's default.
TEST(EngineConfigTest, AFieldGivenTwiceIsAnErrorNamingItWithItsPosition) {
  const std::pair<const char*, const char*> cases[] = {
      {"scoring {\n  prior: 50\n  prior: 60\n}\n", "3:"},
      {"scoring {\n  prior: 0\n  prior: 60\n}\n", "3:"},  // 0: proto3's "unset"
      {"kafka { brokers: \"a:1\" }\nkafka { group_id: \"g\" }\n", "2:"},
      {"scoring { prior: 50 }\nscoring { prior: 60 }\n", "2:"},
      {"workers { commit_records: 10 commit_records: 10 }\n", "1:"},
      {"kafka { brokers: \"\" brokers: \"a:1\" }\n", "1:"},
  };
  for (const auto& [text, position] : cases) {
    auto config = ParseEngineConfig(text, "my.conf");
    ASSERT_FALSE(config.ok()) << text;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(config.status().message(), HasSubstr(absl::StrCat("my.conf:", position)))
        << text;
    EXPECT_THAT(config.status().message(), HasSubstr("specified multiple times")) << text;
  }
  auto prior = ParseEngineConfig("scoring {\n  prior: 50\n  prior: 60\n}\n", "my.conf");
  EXPECT_THAT(prior.status().message(), HasSubstr("\"prior\""));
  EXPECT_THAT(prior.status().message(), HasSubstr("(in:   prior: 60)"));
  // Repeated fields take any number of values, as before.
  auto repeated = ParseEngineConfig(
      "kafka { properties { name: \"a\" value: \"1\" } "
      "properties { name: \"b\" value: \"2\" } }",
      "t");
  ASSERT_TRUE(repeated.ok()) << repeated.status();
  EXPECT_EQ(repeated->kafka().properties_size(), 2);
}

// Every double or float of the configuration (found by walking the schema, so a field
// added later is covered too) refuses inf, -inf and nan, naming its path; the text format
// reads all three.
TEST(EngineConfigTest, EveryFloatingPointFieldMustBeFinite) {
  using google::protobuf::FieldDescriptor;
  using google::protobuf::Message;
  struct Target {
    std::string path;
    std::function<void(v1::EngineConfig&, double)> set;
  };
  std::vector<Target> targets;
  // Every floating-point field of the defaults' messages, the elements of the repeated
  // ones (the scoring tables) included.
  std::function<void(const Message&, const std::string&,
                     std::function<Message*(v1::EngineConfig&)>)>
      walk = [&](const Message& message, const std::string& path,
                 std::function<Message*(v1::EngineConfig&)> locate) {
        const auto* descriptor = message.GetDescriptor();
        const auto* reflection = message.GetReflection();
        for (int f = 0; f < descriptor->field_count(); ++f) {
          const FieldDescriptor* field = descriptor->field(f);
          const std::string name =
              path.empty() ? field->name() : absl::StrCat(path, ".", field->name());
          if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
            if (!field->is_repeated()) {
              walk(reflection->GetMessage(message, field), name, [=](v1::EngineConfig& c) {
                Message* parent = locate(c);
                return parent->GetReflection()->MutableMessage(parent, field);
              });
              continue;
            }
            for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
              walk(reflection->GetRepeatedMessage(message, field, i),
                   absl::StrCat(name, "[", i, "]"), [=](v1::EngineConfig& c) {
                     Message* parent = locate(c);
                     return parent->GetReflection()->MutableRepeatedMessage(parent, field, i);
                   });
            }
            continue;
          }
          if (field->is_repeated()) continue;
          if (field->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
            targets.push_back({name, [=](v1::EngineConfig& c, double v) {
                                 Message* m = locate(c);
                                 m->GetReflection()->SetDouble(m, field, v);
                               }});
          } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT) {
            targets.push_back({name, [=](v1::EngineConfig& c, double v) {
                                 Message* m = locate(c);
                                 m->GetReflection()->SetFloat(m, field, static_cast<float>(v));
                               }});
          }
        }
      };
  const v1::EngineConfig defaults = DefaultEngineConfig();
  walk(defaults, "", [](v1::EngineConfig& c) -> Message* { return &c; });
  ASSERT_GT(targets.size(), 80u);  // scoring, lifecycle, classification, churn
  bool saw_prior_weight = false;
  for (const Target& target : targets) {
    saw_prior_weight |= target.path == "scoring.prior_weight";
    for (const double bad : {std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(),
                             std::numeric_limits<double>::quiet_NaN()}) {
      v1::EngineConfig config = defaults;
      target.set(config, bad);
      const absl::Status validated = ValidateEngineConfig(config);
      EXPECT_EQ(validated.code(), absl::StatusCode::kInvalidArgument) << target.path << " " << bad;
      EXPECT_THAT(validated.message(), HasSubstr(absl::StrCat(target.path, ": must be a finite")))
          << target.path << " " << bad;
      // And as a file says it.
      std::string text;
      ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(config, &text));
      auto parsed = ParseEngineConfig(text, "c");
      ASSERT_FALSE(parsed.ok()) << target.path << " " << bad;
      EXPECT_THAT(parsed.status().message(), HasSubstr(target.path)) << target.path;
    }
  }
  EXPECT_TRUE(saw_prior_weight);
  auto inf = ParseEngineConfig("scoring { prior_weight: inf }", "my.conf");
  ASSERT_FALSE(inf.ok());
  EXPECT_EQ(inf.status().message(),
            "my.conf: scoring.prior_weight: must be a finite number (is inf)");
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
