// guanxi export: one row per customer over every partition (guanxi.v1.ExportRow), live or
// as of an event time recomputed from the log, as CSV or JSON lines.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "app/commands.h"
#include "app/progress.h"
#include "app/time_flag.h"
#include "common/scratch_dir.h"
#include "common/status_macros.h"
#include "engine/config/config.h"
#include "engine/storage/data_dir.h"
#include "engine/query/json.h"
#include "engine/query/projection_view.h"
#include "google/protobuf/util/time_util.h"
#include "guanxi/v1/export.pb.h"
#include "guanxi/v1/state.pb.h"
#include "guanxi/v1/warning.pb.h"

namespace guanxi::app {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using google::protobuf::Timestamp;
using guanxi::v1::ExportRow;

std::atomic<bool> export_stop{false};

void OnExportStop(int) { export_stop.store(true); }

// SIGINT / SIGTERM stop the export at the next row or chunk of records; the previous
// handlers come back when the command ends.
class StopOnSignals {
 public:
  StopOnSignals() {
    export_stop.store(false);
    struct sigaction action = {};
    action.sa_handler = OnExportStop;
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~StopOnSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopOnSignals(const StopOnSignals&) = delete;
  StopOnSignals& operator=(const StopOnSignals&) = delete;

 private:
  struct sigaction old_int_ = {};
  struct sigaction old_term_ = {};
};

ExportRow RowOf(const guanxi::v1::CustomerState& s, int32_t partition, int64_t events) {
  ExportRow row;
  row.set_customer_id(s.customer_id());
  row.set_partition(partition);
  row.set_events(events);
  row.set_overall_score(s.overall_score());
  for (const auto& d : s.dimensions()) {
    switch (d.dimension()) {
      case guanxi::v1::DIMENSION_ACCEPTANCE:
        row.set_acceptance(d.score());
        break;
      case guanxi::v1::DIMENSION_PARTICIPATION:
        row.set_participation(d.score());
        break;
      case guanxi::v1::DIMENSION_INFORMATION:
        row.set_information(d.score());
        break;
      case guanxi::v1::DIMENSION_GUIDANCE:
        row.set_guidance(d.score());
        break;
      case guanxi::v1::DIMENSION_PROJECT_SUPPORT:
        row.set_project_support(d.score());
        break;
      case guanxi::v1::DIMENSION_COMPETITIVE_PREFERENCE:
        row.set_competitive_preference(d.score());
        break;
      case guanxi::v1::DIMENSION_FEELING:
        row.set_feeling(d.score());
        break;
      case guanxi::v1::DIMENSION_BEHAVIOUR:
        row.set_behaviour(d.score());
        break;
      default:
        break;
    }
  }
  row.set_stage(s.stage());
  if (s.has_stage_since()) *row.mutable_stage_since() = s.stage_since();
  const guanxi::v1::Classes& c = s.classes();
  row.set_abc(c.abc());
  row.set_rfm_recency(c.rfm_recency());
  row.set_rfm_frequency(c.rfm_frequency());
  row.set_rfm_monetary(c.rfm_monetary());
  row.set_rfm_segment(c.rfm_segment());
  row.set_transaction_quadrant(c.transaction_quadrant());
  row.set_value_tier(c.value_tier());
  row.set_potential_tier(c.potential_tier());
  row.set_loyalty_tier(c.loyalty_tier());
  row.set_development_matrix(c.development_matrix());
  row.set_intent_class(c.intent_class());
  row.set_relationship_kind(c.relationship_kind());
  row.set_p_alive(s.p_alive());
  row.set_expected_purchases_90d(s.expected_purchases_90d());
  if (s.has_churn_risk()) row.set_churn_risk(s.churn_risk());
  // The open churn-warning episode's level; its reasons are added by the caller, from
  // the episode's latest notice (the state does not keep them).
  const guanxi::v1::ChurnEpisode& episode = s.churn_episode();
  if (!episode.warning_id().empty() && guanxi::v1::WarningLevel_IsValid(episode.level())) {
    row.set_churn_level(static_cast<guanxi::v1::WarningLevel>(episode.level()));
  }
  return row;
}

// ---- CSV (RFC 4180) -------------------------------------------------------------------

// Quoted when it holds a comma, a double quote, CR or LF; quotes inside are doubled.
std::string CsvField(std::string_view value) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(value);
  std::string quoted = "\"";
  for (char c : value) {
    if (c == '"') quoted.push_back('"');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

// The shortest text that reads back as the same double.
std::string Shortest(double v) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), v);
  return std::string(buffer, result.ptr);
}

