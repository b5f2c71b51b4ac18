#include "projections/churn/rules.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "projections/readings.h"

namespace guanxi::projections {
namespace {

using google::protobuf::RepeatedPtrField;
using google::protobuf::Timestamp;
using guanxi::v1::ChurnConfig;
using guanxi::v1::ChurnEvidence;
using guanxi::v1::ChurnMark;
using guanxi::v1::CustomerState;
using guanxi::v1::Event;
using guanxi::v1::WarningLevel;
using guanxi::v1::WarningReason;

constexpr int64_t kDay = 86400;
// Caps on lists whose length no config field bounds (a customer with hundreds of open
// complaints or pending renewals is kept to the most recent ones).
constexpr int kMaxOpenComplaints = 32;
constexpr int kMaxRenewals = 32;
constexpr int kMaxWindowEntries = 64;  // complaints made, surveys, competitor signals
// A crossing of the weight of evidence further ahead than this is no deadline (the
// customer's next event comes first in any real history).
constexpr double kMaxDeadlineDays = 100 * 365;

// Time in the rules is whole seconds of event time: a duration of `days` is
// ceil(days * 86400) seconds, "d days or more have passed" is elapsed >= that, and
// "within the last d days" is elapsed < that. NextChurnDeadline uses the same arithmetic,
// so a deadline is exactly the first second at which a rule flips.
int64_t Span(double days) { return static_cast<int64_t>(std::ceil(days * kDay)); }

Timestamp At(int64_t seconds) {
  Timestamp t;
  t.set_seconds(seconds);
  return t;
}

// Floor division: days before 1970 are whole days too.
int64_t DayOf(int64_t seconds) {
  return seconds >= 0 ? seconds / kDay : -((-seconds + kDay - 1) / kDay);
}

double Days(int64_t seconds) { return static_cast<double>(seconds) / kDay; }

std::string Date(int64_t seconds) {
  return absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(seconds), absl::UTCTimeZone());
}
std::string WholeDays(int64_t seconds) { return absl::StrCat(seconds / kDay); }
std::string Num(double x) { return absl::StrFormat("%.1f", x); }
std::string Num0(double x) { return absl::StrFormat("%.0f", x); }

// The state's clock: the later of the projection's clock and the last evaluation.
int64_t ClockOf(const CustomerState& state) {
  return std::max(state.as_of().seconds(), state.churn_episode().evaluated_at().seconds());
}

// Inserts `mark` into a list ascending by time (after the entries with an equal time),
// then keeps at most `cap` of the latest.
void InsertByTime(RepeatedPtrField<ChurnMark>& marks, const ChurnMark& mark, int cap) {
  int i = marks.size();
  while (i > 0 && marks[i - 1].at().seconds() > mark.at().seconds()) --i;
  *marks.Add() = mark;
  for (int j = marks.size() - 1; j > i; --j) marks.SwapElements(j, j - 1);
  if (marks.size() > cap) marks.DeleteSubrange(0, marks.size() - cap);
}

// Drops the entries at least `days` older than `clock`: no future window reaches them.
void DropOlder(RepeatedPtrField<ChurnMark>& marks, int64_t clock, double days) {
  int drop = 0;
  while (drop < marks.size() && clock - marks[drop].at().seconds() >= Span(days)) ++drop;
  if (drop > 0) marks.DeleteSubrange(0, drop);
}

ChurnMark Mark(int64_t seconds, double value) {
  ChurnMark mark;
  *mark.mutable_at() = At(seconds);
  mark.set_value(value);
  return mark;
}

void ObservePurchase(const ChurnConfig& config, ChurnEvidence& evidence, const Event& event) {
  const int64_t day = DayOf(event.occurred_at().seconds());
  auto& days = *evidence.mutable_purchase_days();
  auto it = std::lower_bound(days.begin(), days.end(), day);
  if (it != days.end() && *it == day) return;
  const int cap = config.rhythm_purchase_days();
  if (days.size() >= cap && it == days.begin()) return;  // older than everything kept
  std::vector<int64_t> kept(days.begin(), days.end());
  kept.insert(kept.begin() + (it - days.begin()), day);
  if (static_cast<int>(kept.size()) > cap) kept.erase(kept.begin(), kept.end() - cap);
  days.Assign(kept.begin(), kept.end());
}

void ObserveComplaint(const ChurnConfig& config, ChurnEvidence& evidence, const Event& event,
                      int64_t clock) {
  const std::string& id = event.complaint().complaint_id();
  const int64_t made = event.occurred_at().seconds();
  auto& open = *evidence.mutable_open_complaints();
  auto it = std::lower_bound(open.begin(), open.end(), id,
                             [](const guanxi::v1::ChurnComplaint& c, const std::string& key) {
                               return c.complaint_id() < key;
                             });
  if (it != open.end() && it->complaint_id() == id) return;  // already open: one complaint
  const int index = static_cast<int>(it - open.begin());
  guanxi::v1::ChurnComplaint complaint;
  complaint.set_complaint_id(id);
  *complaint.mutable_made_at() = event.occurred_at();
  *open.Add() = std::move(complaint);
  for (int j = open.size() - 1; j > index; --j) open.SwapElements(j, j - 1);
  if (open.size() > kMaxOpenComplaints) {
    // Forget the earliest made (ties: the smallest id).
    int oldest = 0;
    for (int j = 1; j < open.size(); ++j) {
      if (open[j].made_at().seconds() < open[oldest].made_at().seconds()) oldest = j;
    }
    open.DeleteSubrange(oldest, 1);
  }
  auto& made_list = *evidence.mutable_complaints_made();
  int i = made_list.size();
  while (i > 0 && made_list[i - 1].seconds() > made) --i;
  *made_list.Add() = At(made);
  for (int j = made_list.size() - 1; j > i; --j) made_list.SwapElements(j, j - 1);
  int drop = 0;
  while (drop < made_list.size() &&
         (clock - made_list[drop].seconds() >= Span(config.complaint_run_window_days()) ||
          made_list.size() - drop > kMaxWindowEntries)) {
    ++drop;
  }
  if (drop > 0) made_list.DeleteSubrange(0, drop);
}

void ObserveResolution(ChurnEvidence& evidence, const Event& event) {
  const std::string& id = event.complaint_resolved().complaint_id();
  auto& open = *evidence.mutable_open_complaints();
  for (int j = 0; j < open.size(); ++j) {
    if (open[j].complaint_id() == id) {
      open.DeleteSubrange(j, 1);
      return;
    }
  }
}

void ObserveSurvey(const ChurnConfig& config, ChurnEvidence& evidence, const Event& event,
                   int64_t clock) {
  const std::optional<double> value = SatisfactionOf(event);
  if (!value) return;
  auto& marks = *evidence.mutable_satisfaction();
  InsertByTime(marks, Mark(event.occurred_at().seconds(), *value), kMaxWindowEntries);
  // The latest survey counts while it is younger than the window, against the surveys
  // in the window before it: nothing older than two windows can matter.
  DropOlder(marks, clock, 2 * config.satisfaction_window_days());
}

void ObservePayment(const ChurnConfig& config, ChurnEvidence& evidence, const Event& event) {
  const std::optional<PaymentLateness> late = LatenessOf(event);
  if (!late) return;
  if (config.evidence().late_payment_weight() > 0) {
    evidence.set_timed_payments(evidence.timed_payments() + 1);
    evidence.set_days_late_sum(evidence.days_late_sum() + static_cast<double>(late->days_late));
  }
  InsertByTime(*evidence.mutable_payments(), Mark(late->paid, static_cast<double>(late->days_late)),
               config.late_payment_recent() + config.late_payment_baseline());
}

// The mean of an assessment's rated dimensions (each clamped to 0..100), rescaled to
// 0..1; nullopt when none is rated.
std::optional<double> AssessmentMeanOf(const Event& event) {
  double sum = 0;
  int n = 0;
  for (const std::optional<double>& rating : AssessmentRatingsOf(event)) {
    if (!rating) continue;
    sum += *rating;
    ++n;
  }
  if (n == 0) return std::nullopt;
  return sum / n / 100;
}

void ObserveAssessment(ChurnEvidence& evidence, const Event& event) {
  const std::optional<double> mean = AssessmentMeanOf(event);
  if (!mean) return;
  evidence.set_assessments(evidence.assessments() + 1);
  evidence.set_assessment_sum(evidence.assessment_sum() + *mean);
}

void SetRenewal(ChurnEvidence& evidence, const std::string& contract, const Timestamp* due) {
  auto& renewals = *evidence.mutable_renewals();
  auto it = std::lower_bound(renewals.begin(), renewals.end(), contract,
                             [](const guanxi::v1::ChurnRenewal& r, const std::string& key) {
                               return r.contract_id() < key;
                             });
  const int index = static_cast<int>(it - renewals.begin());
  const bool present = it != renewals.end() && it->contract_id() == contract;
  if (due == nullptr) {
    if (present) renewals.DeleteSubrange(index, 1);
    return;
  }
  if (!present) {
    if (renewals.size() >= kMaxRenewals) return;
    renewals.Add()->set_contract_id(contract);
    for (int j = renewals.size() - 1; j > index; --j) renewals.SwapElements(j, j - 1);
  }
  *renewals[index].mutable_due_at() = At(due->seconds());
}

// `active_contracts`: how many contracts are active once the event is applied.
void ObserveContract(ChurnEvidence& evidence, const Event& event, int active_contracts) {
  const auto& c = event.contract();
  const int64_t t = event.occurred_at().seconds();
  const bool later = !IsSet(evidence.contract_terminated_at()) ||
                     t >= evidence.contract_terminated_at().seconds();
  if (later && c.milestone() == guanxi::v1::CONTRACT_MILESTONE_KIND_TERMINATED &&
      active_contracts == 0) {
    *evidence.mutable_contract_terminated_at() = At(t);
    evidence.set_contract_terminated(c.contract_id());
  } else if (later && active_contracts > 0) {
    // A contract signed or renewed since: the customer holds one again.
    evidence.clear_contract_terminated_at();
    evidence.clear_contract_terminated();
  }
  switch (c.milestone()) {
    case guanxi::v1::CONTRACT_MILESTONE_KIND_RENEWAL_DUE:
      SetRenewal(evidence, c.contract_id(),
                 IsSet(c.renewal_due_at()) ? &c.renewal_due_at() : &event.occurred_at());
      break;
    case guanxi::v1::CONTRACT_MILESTONE_KIND_SIGNED:
    case guanxi::v1::CONTRACT_MILESTONE_KIND_RENEWED:
      SetRenewal(evidence, c.contract_id(),
                 IsSet(c.renewal_due_at()) ? &c.renewal_due_at() : nullptr);
      break;
    case guanxi::v1::CONTRACT_MILESTONE_KIND_TERMINATED:
      SetRenewal(evidence, c.contract_id(), nullptr);
      break;
    default:
      break;
  }
}

void ObserveContact(ChurnEvidence& evidence, const Event& event) {
  const auto& c = event.contact_change();
  if (!c.champion()) return;
  const int64_t t = event.occurred_at().seconds();
  if (c.change() == guanxi::v1::CONTACT_CHANGE_KIND_LEFT) {
    if (IsSet(evidence.champion_left_at()) && evidence.champion_left_at().seconds() > t) return;
    *evidence.mutable_champion_left_at() = At(t);
    evidence.set_champion_left(c.contact_id());  // not the name: personal data
  } else if (IsSet(evidence.champion_left_at()) && t >= evidence.champion_left_at().seconds()) {
    // A champion joined (or a contact became one) since: the gap is filled.
    evidence.clear_champion_left_at();
    evidence.clear_champion_left();
  }
}

void ObserveCall(const ChurnConfig& config, ChurnEvidence& evidence, const Event& event,
                 int64_t clock) {
  evidence.set_calls(evidence.calls() + 1);
  if (!event.call().resolved()) evidence.set_unresolved_calls(evidence.unresolved_calls() + 1);
  const std::optional<double> sentiment = SentimentOf(event);
  if (!sentiment) return;
  evidence.set_scored_calls(evidence.scored_calls() + 1);
  evidence.set_sentiment_sum(evidence.sentiment_sum() + *sentiment);
  auto& marks = *evidence.mutable_call_sentiment();
  InsertByTime(marks, Mark(event.occurred_at().seconds(), *sentiment), kMaxWindowEntries);
  DropOlder(marks, clock, config.call_window_days());
}

// The weight of evidence of a decline at `now` (no earlier than when it was last
// changed): what it was, moved by its drift since, never below 0.
double EvidenceAt(const ChurnEvidence& evidence, int64_t now) {
  const int64_t since = std::max<int64_t>(0, now - evidence.decline_evidence_at().seconds());
  return std::max(0.0, evidence.decline_evidence() +
                           evidence.decline_drift() * static_cast<double>(since) / kDay);
}

// What `event` adds to the weight of evidence of a decline (negative: evidence against),
// what kind of sign it is and its figure; added 0 when it is no sign either way.
struct Sign {
  double added = 0;
  guanxi::v1::ChurnSignKind kind = guanxi::v1::CHURN_SIGN_KIND_UNSPECIFIED;
  double figure = 0;
  double usual = 0;  // ChurnSign.usual
};

// A configured rate ratio: 0 (unset) is 1, no term.
double RatioOf(double configured) { return configured == 0 ? 1 : configured; }

// The log of a rate ratio: what an event of that kind adds (0 for ratio 1: no term).
double ArrivalOf(double configured) {
  const double ratio = RatioOf(configured);
  return ratio == 1 ? 0 : std::log(ratio);
}

// What a call's resolution says against the customer's own share of unresolved calls
// before it (DeclineEvidenceConfig.unresolved_call_shift); `evidence` already counts it.
double ResolutionOf(const ChurnConfig& config, const ChurnEvidence& evidence, const Event& event) {
  const double shift = config.evidence().unresolved_call_shift();
  if (shift == 0) return 0;
  const bool resolved = event.call().resolved();
  const double calls = static_cast<double>(evidence.calls() - 1);
  const double unresolved = static_cast<double>(evidence.unresolved_calls() - (resolved ? 0 : 1));
  const double q = (unresolved + 0.5) / (calls + 1);
  if (resolved) return std::log1p(-shift);
  return std::log1p((1 - q) * shift / q);
}

// The call sentiment's pivot for the customer (DeclineEvidenceConfig
// .call_sentiment_prior_calls): moved by its own mean over the calls before this one
// (`evidence` already counts this one, with `sentiment`).
double PivotOf(const ChurnConfig& config, const ChurnEvidence& evidence, double sentiment) {
  const auto& e = config.evidence();
  const double k = e.call_sentiment_prior_calls();
  if (k == 0) return e.call_sentiment_pivot();
  const double n = static_cast<double>(evidence.scored_calls() - 1);
  const double mean =
      (evidence.sentiment_sum() - sentiment + k * e.call_sentiment_baseline()) / (n + k);
  return e.call_sentiment_pivot() + (mean - e.call_sentiment_baseline());
}

// What a payment `days_late` says: late_payment when late enough, and its lateness
// against the customer's own punctuality (DeclineEvidenceConfig.late_payment_weight).
// `evidence` already counts it.
Sign PaymentOf(const ChurnConfig& config, const ChurnEvidence& evidence, double days_late) {
  const auto& e = config.evidence();
  const double fixed = days_late >= config.late_payment_min_days() ? e.late_payment() : 0;
  if (e.late_payment_weight() == 0) {
    if (fixed == 0) return {};
    return {fixed, guanxi::v1::CHURN_SIGN_KIND_LATE_PAYMENT, days_late};
  }
  const double n = static_cast<double>(evidence.timed_payments() - 1);
  const double k = e.late_payment_prior_payments();
  const double usual = n + k > 0 ? (evidence.days_late_sum() - days_late) / (n + k) : 0;
  const double graded =
      std::clamp(e.late_payment_weight() * (days_late - usual - e.late_payment_pivot()),
                 -e.late_payment_floor(), e.late_payment_cap());
  return {fixed + graded, guanxi::v1::CHURN_SIGN_KIND_PAYMENT, days_late, usual};
}

// What an assessment of mean `mean` (0..1) says against the customer's own
// (DeclineEvidenceConfig.assessment_weight); `evidence` already counts it.
Sign AssessmentOf(const ChurnConfig& config, const ChurnEvidence& evidence, double mean) {
  const auto& e = config.evidence();
  if (e.assessment_weight() == 0) return {};
  const double n = static_cast<double>(evidence.assessments() - 1);
  const double k = e.assessment_prior();
  const double usual =
      n + k > 0 ? (evidence.assessment_sum() - mean + k * e.assessment_baseline()) / (n + k)
                : e.assessment_baseline();
  return {e.assessment_weight() * (usual - mean - e.assessment_pivot()),
          guanxi::v1::CHURN_SIGN_KIND_ASSESSMENT, 100 * mean, 100 * usual};
}

Sign SignOf(const ChurnConfig& config, const ChurnEvidence& evidence, const Event& event) {
  const auto& e = config.evidence();
  switch (event.payload_case()) {
    case Event::kCall: {
      const double arrival = ArrivalOf(e.call_rate_ratio()) + ResolutionOf(config, evidence, event);
      const std::optional<double> sentiment = SentimentOf(event);
      if (!sentiment) return {arrival, guanxi::v1::CHURN_SIGN_KIND_CALL, 0};
      return {arrival +
                  e.call_sentiment_weight() * (PivotOf(config, evidence, *sentiment) - *sentiment),
              guanxi::v1::CHURN_SIGN_KIND_CALL_SENTIMENT, *sentiment};
    }
    case Event::kComplaint: {
      const bool critical = event.complaint().severity() == guanxi::v1::SEVERITY_CRITICAL;
      return {e.complaint() + ArrivalOf(e.complaint_rate_ratio()) +
                  (critical ? e.critical_complaint() : 0),
              guanxi::v1::CHURN_SIGN_KIND_COMPLAINT, static_cast<double>(critical)};
    }
    case Event::kComplaintResolved:
      if (event.complaint_resolved().customer_satisfied()) return {};
      return {e.unsatisfied_resolution(), guanxi::v1::CHURN_SIGN_KIND_UNSATISFIED_RESOLUTION, 0};
    case Event::kSurvey: {
      const std::optional<double> satisfaction = SatisfactionOf(event);
      if (!satisfaction) return {};
      return {e.survey_weight() * (e.survey_pivot() - *satisfaction / 100),
              guanxi::v1::CHURN_SIGN_KIND_SURVEY, *satisfaction};
    }
    case Event::kCompetitorSignal: {
      const double arrival = ArrivalOf(e.competitor_rate_ratio());
      const std::optional<double> lean = LeanOf(event);
      if (!lean) return {arrival, guanxi::v1::CHURN_SIGN_KIND_COMPETITOR_SIGNAL, 0};
      const bool away = *lean <= -config.competitor_lean();
      return {arrival + (away ? e.competitor_signal() : 0) +
                  e.competitor_lean_weight() * (e.competitor_lean_pivot() - *lean),
              guanxi::v1::CHURN_SIGN_KIND_COMPETITOR_SIGNAL, *lean};
    }
    case Event::kPayment: {
      const std::optional<PaymentLateness> late = LatenessOf(event);
      if (!late) return {};
      return PaymentOf(config, evidence, static_cast<double>(late->days_late));
    }
    case Event::kAssessment: {
      const std::optional<double> mean = AssessmentMeanOf(event);
      if (!mean) return {};
      return AssessmentOf(config, evidence, *mean);
    }
    case Event::kVisit:
      if (event.visit().outcome() != guanxi::v1::OUTCOME_NEGATIVE) return {};
      return {e.negative_visit(), guanxi::v1::CHURN_SIGN_KIND_NEGATIVE_VISIT, 0};
    case Event::kOrder:
      if (event.order().kind() == guanxi::v1::ORDER_KIND_CANCELLATION) return {};
      return {ArrivalOf(e.purchase_rate_ratio()), guanxi::v1::CHURN_SIGN_KIND_PURCHASE, 0};
    default:
      return {};
  }
}

// The evidence's drift a day (see ChurnEvidence.decline_drift) for the customer as it
// stands at `clock`: the decay, and each rate term at the customer's own rate.
double DriftOf(const ChurnConfig& config, const CustomerState& state, int64_t clock) {
  const auto& e = config.evidence();
  const int64_t first = IsSet(state.first_event_at()) ? state.first_event_at().seconds() : clock;
  const double exposure = std::max({Days(clock - first), e.min_exposure_days(), 1.0});
  const auto& evidence = state.churn_evidence();
  auto term = [&](double ratio, int64_t count) {
    return (RatioOf(ratio) - 1) * (static_cast<double>(count) + 0.5) / exposure;
  };
  return -e.decay_per_day() - term(e.complaint_rate_ratio(), state.complaints()) -
         term(e.call_rate_ratio(), evidence.calls()) -
         term(e.competitor_rate_ratio(), evidence.competitor_signals_seen()) -
         term(e.purchase_rate_ratio(), state.purchase_days());
}

// A stored sign as people read it: "call sentiment -0.40", "payment 12 days late",
// "payment 9 days late (usually 1.2)", "assessment 48/100 (usually 61)".
std::string SignText(const guanxi::v1::ChurnSign& sign) {
  switch (sign.kind()) {
    case guanxi::v1::CHURN_SIGN_KIND_CALL_SENTIMENT:
      return absl::StrFormat("call sentiment %+.2f", sign.figure());
    case guanxi::v1::CHURN_SIGN_KIND_CALL:
      return "call";
    case guanxi::v1::CHURN_SIGN_KIND_COMPLAINT:
      return sign.figure() != 0 ? "critical complaint" : "complaint";
    case guanxi::v1::CHURN_SIGN_KIND_UNSATISFIED_RESOLUTION:
      return "complaint resolved, customer not satisfied";
    case guanxi::v1::CHURN_SIGN_KIND_SURVEY:
      return absl::StrFormat("survey satisfaction %.0f/100", sign.figure());
    case guanxi::v1::CHURN_SIGN_KIND_COMPETITOR_SIGNAL:
      return absl::StrFormat("competitor signal lean %+.2f", sign.figure());
    case guanxi::v1::CHURN_SIGN_KIND_LATE_PAYMENT:
      return absl::StrFormat("payment %.0f days late", sign.figure());
    case guanxi::v1::CHURN_SIGN_KIND_PAYMENT: {
      const std::string paid = sign.figure() == 0   ? std::string("payment on time")
                               : sign.figure() == 1 ? std::string("payment 1 day late")
                                                    : absl::StrFormat("payment %.0f days late",
                                                                      sign.figure());
      return absl::StrCat(paid, absl::StrFormat(" (usually %.1f)", sign.usual()));
    }
    case guanxi::v1::CHURN_SIGN_KIND_ASSESSMENT:
      return absl::StrFormat("assessment %.0f/100 (usually %.0f)", sign.figure(), sign.usual());
    case guanxi::v1::CHURN_SIGN_KIND_NEGATIVE_VISIT:
      return "negative visit";
    case guanxi::v1::CHURN_SIGN_KIND_PURCHASE:
      return "purchase";
    default:
      return "sign";
  }
}

constexpr int kMaxSigns = 8;

// Adds what `event` says to the weight of evidence and sets the drift from here on.
// Every event moves the clock of the evidence, so the drift always uses the customer's
// rates as of its latest event.
void ObserveEvidence(const ChurnConfig& config, CustomerState& state, const Event& event,
                     int64_t clock) {
  ChurnEvidence& evidence = *state.mutable_churn_evidence();
  const Sign sign = SignOf(config, evidence, event);
  const double value = std::max(0.0, EvidenceAt(evidence, clock) + sign.added);
  evidence.set_decline_evidence(value);
  *evidence.mutable_decline_evidence_at() = At(clock);
  evidence.set_decline_drift(DriftOf(config, state, clock));
  auto& signs = *evidence.mutable_decline_signs();
  if (value == 0) {
    signs.Clear();  // back to nothing: what came before no longer counts
    return;
  }
  if (sign.added == 0) return;
  guanxi::v1::ChurnSign& added = *signs.Add();
  *added.mutable_at() = At(clock);
  added.set_kind(sign.kind);
  added.set_added(sign.added);
  added.set_figure(sign.figure);
  added.set_usual(sign.usual);
  if (signs.size() > kMaxSigns) signs.DeleteSubrange(0, signs.size() - kMaxSigns);
}

void ObserveCompetitor(const ChurnConfig& config, ChurnEvidence& evidence, const Event& event,
                       int64_t clock) {
  evidence.set_competitor_signals_seen(evidence.competitor_signals_seen() + 1);
  const std::optional<double> lean = LeanOf(event);
  if (!lean || !(*lean < 0)) return;
  auto& marks = *evidence.mutable_competitor_signals();
  InsertByTime(marks, Mark(event.occurred_at().seconds(), *lean), kMaxWindowEntries);
  DropOlder(marks, clock, config.competitor_window_days());
}

// --- The rules ---------------------------------------------------------------------

// Whether an assessment writes its reasons' descriptions. A notice needs them; comparing
// outcomes (a deadline's search, an evaluation that notifies nothing) does not, and
// writing them is most of what an assessment costs.
enum class Text { kOn, kOff };

// A reason as the rules find it: guanxi.v1.WarningReason's fields, in a plain struct so
// that an assessment that only compares outcomes builds no message.
struct Said {
  const char* code;  // a literal of the rule's
  double observed;
  double threshold;
  std::string description;  // empty with Text::kOff
};

// `describe()` gives the reason's sentence; called only with Text::kOn.
template <typename Describe>
Said Reason(Text text, const char* code, double observed, double threshold, Describe&& describe) {
  return Said{code, observed, threshold, text == Text::kOn ? describe() : std::string()};
}

// One rule's finding: the reason and how many times its weight it counts (2 when
// severe: its figure is ChurnConfig.severe_factor times past the threshold).
struct Finding {
  Said reason;
  double multiplier = 1;
};

// An assessment as the rules find it (ChurnAssessment, with its reasons as Said).
struct Outcome {
  std::vector<Said> reasons;
  double points = 0;
  WarningLevel level = guanxi::v1::WARNING_LEVEL_UNSPECIFIED;
};

WarningReason ToProto(Said said) {
  WarningReason reason;
  reason.set_code(said.code);
  reason.set_observed(said.observed);
  reason.set_threshold(said.threshold);
  reason.set_description(std::move(said.description));
  return reason;
}

// For figures that warn when high: severe at severe_factor times the threshold or more.
bool Severe(const ChurnConfig& config, double observed, double threshold) {
  return observed >= config.severe_factor() * threshold;
}

Finding Found(const ChurnConfig& config, Said reason) {
  const bool severe = Severe(config, reason.observed, reason.threshold);
  if (severe && !reason.description.empty()) absl::StrAppend(&reason.description, "; severe");
  return Finding{std::move(reason), severe ? 2.0 : 1.0};
}

// The customer's silence against its purchase rhythm. `quiet` runs from the last
// purchase (inactivity) or from the last interaction of any kind, purchases included
// (silence): nullopt for a customer who never bought, or when `quiet` is below the
// threshold.
std::optional<Finding> QuietFor(const ChurnConfig& config, const CustomerState& state, int64_t now,
                                const Timestamp& since, const char* code, const char* what,
                                Text text) {
  if (state.purchase_days() <= 0 || !IsSet(state.last_purchase_at())) return std::nullopt;
  const double rhythm = PurchaseRhythmDays(config, state);
  const int64_t quiet = now - std::max(since.seconds(), state.last_purchase_at().seconds());
  const double threshold = config.inactivity_multiple() * rhythm;
  if (quiet < Span(threshold)) return std::nullopt;
  const bool known =
      state.churn_evidence().purchase_days_size() >= config.min_rhythm_purchase_days();
  const bool severe = quiet >= Span(config.severe_factor() * threshold);
  Said reason = Reason(text, code, Days(quiet), threshold, [&] {
    return absl::StrCat(what, WholeDays(quiet), " days; usual gap ", Num(rhythm), " days",
                        known ? "" : " (default: too few purchases to tell)", ", warning at ",
                        Num(config.inactivity_multiple()), "x = ", Num(threshold), " days",
                        severe ? "; severe" : "");
  });
  return Finding{std::move(reason), severe ? 2.0 : 1.0};
}

// silence: no interaction of any kind (purchases included) for as long as inactivity
// asks of purchases alone. Supersedes inactivity: a customer who holds it is silent,
// not merely not buying.
std::optional<Finding> Silence(const ChurnConfig& config, const CustomerState& state, int64_t now,
                               Text text) {
  return QuietFor(config, state, now, state.last_interaction_at(), "silence",
                  "no purchase and no contact of any kind for ", text);
}

std::optional<Finding> Inactivity(const ChurnConfig& config, const CustomerState& state,
                                  int64_t now, Text text) {
  return QuietFor(config, state, now, state.last_purchase_at(), "inactivity", "no purchase for ",
                  text);
}

std::optional<Finding> LowPAlive(const ChurnConfig& config, const CustomerState& state,
                                 const guanxi::v1::ModelRecord* model, Text text) {
  if (model == nullptr || !model->has_bgnbd() || state.purchase_days() <= 0) return std::nullopt;
  const double p = state.p_alive();
  if (!(p < config.p_alive_threshold())) return std::nullopt;
  // A figure that warns when low: severe at the threshold divided by severe_factor.
  const bool severe = p * config.severe_factor() <= config.p_alive_threshold();
  return Finding{
      Reason(text, "low_p_alive", p, config.p_alive_threshold(), [&] {
        return absl::StrCat("probability of still being an active buyer ",
                            absl::StrFormat("%.2f", p), " (BG/NBD), below ",
                            absl::StrFormat("%.2f", config.p_alive_threshold()),
                            severe ? "; severe" : "");
      }),
      severe ? 2.0 : 1.0};
}

std::optional<Finding> ChurnRiskHigh(const ChurnConfig& config, const CustomerState& state,
                                     Text text) {
  if (!state.has_churn_risk()) return std::nullopt;
  const double risk = state.churn_risk();
  if (!(risk >= config.risk_threshold())) return std::nullopt;
  // Severe when the chance of any purchase or contact is severe_factor times smaller.
  const bool severe = (1 - risk) * config.severe_factor() <= 1 - config.risk_threshold();
  return Finding{
      Reason(text, "churn_risk", risk, config.risk_threshold(), [&] {
        return absl::StrCat("churn risk ", absl::StrFormat("%.2f", risk),
                            " (no purchase and no contact in the next ",
                            config.risk_horizon_days(), " days), at or above ",
                            absl::StrFormat("%.2f", config.risk_threshold()),
                            severe ? "; severe" : "");
      }),
      severe ? 2.0 : 1.0};
}

std::optional<Finding> UnresolvedComplaint(const ChurnConfig& config, const CustomerState& state,
                                           int64_t now, Text text) {
  int overdue = 0;
  const guanxi::v1::ChurnComplaint* oldest = nullptr;
  for (const auto& c : state.churn_evidence().open_complaints()) {
    const int64_t age = now - c.made_at().seconds();
    if (age < Span(config.complaint_service_level_days())) continue;
    if (age >= Span(config.complaint_max_age_days())) continue;
    ++overdue;
    if (oldest == nullptr || c.made_at().seconds() < oldest->made_at().seconds()) oldest = &c;
  }
  if (oldest == nullptr) return std::nullopt;
  return Found(
      config,
      Reason(text, "unresolved_complaint", overdue, 1, [&] {
        return absl::StrCat(overdue, overdue == 1 ? " complaint" : " complaints",
                            " open past the ", Num0(config.complaint_service_level_days()),
                            "-day service level; the oldest, ", oldest->complaint_id(), ", for ",
                            WholeDays(now - oldest->made_at().seconds()), " days");
      }));
}

std::optional<Finding> ComplaintRun(const ChurnConfig& config, const CustomerState& state,
                                    int64_t now, Text text) {
  int n = 0;
  for (const auto& t : state.churn_evidence().complaints_made()) {
    if (t.seconds() <= now && now - t.seconds() < Span(config.complaint_run_window_days())) ++n;
  }
  if (n < config.complaint_run_count()) return std::nullopt;
  return Found(config, Reason(text, "complaint_run", n, config.complaint_run_count(), [&] {
    return absl::StrCat(n, " complaints in the last ", Num0(config.complaint_run_window_days()),
                        " days (", config.complaint_run_count(), " or more)");
  }));
}

std::optional<Finding> SatisfactionDrop(const ChurnConfig& config, const CustomerState& state,
                                        int64_t now, Text text) {
  const auto& marks = state.churn_evidence().satisfaction();
  if (marks.size() < 2) return std::nullopt;
  const ChurnMark& latest = marks[marks.size() - 1];
  const int64_t window = Span(config.satisfaction_window_days());
  if (now - latest.at().seconds() >= window) return std::nullopt;
  double sum = 0;
  int n = 0;
  for (int i = 0; i + 1 < marks.size(); ++i) {
    if (latest.at().seconds() - marks[i].at().seconds() < window) {
      sum += marks[i].value();
      ++n;
    }
  }
  if (n == 0) return std::nullopt;
  const double before = sum / n;
  const double drop = before - latest.value();
  if (!(drop >= config.satisfaction_drop())) return std::nullopt;
  return Found(
      config,
      Reason(text, "satisfaction_drop", drop, config.satisfaction_drop(), [&] {
        return absl::StrCat("satisfaction ", Num0(latest.value()), "/100 on ",
                            Date(latest.at().seconds()), ", down ", Num(drop), " points from ",
                            Num0(before), " (mean of ", n, n == 1 ? " survey" : " surveys",
                            " in the ", Num0(config.satisfaction_window_days()), " days before)");
      }));
}

// The first score high still inside the window at `now` (the highest of the window).
const ChurnMark* WindowHigh(const ChurnConfig& config, const CustomerState& state, int64_t now) {
  const int64_t first_day = DayOf(now) - config.score_drop_window_days() + 1;
  for (const auto& mark : state.churn_evidence().score_highs()) {
    if (DayOf(mark.at().seconds()) >= first_day) return &mark;
  }
  return nullptr;
}

std::optional<Finding> ScoreDrop(const ChurnConfig& config, const CustomerState& state,
                                 int64_t now, Text text) {
  const ChurnMark* high = WindowHigh(config, state, now);
  if (high == nullptr) return std::nullopt;
  const double drop = high->value() - state.overall_score();
  if (!(drop >= config.score_drop())) return std::nullopt;
  return Found(
      config,
      Reason(text, "score_drop", drop, config.score_drop(), [&] {
        return absl::StrCat("relationship score ", Num(state.overall_score()), ", down ",
                            Num(drop), " points from ", Num(high->value()), " on ",
                            Date(high->at().seconds()), " (within ",
                            config.score_drop_window_days(), " days)");
      }));
}

std::optional<Finding> LatePayments(const ChurnConfig& config, const CustomerState& state,
                                    Text text) {
  const auto& payments = state.churn_evidence().payments();
  const int recent = config.late_payment_recent();
  if (payments.size() < recent) return std::nullopt;
  const int split = payments.size() - recent;
  double recent_sum = 0, base_sum = 0;
  for (int i = split; i < payments.size(); ++i) recent_sum += payments[i].value();
  const int base_from = std::max(0, split - config.late_payment_baseline());
  for (int i = base_from; i < split; ++i) base_sum += payments[i].value();
  const double recent_mean = recent_sum / recent;
  const double base_mean = split > base_from ? base_sum / (split - base_from) : 0.0;
  const double threshold =
      std::max(config.late_payment_min_days(), base_mean + config.late_payment_increase_days());
  if (!(recent_mean >= threshold)) return std::nullopt;
  return Found(config, Reason(text, "late_payments", recent_mean, threshold, [&] {
    return absl::StrCat("last ", recent, recent == 1 ? " payment" : " payments", " ",
                        Num(recent_mean), " days late on average, up from ", Num(base_mean), " (",
                        split - base_from, " before)");
  }));
}

std::optional<Finding> RenewalLowScore(const ChurnConfig& config, const CustomerState& state,
                                       int64_t now, Text text) {
  if (!(state.overall_score() < config.renewal_low_score())) return std::nullopt;
  const int64_t window = Span(config.renewal_window_days());
  const guanxi::v1::ChurnRenewal* due = nullptr;
  for (const auto& r : state.churn_evidence().renewals()) {
    const int64_t at = r.due_at().seconds();
    if (now < at - window || now >= at + window) continue;
    if (due == nullptr || at < due->due_at().seconds()) due = &r;
  }
  if (due == nullptr) return std::nullopt;
  const int64_t until = due->due_at().seconds() - now;
  return Finding{Reason(text, "renewal_low_score", state.overall_score(),
                        config.renewal_low_score(), [&] {
                          const std::string when =
                              until >= 0
                                  ? absl::StrCat(" (in ", WholeDays(until), " days)")
                                  : absl::StrCat(" (overdue by ", WholeDays(-until), " days)");
                          return absl::StrCat("contract ", due->contract_id(), " renewal due ",
                                              Date(due->due_at().seconds()), when,
                                              " with relationship score ",
                                              Num(state.overall_score()), " below ",
                                              Num(config.renewal_low_score()));
                        })};
}

std::optional<Finding> ChampionLeft(const ChurnConfig& config, const CustomerState& state,
                                    int64_t now, Text text) {
  const auto& evidence = state.churn_evidence();
  if (!IsSet(evidence.champion_left_at())) return std::nullopt;
  const int64_t since = now - evidence.champion_left_at().seconds();
  if (since < 0 || since >= Span(config.champion_left_days())) return std::nullopt;
  return Finding{
      Reason(text, "champion_left", Days(since), config.champion_left_days(), [&] {
        return absl::StrCat("champion ", evidence.champion_left(), " left on ",
                            Date(evidence.champion_left_at().seconds()), ", no new champion since");
      })};
}

std::optional<Finding> ContractTerminated(const ChurnConfig& config, const CustomerState& state,
                                          int64_t now, Text text) {
  const auto& evidence = state.churn_evidence();
  if (!IsSet(evidence.contract_terminated_at()) || state.active_contracts_size() > 0) {
    return std::nullopt;
  }
  const int64_t since = now - evidence.contract_terminated_at().seconds();
  if (since < 0 || since >= Span(config.contract_terminated_days())) return std::nullopt;
  return Finding{Reason(text, "contract_terminated", Days(since),
                        config.contract_terminated_days(), [&] {
                          return absl::StrCat("contract ", evidence.contract_terminated(),
                                              " terminated on ",
                                              Date(evidence.contract_terminated_at().seconds()),
                                              ", no active contract left");
                        })};
}

std::optional<Finding> LowScore(const ChurnConfig& config, const CustomerState& state, Text text) {
  const double score = state.overall_score();
  if (!(score < config.low_score())) return std::nullopt;
  // A figure that warns when low: severe at the threshold divided by severe_factor.
  const bool severe = score * config.severe_factor() <= config.low_score();
  Said reason = Reason(text, "low_score", score, config.low_score(), [&] {
    return absl::StrCat("relationship score ", Num(score), " below ", Num(config.low_score()),
                        severe ? "; severe" : "");
  });
  return Finding{std::move(reason), severe ? 2.0 : 1.0};
}

std::optional<Finding> CompetitorSignals(const ChurnConfig& config, const CustomerState& state,
                                         int64_t now, Text text) {
  int n = 0;
  double strongest = 0;
  for (const auto& mark : state.churn_evidence().competitor_signals()) {
    const int64_t age = now - mark.at().seconds();
    if (age < 0 || age >= Span(config.competitor_window_days())) continue;
    if (!(mark.value() <= -config.competitor_lean())) continue;
    ++n;
    strongest = std::min(strongest, mark.value());
  }
  if (n < config.competitor_signal_count()) return std::nullopt;
  return Found(config,
               Reason(text, "competitor_signal", n, config.competitor_signal_count(), [&] {
                 return absl::StrCat(n, n == 1 ? " signal" : " signals",
                                     " leaning to a competitor in the last ",
                                     Num0(config.competitor_window_days()),
                                     " days (strongest lean ", absl::StrFormat("%.2f", strongest),
                                     ")");
               }));
}

std::optional<Finding> CallSentiment(const ChurnConfig& config, const CustomerState& state,
                                     int64_t now, Text text) {
  int n = 0;
  double sum = 0, lowest = 1;
  for (const auto& mark : state.churn_evidence().call_sentiment()) {
    const int64_t age = now - mark.at().seconds();
    if (age < 0 || age >= Span(config.call_window_days())) continue;
    ++n;
    sum += mark.value();
    lowest = std::min(lowest, mark.value());
  }
  if (n < config.call_min_count()) return std::nullopt;
  const double mean = sum / n;
  if (!(mean <= config.call_sentiment_threshold())) return std::nullopt;
  return Finding{
      Reason(text, "call_sentiment", mean, config.call_sentiment_threshold(), [&] {
        return absl::StrCat("mean sentiment ", absl::StrFormat("%+.2f", mean), " over ", n,
                            " calls in the last ", Num0(config.call_window_days()),
                            " days (lowest ", absl::StrFormat("%+.2f", lowest), "), at or below ",
                            absl::StrFormat("%+.2f", config.call_sentiment_threshold()));
      })};
}

// How the weight of evidence moves from here: "; falling 0.07 a day".
std::string DriftText(double drift) {
  if (drift == 0) return "";
  return absl::StrFormat("; %s %.2f a day", drift < 0 ? "falling" : "rising", std::abs(drift));
}

std::optional<Finding> DeclineEvidence(const ChurnConfig& config, const CustomerState& state,
                                       int64_t now, Text text) {
  const double drift = state.churn_evidence().decline_drift();
  const double threshold = config.evidence().threshold();
  const double value = EvidenceAt(state.churn_evidence(), now);
  if (!(value >= threshold)) return std::nullopt;
  return Found(config, Reason(text, "decline_evidence", value, threshold, [&] {
                 std::string signs;
                 for (const auto& sign : state.churn_evidence().decline_signs()) {
                   absl::StrAppend(&signs, signs.empty() ? "" : ", ", SignText(sign), " ",
                                   absl::StrFormat("%+.1f", sign.added()), " (",
                                   Date(sign.at().seconds()), ")");
                 }
                 return absl::StrCat("weight of evidence of a decline ", Num(value),
                                     ", at or above ", Num(threshold), "; latest signs: ", signs,
                                     DriftText(drift));
               }));
}

WarningLevel LevelOf(const ChurnConfig& config, double points) {
  if (points >= config.critical_points()) return guanxi::v1::WARNING_LEVEL_CRITICAL;
  if (points >= config.warning_points()) return guanxi::v1::WARNING_LEVEL_WARNING;
  if (points >= config.watch_points()) return guanxi::v1::WARNING_LEVEL_WATCH;
  return guanxi::v1::WARNING_LEVEL_UNSPECIFIED;
}

// Records the overall score as the high of the day of `now`, keeping only the highs that
// can still be the highest of a later window (each above every later one).
void RecordScoreHigh(const ChurnConfig& config, CustomerState& state, int64_t now) {
  auto& highs = *state.mutable_churn_evidence()->mutable_score_highs();
  const int64_t day = DayOf(now);
  const int64_t first_day = day - config.score_drop_window_days() + 1;
  int drop = 0;
  while (drop < highs.size() && DayOf(highs[drop].at().seconds()) < first_day) ++drop;
  if (drop > 0) highs.DeleteSubrange(0, drop);
  const double score = state.overall_score();
  while (!highs.empty() && highs[highs.size() - 1].value() <= score) highs.RemoveLast();
  if (!highs.empty() && DayOf(highs[highs.size() - 1].at().seconds()) == day) return;
  *highs.Add() = Mark(day * kDay, score);
}

}  // namespace

