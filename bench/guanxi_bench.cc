// guanxi_bench: the engine measured against the machine's own limits, in one run
// (bench/README.md). `guanxi_bench all` runs every phase in order, prints a table and
// writes the same as JSON; each phase also runs on its own and prints its JSON.
//
//   guanxi_bench all --out bench/results/latest.json          # what scripts/bench runs
//   guanxi_bench ingest --events 100000 --data /tmp/d         # one phase
//
// Progress goes to stderr, results to stdout (and --out). Nothing here asserts a speed:
// a missed target is reported, never a failure. A phase that cannot measure what it
// promises (the broker truncated the input, the engine failed) is reported as an error
// in its row, and the phases that do not depend on it still run.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "app/cli.h"
#include "bench/bench_util.h"
#include "bench/phases.h"
#include "common/allocator.h"
#include "common/scratch_dir.h"

namespace guanxi::bench {
namespace {

using app::Args;
using app::Command;
using app::Flag;
using app::Io;

constexpr double kIngestTarget = 0.40;                    // of db_bench fillseq ops/s
constexpr double kReplayTarget = 2.0;                     // x ingest
constexpr double kLatencyTargetMs = 50;                   // p99 at half load
constexpr double kInstructionsTarget = 24'000;
constexpr double kRssTargetBytes = 1024.0 * 1024 * 1024;  // at 1M customers
// The scale the targets are stated at: ingest of at least 1M events, 1M customers.
constexpr double kIssueEvents = 1'000'000;
constexpr double kIssueCustomers = 1'000'000;

// The phases of `all`, in the order they run (their keys under "phases" in the JSON).
constexpr const char* kPhaseOrder[] = {"ingest",
                                       "db_bench",
                                       "db_bench_max_batch",
                                       "replay",
                                       "ingest_on_kafka",
                                       "latency_warm_up",
                                       "latency",
                                       "latency_embedded_broker",
                                       "latency_in_process_half_load",
                                       "latency_refits_off",
                                       "latency_refits_off_fetch_wait_5",
                                       "memory",
                                       "callgrind",
                                       "churn_quality"};

int Print(Io& io, const absl::StatusOr<Result>& result) {
  if (!result.ok()) return app::ReportFailure(io, result.status());
  io.out << ToJson(*result);
  return app::kExitOk;
}

std::string WorkDir(const Args& args, const std::string& flag, const std::string& fallback) {
  return args.Has(flag) ? args.Get(flag) : fallback;
}

// ---------------------------------------------------------------- the table

struct Row {
  std::string number;  // the issue's numbering
  std::string measure;
  std::string value;      // formatted, with its unit
  std::string target;     // "" = none
  std::string verdict;    // "" = none
  std::string detail;     // what exactly was measured
  std::string against{};  // the figure compared with the target ("25.3% of db_bench")
};

// One of the issue's targets, in the unit of the figure compared with it.
struct Target {
  double bound = 0;
  bool at_least = true;  // the figure must be >= bound (a rate); else <= bound (a latency, a size)
};

// How a row's figure compares with its target.
struct Check {
  double figure = 0;
  Target target{};
  std::string against{};  // the figure, formatted in the target's terms
  // Measured at the issue's scale (1M events, 1M customers)? A smaller run checks the
  // harness; its verdict is marked and is not a result.
  bool at_scale = true;
  // Why the figure cannot be judged against the target at all ("" = it can): probes that
  // never arrived, a replay that differs from the live stores.
  std::string invalid{};
};

struct Judgement {
  bool met = false;
  double ratio = 0;      // figure / bound
  double missed_by = 0;  // how far beyond the bound, as a fraction of it (0 when met)
  std::string text;
};

// A fraction as a percentage for a verdict: "37%", "0.4%" (never a misleading "0%").
std::string Percent(double fraction) {
  return absl::StrFormat(fraction < 0.01 ? "%.1f%%" : "%.0f%%", 100 * fraction);
}

// "met, 2.08x the target" / "MISSED by 37%: needs 1.59x" (a lower bound); "met, 3% under
// the limit" / "MISSED by 37%" / "MISSED: 284x the limit" (an upper bound).
Judgement Judge(const Check& c) {
  Judgement j;
  const Target& t = c.target;
  j.ratio = t.bound > 0 ? c.figure / t.bound : 0;
  j.met = c.invalid.empty() && (t.at_least ? c.figure >= t.bound : c.figure <= t.bound);
  if (!c.invalid.empty()) {
    j.text = absl::StrCat("MISSED: ", c.invalid);
  } else if (t.at_least) {
    j.missed_by = j.met ? 0 : 1 - j.ratio;
    if (j.met) {
      j.text = absl::StrFormat("met, %.2fx the target", j.ratio);
    } else if (j.ratio > 0) {
      j.text = absl::StrCat("MISSED by ", Percent(j.missed_by), ": needs ",
                            absl::StrFormat(1 / j.ratio < 10 ? "%.2fx" : "%.0fx", 1 / j.ratio));
    } else {
      j.text = "MISSED";
    }
  } else {
    j.missed_by = j.met ? 0 : j.ratio - 1;
    if (j.met) {
      j.text = absl::StrCat("met, ", Percent(1 - j.ratio), " under the limit");
    } else if (j.ratio < 2) {
      j.text = absl::StrCat("MISSED by ", Percent(j.missed_by));
    } else {
      j.text = absl::StrFormat("MISSED: %.*fx the limit", j.ratio < 10 ? 1 : 0, j.ratio);
    }
  }
  if (!c.at_scale) absl::StrAppend(&j.text, " *");
  return j;
}

std::string Rate(double per_second) {
  return absl::StrCat(Thousands(static_cast<int64_t>(std::llround(per_second))), " /s");
}

// Milliseconds for the table: "7.2", "72", "5,830".
std::string Ms(double ms) {
  if (ms < 10) return absl::StrFormat("%.1f", ms);
  return Thousands(std::llround(ms));
}

// The broker a latency phase ran on, as the phase describes it (results written before
// the phase said so were all on the mock cluster).
std::string BrokerOf(const Result& latency) {
  const std::string broker = String(latency, "broker");
  return broker.empty() ? kEmbeddedBrokerDescription : broker;
}

// "p50 / p99 / p999" of a latency phase's result.
std::string Percentiles(const Result& lat) {
  return absl::StrCat(Ms(Number(lat, "p50_ms")), " / ", Ms(Number(lat, "p99_ms")), " / ",
                      Ms(Number(lat, "p999_ms")), " ms");
}

// The rows of the table, from the phases' results, and the same as JSON.
std::vector<Row> BuildRows(const Result& phases, Result& rows_json) {
  std::vector<Row> rows;
  auto error_of = [&](std::string_view phase) { return String(Object(phases, phase), "error"); };
  auto add = [&](Row row, std::string_view id, std::optional<double> value, std::string_view unit,
                 const std::optional<Check>& check) {
    Result& j = Child(rows_json, id);
    Put(j, "number", row.number);
    Put(j, "measure", row.measure);
    if (value) {
      Put(j, "value", *value);
    } else {
      PutNull(j, "value");
    }
    Put(j, "unit", unit);
    Put(j, "display", row.value);
    Put(j, "target", row.target);
    if (check) {
      const Judgement judged = Judge(*check);
      row.against = check->against;
      row.verdict = judged.text;
      Put(j, "compared", check->figure);
      Put(j, "compared_display", check->against);
      Put(j, "target_op", check->target.at_least ? ">=" : "<=");
      Put(j, "target_bound", check->target.bound);
      PutBool(j, "met", judged.met);
      Put(j, "ratio_to_target", judged.ratio);
      Put(j, "missed_by", judged.missed_by);
      PutBool(j, "at_issue_scale", check->at_scale);
    } else {
      PutNull(j, "met");
    }
    Put(j, "verdict", row.verdict);
    Put(j, "detail", row.detail);
    rows.push_back(std::move(row));
  };
  auto failed = [&](std::string number, std::string measure, std::string_view phase,
                    std::string_view id) {
    add({number, measure, "-", "", absl::StrCat("not measured: ", error_of(phase)), ""}, id,
        std::nullopt, "", std::nullopt);
  };

  const Result& ingest_phase = Object(phases, "ingest");
  const Result& input = Object(ingest_phase, "input");
  const Result& ingest = Object(ingest_phase, "ingest");
  const double ingest_eps = Number(ingest, "events_per_second");
  // The issue's scale: ingest, replay and latency at >= 1M events, memory at 1M customers.
  const bool events_at_scale = Number(ingest, "events") >= kIssueEvents;

  // 1. The limits.
  const Result& db = Object(phases, "db_bench");
  const double db_ops = Number(db, "ops_per_second");
  if (db_ops > 0) {
    add({"1", "limit: RocksDB db_bench fillseq", Rate(db_ops), "", "",
         absl::StrFormat("%s records, value %d B (the mean serialized LogRecord of the ingested "
                         "events), key 8 B, batch %d (the mean events per engine append, "
                         "measured), WAL on, sync off, lz4, 1 thread",
                         Thousands(static_cast<int64_t>(Number(db, "num"))),
                         static_cast<int>(Number(db, "value_size")),
                         static_cast<int>(Number(db, "batch_size")))},
        "limit_db_bench_fillseq", db_ops, "ops/s", std::nullopt);
  } else {
    failed("1", "limit: RocksDB db_bench fillseq", "db_bench", "limit_db_bench_fillseq");
  }
  const Result& db_max = Object(phases, "db_bench_max_batch");
  if (Number(db_max, "ops_per_second") > 0) {
    add({"1", "  (same, batch = max_batch)", Rate(Number(db_max, "ops_per_second")), "", "",
         absl::StrFormat("as above with batch %d (IngestEngineOptions::max_batch, the most one "
                         "poll hands over)",
                         static_cast<int>(Number(db_max, "batch_size")))},
        "limit_db_bench_fillseq_max_batch", Number(db_max, "ops_per_second"), "ops/s",
        std::nullopt);
  }
  const Result& raw = Object(ingest_phase, "raw_consume");
  const double raw_eps = Number(raw, "messages_per_second");
  if (raw_eps > 0) {
    add({"1", "limit: librdkafka consume+discard", Rate(raw_eps), "", "",
         absl::StrFormat("the same %s events from the same embedded broker, %d partitions, "
                         "%.1f MB/s of keys+values; rd_kafka_consumer_poll, the engine's fetch "
                         "settings, no group; timed from the first message (connecting before "
                         "it, %.1f s, not counted)",
                         Thousands(static_cast<int64_t>(Number(raw, "messages"))),
                         static_cast<int>(Number(input, "partitions")),
                         Number(raw, "megabytes_per_second"),
                         Number(raw, "first_message_after_seconds"))},
        "limit_kafka_consume", raw_eps, "events/s", std::nullopt);
  } else {
    failed("1", "limit: librdkafka consume+discard", "ingest", "limit_kafka_consume");
  }
  const Result& wrapped = Object(ingest_phase, "wrapper_consume");
  if (Number(wrapped, "messages_per_second") > 0) {
    add({"1", "  (through engine::Consumer)", Rate(Number(wrapped, "messages_per_second")), "", "",
         absl::StrFormat("group member, Poll(%d) copying keys and values, timed from the "
                         "first message (the group join and first fetch before it, %.1f s, not "
                         "counted)",
                         static_cast<int>(Number(ingest, "max_batch")),
                         Number(wrapped, "total_seconds") - Number(wrapped, "seconds"))},
        "info_wrapper_consume", Number(wrapped, "messages_per_second"), "events/s", std::nullopt);
  }

  // 2. Ingest.
  if (ingest_eps > 0) {
    const double ratio = db_ops > 0 ? ingest_eps / db_ops : 0;
    add({"2", "ingest, all projections", Rate(ingest_eps),
         absl::StrFormat(">= %.0f%% of db_bench", 100 * kIngestTarget),
         db_ops > 0 ? "" : "not judged: no db_bench figure",
         absl::StrFormat(
             "%s, %d partitions, pre-produced and proved complete; IngestEngine in process, "
             "until caught up (appended, projected, outbox delivered): %.1f s wall incl. group "
             "join (first append at %.0f s) and drain (all appended at %.0f s); %.0f us CPU per "
             "event (whole process, broker included)",
             String(input, "description"), static_cast<int>(Number(input, "partitions")),
             Number(ingest, "wall_seconds"), Number(ingest, "first_append_by_seconds"),
             Number(ingest, "all_appended_by_seconds"),
             Number(ingest, "process_cpu_microseconds_per_event"))},
        "ingest", ingest_eps, "events/s",
        db_ops > 0
            ? std::optional<Check>(Check{
                  .figure = ratio,
                  .target = {.bound = kIngestTarget, .at_least = true},
                  .against = absl::StrFormat("%.1f%% of db_bench (%.1f%% of consume)", 100 * ratio,
                                             raw_eps > 0 ? 100 * ingest_eps / raw_eps : 0.0),
                  .at_scale = events_at_scale})
            : std::nullopt);
    Result& j = Child(rows_json, "ingest");
    Put(j, "ratio_to_db_bench", ratio);
    Put(j, "ratio_to_kafka_consume", raw_eps > 0 ? ingest_eps / raw_eps : 0.0);
  } else {
    failed("2", "ingest, all projections", "ingest", "ingest");
  }
  const Result& diag_ingest = Object(ingest_phase, "ingest_refits_off");
  if (Number(diag_ingest, "events_per_second") > 0) {
    const double eps = Number(diag_ingest, "events_per_second");
    add({"2", "  (diagnostic: model refits off)", Rate(eps), "", "",
         absl::StrFormat("the same events and broker, classification.model_refit_days = 3650 "
                         "(one BG/NBD fit per partition instead of one every 30 days of event "
                         "time): %.1f s wall",
                         Number(diag_ingest, "wall_seconds"))},
        "diagnostic_ingest_refits_off", eps, "events/s", std::nullopt);
    if (db_ops > 0) rows.back().against = absl::StrFormat("%.1f%% of db_bench", 100 * eps / db_ops);
  }
  const Result& on_kafka = Object(phases, "ingest_on_kafka");
  const double kafka_eps = Number(Object(on_kafka, "ingest"), "events_per_second");
  if (kafka_eps > 0) {
    add({"2", "  (on the Kafka node: the latency phases offer half)", Rate(kafka_eps), "", "",
         absl::StrFormat("the same events produced to %s and ingested from it, the engine in "
                         "this process: %.1f s wall; the broker shares the two cores",
                         String(on_kafka, "broker"), Number(Object(on_kafka, "ingest"), "wall_seconds"))},
        "ingest_on_kafka", kafka_eps, "events/s", std::nullopt);
    if (ingest_eps > 0) {
      rows.back().against =
          absl::StrFormat("%.0f%% of the in-process rate", 100 * kafka_eps / ingest_eps);
    }
  }
  // What the latency phases' load is half of: the ingest rate on their broker when it
  // was measured, else the in-process one.
  const double load_base = kafka_eps > 0 ? kafka_eps : ingest_eps;
  const char* load_base_name = kafka_eps > 0 ? "ingest's max on Kafka" : "ingest's max";

  // 3. Replay.
  const Result& replay_phase = Object(phases, "replay");
  const Result& seq = Object(replay_phase, "sequential");
  const Result& par = Object(replay_phase, "parallel");
  if (Number(seq, "events_per_second") > 0) {
    const double eps = Number(seq, "events_per_second");
    const double ratio = ingest_eps > 0 ? eps / ingest_eps : 0;
    const bool identical =
        Has(seq, "identical_to_live") && seq.fields().at("identical_to_live").bool_value();
    const std::string invalid = identical ? "" : "the rebuilt stores differ from the live ones";
    add({"3", "replay, 1 thread (guanxi replay)", Rate(eps),
         absl::StrFormat(">= %.0fx ingest", kReplayTarget),
         ingest_eps > 0 ? "" : "not judged: no ingest figure",
         absl::StrFormat(
             "%s events (%s records) of %d partitions rebuilt from the log into fresh "
             "stores, one partition after another; timed: opening the stores and "
             "rebuilding, %.1f s (of which opening %.1f s; rebuilding alone %s "
             "events/s), then compared with the live stores: %s",
             Thousands(static_cast<int64_t>(Number(seq, "events"))),
             Thousands(static_cast<int64_t>(Number(seq, "records"))),
             static_cast<int>(Number(seq, "partitions")), Number(seq, "seconds"),
             Number(seq, "open_seconds"),
             Thousands(static_cast<int64_t>(Number(seq, "rebuild_only_events_per_second"))),
             identical ? "identical" : "DIFFERENT")},
        "replay", eps, "events/s",
        ingest_eps > 0
            ? std::optional<Check>(Check{.figure = ratio,
                                         .target = {.bound = kReplayTarget, .at_least = true},
                                         .against = absl::StrFormat("%.2fx ingest", ratio),
                                         .at_scale = events_at_scale,
                                         .invalid = invalid})
            : std::nullopt);
    Put(Child(rows_json, "replay"), "ratio_to_ingest", ratio);
    if (Number(par, "events_per_second") > 0) {
      const double peps = Number(par, "events_per_second");
      const double pratio = ingest_eps > 0 ? peps / ingest_eps : 0;
      add({"3", absl::StrFormat("replay, %d threads", static_cast<int>(Number(par, "threads"))),
           Rate(peps), absl::StrFormat(">= %.0fx ingest", kReplayTarget), "",
           absl::StrFormat("the same, %d partitions at a time; wall %.1f s incl. opening stores",
                           static_cast<int>(Number(par, "threads")), Number(par, "wall_seconds"))},
          "replay_parallel", peps, "events/s",
          ingest_eps > 0
              ? std::optional<Check>(Check{.figure = pratio,
                                           .target = {.bound = kReplayTarget, .at_least = true},
                                           .against = absl::StrFormat("%.2fx ingest", pratio),
                                           .at_scale = events_at_scale,
                                           .invalid = invalid})
              : std::nullopt);
    }
  } else {
    failed("3", "replay", "replay", "replay");
  }

  // 4. Latency.
  const Result& lat = Object(phases, "latency");
  if (Number(lat, "samples") > 0) {
    const double p99 = Number(lat, "p99_ms");
    const int64_t missing = static_cast<int64_t>(Number(lat, "probes_missing"));
    add({"4", "latency produced -> warning, p50/p99/p999", Percentiles(lat),
         absl::StrFormat("p99 <= %.0f ms", kLatencyTargetMs), "",
         absl::StrFormat(
             "offered %s events/s (%.2f of %s) for %.0f s, %d partitions, on %s; %s "
             "probes (1 in %d events: a probe customer's champion contact leaves, "
             "champion_left) -> %s on %s; %d missing",
             Thousands(static_cast<int64_t>(Number(lat, "offered_rate_achieved"))),
             load_base > 0 ? Number(lat, "offered_rate_achieved") / load_base : 0.0,
             load_base_name,
             Number(lat, "offer_seconds"), static_cast<int>(Number(lat, "partitions")),
             BrokerOf(lat), Thousands(static_cast<int64_t>(Number(lat, "samples"))),
             static_cast<int>(Number(lat, "probe_every")),
             absl::StartsWith(String(lat, "observe_topic"), "guanxi.churn-warnings")
                 ? "its RAISED warning"
                 : "the first change it caused",
             String(lat, "observe_topic"), static_cast<int>(Number(lat, "probes_missing")))},
        "latency", p99, "ms (p99)",
        Check{.figure = p99,
              .target = {.bound = kLatencyTargetMs, .at_least = false},
              .against = absl::StrCat("p99 ", Ms(p99), " ms"),
              .at_scale = events_at_scale,
              .invalid = missing == 0 ? ""
                                      : absl::StrCat(Thousands(missing),
                                                     " probes never arrived (p99 unknown)")});
    Result& j = Child(rows_json, "latency");
    Put(j, "p50_ms", Number(lat, "p50_ms"));
    Put(j, "p999_ms", Number(lat, "p999_ms"));
    // Where the milliseconds go (engine::StageTracer on the probes).
    const Result& stages = Object(lat, "stages");
    for (const auto& [name, what] : std::initializer_list<std::pair<const char*, const char*>>{
             {"produced_to_consumed", "produced -> consumed (the poll returned it)"},
             {"consumed_to_appended", "consumed -> appended (in the partition's log)"},
             {"appended_to_projected", "appended -> projected (applied, in memory)"},
             {"projected_to_committed", "projected -> committed (its warning in the outbox)"},
             {"committed_to_published", "committed -> published (the broker acknowledged it)"},
             {"published_to_observed", "published -> observed (a consumer received it)"}}) {
      const Result& stage = Object(stages, name);
      if (Number(stage, "samples") <= 0) continue;
      add({"4", absl::StrCat("  stage ", what), absl::StrCat(Ms(Number(stage, "p50_ms")), " / ",
                                                            Ms(Number(stage, "p99_ms")), " ms"),
           "", "",
           absl::StrFormat("p50 / p99 over the %d probes that reached every stage",
                           static_cast<int>(Number(stage, "samples")))},
          absl::StrCat("latency_stage_", name), Number(stage, "p99_ms"), "ms (p99)",
          std::nullopt);
    }
  } else {
    failed("4", "latency produced -> warning, p50/p99/p999", "latency", "latency");
  }
  // A diagnostic latency run: its percentiles, what it changed (`what`, given the run),
  // and its p99, under the JSON key diagnostic_<phase>.
  auto diagnostic_latency = [&](const char* phase, const char* label,
                                const std::function<std::string(const Result&)>& what) {
    const Result& diag = Object(phases, phase);
    if (Number(diag, "samples") <= 0) return;
    add({"4", label, Percentiles(diag), "", "",
         absl::StrFormat("%s; %d probes missing", what(diag),
                         static_cast<int>(Number(diag, "probes_missing")))},
        absl::StrCat("diagnostic_", phase), Number(diag, "p99_ms"), "ms (p99)", std::nullopt);
    rows.back().against = absl::StrCat("p99 ", Ms(Number(diag, "p99_ms")), " ms");
  };
  auto offered = [](const Result& diag) {
    return Thousands(static_cast<int64_t>(Number(diag, "offered_rate_achieved")));
  };
  diagnostic_latency("latency_embedded_broker", "  (diagnostic: librdkafka's mock broker)",
                     [](const Result& diag) {
                       return absl::StrCat("the same offered load on ", BrokerOf(diag),
                                           ", the broker of the runs before 2026-12-07");
                     });
  diagnostic_latency("latency_in_process_half_load", "  (diagnostic: at half the in-process rate)",
                     [&](const Result& diag) {
                       return absl::StrCat(offered(diag),
                                           " events/s on the same Kafka node: half the ingest "
                                           "phase's rate (its broker in process), the load of "
                                           "the runs before 2026-12-07");
                     });
  diagnostic_latency("latency_refits_off", "  (diagnostic: model refits off)",
                     [&](const Result& diag) {
                       return absl::StrCat("the same offered load (", offered(diag),
                                           " events/s), model_refit_days = 3650");
                     });
  diagnostic_latency("latency_refits_off_fetch_wait_5", "  (diagnostic: + fetch.wait.max.ms=5)",
                     [](const Result&) {
                       return std::string(
                           "as the previous row, with the engine's consumer at "
                           "fetch.wait.max.ms = 5 instead of its default 50");
                     });

  // 5. Memory.
  const Result& mem = Object(phases, "memory");
  if (Number(mem, "engine_peak_rss_bytes") > 0) {
    const double rss = Number(mem, "engine_peak_rss_bytes");
    add({"5", "peak RSS, guanxi run", absl::StrFormat("%.0f MiB", rss / (1024.0 * 1024.0)),
         "<= 1 GiB at 1M customers", "",
         absl::StrFormat("%s; %d partitions; `guanxi run --until-caught-up` as a child process, "
                         "its VmHWM sampled every 20 ms (the broker is in the parent, not counted); "
                         "%s customer states afterwards; %.0f s, %s events/s",
                         String(mem, "input"), static_cast<int>(Number(mem, "partitions")),
                         Thousands(static_cast<int64_t>(Number(mem, "customer_states_after"))),
                         Number(mem, "engine_wall_seconds"),
                         Thousands(static_cast<int64_t>(Number(mem, "engine_events_per_second"))))},
        "memory", rss, "bytes",
        Check{.figure = rss,
              .target = {.bound = kRssTargetBytes, .at_least = false},
              .against = absl::StrFormat("%.0f MiB at %s customers", rss / (1024.0 * 1024.0),
                                         Thousands(static_cast<int64_t>(Number(mem, "customers")))),
              .at_scale = Number(mem, "customers") >= kIssueCustomers});
  } else {
    failed("5", "peak RSS, guanxi run", "memory", "memory");
  }

  // 6. Cost per event.
  const Result& cost = Object(phases, "callgrind");
  if (Number(cost, "instructions_per_event") > 0) {
    const Result& w = Object(cost, "workload");
    // The population-model refits' share, from the inclusive profile.
    std::string refits;
    if (Has(cost, "top_inclusive")) {
      for (const auto& v : cost.fields().at("top_inclusive").list_value().values()) {
        if (String(v.struct_value(), "function") ==
            "guanxi::engine::PartitionProjector::MaybeRefit") {
          refits = absl::StrFormat(
              "; population-model refits (PartitionProjector::MaybeRefit) "
              "%.0f%% of it",
              100 * Number(v.struct_value(), "share"));
        }
      }
    }
    const double per_event = Number(cost, "instructions_per_event");
    add({"6", "instructions per event (callgrind)", Thousands(static_cast<int64_t>(per_event)),
         absl::StrCat("<= ", Thousands(static_cast<int64_t>(kInstructionsTarget))), "",
         absl::StrFormat("%s; PartitionIngestor::Process (decode, validate, append) in batches "
                         "of %d + PartitionProjector::CatchUp after each, 1 partition, no Kafka; "
                         "only RunCostWorkload counted%s",
                         String(w, "input"), static_cast<int>(Number(w, "batch")), refits)},
        "instructions_per_event", per_event, "instructions",
        Check{.figure = per_event,
              .target = {.bound = kInstructionsTarget, .at_least = false},
              .against = Thousands(static_cast<int64_t>(per_event))});
    if (const double own = Number(cost, "projections_instructions_per_event"); own > 0) {
      add({"6", "  (limit: the projections' own logic)", Thousands(static_cast<int64_t>(own)), "",
           "",
           absl::StrFormat("CustomerProjection::OnEvent, OnTime, OnModel and NextDeadline, "
                           "inclusive, in the same run (%.0f%% of it): pure domain logic, no "
                           "storage, no Kafka; no runtime can cost less per event",
                           100 * own / per_event)},
          "instructions_per_event_projections", own, "instructions", std::nullopt);
    }
  } else {
    failed("6", "instructions per event (callgrind)", "callgrind", "instructions_per_event");
  }

  // 7. Churn quality.
  const Result& churn = Object(phases, "churn_quality");
  const Result& raised = Object(churn, "raised");
  if (Has(churn, "raised")) {
    add({"7", "churn warnings (RAISED)",
         absl::StrFormat("precision %.2f / recall %.2f / lead %.1f d", Number(raised, "precision"),
                         Number(raised, "recall"), Number(raised, "median_lead_days")),
         "", "",
         absl::StrFormat(
             "bench/churn_quality: %s customers over %s days, seed %s, %s planted "
             "churners, population model %s; median lead time in days",
             Thousands(static_cast<int64_t>(Number(churn, "customers"))),
             Thousands(static_cast<int64_t>(Number(churn, "days"))),
             Thousands(static_cast<int64_t>(Number(churn, "seed"))),
             Thousands(static_cast<int64_t>(Number(churn, "churners"))),
             churn.fields().count("model") > 0 && churn.fields().at("model").bool_value() ? "on"
                                                                                          : "off")},
        "churn_quality", Number(raised, "precision"), "precision", std::nullopt);
  } else {
    add({"7", "churn warnings quality", "not available yet", "", "",
         error_of("churn_quality").empty()
             ? "bench/churn_quality printed no figures"
             : absl::StrCat("not available yet: ", error_of("churn_quality"))},
        "churn_quality", std::nullopt, "", std::nullopt);
  }
  return rows;
}

void PrintTable(std::ostream& out, const Result& run, const std::vector<Row>& rows) {
  const Result& machine = Object(run, "machine");
  out << "\nguanxi benchmarks  " << String(run, "date") << "  " << String(machine, "cpu_model")
      << ", " << Number(machine, "cores_online") << " cores, load " << String(run, "load_start")
      << " (start) / " << String(run, "load_end") << " (end); commit " << String(run, "commit")
      << "\n\n";
  size_t w_measure = 7, w_value = 5, w_against = 8, w_target = 6;
  bool below_scale = false;
  for (const Row& r : rows) {
    w_measure = std::max(w_measure, r.measure.size());
    w_value = std::max(w_value, r.value.size());
    w_against = std::max(w_against, r.against.size());
    w_target = std::max(w_target, r.target.size());
    below_scale = below_scale || absl::EndsWith(r.verdict, " *");
  }
  auto line = [&](const std::string& n, const std::string& m, const std::string& v,
                  const std::string& a, const std::string& t, const std::string& verdict) {
    out << absl::StrFormat("%-2s %-*s  %-*s  %-*s  %-*s  %s\n", n, static_cast<int>(w_measure), m,
                           static_cast<int>(w_value), v, static_cast<int>(w_against), a,
                           static_cast<int>(w_target), t, verdict);
  };
  line("#", "measure", "value", "measured", "target", "verdict");
  line("", std::string(w_measure, '-'), std::string(w_value, '-'), std::string(w_against, '-'),
       std::string(w_target, '-'), "-------");
  for (const Row& r : rows) {
    line(r.number, r.measure, r.value, r.against, r.target, r.verdict);
  }
  if (below_scale) {
    out << "\n* measured below the issue's scale (1M events, 1M customers): a check of the "
           "harness, not a result to record\n";
  }
  // What exactly each row measured.
  out << "\n";
  for (const Row& r : rows) {
    if (r.detail.empty()) continue;
    out << absl::StrFormat("%-2s %s: %s\n", r.number, absl::StripLeadingAsciiWhitespace(r.measure),
                           r.detail);
  }
  // How long each phase took (setup included): what a full run costs.
  std::string times;
  const Result& phases = Object(run, "phases");
  for (const char* phase : kPhaseOrder) {
    const Result& p = Object(phases, phase);
    if (!Has(p, "phase_seconds")) continue;
    absl::StrAppend(&times, times.empty() ? "" : ", ", phase, " ",
                    Fixed(Number(p, "phase_seconds"), 0), " s");
  }
  out << "\nphase times: " << times << "; total " << Fixed(Number(run, "total_seconds"), 0)
      << " s\n\n";
}

std::string LoadString() {
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) != 3) return "?";
  return absl::StrFormat("%.2f %.2f %.2f", load[0], load[1], load[2]);
}

