// Phase 2 (and the Kafka limit): pre-produce, prove, consume raw, ingest with the engine.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "app/progress.h"
#include "bench/consume_limits.h"
#include "bench/own_topics.h"
#include "bench/phases.h"
#include "bench/workload.h"
#include "common/status_macros.h"
#include "engine/config/config.h"
#include "engine/ingest/ingest_engine.h"
#include "engine/kafka/kafka.h"
#include "engine/kafka/topics.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/event_log.h"
#include "engine/storage/projection_store.h"

namespace guanxi::bench {
namespace {

// What the engine left in its logs: record sizes and how many events one Append carried.
struct LogFacts {
  int64_t records = 0;
  int64_t events = 0;
  int64_t models = 0;
  int64_t models_with_bgnbd = 0;
  int64_t models_bgnbd_converged = 0;
  int64_t ticks = 0;
  int64_t event_record_bytes = 0;  // serialized LogRecord bytes of the event records
  int64_t record_bytes = 0;
  int64_t event_appends = 0;  // Appends that carried at least one event
  int64_t appends = 0;
  int64_t unprojected = 0;  // records beyond a partition's projection checkpoint
};

// Each Append stamps all its records with one recorded_at (to the nanosecond), so a
// run of equal recorded_at in position order is one Append.
absl::StatusOr<LogFacts> ReadLogFacts(const std::string& data_dir) {
  LogFacts f;
  ASSIGN_OR_RETURN(const std::vector<int32_t> partitions, engine::ListPartitions(data_dir));
  for (int32_t p : partitions) {
    engine::EventLogOptions options{.mode = engine::OpenMode::kReadOnly};
    options.extra_column_families = engine::ProjectionStore::ColumnFamilies();
    ASSIGN_OR_RETURN(auto log, engine::EventLog::Open(engine::PartitionDir(data_dir, p), options));
    int64_t last_seconds = -1, last_nanos = -1;
    bool run_has_event = false;
    auto end_run = [&] {
      if (last_seconds < 0) return;
      ++f.appends;
      if (run_has_event) ++f.event_appends;
    };
    RETURN_IF_ERROR(log->ReadRange(0, log->next_position(), [&](const guanxi::v1::LogRecord& r) {
      const int64_t bytes = static_cast<int64_t>(r.ByteSizeLong());
      ++f.records;
      f.record_bytes += bytes;
      if (r.recorded_at().seconds() != last_seconds || r.recorded_at().nanos() != last_nanos) {
        end_run();
        last_seconds = r.recorded_at().seconds();
        last_nanos = r.recorded_at().nanos();
        run_has_event = false;
      }
      if (r.has_event()) {
        ++f.events;
        f.event_record_bytes += bytes;
        run_has_event = true;
      } else if (r.has_model()) {
        ++f.models;
        if (r.model().has_bgnbd()) {
          ++f.models_with_bgnbd;
          if (r.model().bgnbd().converged()) ++f.models_bgnbd_converged;
        }
      } else if (r.has_tick()) {
        ++f.ticks;
      }
      return true;
    }));
    end_run();
    ASSIGN_OR_RETURN(auto store, engine::ProjectionStore::Attach(log.get()));
    ASSIGN_OR_RETURN(const auto checkpoint, store->ReadCheckpoint());
    f.unprojected += static_cast<int64_t>(log->next_position() - checkpoint.next_position());
  }
  return f;
}

// The sum of the high watermarks of a topic: how many messages were ever produced to it
// (the mock broker may have dropped old ones; the watermark still counts them).
absl::StatusOr<int64_t> MessagesOn(const std::string& brokers, const std::string& topic,
                                   int partitions) {
  struct None final : engine::RebalanceListener {
    std::vector<int64_t> OnAssigned(const std::vector<engine::TopicPartition>& p) override {
      return std::vector<int64_t>(p.size(), engine::kOffsetBeginning);
    }
    void OnRevoked(const std::vector<engine::TopicPartition>&) override {}
  } listener;
  ASSIGN_OR_RETURN(auto consumer,
                   engine::Consumer::Create(brokers, "guanxi-bench-count", {}, &listener));
  int64_t sum = 0;
  for (int32_t p = 0; p < partitions; ++p) {
    ASSIGN_OR_RETURN(const auto marks, consumer->QueryWatermarks(topic, p, absl::Seconds(30)));
    sum += marks.second;
  }
  consumer->Close();
  return sum;
}

// One IngestEngine run, in this process, until caught up; its figures.
absl::StatusOr<Result> RunEngine(const std::string& brokers, const std::string& data_dir,
                                 const guanxi::v1::EngineConfig& config, int64_t n,
                                 size_t max_batch, const std::string& label) {
  std::error_code ec;
  std::filesystem::remove_all(data_dir, ec);
  std::mutex mu;
  std::vector<double> timeline_t, timeline_appended;
  const auto start = Clock::now();
  app::Progress progress(std::cerr, label, isatty(STDERR_FILENO) != 0);
  engine::IngestEngine engine({
      .brokers = brokers,
      .data_dir = data_dir,
      .config = config,
      .until_caught_up = true,
      .max_batch = max_batch,
      .on_progress =
          [&](const engine::IngestStats& t, size_t) {
            std::lock_guard<std::mutex> lock(mu);
            timeline_t.push_back(SecondsSince(start));
            timeline_appended.push_back(static_cast<double>(t.appended));
            progress.Update(t.messages, n, t.messages, "events");
          },
  });
  const double cpu_before = CpuSeconds();
  const std::atomic<bool> stop{false};
  const absl::Status status = engine.Run(stop);
  const double wall = SecondsSince(start);
  const double cpu = CpuSeconds() - cpu_before;
  progress.Finish();
  if (!status.ok()) return status;
  const engine::IngestStats& totals = engine.totals();
  if (totals.appended != n || totals.dead_letters != 0) {
    return absl::InternalError(absl::StrCat("the engine appended ", totals.appended, " of ", n,
                                            " events (", totals.dead_letters, " dead letters)"));
  }

  // When did the appends start and end (to the second: on_progress comes once a second)?
  double first_append = 0, last_append = wall;
  for (size_t i = 0; i < timeline_t.size(); ++i) {
    if (first_append == 0 && timeline_appended[i] > 0) first_append = timeline_t[i];
    if (timeline_appended[i] >= static_cast<double>(n)) {
      last_append = timeline_t[i];
      break;
    }
  }
  Result ingest;
  Put(ingest, "events", n);
  Put(ingest, "wall_seconds", wall);
  Put(ingest, "events_per_second", static_cast<double>(n) / wall);
  Put(ingest, "first_append_by_seconds", first_append);
  Put(ingest, "all_appended_by_seconds", last_append);
  Put(ingest, "append_phase_events_per_second",
      last_append > first_append ? static_cast<double>(n) / (last_append - first_append) : 0.0);
  Put(ingest, "process_cpu_seconds", cpu);
  Put(ingest, "process_cpu_microseconds_per_event", cpu * 1e6 / static_cast<double>(n));
  Put(ingest, "max_batch", static_cast<int64_t>(max_batch));
  Put(ingest, "timeline_seconds", timeline_t);
  Put(ingest, "timeline_appended", timeline_appended);
  Put(ingest, "models_appended", totals.models);
  return ingest;
}

}  // namespace

absl::StatusOr<Result> IngestPhase(const IngestOptions& options) {
  Result r;
  const guanxi::v1::EngineConfig config = engine::DefaultEngineConfig();
  const std::string& topic = config.kafka().events_topic();

  Messages messages;
  ASSIGN_OR_RETURN(const StreamFacts facts,
                   SimulatedStream(options.events, options.seed, Into(messages)));
  Result& input = Child(r, "input");
  Put(input, "description", facts.description);
  Put(input, "events", facts.events);
  Put(input, "customers", facts.customers);
  Put(input, "days", facts.days);
  Put(input, "seed", options.seed);
  Put(input, "partitions", options.partitions);
  Put(input, "mean_kafka_value_bytes",
      static_cast<double>(messages.bytes) / static_cast<double>(messages.size()));

  ASSIGN_OR_RETURN(auto cluster, engine::EmbeddedCluster::Start(3));
  RETURN_IF_ERROR(engine::CreateGuanxiTopics(*cluster, config.kafka(), options.partitions));
  const std::string brokers = cluster->bootstrap_servers();
  ASSIGN_OR_RETURN(const ProduceReport produced,
                   ProduceAndProve(brokers, topic, options.partitions, messages, "produce"));
  Put(r, "produce", produced.ToResult());
  if (!produced.complete) {
    return absl::FailedPreconditionError(
        absl::StrCat("the embedded broker did not keep all ", produced.produced, " messages on ",
                     options.partitions,
                     " partitions (it keeps about 5 MiB per partition): use more "
                     "partitions (--partitions)"));
  }
  std::cerr << "produce: " << Thousands(produced.produced) << " messages on " << options.partitions
            << " partitions; every log start offset is 0 and the high "
            << "watermarks sum to " << Thousands(produced.produced) << ": nothing truncated\n";
  const int64_t n = static_cast<int64_t>(messages.size());
  messages = Messages();  // the broker has them; free ours

  ASSIGN_OR_RETURN(const ConsumeReport raw, RawConsume(brokers, topic, options.partitions, n));
  Put(r, "raw_consume", raw.ToResult());
  if (options.wrapper_consume) {
    ASSIGN_OR_RETURN(const ConsumeReport wrapped,
                     WrapperConsume(brokers, topic, n, options.max_batch));
    Put(r, "wrapper_consume", wrapped.ToResult());
  }
  std::cerr << "consume: raw librdkafka "
            << Thousands(
                   static_cast<int64_t>(Number(Object(r, "raw_consume"), "messages_per_second")))
            << " messages/s, engine::Consumer "
            << Thousands(static_cast<int64_t>(
                   Number(Object(r, "wrapper_consume"), "messages_per_second")))
            << " messages/s\n";

  // The engine, in this process (the broker is here too), until caught up.
  ASSIGN_OR_RETURN(Result ingest, RunEngine(brokers, options.data_dir, config, n, options.max_batch,
                                            "ingest (guanxi run, in process)"));
  Put(r, "ingest", ingest);

  ASSIGN_OR_RETURN(const int64_t changes,
                   MessagesOn(brokers, config.kafka().changes_topic(), options.partitions));
  ASSIGN_OR_RETURN(const int64_t warnings,
                   MessagesOn(brokers, config.kafka().warnings_topic(), options.partitions));
  Put(Child(r, "ingest"), "relationship_changes_published", changes);
  Put(Child(r, "ingest"), "churn_warnings_published", warnings);

  ASSIGN_OR_RETURN(const LogFacts logs, ReadLogFacts(options.data_dir));
  Result& log = Child(r, "log");
  Put(log, "records", logs.records);
  Put(log, "event_records", logs.events);
  Put(log, "model_records", logs.models);
  Put(log, "model_records_with_bgnbd", logs.models_with_bgnbd);
  Put(log, "model_records_bgnbd_converged", logs.models_bgnbd_converged);
  Put(log, "tick_records", logs.ticks);
  Put(log, "mean_event_record_bytes",
      static_cast<double>(logs.event_record_bytes) / static_cast<double>(logs.events));
  Put(log, "mean_record_bytes",
      static_cast<double>(logs.record_bytes) / static_cast<double>(logs.records));
  Put(log, "appends", logs.appends);
  Put(log, "appends_with_events", logs.event_appends);
  Put(log, "mean_events_per_append",
      static_cast<double>(logs.events) / static_cast<double>(logs.event_appends));
  Put(log, "records_not_projected", logs.unprojected);
  const double wall = Number(ingest, "wall_seconds");
  std::cerr << "ingest: " << Thousands(n) << " events in " << Fixed(wall, 1)
            << " s = " << Thousands(static_cast<int64_t>(static_cast<double>(n) / wall))
            << " events/s; mean LogRecord " << Fixed(Number(log, "mean_event_record_bytes"), 1)
            << " B; " << Fixed(Number(log, "mean_events_per_append"), 1) << " events per append\n";

  // Diagnostic: the same events, the same broker, a second consumer group, with the
  // population models fitted only once per partition (model_refit_days = 3650): how much
  // of the ingest time the periodic refits take.
  if (options.diagnose_refits) {
    guanxi::v1::EngineConfig no_refits = config;
    no_refits.mutable_classification()->set_model_refit_days(3650);
    no_refits.mutable_kafka()->set_group_id("guanxi-bench-refits-off");
    const std::string dir = absl::StrCat(options.data_dir, "-refits-off");
    ASSIGN_OR_RETURN(Result diag, RunEngine(brokers, dir, no_refits, n, options.max_batch,
                                            "ingest, refits off (diagnostic)"));
    Put(diag, "note",
        "diagnostic: classification.model_refit_days = 3650 (one fit per "
        "partition, at its start); otherwise identical");
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    std::cerr << "ingest, refits off: " << Fixed(Number(diag, "events_per_second"), 0)
              << " events/s\n";
    Put(r, "ingest_refits_off", diag);
  }
  return r;
}

absl::StatusOr<Result> KafkaIngestPhase(const IngestOptions& options, const std::string& brokers) {
  Result r;
  guanxi::v1::EngineConfig config = engine::DefaultEngineConfig();
  RETURN_IF_ERROR(UseOwnTopics(brokers, options.partitions, 1, *config.mutable_kafka()));
  Messages messages;
  ASSIGN_OR_RETURN(const StreamFacts facts,
                   SimulatedStream(options.events, options.seed, Into(messages)));
  Put(r, "input", facts.description);
  Put(r, "broker", absl::StrCat("a Kafka cluster at ", brokers, ", replication factor 1"));
  ASSIGN_OR_RETURN(const ProduceReport produced,
                   ProduceAndProve(brokers, config.kafka().events_topic(), options.partitions,
                                   messages, "produce (Kafka)"));
  Put(r, "produce", produced.ToResult());
  if (!produced.complete) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the Kafka cluster at ", brokers, " holds ", produced.produced, " messages of ",
        messages.size(), " produced"));
  }
  const int64_t n = static_cast<int64_t>(messages.size());
  messages = Messages();
  ASSIGN_OR_RETURN(Result ingest, RunEngine(brokers, options.data_dir, config, n, options.max_batch,
                                            "ingest on Kafka (guanxi run, in process)"));
  std::cerr << "ingest on Kafka: " << Thousands(n) << " events in "
            << Fixed(Number(ingest, "wall_seconds"), 1) << " s = "
            << Thousands(static_cast<int64_t>(Number(ingest, "events_per_second")))
            << " events/s\n";
  Put(r, "ingest", ingest);
  std::error_code ec;
  std::filesystem::remove_all(options.data_dir, ec);
  return r;
}

}  // namespace guanxi::bench