double PurchaseRhythmDays(const ChurnConfig& config, const CustomerState& state) {
  const auto& days = state.churn_evidence().purchase_days();
  if (days.size() < std::max(2, config.min_rhythm_purchase_days())) {
    return std::max(config.default_rhythm_days(), config.min_rhythm_days());
  }
  // The mean gap: the span of the kept purchase days over the gaps between them.
  const double mean =
      static_cast<double>(days[days.size() - 1] - days[0]) / static_cast<double>(days.size() - 1);
  return std::max(mean, config.min_rhythm_days());
}

double DeclineEvidenceAt(const CustomerState& state, const Timestamp& at) {
  return EvidenceAt(state.churn_evidence(), at.seconds());
}

void ObserveForChurn(const ChurnConfig& config, CustomerState& state, const Event& event) {
  ChurnEvidence& evidence = *state.mutable_churn_evidence();
  const int64_t clock = std::max(ClockOf(state), event.occurred_at().seconds());
  switch (event.payload_case()) {
    case Event::kOrder:
      if (event.order().kind() != guanxi::v1::ORDER_KIND_CANCELLATION) {
        ObservePurchase(config, evidence, event);
      }
      break;
    case Event::kComplaint:
      ObserveComplaint(config, evidence, event, clock);
      break;
    case Event::kComplaintResolved:
      ObserveResolution(evidence, event);
      break;
    case Event::kSurvey:
      ObserveSurvey(config, evidence, event, clock);
      break;
    case Event::kPayment:
      ObservePayment(config, evidence, event);
      break;
    case Event::kContract:
      ObserveContract(evidence, event, state.active_contracts_size());
      break;
    case Event::kContactChange:
      ObserveContact(evidence, event);
      break;
    case Event::kCompetitorSignal:
      ObserveCompetitor(config, evidence, event, clock);
      break;
    case Event::kCall:
      ObserveCall(config, evidence, event, clock);
      break;
    case Event::kAssessment:
      if (config.evidence().assessment_weight() > 0) ObserveAssessment(evidence, event);
      break;
    default:
      break;
  }
  if (config.weights().decline_evidence() > 0) ObserveEvidence(config, state, event, clock);
}

