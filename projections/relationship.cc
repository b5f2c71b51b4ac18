#include "projections/relationship.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "projections/classes.h"
#include "projections/readings.h"

namespace guanxi::projections {
namespace {

using google::protobuf::Timestamp;
using guanxi::v1::CustomerState;
using guanxi::v1::Dimension;
using guanxi::v1::DimensionScore;
using guanxi::v1::Event;
using guanxi::v1::LifecycleStage;
using guanxi::v1::Signal;

constexpr double kSecondsPerDay = 86400.0;

bool Before(const Timestamp& a, const Timestamp& b) {
  return a.seconds() < b.seconds() || (a.seconds() == b.seconds() && a.nanos() < b.nanos());
}

// b - a in days (negative when b is before a).
double DaysBetween(const Timestamp& a, const Timestamp& b) {
  return (static_cast<double>(b.seconds() - a.seconds()) +
          static_cast<double>(b.nanos() - a.nanos()) * 1e-9) /
         kSecondsPerDay;
}

void SetMax(Timestamp& target, const Timestamp& t) {
  if (!IsSet(target) || Before(target, t)) target = t;
}

double Clamp100(double x) { return std::clamp(x, 0.0, 100.0); }

// The observation value a measured signal carries, from its event; nullopt for a
// signal whose value comes from the scoring table.
std::optional<double> MeasuredValue(Signal signal, const Event& event) {
  switch (signal) {
    case guanxi::v1::SIGNAL_CALL_SENTIMENT:
      return Clamp100((event.call().sentiment() + 1.0) * 50.0);
    case guanxi::v1::SIGNAL_SURVEY_SATISFACTION:
      return SatisfactionOf(event);
    case guanxi::v1::SIGNAL_SURVEY_NPS:
      return Clamp100(event.survey().nps() * 10.0);
    case guanxi::v1::SIGNAL_COMPETITOR_LEAN:
      return Clamp100((event.competitor_signal().lean() + 1.0) * 50.0);
    default:
      return std::nullopt;
  }
}

double ScoreOf(const guanxi::v1::ScoringConfig& scoring, const DimensionScore& d) {
  return (scoring.prior_weight() * scoring.prior() + d.evidence_weight() * d.evidence_mean()) /
         (scoring.prior_weight() + d.evidence_weight());
}

void RecomputeOverall(const ProjectionConfig& config, CustomerState& state) {
  double sum = 0, weights = 0;
  for (const DimensionScore& d : state.dimensions()) {
    sum += config.OverallWeight(d.dimension()) * d.score();
    weights += config.OverallWeight(d.dimension());
  }
  state.set_overall_score(sum / weights);
}

// A new customer's state: every dimension at the prior, the clock at `t`.
void Initialize(const ProjectionConfig& config, CustomerState& state, const Event& event) {
  state.set_customer_id(event.customer_id());
  *state.mutable_first_event_at() = event.occurred_at();
  *state.mutable_as_of() = event.occurred_at();
  for (int d = 1; d <= ProjectionConfig::kDimensions; ++d) {
    DimensionScore* score = state.add_dimensions();
    score->set_dimension(static_cast<Dimension>(d));
    score->set_score(config.scoring().prior());
  }
  RecomputeOverall(config, state);
  state.set_reported_score(state.overall_score());
  *state.mutable_reported_dimensions() = state.dimensions();
}

// Decays every dimension's evidence from state.as_of() to `t`; never moves back.
void Decay(const ProjectionConfig& config, CustomerState& state, const Timestamp& t) {
  if (!Before(state.as_of(), t)) return;
  const double days = DaysBetween(state.as_of(), t);
  for (DimensionScore& d : *state.mutable_dimensions()) {
    d.set_evidence_weight(d.evidence_weight() *
                          std::exp2(-days / config.HalfLifeDays(d.dimension())));
    d.set_score(ScoreOf(config.scoring(), d));
  }
  *state.mutable_as_of() = t;
  RecomputeOverall(config, state);
}

// Adds one observation made at `t`. An observation older than the clock enters with its
// weight decayed by its age, as if it had arrived in order.
void Observe(const ProjectionConfig& config, CustomerState& state, Dimension dimension,
             double value, double weight, const Timestamp& t) {
  DimensionScore& d = *state.mutable_dimensions(static_cast<int>(dimension) - 1);
  if (Before(t, state.as_of())) {
    weight *= std::exp2(-DaysBetween(t, state.as_of()) / config.HalfLifeDays(dimension));
    if (!(weight > 0)) return;  // too old to count (underflow)
  }
  const double total = d.evidence_weight() + weight;
  d.set_evidence_mean((d.evidence_weight() * d.evidence_mean() + weight * value) / total);
  d.set_evidence_weight(total);
  d.set_score(ScoreOf(config.scoring(), d));
  SetMax(*d.mutable_updated_at(), t);
}

void ObserveEvent(const ProjectionConfig& config, CustomerState& state, const Event& event) {
  const Timestamp& t = event.occurred_at();
  if (event.has_assessment()) {
    const std::array<std::optional<double>, 6> ratings = AssessmentRatingsOf(event);
    for (size_t i = 0; i < ratings.size(); ++i) {
      if (!ratings[i]) continue;
      Observe(config, state, static_cast<Dimension>(i + 1), *ratings[i],
              config.scoring().assessment_weight(), t);
    }
    return;
  }
  for (Signal signal : SignalsOf(event, config.scoring().payment_grace_days())) {
    const std::optional<double> measured = MeasuredValue(signal, event);
    for (const auto& rule : config.Rules(signal)) {
      Observe(config, state, rule.dimension(), measured.value_or(rule.value()), rule.weight(), t);
    }
  }
}

// Inserts (insert = true) or removes `id` in a list kept sorted.
void UpdateSortedSet(google::protobuf::RepeatedPtrField<std::string>& set, const std::string& id,
                     bool insert) {
  std::vector<std::string> ids(set.begin(), set.end());
  auto it = std::lower_bound(ids.begin(), ids.end(), id);
  const bool present = it != ids.end() && *it == id;
  if (insert && !present) ids.insert(it, id);
  if (!insert && present) ids.erase(it);
  set.Assign(ids.begin(), ids.end());
}

void UpdateContacts(CustomerState& state, const guanxi::v1::ContactChange& change) {
  std::vector<guanxi::v1::Contact> contacts(state.contacts().begin(), state.contacts().end());
  auto it = std::lower_bound(
      contacts.begin(), contacts.end(), change.contact_id(),
      [](const guanxi::v1::Contact& c, const std::string& id) { return c.contact_id() < id; });
  const bool present = it != contacts.end() && it->contact_id() == change.contact_id();
  if (change.change() == guanxi::v1::CONTACT_CHANGE_KIND_LEFT) {
    if (present) contacts.erase(it);
  } else {
    if (!present) it = contacts.insert(it, guanxi::v1::Contact());
    it->set_contact_id(change.contact_id());
    it->set_role(change.role());
    it->set_level(change.level());
    it->set_champion(change.champion());
    if (!change.name().empty()) it->set_name(change.name());
  }
  state.mutable_contacts()->Assign(contacts.begin(), contacts.end());
}

// Whole days a payment was late (0 when on time or when the due date is unknown).
int64_t DaysLate(const Event& event) {
  const std::optional<PaymentLateness> late = LatenessOf(event);
  return late ? late->days_late : 0;
}

bool IsPurchaseOrder(const guanxi::v1::Order& order) {
  return order.kind() != guanxi::v1::ORDER_KIND_CANCELLATION;
}

// Adds an order (or, with `sign` -1, a cancellation) to the monthly purchase figures,
// keeping only the last kPurchaseMonths months.
void AddToMonth(CustomerState& state, const Timestamp& t, int64_t orders, int64_t revenue) {
  auto& months = *state.mutable_purchase_months();
  const int32_t month = MonthOf(t);
  int i = 0;
  while (i < months.size() && months[i].month() < month) ++i;
  if (i == months.size() || months[i].month() != month) {
    const int32_t newest = months.empty() ? month : std::max(month, months.rbegin()->month());
    if (month <= newest - kPurchaseMonths) return;  // older than anything kept
    guanxi::v1::PurchaseMonth added;
    added.set_month(month);
    months.Add(std::move(added));
    for (int j = months.size() - 1; j > i; --j) months.SwapElements(j, j - 1);
  }
  months[i].set_orders(months[i].orders() + orders);
  months[i].set_revenue_minor(months[i].revenue_minor() + revenue);
  const int32_t newest = months.rbegin()->month();
  int drop = 0;
  while (drop < months.size() && months[drop].month() <= newest - kPurchaseMonths) ++drop;
  if (drop > 0) months.DeleteSubrange(0, drop);
}

void BookkeepOrder(CustomerState& state, const Event& event) {
  const Timestamp& t = event.occurred_at();
  const auto& order = event.order();
  if (!IsPurchaseOrder(order)) {
    state.set_cancellations(state.cancellations() + 1);
    state.set_revenue_minor(state.revenue_minor() - order.amount().minor_units());
    AddToMonth(state, t, 0, -order.amount().minor_units());
    return;
  }
  state.set_orders(state.orders() + 1);
  state.set_revenue_minor(state.revenue_minor() + order.amount().minor_units());
  AddToMonth(state, t, 1, order.amount().minor_units());
  if (!IsSet(state.first_purchase_at()) || Before(t, state.first_purchase_at())) {
    *state.mutable_first_purchase_at() = t;
  }
  const bool same_day = IsSet(state.last_purchase_at()) &&
                        t.seconds() / 86400 == state.last_purchase_at().seconds() / 86400;
  if (!same_day) state.set_purchase_days(state.purchase_days() + 1);
  SetMax(*state.mutable_last_purchase_at(), t);
}

void Bookkeep(CustomerState& state, const Event& event, uint64_t position, int grace_days) {
  const Timestamp& t = event.occurred_at();
  state.set_events_applied(state.events_applied() + 1);
  state.set_last_position(position);
  if (Before(t, state.first_event_at())) *state.mutable_first_event_at() = t;
  SetMax(*state.mutable_last_event_at(), t);
  if (IsInteraction(event)) SetMax(*state.mutable_last_interaction_at(), t);
  switch (event.payload_case()) {
    case Event::kProfile:
      if (event.profile().has_name()) state.set_name(event.profile().name());
      if (event.profile().has_owner()) state.set_owner(event.profile().owner());
      break;
    case Event::kOrder:
      BookkeepOrder(state, event);
      break;
    case Event::kContract: {
      const auto milestone = event.contract().milestone();
      if (milestone == guanxi::v1::CONTRACT_MILESTONE_KIND_SIGNED ||
          milestone == guanxi::v1::CONTRACT_MILESTONE_KIND_RENEWED) {
        UpdateSortedSet(*state.mutable_active_contracts(), event.contract().contract_id(), true);
      } else if (milestone == guanxi::v1::CONTRACT_MILESTONE_KIND_TERMINATED) {
        UpdateSortedSet(*state.mutable_active_contracts(), event.contract().contract_id(), false);
      }
      break;
    }
    case Event::kPayment:
      if (const int64_t late = DaysLate(event); late > grace_days) {
        state.set_payments_late(state.payments_late() + 1);
        state.set_payment_days_late_total(state.payment_days_late_total() + late);
      } else {
        state.set_payments_on_time(state.payments_on_time() + 1);
      }
      break;
    case Event::kComplaint:
      UpdateSortedSet(*state.mutable_open_complaints(), event.complaint().complaint_id(), true);
      break;
    case Event::kComplaintResolved:
      UpdateSortedSet(*state.mutable_open_complaints(), event.complaint_resolved().complaint_id(),
                      false);
      break;
    case Event::kActivity:
      switch (event.activity().status()) {
        case guanxi::v1::PARTICIPATION_STATUS_INVITED:
          state.set_activities_invited(state.activities_invited() + 1);
          break;
        case guanxi::v1::PARTICIPATION_STATUS_ATTENDED:
          state.set_activities_attended(state.activities_attended() + 1);
          break;
        case guanxi::v1::PARTICIPATION_STATUS_DECLINED:
          state.set_activities_declined(state.activities_declined() + 1);
          break;
        default:
          break;
      }
      break;
    case Event::kContactChange:
      UpdateContacts(state, event.contact_change());
      break;
    default:
      break;
  }
  BookkeepClassification(state, event);
}

// The scores before an application (by position in state.dimensions()).
struct Snapshot {
  explicit Snapshot(const CustomerState& state) : overall_score(state.overall_score()) {
    for (const DimensionScore& d : state.dimensions()) {
      if (size == scores.size()) break;
      scores[size++] = d.score();
    }
  }
  double overall_score;
  std::array<double, ProjectionConfig::kDimensions> scores{};
  size_t size = 0;
};

// Fills applied.moved (this application's own move) and appends a ScoreChange fact when
// the overall score has moved by the configured step since the last reported one.
void ReportScore(const ProjectionConfig& config, CustomerState& state, const Snapshot& before,
                 const Timestamp& t, uint64_t position, Applied& applied) {
  applied.moved.from = before.overall_score;
  applied.moved.to = state.overall_score();
  const auto& now = state.dimensions();
  for (int i = 0; i < now.size(); ++i) {
    const size_t at = static_cast<size_t>(i);
    if (at < before.size && before.scores[at] == now[i].score()) continue;
    applied.moved.dimensions.push_back(
        {now[i].dimension(), at < before.size ? before.scores[at] : 0.0, now[i].score()});
  }

  const double step = std::abs(state.overall_score() - state.reported_score());
  if (step == 0 || step < config.scoring().score_change_step()) return;
  auto change = NewChange(state, t, position, "score");
  auto& score = *change.mutable_score();
  score.set_from(state.reported_score());
  score.set_to(state.overall_score());
  // The dimensions that moved since the last reported score, with their moves.
  const auto& reported = state.reported_dimensions();
  for (int i = 0; i < now.size(); ++i) {
    if (i < reported.size() && reported[i].score() == now[i].score()) continue;
    if (i < reported.size()) *score.add_dimensions_before() = reported[i];
    *score.add_dimensions_after() = now[i];
  }
  applied.changes.push_back(std::move(change));
  state.set_reported_score(state.overall_score());
  *state.mutable_reported_dimensions() = state.dimensions();
}

}  // namespace

guanxi::v1::RelationshipChange NewChange(const CustomerState& state, const Timestamp& t,
                                         uint64_t position, const char* kind) {
  guanxi::v1::RelationshipChange change;
  change.set_change_id(absl::StrCat(state.customer_id(), "/", position, "/", kind));
  change.set_customer_id(state.customer_id());
  change.set_position(position);
  *change.mutable_event_time() = t;
  return change;
}

bool IsInteraction(const Event& event) {
  switch (event.payload_case()) {
    case Event::kProfile:
    case Event::kContactChange:
    case Event::kAssessment:
    case Event::kErasure:
    case Event::PAYLOAD_NOT_SET:
      return false;
    case Event::kActivity:
      return event.activity().status() != guanxi::v1::PARTICIPATION_STATUS_INVITED;
    default:
      return true;
  }
}

int32_t MonthOf(const Timestamp& t) {
  // The proleptic Gregorian calendar in integer arithmetic (H. Hinnant's civil_from_days):
  // what absl::ToCivilMonth in UTC gives (tested against it), without a time zone lookup
  // on the hot path.
  const int64_t seconds = t.seconds();
  const int64_t days = seconds / 86400 - (seconds % 86400 < 0 ? 1 : 0);  // floor
  const int64_t z = days + 719468;  // days since 0000-03-01
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;                                  // [0, 146096]
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);             // [0, 365]
  const int64_t mp = (5 * doy + 2) / 153;                                  // March = 0
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;                        // 1..12
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return static_cast<int32_t>((year - 1970) * 12 + (month - 1));
}

