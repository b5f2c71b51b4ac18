#include "bench/workload.h"

#include <unistd.h>

#include <atomic>
#include <iostream>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "app/progress.h"
#include "connectors/simulator.h"
#include "engine/kafka/kafka.h"

namespace guanxi::bench {

void Messages::Add(const guanxi::v1::Event& e) {
  keys.push_back(e.customer_id());
  values.push_back(e.SerializeAsString());
  bytes += static_cast<int64_t>(keys.back().size() + values.back().size());
}

EventSink Into(Messages& messages) {
  return [&messages](const guanxi::v1::Event& e) { messages.Add(e); };
}

absl::StatusOr<StreamFacts> SimulatedStream(int64_t count, uint64_t seed, const EventSink& emit) {
  if (count <= 0) return absl::InvalidArgumentError("the event count must be positive");
  StreamFacts facts;
  facts.days = 365;
  facts.seed = seed;
  // The simulator makes about 63 events per customer-year; 55 leaves a margin.
  facts.customers = count / 55 + 1;
  connectors::Simulator sim({.customers = facts.customers, .days = facts.days, .seed = seed});
  app::Progress progress(std::cerr, "simulate", isatty(STDERR_FILENO) != 0);
  sim.Run([&](const guanxi::v1::Event& e) {
    if (facts.events >= count) return;
    emit(e);
    ++facts.events;
    if (facts.events % 8192 == 0) progress.Update(facts.events, count, facts.events, "events");
  });
  progress.Finish();
  if (facts.events < count) {
    return absl::InternalError(absl::StrCat("the simulator made only ", facts.events, " events of ",
                                            facts.customers, " customers; asked for ", count));
  }
  facts.description =
      absl::StrCat("the first ", app::WithThousands(facts.events), " events (event-time order) of ",
                   app::WithThousands(facts.customers), " simulated customers over ", facts.days,
                   " days, seed ", seed);
  return facts;
}

absl::StatusOr<StreamFacts> PopulationStream(int64_t customers, uint64_t seed,
                                             const EventSink& emit) {
  if (customers <= 0) return absl::InvalidArgumentError("the population must be positive");
  StreamFacts facts;
  facts.days = 1;
  facts.seed = seed;
  connectors::Simulator sim({.customers = customers, .days = facts.days, .seed = seed});
  std::unordered_map<std::string, uint8_t> seen;
  seen.reserve(static_cast<size_t>(customers));
  app::Progress progress(std::cerr, "simulate population", isatty(STDERR_FILENO) != 0);
  sim.Run([&](const guanxi::v1::Event& e) {
    uint8_t& n = seen[e.customer_id()];
    if (n >= 2) return;
    ++n;
    emit(e);
    ++facts.events;
    if (facts.events % 8192 == 0) {
      progress.Update(facts.events, 2 * customers, facts.events, "events");
    }
  });
  progress.Finish();
  facts.customers = static_cast<int64_t>(seen.size());
  facts.description = absl::StrCat(
      app::WithThousands(facts.customers), " simulated customers (one simulated day, seed ", seed,
      "), each with its first two events (the profile, then mostly a contact change): ",
      app::WithThousands(facts.events), " events");
  return facts;
}

Result ProduceReport::ToResult() const {
  Result r;
  Put(r, "produced", produced);
  Put(r, "seconds", seconds);
  Put(r, "key_value_bytes", bytes);
  Put(r, "partitions", partitions);
  int64_t high_sum = 0, low_max = 0;
  std::vector<double> highs;
  for (const auto& [low, high] : watermarks) {
    high_sum += high;
    low_max = std::max(low_max, low);
    highs.push_back(static_cast<double>(high));
  }
  Put(r, "high_watermark_sum", high_sum);
  Put(r, "max_log_start_offset", low_max);
  Put(r, "high_watermarks", highs);
  PutBool(r, "nothing_truncated", complete);
  return r;
}

absl::StatusOr<ProduceReport> ProduceAndProve(const std::string& brokers, const std::string& topic,
                                              int partitions, const Messages& messages,
                                              const std::string& label) {
  ProduceReport report;
  report.partitions = partitions;
  report.bytes = messages.bytes;
  std::atomic<int64_t> failed{0};
  absl::Status first_failure;
  auto producer = engine::Producer::Create(brokers,
                                           {{"linger.ms", "50"},
                                            {"batch.num.messages", "10000"},
                                            {"batch.size", "1000000"},
                                            {"compression.type", "lz4"}},
                                           [&](const engine::Producer::Delivery& d) {
                                             if (!d.status.ok()) {
                                               if (failed.fetch_add(1) == 0)
                                                 first_failure = d.status;
                                             }
                                           });
  if (!producer.ok()) return producer.status();
  app::Progress progress(std::cerr, label, isatty(STDERR_FILENO) != 0);
  const auto start = Clock::now();
  const int64_t n = static_cast<int64_t>(messages.size());
  for (size_t i = 0; i < messages.size(); ++i) {
    if (auto s = (*producer)->Produce(topic, messages.keys[i], messages.values[i], i); !s.ok()) {
      return s;
    }
    if (i % 8192 == 0) {
      (*producer)->Poll(absl::ZeroDuration());
      progress.Update(static_cast<int64_t>(i), n, static_cast<int64_t>(i), "messages");
    }
  }
  if (const int64_t left = (*producer)->Flush(absl::Minutes(10)); left > 0) {
    return absl::DeadlineExceededError(
        absl::StrCat(left, " messages still unacknowledged after 10 minutes"));
  }
  progress.Finish();
  report.seconds = SecondsSince(start);
  if (failed.load() > 0) {
    return absl::Status(
        first_failure.code(),
        absl::StrCat(failed.load(), " deliveries failed; first: ", first_failure.message()));
  }
  report.produced = n;

  struct NoListener final : engine::RebalanceListener {
    std::vector<int64_t> OnAssigned(const std::vector<engine::TopicPartition>& p) override {
      return std::vector<int64_t>(p.size(), engine::kOffsetBeginning);
    }
    void OnRevoked(const std::vector<engine::TopicPartition>&) override {}
  } listener;
  auto consumer = engine::Consumer::Create(brokers, "guanxi-bench-watermarks", {}, &listener);
  if (!consumer.ok()) return consumer.status();
  int64_t high_sum = 0;
  bool starts_at_zero = true;
  for (int32_t p = 0; p < partitions; ++p) {
    auto marks = (*consumer)->QueryWatermarks(topic, p, absl::Seconds(30));
    if (!marks.ok()) return marks.status();
    report.watermarks.push_back(*marks);
    high_sum += marks->second;
    starts_at_zero = starts_at_zero && marks->first == 0;
  }
  (*consumer)->Close();
  report.complete = starts_at_zero && high_sum == report.produced;
  return report;
}

}  // namespace guanxi::bench
