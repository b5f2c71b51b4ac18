// Phase 4: event produced -> derived message visible on an output topic, at a fixed
// offered rate.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "app/progress.h"
#include "bench/phases.h"
#include "bench/workload.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "engine/config/config.h"
#include "engine/ingest/ingest_engine.h"
#include "engine/kafka/kafka.h"
#include "engine/kafka/topics.h"

namespace guanxi::bench {
namespace {

constexpr std::string_view kProbePrefix = "probe-";

// Nearest-rank percentile of sorted values.
double Percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double rank = std::ceil(q * static_cast<double>(sorted.size()));
  const size_t i = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(i, sorted.size() - 1)];
}

Result Summary(std::vector<double> ms) {
  Result r;
  std::sort(ms.begin(), ms.end());
  Put(r, "samples", static_cast<int64_t>(ms.size()));
  Put(r, "p50_ms", Percentile(ms, 0.50));
  Put(r, "p99_ms", Percentile(ms, 0.99));
  Put(r, "p999_ms", Percentile(ms, 0.999));
  Put(r, "max_ms", ms.empty() ? 0.0 : ms.back());
  double sum = 0;
  for (double v : ms) sum += v;
  Put(r, "mean_ms", ms.empty() ? 0.0 : sum / static_cast<double>(ms.size()));
  return r;
}

guanxi::v1::Event Probe(int64_t k, int64_t occurred_at_seconds) {
  guanxi::v1::Event e;
  const std::string id = absl::StrCat(Sv(kProbePrefix), k);
  e.set_event_id(id);
  e.set_customer_id(id);
  e.set_source("guanxi-bench");
  e.mutable_occurred_at()->set_seconds(occurred_at_seconds);
  e.mutable_profile()->set_name(absl::StrCat("Latency probe ", k));
  return e;
}

int64_t NanosSince(Clock::time_point base) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - base).count();
}

}  // namespace

