// The Kafka message decoder and validator (engine/ingest/decode.h): the bytes of a
// message of guanxi.events become an event or a dead letter, as PartitionIngestor does;
// an accepted event is then applied to a customer's projection (projections/projection.h),
// as the projection worker does with what the log holds, so that an event the decoder
// lets through cannot crash the projections either.
//
// Input: one byte n, then the Kafka key (the next n % 64 bytes; empty means no key),
// then the message value.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/config/config.h"
#include "engine/ingest/decode.h"
#include "projections/projection.h"

namespace {

const guanxi::v1::EngineConfig& Config() {
  static const guanxi::v1::EngineConfig config = guanxi::engine::DefaultEngineConfig();
  return config;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t key_size = std::min<size_t>(static_cast<uint8_t>(input[0]) % 64, size - 1);
  const std::string_view key = input.substr(1, key_size);
  const std::string_view value = input.substr(1 + key_size);

  guanxi::engine::DecodeLimits limits;
  limits.max_event_bytes = 4096;
  limits.max_message_bytes = 1024;
  guanxi::engine::DecodeResult decoded = guanxi::engine::DecodeEvent(key, value, limits);
  if (!decoded.ok()) {
    guanxi::v1::SourceCoordinates source;
    source.set_topic("guanxi.events");
    source.set_partition(0);
    source.set_offset(42);
    const guanxi::v1::DeadLetter letter = guanxi::engine::MakeDeadLetter(
        key, value, source, *decoded.rejection, 1'700'000'000'000, limits.max_message_bytes);
    if (guanxi::engine::DeadLetterBytes(letter) > limits.max_message_bytes) __builtin_trap();
    return 0;
  }
  static const guanxi::projections::CustomerProjection projection(Config());
  guanxi::v1::CustomerState state;
  projection.OnEvent(state, decoded.event, 0, {});
  projection.OnEvent(state, decoded.event, 1, {});  // the same customer again: a state
  if (const std::optional<int64_t> deadline = projection.NextDeadline(state)) {
    google::protobuf::Timestamp at;
    at.set_seconds(*deadline);
    projection.OnTime(state, at, 2, {});
  }
  return 0;
}
