// The events the relationship and lifecycle tests feed one customer ("c1"), by day from
// 2026-01-01T00:00:00Z (a fractional day is that part of a day later). An event's id is
// "e<day>", so a warning an event raises is "c1/event:e<day>".
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/timestamp.pb.h"
#include "guanxi/v1/events.pb.h"

namespace guanxi::projections::testing {

inline constexpr int64_t kDay = 86400;
inline constexpr int64_t kBase = 1767225600;  // 2026-01-01T00:00:00Z

inline google::protobuf::Timestamp Day(double day) {
  google::protobuf::Timestamp t;
  t.set_seconds(kBase + static_cast<int64_t>(std::llround(day * kDay)));
  return t;
}

inline guanxi::v1::Event At(double day, const std::function<void(guanxi::v1::Event&)>& fill) {
  guanxi::v1::Event e;
  e.set_event_id(absl::StrCat("e", day));
  e.set_customer_id("c1");
  *e.mutable_occurred_at() = Day(day);
  fill(e);
  return e;
}

inline guanxi::v1::Event Visit(double day, guanxi::v1::Outcome outcome) {
  return At(day, [&](guanxi::v1::Event& e) { e.mutable_visit()->set_outcome(outcome); });
}

inline guanxi::v1::Event Order(double day, const std::string& id) {
  return At(day, [&](guanxi::v1::Event& e) {
    e.mutable_order()->set_order_id(id);
    e.mutable_order()->set_kind(guanxi::v1::ORDER_KIND_ORDER);
  });
}

inline guanxi::v1::Event Contract(double day, const std::string& id,
                                  guanxi::v1::ContractMilestoneKind kind) {
  return At(day, [&](guanxi::v1::Event& e) {
    e.mutable_contract()->set_contract_id(id);
    e.mutable_contract()->set_milestone(kind);
  });
}

inline guanxi::v1::Event Profile(double day) {
  return At(day, [](guanxi::v1::Event& e) { e.mutable_profile()->set_name("Acme"); });
}

}  // namespace guanxi::projections::testing
