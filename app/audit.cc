// guanxi audit: verify the logs' integrity; `audit trail` (audit_trail.cc) shows what
// happened to one customer.
#include <ostream>

#include "absl/strings/str_cat.h"
#include "app/commands.h"
#include "common/scratch_dir.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/event_log.h"

namespace guanxi::app {
namespace {

int RunVerify(const Args& args, Io& io) {
  const std::string data = args.Get("data");
  const bool json = args.IsSet("json");
  auto partitions = engine::ListPartitions(data);
  if (!partitions.ok()) return ReportFailure(io, partitions.status());

  ScratchDir scratch("guanxi_audit");
  bool all_ok = true;
  uint64_t total = 0;
  std::string json_rows;
  for (int32_t p : *partitions) {
    // As a secondary: works beside a running `guanxi run`, never blocks it.
    auto log = engine::EventLog::Open(engine::PartitionDir(data, p),
                                      {.mode = engine::OpenMode::kSecondary,
                                       .secondary_dir = absl::StrCat(scratch.path(), "/", p)});
    engine::VerifyResult result;
    if (!log.ok()) {
      result.ok = false;
      result.reason = absl::StrCat("cannot open: ", log.status().message());
    } else if (auto verified = (*log)->Verify(); !verified.ok()) {
      result.ok = false;
      result.reason = std::string(verified.status().message());
    } else {
      result = *verified;
    }
    all_ok = all_ok && result.ok;
    total += result.records_checked;
    if (json) {
      absl::StrAppend(&json_rows, json_rows.empty() ? "" : ",", "{\"partition\":", p,
                      ",\"ok\":", result.ok ? "true" : "false",
                      ",\"recordsChecked\":", result.records_checked);
      if (result.first_bad_position) {
        absl::StrAppend(&json_rows, ",\"firstBadPosition\":", *result.first_bad_position);
      }
      if (!result.ok) {
        std::string escaped;
        for (char c : result.reason) {
          if (c == '"' || c == '\\') escaped.push_back('\\');
          if (static_cast<unsigned char>(c) >= 0x20) escaped.push_back(c);
        }
        absl::StrAppend(&json_rows, ",\"reason\":\"", escaped, "\"");
      }
      absl::StrAppend(&json_rows, "}");
    } else if (result.ok) {
      io.out << "partition " << p << ": intact, " << result.records_checked << " records\n";
    } else {
      io.out << "partition " << p << ": DAMAGED";
      if (result.first_bad_position) io.out << " at position " << *result.first_bad_position;
      io.out << ": " << result.reason << "\n";
    }
  }
  if (json) {
    io.out << "{\"ok\":" << (all_ok ? "true" : "false") << ",\"recordsChecked\":" << total
           << ",\"partitions\":[" << json_rows << "]}\n";
  } else {
    io.out << (all_ok ? "intact" : "DAMAGED") << ": " << partitions->size() << " partitions, "
           << total << " records checked\n";
  }
  return all_ok ? kExitOk : kExitFailure;
}

}  // namespace

Command AuditCommand() {
  Command audit{
      .name = "audit",
      .summary = "Check the logs' integrity; show what happened to a customer.",
  };
  audit.Add(Command{
      .name = "verify",
      .summary = "Check every partition's hash chain and RocksDB checksums.",
      .description =
          "Exit 0 with a summary when every partition is intact; exit 1 naming the\n"
          "partition and the first bad position when a record was altered, removed or\n"
          "reordered, or a stored block no longer matches its checksum. Safe to run while\n"
          "`guanxi run` holds the data directory (it reads as a RocksDB secondary).\n"
          "--json prints {\"ok\", \"recordsChecked\", \"partitions\": [{\"partition\",\n"
          "\"ok\", \"recordsChecked\", \"firstBadPosition\"?, \"reason\"?}]}.",
      .flags =
          {{.name = "data", .value_name = "DIR", .help = "the data directory", .required = true},
           {.name = "json", .help = "print the result as JSON"}},
      .run = RunVerify,
  });
  audit.Add(AuditTrailCommand());
  return audit;
}

}  // namespace guanxi::app