std::string GitCommit() {
  auto head = RunChild({"git", "-C", GUANXI_SOURCE_DIR, "rev-parse", "--short", "HEAD"},
                       {.capture_stdout = true, .quiet_stderr = true});
  if (!head.ok() || head->exit_code != 0) return "unknown";
  std::string commit(absl::StripAsciiWhitespace(head->output));
  auto dirty =
      RunChild({"git", "-C", GUANXI_SOURCE_DIR, "status", "--porcelain", "--untracked-files=no"},
               {.capture_stdout = true, .quiet_stderr = true});
  if (dirty.ok() && !absl::StripAsciiWhitespace(dirty->output).empty()) commit += "+dirty";
  return commit;
}

// ---------------------------------------------------------------- commands

std::vector<Flag> IngestFlags() {
  return {{.name = "events",
           .value_name = "N",
           .help = "simulated events to ingest",
           .default_value = "1000000"},
          {.name = "partitions",
           .value_name = "P",
           .help = "partitions of the events topic",
           .default_value = "16"},
          {.name = "seed", .value_name = "S", .help = "simulator seed", .default_value = "1"},
          {.name = "max-batch",
           .value_name = "N",
           .help = "IngestEngineOptions::max_batch (messages per poll)",
           .default_value = "5000"}};
}

