// Phase 4: event produced -> its churn warning visible on guanxi.churn-warnings, at a
// fixed offered rate.
//
// A probe is an event that raises a churn warning the moment it is applied: a champion
// contact leaving (`champion_left`, 7 points = warning with the defaults, RAISED at once;
// docs/scoring.md section 6; the `churn_risk` reason is off: LatencyPhase says why).
// Every probe has its own customer ("probe-<k>"), so every probe opens a new episode. The customer's setup, its first event (the champion
// joining), is produced about a second of offered load before the probe, in place of a
// background event (so the offered rate stays what was asked, and probe customers appear
// as the run goes, as new customers do). A probe is matched to the RAISED notice whose
// warning_id names it as the cause ("probe-<k>/event:<probe's event_id>"), so nothing
// else on the topic (another customer's warning, a later notice of the same episode)
// can be mistaken for it.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "app/progress.h"
#include "bench/own_topics.h"
#include "bench/phases.h"
#include "bench/workload.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "engine/config/config.h"
#include "engine/ingest/ingest_engine.h"
#include "engine/kafka/kafka.h"
#include "engine/kafka/topics.h"
#include "engine/trace/stage_tracer.h"
#include "guanxi/v1/warning.pb.h"

namespace guanxi::bench {
namespace {

constexpr std::string_view kProbePrefix = "probe-";
// How long (of offered load) before its probe a probe customer is set up.
constexpr double kSetupLeadSeconds = 1.0;

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

std::string ProbeCustomer(int64_t k) { return absl::StrCat(Sv(kProbePrefix), k); }

guanxi::v1::Event ProbeEvent(int64_t k, std::string_view what, int64_t occurred_at_seconds) {
  guanxi::v1::Event e;
  const std::string customer = ProbeCustomer(k);
  e.set_event_id(absl::StrCat(customer, "/", Sv(what)));
  e.set_customer_id(customer);
  e.set_source("guanxi-bench");
  e.mutable_occurred_at()->set_seconds(occurred_at_seconds);
  return e;
}

void SetChampion(guanxi::v1::Event& e, int64_t k, guanxi::v1::ContactChangeKind change) {
  auto* c = e.mutable_contact_change();
  c->set_contact_id(absl::StrCat(ProbeCustomer(k), "/champion"));
  c->set_change(change);
  c->set_role(guanxi::v1::CONTACT_ROLE_DECISION_MAKER);
  c->set_level(guanxi::v1::CONTACT_LEVEL_EXECUTIVE);
  c->set_champion(true);
  c->set_name(absl::StrCat("Probe champion ", k));
}

// Probe k's customer before the probe, its first event: a champion joins. It holds no
// churn reason (the customer never bought, so inactivity is not checked).
guanxi::v1::Event ProbeSetup(int64_t k, int64_t occurred_at_seconds) {
  guanxi::v1::Event e = ProbeEvent(k, "champion-joined", occurred_at_seconds);
  SetChampion(e, k, guanxi::v1::CONTACT_CHANGE_KIND_JOINED);
  return e;
}

// The probe: the champion leaves. Carries the event time of the stream event before it,
// so probes do not move any partition's clock.
guanxi::v1::Event Probe(int64_t k, int64_t occurred_at_seconds) {
  guanxi::v1::Event e = ProbeEvent(k, "champion-left", occurred_at_seconds);
  SetChampion(e, k, guanxi::v1::CONTACT_CHANGE_KIND_LEFT);
  return e;
}

// What a message derived from probe k's probe event is named by: the warning_id of the
// episode it raised, or the prefix of a relationship change's change_id (the projections
// name what they derive by its cause; docs/scoring.md).
std::string ProbeCause(int64_t k) {
  return absl::StrCat(ProbeCustomer(k), "/event:", ProbeCustomer(k), "/champion-left");
}

int64_t NanosSince(Clock::time_point base) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - base).count();
}

// Follows each probe event through the engine (engine::StageTracer): when (NanosSince
// base) it reached each stage. Consumed and published carry no event id: a consumed
// message of a probe customer counts as the probe's when the probe is what the same
// poll appended (its setup went out about a second before), and a published message
// as the probe's once the probe was committed (the setup raises no warning, and its
// changes went out long before).
class ProbeTracer final : public engine::StageTracer {
 public:
  static constexpr int kStages = 5;  // StageTracer::Stage, in order
  ProbeTracer(Clock::time_point base, int64_t probes)
      : base_(base),
        consumed_last_(static_cast<size_t>(probes + 1)),
        at_(static_cast<size_t>(kStages * (probes + 1))),
        probes_(probes) {}

