#include "engine/config/config.h"

#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
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

// The configuration's schema with presence on every field: the same files as proto2.
// Protobuf's text parser refuses a singular field given twice only when it can tell that
// the field was set already, and a proto3 field without presence that holds its default
// cannot tell ("prior: 0 prior: 60" would pass, the last value winning). A file parsed
// first against this schema gets protobuf's own error for any field given twice, with
// its line and column. Built once; thread-safe.
class PresenceSchema {
 public:
  static const PresenceSchema& Get() {
    static const PresenceSchema* const schema = new PresenceSchema();
    return *schema;
  }
  // An empty EngineConfig of this schema, or nullptr if it could not be built (a bug).
  std::unique_ptr<google::protobuf::Message> NewConfig() const {
    if (prototype_ == nullptr) return nullptr;
    return std::unique_ptr<google::protobuf::Message>(prototype_->New());
  }

 private:
  PresenceSchema() {
    const google::protobuf::Descriptor* config = guanxi::v1::EngineConfig::descriptor();
    if (!Add(config->file())) return;
    if (const auto* type = pool_.FindMessageTypeByName(config->full_name())) {
      prototype_ = factory_.GetPrototype(type);
    }
  }
  bool Add(const google::protobuf::FileDescriptor* file) {
    if (pool_.FindFileByName(file->name()) != nullptr) return true;
    for (int i = 0; i < file->dependency_count(); ++i) {
      if (!Add(file->dependency(i))) return false;
    }
    google::protobuf::FileDescriptorProto proto;
    file->CopyTo(&proto);
    proto.clear_syntax();  // proto2
    for (auto& message : *proto.mutable_message_type()) DropProto3Optional(message);
    return pool_.BuildFile(proto) != nullptr;
  }
  // proto3's "optional" is presence already; proto2 refuses the flag.
  static void DropProto3Optional(google::protobuf::DescriptorProto& message) {
    for (auto& field : *message.mutable_field()) field.clear_proto3_optional();
    for (auto& nested : *message.mutable_nested_type()) DropProto3Optional(nested);
  }

  google::protobuf::DescriptorPool pool_;
  google::protobuf::DynamicMessageFactory factory_{&pool_};
  const google::protobuf::Message* prototype_ = nullptr;
};

