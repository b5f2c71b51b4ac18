// What the benchmarks feed the engine: simulated events (connectors/simulator.h), as
// Kafka messages (key = customer_id, value = the serialized guanxi.v1.Event, exactly as
// `guanxi simulate --brokers` sends them), and producing them to a broker with proof
// that the broker kept every one.
//
//   Messages m;
//   ASSIGN_OR_RETURN(StreamFacts facts, SimulatedStream(1'000'000, /*seed=*/1, Into(m)));
//   ASSIGN_OR_RETURN(ProduceReport report, ProduceAndProve(brokers, "guanxi.events", 16, m));
//
// Deterministic: the same count and seed give the same messages, byte for byte.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/bench_util.h"
#include "guanxi/v1/events.pb.h"

namespace guanxi::bench {

struct Messages {
  std::vector<std::string> keys;
  std::vector<std::string> values;
  int64_t bytes = 0;  // keys + values
  size_t size() const { return values.size(); }
  void Add(const guanxi::v1::Event& e);
};

using EventSink = std::function<void(const guanxi::v1::Event&)>;
EventSink Into(Messages& messages);

struct StreamFacts {
  int64_t events = 0;
  int64_t customers = 0;  // the simulated population
  int32_t days = 0;       // the simulated window
  uint64_t seed = 0;
  std::string description;  // one line: what these events are
};

// The first `count` events, in event-time order, of a simulated year (365 days) of a
// population just large enough to produce them (about 63 events per customer-year with
// the simulator's defaults: a realistic mix of every event type, 15% planted churners).
absl::StatusOr<StreamFacts> SimulatedStream(int64_t count, uint64_t seed, const EventSink& emit);

// A population of `customers`, each with exactly its first two simulated events (a
// one-day simulation: the profile, then, for all but a handful, a contact change), in
// event-time order.
absl::StatusOr<StreamFacts> PopulationStream(int64_t customers, uint64_t seed,
                                             const EventSink& emit);

struct ProduceReport {
  int64_t produced = 0;
  double seconds = 0;
  int64_t bytes = 0;
  int partitions = 0;
  // Per partition, (log start offset, high watermark) as the leader reports them after
  // every delivery report came back.
  std::vector<std::pair<int64_t, int64_t>> watermarks;
  // Every log start offset is 0 and the high watermarks sum to `produced`: the broker
  // kept (truncated) nothing.
  bool complete = false;
  Result ToResult() const;
};

// Produces every message (idempotent producer, lz4, linger.ms=50, batches of up to
// 10,000 messages / 1 MB), waits for every delivery report, then reads every partition's
// watermarks. A failed delivery is an error; an incomplete topic is reported in the
// result (complete = false), not an error, so the caller can say so.
absl::StatusOr<ProduceReport> ProduceAndProve(const std::string& brokers, const std::string& topic,
                                              int partitions, const Messages& messages,
                                              const std::string& label);

}  // namespace guanxi::bench
