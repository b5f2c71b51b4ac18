// Phase 6: instructions per event of the engine's own code (no Kafka), counted by
// callgrind: repeatable on a loaded machine, so it is the figure to compare commits by.
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "bench/phases.h"
#include "bench/workload.h"
#include "common/status_macros.h"
#include "engine/config/config.h"
#include "engine/ingest/ingestor.h"
#include "engine/storage/event_log.h"
#include "engine/storage/projection_store.h"
#include "engine/partition/model_slots.h"
#include "engine/projection/projector.h"

namespace guanxi::bench {
namespace {

// The simulated events carry no bad messages; a dead letter would be a harness bug.
class NoSideOutput final : public engine::SideOutput {
 public:
  absl::Status DeadLetter(const guanxi::v1::DeadLetter& letter) override {
    return absl::InternalError(absl::StrCat("unexpected dead letter: ", letter.reason()));
  }
  absl::Status Forward(int32_t partition, std::string_view, std::string_view) override {
    return absl::InternalError(absl::StrCat("unexpected event away from home, for partition ", partition));
  }
  absl::Status Flush() override { return absl::OkStatus(); }
};

}  // namespace

// What callgrind counts (--toggle-collect=*RunCostWorkload*): kept out of line so that
// the name exists in the binary. Messages are decoded, validated and appended by the
// partition's ingestor in batches, and the projector catches up after each batch from the
// records handed over in memory, as a projection worker does after each Feed; the
// population-model records the projector asks for are appended after the batch and
// applied (a Partition lands them at their positions, which costs the same), and at the
// end a tick finishes the last model's reclassification, as the engine's would.
// Records the engine adds itself (models, a tick): appended, handed over, applied. Not a
// lambda of RunCostWorkload: callgrind's --toggle-collect matches its name, and entering
// a function that matches toggles the collection off.
absl::Status AppendAndApply(std::vector<guanxi::v1::LogRecord> records, engine::EventLog& log,
                            engine::PartitionProjector& projector,
                            std::deque<guanxi::v1::LogRecord>& handed_over) {
  ASSIGN_OR_RETURN(const engine::AppendResult result, log.Append(absl::MakeSpan(records), {}));
  (void)result;
  for (auto& r : records) handed_over.push_back(std::move(r));
  const std::atomic<bool> stop{false};
  return projector.CatchUp(log.next_position(), stop, nullptr, &handed_over);
}

__attribute__((noinline)) absl::Status RunCostWorkload(const Messages& messages, size_t batch,
                                                       engine::PartitionIngestor& ingestor,
                                                       engine::EventLog& log,
                                                       engine::PartitionProjector& projector,
                                                       engine::ModelSlots& slots,
                                                       int64_t& ticks) {
  const std::atomic<bool> stop{false};
  std::vector<engine::ConsumedMessage> consumed;
  std::vector<guanxi::v1::LogRecord> appended;
  std::deque<guanxi::v1::LogRecord> handed_over;
  for (size_t begin = 0; begin < messages.size(); begin += batch) {
    const size_t end = std::min(messages.size(), begin + batch);
    consumed.clear();
    for (size_t i = begin; i < end; ++i) {
      consumed.push_back({static_cast<int64_t>(i), messages.keys[i], messages.values[i]});
    }
    appended.clear();
    ASSIGN_OR_RETURN(const engine::IngestStats stats, ingestor.Process(consumed, &appended));
    (void)stats;
    for (auto& r : appended) handed_over.push_back(std::move(r));
    RETURN_IF_ERROR(projector.CatchUp(log.next_position(), stop, nullptr, &handed_over));
    if (std::vector<guanxi::v1::LogRecord> models = slots.TakeFitted(); !models.empty()) {
      RETURN_IF_ERROR(AppendAndApply(std::move(models), log, projector, handed_over));
    }
  }
  // Out of input with a model still reclassifying a few customers a record: the tick
  // the engine appends then (IngestEngine::DrainWorkers) finishes it.
  if (projector.reclassifying()) {
    std::vector<guanxi::v1::LogRecord> tick(1);
    tick[0].mutable_tick()->mutable_event_time()->set_seconds(projector.clock_seconds());
    RETURN_IF_ERROR(AppendAndApply(std::move(tick), log, projector, handed_over));
    ++ticks;
  }
  return absl::OkStatus();
}

absl::StatusOr<Result> CostPhase(const CostOptions& options) {
  Messages messages;
  ASSIGN_OR_RETURN(const StreamFacts facts,
                   SimulatedStream(options.events, options.seed, Into(messages)));
  std::error_code ec;
  std::filesystem::remove_all(options.data_dir, ec);
  engine::EventLogOptions log_options{.partition = 0};
  log_options.extra_column_families = engine::ProjectionStore::ColumnFamilies();
  ASSIGN_OR_RETURN(auto log, engine::EventLog::Open(options.data_dir, log_options));
  ASSIGN_OR_RETURN(auto store, engine::ProjectionStore::Attach(log.get()));
  auto slots = std::make_shared<engine::ModelSlots>();
  ASSIGN_OR_RETURN(auto projector, engine::PartitionProjector::Create(
                                       log.get(), store.get(),
                                       {.partition = 0,
                                        .config = engine::DefaultEngineConfig(),
                                        .models = slots}));
  NoSideOutput dead_letters;
  ASSIGN_OR_RETURN(auto ingestor, engine::PartitionIngestor::Create(
                                      "guanxi.events", 0, log.get(), &dead_letters,
                                      engine::DecodeLimits{}, [] { return int64_t{2'000'000'000'000}; },  // 2033
                                      /*partitions=*/1));  // routing on: every event is home
  const double cpu_before = CpuSeconds();
  const auto start = Clock::now();
  int64_t ticks = 0;
  RETURN_IF_ERROR(
      RunCostWorkload(messages, options.batch, *ingestor, *log, *projector, *slots, ticks));
  const double seconds = SecondsSince(start);
  const double cpu = CpuSeconds() - cpu_before;
  Result r;
  Put(r, "input", facts.description);
  Put(r, "events", facts.events);
  Put(r, "batch", static_cast<int64_t>(options.batch));
  Put(r, "log_records", log->next_position());
  Put(r, "model_records", log->next_position() - static_cast<uint64_t>(facts.events + ticks));
  Put(r, "tick_records", ticks);
  Put(r, "reclassified", projector->stats().reclassified);
  Put(r, "facts_derived", projector->stats().facts);
  Put(r, "timers_fired", projector->stats().timers);
  Put(r, "seconds", seconds);
  Put(r, "events_per_second", static_cast<double>(facts.events) / seconds);
  Put(r, "cpu_seconds", cpu);
  projector.reset();
  store.reset();
  log.reset();
  std::filesystem::remove_all(options.data_dir, ec);
  return r;
}

namespace {

// "totals: 123456" (or "summary:") from a callgrind output file.
absl::StatusOr<int64_t> CallgrindTotal(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("no callgrind output at ", path));
  int64_t total = -1;
  for (std::string line; std::getline(in, line);) {
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, "totals:") || absl::ConsumePrefix(&rest, "summary:")) {
      const std::vector<absl::string_view> fields =
          absl::StrSplit(absl::StripAsciiWhitespace(rest), ' ', absl::SkipEmpty());
      int64_t v = 0;
      if (!fields.empty() && absl::SimpleAtoi(fields[0], &v)) total = std::max(total, v);
    }
  }
  if (total < 0) return absl::DataLossError(absl::StrCat("no totals line in ", path));
  return total;
}

