#include "engine/query/portfolio.h"

#include "absl/strings/str_cat.h"
#include "guanxi/v1/warning.pb.h"

namespace guanxi::engine {
namespace {

// One customer's classes into the per-field counts; unclassified values ("" or 0) left out.
void CountClasses(const guanxi::v1::Classes& classes, guanxi::v1::Portfolio& portfolio) {
  const auto* descriptor = classes.GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const auto* field = descriptor->field(i);
    const std::string value = ClassValue(classes, field);
    const bool text = field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_STRING;
    if (value.empty() || (!text && value == "0")) continue;
    ++(*(*portfolio.mutable_classes())[field->name()].mutable_counts())[value];
  }
}

}  // namespace

absl::StatusOr<guanxi::v1::Portfolio> CountPortfolio(const std::vector<PartitionView>& views,
                                                     const CustomerFilter& filter) {
  guanxi::v1::Portfolio portfolio;
  for (const PartitionView& view : views) {
    absl::Status s = view.store->ForEachState([&](const guanxi::v1::CustomerState& state) {
      if (!filter.Matches(state)) return true;
      portfolio.set_customers(portfolio.customers() + 1);
      if (state.as_of().seconds() > portfolio.as_of().seconds()) {
        *portfolio.mutable_as_of() = state.as_of();
      }
      ++(*portfolio.mutable_stages())[guanxi::v1::LifecycleStage_Name(state.stage())];
      CountClasses(state.classes(), portfolio);
      if (!state.churn_episode().warning_id().empty()) {
        const auto level = static_cast<guanxi::v1::WarningLevel>(state.churn_episode().level());
        ++(*portfolio.mutable_open_warnings())[guanxi::v1::WarningLevel_Name(level)];
      }
      ++(*portfolio.mutable_owners())[state.owner()];
      if (NeedsAttention(state)) portfolio.set_needing_attention(portfolio.needing_attention() + 1);
      return true;
    });
    if (!s.ok()) return s;
  }
  return portfolio;
}

}  // namespace guanxi::engine
