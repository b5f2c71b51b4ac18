// How the churn benchmarks score alarms against the simulator's ground truth, shared by
// churn_quality (the rules' RAISED notices) and churn_oracle (the posterior's first
// crossing), so both use one definition (the header of churn_quality.cc states it).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "connectors/simulator.h"

namespace guanxi::bench {

inline constexpr int64_t kChurnDay = 86400;

// One alarm to score: a customer, when, and the codes of its reasons.
struct Alarm {
  size_t customer = 0;
  int64_t at = 0;
  std::vector<std::string> codes;
};

struct Score {
  int64_t alarms = 0, tp = 0, fp = 0, late = 0;
  int64_t churners = 0, detected = 0;
  double precision = 0, recall = 0, median_lead_days = 0;
  std::vector<double> leads_days;  // of the detected churners, ascending
  std::map<std::string, std::pair<int64_t, int64_t>> detected_by_persona;  // detected, all
};

// The median of ascending figures (0 for none).
inline double MedianOf(const std::vector<double>& sorted) {
  const size_t n = sorted.size();
  if (n == 0) return 0;
  return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

// Several runs' scores as one: counts summed, precision and recall of the sums, the
// leads of all detected churners together (median_lead_days is their median).
inline Score Pool(const std::vector<Score>& runs) {
  Score p;
  for (const Score& s : runs) {
    p.alarms += s.alarms;
    p.tp += s.tp;
    p.fp += s.fp;
    p.late += s.late;
    p.churners += s.churners;
    p.detected += s.detected;
    p.leads_days.insert(p.leads_days.end(), s.leads_days.begin(), s.leads_days.end());
    for (const auto& [persona, counts] : s.detected_by_persona) {
      p.detected_by_persona[persona].first += counts.first;
      p.detected_by_persona[persona].second += counts.second;
    }
  }
  p.precision = p.tp + p.fp > 0 ? static_cast<double>(p.tp) / static_cast<double>(p.tp + p.fp) : 0;
  p.recall = p.churners > 0 ? static_cast<double>(p.detected) / static_cast<double>(p.churners) : 0;
  std::sort(p.leads_days.begin(), p.leads_days.end());
  p.median_lead_days = MedianOf(p.leads_days);
  return p;
}

// A score's figures as table columns after a table's own first column (alarms, TP, FP,
// late, precision, recall, median lead), and their heading, `alarms` naming the first.
inline std::string ScoreColumns(const Score& s) {
  return absl::StrFormat("%7d %6d %6d %6d %9.3f %7.3f %10.1f", s.alarms, s.tp, s.fp, s.late,
                         s.precision, s.recall, s.median_lead_days);
}
inline std::string ScoreHeading(const char* alarms) {
  return absl::StrFormat("%7s %6s %6s %6s %9s %7s %10s", alarms, "TP", "FP", "late", "precision",
                         "recall", "lead (d)");
}

// What a pooled table (--seeds) says before its heading.
inline void PrintPooledPreamble(const std::string& seeds) {
  std::printf(
      "pooled over seeds %s: TP, FP and churners summed; lead the median of all the\n"
      "detected churners' leads, and the mean of the seeds' medians\n",
      seeds.c_str());
}

// "1,2,3" as seeds; nullopt when an item is no seed.
inline std::optional<std::vector<uint64_t>> ParseSeeds(absl::string_view text) {
  std::vector<uint64_t> seeds;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    uint64_t seed = 0;
    if (!absl::SimpleAtoi(item, &seed)) return std::nullopt;
    seeds.push_back(seed);
  }
  return seeds;
}

// The mean of the runs' median leads: the pooled lead as these benchmarks have reported it.
inline double MeanOfMedians(const std::vector<Score>& runs) {
  double mean = 0;
  for (const Score& s : runs) mean += s.median_lead_days / static_cast<double>(runs.size());
  return mean;
}

// Where an alarm at `at` falls for a customer: 0 not a churner (FP), 1 a churner before
// its decline (FP), 2 inside the decline (TP), 3 after it left (late).
inline int Phase(const connectors::GroundTruth& t, int64_t at) {
  if (!t.churns) return 0;
  if (at < t.degrade_from) return 1;
  if (at <= t.churn_at) return 2;
  return 3;
}

inline Score ScoreAlarms(const std::vector<Alarm>& alarms,
                         const std::vector<connectors::GroundTruth>& truth) {
  Score s;
  std::vector<std::optional<int64_t>> first_tp(truth.size());
  for (const Alarm& a : alarms) {
    ++s.alarms;
    const int phase = Phase(truth[a.customer], a.at);
    if (phase <= 1) {
      ++s.fp;
    } else if (phase == 3) {
      ++s.late;
    } else {
      ++s.tp;
      if (!first_tp[a.customer] || a.at < *first_tp[a.customer]) first_tp[a.customer] = a.at;
    }
  }
  std::vector<double>& leads = s.leads_days;
  for (size_t i = 0; i < truth.size(); ++i) {
    if (!truth[i].churns) continue;
    ++s.churners;
    auto& [found, all] = s.detected_by_persona[connectors::PersonaName(truth[i].persona)];
    ++all;
    if (first_tp[i]) {
      ++s.detected;
      ++found;
      leads.push_back(static_cast<double>(truth[i].churn_at - *first_tp[i]) / kChurnDay);
    }
  }
  s.precision = s.tp + s.fp > 0 ? static_cast<double>(s.tp) / static_cast<double>(s.tp + s.fp) : 0;
  s.recall = s.churners > 0 ? static_cast<double>(s.detected) / static_cast<double>(s.churners) : 0;
  std::sort(leads.begin(), leads.end());
  s.median_lead_days = MedianOf(leads);
  return s;
}

// The head of an alarm's --list line: "TP sim-000012 regular day 231" and, for a TP,
// " (lead 31 d, decline 60% through)". `start` is the simulation's first second.
inline std::string AlarmLine(const std::string& customer_id, const connectors::GroundTruth& t,
                             int64_t at, int64_t start) {
  const char* const verdicts[] = {"FP", "FP(pre)", "TP", "late"};
  const int phase = Phase(t, at);
  std::string line = absl::StrFormat("%s %s %s day %d", verdicts[phase], customer_id,
                                     connectors::PersonaName(t.persona), (at - start) / kChurnDay);
  if (phase == 2) {
    absl::StrAppendFormat(&line, " (lead %.0f d, decline %.0f%% through)",
                          static_cast<double>(t.churn_at - at) / kChurnDay,
                          100.0 * static_cast<double>(at - t.degrade_from) /
                              static_cast<double>(t.churn_at - t.degrade_from));
  }
  return line;
}

// A score's figures as the members of a JSON object (no braces), as both harnesses print
// them: "alarms":N,"tp":N,"fp":N,"late":N,"precision":P,"recall":R,"median_lead_days":D.
inline std::string ScoreJsonFields(const Score& s) {
  return absl::StrFormat(R"("alarms":%d,"tp":%d,"fp":%d,"late":%d,"precision":%.4f,"recall":%.4f,)"
                         R"("median_lead_days":%.1f)",
                         s.alarms, s.tp, s.fp, s.late, s.precision, s.recall, s.median_lead_days);
}

}  // namespace guanxi::bench
