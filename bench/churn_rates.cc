#include "bench/churn_rates.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>

#include "absl/strings/str_format.h"

namespace guanxi::bench {
namespace {

constexpr double kDay = 86400;
enum Phase { kNormal = 0, kEarly = 1, kLate = 2 };

// A bin's lower edge: floor(x / width) * width, "+0.2" or "-10".
std::string Bin(double x, double width, const char* format) {
  return absl::StrFormat(format, std::floor(x / width) * width);
}

// The kinds of event `e` counts as (one event can be several: a call and its bin).
std::vector<std::string> KindsOf(const guanxi::v1::Event& e) {
  using guanxi::v1::Event;
  switch (e.payload_case()) {
    case Event::kCall: {
      std::vector<std::string> kinds = {"call",
                                        e.call().resolved() ? "call resolved" : "call unresolved"};
      if (e.call().has_sentiment()) {
        kinds.push_back(Bin(e.call().sentiment(), 0.2, "call sentiment %+.1f"));
      }
      return kinds;
    }
    case Event::kComplaint:
      return {"complaint", "complaint " + guanxi::v1::Severity_Name(e.complaint().severity())};
    case Event::kComplaintResolved:
      return {e.complaint_resolved().customer_satisfied() ? "resolution satisfied"
                                                          : "resolution unsatisfied"};
    case Event::kCompetitorSignal:
      return {"competitor signal", Bin(e.competitor_signal().lean(), 0.2, "competitor lean %+.1f")};
    case Event::kOrder:
      return {"order"};
    case Event::kPayment: {
      const auto& p = e.payment();
      const double late = static_cast<double>(p.paid_at().seconds() - p.due_at().seconds()) / kDay;
      return {"payment", Bin(std::clamp(late, -5.0, 30.0), 5, "payment late %+.0f d")};
    }
    case Event::kVisit:
      return {"visit " + guanxi::v1::Outcome_Name(e.visit().outcome())};
    case Event::kInformationShared:
    case Event::kGuidanceGiven:
    case Event::kProjectSupport:
    case Event::kReferral:
      return {"engagement"};
    case Event::kSurvey:
      return {absl::StrFormat("survey satisfaction %.0f", e.survey().satisfaction())};
    case Event::kActivity:
      return {"activity " + guanxi::v1::ParticipationStatus_Name(e.activity().status())};
    case Event::kAssessment: {
      // The mean of the six dimensions (the simulator rates all of them), in bins of 10.
      const auto& a = e.assessment();
      const double mean = (a.acceptance() + a.participation() + a.information() + a.guidance() +
                           a.project_support() + a.competitive_preference()) /
                          6;
      return {"assessment", Bin(mean, 10, "assessment mean %.0f")};
    }
    case Event::kContactChange:
      if (e.contact_change().change() == guanxi::v1::CONTACT_CHANGE_KIND_LEFT) {
        return {"champion left"};
      }
      return {};
    default:
      return {};
  }
}

}  // namespace

void PrintEvidenceRates(const std::vector<guanxi::v1::Event>& events,
                        const std::vector<connectors::GroundTruth>& truth,
                        const std::vector<size_t>& customer_of, int64_t start, int32_t days,
                        double cut) {
  using connectors::Persona;
  const Persona personas[] = {Persona::kKeyAccount, Persona::kRegular, Persona::kSmall};
  std::map<Persona, std::array<double, 3>> exposure;
  std::map<Persona, std::map<std::string, std::array<int64_t, 3>>> counts;
  for (const connectors::GroundTruth& t : truth) {
    if (t.persona == Persona::kProspect) continue;
    auto& days_in = exposure[t.persona];
    if (!t.churns) {
      days_in[kNormal] += days;
      continue;
    }
    const double decline = static_cast<double>(t.churn_at - t.degrade_from) / kDay;
    days_in[kNormal] += static_cast<double>(t.degrade_from - start) / kDay;
    days_in[kEarly] += decline * cut;
    days_in[kLate] += decline * (1 - cut);
  }
  for (size_t i = 0; i < events.size(); ++i) {
    const connectors::GroundTruth& t = truth[customer_of[i]];
    if (t.persona == Persona::kProspect) continue;
    const int64_t at = events[i].occurred_at().seconds();
    Phase phase = kNormal;
    if (t.churns && at >= t.churn_at) continue;
    if (t.churns && at >= t.degrade_from) {
      const double p = static_cast<double>(at - t.degrade_from) /
                       static_cast<double>(t.churn_at - t.degrade_from);
      phase = p < cut ? kEarly : kLate;
    }
    for (const std::string& kind : KindsOf(events[i])) ++counts[t.persona][kind][phase];
  }
  std::printf(
      "evidence rates: events per customer-day, normal against a decline's progress "
      "below %.2f (early) and from it (late)\n",
      cut);
  for (const Persona persona : personas) {
    const auto& days_in = exposure[persona];
    std::printf("\n%s: %.0f customer-days normal, %.0f early, %.0f late\n",
                connectors::PersonaName(persona), days_in[kNormal], days_in[kEarly],
                days_in[kLate]);
    std::printf("  %-40s %10s %10s %6s %9s %9s\n", "event", "normal/d", "early/d", "early",
                "LLR early", "LLR late");
    for (const auto& [kind, n] : counts[persona]) {
      if (n[kNormal] + n[kEarly] < 5) continue;
      double rate[3];
      for (int ph = 0; ph < 3; ++ph) {
        rate[ph] = days_in[ph] > 0 ? static_cast<double>(n[ph]) / days_in[ph] : 0;
      }
      auto llr = [&](int ph) -> std::string {
        if (rate[ph] <= 0 || rate[kNormal] <= 0) return "-";
        return absl::StrFormat("%+.2f", std::log(rate[ph] / rate[kNormal]));
      };
      std::printf("  %-40s %10.5f %10.5f %6lld %9s %9s\n", kind.c_str(), rate[kNormal],
                  rate[kEarly], static_cast<long long>(n[kEarly]), llr(kEarly).c_str(),
                  llr(kLate).c_str());
    }
  }
}

}  // namespace guanxi::bench