  bool Traces(std::string_view customer_id) const override {
    return absl::StartsWith(Sv(customer_id), Sv(kProbePrefix));
  }
  void Reached(Stage stage, std::string_view customer_id, std::string_view event_id) override {
    absl::string_view rest = Sv(customer_id);
    int64_t k = -1;
    if (!absl::ConsumePrefix(&rest, Sv(kProbePrefix)) || !absl::SimpleAtoi(rest, &k) || k < 0 ||
        k > probes_) {
      return;
    }
    const int64_t now = NanosSince(base_);
    switch (stage) {
      case Stage::kConsumed:
        consumed_last_[static_cast<size_t>(k)] = now;
        return;
      case Stage::kPublished:
        if (at(Stage::kCommitted, k) != 0) Set(stage, k, now);
        return;
      default:
        if (!absl::EndsWith(Sv(event_id), "/champion-left")) return;  // the setup
        if (stage == Stage::kAppended) {
          Set(Stage::kConsumed, k, consumed_last_[static_cast<size_t>(k)].load());
        }
        Set(stage, k, now);
    }
  }
  // When probe k reached `stage`; 0: not (yet).
  int64_t at(Stage stage, int64_t k) const { return at_[Index(stage, k)].load(); }

 private:
  static size_t Index(Stage stage, int64_t k) {
    return static_cast<size_t>(k) * kStages + static_cast<size_t>(stage);
  }
  void Set(Stage stage, int64_t k, int64_t value) {
    int64_t expected = 0;
    at_[Index(stage, k)].compare_exchange_strong(expected, value);  // the first time only
  }

  const Clock::time_point base_;
  std::vector<std::atomic<int64_t>> consumed_last_;
  std::vector<std::atomic<int64_t>> at_;
  const int64_t probes_;
};

}  // namespace

