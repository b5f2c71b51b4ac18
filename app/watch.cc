// guanxi watch: the reference consumer of the engine's outputs. Prints churn warnings
// (or, with --topic changes, relationship changes) as they arrive.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <optional>
#include <ostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "app/commands.h"
#include "engine/config/config.h"
#include "engine/kafka/kafka.h"
#include "engine/kafka/topics.h"
#include "engine/query/json.h"
#include "google/protobuf/util/time_util.h"
#include "guanxi/v1/state.pb.h"
#include "guanxi/v1/warning.pb.h"

namespace guanxi::app {
namespace {

std::atomic<bool> watch_stop{false};

void OnWatchStop(int) { watch_stop.store(true); }

// Every partition from the chosen start; nothing is committed (a watcher is a reader).
class StartAt final : public engine::RebalanceListener {
 public:
  explicit StartAt(int64_t start) : start_(start) {}
  std::vector<int64_t> OnAssigned(const std::vector<engine::TopicPartition>& p) override {
    return std::vector<int64_t>(p.size(), start_);
  }
  void OnRevoked(const std::vector<engine::TopicPartition>&) override {}

 private:
  int64_t start_;
};

std::string Lower(std::string_view enum_name, std::string_view prefix) {
  if (enum_name.size() >= 11 && enum_name.substr(enum_name.size() - 11) == "UNSPECIFIED") {
    return "none";
  }
  std::string s(enum_name.substr(enum_name.rfind(prefix) == 0 ? prefix.size() : 0));
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Time(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%d %H:%M", absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

std::string Describe(const guanxi::v1::ChurnWarning& w) {
  std::vector<std::string> reasons;
  for (const auto& r : w.reasons())
    reasons.push_back(absl::StrCat(r.code(), ": ", r.description()));
  return absl::StrFormat(
      "%s  %-8s %-9s %s  score %.1f  %s  P(alive) %.2f%s  [%s]  (%s)", Time(w.event_time()),
      Lower(guanxi::v1::WarningLevel_Name(w.level()), "WARNING_LEVEL_"),
      Lower(guanxi::v1::WarningNotice_Name(w.notice()), "WARNING_NOTICE_"), w.customer_id(),
      w.score(), Lower(guanxi::v1::LifecycleStage_Name(w.stage()), "LIFECYCLE_STAGE_"), w.p_alive(),
      w.has_churn_risk() ? absl::StrFormat("  risk %.2f", w.churn_risk()) : "",
      absl::StrJoin(reasons, "; "), w.warning_id());
}

std::string Describe(const guanxi::v1::RelationshipChange& c) {
  std::string what;
  if (c.has_stage()) {
    what = absl::StrCat(
        "stage ", Lower(guanxi::v1::LifecycleStage_Name(c.stage().from()), "LIFECYCLE_STAGE_"),
        " -> ", Lower(guanxi::v1::LifecycleStage_Name(c.stage().to()), "LIFECYCLE_STAGE_"), " (",
        c.stage().cause(), ")");
  } else if (c.has_class_change()) {
    what = absl::StrCat("class ", c.class_change().classification(), " ",
                        c.class_change().from().empty() ? "-" : c.class_change().from(), " -> ",
                        c.class_change().to(), " (", c.class_change().reason(), ")");
  } else if (c.has_score()) {
    what = absl::StrFormat("score %.1f -> %.1f", c.score().from(), c.score().to());
  }
  return absl::StrCat(Time(c.event_time()), "  ", c.customer_id(), "  ", what);
}

// A message of the watched topic as one line: for people, or with `json` in protobuf's
// JSON mapping with every field, zero or not (engine::MessageJson). nullopt when it does
// not parse.
template <typename Message>
std::optional<std::string> LineOf(const std::string& value, bool json) {
  Message message;
  if (!message.ParseFromString(value)) return std::nullopt;
  if (!json) return Describe(message);
  absl::StatusOr<std::string> text = engine::MessageJson(message);
  if (!text.ok()) return std::nullopt;
  return *std::move(text);
}

int RunWatch(const Args& args, Io& io) {
  auto config = engine::LoadEngineConfig(args.Get("config"));
  if (!config.ok()) return ReportUsageError(io, config.status());
  const std::string which = args.Get("topic");
  if (which != "warnings" && which != "changes") {
    return ReportUsageError(io, absl::InvalidArgumentError(absl::StrCat(
                                    "--topic: '", which, "' is not one of warnings, changes")));
  }
  auto max = args.GetInt("max", 0, int64_t{1} << 40);
  if (!max.ok()) return ReportUsageError(io, max.status());
  const bool json = args.IsSet("json");
  const std::string topic =
      which == "warnings" ? config->kafka().warnings_topic() : config->kafka().changes_topic();

  struct sigaction action = {};
  action.sa_handler = OnWatchStop;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  StartAt start(args.IsSet("from-beginning") ? engine::kOffsetBeginning : engine::kOffsetEnd);
  const std::string group =
      absl::StrCat("guanxi-watch-", getpid(), "-", absl::ToUnixMicros(absl::Now()));
  auto consumer = engine::Consumer::Create(args.Get("brokers"), group,
                                           engine::PropertiesOf(config->kafka()), &start);
  if (!consumer.ok()) return ReportFailure(io, consumer.status());
  if (auto s = (*consumer)->Subscribe({topic}); !s.ok()) return ReportFailure(io, s);
  if (!json) io.err << "guanxi watch: " << topic << " (Ctrl-C ends)\n";

  int64_t seen = 0;
  int exit_code = kExitOk;
  while (!watch_stop.load() && (*max == 0 || seen < *max)) {
    for (const engine::KafkaMessage& m : (*consumer)->Poll(500, absl::Milliseconds(200))) {
      if (!m.error.ok()) continue;  // transient; librdkafka retries
      const std::optional<std::string> line =
          which == "warnings" ? LineOf<guanxi::v1::ChurnWarning>(m.value, json)
                              : LineOf<guanxi::v1::RelationshipChange>(m.value, json);
      if (!line) {
        io.err << "guanxi watch: " << topic << "[" << m.partition << "]@" << m.offset
               << " does not parse; skipped\n";
        exit_code = kExitFailure;
        continue;
      }
      io.out << *line << "\n" << std::flush;
      if (++seen == *max && *max > 0) break;
    }
  }
  (*consumer)->Close();
  return exit_code;
}

}  // namespace

Command WatchCommand() {
  return Command{
      .name = "watch",
      .summary = "Print churn warnings (or relationship changes) as they arrive.",
      .description =
          "The reference consumer of the engine's outputs (docs/consumers.md). Reads every\n"
          "partition of the warnings topic (--topic changes: the relationship-changes\n"
          "topic), from now on or --from-beginning, and prints one line per message: for\n"
          "people, or with --json the message in protobuf's JSON mapping (one object per\n"
          "line). Commits nothing. Runs until Ctrl-C, or until --max messages.",
      .flags = {{.name = "brokers",
                 .value_name = "LIST",
                 .help = "Kafka bootstrap servers",
                 .required = true},
                {.name = "topic",
                 .value_name = "warnings|changes",
                 .help = "what to watch",
                 .default_value = "warnings"},
                {.name = "from-beginning", .help = "start at the oldest message kept"},
                {.name = "max",
                 .value_name = "N",
                 .help = "stop after N messages (0: never)",
                 .default_value = "0"},
                {.name = "config",
                 .value_name = "FILE",
                 .help = "engine configuration (topic names, Kafka properties)"},
                {.name = "json", .help = "print protobuf JSON, one message per line"}},
      .run = RunWatch,
  };
}

}  // namespace guanxi::app
