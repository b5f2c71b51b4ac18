#include "bench/bench_util.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "app/progress.h"
#include "common/json_string.h"
#include "common/strings.h"
#include "google/protobuf/util/json_util.h"

extern char** environ;

namespace guanxi::bench {

namespace {

google::protobuf::Value& Slot(Result& r, std::string_view key) {
  return (*r.mutable_fields())[std::string(key)];
}

const google::protobuf::Value* Find(const Result& r, std::string_view key) {
  auto it = r.fields().find(std::string(key));
  return it == r.fields().end() ? nullptr : &it->second;
}

double TimevalSeconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

}  // namespace

void Put(Result& r, std::string_view key, double value) { Slot(r, key).set_number_value(value); }
void Put(Result& r, std::string_view key, int64_t value) {
  Slot(r, key).set_number_value(static_cast<double>(value));
}
void Put(Result& r, std::string_view key, int value) {
  Slot(r, key).set_number_value(static_cast<double>(value));
}
void Put(Result& r, std::string_view key, uint64_t value) {
  Slot(r, key).set_number_value(static_cast<double>(value));
}
void Put(Result& r, std::string_view key, std::string_view value) {
  Slot(r, key).set_string_value(std::string(value));
}
void Put(Result& r, std::string_view key, const char* value) {
  Slot(r, key).set_string_value(value);
}
void PutBool(Result& r, std::string_view key, bool value) { Slot(r, key).set_bool_value(value); }
void PutNull(Result& r, std::string_view key) {
  Slot(r, key).set_null_value(google::protobuf::NULL_VALUE);
}
void Put(Result& r, std::string_view key, const Result& value) {
  *Slot(r, key).mutable_struct_value() = value;
}
void Put(Result& r, std::string_view key, const std::vector<double>& values) {
  auto* list = Slot(r, key).mutable_list_value();
  list->Clear();
  for (double v : values) list->add_values()->set_number_value(v);
}

Result& AppendObject(Result& r, std::string_view key) {
  return *Slot(r, key).mutable_list_value()->add_values()->mutable_struct_value();
}

Result& Child(Result& r, std::string_view key) { return *Slot(r, key).mutable_struct_value(); }

double Number(const Result& r, std::string_view key) {
  const auto* v = Find(r, key);
  return v != nullptr && v->has_number_value() ? v->number_value() : 0;
}

std::string String(const Result& r, std::string_view key) {
  const auto* v = Find(r, key);
  return v != nullptr && v->has_string_value() ? v->string_value() : std::string();
}

const Result& Object(const Result& r, std::string_view key) {
  const auto* v = Find(r, key);
  return v != nullptr && v->has_struct_value() ? v->struct_value() : Result::default_instance();
}

bool Has(const Result& r, std::string_view key) { return Find(r, key) != nullptr; }

namespace {

void AppendJson(std::string& out, const google::protobuf::Value& v, int indent) {
  const std::string pad(static_cast<size_t>(indent + 2), ' ');
  switch (v.kind_case()) {
    case google::protobuf::Value::kNumberValue: {
      const double d = v.number_value();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
        absl::StrAppend(&out, static_cast<int64_t>(d));
      } else if (std::isfinite(d)) {
        absl::StrAppend(&out, absl::StrFormat("%.10g", d));
      } else {
        out += "null";
      }
      break;
    }
    case google::protobuf::Value::kStringValue:
      AppendJsonString(out, v.string_value());
      break;
    case google::protobuf::Value::kBoolValue:
      out += v.bool_value() ? "true" : "false";
      break;
    case google::protobuf::Value::kStructValue: {
      std::vector<std::string> keys;
      for (const auto& [key, value] : v.struct_value().fields()) keys.push_back(key);
      if (keys.empty()) {
        out += "{}";
        break;
      }
      std::sort(keys.begin(), keys.end());
      out += "{\n";
      for (size_t i = 0; i < keys.size(); ++i) {
        out += pad;
        AppendJsonString(out, keys[i]);
        out += ": ";
        AppendJson(out, v.struct_value().fields().at(keys[i]), indent + 2);
        out += i + 1 < keys.size() ? ",\n" : "\n";
      }
      out += std::string(static_cast<size_t>(indent), ' ') + "}";
      break;
    }
    case google::protobuf::Value::kListValue: {
      out += "[";
      const auto& values = v.list_value().values();
      for (int i = 0; i < values.size(); ++i) {
        if (i > 0) out += ", ";
        AppendJson(out, values[i], indent + 2);
      }
      out += "]";
      break;
    }
    default:
      out += "null";
  }
}

}  // namespace

