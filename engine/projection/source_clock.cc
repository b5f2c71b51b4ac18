#include "engine/projection/source_clock.h"

#include "google/protobuf/util/time_util.h"  // Timestamp's comparison operators

namespace guanxi::engine {

using google::protobuf::Timestamp;

Timestamp ObserveSource(SourceClocks* sources, uint64_t idle_records, std::string_view source,
                        const Timestamp& occurred_at, uint64_t position) {
  const std::string name(source);
  guanxi::v1::SourceClock& own = (*sources)[name];
  if (!own.has_latest_occurred_at() || own.latest_occurred_at() < occurred_at) {
    *own.mutable_latest_occurred_at() = occurred_at;
  }
  own.set_last_position(position);

  for (auto it = sources->begin(); it != sources->end();) {
    it = position - it->second.last_position() > idle_records ? sources->erase(it)
                                                              : std::next(it);
  }
  // Too many: the one heard from longest ago goes (positions are unique, so no tie).
  while (static_cast<int>(sources->size()) > kMaxSources) {
    auto oldest = sources->begin();
    for (auto it = sources->begin(); it != sources->end(); ++it) {
      if (it->second.last_position() < oldest->second.last_position()) oldest = it;
    }
    sources->erase(oldest);
  }

  Timestamp watermark = sources->at(name).latest_occurred_at();
  for (const auto& [unused, clock] : *sources) {
    if (clock.latest_occurred_at() < watermark) watermark = clock.latest_occurred_at();
  }
  return watermark;
}

}  // namespace guanxi::engine