TrailingPurchases Trailing(const CustomerState& state, const Timestamp& now, int months) {
  TrailingPurchases sum;
  const int32_t last = MonthOf(now);
  for (const auto& m : state.purchase_months()) {
    if (m.month() > last - months && m.month() <= last) {
      sum.orders += m.orders();
      sum.revenue_minor += m.revenue_minor();
    }
  }
  return sum;
}

ProjectionConfig::ProjectionConfig(const guanxi::v1::ScoringConfig& scoring) : scoring_(scoring) {
  for (const auto& rule : scoring_.rules()) {
    const auto signal = static_cast<size_t>(rule.signal());
    if (rules_.size() <= signal) rules_.resize(signal + 1);
    rules_[signal].push_back(rule);
  }
  for (const auto& d : scoring_.dimensions()) {
    const auto i = static_cast<size_t>(d.dimension());
    if (i >= half_life_days_.size()) continue;  // unvalidated config: not ours to check
    half_life_days_[i] = d.half_life_days();
    overall_weight_[i] = d.overall_weight();
  }
}

const std::vector<guanxi::v1::ScoringRule>& ProjectionConfig::Rules(Signal signal) const {
  static const std::vector<guanxi::v1::ScoringRule> kNone;
  const auto i = static_cast<size_t>(signal);
  return i < rules_.size() ? rules_[i] : kNone;
}

