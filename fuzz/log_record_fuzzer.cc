// The log-record reader (engine/storage/event_log.h, DecodeLogRecord): what every read of
// a partition's log does with a stored record's key and value. Corrupt bytes must be a
// DataLoss error, never a crash; a record it hands on is applied to a customer's
// projection (projections/projection.h) as the projection worker applies the log, so
// that a record the reader accepts cannot crash the projections either.
//
// Input: the 8-byte key (the position, big-endian), then the stored value.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/config/config.h"
#include "engine/storage/event_log.h"
#include "projections/projection.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string_view key = input.substr(0, 8);
  const std::string_view value = input.substr(key.size());
  guanxi::v1::LogRecord record;
  const absl::Status status = guanxi::engine::DecodeLogRecord(key, value, record);
  if (!status.ok()) {
    if (status.code() != absl::StatusCode::kDataLoss) __builtin_trap();
    return 0;
  }
  static const guanxi::projections::CustomerProjection projection(
      guanxi::engine::DefaultEngineConfig());
  // A customer with one order before the record, as most records find them.
  guanxi::v1::CustomerState state;
  if (!record.has_event()) {
    guanxi::v1::Event order;
    order.set_event_id("e0");
    order.set_customer_id("c0");
    order.mutable_occurred_at()->set_seconds(1'735'689'600);  // 2025-01-01
    order.mutable_order()->mutable_amount()->set_currency("EUR");
    order.mutable_order()->mutable_amount()->set_minor_units(12'345);
    projection.OnEvent(state, order, 0, {});
  }
  switch (record.body_case()) {
    case guanxi::v1::LogRecord::kEvent:
      projection.OnEvent(state, record.event(), record.position(), {});
      if (const std::optional<int64_t> deadline = projection.NextDeadline(state)) {
        google::protobuf::Timestamp at;
        at.set_seconds(*deadline);
        projection.OnTime(state, at, record.position(), {});
      }
      break;
    case guanxi::v1::LogRecord::kTick:
      projection.OnTime(state, record.tick().event_time(), record.position(), {});
      break;
    case guanxi::v1::LogRecord::kModel:
      projection.OnModel(state, record.model().as_of(), record.position(),
                         {.model = &record.model()});
      break;
    default:
      break;
  }
  return 0;
}
