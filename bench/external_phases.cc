// Phases that run another program: RocksDB's db_bench (the storage limit) and
// bench/churn_quality (the churn issue's harness).
#include <filesystem>
#include <iostream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "bench/phases.h"
#include "common/status_macros.h"

namespace guanxi::bench {

absl::StatusOr<Result> DbBenchPhase(const DbBenchOptions& options) {
  std::error_code ec;
  std::filesystem::remove_all(options.db_dir, ec);
  // Like the engine's log: an 8-byte big-endian position key, lz4, the WAL written but
  // not synced (StorageConfig.sync = false, the default), one writer thread.
  const std::vector<std::string> argv = {options.binary,
                                         "--benchmarks=fillseq",
                                         absl::StrCat("--num=", options.num),
                                         absl::StrCat("--value_size=", options.value_size),
                                         "--key_size=8",
                                         absl::StrCat("--batch_size=", options.batch_size),
                                         "--compression_type=lz4",
                                         "--disable_wal=false",
                                         "--sync=false",
                                         "--threads=1",
                                         absl::StrCat("--db=", options.db_dir)};
  std::cerr << "db_bench: fillseq of " << Thousands(options.num) << " records of "
            << options.value_size << " B in batches of " << options.batch_size << "\n";
  // Its stderr is a progress counter; its figures are on stdout.
  ASSIGN_OR_RETURN(const ChildResult child,
                   RunChild(argv, {.capture_stdout = true, .quiet_stderr = true}));
  std::filesystem::remove_all(options.db_dir, ec);
  if (child.exit_code != 0) {
    return absl::InternalError(
        absl::StrCat(options.binary, " exited with ", child.exit_code, ":\n", child.output));
  }
  // "fillseq      :       1.708 micros/op 585626 ops/sec 1.708 seconds 1000000 operations; ..."
  Result r;
  std::istringstream in(child.output);
  for (std::string line; std::getline(in, line);) {
    if (!absl::StartsWith(line, "fillseq")) continue;
    const std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    for (size_t i = 1; i < words.size(); ++i) {
      double v = 0;
      if (!absl::SimpleAtod(words[i - 1], &v)) continue;
      if (words[i] == "micros/op") Put(r, "micros_per_op", v);
      if (words[i] == "ops/sec") Put(r, "ops_per_second", v);
      if (words[i] == "MB/s") Put(r, "megabytes_per_second", v);
    }
    Put(r, "line", std::string(absl::StripAsciiWhitespace(line)));
  }
  if (!Has(r, "ops_per_second")) {
    return absl::DataLossError(
        absl::StrCat("no fillseq line in db_bench's output:\n", child.output));
  }
  Put(r, "num", options.num);
  Put(r, "value_size", options.value_size);
  Put(r, "key_size", 8);
  Put(r, "batch_size", options.batch_size);
  Put(r, "command", absl::StrJoin(argv, " "));
  Put(r, "note",
      absl::StrContains(child.output, "Assertions are enabled")
          ? "db_bench warns: assertions are enabled in this build (Debian's)"
          : "");
  return r;
}

absl::StatusOr<Result> ChurnQualityPhase(const std::string& binary) {
  if (!std::filesystem::exists(binary)) {
    return absl::NotFoundError(absl::StrCat(binary, " is not built (yet)"));
  }
  std::cerr << "churn quality: running " << binary << "\n";
  ASSIGN_OR_RETURN(const ChildResult child, RunChild({binary}, {.capture_stdout = true}));
  if (child.exit_code != 0) {
    return absl::InternalError(absl::StrCat(binary, " exited with ", child.exit_code));
  }
  // Its output ends with one line "json: {...}" holding the figures.
  std::istringstream in(child.output);
  for (std::string line; std::getline(in, line);) {
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, "json: ")) {
      ASSIGN_OR_RETURN(Result r, FromJson(std::string_view(rest.data(), rest.size())));
      Put(r, "command", binary);
      Put(r, "seconds", child.wall_seconds);
      return r;
    }
  }
  Result r;
  Put(r, "command", binary);
  Put(r, "output", child.output);
  return r;
}

}  // namespace guanxi::bench
