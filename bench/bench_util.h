// Shared pieces of the benchmark harness (bench/README.md): results as JSON objects
// (google.protobuf.Struct), facts about the machine and the process, child processes.
//
//   Result r;
//   Put(r, "events_per_second", 12345.6);
//   Put(Child(r, "what"), "partitions", 16);
//   std::cout << ToJson(r);
//
// Timing uses the steady clock: this is measurement output for people, never a
// projection input. Not thread-safe unless a function says so.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/struct.pb.h"

namespace guanxi::bench {

using Result = google::protobuf::Struct;
using Clock = std::chrono::steady_clock;

void Put(Result& r, std::string_view key, double value);
void Put(Result& r, std::string_view key, int64_t value);
void Put(Result& r, std::string_view key, int value);
void Put(Result& r, std::string_view key, uint64_t value);
void Put(Result& r, std::string_view key, std::string_view value);
void Put(Result& r, std::string_view key, const char* value);
void PutBool(Result& r, std::string_view key, bool value);
void PutNull(Result& r, std::string_view key);
void Put(Result& r, std::string_view key, const Result& value);
void Put(Result& r, std::string_view key, const std::vector<double>& values);
// Appends an empty object to the list at `key` (created if absent) and returns it.
Result& AppendObject(Result& r, std::string_view key);
// The nested object at `key`, created empty if absent.
Result& Child(Result& r, std::string_view key);
// Reads back a number / string / object (0, "" or an empty object when absent).
double Number(const Result& r, std::string_view key);
std::string String(const Result& r, std::string_view key);
const Result& Object(const Result& r, std::string_view key);
bool Has(const Result& r, std::string_view key);

// Indented JSON (two spaces), ending in a newline.
std::string ToJson(const Result& r);
absl::StatusOr<Result> FromJson(std::string_view json);

double SecondsSince(Clock::time_point start);

// This process: user + system CPU seconds so far (all threads).
double CpuSeconds();
// This process's peak resident set (VmHWM), bytes.
int64_t PeakRssBytes();

// The machine: CPU model (lscpu's "Model name", from /proc/cpuinfo), online cores, the
// load averages, the kernel; and the date (UTC, ISO 8601).
Result MachineFacts();
std::string UtcNow();

// A child process: argv[0] is the program (searched in PATH when it has no '/').
struct ChildOptions {
  bool capture_stdout = false;  // otherwise stdout and stderr are inherited
  bool quiet_stderr = false;    // send the child's stderr to /dev/null
  // Sample the child's VmHWM (/proc/PID/status) every 20 ms while it runs.
  bool sample_peak_rss = false;
};
struct ChildResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  double wall_seconds = 0;
  double user_seconds = 0;
  double system_seconds = 0;
  // wait4's ru_maxrss. Not the child's own peak: Linux folds in the RSS of the memory
  // the child had before its exec, which for a spawned child is ours.
  int64_t max_rss_bytes = 0;
  // With sample_peak_rss: the highest VmHWM read, the peak of the child's own memory
  // (its high-water mark starts at its exec) as of the last sample before it exited.
  int64_t peak_rss_bytes = 0;
  std::string output{};       // stdout, when captured
};
absl::StatusOr<ChildResult> RunChild(const std::vector<std::string>& argv,
                                     const ChildOptions& options = {});

// The running executable's path (/proc/self/exe).
std::string SelfPath();

// "1234567" -> "1,234,567"; a rate or size for the table ("12.3k", "1.23 M").
std::string Thousands(int64_t n);
std::string Fixed(double v, int digits);

}  // namespace guanxi::bench