// "ns::Class::Method(args) const" -> "ns::Class::Method" (templates, lambdas and
// "(anonymous namespace)" kept).
std::string ShortName(const std::string& name) {
  int depth = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (c == '<' || c == '{') ++depth;
    if (c == '>' || c == '}') --depth;
    if (c == '(' && depth == 0 && i > 0) {
      if (name.compare(i, 21, "(anonymous namespace)") == 0) {
        i += 20;
        continue;
      }
      return name.substr(0, i);
    }
  }
  return name;
}

// The rows of a callgrind_annotate listing ("1,234 (12.3%)  file:function [object]"),
// summed by function (a function inlined into several files has a row per file).
std::vector<std::pair<int64_t, std::string>> AnnotateRows(const std::string& text) {
  std::map<std::string, int64_t> by_function;
  static const std::regex row(R"(^\s*([0-9,]+)\s+\(\s*[0-9.]+%\)\s+(.*)$)");
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (!std::regex_match(line, m, row)) continue;
    std::string name = m[2].str();
    if (name.find("PROGRAM TOTALS") != std::string::npos) continue;
    if (const size_t bracket = name.rfind(" ["); bracket != std::string::npos) name.resize(bracket);
    name = std::string(absl::StripAsciiWhitespace(name));
    // "file:function": file names hold no ':'.
    if (const size_t colon = name.find(':');
        colon != std::string::npos && name.compare(colon, 2, "::") != 0) {
      name = name.substr(colon + 1);
    }
    int64_t v = 0;
    if (absl::SimpleAtoi(absl::StrReplaceAll(m[1].str(), {{",", ""}}), &v)) {
      by_function[ShortName(name)] += v;
    }
  }
  std::vector<std::pair<int64_t, std::string>> rows;
  for (const auto& [name, v] : by_function) rows.emplace_back(v, name);
  std::sort(rows.begin(), rows.end(), std::greater<>());
  return rows;
}

}  // namespace