absl::StatusOr<IngestOptions> ReadIngestOptions(const Args& args, const std::string& data) {
  IngestOptions o;
  auto events = args.GetInt("events", 1000, 100'000'000);
  if (!events.ok()) return events.status();
  auto partitions = args.GetInt("partitions", 1, 1024);
  if (!partitions.ok()) return partitions.status();
  auto seed = args.GetInt("seed", 0, INT64_MAX);
  if (!seed.ok()) return seed.status();
  auto max_batch = args.GetInt("max-batch", 1, 1'000'000);
  if (!max_batch.ok()) return max_batch.status();
  o.events = *events;
  o.partitions = static_cast<int>(*partitions);
  o.seed = static_cast<uint64_t>(*seed);
  o.max_batch = static_cast<size_t>(*max_batch);
  o.data_dir = data;
  return o;
}

int RunAll(const Args& args, Io& io) {
  auto ingest_options = ReadIngestOptions(args, "");
  if (!ingest_options.ok()) return app::ReportUsageError(io, ingest_options.status());
  auto population = args.GetInt("population", 1000, 100'000'000);
  if (!population.ok()) return app::ReportUsageError(io, population.status());
  auto memory_partitions = args.GetInt("memory-partitions", 1, 1024);
  if (!memory_partitions.ok()) return app::ReportUsageError(io, memory_partitions.status());
  auto latency_seconds = args.GetDouble("latency-seconds");
  if (!latency_seconds.ok()) return app::ReportUsageError(io, latency_seconds.status());
  auto latency_load = args.GetDouble("latency-load");
  if (!latency_load.ok()) return app::ReportUsageError(io, latency_load.status());
  auto probe_every = args.GetInt("probe-every", 2, 1'000'000);
  if (!probe_every.ok()) return app::ReportUsageError(io, probe_every.status());
  auto cost_events = args.GetInt("cost-events", 100, 10'000'000);
  if (!cost_events.ok()) return app::ReportUsageError(io, cost_events.status());
  auto cost_batch = args.GetInt("cost-batch", 1, 1'000'000);
  if (!cost_batch.ok()) return app::ReportUsageError(io, cost_batch.status());
  const std::vector<std::string> skip = absl::StrSplit(args.Get("skip"), ',', absl::SkipEmpty());
  auto skipped = [&](std::string_view phase) {
    return std::find(skip.begin(), skip.end(), phase) != skip.end();
  };

  ScratchDir scratch("guanxi_bench");
  const std::string work = WorkDir(args, "work", scratch.path());
  if (work.empty()) return app::ReportFailure(io, absl::InternalError("no work directory"));
  std::filesystem::create_directories(work);
  const std::string self = SelfPath();
  const std::string bin_dir = std::filesystem::path(self).parent_path().string();

  const auto run_start = Clock::now();
  Result run;
  Put(run, "schema_version", 1);
  Put(run, "date", UtcNow());
  Put(run, "commit", GitCommit());
  Put(run, "machine", MachineFacts());
  Put(run, "load_start", LoadString());
  Put(run, "command", args.Get("command-line"));
  Result& phases = Child(run, "phases");
  // Runs one phase and records its result (or its error) and its wall time, setup
  // included, as phases.<name>.phase_seconds.
  auto record = [&](std::string_view name, const auto& run_phase) {
    const auto start = Clock::now();
    const absl::StatusOr<Result> result = run_phase();
    const double seconds = SecondsSince(start);
    if (result.ok()) {
      Put(phases, name, *result);
    } else {
      Put(Child(phases, name), "error", result.status().ToString());
      std::cerr << "guanxi_bench: " << name << ": " << result.status() << "\n";
    }
    Put(Child(phases, name), "phase_seconds", seconds);
    std::cerr << "guanxi_bench: " << name << " took " << Fixed(seconds, 1) << " s\n";
    return result.ok();
  };
  auto banner = [&](std::string_view what) {
    std::cerr << "\n== " << what << "  (load " << LoadString() << ")\n";
  };

  // 2 first: the limits' record size and batch size are measured from its log, and the
  // raw consume runs against its broker.
  const std::string ingest_data = absl::StrCat(work, "/ingest-data");
  banner("2. ingest (and 1. the Kafka consume limit)");
  IngestOptions io_options = *ingest_options;
  io_options.data_dir = ingest_data;
  io_options.diagnose_refits = !skipped("diagnostics");
  const bool ingested = record("ingest", [&] { return IngestPhase(io_options); });
  const Result& ingest_phase = Object(phases, "ingest");

  if (ingested && !skipped("dbbench")) {
    banner("1. the storage limit: db_bench fillseq");
    const Result& log = Object(ingest_phase, "log");
    DbBenchOptions db{
        .num = static_cast<int64_t>(Number(Object(ingest_phase, "ingest"), "events")),
        .value_size = std::llround(Number(log, "mean_event_record_bytes")),
        .batch_size = std::max<int64_t>(1, std::llround(Number(log, "mean_events_per_append"))),
        .db_dir = absl::StrCat(work, "/db_bench")};
    record("db_bench", [&] { return DbBenchPhase(db); });
    db.batch_size = static_cast<int64_t>(ingest_options->max_batch);
    record("db_bench_max_batch", [&] { return DbBenchPhase(db); });
  } else {
    Put(Child(phases, "db_bench"), "error", ingested ? "skipped" : "needs the ingest phase");
  }

  if (ingested && !skipped("replay")) {
    banner("3. replay");
    record("replay", [&] {
      return ReplayPhase(ingest_data, absl::StrCat(work, "/replay"),
                         static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN))));
    });
  } else {
    Put(Child(phases, "replay"), "error", ingested ? "skipped" : "needs the ingest phase");
  }
  std::error_code ec;
  std::filesystem::remove_all(ingest_data, ec);

  const std::string latency_brokers = args.Get("latency-brokers");
  if (ingested && !skipped("latency") && !latency_brokers.empty()) {
    // The latency phases' load is half of what the engine ingests on the broker they run
    // on: a Kafka node on the same cores takes a share of them that the in-process mock
    // of the ingest phase does not (at half the in-process rate both cores were 88% busy).
    banner("4. the ingest rate on the Kafka cluster (the latency phases offer half of it)");
    IngestOptions on_kafka = *ingest_options;
    on_kafka.data_dir = absl::StrCat(work, "/ingest-kafka-data");
    record("ingest_on_kafka", [&] { return KafkaIngestPhase(on_kafka, latency_brokers); });
  }
  if (ingested && !skipped("latency")) {
    banner("4. latency at a fixed offered rate");
    const double in_process_rate = Number(Object(ingest_phase, "ingest"), "events_per_second");
    const double kafka_rate =
        Number(Object(Object(phases, "ingest_on_kafka"), "ingest"), "events_per_second");
    const double max_rate = kafka_rate > 0 ? kafka_rate : in_process_rate;
    const LatencyOptions latency{.rate = *latency_load * max_rate,
                                 .seconds = *latency_seconds,
                                 .partitions = ingest_options->partitions,
                                 .seed = ingest_options->seed,
                                 .probe_every = *probe_every,
                                 .observe_topic = args.Get("latency-topic"),
                                 .data_dir = absl::StrCat(work, "/latency-data"),
                                 .brokers = latency_brokers};
    auto run_latency = [&](const char* name, const LatencyOptions& options) {
      record(name, [&] { return LatencyPhase(options); });
      std::filesystem::remove_all(options.data_dir, ec);
    };
    if (!latency.brokers.empty()) {
      // A broker in a JVM of its own answers slowly until its hot paths are compiled: the
      // first seconds of load against a fresh one showed a p99 of 1.4 s. Kept in the JSON,
      // in no row.
      banner("4. (warm-up, not counted) the same load against the Kafka cluster");
      LatencyOptions warm_up = latency;
      warm_up.seconds = std::min(latency.seconds, 20.0);
      run_latency("latency_warm_up", warm_up);
    }
    run_latency("latency", latency);
    if (!latency.brokers.empty() && !skipped("diagnostics")) {
      banner("4. (diagnostic) latency with librdkafka's mock cluster in this process");
      LatencyOptions embedded = latency;
      embedded.brokers.clear();
      run_latency("latency_embedded_broker", embedded);
    }
    if (kafka_rate > 0 && !skipped("diagnostics")) {
      banner("4. (diagnostic) latency on the Kafka cluster at half the in-process ingest rate");
      LatencyOptions before = latency;
      before.rate = *latency_load * in_process_rate;
      run_latency("latency_in_process_half_load", before);
    }
    if (!skipped("diagnostics")) {
      banner("4. (diagnostic) latency with population-model refits off");
      LatencyOptions refits_off = latency;
      refits_off.model_refit_days = 3650;
      run_latency("latency_refits_off", refits_off);
      banner("4. (diagnostic) latency with refits off and the engine's fetch.wait.max.ms = 5");
      LatencyOptions fetch_wait = refits_off;
      fetch_wait.engine_properties = {{"fetch.wait.max.ms", "5"}};
      run_latency("latency_refits_off_fetch_wait_5", fetch_wait);
    }
  } else {
    Put(Child(phases, "latency"), "error", ingested ? "skipped" : "needs the ingest phase");
  }

  if (!skipped("memory")) {
    banner("5. memory at a population");
    record("memory", [&] {
      return MemoryPhase({.customers = *population,
                          .partitions = static_cast<int>(*memory_partitions),
                          .seed = ingest_options->seed,
                          .data_dir = absl::StrCat(work, "/memory-data"),
                          .guanxi_binary = args.Get("guanxi")});
    });
    std::filesystem::remove_all(absl::StrCat(work, "/memory-data"), ec);
  } else {
    Put(Child(phases, "memory"), "error", "skipped");
  }

  if (!skipped("callgrind")) {
    banner("6. instructions per event (callgrind)");
    const std::string out_dir = std::filesystem::path(args.Get("out")).parent_path().string();
    record("callgrind", [&] {
      return CallgrindPhase({.cost = {.events = *cost_events,
                                      .batch = static_cast<size_t>(*cost_batch),
                                      .seed = ingest_options->seed,
                                      .data_dir = absl::StrCat(work, "/cost-data")},
                             .self_binary = self,
                             .out_file = absl::StrCat(work, "/callgrind.out"),
                             .annotate_path = absl::StrCat(out_dir.empty() ? "." : out_dir,
                                                           "/callgrind-latest.txt")});
    });
  } else {
    Put(Child(phases, "callgrind"), "error", "skipped");
  }

  if (!skipped("churn")) {
    banner("7. churn quality");
    const std::string churn = args.Has("churn-quality") ? args.Get("churn-quality")
                                                        : absl::StrCat(bin_dir, "/churn_quality");
    record("churn_quality", [&] { return ChurnQualityPhase(churn); });
  } else {
    Put(Child(phases, "churn_quality"), "error", "skipped");
  }

  Put(run, "load_end", LoadString());
  Put(run, "total_seconds", SecondsSince(run_start));
  Put(run, "machine_at_end", MachineFacts());
  Result rows_json;
  const std::vector<Row> rows = BuildRows(phases, rows_json);
  Put(run, "rows", rows_json);
  PrintTable(io.out, run, rows);
  if (args.Has("out")) {
    const std::filesystem::path out(args.Get("out"));
    if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path(), ec);
    std::ofstream file(out);
    file << ToJson(run);
    if (!file)
      return app::ReportFailure(io,
                                absl::InternalError(absl::StrCat("cannot write ", out.string())));
    io.out << "wrote " << out.string() << "\n";
  }
  return app::kExitOk;
}