absl::StatusOr<Result> LatencyPhase(const LatencyOptions& options) {
  if (options.rate <= 0 || options.seconds <= 0 || options.probe_every < 2) {
    return absl::InvalidArgumentError("latency: rate and seconds must be > 0, probe_every >= 2");
  }
  guanxi::v1::EngineConfig config = engine::DefaultEngineConfig();
  if (options.model_refit_days > 0) {
    config.mutable_classification()->set_model_refit_days(options.model_refit_days);
  }
  for (const auto& [name, value] : options.engine_properties) {
    auto* property = config.mutable_kafka()->add_properties();
    property->set_name(name);
    property->set_value(value);
  }
  const std::string& topic = config.kafka().events_topic();
  const int64_t offered = static_cast<int64_t>(std::ceil(options.rate * options.seconds));
  const int64_t probes = offered / options.probe_every;

  // The background: the simulated stream, in event-time order; a probe carries the event
  // time of the stream event before it, so probes do not move any partition's clock.
  Messages stream;
  std::vector<int64_t> occurred;
  ASSIGN_OR_RETURN(const StreamFacts facts,
                   SimulatedStream(offered - probes + 1, options.seed,
                                   [&](const guanxi::v1::Event& e) {
                                     stream.Add(e);
                                     occurred.push_back(e.occurred_at().seconds());
                                   }));

  ASSIGN_OR_RETURN(auto cluster, engine::EmbeddedCluster::Start(3));
  RETURN_IF_ERROR(engine::CreateGuanxiTopics(*cluster, config.kafka(), options.partitions));
  const std::string brokers = cluster->bootstrap_servers();

  // The engine, live (not until caught up), in this process.
  std::error_code ec;
  std::filesystem::remove_all(options.data_dir, ec);
  std::atomic<bool> engine_stop{false};
  std::mutex totals_mu;
  engine::IngestStats engine_totals;
  absl::Status engine_status;
  std::thread engine_thread([&] {
    engine::IngestEngine engine({.brokers = brokers,
                                 .data_dir = options.data_dir,
                                 .config = config,
                                 .on_progress = [&](const engine::IngestStats& t, size_t) {
                                   std::lock_guard<std::mutex> lock(totals_mu);
                                   engine_totals = t;
                                 }});
    engine_status = engine.Run(engine_stop);
  });

  // The observer: the first message on the topic for each probe customer.
  const auto base = Clock::now();
  std::vector<std::atomic<int64_t>> sent(static_cast<size_t>(probes + 1));
  std::vector<std::atomic<int64_t>> arrived(static_cast<size_t>(probes + 1));
  std::atomic<int64_t> observed{0};
  std::atomic<int64_t> messages_seen{0};
  std::atomic<bool> observer_stop{false};
  absl::Status observer_status;
  std::thread observer([&] {
    struct FromStart final : engine::RebalanceListener {
      std::vector<int64_t> OnAssigned(const std::vector<engine::TopicPartition>& p) override {
        return std::vector<int64_t>(p.size(), engine::kOffsetBeginning);
      }
      void OnRevoked(const std::vector<engine::TopicPartition>&) override {}
    } listener;
    auto consumer = engine::Consumer::Create(brokers, "guanxi-bench-latency",
                                             {{"fetch.wait.max.ms", "10"}}, &listener);
    if (!consumer.ok()) {
      observer_status = consumer.status();
      return;
    }
    if (auto s = (*consumer)->Subscribe({options.observe_topic}); !s.ok()) {
      observer_status = s;
      return;
    }
    while (!observer_stop.load()) {
      for (const engine::KafkaMessage& m : (*consumer)->Poll(10'000, absl::Milliseconds(20))) {
        if (!m.error.ok()) continue;
        ++messages_seen;
        // The outbox keys every message by customer_id.
        absl::string_view key = m.key;
        if (!absl::ConsumePrefix(&key, Sv(kProbePrefix))) continue;
        int64_t k = -1;
        if (!absl::SimpleAtoi(key, &k) || k < 0 || k > probes) continue;
        int64_t expected = 0;
        if (arrived[static_cast<size_t>(k)].compare_exchange_strong(expected, NanosSince(base))) {
          ++observed;
        }
      }
    }
    (*consumer)->Close();
  });

  absl::Status produce_status;
  std::atomic<int64_t> failed_deliveries{0};
  auto producer = engine::Producer::Create(
      brokers, {}, [&](const engine::Producer::Delivery& d) {
        if (!d.status.ok()) ++failed_deliveries;
      });
  auto finish = [&](absl::Status s) -> absl::Status {
    observer_stop = true;
    engine_stop = true;
    observer.join();
    engine_thread.join();
    return s;
  };
  if (!producer.ok()) return finish(producer.status());

  // Warm-up: probe 0 must come through (the engine and the observer joined their
  // groups) before the clock starts.
  sent[0] = NanosSince(base);
  {
    const guanxi::v1::Event warm = Probe(0, occurred.front());
    if (auto s = (*producer)->Produce(topic, warm.customer_id(), warm.SerializeAsString(), 0);
        !s.ok()) {
      return finish(s);
    }
    (*producer)->Flush(absl::Seconds(30));
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    while (arrived[0].load() == 0 && Clock::now() < deadline && observer_status.ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (arrived[0].load() == 0) {
      return finish(absl::DeadlineExceededError(absl::StrCat(
          "the warm-up probe did not appear on ", options.observe_topic, " within 120 s",
          observer_status.ok() ? "" : absl::StrCat(" (observer: ", observer_status.message(), ")"))));
    }
  }
  std::cerr << "latency: engine live; warm-up probe seen after "
            << Fixed(static_cast<double>(arrived[0].load() - sent[0].load()) / 1e6, 0)
            << " ms; offering " << Thousands(static_cast<int64_t>(options.rate))
            << " events/s for " << options.seconds << " s\n";

  // The offered load: event i is due at i / rate.
  int64_t before_appended = 0;
  {
    std::lock_guard<std::mutex> lock(totals_mu);
    before_appended = engine_totals.appended;
  }
  app::Progress progress(std::cerr, "latency (offered load)", isatty(STDERR_FILENO) != 0);
  const auto start = Clock::now();
  size_t next_stream = 0;
  int64_t k = 0;
  std::string buffer;
  for (int64_t i = 0; i < offered; ++i) {
    if (i % 16 == 0) {
      std::this_thread::sleep_until(
          start + std::chrono::duration_cast<Clock::duration>(
                      std::chrono::duration<double>(static_cast<double>(i) / options.rate)));
    }
    absl::Status s;
    if (i % options.probe_every == options.probe_every - 1 && k < probes) {
      ++k;
      const guanxi::v1::Event probe =
          Probe(k, occurred[next_stream > 0 ? next_stream - 1 : 0]);
      probe.SerializeToString(&buffer);
      sent[static_cast<size_t>(k)] = NanosSince(base);
      s = (*producer)->Produce(topic, probe.customer_id(), buffer, static_cast<uint64_t>(i));
    } else if (next_stream < stream.size()) {
      s = (*producer)->Produce(topic, stream.keys[next_stream], stream.values[next_stream],
                               static_cast<uint64_t>(i));
      ++next_stream;
    }
    if (!s.ok()) return finish(s);
    if (i % 1024 == 0) {
      (*producer)->Poll(absl::ZeroDuration());
      progress.Update(i, offered, i, "events offered");
    }
  }
  const double offer_seconds = SecondsSince(start);
  (*producer)->Flush(absl::Seconds(60));
  progress.Finish();

  // Let the last probes through (bounded).
  const auto grace = Clock::now() + std::chrono::seconds(30);
  while (observed.load() < k + 1 && Clock::now() < grace) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double drained_after = SecondsSince(start) - offer_seconds;
  int64_t appended = 0;
  {
    std::lock_guard<std::mutex> lock(totals_mu);
    appended = engine_totals.appended - before_appended;
  }
  const absl::Status stopped = finish(absl::OkStatus());
  if (!engine_status.ok()) return engine_status;
  if (!observer_status.ok()) return observer_status;
  (void)stopped;

  std::vector<double> all;
  std::vector<double> window_p50, window_p99;
  const double window_seconds = 5;
  std::vector<std::vector<double>> windows;
  int64_t missing = 0;
  for (int64_t j = 1; j <= k; ++j) {
    const int64_t a = arrived[static_cast<size_t>(j)].load();
    const int64_t s = sent[static_cast<size_t>(j)].load();
    if (a == 0) {
      ++missing;
      continue;
    }
    const double ms = static_cast<double>(a - s) / 1e6;
    all.push_back(ms);
    const double at = static_cast<double>(s) / 1e9 -
                      std::chrono::duration<double>(start - base).count();
    const size_t w = static_cast<size_t>(std::max(0.0, at) / window_seconds);
    if (windows.size() <= w) windows.resize(w + 1);
    windows[w].push_back(ms);
  }
  for (auto& w : windows) {
    std::sort(w.begin(), w.end());
    window_p50.push_back(Percentile(w, 0.5));
    window_p99.push_back(Percentile(w, 0.99));
  }

  Result r = Summary(all);
  Put(r, "observe_topic", options.observe_topic);
  Put(r, "model_refit_days", config.classification().model_refit_days());
  {
    std::string properties;
    for (const auto& [name, value] : options.engine_properties) {
      absl::StrAppend(&properties, properties.empty() ? "" : ",", name, "=", value);
    }
    Put(r, "engine_properties", properties);
  }
  Put(r, "offered_events", offered);
  Put(r, "offered_rate_target", options.rate);
  Put(r, "offered_rate_achieved", static_cast<double>(offered) / offer_seconds);
  Put(r, "offer_seconds", offer_seconds);
  Put(r, "probes", k);
  Put(r, "probe_every", options.probe_every);
  Put(r, "probes_missing", missing);
  Put(r, "partitions", options.partitions);
  Put(r, "engine_appended_during_run", appended);
  Put(r, "drain_seconds_after_offer", drained_after);
  Put(r, "observer_messages_seen", messages_seen.load());
  Put(r, "failed_deliveries", failed_deliveries.load());
  Put(r, "background", facts.description);
  Put(r, "window_seconds", window_seconds);
  Put(r, "window_p50_ms", window_p50);
  Put(r, "window_p99_ms", window_p99);
  std::cerr << "latency: " << all.size() << " probes: p50 " << Fixed(Number(r, "p50_ms"), 1)
            << " ms, p99 " << Fixed(Number(r, "p99_ms"), 1) << " ms, p999 "
            << Fixed(Number(r, "p999_ms"), 1) << " ms; " << missing << " missing\n";
  return r;
}

}  // namespace guanxi::bench
