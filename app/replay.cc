// guanxi replay: rebuild every partition's projections from its log into fresh state and
// compare with the live projections.
#include "engine/projection/replay.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <ostream>

#include "absl/strings/str_cat.h"
#include "app/commands.h"
#include "app/progress.h"
#include "common/json_string.h"
#include "common/scratch_dir.h"
#include "engine/config/config.h"
#include "engine/storage/data_dir.h"

namespace guanxi::app {
namespace {

std::atomic<bool> replay_stop{false};

void OnReplayStop(int) { replay_stop.store(true); }

int RunReplay(const Args& args, Io& io) {
  auto config = engine::LoadEngineConfig(args.Get("config"));
  if (!config.ok()) return ReportUsageError(io, config.status());
  const std::string data = args.Get("data");
  const bool json = args.IsSet("json");
  auto partitions = engine::ListPartitions(data);
  if (!partitions.ok()) return ReportFailure(io, partitions.status());

  struct sigaction action = {};
  action.sa_handler = OnReplayStop;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  Progress progress(io.err, "replay", isatty(STDERR_FILENO) != 0);
  uint64_t done_before = 0, total = 0, records = 0, differing = 0;
  std::string json_rows;
  for (int32_t p : *partitions) {
    ScratchDir scratch("guanxi_replay");
    if (scratch.path().empty()) {
      return ReportFailure(io, absl::InternalError("cannot create a scratch directory"));
    }
    auto result = engine::ReplayPartition(
        {.data_dir = data, .partition = p, .scratch_dir = scratch.path(), .config = *config},
        replay_stop, [&](uint64_t applied, uint64_t target) {
          total = std::max(total, done_before + target);
          progress.Update(static_cast<int64_t>(done_before + applied), static_cast<int64_t>(total),
                          static_cast<int64_t>(done_before + applied), "records");
        });
    if (!result.ok()) {
      progress.Finish();
      return ReportFailure(
          io, absl::Status(result.status().code(),
                           absl::StrCat("partition ", p, ": ", result.status().message())));
    }
    if (replay_stop.load()) {
      progress.Finish();
      io.err << "guanxi replay: interrupted\n";
      return kExitFailure;
    }
    done_before += result->replayed_to;
    records += result->replayed_to;
    if (!result->differences.empty()) ++differing;
    if (json) {
      std::string diffs;
      for (const auto& d : result->differences) {
        absl::StrAppend(&diffs, diffs.empty() ? "" : ",", JsonString(d));
      }
      absl::StrAppend(&json_rows, json_rows.empty() ? "" : ",", "{\"partition\":", p,
                      ",\"logRecords\":", result->log_records,
                      ",\"replayedTo\":", result->replayed_to, ",\"events\":", result->stats.events,
                      ",\"timersFired\":", result->stats.timers, ",\"facts\":", result->stats.facts,
                      ",\"identical\":", result->differences.empty() ? "true" : "false",
                      ",\"differences\":[", diffs, "]}");
      continue;
    }
    progress.Finish();
    io.out << "partition " << p << ": replayed " << WithThousands(result->replayed_to) << " of "
           << WithThousands(result->log_records) << " records ("
           << WithThousands(result->stats.events) << " events, "
           << WithThousands(result->stats.timers) << " timers, "
           << WithThousands(result->stats.facts) << " facts): ";
    if (result->differences.empty()) {
      io.out << "identical\n";
    } else {
      io.out << "DIFFERENT\n";
      for (const auto& d : result->differences) io.out << "  " << d << "\n";
    }
  }
  progress.Finish();
  const bool identical = differing == 0;
  if (json) {
    io.out << "{\"identical\":" << (identical ? "true" : "false") << ",\"records\":" << records
           << ",\"partitions\":[" << json_rows << "]}\n";
  } else {
    io.out << (identical ? "identical" : "DIFFERENT") << ": " << partitions->size()
           << " partitions, " << WithThousands(records) << " records replayed";
    if (!identical) io.out << ", " << differing << " partitions differ";
    io.out << "\n";
  }
  return identical ? kExitOk : kExitFailure;
}

}  // namespace

Command ReplayCommand() {
  return Command{
      .name = "replay",
      .summary = "Rebuild every projection from the log and compare with the live state.",
      .description =
          "For each partition under --data, applies the log from position 0 into a fresh,\n"
          "temporary store, up to the position the live projections have reached, then\n"
          "compares the two key by key (customer states, timers, derived facts, the\n"
          "projection checkpoint). Exit 0 when every partition is identical; exit 1 listing\n"
          "the first differences otherwise. Safe to run while `guanxi run` holds the data\n"
          "directory (it reads as a RocksDB secondary). Use the same --config as the engine.\n"
          "--json prints {\"identical\", \"records\", \"partitions\": [{\"partition\",\n"
          "\"logRecords\", \"replayedTo\", \"events\", \"timersFired\", \"facts\", \"identical\",\n"
          "\"differences\": [string]}]}.",
      .flags =
          {{.name = "data", .value_name = "DIR", .help = "the data directory", .required = true},
           {.name = "config",
            .value_name = "FILE",
            .help = "engine configuration (protobuf text format); default: built-in"},
           {.name = "json", .help = "print the result as JSON"}},
      .run = RunReplay,
  };
}

}  // namespace guanxi::app