Command AllCommand() {
  std::vector<Flag> flags = IngestFlags();
  std::vector<Flag> more = {
      {.name = "population",
       .value_name = "N",
       .help = "customers for the memory phase (two events each)",
       .default_value = "1000000"},
      {.name = "memory-partitions",
       .value_name = "P",
       .help = "partitions for the memory phase's 2N events",
       .default_value = "32"},
      {.name = "latency-seconds",
       .value_name = "S",
       .help = "offered-load duration",
       .default_value = "30"},
      {.name = "latency-load",
       .value_name = "F",
       .help = "offered rate as a fraction of the measured ingest rate",
       .default_value = "0.5"},
      {.name = "probe-every",
       .value_name = "N",
       .help = "one latency probe every N events",
       .default_value = "50"},
      {.name = "latency-brokers",
       .value_name = "HOST:PORT",
       .help = "an Apache Kafka cluster for the latency phases (each run makes topics of its own "
               "there); default: librdkafka's mock cluster in this process. scripts/bench starts "
               "one"},
      {.name = "latency-topic",
       .value_name = "TOPIC",
       .help = "where probes become visible: guanxi.churn-warnings (their RAISED notices) or "
               "guanxi.relationship-changes (the first change they cause)",
       .default_value = "guanxi.churn-warnings"},
      {.name = "cost-events",
       .value_name = "N",
       .help = "events of the callgrind run (compare instructions per event only between runs "
               "of the same size)",
       .default_value = "5000"},
      {.name = "cost-batch",
       .value_name = "N",
       .help = "events per append in the callgrind run",
       .default_value = "500"},
      {.name = "skip",
       .value_name = "LIST",
       .help = "phases to leave out: dbbench,replay,latency,memory,callgrind,churn,diagnostics"},
      {.name = "work",
       .value_name = "DIR",
       .help = "where data goes (default: a temporary directory, removed afterwards)"},
      {.name = "out", .value_name = "FILE", .help = "write the results as JSON here"},
      {.name = "guanxi",
       .value_name = "PATH",
       .help = "the guanxi binary (memory phase)",
       .default_value = GUANXI_BINARY},
      {.name = "churn-quality",
       .value_name = "PATH",
       .help = "the churn_quality binary (default: beside this one)"},
      {.name = "command-line",
       .value_name = "TEXT",
       .help = "how the run was started, recorded in the JSON (scripts/bench sets it)"}};
  for (Flag& f : more) flags.push_back(std::move(f));
  return {.name = "all",
          .summary = "Every benchmark in order; a table on stdout, the same as JSON (--out).",
          .description =
              "Runs, in this order: ingest (with the Kafka consume limit on the same broker),\n"
              "db_bench fillseq with the measured record and batch size, replay, latency at\n"
              "a fraction of the measured ingest rate, peak RSS of guanxi run at a population,\n"
              "instructions per event under callgrind, churn quality. See bench/README.md.",
          .flags = flags,
          .run = RunAll};
}