namespace {

// The rules, in the order their reasons are listed.
enum Rule : int {
  kInactivity,
  kSilence,
  kLowPAlive,
  kChurnRisk,
  kUnresolvedComplaint,
  kComplaintRun,
  kSatisfactionDrop,
  kScoreDrop,
  kLatePayments,
  kRenewalLowScore,
  kChampionLeft,
  kContractTerminated,
  kLowScore,
  kCompetitorSignal,
  kCallSentiment,
  kDeclineEvidence,
  kRules,
};

// A set of rules, as bits by Rule.
using Rules = uint32_t;
constexpr Rules Bit(Rule rule) { return Rules{1} << rule; }
// Silence and inactivity are found together: silence, when it holds, takes
// inactivity's place.
constexpr Rules kQuiet = Bit(kInactivity) | Bit(kSilence);

// The rules' weights, by Rule.
using Weights = std::array<double, kRules>;

Weights WeightsOf(const ChurnConfig& config) {
  const auto& w = config.weights();
  Weights weights{};
  weights[kInactivity] = w.inactivity();
  weights[kSilence] = w.silence();
  weights[kLowPAlive] = w.low_p_alive();
  weights[kChurnRisk] = w.churn_risk();
  weights[kUnresolvedComplaint] = w.unresolved_complaint();
  weights[kComplaintRun] = w.complaint_run();
  weights[kSatisfactionDrop] = w.satisfaction_drop();
  weights[kScoreDrop] = w.score_drop();
  weights[kLatePayments] = w.late_payments();
  weights[kRenewalLowScore] = w.renewal_low_score();
  weights[kChampionLeft] = w.champion_left();
  weights[kContractTerminated] = w.contract_terminated();
  weights[kLowScore] = w.low_score();
  weights[kCompetitorSignal] = w.competitor_signal();
  weights[kCallSentiment] = w.call_sentiment();
  weights[kDeclineEvidence] = w.decline_evidence();
  return weights;
}

// What each rule finds at one moment, by Rule (nullopt: it does not hold, or its
// weight is 0).
using Findings = std::array<std::optional<Finding>, kRules>;

// Finds the rules of `which` at `now` into `findings`, leaving the others as they are.
void Find(const ChurnConfig& config, const Weights& weights, const CustomerState& state,
          const guanxi::v1::ModelRecord* model, int64_t now, Text text, Rules which,
          Findings& findings) {
  auto find = [&](Rule rule, auto&& finder) {
    if (which & Bit(rule)) findings[rule] = weights[rule] > 0 ? finder() : std::nullopt;
  };
  if (which & kQuiet) {
    findings[kSilence] =
        weights[kSilence] > 0 ? Silence(config, state, now, text) : std::nullopt;
    findings[kInactivity] = weights[kInactivity] > 0 && !findings[kSilence]
                                ? Inactivity(config, state, now, text)
                                : std::nullopt;
  }
  find(kLowPAlive, [&] { return LowPAlive(config, state, model, text); });
  find(kChurnRisk, [&] { return ChurnRiskHigh(config, state, text); });
  find(kUnresolvedComplaint, [&] { return UnresolvedComplaint(config, state, now, text); });
  find(kComplaintRun, [&] { return ComplaintRun(config, state, now, text); });
  find(kSatisfactionDrop, [&] { return SatisfactionDrop(config, state, now, text); });
  find(kScoreDrop, [&] { return ScoreDrop(config, state, now, text); });
  find(kLatePayments, [&] { return LatePayments(config, state, text); });
  find(kRenewalLowScore, [&] { return RenewalLowScore(config, state, now, text); });
  find(kChampionLeft, [&] { return ChampionLeft(config, state, now, text); });
  find(kContractTerminated, [&] { return ContractTerminated(config, state, now, text); });
  find(kLowScore, [&] { return LowScore(config, state, text); });
  find(kCompetitorSignal, [&] { return CompetitorSignals(config, state, now, text); });
  find(kCallSentiment, [&] { return CallSentiment(config, state, now, text); });
  find(kDeclineEvidence, [&] { return DeclineEvidence(config, state, now, text); });
}

// The points the findings add up to, in the order of the rules (the order decides the
// last bit of a sum, and so a deadline's comparison).
double PointsOf(const Weights& weights, const Findings& findings) {
  double points = 0;
  for (int rule = 0; rule < kRules; ++rule) {
    if (findings[rule]) points += weights[rule] * findings[rule]->multiplier;
  }
  return points;
}

// Whether the state holds evidence dated after `clock` that a rule counts only from its
// date on (a champion who left, a terminated contract, a complaint made, a competitor
// signal, a call).
bool EvidenceAfter(const CustomerState& state, int64_t clock) {
  const ChurnEvidence& evidence = state.churn_evidence();
  auto after = [&](const Timestamp& t) { return t.seconds() > clock; };
  auto any_after = [&](const auto& marks) {
    return std::any_of(marks.begin(), marks.end(), [&](const ChurnMark& m) { return after(m.at()); });
  };
  return after(evidence.champion_left_at()) || after(evidence.contract_terminated_at()) ||
         std::any_of(evidence.complaints_made().begin(), evidence.complaints_made().end(),
                     after) ||
         any_after(evidence.competitor_signals()) || any_after(evidence.call_sentiment());
}

// AssessChurn, with or without the reasons' descriptions.
Outcome Assess(const ChurnConfig& config, const CustomerState& state,
               const guanxi::v1::ModelRecord* model, int64_t now, Text text) {
  const Weights weights = WeightsOf(config);
  Findings findings;
  Find(config, weights, state, model, now, text, ~Rules{0}, findings);
  Outcome outcome;
  outcome.points = PointsOf(weights, findings);
  for (auto& finding : findings) {
    if (finding) outcome.reasons.push_back(std::move(finding->reason));
  }
  outcome.level = LevelOf(config, outcome.points);
  return outcome;
}

}  // namespace

