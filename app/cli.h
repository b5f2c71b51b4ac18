// A small, strict command-line parser for the `guanxi` command and its subcommands.
//
//   Command root{"guanxi", "an event-sourced relationship engine"};
//   root.Add({.name = "broker", .summary = "...", .flags = {{.name = "partitions", ...}},
//             .run = [](const Args& a, Io& io) { ... return 0; }});
//   return root.Main(argc, argv, io);
//
// Rules: flags are `--name value` or `--name=value`; boolean flags take no value; an
// unknown flag, a missing value, a missing required flag, or a bad value is a usage
// error: a message naming the flag on stderr, the command's usage line, exit code 2.
// `--help` (or `-h`) anywhere prints that command's help on stdout and exits 0.
// Exit codes: 0 success, 1 the command failed, 2 usage error.
//
// Thread-safety: none needed; built and run once on the main thread.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace guanxi::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct Io {
  std::ostream& out;
  std::ostream& err;
};

struct Flag {
  std::string name{};        // without the leading "--"
  std::string value_name{};  // shown in help: --name VALUE; empty for a boolean flag
  std::string help{};
  std::string default_value{};  // shown in help; returned by Args when the flag is absent
  bool required = false;
};

// The parsed arguments of one command.
class Args {
 public:
  // The flag's value as given, else its default ("" when it has none).
  std::string Get(std::string_view flag) const;
  bool Has(std::string_view flag) const;
  // Boolean flags: present or not.
  bool IsSet(std::string_view flag) const { return Has(flag); }
  // Typed reads of a flag's value (given or default). A value that does not parse or
  // lies outside [min, max] is InvalidArgument naming the flag.
  absl::StatusOr<int64_t> GetInt(std::string_view flag, int64_t min, int64_t max) const;
  absl::StatusOr<double> GetDouble(std::string_view flag) const;

  const std::vector<std::string>& positional() const { return positional_; }

 private:
  friend class Command;
  std::map<std::string, std::string, std::less<>> values_;
  std::map<std::string, std::string, std::less<>> defaults_;
  std::vector<std::string> positional_;
};

// For command bodies: print "guanxi: <message>" on stderr and return the exit code for
// a usage error (a bad flag value) or a failure (anything else).
int ReportUsageError(Io& io, const absl::Status& status);
int ReportFailure(Io& io, const absl::Status& status);

class Command {
 public:
  using Body = std::function<int(const Args&, Io&)>;

  std::string name{};
  std::string summary{};           // one line, shown in the parent's list
  std::string description{};       // paragraphs shown in this command's --help
  std::string positional_usage{};  // e.g. "CUSTOMER_ID"; empty = takes none
  size_t min_positional = 0;
  size_t max_positional = 0;
  std::vector<Flag> flags{};
  Body run{};                          // empty for a command that only groups subcommands
  std::vector<Command> subcommands{};  // filled with Add()

  Command& Add(Command child);

  // Parses argv[1..] as arguments of this command (argv[0] is the program name) and runs
  // the chosen (sub)command. Returns the process exit code.
  int Main(int argc, const char* const* argv, Io& io) const;

 private:
  int Dispatch(std::vector<std::string_view> args, const std::string& path, Io& io) const;
  void PrintHelp(const std::string& path, std::ostream& out) const;
  std::string UsageLine(const std::string& path) const;
  const Flag* FindFlag(std::string_view name) const;
};

}  // namespace guanxi::app
