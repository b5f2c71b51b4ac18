// guanxi demo: the whole engine in one process, live: an embedded Kafka, the simulator
// streaming a year of customer events into it, `guanxi run` ingesting and projecting
// them, and a terminal view of what the people who use it would see.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <mutex>
#include <ostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "app/commands.h"
#include "app/progress.h"
#include "app/publishers.h"
#include "common/scratch_dir.h"
#include "connectors/simulator.h"
#include "engine/config/config.h"
#include "engine/ingest/ingest_engine.h"
#include "engine/kafka/kafka.h"
#include "engine/kafka/topics.h"
#include "engine/query/http_server.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/projection_store.h"
#include "guanxi/v1/warning.pb.h"

namespace guanxi::app {
namespace {

std::atomic<bool> demo_stop{false};

void OnDemoStop(int) { demo_stop.store(true); }

std::string StageName(guanxi::v1::LifecycleStage stage) {
  std::string s = guanxi::v1::LifecycleStage_Name(stage).substr(16);  // "LIFECYCLE_STAGE_"
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// What the view shows, read from the partitions' stores (as RocksDB secondaries).
struct Snapshot {
  int64_t customers = 0;
  std::map<guanxi::v1::LifecycleStage, int64_t> stages;
  std::map<std::string, int64_t> abc;
  std::map<std::string, int64_t> intent;
  struct AtRisk {
    std::string customer_id;
    int level = 0;  // the open warning episode's level (guanxi.v1.WarningLevel), 0: none
    double score = 0;
    double p_alive = 0;
    std::optional<double> risk;  // CustomerState.churn_risk, when known
    guanxi::v1::LifecycleStage stage{};
    std::string why;
    bool operator<(const AtRisk& o) const {  // the most at risk first
      return level != o.level ? level > o.level : score < o.score;
    }
  };
  std::vector<AtRisk> at_risk;           // the most at risk first
  std::map<int, int64_t> open_warnings;  // by level
  // Customers with a warning or a critical open who are not at risk: lost, or prospects
  // who have not bought (docs/scoring.md section 2: their stage does not follow it).
  int64_t warned_not_at_risk = 0;
  int64_t clock = 0;                     // the latest event time applied on any partition
};

Snapshot Look(const std::string& data, const std::string& scratch) {
  Snapshot snap;
  auto partitions = engine::ListPartitions(data);
  if (!partitions.ok()) return snap;
  std::vector<Snapshot::AtRisk> candidates;
  for (int32_t p : *partitions) {
    engine::EventLogOptions options{.mode = engine::OpenMode::kSecondary,
                                    .secondary_dir = absl::StrCat(scratch, "/view-", p)};
    options.extra_column_families = engine::ProjectionStore::ColumnFamilies();
    auto log = engine::EventLog::Open(engine::PartitionDir(data, p), options);
    if (!log.ok()) continue;
    auto store = engine::ProjectionStore::Attach(log->get());
    if (!store.ok()) continue;
    if (auto checkpoint = (*store)->ReadCheckpoint(); checkpoint.ok()) {
      snap.clock = std::max(snap.clock, checkpoint->clock().seconds());
    }
    std::vector<Snapshot::AtRisk> mine;
    (*store)
        ->ForEachState([&](const guanxi::v1::CustomerState& s) {
          ++snap.customers;
          ++snap.stages[s.stage()];
          if (!s.classes().abc().empty()) ++snap.abc[s.classes().abc()];
          if (!s.classes().intent_class().empty()) ++snap.intent[s.classes().intent_class()];
          const int level = s.churn_episode().warning_id().empty() ? 0 : s.churn_episode().level();
          if (level > 0) ++snap.open_warnings[level];
          if (level >= guanxi::v1::WARNING_LEVEL_WARNING &&
              s.stage() != guanxi::v1::LIFECYCLE_STAGE_AT_RISK) {
            ++snap.warned_not_at_risk;
          }
          if (level > 0 || s.stage() == guanxi::v1::LIFECYCLE_STAGE_AT_RISK ||
              s.stage() == guanxi::v1::LIFECYCLE_STAGE_WINNING_BACK) {
            mine.push_back({s.customer_id(), level, s.overall_score(), s.p_alive(),
                            s.has_churn_risk() ? std::optional(s.churn_risk()) : std::nullopt,
                            s.stage(), ""});
          }
          return true;
        })
        .IgnoreError();
    // Why: the latest stage transition's cause, or the latest warning's reasons.
    std::sort(mine.begin(), mine.end());
    if (mine.size() > 8) mine.resize(8);
    for (auto& r : mine) {
      (*store)
          ->ForEachFact(r.customer_id,
                        [&](uint64_t, const guanxi::v1::DerivedFact& f) {
                          if (f.has_warning() && f.warning().reasons_size() > 0) {
                            std::vector<std::string> reasons;
                            for (const auto& reason : f.warning().reasons())
                              reasons.push_back(reason.description());
                            r.why = absl::StrJoin(reasons, "; ");
                          } else if (f.has_change() && f.change().has_stage()) {
                            r.why = f.change().stage().cause();
                          }
                          return true;
                        })
          .IgnoreError();
      candidates.push_back(r);
    }
  }
  std::sort(candidates.begin(), candidates.end());
  if (candidates.size() > 8) candidates.resize(8);
  snap.at_risk = std::move(candidates);
  return snap;
}

std::string LevelName(int level) {
  std::string s =
      guanxi::v1::WarningLevel_Name(static_cast<guanxi::v1::WarningLevel>(level)).substr(14);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Distribution(const std::map<std::string, int64_t>& counts) {
  std::vector<std::string> parts;
  for (const auto& [name, n] : counts) parts.push_back(absl::StrCat(name, " ", n));
  return parts.empty() ? "(no population model yet)" : absl::StrJoin(parts, "   ");
}

void Render(std::ostream& out, bool terminal, const std::string& web_url, const Snapshot& snap,
            double elapsed, int64_t produced, int64_t total, const engine::IngestStats& totals,
            double rate, const std::deque<std::string>& warnings, int64_t warnings_seen) {
  if (terminal) out << "\x1b[H\x1b[2J";  // home, clear
  out << absl::StrFormat(
      "guanxi demo  %4.0fs   simulated events sent %s of %s   appended %s (%s/s)\n", elapsed,
      WithThousands(produced), WithThousands(total), WithThousands(totals.appended),
      WithThousands(static_cast<int64_t>(rate)));
  if (!web_url.empty()) out << "web view: " << web_url << "\n";
  if (snap.clock > 0) {
    out << "event time now: "
        << absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(snap.clock), absl::UTCTimeZone())
        << "   customers: " << WithThousands(snap.customers) << "\n";
  }
  out << "\nlifecycle:  ";
  for (const auto& [stage, n] : snap.stages) out << StageName(stage) << " " << n << "   ";
  out << "\nABC value:  " << Distribution(snap.abc);
  out << "\nintent:     " << Distribution(snap.intent) << "\n";
  out << "open warnings:";
  for (int level = 3; level >= 1; --level) {
    out << "  " << LevelName(level) << " "
        << (snap.open_warnings.count(level) ? snap.open_warnings.at(level) : 0);
  }
  // One story: at_risk is every customer who bought with a warning or a critical open.
  if (snap.warned_not_at_risk > 0) {
    out << "   (at_risk: those of level warning and critical who bought; "
        << WithThousands(snap.warned_not_at_risk) << " others are lost or prospects)";
  }
  out << "\n\nmost at risk (highest open warning, then lowest relationship score):\n";
  if (snap.at_risk.empty()) out << "  (none yet)\n";
  for (const auto& r : snap.at_risk) {
    out << absl::StrFormat("  %-12s %-8s score %5.1f  %-12s P(alive) %.2f  risk %-4s  %s\n",
                           r.customer_id, r.level > 0 ? LevelName(r.level) : "-", r.score,
                           StageName(r.stage), r.p_alive,
                           r.risk ? absl::StrFormat("%.2f", *r.risk) : std::string("-"),
                           r.why.substr(0, 64));
  }
  out << "\nchurn warnings as they fire (" << warnings_seen << " so far):\n";
  if (warnings.empty()) out << "  (none yet)\n";
  for (const auto& w : warnings) out << "  " << w << "\n";
  out << std::flush;
}

// The host to print in the web view's address: where a browser on this machine reaches
// the listener (an address listening on every interface is reached at loopback).
std::string WebHost(const std::string& address) {
  std::string host = address.substr(0, address.rfind(':'));
  return host.empty() || host == "0.0.0.0" ? "127.0.0.1" : host == "::" ? "[::1]" : host;
}

// Every partition of the warnings topic from its start.
class FromStart final : public engine::RebalanceListener {
 public:
  std::vector<int64_t> OnAssigned(const std::vector<engine::TopicPartition>& p) override {
    return std::vector<int64_t>(p.size(), engine::kOffsetBeginning);
  }
  void OnRevoked(const std::vector<engine::TopicPartition>&) override {}
};

int RunDemo(const Args& args, Io& io) {
  auto customers = args.GetInt("customers", 1, 1'000'000);
  if (!customers.ok()) return ReportUsageError(io, customers.status());
  auto days = args.GetInt("days", 30, 3650);
  if (!days.ok()) return ReportUsageError(io, days.status());
  auto seed = args.GetInt("seed", 0, INT64_MAX);
  if (!seed.ok()) return ReportUsageError(io, seed.status());
  auto duration = args.GetInt("duration", 5, 3600);
  if (!duration.ok()) return ReportUsageError(io, duration.status());
  const std::string http_address = args.Get("http");
  const bool serve = http_address != "off";
  const guanxi::v1::EngineConfig config = engine::DefaultEngineConfig();

  struct sigaction action = {};
  action.sa_handler = OnDemoStop;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  ScratchDir scratch("guanxi_demo");
  const std::string data = absl::StrCat(scratch.path(), "/data");
  auto cluster = engine::EmbeddedCluster::Start(3);
  if (!cluster.ok()) return ReportFailure(io, cluster.status());
  if (auto s = engine::CreateGuanxiTopics(**cluster, config.kafka(), 4); !s.ok()) {
    return ReportFailure(io, s);
  }
  const std::string brokers = (*cluster)->bootstrap_servers();

  // The simulated year, streamed in event-time order over about 60% of the duration.
  connectors::Simulator sim({.customers = *customers,
                             .days = static_cast<int32_t>(*days),
                             .seed = static_cast<uint64_t>(*seed)});
  std::vector<guanxi::v1::Event> events;
  sim.Run([&](const guanxi::v1::Event& e) { events.push_back(e); });
  int64_t churners = 0;
  for (const auto& t : sim.truth()) churners += t.churns ? 1 : 0;
  auto publisher = NewKafkaEventPublisher(brokers, config.kafka().events_topic(), "");
  if (!publisher.ok()) return ReportFailure(io, publisher.status());
  std::atomic<int64_t> produced{0};
  std::atomic<bool> producing_done{false};
  absl::Status produce_status;
  std::thread producer([&] {
    const auto start = std::chrono::steady_clock::now();
    const double seconds = 0.6 * static_cast<double>(*duration);
    for (size_t i = 0; i < events.size() && !demo_stop.load(); ++i) {
      if (i % 256 == 0) {  // pace: event i is due at i / n of the streaming time
        const auto due = start + std::chrono::duration<double>(seconds * static_cast<double>(i) /
                                                               static_cast<double>(events.size()));
        std::this_thread::sleep_until(due);
      }
      if (auto s = (*publisher)->Publish(events[i]); !s.ok()) {
        produce_status = s;
        break;
      }
      produced = static_cast<int64_t>(i + 1);
    }
    if (auto failed = (*publisher)->Flush(); !failed.ok() && produce_status.ok()) {
      produce_status = failed.status();
    }
    producing_done = true;
  });

  std::mutex totals_mu;
  engine::IngestStats totals;
  absl::Status engine_status;
  std::atomic<bool> engine_stop{false};
  engine::IngestEngine engine({.brokers = brokers,
                               .data_dir = data,
                               .config = config,
                               .on_progress = [&](const engine::IngestStats& t, size_t) {
                                 std::lock_guard<std::mutex> lock(totals_mu);
                                 totals = t;
                               }});
  // The web view and the HTTP API, on the engine's live stores, as `guanxi run --http`.
  std::unique_ptr<engine::HttpServer> http;
  if (serve) {
    auto started = engine::HttpServer::Start({.address = http_address,
                                              .partitions = [&] { return engine.Partitions(); },
                                              .status = [&] { return engine.Status(); },
                                              .data_dir = data,
                                              .config = config});
    if (!started.ok()) {
      demo_stop = true;
      producer.join();
      return started.status().code() == absl::StatusCode::kInvalidArgument
                 ? ReportUsageError(io, started.status())
                 : ReportFailure(io, started.status());
    }
    http = std::move(*started);
  }
  const std::string web_url =
      http == nullptr ? "" : absl::StrCat("http://", WebHost(http_address), ":", http->port(), "/");
  std::thread engine_thread([&] { engine_status = engine.Run(engine_stop); });

  FromStart listener;
  auto consumer = engine::Consumer::Create(brokers, "guanxi-demo-view", {}, &listener);
  if (!consumer.ok()) {  // the threads end before their std::thread objects go
    demo_stop = true;
    producer.join();
    http.reset();
    engine_stop = true;
    engine_thread.join();
    return ReportFailure(io, consumer.status());
  }
  (*consumer)->Subscribe({config.kafka().warnings_topic()}).IgnoreError();

  const bool terminal = isatty(STDOUT_FILENO) != 0;
  const auto start = std::chrono::steady_clock::now();
  auto last_view = start - std::chrono::seconds(10);
  std::deque<std::string> warnings;
  int64_t warnings_seen = 0, last_appended = 0;
  double rate = 0;
  Snapshot snap;
  for (;;) {
    for (const engine::KafkaMessage& m : (*consumer)->Poll(100, absl::Milliseconds(200))) {
      guanxi::v1::ChurnWarning w;
      if (!m.error.ok() || !w.ParseFromString(m.value)) continue;
      ++warnings_seen;
      std::vector<std::string> codes;
      for (const auto& r : w.reasons()) codes.push_back(r.code());
      warnings.push_back(absl::StrFormat(
          "%s  %-9s %-8s %-12s score %5.1f  %s",
          absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(w.event_time().seconds()),
                           absl::UTCTimeZone()),
          guanxi::v1::WarningNotice_Name(w.notice()).substr(15),
          guanxi::v1::WarningLevel_Name(w.level()).substr(14), w.customer_id(), w.score(),
          absl::StrJoin(codes, ", ")));
      if (warnings.size() > 8) warnings.pop_front();
    }
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - start).count();
    const bool over = demo_stop.load() || elapsed >= static_cast<double>(*duration);
    if (now - last_view >= std::chrono::seconds(terminal ? 1 : 5) || over) {
      engine::IngestStats t;
      {
        std::lock_guard<std::mutex> lock(totals_mu);
        t = totals;
      }
      const double dt = std::chrono::duration<double>(now - last_view).count();
      rate = dt > 0 && dt < 60 ? static_cast<double>(t.appended - last_appended) / dt : 0;
      last_appended = t.appended;
      last_view = now;
      snap = Look(data, scratch.path());
      Render(io.out, terminal, web_url, snap, elapsed, produced.load(),
             static_cast<int64_t>(events.size()), t, rate, warnings, warnings_seen);
    }
    if (over) break;
  }
  const bool interrupted = demo_stop.load();
  demo_stop = true;
  producer.join();
  (*consumer)->Close();

