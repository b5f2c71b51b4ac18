// The partition's clock as a watermark over its sources (Event.source: "erp",
// "callcenter", ...): the earliest of the active sources' latest event times. One source
// running ahead of the others (an ERP export dated months ahead of a call-center stream)
// no longer moves every customer of the partition forward. A source that falls silent
// stops holding the others back once workers.source_idle_records records of the
// partition have followed its last event: idleness counted in log records, not in
// seconds as Flink counts it, so that the clock is a function of the log alone (a replay,
// an as-of view and a second backfill of the same topic decide the same).
// docs/scoring.md, "The partition's clock".
//
//   Timestamp watermark = ObserveSource(checkpoint.mutable_sources(), idle_records,
//                                       event.source(), event.occurred_at(), position);
//
// Pure. The sources kept are bounded (kMaxSources).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "google/protobuf/map.h"
#include "google/protobuf/timestamp.pb.h"
#include "guanxi/v1/projection.pb.h"

namespace guanxi::engine {

using SourceClocks = google::protobuf::Map<std::string, guanxi::v1::SourceClock>;

// At most this many sources are active at once: beyond, the one whose last event is the
// oldest in the log is dropped, so a producer inventing a source per event cannot grow a
// partition's checkpoint.
inline constexpr int kMaxSources = 64;

// Records an event of `source` that occurred at `occurred_at`, at log position
// `position`; drops the sources whose last event is more than `idle_records` positions
// before it; returns the earliest latest-occurred_at of the sources left (the event's own
// source among them).
google::protobuf::Timestamp ObserveSource(SourceClocks* sources, uint64_t idle_records,
                                          std::string_view source,
                                          const google::protobuf::Timestamp& occurred_at,
                                          uint64_t position);

}  // namespace guanxi::engine
