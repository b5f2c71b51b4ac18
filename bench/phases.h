// The benchmark phases of guanxi_bench (bench/README.md says what each measures). Each
// returns its figures as a JSON object; progress goes to stderr. A phase that cannot
// measure what it promises (a broker that truncated the input, an engine that failed)
// returns an error rather than a misleading figure.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/bench_util.h"

namespace guanxi::bench {

// 2 (and the Kafka limit of 1): simulated events pre-produced to an embedded broker
// (proved complete by the watermarks), consumed raw (librdkafka, discard), then ingested
// by an in-process IngestEngine with every projection on, until caught up (appended,
// projected, outbox delivered). Leaves the engine's data in `data_dir` for the replay.
struct IngestOptions {
  int64_t events = 1'000'000;
  int partitions = 16;
  uint64_t seed = 1;
  std::string data_dir{};
  size_t max_batch = 5000;  // IngestEngineOptions::max_batch
  bool wrapper_consume = true;
  // Also ingest the same events a second time with population-model refits off
  // (model_refit_days = 3650), to show what the refits cost.
  bool diagnose_refits = false;
};
absl::StatusOr<Result> IngestPhase(const IngestOptions& options);
// 2 on an Apache Kafka cluster at `brokers`: the same events produced to topics of the
// run's own there (UseOwnTopics, one replica), then ingested by the engine in this
// process until caught up. Where the broker shares the machine's cores with the engine,
// its rate is lower than IngestPhase's (whose broker is librdkafka's mock, in process):
// the latency phases on that cluster offer half of this one.
absl::StatusOr<Result> KafkaIngestPhase(const IngestOptions& options, const std::string& brokers);

// 1: RocksDB's own write limit: /usr/bin/db_bench fillseq, WAL on, sync off, lz4.
struct DbBenchOptions {
  int64_t num = 1'000'000;
  int64_t value_size = 200;
  int64_t batch_size = 1;
  std::string db_dir{};
  std::string binary = "db_bench";
};
absl::StatusOr<Result> DbBenchPhase(const DbBenchOptions& options);

// 3: every partition's projections rebuilt from its log into a fresh store (as `guanxi
// replay` does), timed without the comparison; then compared with the live store.
// Sequentially (one partition after another, as `guanxi replay` runs), and with
// `threads` partitions at a time.
absl::StatusOr<Result> ReplayPhase(const std::string& data_dir, const std::string& scratch_dir,
                                   int threads);

// 4: a live engine fed at a fixed offered rate; every `probe_every` events a probe whose
// produce time is kept: a champion contact leaving a probe customer of its own (whose
// champion joined about a second earlier), which raises a churn warning at once
// (champion_left, watch level). Latency = the probe's RAISED notice on `observe_topic` (matched by
// its warning_id, which names the probe event) - its produce time. With observe_topic = the changes
// topic, the first RelationshipChange the probe event caused instead.
struct LatencyOptions {
  double rate = 10'000;  // offered events per second (probes and their setups included)
  double seconds = 30;
  int partitions = 16;
  uint64_t seed = 1;
  int64_t probe_every = 100;
  std::string observe_topic = "guanxi.churn-warnings";
  std::string data_dir{};
  // classification.model_refit_days for the engine (0: the default); the diagnostic run
  // sets 3650 to show what the periodic population-model refits do to latency.
  int32_t model_refit_days = 0;
  // Extra librdkafka properties for the engine's clients (KafkaConfig.properties: its
  // consumer, outbox producer and dead-letter producer alike), e.g. {"linger.ms", "0"}.
  std::vector<std::pair<std::string, std::string>> engine_properties{};
  // A Kafka cluster to run on (bootstrap servers; PLAINTEXT). Empty: librdkafka's mock
  // cluster in this process (three brokers). On a cluster the phase makes topics and
  // consumer groups of its own, named after the run ("<name>.bench-<unix time>-<pid>"),
  // so runs on one cluster never read each other's messages.
  std::string brokers{};
  int replication_factor = 1;  // of those topics
};
// The phase's result names its broker ("broker"); this one when `brokers` is empty.
inline constexpr char kEmbeddedBrokerDescription[] =
    "librdkafka's mock cluster in this process, 3 brokers";
absl::StatusOr<Result> LatencyPhase(const LatencyOptions& options);

// 5: a population of `customers` (two events each) produced to a broker in this
// process, then ingested by `guanxi run --until-caught-up` as a child process; its peak
// RSS comes from wait4 (the broker's memory is ours, not the child's).
struct MemoryOptions {
  int64_t customers = 1'000'000;
  int partitions = 32;
  uint64_t seed = 1;
  std::string data_dir{};
  std::string guanxi_binary{};
};
absl::StatusOr<Result> MemoryPhase(const MemoryOptions& options);

// 6, the workload: `events` simulated events through the engine's own ingest path
// without Kafka (PartitionIngestor::Process in batches of `batch`: decode, validate,
// EventLog::Append) and a PartitionProjector catching up after every batch, on one
// thread, one partition. Everything between the start and the end of
// RunCostWorkload is what callgrind counts. The population-model refits (gathering the
// figures, fitting, reclassifying) take about a sixth of the instructions (16% at
// 6ea51bb), and what they cost per event depends on the population (sized to `events`:
// the simulator's year) and on how the fits converge on it, so instructions per event
// compare only between runs of the same size.
struct CostOptions {
  int64_t events = 5'000;
  size_t batch = 500;
  uint64_t seed = 1;
  std::string data_dir{};
};
absl::StatusOr<Result> CostPhase(const CostOptions& options);

// 6: the workload above under `valgrind --tool=callgrind`, counting only
// RunCostWorkload; instructions per event, and the function breakdown
// (callgrind_annotate) written to `annotate_path`.
struct CallgrindOptions {
  CostOptions cost{};
  std::string self_binary{};
  std::string out_file{};       // callgrind's output
  std::string annotate_path{};  // the readable profile
};
absl::StatusOr<Result> CallgrindPhase(const CallgrindOptions& options);

// 7: bench/churn_quality (the churn issue's harness) if it was built next to this
// binary; NotFound otherwise.
absl::StatusOr<Result> ChurnQualityPhase(const std::string& binary);

}  // namespace guanxi::bench
