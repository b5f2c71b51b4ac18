// Which customers a list or a count is about: the filters of GET /v1/customers and
// GET /v1/portfolio (docs/api.md), parsed from query parameters and tested against a
// customer's state. Every filter given must hold.
//
//   ASSIGN_OR_RETURN(CustomerFilter filter, ParseCustomerFilter(param));
//   if (filter.Matches(state)) ...
//
// Pure and thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "guanxi/v1/state.pb.h"

namespace guanxi::engine {

struct CustomerFilter {
  std::optional<guanxi::v1::LifecycleStage> stage;  // stage=at_risk
  // class=FIELD:VALUE, a guanxi.v1.Classes field: "abc:A", "rfm_recency:5".
  const google::protobuf::FieldDescriptor* class_field = nullptr;
  std::string class_value;
  std::optional<std::string> owner;  // owner=NAME: CustomerState.owner, exactly
  bool needs_attention = false;      // needs_attention=true: NeedsAttention(state)
  // entered_since=TIME (RFC 3339, or a date: the end of that day, UTC): entered its
  // stage at or after TIME.
  std::optional<google::protobuf::Timestamp> entered_since;

  bool Matches(const guanxi::v1::CustomerState& state) const;
};

// A guanxi.v1.Classes field's value as the filters and the portfolio write it: the text,
// or the integer in decimal ("A", "key_account", "5").
std::string ClassValue(const guanxi::v1::Classes& classes,
                       const google::protobuf::FieldDescriptor* field);

// The account manager's list: an open churn-warning episode, or at risk, or being won
// back.
bool NeedsAttention(const guanxi::v1::CustomerState& state);

// `param(name)` is the query parameter's value, or nullopt when absent. InvalidArgument
// naming the parameter and what it accepts.
absl::StatusOr<CustomerFilter> ParseCustomerFilter(
    const std::function<std::optional<std::string>(std::string_view name)>& param);

}  // namespace guanxi::engine