std::string ToJson(const Result& r) {
  google::protobuf::Value v;
  *v.mutable_struct_value() = r;
  std::string out;
  AppendJson(out, v, 0);
  out += "\n";
  return out;
}

absl::StatusOr<Result> FromJson(std::string_view json) {
  Result r;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &r);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("not a JSON object: ", status.ToString()));
  }
  return r;
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return TimevalSeconds(usage.ru_utime) + TimevalSeconds(usage.ru_stime);
}

int64_t PeakRssBytes() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (absl::StartsWith(line, "VmHWM:")) {
      int64_t kb = 0;
      absl::string_view rest = absl::StripAsciiWhitespace(line.substr(6));
      rest = absl::StripSuffix(rest, "kB");
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &kb)) return kb * 1024;
    }
  }
  return 0;
}

std::string UtcNow() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
}

Result MachineFacts() {
  Result m;
  std::string model = "unknown";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (absl::StartsWith(line, "model name")) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) {
        model = std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
      }
      break;
    }
  }
  Put(m, "cpu_model", model);
  Put(m, "cores_online", static_cast<int64_t>(sysconf(_SC_NPROCESSORS_ONLN)));
  Put(m, "memory_bytes",
      static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<int64_t>(sysconf(_SC_PAGESIZE)));
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) == 3)
    Put(m, "load_average", std::vector<double>{load[0], load[1], load[2]});
  utsname u{};
  if (uname(&u) == 0) Put(m, "kernel", absl::StrCat(u.sysname, " ", u.release));
  return m;
}

absl::StatusOr<ChildResult> RunChild(const std::vector<std::string>& argv,
                                     const ChildOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("RunChild: no program");
  std::vector<std::string> args = argv;
  std::vector<char*> raw;
  for (std::string& a : args) raw.push_back(a.data());
  raw.push_back(nullptr);

  int pipe_fds[2] = {-1, -1};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (options.capture_stdout) {
    if (pipe(pipe_fds) != 0) {
      posix_spawn_file_actions_destroy(&actions);
      return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
    }
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[1]);
  }
  if (options.quiet_stderr) {
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  }
  const auto start = Clock::now();
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, args[0].c_str(), &actions, nullptr, raw.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (options.capture_stdout) close(pipe_fds[1]);
  if (spawned != 0) {
    if (options.capture_stdout) close(pipe_fds[0]);
    return absl::NotFoundError(absl::StrCat("cannot run ", args[0], ": ", std::strerror(spawned)));
  }
  ChildResult result;
  if (options.capture_stdout) {
    char buffer[65536];
    for (;;) {
      const ssize_t n = read(pipe_fds[0], buffer, sizeof buffer);
      if (n > 0) {
        result.output.append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        break;
      }
    }
    close(pipe_fds[0]);
  }
  std::atomic<bool> exited{false};
  std::atomic<int64_t> peak{0};
  std::thread sampler;
  if (options.sample_peak_rss) {
    sampler = std::thread([&] {
      const std::string path = absl::StrCat("/proc/", pid, "/status");
      while (!exited.load()) {
        std::ifstream in(path);
        for (std::string line; std::getline(in, line);) {
          absl::string_view rest = line;
          int64_t kib = 0;
          if (absl::ConsumePrefix(&rest, "VmHWM:") &&
              absl::SimpleAtoi(absl::StripSuffix(absl::StripAsciiWhitespace(rest), " kB"), &kib)) {
            peak = std::max(peak.load(), kib * 1024);
          }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  }
  int status = 0;
  rusage usage{};
  // Reads VmHWM without reaping: the child stays a zombie until wait4 below, and a
  // zombie's status has no VmHWM, so the last sample is from before it exited.
  siginfo_t info{};
  while (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
  }
  exited = true;
  if (sampler.joinable()) sampler.join();
  result.peak_rss_bytes = peak.load();
  while (wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) return absl::InternalError(absl::StrCat("wait4: ", std::strerror(errno)));
  }
  result.wall_seconds = SecondsSince(start);
  result.user_seconds = TimevalSeconds(usage.ru_utime);
  result.system_seconds = TimevalSeconds(usage.ru_stime);
  result.max_rss_bytes = static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux: kilobytes
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

std::string SelfPath() {
  char buffer[4096];
  const ssize_t n = readlink("/proc/self/exe", buffer, sizeof buffer - 1);
  return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string();
}

std::string Thousands(int64_t n) { return app::WithThousands(n); }

std::string Fixed(double v, int digits) { return absl::StrFormat("%.*f", digits, v); }

}  // namespace guanxi::bench
