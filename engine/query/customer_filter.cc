#include "engine/query/customer_filter.h"

#include <cctype>

#include "absl/strings/str_cat.h"
#include "engine/query/time_text.h"
#include "google/protobuf/util/time_util.h"  // Timestamp's operator<

namespace guanxi::engine {
namespace {

// "at_risk" -> LIFECYCLE_STAGE_AT_RISK.
std::optional<guanxi::v1::LifecycleStage> StageOf(std::string name) {
  for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  guanxi::v1::LifecycleStage stage;
  if (!guanxi::v1::LifecycleStage_Parse(absl::StrCat("LIFECYCLE_STAGE_", name), &stage)) {
    return std::nullopt;
  }
  return stage;
}

}  // namespace

std::string ClassValue(const guanxi::v1::Classes& classes,
                       const google::protobuf::FieldDescriptor* field) {
  const auto* reflection = classes.GetReflection();
  if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_STRING) {
    return reflection->GetString(classes, field);
  }
  return absl::StrCat(reflection->GetInt32(classes, field));
}

bool NeedsAttention(const guanxi::v1::CustomerState& state) {
  return !state.churn_episode().warning_id().empty() ||
         state.stage() == guanxi::v1::LIFECYCLE_STAGE_AT_RISK ||
         state.stage() == guanxi::v1::LIFECYCLE_STAGE_WINNING_BACK;
}

bool CustomerFilter::Matches(const guanxi::v1::CustomerState& state) const {
  if (stage && state.stage() != *stage) return false;
  if (class_field != nullptr && ClassValue(state.classes(), class_field) != class_value) {
    return false;
  }
  if (owner && state.owner() != *owner) return false;
  if (needs_attention && !NeedsAttention(state)) return false;
  if (entered_since && state.stage_since() < *entered_since) return false;
  return true;
}

absl::StatusOr<CustomerFilter> ParseCustomerFilter(
    const std::function<std::optional<std::string>(std::string_view name)>& param) {
  CustomerFilter filter;
  if (auto text = param("stage")) {
    filter.stage = StageOf(*text);
    if (!filter.stage) {
      return absl::InvalidArgumentError(
          absl::StrCat("stage: '", *text,
                       "' is not a lifecycle stage (identified, engaging, deepening, "
                       "maintaining, at_risk, winning_back, lost)"));
    }
  }
  if (auto text = param("class")) {
    const size_t colon = text->find(':');
    filter.class_field =
        colon == std::string::npos
            ? nullptr
            : guanxi::v1::Classes::descriptor()->FindFieldByName(text->substr(0, colon));
    if (filter.class_field == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("class: '", *text,
                       "' is not FIELD:VALUE with FIELD a class (abc, rfm_segment, "
                       "intent_class, value_tier, ...)"));
    }
    filter.class_value = text->substr(colon + 1);
  }
  if (auto text = param("owner")) filter.owner = *text;
  if (auto text = param("needs_attention")) {
    if (*text != "true" && *text != "false") {
      return absl::InvalidArgumentError(
          absl::StrCat("needs_attention: '", *text, "' is not true or false"));
    }
    filter.needs_attention = *text == "true";
  }
  if (auto text = param("entered_since")) {
    auto since = ParseTimeText(*text);
    if (!since.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("entered_since: ", since.status().message()));
    }
    filter.entered_since = *since;
  }
  return filter;
}

}  // namespace guanxi::engine