Command TableCommand() {
  return {.name = "table",
          .summary = "Print the table of a results file written by `all --out`.",
          .description =
              "The rows are judged again from the file's phases, so a file from an\n"
              "older run prints in today's layout.",
          .flags = {{.name = "results",
                     .value_name = "FILE",
                     .default_value = "bench/results/latest.json"}},
          .run = [](const Args& args, Io& io) {
            std::ifstream in(args.Get("results"));
            if (!in) {
              return app::ReportFailure(
                  io, absl::NotFoundError(absl::StrCat("cannot read ", args.Get("results"))));
            }
            std::stringstream text;
            text << in.rdbuf();
            auto run = FromJson(text.str());
            if (!run.ok()) return app::ReportFailure(io, run.status());
            Result rows_json;
            PrintTable(io.out, *run, BuildRows(Object(*run, "phases"), rows_json));
            return app::kExitOk;
          }};
}

Command IngestCommand() {
  std::vector<Flag> flags = IngestFlags();
  flags.push_back({.name = "data",
                   .value_name = "DIR",
                   .help = "the engine's data directory",
                   .required = true});
  flags.push_back({.name = "diagnose", .help = "also ingest with population-model refits off"});
  return {.name = "ingest",
          .summary = "Pre-produce, prove, consume raw, then ingest with the engine.",
          .flags = flags,
          .run = [](const Args& args, Io& io) {
            auto o = ReadIngestOptions(args, args.Get("data"));
            if (!o.ok()) return app::ReportUsageError(io, o.status());
            o->diagnose_refits = args.IsSet("diagnose");
            return Print(io, IngestPhase(*o));
          }};
}