  engine::IngestStats t;
  {
    std::lock_guard<std::mutex> lock(totals_mu);
    t = totals;
  }
  io.out << "\nsummary: " << WithThousands(*customers) << " simulated customers (" << churners
         << " planted churners), " << WithThousands(produced.load()) << " of "
         << WithThousands(static_cast<int64_t>(events.size())) << " events sent, "
         << WithThousands(t.appended) << " appended, " << warnings_seen << " churn warnings; "
         << WithThousands(snap.customers) << " customers projected\n";
  // The web view outlives the streaming, so that there is time to look around in it.
  if (http != nullptr && !interrupted && !args.IsSet("exit") && produce_status.ok()) {
    io.out << "the web view stays at " << web_url << " until Ctrl-C\n" << std::flush;
    demo_stop = false;
    while (!demo_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  http.reset();  // before the engine goes
  engine_stop = true;
  engine_thread.join();
  if (!produce_status.ok()) return ReportFailure(io, produce_status);
  if (!engine_status.ok()) return ReportFailure(io, engine_status);
  return kExitOk;
}

}  // namespace

Command DemoCommand() {
  return Command{
      .name = "demo",
      .summary = "The whole engine live in one process, with a terminal view.",
      .description =
          "Starts an embedded Kafka, streams a simulated year of customers (with planted\n"
          "churners) into it, runs the engine on it, and shows live: events/s, the\n"
          "lifecycle, value and intent distributions, the customers most at risk and why,\n"
          "and churn warnings as they fire. After --duration seconds (Ctrl-C ends early)\n"
          "it prints a summary. Everything lives in a temporary directory. On a terminal\n"
          "the view redraws every second; otherwise it prints every 5 seconds.\n"
          "\n"
          "The web view (docs/ui.md) and the HTTP API are served on --http while it runs,\n"
          "at the address it prints; after the summary they stay up, the engine idle,\n"
          "until Ctrl-C, unless --exit.",
      .flags =
          {{.name = "customers",
            .value_name = "N",
            .help = "simulated customers",
            .default_value = "2000"},
           {.name = "days", .value_name = "D", .help = "simulated days", .default_value = "365"},
           {.name = "seed", .value_name = "S", .help = "simulator seed", .default_value = "7"},
           {.name = "duration",
            .value_name = "SECONDS",
            .help = "how long the demo streams",
            .default_value = "30"},
           {.name = "http",
            .value_name = "HOST:PORT",
            .help = "the web view and HTTP API; port 0 picks a free one; off: none",
            .default_value = "127.0.0.1:8080"},
           {.name = "exit", .help = "end after the summary instead of serving until Ctrl-C"}},
      .run = RunDemo,
  };
}

}  // namespace guanxi::app