// One value of `field` (element `index` of a repeated field, or -1), as the CSV cell
// shows it: enums by name (UNSPECIFIED: empty), timestamps and optional fields unset:
// empty.
std::string CsvValue(const Message& row, const FieldDescriptor* field, int index) {
  const Reflection* r = row.GetReflection();
  const bool repeated = index >= 0;
  // An optional field left unset (churn_risk not known): an empty cell, not 0.
  if (!repeated && field->has_presence() && !r->HasField(row, field)) return "";
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      return repeated ? r->GetRepeatedString(row, field, index) : r->GetString(row, field);
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(repeated ? r->GetRepeatedInt32(row, field, index)
                                   : r->GetInt32(row, field));
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(repeated ? r->GetRepeatedInt64(row, field, index)
                                   : r->GetInt64(row, field));
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(repeated ? r->GetRepeatedUInt32(row, field, index)
                                   : r->GetUInt32(row, field));
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(repeated ? r->GetRepeatedUInt64(row, field, index)
                                   : r->GetUInt64(row, field));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return Shortest(repeated ? r->GetRepeatedDouble(row, field, index)
                               : r->GetDouble(row, field));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return Shortest(repeated ? r->GetRepeatedFloat(row, field, index) : r->GetFloat(row, field));
    case FieldDescriptor::CPPTYPE_BOOL:
      return (repeated ? r->GetRepeatedBool(row, field, index) : r->GetBool(row, field)) ? "true"
                                                                                         : "false";
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int number =
          repeated ? r->GetRepeatedEnumValue(row, field, index) : r->GetEnumValue(row, field);
      if (number == 0) return "";
      const auto* value = field->enum_type()->FindValueByNumber(number);
      return value != nullptr ? value->name() : absl::StrCat(number);
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      if (!repeated && !r->HasField(row, field)) return "";
      const Message& m =
          repeated ? r->GetRepeatedMessage(row, field, index) : r->GetMessage(row, field);
      if (m.GetDescriptor() != Timestamp::descriptor()) return "";
      Timestamp t;
      t.CopyFrom(m);
      return google::protobuf::util::TimeUtil::ToString(t);
    }
  }
  return "";
}

std::string CsvHeader() {
  const auto* descriptor = ExportRow::descriptor();
  std::vector<std::string> names;
  for (int i = 0; i < descriptor->field_count(); ++i) names.push_back(descriptor->field(i)->name());
  return absl::StrCat(absl::StrJoin(names, ","), "\r\n");
}

std::string CsvLine(const ExportRow& row) {
  const auto* descriptor = ExportRow::descriptor();
  std::vector<std::string> cells;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    std::string cell;
    if (field->is_repeated()) {
      std::vector<std::string> items;
      const int n = row.GetReflection()->FieldSize(row, field);
      for (int k = 0; k < n; ++k) items.push_back(CsvValue(row, field, k));
      cell = absl::StrJoin(items, "; ");
    } else {
      cell = CsvValue(row, field, -1);
    }
    cells.push_back(CsvField(cell));
  }
  return absl::StrCat(absl::StrJoin(cells, ","), "\r\n");
}

absl::StatusOr<std::string> JsonLine(const ExportRow& row) {
  ASSIGN_OR_RETURN(std::string json, engine::MessageJson(row));  // every column, zero or not
  absl::StrAppend(&json, "\n");
  return json;
}

