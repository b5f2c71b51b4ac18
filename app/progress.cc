#include "app/progress.h"

#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace guanxi::app {

std::string WithThousands(int64_t n) {
  std::string digits = absl::StrCat(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return n < 0 ? "-" + out : out;
}

Progress::Progress(std::ostream& out, std::string label, bool is_terminal)
    : out_(out),
      label_(std::move(label)),
      terminal_(is_terminal),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

void Progress::Update(int64_t done, int64_t total, int64_t count, const std::string& unit) {
  const auto now = std::chrono::steady_clock::now();
  const auto interval = terminal_ ? std::chrono::milliseconds(200) : std::chrono::seconds(10);
  if (now - last_ < interval) return;
  last_ = now;
  const double seconds = std::chrono::duration<double>(now - start_).count();
  const double rate = seconds > 0 ? static_cast<double>(count) / seconds : 0;
  std::string line = absl::StrCat(label_, "  ");
  if (total > 0) {
    const double fraction = std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
    const int width = 30;
    const int filled = static_cast<int>(fraction * width);
    absl::StrAppend(&line, "[", std::string(static_cast<size_t>(filled), '#'),
                    std::string(static_cast<size_t>(width - filled), '.'), "] ",
                    absl::StrFormat("%3.0f%%  ", fraction * 100));
    if (fraction > 0.01 && fraction < 1) {
      absl::StrAppend(&line, "ETA ", absl::StrFormat("%.0fs  ", seconds / fraction - seconds));
    }
  }
  absl::StrAppend(&line, WithThousands(count), " ", unit, "  ",
                  WithThousands(static_cast<int64_t>(rate)), " ", unit, "/s");
  if (terminal_) {
    out_ << "\r" << line << "\033[K" << std::flush;
    drawn_ = true;
  } else {
    out_ << line << "\n" << std::flush;
  }
}

void Progress::Finish() {
  if (terminal_ && drawn_) out_ << "\n";
  drawn_ = false;
}

}  // namespace guanxi::app
