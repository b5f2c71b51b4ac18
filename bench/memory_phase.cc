// Phase 5: the engine's peak RSS while it ingests a population, measured on `guanxi run`
// as a child process (so the embedded broker, which lives here, is not counted).
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "bench/phases.h"
#include "bench/workload.h"
#include "common/status_macros.h"
#include "engine/config/config.h"
#include "engine/kafka/kafka.h"
#include "engine/kafka/topics.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/event_log.h"
#include "engine/storage/projection_store.h"

namespace guanxi::bench {

absl::StatusOr<Result> MemoryPhase(const MemoryOptions& options) {
  const guanxi::v1::EngineConfig config = engine::DefaultEngineConfig();
  const std::string& topic = config.kafka().events_topic();
  Result r;
  Messages messages;
  ASSIGN_OR_RETURN(const StreamFacts facts,
                   PopulationStream(options.customers, options.seed, Into(messages)));
  Put(r, "input", facts.description);
  Put(r, "customers", facts.customers);
  Put(r, "events", facts.events);
  Put(r, "partitions", options.partitions);

  ASSIGN_OR_RETURN(auto cluster, engine::EmbeddedCluster::Start(3));
  RETURN_IF_ERROR(engine::CreateGuanxiTopics(*cluster, config.kafka(), options.partitions));
  const std::string brokers = cluster->bootstrap_servers();
  ASSIGN_OR_RETURN(const ProduceReport produced, ProduceAndProve(brokers, topic, options.partitions,
                                                                 messages, "produce population"));
  Put(r, "produce", produced.ToResult());
  if (!produced.complete) {
    return absl::FailedPreconditionError(
        absl::StrCat("the embedded broker did not keep all ", produced.produced, " messages on ",
                     options.partitions, " partitions: use more partitions (--memory-partitions)"));
  }
  std::cerr << "memory: " << Thousands(produced.produced) << " messages on " << options.partitions
            << " partitions, nothing truncated; starting guanxi run --until-caught-up\n";
  messages = Messages();

  std::error_code ec;
  std::filesystem::remove_all(options.data_dir, ec);
  ASSIGN_OR_RETURN(const ChildResult child,
                   RunChild({options.guanxi_binary, "run", "--data", options.data_dir, "--brokers",
                             brokers, "--until-caught-up"},
                            {.sample_peak_rss = true}));
  if (child.exit_code != 0) {
    return absl::InternalError(absl::StrCat(
        "guanxi run exited with ", child.exit_code,
        child.signal != 0 ? absl::StrCat(" (signal ", child.signal, ")") : std::string()));
  }
  // VmHWM, sampled: wait4's ru_maxrss would be ours (we held the population when we
  // spawned it; Linux carries that into the child's maxrss at its exec).
  Put(r, "engine_peak_rss_bytes", child.peak_rss_bytes);
  Put(r, "engine_peak_rss_mib", static_cast<double>(child.peak_rss_bytes) / (1024.0 * 1024.0));
  Put(r, "engine_ru_maxrss_bytes", child.max_rss_bytes);
  Put(r, "engine_wall_seconds", child.wall_seconds);
  Put(r, "engine_user_seconds", child.user_seconds);
  Put(r, "engine_system_seconds", child.system_seconds);
  Put(r, "engine_events_per_second", static_cast<double>(facts.events) / child.wall_seconds);
  Put(r, "bench_process_peak_rss_bytes", PeakRssBytes());

  // The population is really there: one state per customer.
  int64_t states = 0;
  ASSIGN_OR_RETURN(const std::vector<int32_t> partitions, engine::ListPartitions(options.data_dir));
  for (int32_t p : partitions) {
    engine::EventLogOptions log_options{.mode = engine::OpenMode::kReadOnly};
    log_options.extra_column_families = engine::ProjectionStore::ColumnFamilies();
    ASSIGN_OR_RETURN(
        auto log, engine::EventLog::Open(engine::PartitionDir(options.data_dir, p), log_options));
    ASSIGN_OR_RETURN(auto store, engine::ProjectionStore::Attach(log.get()));
    RETURN_IF_ERROR(store->ForEachState([&](const guanxi::v1::CustomerState&) {
      ++states;
      return true;
    }));
  }
  Put(r, "customer_states_after", states);
  std::cerr << "memory: guanxi run peak RSS "
            << Fixed(static_cast<double>(child.peak_rss_bytes) / (1024.0 * 1024.0), 0)
            << " MiB with " << Thousands(states) << " customer states; "
            << Fixed(child.wall_seconds, 1) << " s\n";
  return r;
}

}  // namespace guanxi::bench