absl::StatusOr<Result> LatencyPhase(const LatencyOptions& options) {
  if (options.rate <= 0 || options.seconds <= 0 || options.probe_every < 2) {
    return absl::InvalidArgumentError("latency: rate and seconds must be > 0, probe_every >= 2");
  }
  guanxi::v1::EngineConfig config = engine::DefaultEngineConfig();
  // The probe customers do nothing but gain and lose a champion: once the population
  // holds some of them, the churn risk learns, rightly, that such customers go quiet, and
  // the `churn_risk` reason would open their episode at the setup, before the probe. The
  // reason is off here (its risk is still computed on every event: the same work).
  config.mutable_churn()->mutable_weights()->set_churn_risk(0);
  if (options.model_refit_days > 0) {
    config.mutable_classification()->set_model_refit_days(options.model_refit_days);
  }
  for (const auto& [name, value] : options.engine_properties) {
    auto* property = config.mutable_kafka()->add_properties();
    property->set_name(name);
    property->set_value(value);
  }
  const int64_t offered = static_cast<int64_t>(std::ceil(options.rate * options.seconds));
  const int64_t probes = offered / options.probe_every;
  // Probe k's setup goes out `lead` probes (about kSetupLeadSeconds) before it: in the
  // first slot of an earlier window of probe_every events, as part of the offered load;
  // the setups of probes 0..lead before the clock starts.
  const int64_t lead = std::max<int64_t>(
      1, static_cast<int64_t>(std::ceil(options.rate * kSetupLeadSeconds /
                                        static_cast<double>(options.probe_every))));
  const int64_t setups_in_load = std::max<int64_t>(0, probes - lead);

  // The background: the simulated stream, in event-time order; a probe and a setup carry
  // the event time of the stream event before it, so they do not move any partition's
  // clock.
  Messages stream;
  std::vector<int64_t> occurred;
  ASSIGN_OR_RETURN(const StreamFacts facts,
                   SimulatedStream(offered - probes - setups_in_load + 1, options.seed,
                                   [&](const guanxi::v1::Event& e) {
                                     stream.Add(e);
                                     occurred.push_back(e.occurred_at().seconds());
                                   }));

  // The observed topic by its role: on a cluster the run's topics have names of their own.
  const bool on_warnings = options.observe_topic == config.kafka().warnings_topic();
  if (!on_warnings && options.observe_topic != config.kafka().changes_topic()) {
    return absl::InvalidArgumentError(
        absl::StrCat("latency: the observed topic must be ", config.kafka().warnings_topic(),
                     " or ", config.kafka().changes_topic(), ", not ", options.observe_topic));
  }
  std::unique_ptr<engine::EmbeddedCluster> cluster;
  std::string brokers = options.brokers;
  if (brokers.empty()) {
    ASSIGN_OR_RETURN(cluster, engine::EmbeddedCluster::Start(3));
    RETURN_IF_ERROR(engine::CreateGuanxiTopics(*cluster, config.kafka(), options.partitions));
    brokers = cluster->bootstrap_servers();
  } else {
    RETURN_IF_ERROR(UseOwnTopics(options.brokers, options.partitions, options.replication_factor,
                                 *config.mutable_kafka()));
  }
  const std::string& topic = config.kafka().events_topic();
  const std::string& observe_topic =
      on_warnings ? config.kafka().warnings_topic() : config.kafka().changes_topic();

  // The engine, live (not until caught up), in this process.
  std::error_code ec;
  std::filesystem::remove_all(options.data_dir, ec);
  const auto base = Clock::now();
  ProbeTracer tracer(base, probes);
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
                                 },
                                 .tracer = &tracer});
    engine_status = engine.Run(engine_stop);
  });

  // The observer: for each probe, the first message on the topic that names the probe
  // event as its cause (on the warnings topic: the RAISED notice of the probe's episode).
  std::vector<std::atomic<int64_t>> sent(static_cast<size_t>(probes + 1));
  std::vector<std::atomic<int64_t>> arrived(static_cast<size_t>(probes + 1));
  std::atomic<int64_t> observed{0};
  std::atomic<int64_t> messages_seen{0};
  // Messages for a probe customer that its probe event did not cause (on the warnings
  // topic: a warning raised by the setup; none are expected, counted to show there were
  // none), and the later notices (ESCALATED, RESOLVED) of the probes' episodes.
  std::atomic<int64_t> other_probe_messages{0};
  std::atomic<int64_t> later_probe_notices{0};
  std::mutex levels_mu;
  std::map<std::string, int64_t> probe_levels;  // RAISED notices of probes, by level
  std::string first_probe_reasons;              // the reasons of the first one
  std::atomic<bool> observer_stop{false};
  std::atomic<bool> observer_failed{false};
  absl::Status observer_status;  // written by the observer before observer_failed
  std::thread observer([&] {
    struct FromStart final : engine::RebalanceListener {
      std::vector<int64_t> OnAssigned(const std::vector<engine::TopicPartition>& p) override {
        return std::vector<int64_t>(p.size(), engine::kOffsetBeginning);
      }
      void OnRevoked(const std::vector<engine::TopicPartition>&) override {}
    } listener;
    auto fail = [&](absl::Status s) {
      observer_status = std::move(s);
      observer_failed = true;
    };
    auto consumer = engine::Consumer::Create(brokers, config.kafka().group_id() + "-observer",
                                             {{"fetch.wait.max.ms", "10"}}, &listener);
    if (!consumer.ok()) return fail(consumer.status());
    if (auto s = (*consumer)->Subscribe({observe_topic}); !s.ok()) return fail(s);
    guanxi::v1::ChurnWarning warning;
    guanxi::v1::RelationshipChange change;
    while (!observer_stop.load()) {
      for (const engine::KafkaMessage& m : (*consumer)->Poll(10'000, absl::Milliseconds(20))) {
        if (!m.error.ok()) continue;
        ++messages_seen;
        // The outbox keys every message by customer_id.
        absl::string_view key = m.key;
        if (!absl::ConsumePrefix(&key, Sv(kProbePrefix))) continue;
        int64_t k = -1;
        if (!absl::SimpleAtoi(key, &k) || k < 0 || k > probes) continue;
        const int64_t at = NanosSince(base);
        bool caused = false;
        if (on_warnings) {
          if (!warning.ParseFromArray(m.value.data(), static_cast<int>(m.value.size())) ||
              warning.warning_id() != ProbeCause(k)) {
            ++other_probe_messages;
            continue;
          }
          // The probe's episode goes on in event time: RESOLVED once the champion_left
          // window (120 days) and the quiet days have passed, which the background
          // stream's clock reaches within the run.
          caused = warning.notice() == guanxi::v1::WARNING_NOTICE_RAISED;
          if (!caused) ++later_probe_notices;
        } else {
          caused = change.ParseFromArray(m.value.data(), static_cast<int>(m.value.size())) &&
                   absl::StartsWith(change.change_id(), absl::StrCat(ProbeCause(k), "/"));
          if (!caused) ++other_probe_messages;
        }
        if (!caused) continue;
        int64_t expected = 0;
        if (!arrived[static_cast<size_t>(k)].compare_exchange_strong(expected, at)) continue;
        ++observed;
        if (on_warnings) {
          std::lock_guard<std::mutex> lock(levels_mu);
          ++probe_levels[guanxi::v1::WarningLevel_Name(warning.level())];
          if (first_probe_reasons.empty()) {
            for (const auto& reason : warning.reasons()) {
              absl::StrAppend(&first_probe_reasons, first_probe_reasons.empty() ? "" : ",",
                              reason.code());
            }
          }
        }
      }
    }
    (*consumer)->Close();
  });

  absl::Status produce_status;
  std::atomic<int64_t> failed_deliveries{0};
  auto producer = engine::Producer::Create(brokers, {}, [&](const engine::Producer::Delivery& d) {
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

  // Warm-up: the setups of probes 0..lead (event time: the stream's first), then probe
  // 0, whose warning must come through (the engine and the observer joined their
  // groups) before the clock starts.
  int64_t setup_events = 0;
  {
    std::string buffer;
    for (int64_t j = 0; j <= std::min(lead, probes); ++j) {
      const guanxi::v1::Event e = ProbeSetup(j, occurred.front());
      e.SerializeToString(&buffer);
      if (auto s = (*producer)->Produce(topic, e.customer_id(), buffer, 0); !s.ok()) {
        return finish(s);
      }
      ++setup_events;
    }
    (*producer)->Flush(absl::Seconds(60));
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    auto appended = [&] {
      std::lock_guard<std::mutex> lock(totals_mu);
      return engine_totals.appended;
    };
    while (appended() < setup_events && Clock::now() < deadline && !observer_failed.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (const int64_t got = appended(); got < setup_events) {
      (void)finish(absl::OkStatus());  // the engine's own status, once it has stopped
      return absl::DeadlineExceededError(absl::StrCat(
          "latency: the engine appended ", got, " of the ", setup_events,
          " probe setup events within 120 s",
          engine_status.ok() ? "" : absl::StrCat(" (the engine: ", engine_status.message(), ")")));
    }
  }
  sent[0] = NanosSince(base);
  {
    const guanxi::v1::Event warm = Probe(0, occurred.front());
    if (auto s = (*producer)->Produce(topic, warm.customer_id(), warm.SerializeAsString(), 0);
        !s.ok()) {
      return finish(s);
    }
    (*producer)->Flush(absl::Seconds(30));
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    while (arrived[0].load() == 0 && Clock::now() < deadline && !observer_failed.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (arrived[0].load() == 0) {
      const bool failed = observer_failed.load();
      return finish(absl::DeadlineExceededError(absl::StrCat(
          "the warm-up probe's ", on_warnings ? "RAISED warning" : "change", " did not appear on ",
          observe_topic, " within 120 s",
          failed ? absl::StrCat(" (observer: ", observer_status.message(), ")") : "")));
    }
  }
  std::cerr << "latency: engine live; warm-up probe seen after "
            << Fixed(static_cast<double>(arrived[0].load() - sent[0].load()) / 1e6, 0)
            << " ms; offering " << Thousands(static_cast<int64_t>(options.rate)) << " events/s for "
            << options.seconds << " s\n";

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
    const int64_t window = i / options.probe_every;
    const int64_t now_seconds = occurred[next_stream > 0 ? next_stream - 1 : 0];
    if (i % options.probe_every == options.probe_every - 1 && k < probes) {
      ++k;  // == window + 1
      const guanxi::v1::Event probe = Probe(k, now_seconds);
      probe.SerializeToString(&buffer);
      sent[static_cast<size_t>(k)] = NanosSince(base);
      s = (*producer)->Produce(topic, probe.customer_id(), buffer, static_cast<uint64_t>(i));
    } else if (i % options.probe_every == 0 && window + 1 + lead <= probes) {
      // The setup of the probe `lead` windows on.
      const guanxi::v1::Event setup = ProbeSetup(window + 1 + lead, now_seconds);
      setup.SerializeToString(&buffer);
      s = (*producer)->Produce(topic, setup.customer_id(), buffer, static_cast<uint64_t>(i));
      ++setup_events;
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
  if (observer_failed.load()) return observer_status;
  (void)stopped;

  std::vector<double> all;
  std::vector<double> window_p50, window_p99;
  const double window_seconds = 5;
  std::vector<std::vector<double>> windows;
  // The 5-second window of offered load probe j was sent in.
  auto window_of = [&](int64_t j) {
    const double at = static_cast<double>(sent[static_cast<size_t>(j)].load()) / 1e9 -
                      std::chrono::duration<double>(start - base).count();
    return static_cast<size_t>(std::max(0.0, at) / window_seconds);
  };
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
    const size_t w = window_of(j);
    if (windows.size() <= w) windows.resize(w + 1);
    windows[w].push_back(ms);
  }
  for (auto& w : windows) {
    std::sort(w.begin(), w.end());
    window_p50.push_back(Percentile(w, 0.5));
    window_p99.push_back(Percentile(w, 0.99));
  }

  Result r = Summary(all);
  // Where the milliseconds go: each stage's time after the one before, over the probes
  // that reached every stage; and its p99 by window, to name the stage of a slow window.
  {
    using Stage = engine::StageTracer::Stage;
    const std::pair<const char*, std::optional<Stage>> stages[] = {
        {"produced_to_consumed", Stage::kConsumed},   {"consumed_to_appended", Stage::kAppended},
        {"appended_to_projected", Stage::kProjected}, {"projected_to_committed", Stage::kCommitted},
        {"committed_to_published", Stage::kPublished}, {"published_to_observed", std::nullopt}};
    std::vector<std::vector<double>> spans(std::size(stages));
    // [stage][window]
    std::vector<std::vector<std::vector<double>>> by_window(
        std::size(stages), std::vector<std::vector<double>>(windows.size()));
    for (int64_t j = 1; j <= k; ++j) {
      std::vector<int64_t> times = {sent[static_cast<size_t>(j)].load()};
      for (const auto& [name, stage] : stages) {
        times.push_back(stage ? tracer.at(*stage, j) : arrived[static_cast<size_t>(j)].load());
      }
      if (std::find(times.begin(), times.end(), 0) != times.end()) continue;
      const size_t w = window_of(j);
      for (size_t i = 0; i < std::size(stages); ++i) {
        const double ms = static_cast<double>(times[i + 1] - times[i]) / 1e6;
        spans[i].push_back(ms);
        if (w < windows.size()) by_window[i][w].push_back(ms);
      }
    }
    Result& by_stage = Child(r, "stages");
    for (size_t i = 0; i < std::size(stages); ++i) {
      std::sort(spans[i].begin(), spans[i].end());
      Result& one = Child(by_stage, stages[i].first);
      Put(one, "samples", static_cast<int64_t>(spans[i].size()));
      Put(one, "p50_ms", Percentile(spans[i], 0.5));
      Put(one, "p99_ms", Percentile(spans[i], 0.99));
      std::vector<double> window_p99_of_stage;
      for (auto& w : by_window[i]) {
        std::sort(w.begin(), w.end());
        window_p99_of_stage.push_back(Percentile(w, 0.99));
      }
      Put(one, "window_p99_ms", window_p99_of_stage);
    }
  }
  Put(r, "observe_topic", observe_topic);
  Put(r, "broker", options.brokers.empty()
                       ? std::string(kEmbeddedBrokerDescription)
                       : absl::StrCat("a Kafka cluster at ", options.brokers,
                                      ", replication factor ", options.replication_factor));
  Put(r, "probe",
      on_warnings ? "a champion contact leaving a probe customer (champion_left): the RAISED "
                    "notice whose warning_id names the probe event"
                  : "a champion contact leaving a probe customer: the first relationship change "
                    "whose change_id names the probe event");
  Put(r, "probe_setup_events", setup_events);
  Put(r, "probe_setup_lead_probes", lead);
  {
    std::lock_guard<std::mutex> lock(levels_mu);
    Result& levels = Child(r, "probe_warning_levels");
    for (const auto& [level, count] : probe_levels) Put(levels, level, count);
    Put(r, "probe_warning_reasons", first_probe_reasons);
  }
  Put(r, "other_probe_messages", other_probe_messages.load());
  Put(r, "later_probe_notices", later_probe_notices.load());
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
