// Where a traced event is on its way through the engine, stage by stage, with the time
// each stage was reached: for the latency benchmark's probes (bench/latency_phase.cc),
// which give the milliseconds between a produced event and its churn warning names.
//
//   struct Probes final : StageTracer {
//     bool Traces(std::string_view customer) const override { return customer starts "probe-"; }
//     void Reached(Stage s, std::string_view customer, std::string_view event) override { ... }
//   };
//   IngestEngine engine({..., .tracer = &probes});
//
// The engine asks Traces for every message and record it handles (keep it cheap) and
// calls Reached on the thread where the stage happens (the polling thread, a projection
// worker, the outbox publisher), so it must be thread-safe. Not set (the default), the
// engine traces nothing and pays one null check per record.
#pragma once

#include <string_view>

namespace guanxi::engine {

class StageTracer {
 public:
  enum class Stage {
    kConsumed,   // the poll returned the message (event_id not known yet: empty)
    kAppended,   // in the partition's log
    kProjected,  // applied by the partition's projector (in memory)
    kCommitted,  // what it derived is written (states, facts, outbox), with the checkpoint
    kPublished,  // the broker acknowledged an outbox message keyed by the customer (the
                 // event_id is not known here: empty)
  };
  virtual ~StageTracer() = default;
  // Whether the events of this customer are traced.
  virtual bool Traces(std::string_view customer_id) const = 0;
  virtual void Reached(Stage stage, std::string_view customer_id, std::string_view event_id) = 0;
};

}  // namespace guanxi::engine