double ProjectionConfig::HalfLifeDays(Dimension dimension) const {
  return half_life_days_[static_cast<size_t>(dimension)];
}

double ProjectionConfig::OverallWeight(Dimension dimension) const {
  return overall_weight_[static_cast<size_t>(dimension)];
}

std::vector<Signal> SignalsOf(const Event& event, int grace_days) {
  using namespace guanxi::v1;  // NOLINT: the enum values read better unqualified here
  std::vector<Signal> signals;
  switch (event.payload_case()) {
    case Event::kVisit:
      signals.push_back(event.visit().outcome() == OUTCOME_POSITIVE   ? SIGNAL_VISIT_POSITIVE
                        : event.visit().outcome() == OUTCOME_NEGATIVE ? SIGNAL_VISIT_NEGATIVE
                                                                      : SIGNAL_VISIT_NEUTRAL);
      break;
    case Event::kCall: {
      const Call& call = event.call();
      const bool inbound = call.direction() == CALL_DIRECTION_INBOUND;
      signals.push_back(inbound ? SIGNAL_CALL_INBOUND : SIGNAL_CALL_OUTBOUND);
      if (call.useful_information()) signals.push_back(SIGNAL_CALL_USEFUL_INFORMATION);
      if (inbound && !call.resolved()) signals.push_back(SIGNAL_CALL_UNRESOLVED);
      if (call.has_sentiment() && std::isfinite(call.sentiment())) {
        signals.push_back(SIGNAL_CALL_SENTIMENT);
      }
      break;
    }
    case Event::kActivity:
      if (event.activity().status() == PARTICIPATION_STATUS_ATTENDED) {
        signals.push_back(SIGNAL_ACTIVITY_ATTENDED);
      } else if (event.activity().status() == PARTICIPATION_STATUS_DECLINED) {
        signals.push_back(SIGNAL_ACTIVITY_DECLINED);
      }
      break;
    case Event::kComplaint:
      switch (event.complaint().severity()) {
        case SEVERITY_LOW:
          signals.push_back(SIGNAL_COMPLAINT_LOW);
          break;
        case SEVERITY_MEDIUM:
          signals.push_back(SIGNAL_COMPLAINT_MEDIUM);
          break;
        case SEVERITY_CRITICAL:
          signals.push_back(SIGNAL_COMPLAINT_CRITICAL);
          break;
        default:
          signals.push_back(SIGNAL_COMPLAINT_HIGH);
          break;
      }
      break;
    case Event::kComplaintResolved:
      signals.push_back(event.complaint_resolved().customer_satisfied()
                            ? SIGNAL_COMPLAINT_RESOLVED_SATISFIED
                            : SIGNAL_COMPLAINT_RESOLVED_UNSATISFIED);
      break;
    case Event::kSurvey:
      if (SatisfactionOf(event)) signals.push_back(SIGNAL_SURVEY_SATISFACTION);
      if (event.survey().has_nps()) signals.push_back(SIGNAL_SURVEY_NPS);
      break;
    case Event::kOrder:
      signals.push_back(event.order().kind() == ORDER_KIND_CANCELLATION ? SIGNAL_ORDER_CANCELLED
                                                                        : SIGNAL_ORDER);
      break;
    case Event::kPayment:
      signals.push_back(DaysLate(event) > grace_days ? SIGNAL_PAYMENT_LATE
                                                     : SIGNAL_PAYMENT_ON_TIME);
      break;
    case Event::kContract:
      switch (event.contract().milestone()) {
        case CONTRACT_MILESTONE_KIND_SIGNED:
          signals.push_back(SIGNAL_CONTRACT_SIGNED);
          break;
        case CONTRACT_MILESTONE_KIND_RENEWED:
          signals.push_back(SIGNAL_CONTRACT_RENEWED);
          break;
        case CONTRACT_MILESTONE_KIND_TERMINATED:
          signals.push_back(SIGNAL_CONTRACT_TERMINATED);
          break;
        default:
          break;
      }
      break;
    case Event::kOpportunity:
      if (event.opportunity().stage() == OPPORTUNITY_STAGE_WON) {
        signals.push_back(SIGNAL_OPPORTUNITY_WON);
      } else if (event.opportunity().stage() == OPPORTUNITY_STAGE_LOST) {
        signals.push_back(event.opportunity().lost_to_competitor().empty()
                              ? SIGNAL_OPPORTUNITY_LOST
                              : SIGNAL_OPPORTUNITY_LOST_TO_COMPETITOR);
      }
      break;
    case Event::kInformationShared:
      signals.push_back(SIGNAL_INFORMATION_SHARED);
      break;
    case Event::kGuidanceGiven:
      signals.push_back(SIGNAL_GUIDANCE_GIVEN);
      break;
    case Event::kProjectSupport:
      signals.push_back(SIGNAL_PROJECT_SUPPORT);
      break;
    case Event::kCompetitorSignal:
      if (std::isfinite(event.competitor_signal().lean())) {
        signals.push_back(SIGNAL_COMPETITOR_LEAN);
      }
      break;
    case Event::kReferral:
      signals.push_back(SIGNAL_REFERRAL);
      break;
    case Event::kContactChange:
      if (event.contact_change().change() == CONTACT_CHANGE_KIND_LEFT &&
          event.contact_change().champion()) {
        signals.push_back(SIGNAL_CHAMPION_LEFT);
      }
      break;
    default:
      break;
  }
  return signals;
}

Applied ApplyEvent(const ProjectionConfig& config, CustomerState& state, const Event& event,
                   uint64_t position) {
  Applied applied;
  const Timestamp& t = event.occurred_at();
  if (state.dimensions_size() == 0) Initialize(config, state, event);
  Decay(config, state, t);
  const Snapshot before(state);
  ObserveEvent(config, state, event);
  RecomputeOverall(config, state);
  Bookkeep(state, event, position, config.scoring().payment_grace_days());
  ReportScore(config, state, before, t, position, applied);
  return applied;
}

Applied AdvanceTime(const ProjectionConfig& config, CustomerState& state, const Timestamp& now,
                    uint64_t position) {
  Applied applied;
  if (state.dimensions_size() == 0) return applied;
  const Snapshot before(state);
  Decay(config, state, now);
  ReportScore(config, state, before, now, position, applied);
  return applied;
}

}  // namespace guanxi::projections