// Every floating-point field of `message` and of the messages in it is a finite number
// (`path` names `message` in errors). An infinity or a NaN passes range checks such as
// "> 0" or fails them only by accident, and turns every figure computed with it into
// NaN; the text format reads both ("inf", "nan"). Walked by reflection, so a field added
// to the configuration is covered without a line here.
absl::Status CheckFinite(const google::protobuf::Message& message, const std::string& path) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    const std::string name = path.empty() ? field->name() : absl::StrCat(path, ".", field->name());
    const bool repeated = field->is_repeated();
    const int count = repeated ? reflection->FieldSize(message, field) : 1;
    for (int i = 0; i < count; ++i) {
      const std::string at = repeated ? absl::StrCat(name, "[", i, "]") : name;
      double value = 0;
      switch (field->cpp_type()) {
        case FieldDescriptor::CPPTYPE_DOUBLE:
          value = repeated ? reflection->GetRepeatedDouble(message, field, i)
                           : reflection->GetDouble(message, field);
          break;
        case FieldDescriptor::CPPTYPE_FLOAT:
          value = repeated ? reflection->GetRepeatedFloat(message, field, i)
                           : reflection->GetFloat(message, field);
          break;
        case FieldDescriptor::CPPTYPE_MESSAGE:
          RETURN_IF_ERROR(CheckFinite(repeated ? reflection->GetRepeatedMessage(message, field, i)
                                               : reflection->GetMessage(message, field),
                                      at));
          continue;
        default:
          continue;
      }
      if (!std::isfinite(value)) {
        return FieldError(at, absl::StrCat("must be a finite number (is ", value, ")"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateScoring(const guanxi::v1::ScoringConfig& scoring) {
  if (!(scoring.prior() >= 0 && scoring.prior() <= 100)) {
    return FieldError("scoring.prior", "must be in 0..100");
  }
  if (!(scoring.prior_weight() > 0)) return FieldError("scoring.prior_weight", "must be > 0");
  if (!(scoring.assessment_weight() > 0)) {
    return FieldError("scoring.assessment_weight", "must be > 0");
  }
  if (!(scoring.score_change_step() >= 0)) {
    return FieldError("scoring.score_change_step", "must be >= 0");
  }
  if (scoring.payment_grace_days() < 0) {
    return FieldError("scoring.payment_grace_days", "must be >= 0");
  }
  constexpr int kDimensions = 8;  // guanxi.v1.Dimension 1..8
  bool seen[kDimensions + 1] = {};
  double total_weight = 0;
  for (int i = 0; i < scoring.dimensions_size(); ++i) {
    const auto& d = scoring.dimensions(i);
    const std::string field = absl::StrCat("scoring.dimensions[", i, "]");
    if (d.dimension() < 1 || d.dimension() > kDimensions) {
      return FieldError(absl::StrCat(field, ".dimension"), "must be set");
    }
    if (seen[d.dimension()]) {
      return FieldError(absl::StrCat(field, ".dimension"),
                        absl::StrCat(guanxi::v1::Dimension_Name(d.dimension()), " listed twice"));
    }
    seen[d.dimension()] = true;
    if (!(d.half_life_days() > 0)) {
      return FieldError(absl::StrCat(field, ".half_life_days"), "must be > 0");
    }
    if (!(d.overall_weight() >= 0)) {
      return FieldError(absl::StrCat(field, ".overall_weight"), "must be >= 0");
    }
    total_weight += d.overall_weight();
  }
  for (int d = 1; d <= kDimensions; ++d) {
    if (!seen[d]) {
      return FieldError("scoring.dimensions",
                        absl::StrCat(guanxi::v1::Dimension_Name(d), " is missing"));
    }
  }
  if (!(total_weight > 0)) {
    return FieldError("scoring.dimensions", "the overall weights must not all be 0");
  }
  for (int i = 0; i < scoring.rules_size(); ++i) {
    const auto& rule = scoring.rules(i);
    const std::string field = absl::StrCat("scoring.rules[", i, "]");
    if (rule.signal() == guanxi::v1::SIGNAL_UNSPECIFIED) {
      return FieldError(absl::StrCat(field, ".signal"), "must be set");
    }
    if (rule.dimension() < 1 || rule.dimension() > kDimensions) {
      return FieldError(absl::StrCat(field, ".dimension"), "must be set");
    }
    if (!(rule.value() >= 0 && rule.value() <= 100)) {
      return FieldError(absl::StrCat(field, ".value"), "must be in 0..100");
    }
    if (!(rule.weight() > 0)) return FieldError(absl::StrCat(field, ".weight"), "must be > 0");
  }
  return absl::OkStatus();
}

absl::Status ValidateLifecycle(const guanxi::v1::LifecycleConfig& lifecycle) {
  const std::pair<const char*, double> scores[] = {
      {"lifecycle.maintaining_score", lifecycle.maintaining_score()},
      {"lifecycle.at_risk_score", lifecycle.at_risk_score()},
      {"lifecycle.recovered_score", lifecycle.recovered_score()}};
  for (const auto& [field, score] : scores) {
    if (!(score >= 0 && score <= 100)) return FieldError(field, "must be in 0..100");
  }
  if (lifecycle.recovered_score() < lifecycle.at_risk_score()) {
    return FieldError("lifecycle.recovered_score", "must be >= lifecycle.at_risk_score");
  }
  if (lifecycle.maintaining_min_orders() < 1) {
    return FieldError("lifecycle.maintaining_min_orders", "must be >= 1");
  }
  if (lifecycle.at_risk_inactive_days() != 0) {
    return FieldError("lifecycle.at_risk_inactive_days",
                      "is no longer used: a customer is at risk while a churn warning at level "
                      "warning or above is open, and a quiet one gets the warning reason "
                      "silence (docs/scoring.md section 2); remove the field");
  }
  if (lifecycle.lost_inactive_days() < 1) {
    return FieldError("lifecycle.lost_inactive_days", "must be >= 1");
  }
  return absl::OkStatus();
}

absl::Status ValidateClassification(const guanxi::v1::ClassificationConfig& c) {
  const std::pair<const char*, int32_t> positive[] = {
      {"classification.model_refit_days", c.model_refit_days()},
      {"classification.min_population", c.min_population()},
      {"classification.bgnbd_min_repeat_buyers", c.bgnbd_min_repeat_buyers()},
      {"classification.intent_converted_days", c.intent_converted_days()},
      {"classification.intent_inquiry_days", c.intent_inquiry_days()},
      {"classification.intent_target_days", c.intent_target_days()},
      {"classification.intent_nurturing_days", c.intent_nurturing_days()},
      {"classification.organizational_min_active_contracts",
       c.organizational_min_active_contracts()}};
  if (c.max_fit_sample() < c.min_population()) {
    return FieldError("classification.max_fit_sample", "must be >= classification.min_population");
  }
  for (const auto& [field, value] : positive) {
    if (value < 1) return FieldError(field, "must be >= 1");
  }
  if (!(c.abc_a_share() > 0 && c.abc_a_share() <= 1)) {
    return FieldError("classification.abc_a_share", "must be in (0, 1]");
  }
  if (!(c.abc_b_share() >= 0 && c.abc_a_share() + c.abc_b_share() <= 1 + 1e-9)) {
    return FieldError("classification.abc_b_share",
                      "must be >= 0 with classification.abc_a_share + abc_b_share <= 1");
  }
  // The segment table: each row well formed, and every one of the 125 cells matched.
  bool covered[6][6][6] = {};
  for (int i = 0; i < c.rfm_segments_size(); ++i) {
    const auto& row = c.rfm_segments(i);
    const std::string field = absl::StrCat("classification.rfm_segments[", i, "]");
    if (row.name().empty()) return FieldError(absl::StrCat(field, ".name"), "must not be empty");
    const std::tuple<const char*, int32_t, int32_t> ranges[] = {{"r", row.r_min(), row.r_max()},
                                                                {"f", row.f_min(), row.f_max()},
                                                                {"m", row.m_min(), row.m_max()}};
    for (const auto& [name, lo, hi] : ranges) {
      if (lo < 1 || hi > 5 || lo > hi) {
        return FieldError(absl::StrCat(field, ".", name, "_min/", name, "_max"),
                          "must satisfy 1 <= min <= max <= 5");
      }
    }
    for (int r = row.r_min(); r <= row.r_max(); ++r) {
      for (int f = row.f_min(); f <= row.f_max(); ++f) {
        for (int m = row.m_min(); m <= row.m_max(); ++m) covered[r][f][m] = true;
      }
    }
  }
  for (int r = 1; r <= 5; ++r) {
    for (int f = 1; f <= 5; ++f) {
      for (int m = 1; m <= 5; ++m) {
        if (!covered[r][f][m]) {
          return FieldError("classification.rfm_segments",
                            absl::StrCat("no row matches R-F-M cell ", r, "-", f, "-", m));
        }
      }
    }
  }
  const std::pair<const char*, int32_t> scores[] = {
      {"classification.quadrant_high_frequency_score", c.quadrant_high_frequency_score()},
      {"classification.quadrant_high_monetary_score", c.quadrant_high_monetary_score()}};
  for (const auto& [field, score] : scores) {
    if (score < 2 || score > 5) return FieldError(field, "must be in 2..5");
  }
  if (c.value_high_rfm_sum() < 3 || c.value_high_rfm_sum() > 15) {
    return FieldError("classification.value_high_rfm_sum", "must be in 3..15");
  }
  if (c.value_medium_rfm_sum() < 3 || c.value_medium_rfm_sum() > c.value_high_rfm_sum()) {
    return FieldError("classification.value_medium_rfm_sum",
                      "must be in 3..classification.value_high_rfm_sum");
  }
  if (!(c.potential_medium_growth() <= c.potential_high_growth())) {
    return FieldError("classification.potential_medium_growth",
                      "must be <= classification.potential_high_growth");
  }
  if (!(c.loyalty_high_satisfaction() >= 0 && c.loyalty_high_satisfaction() <= 100)) {
    return FieldError("classification.loyalty_high_satisfaction", "must be in 0..100");
  }
  if (!(c.loyalty_low_satisfaction() >= 0 &&
        c.loyalty_low_satisfaction() <= c.loyalty_high_satisfaction())) {
    return FieldError("classification.loyalty_low_satisfaction",
                      "must be in 0..classification.loyalty_high_satisfaction");
  }
  if (!(c.loyalty_high_complaint_rate() >= 0)) {
    return FieldError("classification.loyalty_high_complaint_rate", "must be >= 0");
  }
  if (!(c.loyalty_low_complaint_rate() >= c.loyalty_high_complaint_rate())) {
    return FieldError("classification.loyalty_low_complaint_rate",
                      "must be >= classification.loyalty_high_complaint_rate");
  }
  if (!(c.loyalty_high_renewal_rate() >= 0 && c.loyalty_high_renewal_rate() <= 1)) {
    return FieldError("classification.loyalty_high_renewal_rate", "must be in 0..1");
  }
  if (!(c.loyalty_low_renewal_rate() >= 0 &&
        c.loyalty_low_renewal_rate() <= c.loyalty_high_renewal_rate())) {
    return FieldError("classification.loyalty_low_renewal_rate",
                      "must be in 0..classification.loyalty_high_renewal_rate");
  }
  if (c.organizational_min_contact_levels() < 1 || c.organizational_min_contact_levels() > 3) {
    return FieldError("classification.organizational_min_contact_levels", "must be in 1..3");
  }
  return absl::OkStatus();
}

absl::Status ValidateChurn(const guanxi::v1::ChurnConfig& churn) {
  // Every figure is a finite number already (CheckFinite).
  struct Check {
    const char* field;
    double value;
    double min;
    bool min_exclusive;
    double max;
  };
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kMaxDays = 3660;  // ten years: longer windows are a typo
  const Check checks[] = {
      {"churn.inactivity_multiple", churn.inactivity_multiple(), 1, true, 1000},
      {"churn.rhythm_purchase_days", static_cast<double>(churn.rhythm_purchase_days()), 2, false,
       64},
      {"churn.min_rhythm_purchase_days", static_cast<double>(churn.min_rhythm_purchase_days()), 2,
       false, static_cast<double>(churn.rhythm_purchase_days())},
      {"churn.default_rhythm_days", churn.default_rhythm_days(), 0, true, kMaxDays},
      {"churn.min_rhythm_days", churn.min_rhythm_days(), 0, true, kMaxDays},
      {"churn.p_alive_threshold", churn.p_alive_threshold(), 0, false, 1},
      {"churn.risk_threshold", churn.risk_threshold(), 0, true, 1},
      {"churn.complaint_service_level_days", churn.complaint_service_level_days(), 0, true,
       kMaxDays},
      {"churn.complaint_max_age_days", churn.complaint_max_age_days(),
       churn.complaint_service_level_days(), true, kMaxDays},
      {"churn.complaint_run_count", static_cast<double>(churn.complaint_run_count()), 2, false, 64},
      {"churn.complaint_run_window_days", churn.complaint_run_window_days(), 0, true, kMaxDays},
      {"churn.satisfaction_drop", churn.satisfaction_drop(), 0, true, 100},
      {"churn.satisfaction_window_days", churn.satisfaction_window_days(), 0, true, kMaxDays},
      {"churn.score_drop", churn.score_drop(), 0, true, 100},
      {"churn.score_drop_window_days", static_cast<double>(churn.score_drop_window_days()), 1,
       false, 366},
      {"churn.late_payment_recent", static_cast<double>(churn.late_payment_recent()), 1, false, 32},
      {"churn.late_payment_baseline", static_cast<double>(churn.late_payment_baseline()), 0, false,
       32},
      {"churn.late_payment_min_days", churn.late_payment_min_days(), 0, false, kMaxDays},
      {"churn.late_payment_increase_days", churn.late_payment_increase_days(), 0, false, kMaxDays},
      {"churn.renewal_window_days", churn.renewal_window_days(), 0, true, kMaxDays},
      {"churn.renewal_low_score", churn.renewal_low_score(), 0, false, 100},
      {"churn.champion_left_days", churn.champion_left_days(), 0, true, kMaxDays},
      {"churn.contract_terminated_days", churn.contract_terminated_days(), 0, true, kMaxDays},
      {"churn.low_score", churn.low_score(), 0, false, 100},
      {"churn.competitor_lean", churn.competitor_lean(), 0, false, 1},
      {"churn.competitor_signal_count", static_cast<double>(churn.competitor_signal_count()), 1,
       false, 64},
      {"churn.competitor_window_days", churn.competitor_window_days(), 0, true, kMaxDays},
      {"churn.call_sentiment_threshold", churn.call_sentiment_threshold(), -1, false, 1},
      {"churn.call_min_count", static_cast<double>(churn.call_min_count()), 1, false, 64},
      {"churn.call_window_days", churn.call_window_days(), 0, true, kMaxDays},
      {"churn.weights.inactivity", churn.weights().inactivity(), 0, false, kInf},
      {"churn.weights.low_p_alive", churn.weights().low_p_alive(), 0, false, kInf},
      {"churn.weights.unresolved_complaint", churn.weights().unresolved_complaint(), 0, false,
       kInf},
      {"churn.weights.complaint_run", churn.weights().complaint_run(), 0, false, kInf},
      {"churn.weights.satisfaction_drop", churn.weights().satisfaction_drop(), 0, false, kInf},
      {"churn.weights.score_drop", churn.weights().score_drop(), 0, false, kInf},
      {"churn.weights.late_payments", churn.weights().late_payments(), 0, false, kInf},
      {"churn.weights.renewal_low_score", churn.weights().renewal_low_score(), 0, false, kInf},
      {"churn.weights.champion_left", churn.weights().champion_left(), 0, false, kInf},
      {"churn.weights.competitor_signal", churn.weights().competitor_signal(), 0, false, kInf},
      {"churn.weights.silence", churn.weights().silence(), 0, false, kInf},
      {"churn.weights.call_sentiment", churn.weights().call_sentiment(), 0, false, kInf},
      {"churn.weights.decline_evidence", churn.weights().decline_evidence(), 0, false, kInf},
      {"churn.weights.churn_risk", churn.weights().churn_risk(), 0, false, kInf},
      {"churn.weights.contract_terminated", churn.weights().contract_terminated(), 0, false,
       kInf},
      {"churn.weights.low_score", churn.weights().low_score(), 0, false, kInf},
      {"churn.evidence.call_sentiment_weight", churn.evidence().call_sentiment_weight(), 0, false,
       kInf},
      {"churn.evidence.call_sentiment_pivot", churn.evidence().call_sentiment_pivot(), -1, false,
       1},
      {"churn.evidence.complaint", churn.evidence().complaint(), 0, false, kInf},
      {"churn.evidence.competitor_signal", churn.evidence().competitor_signal(), 0, false, kInf},
      {"churn.evidence.late_payment", churn.evidence().late_payment(), 0, false, kInf},
      {"churn.evidence.negative_visit", churn.evidence().negative_visit(), 0, false, kInf},
      {"churn.evidence.decay_per_day", churn.evidence().decay_per_day(), 0, false, kInf},
      {"churn.evidence.threshold", churn.evidence().threshold(), 0, true, kInf},
      {"churn.evidence.complaint_rate_ratio", churn.evidence().complaint_rate_ratio(), 0, false,
       kInf},
      {"churn.evidence.call_rate_ratio", churn.evidence().call_rate_ratio(), 0, false, kInf},
      {"churn.evidence.competitor_rate_ratio", churn.evidence().competitor_rate_ratio(), 0, false,
       kInf},
      {"churn.evidence.purchase_rate_ratio", churn.evidence().purchase_rate_ratio(), 0, false,
       kInf},
      {"churn.evidence.min_exposure_days", churn.evidence().min_exposure_days(), 0, false, kInf},
      {"churn.evidence.competitor_lean_weight", churn.evidence().competitor_lean_weight(), 0, false,
       kInf},
      {"churn.evidence.competitor_lean_pivot", churn.evidence().competitor_lean_pivot(), -1, false,
       1},
      {"churn.evidence.critical_complaint", churn.evidence().critical_complaint(), 0, false, kInf},
      {"churn.evidence.unsatisfied_resolution", churn.evidence().unsatisfied_resolution(), 0, false,
       kInf},
      {"churn.evidence.survey_weight", churn.evidence().survey_weight(), 0, false, kInf},
      {"churn.evidence.survey_pivot", churn.evidence().survey_pivot(), 0, false, 1},
      {"churn.evidence.unresolved_call_shift", churn.evidence().unresolved_call_shift(), 0, false,
       0.99},
      {"churn.evidence.call_sentiment_baseline", churn.evidence().call_sentiment_baseline(), -1,
       false, 1},
      {"churn.evidence.call_sentiment_prior_calls", churn.evidence().call_sentiment_prior_calls(),
       0, false, kInf},
      {"churn.evidence.late_payment_weight", churn.evidence().late_payment_weight(), 0, false,
       kInf},
      {"churn.evidence.late_payment_pivot", churn.evidence().late_payment_pivot(), -kMaxDays,
       false, kMaxDays},
      {"churn.evidence.late_payment_floor", churn.evidence().late_payment_floor(), 0, false, kInf},
      {"churn.evidence.late_payment_cap", churn.evidence().late_payment_cap(), 0, false, kInf},
      {"churn.evidence.late_payment_prior_payments",
       churn.evidence().late_payment_prior_payments(), 0, false, kInf},
      {"churn.evidence.assessment_weight", churn.evidence().assessment_weight(), 0, false, kInf},
      {"churn.evidence.assessment_pivot", churn.evidence().assessment_pivot(), -1, false, 1},
      {"churn.evidence.assessment_baseline", churn.evidence().assessment_baseline(), 0, false, 1},
      {"churn.evidence.assessment_prior", churn.evidence().assessment_prior(), 0, false, kInf},
      {"churn.severe_factor", churn.severe_factor(), 1, false, 1000},
      {"churn.watch_points", churn.watch_points(), 0, true, kInf},
      {"churn.warning_points", churn.warning_points(), churn.watch_points(), false, kInf},
      {"churn.critical_points", churn.critical_points(), churn.warning_points(), false, kInf},
      {"churn.resolve_points", churn.resolve_points(), 0, false, churn.watch_points()},
      {"churn.resolve_after_days", churn.resolve_after_days(), 0, false, kMaxDays},
      {"churn.risk_horizon_days", static_cast<double>(churn.risk_horizon_days()), 1, false, 3650},
  };
  for (const Check& c : checks) {
    const bool above = c.min_exclusive ? c.value > c.min : c.value >= c.min;
    if (!above || !(c.value <= c.max)) {
      return FieldError(
          c.field, absl::StrCat("must be ", c.min_exclusive ? "> " : ">= ", c.min,
                                std::isinf(c.max) ? "" : absl::StrCat(" and <= ", c.max), " (is ",
                                c.value, ")"));
    }
  }
  if (!(churn.resolve_points() < churn.watch_points())) {
    return FieldError("churn.resolve_points", "must be < churn.watch_points");
  }
  return absl::OkStatus();
}

}  // namespace

uint64_t MinFreeBytes(const guanxi::v1::StorageConfig& storage) {
  if (storage.min_free_bytes() > 0) return static_cast<uint64_t>(storage.min_free_bytes());
  return static_cast<uint64_t>(storage.write_buffer_bytes()) + kCompactionReserveBytes;
}

guanxi::v1::EngineConfig DefaultEngineConfig() {
  guanxi::v1::EngineConfig config;
  auto* kafka = config.mutable_kafka();
  kafka->set_brokers("embedded");
  kafka->set_group_id("guanxi-engine");
  kafka->set_events_topic("guanxi.events");
  kafka->set_warnings_topic("guanxi.churn-warnings");
  kafka->set_changes_topic("guanxi.relationship-changes");
  kafka->set_dead_letters_topic("guanxi.dead-letters");
  kafka->set_instances_topic("guanxi.instances");
  kafka->set_max_event_bytes(1 << 20);
  kafka->set_max_future_seconds(30 * 86400);
  auto* storage = config.mutable_storage();
  storage->set_sync(false);
  storage->set_block_cache_bytes(int64_t{256} << 20);
  storage->set_write_buffer_bytes(int64_t{256} << 20);
  storage->set_snapshots_kept(2);
  storage->set_snapshot_interval_seconds(3600);

  // The scoring table and the dimensions (docs/scoring.md explains each row).
  namespace v1 = guanxi::v1;
  using v1::Dimension;
  using v1::Signal;
  struct Row {
    Signal signal;
    Dimension dimension;
    double value;  // not used by measured signals
    double weight;
  };
  constexpr Row kRules[] = {
      {v1::SIGNAL_VISIT_POSITIVE, v1::DIMENSION_ACCEPTANCE, 80, 1},
      {v1::SIGNAL_VISIT_POSITIVE, v1::DIMENSION_BEHAVIOUR, 70, 0.5},
      {v1::SIGNAL_VISIT_NEUTRAL, v1::DIMENSION_ACCEPTANCE, 55, 0.5},
      {v1::SIGNAL_VISIT_NEUTRAL, v1::DIMENSION_BEHAVIOUR, 60, 0.5},
      {v1::SIGNAL_VISIT_NEGATIVE, v1::DIMENSION_ACCEPTANCE, 20, 1},
      {v1::SIGNAL_VISIT_NEGATIVE, v1::DIMENSION_BEHAVIOUR, 50, 0.5},
      {v1::SIGNAL_CALL_INBOUND, v1::DIMENSION_INFORMATION, 60, 0.3},
      {v1::SIGNAL_CALL_INBOUND, v1::DIMENSION_BEHAVIOUR, 65, 0.3},
      {v1::SIGNAL_CALL_OUTBOUND, v1::DIMENSION_BEHAVIOUR, 55, 0.2},
      {v1::SIGNAL_CALL_USEFUL_INFORMATION, v1::DIMENSION_INFORMATION, 85, 1},
      {v1::SIGNAL_CALL_UNRESOLVED, v1::DIMENSION_FEELING, 30, 0.5},
      {v1::SIGNAL_CALL_SENTIMENT, v1::DIMENSION_FEELING, 0, 0.5},
      {v1::SIGNAL_ACTIVITY_ATTENDED, v1::DIMENSION_PARTICIPATION, 90, 1},
      {v1::SIGNAL_ACTIVITY_DECLINED, v1::DIMENSION_PARTICIPATION, 20, 1},
      {v1::SIGNAL_COMPLAINT_LOW, v1::DIMENSION_FEELING, 35, 0.5},
      {v1::SIGNAL_COMPLAINT_MEDIUM, v1::DIMENSION_FEELING, 25, 1},
      {v1::SIGNAL_COMPLAINT_HIGH, v1::DIMENSION_FEELING, 15, 1.5},
      {v1::SIGNAL_COMPLAINT_HIGH, v1::DIMENSION_ACCEPTANCE, 30, 0.5},
      {v1::SIGNAL_COMPLAINT_CRITICAL, v1::DIMENSION_FEELING, 5, 2},
      {v1::SIGNAL_COMPLAINT_CRITICAL, v1::DIMENSION_ACCEPTANCE, 30, 1},
      {v1::SIGNAL_COMPLAINT_RESOLVED_SATISFIED, v1::DIMENSION_FEELING, 75, 1},
      {v1::SIGNAL_COMPLAINT_RESOLVED_UNSATISFIED, v1::DIMENSION_FEELING, 20, 1},
      {v1::SIGNAL_SURVEY_SATISFACTION, v1::DIMENSION_FEELING, 0, 2},
      {v1::SIGNAL_SURVEY_SATISFACTION, v1::DIMENSION_ACCEPTANCE, 0, 1},
      {v1::SIGNAL_SURVEY_NPS, v1::DIMENSION_FEELING, 0, 1},
      {v1::SIGNAL_ORDER, v1::DIMENSION_BEHAVIOUR, 85, 1},
      {v1::SIGNAL_ORDER_CANCELLED, v1::DIMENSION_BEHAVIOUR, 25, 1},
      {v1::SIGNAL_PAYMENT_ON_TIME, v1::DIMENSION_BEHAVIOUR, 80, 0.5},
      {v1::SIGNAL_PAYMENT_LATE, v1::DIMENSION_BEHAVIOUR, 20, 1},
      {v1::SIGNAL_CONTRACT_SIGNED, v1::DIMENSION_PROJECT_SUPPORT, 85, 1.5},
      {v1::SIGNAL_CONTRACT_SIGNED, v1::DIMENSION_BEHAVIOUR, 85, 1},
      {v1::SIGNAL_CONTRACT_RENEWED, v1::DIMENSION_PROJECT_SUPPORT, 85, 1.5},
      {v1::SIGNAL_CONTRACT_RENEWED, v1::DIMENSION_ACCEPTANCE, 80, 1},
      {v1::SIGNAL_CONTRACT_RENEWED, v1::DIMENSION_BEHAVIOUR, 85, 1},
      {v1::SIGNAL_CONTRACT_TERMINATED, v1::DIMENSION_BEHAVIOUR, 10, 2},
      {v1::SIGNAL_CONTRACT_TERMINATED, v1::DIMENSION_COMPETITIVE_PREFERENCE, 30, 1},
      {v1::SIGNAL_OPPORTUNITY_WON, v1::DIMENSION_PROJECT_SUPPORT, 90, 1.5},
      {v1::SIGNAL_OPPORTUNITY_WON, v1::DIMENSION_COMPETITIVE_PREFERENCE, 75, 1},
      {v1::SIGNAL_OPPORTUNITY_LOST, v1::DIMENSION_PROJECT_SUPPORT, 35, 1},
      {v1::SIGNAL_OPPORTUNITY_LOST_TO_COMPETITOR, v1::DIMENSION_COMPETITIVE_PREFERENCE, 15, 1.5},
      {v1::SIGNAL_OPPORTUNITY_LOST_TO_COMPETITOR, v1::DIMENSION_PROJECT_SUPPORT, 35, 0.5},
      {v1::SIGNAL_INFORMATION_SHARED, v1::DIMENSION_INFORMATION, 85, 1},
      {v1::SIGNAL_GUIDANCE_GIVEN, v1::DIMENSION_GUIDANCE, 85, 1},
      {v1::SIGNAL_PROJECT_SUPPORT, v1::DIMENSION_PROJECT_SUPPORT, 90, 1.5},
      {v1::SIGNAL_COMPETITOR_LEAN, v1::DIMENSION_COMPETITIVE_PREFERENCE, 0, 1.5},
      {v1::SIGNAL_REFERRAL, v1::DIMENSION_ACCEPTANCE, 90, 1.5},
      {v1::SIGNAL_REFERRAL, v1::DIMENSION_FEELING, 85, 1},
      {v1::SIGNAL_CHAMPION_LEFT, v1::DIMENSION_PROJECT_SUPPORT, 30, 1.5},
      {v1::SIGNAL_CHAMPION_LEFT, v1::DIMENSION_ACCEPTANCE, 40, 1},
  };
  struct DimensionRow {
    Dimension dimension;
    double half_life_days;
    double overall_weight;
  };
  constexpr DimensionRow kDimensions[] = {
      {v1::DIMENSION_ACCEPTANCE, 180, 1.5},
      {v1::DIMENSION_PARTICIPATION, 180, 1},
      {v1::DIMENSION_INFORMATION, 120, 1},
      {v1::DIMENSION_GUIDANCE, 120, 1},
      {v1::DIMENSION_PROJECT_SUPPORT, 365, 1.5},
      {v1::DIMENSION_COMPETITIVE_PREFERENCE, 180, 1},
      {v1::DIMENSION_FEELING, 90, 1},
      {v1::DIMENSION_BEHAVIOUR, 90, 1.5},
  };
  auto* scoring = config.mutable_scoring();
  scoring->set_prior(50);
  scoring->set_prior_weight(2);
  scoring->set_assessment_weight(8);
  scoring->set_score_change_step(2);
  scoring->set_payment_grace_days(5);
  for (const DimensionRow& row : kDimensions) {
    auto* d = scoring->add_dimensions();
    d->set_dimension(row.dimension);
    d->set_half_life_days(row.half_life_days);
    d->set_overall_weight(row.overall_weight);
  }
  for (const Row& row : kRules) {
    auto* rule = scoring->add_rules();
    rule->set_signal(row.signal);
    rule->set_dimension(row.dimension);
    rule->set_value(row.value);
    rule->set_weight(row.weight);
  }
  auto* lifecycle = config.mutable_lifecycle();
  lifecycle->set_maintaining_score(60);
  lifecycle->set_maintaining_min_orders(3);
  lifecycle->set_at_risk_score(40);
  lifecycle->set_recovered_score(55);
  lifecycle->set_lost_inactive_days(180);
  config.mutable_workers()->set_tick_lag_seconds(3600);
  config.mutable_workers()->set_state_cache_bytes(int64_t{256} << 20);
  config.mutable_workers()->set_commit_records(2000);
  config.mutable_workers()->set_commit_interval_ms(5);
  config.mutable_workers()->set_source_idle_records(1000);
  config.mutable_workers()->set_outbox_max_entries(100000);

  // The classes (docs/scoring.md, "Classes").
  auto* classes = config.mutable_classification();
  classes->set_model_refit_days(30);
  classes->set_min_population(20);
  classes->set_max_fit_sample(100000);
  classes->set_bgnbd_min_repeat_buyers(10);
  classes->set_abc_a_share(0.80);
  classes->set_abc_b_share(0.15);
  // The usual R x F segment map; M does not split segments by default.
  struct SegmentRow {
    const char* name;
    int32_t r_min, r_max, f_min, f_max;
  };
  constexpr SegmentRow kSegments[] = {
      {"champions", 5, 5, 4, 5},
      {"loyal", 3, 4, 4, 5},
      {"potential_loyalist", 4, 5, 2, 3},
      {"new", 5, 5, 1, 1},
      {"promising", 4, 4, 1, 1},
      {"need_attention", 3, 3, 3, 3},
      {"about_to_sleep", 3, 3, 1, 2},
      {"cannot_lose", 1, 2, 5, 5},
      {"at_risk", 1, 2, 3, 4},
      {"hibernating", 1, 2, 1, 2},
  };
  for (const SegmentRow& row : kSegments) {
    auto* segment = classes->add_rfm_segments();
    segment->set_name(row.name);
    segment->set_r_min(row.r_min);
    segment->set_r_max(row.r_max);
    segment->set_f_min(row.f_min);
    segment->set_f_max(row.f_max);
    segment->set_m_min(1);
    segment->set_m_max(5);
  }
  classes->set_quadrant_high_frequency_score(4);
  classes->set_quadrant_high_monetary_score(4);
  classes->set_value_high_rfm_sum(12);
  classes->set_value_medium_rfm_sum(8);
  classes->set_potential_high_growth(0.25);
  classes->set_potential_medium_growth(0.05);
  classes->set_loyalty_high_satisfaction(65);
  classes->set_loyalty_low_satisfaction(40);
  classes->set_loyalty_high_complaint_rate(0.05);
  classes->set_loyalty_low_complaint_rate(0.25);
  classes->set_loyalty_high_renewal_rate(0.8);
  classes->set_loyalty_low_renewal_rate(0.5);
  classes->set_intent_converted_days(365);
  classes->set_intent_inquiry_days(90);
  classes->set_intent_target_days(180);
  classes->set_intent_nurturing_days(180);
  classes->set_organizational_min_active_contracts(1);
  classes->set_organizational_min_contact_levels(2);

  // The churn-warning rules (docs/scoring.md, "Churn warnings").
  auto* churn = config.mutable_churn();
  churn->set_inactivity_multiple(6);
  churn->set_rhythm_purchase_days(13);
  churn->set_min_rhythm_purchase_days(10);
  churn->set_default_rhythm_days(30);
  churn->set_min_rhythm_days(7);
  churn->set_p_alive_threshold(0.3);
  churn->set_risk_threshold(0.7);
  churn->set_complaint_service_level_days(14);
  churn->set_complaint_max_age_days(45);
  churn->set_complaint_run_count(4);
  churn->set_complaint_run_window_days(90);
  churn->set_satisfaction_drop(40);
  churn->set_satisfaction_window_days(200);
  churn->set_score_drop(4);
  churn->set_score_drop_window_days(60);
  churn->set_late_payment_recent(2);
  churn->set_late_payment_baseline(4);
  churn->set_late_payment_min_days(7);
  churn->set_late_payment_increase_days(5);
  churn->set_renewal_window_days(60);
  churn->set_renewal_low_score(55);
  churn->set_champion_left_days(120);
  churn->set_contract_terminated_days(120);
  churn->set_low_score(40);
  churn->set_competitor_lean(0.4);
  churn->set_competitor_signal_count(1);
  churn->set_competitor_window_days(120);
  churn->set_call_sentiment_threshold(-0.1);
  churn->set_call_min_count(2);
  churn->set_call_window_days(60);
  auto* weights = churn->mutable_weights();
  weights->set_inactivity(1);
  weights->set_low_p_alive(1);
  weights->set_unresolved_complaint(1);
  weights->set_complaint_run(3);
  weights->set_satisfaction_drop(2);
  weights->set_score_drop(1);
  weights->set_late_payments(4);
  weights->set_renewal_low_score(6);
  weights->set_champion_left(7);
  weights->set_competitor_signal(3);
  weights->set_silence(6);
  weights->set_call_sentiment(3);
  weights->set_decline_evidence(6);
  weights->set_churn_risk(6);
  weights->set_contract_terminated(7);
  weights->set_low_score(7);
  auto* evidence = churn->mutable_evidence();
  evidence->set_call_sentiment_weight(3);
  evidence->set_call_sentiment_pivot(0.1);
  evidence->set_complaint(0);
  evidence->set_competitor_signal(0);
  evidence->set_late_payment(0);
  evidence->set_negative_visit(0.5);
  evidence->set_decay_per_day(0.03);
  evidence->set_threshold(3.75);
  evidence->set_complaint_rate_ratio(3);
  evidence->set_call_rate_ratio(1.5);
  evidence->set_competitor_rate_ratio(2);
  evidence->set_purchase_rate_ratio(0.7);
  evidence->set_min_exposure_days(30);
  evidence->set_competitor_lean_weight(3);
  evidence->set_competitor_lean_pivot(0.15);
  evidence->set_critical_complaint(3);
  evidence->set_unsatisfied_resolution(0);
  evidence->set_survey_weight(4);
  evidence->set_survey_pivot(0.75);
  evidence->set_unresolved_call_shift(0.15);
  evidence->set_call_sentiment_baseline(0.35);
  evidence->set_call_sentiment_prior_calls(5);
  evidence->set_late_payment_weight(0.2);
  evidence->set_late_payment_pivot(2);
  evidence->set_late_payment_floor(1);
  evidence->set_late_payment_cap(4);
  evidence->set_late_payment_prior_payments(3);
  evidence->set_assessment_weight(40);
  evidence->set_assessment_pivot(0.05);
  evidence->set_assessment_baseline(0.6);
  evidence->set_assessment_prior(1);
  churn->set_severe_factor(1.5);
  churn->set_watch_points(6);
  churn->set_warning_points(7);
  churn->set_critical_points(10);
  churn->set_resolve_points(0);
  churn->set_resolve_after_days(30);
  churn->set_risk_horizon_days(90);
  return config;
}

absl::StatusOr<guanxi::v1::EngineConfig> ParseEngineConfig(std::string_view text,
                                                           std::string_view origin) {
  const std::string file(text);
  // The file on its own first, strictly: its syntax, unknown fields, and any field given
  // twice (PresenceSchema), each an error with the position and the offending line.
  std::unique_ptr<google::protobuf::Message> strict = PresenceSchema::Get().NewConfig();
  if (strict == nullptr) return absl::InternalError("the configuration schema did not build");
  google::protobuf::TextFormat::Parser parser;
  CollectErrors errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(file, strict.get())) {
    // Quote the offending line: protobuf's message gives the position, the line shows
    // which field it is.
    std::string quoted;
    std::istringstream lines{file};
    std::string line;
    for (int i = 0; std::getline(lines, line); ++i) {
      if (i == errors.line()) quoted = absl::StrCat(" (in: ", line, ")");
    }
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(origin), ":", errors.first(), quoted));
  }
  // Fields named in the file replace the defaults. Merging appends to repeated fields:
  // kafka.properties starts empty, and the scoring tables and the RFM segment table the
  // file lists replace the default tables instead of extending them. The file parsed
  // above, so neither parse below can fail.
  guanxi::v1::EngineConfig named;
  guanxi::v1::EngineConfig config = DefaultEngineConfig();
  if (!parser.ParseFromString(file, &named)) {
    return absl::InternalError(absl::StrCat(std::string(origin), ":", errors.first()));
  }
  if (named.scoring().dimensions_size() > 0) config.mutable_scoring()->clear_dimensions();
  if (named.scoring().rules_size() > 0) config.mutable_scoring()->clear_rules();
  if (named.classification().rfm_segments_size() > 0) {
    config.mutable_classification()->clear_rfm_segments();
  }
  if (!parser.MergeFromString(file, &config)) {
    return absl::InternalError(absl::StrCat(std::string(origin), ":", errors.first()));
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
  RETURN_IF_ERROR(CheckFinite(config, ""));
  const auto& kafka = config.kafka();
  if (kafka.brokers().empty()) return FieldError("kafka.brokers", "must not be empty");
  if (kafka.group_id().empty()) return FieldError("kafka.group_id", "must not be empty");
  const std::pair<const char*, const std::string*> topics[] = {
      {"kafka.events_topic", &kafka.events_topic()},
      {"kafka.warnings_topic", &kafka.warnings_topic()},
      {"kafka.changes_topic", &kafka.changes_topic()},
      {"kafka.dead_letters_topic", &kafka.dead_letters_topic()},
      {"kafka.instances_topic", &kafka.instances_topic()}};
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
  for (const auto& [field, topic] : topics) {
    if (field != std::string_view("kafka.instances_topic") && *topic == kafka.instances_topic()) {
      return FieldError("kafka.instances_topic", absl::StrCat("must differ from ", field));
    }
  }
  if (kafka.max_event_bytes() <= 0) return FieldError("kafka.max_event_bytes", "must be > 0");
  if (kafka.max_future_seconds() <= 0) {
    return FieldError("kafka.max_future_seconds", "must be > 0");
  }
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
  if (storage.snapshots_kept() < 2) return FieldError("storage.snapshots_kept", "must be >= 2");
  if (storage.min_free_bytes() < 0) {
    return FieldError("storage.min_free_bytes", "must be >= 0");
  }
  if (storage.snapshot_interval_seconds() < 0) {
    return FieldError("storage.snapshot_interval_seconds", "must be >= 0");
  }
  RETURN_IF_ERROR(ValidateScoring(config.scoring()));
  RETURN_IF_ERROR(ValidateLifecycle(config.lifecycle()));
  if (config.workers().tick_lag_seconds() <= 0) {
    return FieldError("workers.tick_lag_seconds", "must be > 0");
  }
  if (config.workers().state_cache_bytes() < (int64_t{1} << 20)) {
    return FieldError("workers.state_cache_bytes", "must be at least 1 MiB");
  }
  if (config.workers().commit_records() < 1) {
    return FieldError("workers.commit_records", "must be >= 1");
  }
  if (config.workers().outbox_max_entries() < 1) {
    return FieldError("workers.outbox_max_entries", "must be >= 1");
  }
  if (config.workers().commit_interval_ms() < 1) {
    return FieldError("workers.commit_interval_ms", "must be >= 1");
  }
  if (config.workers().source_idle_records() <= 0) {
    return FieldError("workers.source_idle_records", "must be > 0");
  }
  RETURN_IF_ERROR(ValidateClassification(config.classification()));
  return ValidateChurn(config.churn());
}

}  // namespace guanxi::engine