ChurnAssessment AssessChurn(const ChurnConfig& config, const CustomerState& state,
                            const guanxi::v1::ModelRecord* model, const Timestamp& at) {
  Outcome outcome = Assess(config, state, model, at.seconds(), Text::kOn);
  ChurnAssessment assessment;
  for (Said& said : outcome.reasons) assessment.reasons.push_back(ToProto(std::move(said)));
  assessment.points = outcome.points;
  assessment.level = outcome.level;
  return assessment;
}

std::optional<guanxi::v1::ChurnWarning> EvaluateChurn(const ChurnConfig& config,
                                                      CustomerState& state,
                                                      const ChurnContext& context) {
  const int64_t now = std::max(ClockOf(state), context.now.seconds());
  RecordScoreHigh(config, state, now);
  // Without the descriptions: most evaluations notify nothing (written below if one does).
  const Outcome assessment = Assess(config, state, context.model, now, Text::kOff);
  guanxi::v1::ChurnEpisode& episode = *state.mutable_churn_episode();
  *episode.mutable_evaluated_at() = At(now);
  const std::optional<Finding> p_alive = config.weights().low_p_alive() > 0
                                             ? LowPAlive(config, state, context.model, Text::kOff)
                                             : std::nullopt;
  episode.set_p_alive_points(p_alive ? config.weights().low_p_alive() * p_alive->multiplier : 0);

  guanxi::v1::WarningNotice notice = guanxi::v1::WARNING_NOTICE_UNSPECIFIED;
  WarningLevel level = assessment.level;
  if (episode.warning_id().empty()) {
    if (assessment.level == guanxi::v1::WARNING_LEVEL_UNSPECIFIED) return std::nullopt;
    episode.set_warning_id(
        absl::StrCat(state.customer_id(), "/",
                     context.cause.empty() ? absl::StrCat(context.position) : context.cause));
    episode.set_start_position(context.position);
    *episode.mutable_started_at() = At(now);
    episode.set_level(assessment.level);
    episode.clear_quiet_since();
    notice = guanxi::v1::WARNING_NOTICE_RAISED;
  } else if (assessment.points <= config.resolve_points()) {
    if (!IsSet(episode.quiet_since())) *episode.mutable_quiet_since() = At(now);
    if (now - episode.quiet_since().seconds() < Span(config.resolve_after_days())) {
      return std::nullopt;
    }
    notice = guanxi::v1::WARNING_NOTICE_RESOLVED;
    level = static_cast<WarningLevel>(episode.level());
  } else {
    episode.clear_quiet_since();
    if (assessment.level <= episode.level()) return std::nullopt;
    episode.set_level(assessment.level);
    notice = guanxi::v1::WARNING_NOTICE_ESCALATED;
  }

  guanxi::v1::ChurnWarning warning;
  warning.set_warning_id(episode.warning_id());
  warning.set_customer_id(state.customer_id());
  warning.set_notice(notice);
  warning.set_level(level);
  // The same assessment (the rules read nothing the episode's update changed), described.
  for (Said& said : Assess(config, state, context.model, now, Text::kOn).reasons) {
    *warning.add_reasons() = ToProto(std::move(said));
  }
  warning.set_score(state.overall_score());
  warning.set_stage(state.stage());
  if (context.model != nullptr && context.model->has_bgnbd()) warning.set_p_alive(state.p_alive());
  if (state.has_churn_risk()) warning.set_churn_risk(state.churn_risk());
  warning.set_partition(context.partition);
  warning.set_position(context.position);
  *warning.mutable_event_time() = context.now;
  if (notice == guanxi::v1::WARNING_NOTICE_RESOLVED) {
    // The episode is closed; what the next deadline needs stays.
    const Timestamp evaluated = episode.evaluated_at();
    const double p_alive_points = episode.p_alive_points();
    episode.Clear();
    *episode.mutable_evaluated_at() = evaluated;
    episode.set_p_alive_points(p_alive_points);
  }
  return warning;
}

