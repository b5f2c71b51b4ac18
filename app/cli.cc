#include "app/cli.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <ostream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace guanxi::app {
namespace {

bool IsHelp(std::string_view arg) { return arg == "--help" || arg == "-h"; }

}  // namespace

std::string Args::Get(std::string_view flag) const {
  if (auto it = values_.find(flag); it != values_.end()) return it->second;
  if (auto it = defaults_.find(flag); it != defaults_.end()) return it->second;
  return "";
}

bool Args::Has(std::string_view flag) const { return values_.find(flag) != values_.end(); }

absl::StatusOr<int64_t> Args::GetInt(std::string_view flag, int64_t min, int64_t max) const {
  const std::string text = Get(flag);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", Sv(flag), ": '", text, "' is not a whole number"));
  }
  if (value < min || value > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", Sv(flag), ": ", value, " is outside [", min, ", ", max, "]"));
  }
  return value;
}

absl::StatusOr<double> Args::GetDouble(std::string_view flag) const {
  const std::string text = Get(flag);
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || errno != 0 || end != text.c_str() + text.size() || !std::isfinite(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", Sv(flag), ": '", text, "' is not a number"));
  }
  return value;
}

int ReportUsageError(Io& io, const absl::Status& status) {
  io.err << "guanxi: " << status.message() << "\n";
  return kExitUsage;
}

int ReportFailure(Io& io, const absl::Status& status) {
  io.err << "guanxi: " << status.message() << "\n";
  return kExitFailure;
}

Command& Command::Add(Command child) {
  subcommands.push_back(std::move(child));
  return subcommands.back();
}

const Flag* Command::FindFlag(std::string_view flag_name) const {
  for (const Flag& f : flags) {
    if (f.name == flag_name) return &f;
  }
  return nullptr;
}

int Command::Main(int argc, const char* const* argv, Io& io) const {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  return Dispatch(std::move(args), name, io);
}

std::string Command::UsageLine(const std::string& path) const {
  std::string line = absl::StrCat("usage: ", path);
  if (!subcommands.empty()) {
    absl::StrAppend(&line, " COMMAND [ARGS...]");
    return line;
  }
  for (const Flag& f : flags) {
    if (!f.required) continue;
    absl::StrAppend(&line, " --", f.name, " ", f.value_name);
  }
  if (std::any_of(flags.begin(), flags.end(), [](const Flag& f) { return !f.required; })) {
    absl::StrAppend(&line, " [FLAGS]");
  }
  if (!positional_usage.empty()) absl::StrAppend(&line, " ", positional_usage);
  return line;
}

void Command::PrintHelp(const std::string& path, std::ostream& out) const {
  out << UsageLine(path) << "\n\n" << summary << "\n";
  if (!description.empty()) out << "\n" << description << "\n";
  if (!subcommands.empty()) {
    out << "\nCommands:\n";
    size_t width = 0;
    for (const Command& c : subcommands) width = std::max(width, c.name.size());
    for (const Command& c : subcommands) {
      out << "  " << c.name << std::string(width - c.name.size() + 2, ' ') << c.summary << "\n";
    }
    out << "\nRun '" << path << " COMMAND --help' for a command's flags.\n";
  }
  if (!flags.empty()) {
    out << "\nFlags:\n";
    for (const Flag& f : flags) {
      std::string left = absl::StrCat("  --", f.name);
      if (!f.value_name.empty()) absl::StrAppend(&left, " ", f.value_name);
      out << left << "\n      " << f.help;
      if (f.required) out << " (required)";
      if (!f.default_value.empty()) out << " (default: " << f.default_value << ")";
      out << "\n";
    }
  }
  out << "  --help\n      Show this help.\n";
}

int Command::Dispatch(std::vector<std::string_view> args, const std::string& path, Io& io) const {
  if (!subcommands.empty()) {
    if (args.empty() || IsHelp(args.front())) {
      PrintHelp(path, args.empty() ? io.err : io.out);
      return args.empty() ? kExitUsage : kExitOk;
    }
    const std::string_view sub = args.front();
    for (const Command& c : subcommands) {
      if (c.name == sub) {
        args.erase(args.begin());
        return c.Dispatch(std::move(args), absl::StrCat(path, " ", Sv(sub)), io);
      }
    }
    io.err << path << ": unknown command '" << sub << "'\n"
           << UsageLine(path) << "\nRun '" << path << " --help' for the list.\n";
    return kExitUsage;
  }

  auto usage_error = [&](const std::string& message) {
    io.err << path << ": " << message << "\n"
           << UsageLine(path) << "\nRun '" << path << " --help' for details.\n";
    return kExitUsage;
  };

  if (std::any_of(args.begin(), args.end(), IsHelp)) {
    PrintHelp(path, io.out);
    return kExitOk;
  }

  Args parsed;
  for (const Flag& f : flags) {
    if (!f.default_value.empty()) parsed.defaults_.emplace(f.name, f.default_value);
  }
  bool only_positional = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (only_positional || arg.size() < 2 || arg.substr(0, 2) != "--") {
      // "-" alone is a positional (stdin), as is anything not starting with "--".
      if (!only_positional && arg.size() > 1 && arg[0] == '-') {
        return usage_error(absl::StrCat("unknown flag '", Sv(arg), "'"));
      }
      parsed.positional_.emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      only_positional = true;
      continue;
    }
    std::string_view body = arg.substr(2);
    std::optional<std::string_view> inline_value;
    if (size_t eq = body.find('='); eq != std::string_view::npos) {
      inline_value = body.substr(eq + 1);
      body = body.substr(0, eq);
    }
    const Flag* flag = FindFlag(body);
    if (flag == nullptr) return usage_error(absl::StrCat("unknown flag '--", Sv(body), "'"));
    if (parsed.Has(body)) return usage_error(absl::StrCat("--", Sv(body), " given twice"));
    if (flag->value_name.empty()) {
      if (inline_value) return usage_error(absl::StrCat("--", Sv(body), " takes no value"));
      parsed.values_.emplace(std::string(body), "true");
      continue;
    }
    std::string_view value;
    if (inline_value) {
      value = *inline_value;
    } else {
      if (i + 1 >= args.size()) {
        return usage_error(absl::StrCat("--", Sv(body), " needs a value (", flag->value_name, ")"));
      }
      value = args[++i];
    }
    if (value.empty()) return usage_error(absl::StrCat("--", Sv(body), " needs a non-empty value"));
    parsed.values_.emplace(std::string(body), std::string(value));
  }
  for (const Flag& f : flags) {
    if (f.required && !parsed.Has(f.name)) {
      return usage_error(absl::StrCat("--", f.name, " is required"));
    }
  }
  if (parsed.positional_.size() < min_positional) {
    return usage_error(absl::StrCat("missing ", positional_usage));
  }
  if (parsed.positional_.size() > max_positional) {
    return usage_error(
        absl::StrCat("unexpected argument '", parsed.positional_[max_positional], "'"));
  }
  return run(parsed, io);
}

}  // namespace guanxi::app