Command DbBenchCommand() {
  return {.name = "dbbench",
          .summary = "db_bench fillseq with the given record and batch size.",
          .flags = {{.name = "num", .value_name = "N", .default_value = "1000000"},
                    {.name = "value-size", .value_name = "BYTES", .default_value = "200"},
                    {.name = "batch", .value_name = "N", .default_value = "1"},
                    {.name = "db", .value_name = "DIR", .required = true}},
          .run = [](const Args& args, Io& io) {
            auto num = args.GetInt("num", 1, INT64_MAX);
            auto value = args.GetInt("value-size", 1, 1 << 20);
            auto batch = args.GetInt("batch", 1, 1'000'000);
            for (const auto* s : {&num, &value, &batch}) {
              if (!s->ok()) return app::ReportUsageError(io, s->status());
            }
            return Print(io, DbBenchPhase({.num = *num,
                                           .value_size = *value,
                                           .batch_size = *batch,
                                           .db_dir = args.Get("db")}));
          }};
}

Command ReplayCommand() {
  return {.name = "replay",
          .summary = "Rebuild every partition of a data directory; timed.",
          .flags = {{.name = "data", .value_name = "DIR", .required = true},
                    {.name = "scratch", .value_name = "DIR", .required = true},
                    {.name = "threads", .value_name = "N", .default_value = "2"}},
          .run = [](const Args& args, Io& io) {
            auto threads = args.GetInt("threads", 1, 64);
            if (!threads.ok()) return app::ReportUsageError(io, threads.status());
            return Print(
                io, ReplayPhase(args.Get("data"), args.Get("scratch"), static_cast<int>(*threads)));
          }};
}

