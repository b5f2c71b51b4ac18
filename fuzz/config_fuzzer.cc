// The configuration loader (engine/config/config.h): protobuf text format over the
// defaults, then validation. A configuration it accepts is then given to a customer's
// projection (projections/projection.h), which requires a validated one, with one order
// and a year of time passing: a value validation lets through must not crash the
// projections.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/config/config.h"
#include "projections/projection.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<guanxi::v1::EngineConfig> config =
      guanxi::engine::ParseEngineConfig(text, "fuzz.textproto");
  if (!config.ok()) {
    if (config.status().code() != absl::StatusCode::kInvalidArgument) __builtin_trap();
    return 0;
  }
  const guanxi::projections::CustomerProjection projection(*config);
  guanxi::v1::Event order;
  order.set_event_id("e1");
  order.set_customer_id("c1");
  order.mutable_occurred_at()->set_seconds(1'735'689'600);  // 2025-01-01
  order.mutable_order()->mutable_amount()->set_currency("EUR");
  order.mutable_order()->mutable_amount()->set_minor_units(12'345);
  guanxi::v1::CustomerState state;
  projection.OnEvent(state, order, 0, {});
  google::protobuf::Timestamp now = order.occurred_at();
  for (int i = 0; i < 16; ++i) {
    const std::optional<int64_t> deadline = projection.NextDeadline(state);
    if (!deadline || *deadline > order.occurred_at().seconds() + 400 * 86'400) break;
    now.set_seconds(*deadline);
    projection.OnTime(state, now, static_cast<uint64_t>(i) + 1, {});
  }
  return 0;
}