// ---- The command --------------------------------------------------------------------

struct ExportTotals {
  int64_t rows = 0;
  int64_t records = 0;  // log records applied to recompute (as of a time)
};

// Writes every customer row of one partition to `out`.
absl::Status ExportPartition(const engine::ProjectionView& view, bool csv, std::ostream& out,
                             ExportTotals& totals, Progress& progress) {
  absl::Status status;
  RETURN_IF_ERROR(view.store->ForEachState([&](const guanxi::v1::CustomerState& state) {
    int64_t events = 0;
    status = view.ForEachEvent(state.customer_id(), [&](const guanxi::v1::LogRecord& r) {
      if (!r.event().has_erasure()) ++events;  // an erasure changes no figure of the row
      return true;
    });
    if (!status.ok()) return false;
    ExportRow row = RowOf(state, view.partition, events);
    if (const std::string& episode = state.churn_episode().warning_id(); !episode.empty()) {
      // The reasons of the open episode's latest notice (raised or escalated).
      guanxi::v1::ChurnWarning latest;
      status =
          view.ForEachFact(state.customer_id(), [&](uint64_t, const guanxi::v1::DerivedFact& fact) {
            if (fact.has_warning() && fact.warning().warning_id() == episode) {
              latest = fact.warning();
            }
            return true;
          });
      if (!status.ok()) return false;
      for (const auto& reason : latest.reasons()) row.add_churn_reasons(reason.code());
    }
    if (csv) {
      out << CsvLine(row);
    } else {
      auto line = JsonLine(row);
      if (!line.ok()) {
        status = line.status();
        return false;
      }
      out << *line;
    }
    ++totals.rows;
    progress.Update(0, 0, totals.rows, "customers");
    return !export_stop.load();
  }));
  return status;
}

int RunExport(const Args& args, Io& io) {
  auto config = engine::LoadEngineConfig(args.Get("config"));
  if (!config.ok()) return ReportUsageError(io, config.status());
  const std::string format = args.Get("format");
  if (format != "jsonl" && format != "csv") {
    return ReportUsageError(io, absl::InvalidArgumentError(absl::StrCat(
                                    "--format: '", format, "' is not one of jsonl, csv")));
  }
  const bool csv = format == "csv";
  std::optional<Timestamp> as_of;
  if (args.Has("as-of")) {
    auto parsed = ParseTimeFlag("as-of", args.Get("as-of"));
    if (!parsed.ok()) return ReportUsageError(io, parsed.status());
    as_of = *parsed;
  }
  const std::string data = args.Get("data");
  auto partitions = engine::ListPartitions(data);
  if (!partitions.ok()) return ReportFailure(io, partitions.status());

  // To a file: written beside it and renamed when complete, so a failed or interrupted
  // export never leaves a file that looks whole.
  const std::string output = args.Get("output");
  const std::string partial = output.empty() ? "" : absl::StrCat(output, ".partial");
  std::ofstream file;
  if (!output.empty()) {
    file.open(partial, std::ios::binary | std::ios::trunc);
    if (!file) {
      return ReportFailure(io, absl::PermissionDeniedError(absl::StrCat("cannot write ", partial)));
    }
  }
  std::ostream& out = output.empty() ? io.out : file;
  auto fail = [&](const absl::Status& status) {
    if (!output.empty()) {
      file.close();
      std::remove(partial.c_str());
    }
    return ReportFailure(io, status);
  };

  StopOnSignals signals;
  Progress progress(io.err, "export", isatty(STDERR_FILENO) != 0);
  ExportTotals totals;
  if (csv) out << CsvHeader();
  for (int32_t p : *partitions) {
    ScratchDir scratch("guanxi_export");
    if (scratch.path().empty()) {
      return fail(absl::InternalError("cannot create a scratch directory"));
    }
    const int64_t records_before = totals.records;
    auto view = engine::OpenProjectionView(
        {.data_dir = data,
         .partition = p,
         .scratch_dir = scratch.path(),
         .config = *config,
         .as_of = as_of},
        export_stop, [&](uint64_t applied, uint64_t) {
          totals.records = records_before + static_cast<int64_t>(applied);
          progress.Update(0, 0, totals.records, "records recomputed");
        });
    absl::Status status = view.status();
    if (status.ok()) status = ExportPartition(*view, csv, out, totals, progress);
    if (!status.ok() && !export_stop.load()) {
      progress.Finish();
      return fail(
          absl::Status(status.code(), absl::StrCat("partition ", p, ": ", status.message())));
    }
    if (export_stop.load()) {
      progress.Finish();
      return fail(absl::CancelledError("interrupted"));
    }
  }
  progress.Finish();
  out.flush();
  if (!out) return fail(absl::DataLossError("writing the export failed"));
  if (!output.empty()) {
    file.close();
    if (std::rename(partial.c_str(), output.c_str()) != 0) {
      return fail(
          absl::PermissionDeniedError(absl::StrCat("cannot rename ", partial, " to ", output)));
    }
  }
  io.err << "guanxi export: " << WithThousands(totals.rows) << " customers from "
         << partitions->size() << " partitions, "
         << (as_of ? absl::StrCat("as of ", google::protobuf::util::TimeUtil::ToString(*as_of),
                                  " recomputed from the log")
                   : std::string("live"))
         << (output.empty() ? std::string() : absl::StrCat(", to ", output)) << "\n";
  return kExitOk;
}

}  // namespace