std::optional<Timestamp> NextChurnDeadline(const ChurnConfig& config, const CustomerState& state) {
  const int64_t clock = ClockOf(state);
  const ChurnEvidence& evidence = state.churn_evidence();
  // Each moment a rule can start or stop holding, with the rules that can (Rules).
  std::vector<std::pair<int64_t, Rules>> candidates;
  auto candidate = [&](int64_t at, Rules rules) { candidates.emplace_back(at, rules); };
  if (state.purchase_days() > 0 && IsSet(state.last_purchase_at())) {
    // The same arithmetic as QuietFor: (severe_factor x (multiple x rhythm)) can differ
    // from ((severe_factor x multiple) x rhythm) in the last bit, and so by a second.
    const double threshold = config.inactivity_multiple() * PurchaseRhythmDays(config, state);
    const int64_t last = state.last_purchase_at().seconds();
    candidate(last + Span(threshold), kQuiet);
    candidate(last + Span(config.severe_factor() * threshold), kQuiet);
    if (IsSet(state.last_interaction_at())) {
      const int64_t contact = std::max(last, state.last_interaction_at().seconds());
      candidate(contact + Span(threshold), kQuiet);
      candidate(contact + Span(config.severe_factor() * threshold), kQuiet);
    }
  }
  for (const auto& c : evidence.open_complaints()) {
    candidate(c.made_at().seconds() + Span(config.complaint_service_level_days()),
              Bit(kUnresolvedComplaint));
    candidate(c.made_at().seconds() + Span(config.complaint_max_age_days()),
              Bit(kUnresolvedComplaint));
  }
  for (const auto& t : evidence.complaints_made()) {
    candidate(t.seconds() + Span(config.complaint_run_window_days()), Bit(kComplaintRun));
  }
  if (!evidence.satisfaction().empty()) {
    candidate(evidence.satisfaction().rbegin()->at().seconds() +
                  Span(config.satisfaction_window_days()),
              Bit(kSatisfactionDrop));
  }
  for (const auto& mark : evidence.score_highs()) {
    candidate((DayOf(mark.at().seconds()) + config.score_drop_window_days()) * kDay,
              Bit(kScoreDrop));
  }
  for (const auto& r : evidence.renewals()) {
    candidate(r.due_at().seconds() - Span(config.renewal_window_days()), Bit(kRenewalLowScore));
    candidate(r.due_at().seconds() + Span(config.renewal_window_days()), Bit(kRenewalLowScore));
  }
  if (IsSet(evidence.champion_left_at())) {
    candidate(evidence.champion_left_at().seconds() + Span(config.champion_left_days()),
              Bit(kChampionLeft));
  }
  if (IsSet(evidence.contract_terminated_at())) {
    candidate(evidence.contract_terminated_at().seconds() + Span(config.contract_terminated_days()),
              Bit(kContractTerminated));
  }
  for (const auto& mark : evidence.competitor_signals()) {
    candidate(mark.at().seconds() + Span(config.competitor_window_days()), Bit(kCompetitorSignal));
  }
  for (const auto& mark : evidence.call_sentiment()) {
    candidate(mark.at().seconds() + Span(config.call_window_days()), Bit(kCallSentiment));
  }
  // The weight of evidence crosses the threshold or the severe mark (down as it decays,
  // up as purchases fail to come) at the first second EvidenceAt says so.
  const double drift = evidence.decline_drift();
  if (config.weights().decline_evidence() > 0 && drift != 0 &&
      (evidence.decline_evidence() > 0 || drift > 0)) {
    const int64_t at = evidence.decline_evidence_at().seconds();
    for (const double mark :
         {config.evidence().threshold(), config.severe_factor() * config.evidence().threshold()}) {
      const bool above = evidence.decline_evidence() >= mark;
      if (above == (drift > 0)) continue;  // moving away from the mark
      const double days = (mark - evidence.decline_evidence()) / drift;
      if (!(days < kMaxDeadlineDays)) continue;
      int64_t c = at + static_cast<int64_t>(std::floor(days * kDay)) + 1;
      while (c - 1 > at && (EvidenceAt(evidence, c - 1) >= mark) != above) --c;
      while ((EvidenceAt(evidence, c) >= mark) == above) ++c;
      candidate(c, Bit(kDeclineEvidence));
    }
  }
  // P(alive) does not move with time alone: it counts as at the last evaluation. Each
  // rule's finding changes only at its own candidates (it reads `now` nowhere else), so
  // at each candidate only the rules that can change there are found again: the
  // outcome is the one a whole assessment at that moment gives.
  const double p_alive_points = state.churn_episode().p_alive_points();
  const Weights weights = WeightsOf(config);
  Findings findings;
  Find(config, weights, state, nullptr, clock, Text::kOff, ~Rules{0}, findings);
  auto holding = [&] {
    Rules rules = 0;
    for (int rule = 0; rule < kRules; ++rule) {
      if (findings[rule]) rules |= Bit(static_cast<Rule>(rule));
    }
    return rules;
  };
  const Rules base_rules = holding();
  const double base_points = PointsOf(weights, findings) + p_alive_points;
  const WarningLevel base_level = LevelOf(config, base_points);
  const auto& episode = state.churn_episode();
  std::optional<int64_t> resolution;
  if (!episode.warning_id().empty() && base_points <= config.resolve_points()) {
    const int64_t quiet_since =
        IsSet(episode.quiet_since()) ? episode.quiet_since().seconds() : clock;
    resolution = std::max(clock + 1, quiet_since + Span(config.resolve_after_days()));
    candidate(*resolution, 0);
  }
  // Evidence dated after the clock (a state can hold it: a state is any stored message)
  // starts to count at its date, which is no candidate: the whole assessment finds it at
  // the first candidate after it, whichever rule that came from, as it always has.
  const Rules always = EvidenceAfter(state, clock) ? ~Rules{0} : 0;
  std::sort(candidates.begin(), candidates.end());
  for (size_t i = 0; i < candidates.size();) {
    const int64_t c = candidates[i].first;
    Rules changing = always;
    for (; i < candidates.size() && candidates[i].first == c; ++i) changing |= candidates[i].second;
    if (c <= clock) continue;
    if (resolution && c == *resolution) return At(c);
    Find(config, weights, state, nullptr, c, Text::kOff, changing, findings);
    const double points = PointsOf(weights, findings) + p_alive_points;
    // What a deadline compares: which reasons hold (each rule has a code of its own), how
    // much they count, and the level.
    if (points != base_points || LevelOf(config, points) != base_level ||
        holding() != base_rules) {
      return At(c);
    }
  }
  return std::nullopt;
}

}  // namespace guanxi::projections