absl::StatusOr<Result> CallgrindPhase(const CallgrindOptions& options) {
  std::error_code ec;
  std::filesystem::remove(options.out_file, ec);
  std::cerr << "callgrind: " << options.cost.events << " events under valgrind (about 100x "
            << "slower than native: a minute or two for 5,000 events, 10-20 for 20,000)\n";
  ASSIGN_OR_RETURN(
      const ChildResult child,
      RunChild({"valgrind", "--tool=callgrind",
                absl::StrCat("--callgrind-out-file=", options.out_file), "--collect-atstart=no",
                "--toggle-collect=*RunCostWorkload*", options.self_binary, "cost", "--events",
                absl::StrCat(options.cost.events), "--batch", absl::StrCat(options.cost.batch),
                "--seed", absl::StrCat(options.cost.seed), "--data", options.cost.data_dir},
               {.capture_stdout = true, .quiet_stderr = true}));
  if (child.exit_code != 0) {
    return absl::InternalError(
        absl::StrCat("valgrind --tool=callgrind exited with ", child.exit_code));
  }
  ASSIGN_OR_RETURN(const Result inner, FromJson(child.output));
  ASSIGN_OR_RETURN(const int64_t instructions, CallgrindTotal(options.out_file));
  const double events = Number(inner, "events");
  Result r;
  Put(r, "workload", inner);
  Put(r, "instructions", instructions);
  Put(r, "instructions_per_event", static_cast<double>(instructions) / events);
  Put(r, "valgrind_wall_seconds", child.wall_seconds);

  // Where the instructions go: inclusive (a function and all it calls) and self.
  std::string listing;
  for (const bool inclusive : {true, false}) {
    ASSIGN_OR_RETURN(
        const ChildResult annotate,
        RunChild({"callgrind_annotate", absl::StrCat("--inclusive=", inclusive ? "yes" : "no"),
                  "--threshold=99", "--auto=no", options.out_file},
                 {.capture_stdout = true, .quiet_stderr = true}));
    if (annotate.exit_code != 0) break;
    absl::StrAppend(&listing, "==== callgrind_annotate --inclusive=", inclusive ? "yes" : "no",
                    " (instructions of RunCostWorkload only) ====\n", annotate.output, "\n");
    const std::string list = inclusive ? "top_inclusive" : "top_self";
    if (inclusive) {
      // The projections' own logic (projections/, pure: no storage, no Kafka): a floor
      // under any runtime's cost per event. Its entry points do not call each other.
      int64_t own = 0;
      for (const auto& [ir, name] : AnnotateRows(annotate.output)) {
        for (const char* entry : {"CustomerProjection::OnEvent", "CustomerProjection::OnTime",
                                  "CustomerProjection::OnModel",
                                  "CustomerProjection::NextDeadline"}) {
          if (absl::EndsWith(name, entry)) own += ir;
        }
      }
      Put(r, "projections_instructions_per_event", static_cast<double>(own) / events);
    }
    int shown = 0;
    for (const auto& [ir, name] : AnnotateRows(annotate.output)) {
      // Inclusive: leave out the callers of the workload (main and the like), which
      // include all of it.
      if (inclusive && ir >= instructions && name.find("RunCostWorkload") == std::string::npos) {
        continue;
      }
      if (shown++ >= 30) break;
      Result& row = AppendObject(r, list);
      Put(row, "function", name);
      Put(row, "instructions_per_event", static_cast<double>(ir) / events);
      Put(row, "share", static_cast<double>(ir) / static_cast<double>(instructions));
    }
  }
  if (!options.annotate_path.empty()) {
    std::ofstream(options.annotate_path) << listing;
    Put(r, "annotate_file", options.annotate_path);
  }
  std::cerr << "callgrind: " << Thousands(instructions) << " instructions for "
            << Thousands(static_cast<int64_t>(events)) << " events = "
            << Thousands(static_cast<int64_t>(static_cast<double>(instructions) / events))
            << " per event\n";
  return r;
}

}  // namespace guanxi::bench