Command ExportCommand() {
  return Command{
      .name = "export",
      .summary = "One row per customer (score, dimensions, stage, classes) as CSV or JSONL.",
      .description =
          "Writes one row per customer of every partition under --data: partitions in\n"
          "ascending order, customers in customer_id order within a partition. The row is a\n"
          "guanxi.v1.ExportRow (proto/guanxi/v1/export.proto): customer_id, partition, the\n"
          "events in the customer's stream, the overall score and the 8 dimension scores,\n"
          "stage and stage_since, every class, P(alive), the purchases expected in the next\n"
          "90 days, and the open churn-warning episode's level and reason codes (those of\n"
          "its latest notice; empty when none is open).\n"
          "\n"
          "--format jsonl: one ExportRow per line in protobuf's JSON mapping (every field\n"
          "present; int64 as strings, enums by name). --format csv: a header row with the\n"
          "ExportRow field names, then one row per customer, RFC 4180 (CRLF line ends;\n"
          "cells with a comma, a quote or a line break are quoted, quotes doubled); enums\n"
          "by name (UNSPECIFIED: empty), timestamps RFC 3339, repeated fields joined by\n"
          "\"; \". --output FILE writes FILE.partial and renames it when complete;\n"
          "default: stdout. Progress and a summary go to stderr.\n"
          "\n"
          "Without --as-of: the live projections, each store opened as a RocksDB secondary\n"
          "(safe while `guanxi run` holds the data directory), as of the moment it was\n"
          "opened. With --as-of TIME (a date means the end of that day, UTC): every\n"
          "partition recomputed from its log up to TIME (events that occurred later left\n"
          "out), as `guanxi audit trail --as-of` does; use the engine's --config.\n"
          "See docs/operations.md, \"Exporting customers\".",
      .flags =
          {{.name = "data", .value_name = "DIR", .help = "the data directory", .required = true},
           {.name = "format",
            .value_name = "jsonl|csv",
            .help = "the output format",
            .required = true},
           {.name = "as-of",
            .value_name = "TIME",
            .help = "event time: RFC 3339 or a date (its end); default: live"},
           {.name = "output", .value_name = "FILE", .help = "write here; default: stdout"},
           {.name = "config",
            .value_name = "FILE",
            .help = "engine configuration (protobuf text format); default: built-in"}},
      .run = RunExport,
  };
}

}  // namespace guanxi::app
