// The partition a key belongs to, as Kafka's Java client computes it by default
// (murmur2 of the key bytes, sign bit cleared, modulo the partition count), which is also
// what the engine's own producers use (librdkafka's `murmur2_random`). The engine uses it
// to find events that a producer with another partitioner (librdkafka's and
// confluent-kafka-python's default is CRC32) put on the wrong partition.
// Pure; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace guanxi::engine {

// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as an unsigned value.
uint32_t Murmur2(std::string_view key);

// The partition of `key` among `partitions` (> 0).
int32_t KeyPartition(std::string_view key, int32_t partitions);

}  // namespace guanxi::engine
