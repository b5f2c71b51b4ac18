// Progress for long work (loads, replays, benchmarks), on stderr, for people.
//
//   Progress progress(std::cerr, "online-retail");
//   ... progress.Update(done, total, "lines");
//   progress.Finish();
//
// On a terminal it redraws one line ("[#####.....] 48%  263,000 lines  91k/s  ETA 3s")
// at most 5 times a second; otherwise (logs, CI) it prints a plain line every 10 s.
// The wall clock is fine here: this is output for people, never a projection input.
// Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>

namespace guanxi::app {

class Progress {
 public:
  Progress(std::ostream& out, std::string label, bool is_terminal);
  // `done` of `total` units (total 0 = unknown); `count` and `unit` are shown as the
  // amount of work ("263,000 lines") and the rate is count per second.
  void Update(int64_t done, int64_t total, int64_t count, const std::string& unit);
  // Ends the line (on a terminal) so the summary starts on a fresh one.
  void Finish();

 private:
  std::ostream& out_;
  std::string label_;
  bool terminal_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_;
  bool drawn_ = false;
};

// "1234567" -> "1,234,567".
std::string WithThousands(int64_t n);

}  // namespace guanxi::app