Command LatencyCommand() {
  return {.name = "latency",
          .summary = "Latency at a fixed offered rate.",
          .flags = {{.name = "rate", .value_name = "EVENTS_PER_S", .required = true},
                    {.name = "seconds", .value_name = "S", .default_value = "30"},
                    {.name = "partitions", .value_name = "P", .default_value = "16"},
                    {.name = "probe-every", .value_name = "N", .default_value = "50"},
                    {.name = "topic",
                     .value_name = "TOPIC",
                     .help = "guanxi.churn-warnings or guanxi.relationship-changes",
                     .default_value = "guanxi.churn-warnings"},
                    {.name = "engine-properties",
                     .value_name = "LIST",
                     .help = "librdkafka properties for the engine: name=value,name=value"},
                    {.name = "refit-days",
                     .value_name = "D",
                     .help = "classification.model_refit_days (0: the default)",
                     .default_value = "0"},
                    {.name = "brokers",
                     .value_name = "HOST:PORT",
                     .help = "a Kafka cluster to run on, with topics of the run's own (default: "
                             "librdkafka's mock cluster in this process)"},
                    {.name = "replication",
                     .value_name = "N",
                     .help = "replication factor of those topics",
                     .default_value = "1"},
                    {.name = "data", .value_name = "DIR", .required = true}},
          .run = [](const Args& args, Io& io) {
            auto refit = args.GetInt("refit-days", 0, 100000);
            auto replication = args.GetInt("replication", 1, 16);
            if (!replication.ok()) return app::ReportUsageError(io, replication.status());
            if (!refit.ok()) return app::ReportUsageError(io, refit.status());
            std::vector<std::pair<std::string, std::string>> properties;
            for (absl::string_view item :
                 absl::StrSplit(args.Get("engine-properties"), ',', absl::SkipEmpty())) {
              const std::pair<std::string, std::string> kv =
                  absl::StrSplit(item, absl::MaxSplits('=', 1));
              properties.push_back(kv);
            }
            auto rate = args.GetDouble("rate");
            auto seconds = args.GetDouble("seconds");
            auto partitions = args.GetInt("partitions", 1, 1024);
            auto every = args.GetInt("probe-every", 2, 1'000'000);
            if (!rate.ok()) return app::ReportUsageError(io, rate.status());
            if (!seconds.ok()) return app::ReportUsageError(io, seconds.status());
            if (!partitions.ok()) return app::ReportUsageError(io, partitions.status());
            if (!every.ok()) return app::ReportUsageError(io, every.status());
            return Print(io, LatencyPhase({.rate = *rate,
                                           .seconds = *seconds,
                                           .partitions = static_cast<int>(*partitions),
                                           .probe_every = *every,
                                           .observe_topic = args.Get("topic"),
                                           .data_dir = args.Get("data"),
                                           .model_refit_days = static_cast<int32_t>(*refit),
                                           .engine_properties = properties,
                                           .brokers = args.Get("brokers"),
                                           .replication_factor =
                                               static_cast<int>(*replication)}));
          }};
}

