#include "engine/storage/keys.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace guanxi::engine::keys {
namespace {

constexpr uint64_t kSignBit = uint64_t{1} << 63;
constexpr char kOffsetPrefix[] = "offset/";

void PutBigEndian32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

uint32_t GetBigEndian32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

void PutOffsetBinary64(std::string& out, int64_t v) {
  PutBigEndian64(out, static_cast<uint64_t>(v) ^ kSignBit);
}

int64_t GetOffsetBinary64(const char* p) {
  return static_cast<int64_t>(GetBigEndian64(p) ^ kSignBit);
}

}  // namespace

void PutBigEndian64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

uint64_t GetBigEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

std::string PositionKey(uint64_t position) {
  std::string key;
  key.reserve(8);
  PutBigEndian64(key, position);
  return key;
}

std::string CustomerPrefix(std::string_view customer_id) {
  std::string key;
  key.reserve(4 + customer_id.size() + 8 + 4 + 1);  // room for a fact group key's suffix
  PutBigEndian32(key, static_cast<uint32_t>(customer_id.size()));
  key.append(customer_id);
  return key;
}

std::string StreamKey(std::string_view customer_id, uint64_t position) {
  std::string key = CustomerPrefix(customer_id);
  PutBigEndian64(key, position);
  return key;
}

uint64_t StreamPosition(std::string_view key, size_t prefix_size) {
  return GetBigEndian64(key.data() + prefix_size);
}

std::string StreamValue(const google::protobuf::Timestamp& occurred_at) {
  std::string value;
  PutOffsetBinary64(value, occurred_at.seconds());
  PutBigEndian32(value, static_cast<uint32_t>(occurred_at.nanos()));
  return value;
}

bool OccurredAtOrBefore(std::string_view stream_value, const google::protobuf::Timestamp& until) {
  if (stream_value.size() != 12) return true;
  const int64_t seconds = GetOffsetBinary64(stream_value.data());
  const auto nanos = static_cast<int32_t>(GetBigEndian32(stream_value.data() + 8));
  return seconds < until.seconds() || (seconds == until.seconds() && nanos <= until.nanos());
}

std::string OffsetKey(std::string_view topic, int32_t partition) {
  return absl::StrCat(kOffsetPrefix, absl::string_view(topic.data(), topic.size()), "/", partition);
}

std::string OffsetValue(int64_t next_offset) {
  std::string value;
  PutBigEndian64(value, static_cast<uint64_t>(next_offset));
  return value;
}

std::string HeadValue(uint64_t next_position, const std::array<uint8_t, 32>& hash) {
  std::string value;
  value.reserve(8 + hash.size());
  PutBigEndian64(value, next_position);
  value.append(reinterpret_cast<const char*>(hash.data()), hash.size());
  return value;
}

bool ParseHeadValue(std::string_view value, uint64_t& next_position,
                    std::array<uint8_t, 32>& hash) {
  if (value.size() != 8 + hash.size()) return false;
  next_position = GetBigEndian64(value.data());
  std::memcpy(hash.data(), value.data() + 8, hash.size());
  return true;
}

std::string TimerKey(int64_t deadline, std::string_view customer_id) {
  std::string key;
  key.reserve(8 + customer_id.size());
  PutOffsetBinary64(key, deadline);
  key.append(customer_id);
  return key;
}

std::optional<TimerKeyParts> ParseTimerKey(std::string_view key) {
  if (key.size() < 8) return std::nullopt;
  return TimerKeyParts{.deadline = GetOffsetBinary64(key.data()), .customer_id = key.substr(8)};
}

std::string FactKey(std::string_view customer_id, uint64_t position, uint32_t index) {
  std::string key = CustomerPrefix(customer_id);
  PutBigEndian64(key, position);
  PutBigEndian32(key, index);
  return key;
}

std::string FactGroupKey(std::string_view customer_id, uint64_t position, uint32_t first_index) {
  std::string key = FactKey(customer_id, position, first_index);
  key.push_back('\x01');
  return key;
}

std::optional<FactKeyParts> ParseFactKey(std::string_view key) {
  if (key.size() < 4) return std::nullopt;
  const size_t id_size = GetBigEndian32(key.data());
  if (key.size() - 4 < id_size) return std::nullopt;
  const size_t suffix = key.size() - 4 - id_size;
  if (suffix != 12 && !(suffix == 13 && key.back() == '\x01')) return std::nullopt;
  const char* p = key.data() + 4 + id_size;
  return FactKeyParts{.customer_id = key.substr(4, id_size),
                      .position = GetBigEndian64(p),
                      .index = GetBigEndian32(p + 8),
                      .group = suffix == 13};
}

std::string WarningKey(int64_t event_time_seconds, std::string_view customer_id,
                       uint64_t position, uint32_t index) {
  return WarningsFrom(event_time_seconds) + FactKey(customer_id, position, index);
}

std::string WarningsFrom(int64_t event_time_seconds) {
  std::string key;
  PutOffsetBinary64(key, event_time_seconds);
  return key;
}

std::string SequenceKey(uint64_t sequence) { return PositionKey(sequence); }

std::string OutboxChunkKey(uint64_t last_sequence) {
  std::string key = SequenceKey(last_sequence);
  key.push_back('\x01');
  return key;
}

std::optional<OutboxKeyParts> ParseOutboxKey(std::string_view key) {
  if (key.size() == 8) return OutboxKeyParts{GetBigEndian64(key.data()), false};
  if (key.size() == 9 && key[8] == '\x01') return OutboxKeyParts{GetBigEndian64(key.data()), true};
  return std::nullopt;
}

}  // namespace guanxi::engine::keys