Command MemoryCommand() {
  return {.name = "memory",
          .summary = "Peak RSS of guanxi run ingesting a population (child process).",
          .flags = {{.name = "customers", .value_name = "N", .default_value = "1000000"},
                    {.name = "partitions", .value_name = "P", .default_value = "32"},
                    {.name = "data", .value_name = "DIR", .required = true},
                    {.name = "guanxi", .value_name = "PATH", .default_value = GUANXI_BINARY}},
          .run = [](const Args& args, Io& io) {
            auto customers = args.GetInt("customers", 1, 100'000'000);
            auto partitions = args.GetInt("partitions", 1, 1024);
            if (!customers.ok()) return app::ReportUsageError(io, customers.status());
            if (!partitions.ok()) return app::ReportUsageError(io, partitions.status());
            return Print(io, MemoryPhase({.customers = *customers,
                                          .partitions = static_cast<int>(*partitions),
                                          .data_dir = args.Get("data"),
                                          .guanxi_binary = args.Get("guanxi")}));
          }};
}

absl::StatusOr<CostOptions> ReadCostOptions(const Args& args) {
  auto events = args.GetInt("events", 100, 10'000'000);
  if (!events.ok()) return events.status();
  auto batch = args.GetInt("batch", 1, 1'000'000);
  if (!batch.ok()) return batch.status();
  auto seed = args.GetInt("seed", 0, INT64_MAX);
  if (!seed.ok()) return seed.status();
  return CostOptions{.events = *events,
                     .batch = static_cast<size_t>(*batch),
                     .seed = static_cast<uint64_t>(*seed),
                     .data_dir = args.Get("data")};
}

std::vector<Flag> CostFlags() {
  return {{.name = "events", .value_name = "N", .default_value = "5000"},
          {.name = "batch", .value_name = "N", .default_value = "500"},
          {.name = "seed", .value_name = "S", .default_value = "1"},
          {.name = "data", .value_name = "DIR", .required = true}};
}

Command CostCommand() {
  return {.name = "cost",
          .summary = "The callgrind workload, natively (no Kafka, one thread, one partition).",
          .flags = CostFlags(),
          .run = [](const Args& args, Io& io) {
            auto o = ReadCostOptions(args);
            if (!o.ok()) return app::ReportUsageError(io, o.status());
            return Print(io, CostPhase(*o));
          }};
}

Command CallgrindCommand() {
  std::vector<Flag> flags = CostFlags();
  flags.push_back({.name = "annotate",
                   .value_name = "FILE",
                   .help = "write callgrind_annotate's listing here"});
  return {.name = "callgrind",
          .summary = "The cost workload under valgrind --tool=callgrind: instructions per event.",
          .flags = flags,
          .run = [](const Args& args, Io& io) {
            auto o = ReadCostOptions(args);
            if (!o.ok()) return app::ReportUsageError(io, o.status());
            return Print(io, CallgrindPhase({.cost = *o,
                                             .self_binary = SelfPath(),
                                             .out_file = absl::StrCat(o->data_dir, ".callgrind"),
                                             .annotate_path = args.Get("annotate")}));
          }};
}

}  // namespace
}  // namespace guanxi::bench

int main(int argc, char** argv) {
  using namespace guanxi;
  MapLargeAllocations();  // as the guanxi binary: the engine runs in this process
  app::Io io{std::cout, std::cerr};
  app::Command root{.name = "guanxi_bench",
                    .summary = "the engine measured against the machine's own limits",
                    .description = "See bench/README.md. `guanxi_bench all` runs everything."};
  root.Add(bench::AllCommand());
  root.Add(bench::TableCommand());
  root.Add(bench::IngestCommand());
  root.Add(bench::DbBenchCommand());
  root.Add(bench::ReplayCommand());
  root.Add(bench::LatencyCommand());
  root.Add(bench::MemoryCommand());
  root.Add(bench::CostCommand());
  root.Add(bench::CallgrindCommand());
  const int code = root.Main(argc, argv, io);
  std::cout.flush();
  return code;
}
