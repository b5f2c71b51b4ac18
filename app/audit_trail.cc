// guanxi audit trail: everything that happened to one customer, event by event, with the
// facts each application derived, and the customer's state at the end; live, or as of an
// event time recomputed from the log.
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "app/commands.h"
#include "app/progress.h"
#include "app/time_flag.h"
#include "common/scratch_dir.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "engine/config/config.h"
#include "engine/log/data_dir.h"
#include "engine/query/projection_view.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "guanxi/v1/projection.pb.h"
#include "guanxi/v1/state.pb.h"
#include "guanxi/v1/warning.pb.h"

namespace guanxi::app {
namespace {

using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;
using guanxi::v1::DerivedFact;
using guanxi::v1::Event;
using guanxi::v1::LogRecord;

// Why a fact was derived at its position.
enum class Cause {
  kEvent,  // the customer's own event at that position
  kTime,   // event time passed (an inactivity timer fired): at a tick, at another
           // customer's event, before the customer's own event, or at the as-of time
  kModel,  // a new population model came into force there (reclassification)
};

const char* CauseName(Cause cause) {
  switch (cause) {
    case Cause::kEvent:
      return "event";
    case Cause::kTime:
      return "time";
    case Cause::kModel:
      return "model";
  }
  return "event";
}

// One line of the trail: an event of the customer, or one derived fact.
struct Entry {
  uint64_t position = 0;
  const LogRecord* event = nullptr;   // the customer's event, or
  const DerivedFact* fact = nullptr;  // a fact
  Cause cause = Cause::kEvent;
  // kTime / kModel: the record at `position` (null past the end of the log: the as-of
  // time itself).
  const LogRecord* at = nullptr;
};

bool Before(const Timestamp& a, const Timestamp& b) {
  return a.seconds() < b.seconds() || (a.seconds() == b.seconds() && a.nanos() < b.nanos());
}

// ---- Text for people ----------------------------------------------------------------

std::string Lower(std::string_view enum_name, std::string_view prefix) {
  if (enum_name.size() >= 11 && enum_name.substr(enum_name.size() - 11) == "UNSPECIFIED") {
    return "none";
  }
  std::string s(enum_name.substr(enum_name.rfind(prefix, 0) == 0 ? prefix.size() : 0));
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Stage(guanxi::v1::LifecycleStage stage) {
  return Lower(guanxi::v1::LifecycleStage_Name(stage), "LIFECYCLE_STAGE_");
}

std::string DimensionName(guanxi::v1::Dimension d) {
  return Lower(guanxi::v1::Dimension_Name(d), "DIMENSION_");
}

std::string Time(const Timestamp& t) { return TimeUtil::ToString(t); }

// Amounts in major units with two decimals (the usual currencies' minor unit).
std::string Money(const guanxi::v1::Money& m) {
  std::string s = absl::StrFormat("%.2f", static_cast<double>(m.minor_units()) / 100.0);
  if (!m.currency().empty()) absl::StrAppend(&s, " ", m.currency());
  return s;
}

std::string Quoted(std::string_view s) { return absl::StrCat("\"", Sv(s), "\""); }

// The kind of an event and its key figures, on one line.
std::string Describe(const Event& e) {
  std::vector<std::string> parts;
  auto add = [&](std::string part) {
    if (!part.empty()) parts.push_back(std::move(part));
  };
  std::string kind;
  switch (e.payload_case()) {
    case Event::kVisit: {
      const auto& v = e.visit();
      kind = "visit";
      add(absl::StrCat("outcome ", Lower(guanxi::v1::Outcome_Name(v.outcome()), "OUTCOME_")));
      if (!v.contact_id().empty()) {
        add(absl::StrCat("contact ", v.contact_id(), " (",
                         Lower(guanxi::v1::ContactLevel_Name(v.contact_level()), "CONTACT_LEVEL_"),
                         ")"));
      }
      if (!v.purpose().empty()) add(absl::StrCat("purpose ", Quoted(v.purpose())));
      break;
    }
    case Event::kCall: {
      const auto& c = e.call();
      kind = absl::StrCat(Lower(guanxi::v1::CallDirection_Name(c.direction()), "CALL_DIRECTION_"),
                          " call");
      if (c.duration_seconds() > 0) add(absl::StrCat(c.duration_seconds(), " s"));
      add(c.resolved() ? "resolved" : "not resolved");
      if (c.has_sentiment()) add(absl::StrFormat("sentiment %+.2f", c.sentiment()));
      if (c.useful_information()) add("useful information");
      if (!c.reason().empty()) add(absl::StrCat("reason ", Quoted(c.reason())));
      break;
    }
    case Event::kActivity: {
      const auto& a = e.activity();
      kind = absl::StrCat("activity ",
                          Lower(guanxi::v1::ActivityKind_Name(a.kind()), "ACTIVITY_KIND_"));
      add(Lower(guanxi::v1::ParticipationStatus_Name(a.status()), "PARTICIPATION_STATUS_"));
      if (!a.activity_id().empty()) add(a.activity_id());
      break;
    }
    case Event::kComplaint: {
      const auto& c = e.complaint();
      kind = absl::StrCat("complaint ", c.complaint_id());
      add(absl::StrCat("severity ", Lower(guanxi::v1::Severity_Name(c.severity()), "SEVERITY_")));
      if (!c.category().empty()) add(absl::StrCat("category ", Quoted(c.category())));
      break;
    }
    case Event::kComplaintResolved: {
      const auto& r = e.complaint_resolved();
      kind = absl::StrCat("complaint ", r.complaint_id(), " resolved");
      add(r.customer_satisfied() ? "customer satisfied" : "customer not satisfied");
      break;
    }
    case Event::kSurvey: {
      const auto& s = e.survey();
      kind = "survey";
      add(absl::StrFormat("satisfaction %g on %g..%g", s.satisfaction(), s.scale_min(),
                          s.scale_max()));
      if (s.has_nps()) add(absl::StrCat("NPS ", s.nps()));
      break;
    }
    case Event::kOrder: {
      const auto& o = e.order();
      kind = o.kind() == guanxi::v1::ORDER_KIND_CANCELLATION
                 ? absl::StrCat("cancellation ", o.order_id())
                 : absl::StrCat(o.kind() == guanxi::v1::ORDER_KIND_INVOICE ? "invoice " : "order ",
                                o.order_id());
      add(Money(o.amount()));
      if (!o.reverses_order_id().empty()) add(absl::StrCat("reverses ", o.reverses_order_id()));
      if (!o.product_line().empty()) add(absl::StrCat("product line ", Quoted(o.product_line())));
      break;
    }
    case Event::kPayment: {
      const auto& p = e.payment();
      kind = absl::StrCat("payment ", p.payment_id());
      if (!p.invoice_id().empty()) add(absl::StrCat("for invoice ", p.invoice_id()));
      add(Money(p.amount()));
      if (p.has_due_at()) {
        const Timestamp& paid = p.has_paid_at() ? p.paid_at() : e.occurred_at();
        const double days = static_cast<double>(paid.seconds() - p.due_at().seconds()) / 86400.0;
        add(days > 0 ? absl::StrFormat("%.0f days late", std::ceil(days)) : "on time");
      }
      break;
    }
    case Event::kContract: {
      const auto& c = e.contract();
      kind = absl::StrCat(
          "contract ", c.contract_id(), " ",
          Lower(guanxi::v1::ContractMilestoneKind_Name(c.milestone()), "CONTRACT_MILESTONE_KIND_"));
      if (c.has_value()) add(absl::StrCat("value ", Money(c.value())));
      if (c.has_renewal_due_at()) add(absl::StrCat("renewal due ", Time(c.renewal_due_at())));
      break;
    }
    case Event::kOpportunity: {
      const auto& o = e.opportunity();
      kind =
          absl::StrCat("opportunity ", o.opportunity_id(), " ",
                       Lower(guanxi::v1::OpportunityStage_Name(o.stage()), "OPPORTUNITY_STAGE_"));
      if (o.has_value()) add(absl::StrCat("value ", Money(o.value())));
      if (!o.lost_to_competitor().empty()) add(absl::StrCat("lost to ", o.lost_to_competitor()));
      break;
    }
    case Event::kInformationShared:
      kind = "information shared";
      add(absl::StrCat("topic ", Quoted(e.information_shared().topic())));
      break;
    case Event::kGuidanceGiven:
      kind = "guidance given";
      add(absl::StrCat("topic ", Quoted(e.guidance_given().topic())));
      break;
    case Event::kProjectSupport:
      kind = "project support";
      add(absl::StrCat("project ", Quoted(e.project_support().project())));
      break;
    case Event::kCompetitorSignal:
      kind = "competitor signal";
      add(e.competitor_signal().competitor());
      add(absl::StrFormat("lean %+.2f", e.competitor_signal().lean()));
      break;
    case Event::kReferral:
      kind = "referral";
      add(absl::StrCat("referred ", e.referral().referred_customer_id()));
      break;
    case Event::kContactChange: {
      const auto& c = e.contact_change();
      kind = absl::StrCat(
          "contact ", c.contact_id(), " ",
          Lower(guanxi::v1::ContactChangeKind_Name(c.change()), "CONTACT_CHANGE_KIND_"));
      add(Lower(guanxi::v1::ContactRole_Name(c.role()), "CONTACT_ROLE_"));
      if (c.champion()) add("champion");
      break;
    }
    case Event::kAssessment: {
      const auto& a = e.assessment();
      kind = "assessment";
      if (!a.assessor().empty()) add(absl::StrCat("by ", a.assessor()));
      if (a.has_acceptance()) add(absl::StrFormat("acceptance %g", a.acceptance()));
      if (a.has_participation()) add(absl::StrFormat("participation %g", a.participation()));
      if (a.has_information()) add(absl::StrFormat("information %g", a.information()));
      if (a.has_guidance()) add(absl::StrFormat("guidance %g", a.guidance()));
      if (a.has_project_support()) add(absl::StrFormat("project_support %g", a.project_support()));
      if (a.has_competitive_preference()) {
        add(absl::StrFormat("competitive_preference %g", a.competitive_preference()));
      }
      break;
    }
    case Event::kProfile: {
      const auto& p = e.profile();
      kind = "profile";
      if (p.has_name()) add(absl::StrCat("name ", Quoted(p.name())));
      if (p.has_strategic()) add(p.strategic() ? "strategic" : "not strategic");
      if (p.has_potential_estimate())
        add(absl::StrCat("potential ", Money(p.potential_estimate())));
      if (p.has_owner()) add(absl::StrCat("owner ", p.owner()));
      break;
    }
    case Event::PAYLOAD_NOT_SET:
      kind = "event of an unknown type";
      break;
  }
  if (parts.empty()) return kind;
  return absl::StrCat(kind, ": ", absl::StrJoin(parts, ", "));
}

std::string Describe(const guanxi::v1::RelationshipChange& c) {
  if (c.has_stage()) {
    return absl::StrCat("stage ", Stage(c.stage().from()), " -> ", Stage(c.stage().to()), ": ",
                        c.stage().cause());
  }
  if (c.has_class_change()) {
    const auto& k = c.class_change();
    return absl::StrCat("class ", k.classification(), " ", k.from().empty() ? "-" : k.from(),
                        " -> ", k.to().empty() ? "-" : k.to(), " (", k.reason(), ")");
  }
  if (c.has_score()) {
    std::vector<std::string> moved;
    for (const auto& after : c.score().dimensions_after()) {
      double before = 0;
      for (const auto& b : c.score().dimensions_before()) {
        if (b.dimension() == after.dimension()) before = b.score();
      }
      moved.push_back(absl::StrFormat("%s %.1f -> %.1f", DimensionName(after.dimension()), before,
                                      after.score()));
    }
    return absl::StrFormat("score %.1f -> %.1f (%s)", c.score().from(), c.score().to(),
                           absl::StrJoin(moved, ", "));
  }
  return "a change of a kind this build does not know";
}

std::string Describe(const guanxi::v1::ChurnWarning& w) {
  std::vector<std::string> reasons;
  for (const auto& r : w.reasons())
    reasons.push_back(absl::StrCat(r.code(), ": ", r.description()));
  return absl::StrCat(
      "churn warning ", Lower(guanxi::v1::WarningNotice_Name(w.notice()), "WARNING_NOTICE_"),
      ", level ", Lower(guanxi::v1::WarningLevel_Name(w.level()), "WARNING_LEVEL_"),
      reasons.empty() ? "" : ": ", absl::StrJoin(reasons, "; "), " (warning ", w.warning_id(), ")");
}

std::string Describe(const DerivedFact& f) {
  if (f.has_change()) return Describe(f.change());
  if (f.has_warning()) return Describe(f.warning());
  return "a fact of a kind this build does not know";
}

Timestamp FactTime(const DerivedFact& f) {
  if (f.has_change()) return f.change().event_time();
  if (f.has_warning()) return f.warning().event_time();
  return Timestamp();
}

// The cause a fact's id names (projections/projection.h):
// "<customer_id>/event:<event_id>/...", ".../time:<seconds>/...",
// ".../model:<seconds>/...". Nullopt for an id that names none: facts written before
// ids named their cause ("<customer_id>/<position>/..."), churn-warning notices.
std::optional<Cause> CauseInId(const DerivedFact& f, std::string_view customer) {
  if (!f.has_change()) return std::nullopt;
  std::string_view id = f.change().change_id();
  if (id.size() <= customer.size() || id.substr(0, customer.size()) != customer ||
      id[customer.size()] != '/') {
    return std::nullopt;
  }
  id.remove_prefix(customer.size() + 1);
  if (id.rfind("event:", 0) == 0) return Cause::kEvent;
  if (id.rfind("time:", 0) == 0) return Cause::kTime;
  if (id.rfind("model:", 0) == 0) return Cause::kModel;
  return std::nullopt;
}

// Where one application's facts stand in their fixed order (projections/projection.h:
// the score move, the stage change, the class changes in the field order of
// guanxi.v1.Classes, then at most one churn-warning notice); -1 for a fact outside it.
int Rank(const DerivedFact& f) {
  if (f.has_warning()) return 1000;
  if (!f.has_change()) return -1;
  const auto& c = f.change();
  if (c.has_score()) return 0;
  if (c.has_stage()) return 1;
  if (c.has_class_change()) {
    const auto* field =
        guanxi::v1::Classes::descriptor()->FindFieldByName(c.class_change().classification());
    return field == nullptr ? -1 : 2 + field->index();
  }
  return -1;
}

// For facts whose id names no cause: of the facts [from, end) at the position of the
// customer's own event that occurred at `occurred`, the first that the event derived;
// those before it are timers that fell due by the event's time and fired just before it
// (the projector advances the partition's clock before it applies an event). A timer's
// facts carry its deadline: one earlier than the event's time tells them apart. A deadline equal to
// the event's time is told by the order of the facts: each application's come in a fixed order, so
// a fact that does not come after the one before it begins the next application's. Residual
// ambiguity: if the event itself derived nothing, or facts whose order shows no break,
// a timer's facts due exactly at the event's time are shown as the event's.
size_t EventFactsFrom(const std::vector<std::pair<uint64_t, DerivedFact>>& facts, size_t from,
                      size_t end, const Timestamp& occurred) {
  size_t first = from;
  while (first < end && Before(FactTime(facts[first].second), occurred)) ++first;
  size_t start = first;
  int previous = -1;
  for (size_t i = first; i < end; ++i) {
    const int rank = Rank(facts[i].second);
    if (rank < 0) continue;
    if (rank <= previous) start = i;
    previous = rank;
  }
  return start;
}

// The heading of a group of facts that time passing or a model derived.
std::string Heading(const Entry& e, const Timestamp& t) {
  if (e.cause == Cause::kModel) {
    return absl::StrCat(Time(t), "  #", e.position,
                        "  a new population model came into force (everyone reclassified)");
  }
  std::string how = "up to the as-of time";
  if (e.at != nullptr) {
    switch (e.at->body_case()) {
      case LogRecord::kTick:
        how = absl::StrCat("a tick to ", Time(e.at->tick().event_time()));
        break;
      case LogRecord::kEvent:
        how = absl::StrCat(
            e.event == nullptr ? "another customer's event at " : "this customer's event at ",
            Time(e.at->event().occurred_at()));
        break;
      default:
        how = "a log record";
        break;
    }
  }
  return absl::StrCat(Time(t), "  #", e.position,
                      "  time passed (the partition's clock moved on: ", how, ")");
}

void PrintState(const guanxi::v1::CustomerState& s, std::ostream& out) {
  std::vector<std::string> dims;
  for (const auto& d : s.dimensions()) {
    dims.push_back(absl::StrFormat("%s %.1f", DimensionName(d.dimension()), d.score()));
  }
  out << "state (its clock at " << Time(s.as_of()) << "):\n"
      << absl::StrFormat("  score %.2f (%s)\n", s.overall_score(), absl::StrJoin(dims, ", "))
      << "  stage " << Stage(s.stage()) << " since " << Time(s.stage_since()) << "\n";
  // Every field of guanxi.v1.Classes, so a class added later is shown too.
  std::vector<std::string> classes;
  const auto* descriptor = guanxi::v1::Classes::descriptor();
  const auto* reflection = guanxi::v1::Classes::GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const auto* field = descriptor->field(i);
    std::string value;
    if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_STRING) {
      value = reflection->GetString(s.classes(), field);
    } else if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_INT32) {
      const int32_t v = reflection->GetInt32(s.classes(), field);
      if (v != 0) value = absl::StrCat(v);
    }
    classes.push_back(absl::StrCat(field->name(), " ", value.empty() ? "-" : value));
  }
  out << "  classes: " << absl::StrJoin(classes, ", ") << "\n"
      << absl::StrFormat("  P(alive) %.3f, expected purchases in 90 days %.2f\n", s.p_alive(),
                         s.expected_purchases_90d());
  const guanxi::v1::ChurnEpisode& episode = s.churn_episode();
  if (episode.warning_id().empty()) {
    out << "  churn warning: none open\n";
  } else {
    out << "  churn warning: "
        << Lower(guanxi::v1::WarningLevel_Name(
                     static_cast<guanxi::v1::WarningLevel>(episode.level())),
                 "WARNING_LEVEL_")
        << " open since " << Time(episode.started_at()) << " (warning " << episode.warning_id()
        << "; its notices above give the reasons)\n";
  }
  out << "  events applied: " << s.events_applied() << ", the first at " << Time(s.first_event_at())
      << ", the last at " << Time(s.last_event_at()) << "\n";
}

// ---- JSON ---------------------------------------------------------------------------

google::protobuf::util::JsonPrintOptions JsonOptions() {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;  // every field, zero or not
  return options;
}

absl::StatusOr<std::string> Json(const google::protobuf::Message& m) {
  std::string json;
  if (auto s = google::protobuf::util::MessageToJsonString(m, &json, JsonOptions()); !s.ok()) {
    return absl::InternalError(absl::StrCat("JSON: ", std::string(s.message())));
  }
  return json;
}

// A JSON string literal, escaped by protobuf's JSON printer.
absl::StatusOr<std::string> JsonString(std::string_view s) {
  google::protobuf::Value value;
  value.set_string_value(std::string(s));
  return Json(value);
}

absl::StatusOr<std::string> EntryJson(const Entry& e) {
  std::string json = absl::StrCat("{\"position\":", e.position);
  if (e.event != nullptr && e.fact == nullptr) {
    ASSIGN_OR_RETURN(std::string event, Json(e.event->event()));
    absl::StrAppend(&json, ",\"event\":", event);
  } else {
    absl::StrAppend(&json, ",\"cause\":\"", CauseName(e.cause), "\"");
    if (e.fact->has_change()) {
      ASSIGN_OR_RETURN(std::string change, Json(e.fact->change()));
      absl::StrAppend(&json, ",\"change\":", change);
    } else if (e.fact->has_warning()) {
      ASSIGN_OR_RETURN(std::string warning, Json(e.fact->warning()));
      absl::StrAppend(&json, ",\"warning\":", warning);
    }
  }
  absl::StrAppend(&json, "}");
  return json;
}

// ---- The trail ----------------------------------------------------------------------

// What the trail shows. `entries` point into `events`, `facts` and `others`: a move
// keeps the vectors' elements where they are, a copy would not, hence move-only.
struct Trail {
  Trail() = default;
  Trail(Trail&&) = default;
  Trail& operator=(Trail&&) = default;
  Trail(const Trail&) = delete;
  Trail& operator=(const Trail&) = delete;

  std::vector<LogRecord> events{};
  std::vector<std::pair<uint64_t, DerivedFact>> facts{};
  std::vector<LogRecord> others{};  // the records at the positions of time and model facts
  std::vector<Entry> entries{};
  std::optional<guanxi::v1::CustomerState> state{};
  uint64_t unprojected_events = 0;  // live: the customer's events not projected yet
};

absl::StatusOr<Trail> ReadTrail(const engine::ProjectionView& view, std::string_view customer) {
  Trail trail;
  RETURN_IF_ERROR(view.ForEachEvent(customer, [&](const LogRecord& r) {
    trail.events.push_back(r);
    return true;
  }));
  ASSIGN_OR_RETURN(trail.unprojected_events, view.UnprojectedEvents(customer));
  RETURN_IF_ERROR(view.ForEachFact(customer, [&](uint64_t position, const DerivedFact& f) {
    trail.facts.emplace_back(position, f);
    return true;
  }));
  guanxi::v1::CustomerState state;
  ASSIGN_OR_RETURN(const bool has_state, view.GetState(customer, &state));
  if (has_state) trail.state = std::move(state);

  // The records at the positions of facts that no event of the customer explains.
  std::vector<uint64_t> other_positions;
  size_t ev = 0;
  for (const auto& [position, fact] : trail.facts) {
    while (ev < trail.events.size() && trail.events[ev].position() < position) ++ev;
    const bool own = ev < trail.events.size() && trail.events[ev].position() == position;
    if (!own && (other_positions.empty() || other_positions.back() != position)) {
      other_positions.push_back(position);
    }
  }
  trail.others.reserve(other_positions.size());  // Entry::at points into it
  for (uint64_t position : other_positions) {
    ASSIGN_OR_RETURN(std::optional<LogRecord> record, view.RecordAt(position));
    if (record) {
      trail.others.push_back(std::move(*record));
    } else {
      trail.others.emplace_back();
      trail.others.back().set_position(position);  // past the log's end: the as-of time
    }
  }

  // Merge by position.
  size_t f = 0, other = 0;
  ev = 0;
  while (ev < trail.events.size() || f < trail.facts.size()) {
    const uint64_t fact_position =
        f < trail.facts.size() ? trail.facts[f].first : std::numeric_limits<uint64_t>::max();
    if (ev < trail.events.size() && trail.events[ev].position() <= fact_position) {
      const LogRecord& event = trail.events[ev++];
      const uint64_t p = event.position();
      size_t end = f;
      while (end < trail.facts.size() && trail.facts[end].first == p) ++end;
      // What derived each fact: what its id names; else (older ids, warning notices) its
      // neighbours' ids (the timers' facts come before the event's), its time and order.
      const size_t by_order = EventFactsFrom(trail.facts, f, end, event.event().occurred_at());
      auto cause_of = [&](size_t i) {
        if (auto named = CauseInId(trail.facts[i].second, customer)) return *named;
        if (Before(FactTime(trail.facts[i].second), event.event().occurred_at())) {
          return Cause::kTime;
        }
        for (size_t j = f; j < end; ++j) {
          if (j != i && CauseInId(trail.facts[j].second, customer) == Cause::kEvent) {
            return j > i ? Cause::kTime : Cause::kEvent;
          }
        }
        return i < by_order ? Cause::kTime : Cause::kEvent;
      };
      // Timers that fell due by the event's time fired first, then the event applied.
      for (; f < end && cause_of(f) != Cause::kEvent; ++f) {
        trail.entries.push_back({.position = p,
                                 .event = &event,
                                 .fact = &trail.facts[f].second,
                                 .cause = cause_of(f),
                                 .at = &event});
      }
      trail.entries.push_back({.position = p, .event = &event});
      for (; f < end; ++f) {
        trail.entries.push_back({.position = p,
                                 .event = &event,
                                 .fact = &trail.facts[f].second,
                                 .cause = cause_of(f),
                                 .at = &event});
      }
      continue;
    }
    while (trail.others[other].position() != fact_position) ++other;
    const LogRecord* at = &trail.others[other];
    const bool beyond = at->body_case() == LogRecord::BODY_NOT_SET;
    const Cause by_record = at->has_model() ? Cause::kModel : Cause::kTime;
    for (; f < trail.facts.size() && trail.facts[f].first == fact_position; ++f) {
      trail.entries.push_back(
          {.position = fact_position,
           .fact = &trail.facts[f].second,
           .cause = CauseInId(trail.facts[f].second, customer).value_or(by_record),
           .at = beyond ? nullptr : at});
    }
  }
  return trail;
}

void PrintText(const Trail& trail, std::string_view customer, const engine::ProjectionView& view,
               std::ostream& out) {
  out << "customer " << customer << ", partition " << view.partition << ": ";
  if (view.as_of) {
    out << "as of " << Time(*view.as_of) << ", recomputed from the log\n";
  } else {
    out << "live projections (" << view.projected_to << " log records applied)\n";
  }
  // The (position, seconds) of the "time passed" or model heading shown last, if any
  // since the last event line: facts under one heading share it.
  bool headed = false;
  std::pair<uint64_t, int64_t> heading{0, 0};
  for (const Entry& e : trail.entries) {
    if (e.fact == nullptr) {
      out << Time(e.event->event().occurred_at()) << "  #" << e.position << "  "
          << Describe(e.event->event()) << "\n";
      headed = false;
      continue;
    }
    if (e.cause != Cause::kEvent) {
      const Timestamp t = FactTime(*e.fact);
      const std::pair<uint64_t, int64_t> key{e.position, t.seconds()};
      if (!headed || heading != key) out << Heading(e, t) << "\n";
      headed = true;
      heading = key;
    }
    out << "    " << Describe(*e.fact) << "\n";
  }
  if (trail.entries.empty()) out << "(no events)\n";
  if (trail.state) {
    PrintState(*trail.state, out);
  } else {
    out << "no state: the customer had no event"
        << (view.as_of ? absl::StrCat(" at or before ", Time(*view.as_of)) : std::string()) << "\n";
  }
}

int RunTrail(const Args& args, Io& io) {
  auto config = engine::LoadEngineConfig(args.Get("config"));
  if (!config.ok()) return ReportUsageError(io, config.status());
  std::optional<Timestamp> as_of;
  if (args.Has("as-of")) {
    auto parsed = ParseTimeFlag("as-of", args.Get("as-of"), DateMeans::kEndOfDay);
    if (!parsed.ok()) return ReportUsageError(io, parsed.status());
    as_of = *parsed;
  }
  const std::string data = args.Get("data");
  const std::string& customer = args.positional()[0];
  const bool json = args.IsSet("json");
  auto partitions = engine::ListPartitions(data);
  if (!partitions.ok()) return ReportFailure(io, partitions.status());

  ScratchDir scratch("guanxi_trail");
  if (scratch.path().empty()) {
    return ReportFailure(io, absl::InternalError("cannot create a scratch directory"));
  }
  auto holding = engine::PartitionsOfCustomer(data, *partitions, customer, scratch.path());
  if (!holding.ok()) return ReportFailure(io, holding.status());
  if (holding->empty()) {
    return ReportFailure(io, absl::NotFoundError(absl::StrCat(
                                 "customer ", customer, " is not in any partition under ", data)));
  }
  if (holding->size() > 1) {
    return ReportFailure(
        io, absl::FailedPreconditionError(absl::StrCat(
                "customer ", customer, " has events in partitions ", absl::StrJoin(*holding, ", "),
                " (one customer's events must share a partition)")));
  }
  const int32_t partition = holding->front();

  const std::atomic<bool> stop{false};
  Progress progress(io.err, "audit trail", isatty(STDERR_FILENO) != 0);
  auto view =
      engine::OpenProjectionView({.data_dir = data,
                                  .partition = partition,
                                  .scratch_dir = absl::StrCat(scratch.path(), "/view"),
                                  .config = *config,
                                  .as_of = as_of},
                                 stop, [&](uint64_t applied, uint64_t total) {
                                   progress.Update(static_cast<int64_t>(applied),
                                                   static_cast<int64_t>(total),
                                                   static_cast<int64_t>(applied), "records");
                                 });
  progress.Finish();
  if (!view.ok()) return ReportFailure(io, view.status());
  auto trail = ReadTrail(*view, customer);
  if (!trail.ok()) {
    return ReportFailure(
        io, absl::Status(trail.status().code(),
                         absl::StrCat("partition ", partition, ": ", trail.status().message())));
  }
  if (trail->unprojected_events > 0) {
    io.err << "guanxi audit trail: " << trail->unprojected_events << " later event"
           << (trail->unprojected_events == 1 ? " is" : "s are")
           << " in the log but not projected yet; not shown\n";
  }
  if (!json) {
    PrintText(*trail, customer, *view, io.out);
    return kExitOk;
  }
  auto id = JsonString(customer);
  if (!id.ok()) return ReportFailure(io, id.status());
  std::string out = absl::StrCat("{\"customerId\":", *id, ",\"partition\":", partition);
  if (as_of) {
    auto t = Json(*as_of);
    if (!t.ok()) return ReportFailure(io, t.status());
    absl::StrAppend(&out, ",\"asOf\":", *t);
  }
  absl::StrAppend(&out, ",\"entries\":[");
  for (size_t i = 0; i < trail->entries.size(); ++i) {
    auto entry = EntryJson(trail->entries[i]);
    if (!entry.ok()) return ReportFailure(io, entry.status());
    absl::StrAppend(&out, i == 0 ? "" : ",", *entry);
  }
  absl::StrAppend(&out, "],\"state\":");
  if (trail->state) {
    auto state = Json(*trail->state);
    if (!state.ok()) return ReportFailure(io, state.status());
    absl::StrAppend(&out, *state);
  } else {
    absl::StrAppend(&out, "null");
  }
  io.out << out << "}\n";
  return kExitOk;
}

}  // namespace

Command AuditTrailCommand() {
  return Command{
      .name = "trail",
      .summary = "Everything that happened to one customer, and what it changed.",
      .description =
          "Finds the customer's partition: the one whose log's per-customer stream index\n"
          "holds CUSTOMER (Kafka keys events by customer_id, so all of a customer's events\n"
          "are in one partition). Then lists, in log-position order, every event of the\n"
          "customer and, indented under it, every fact its application derived: score\n"
          "moves with the dimensions that moved (before -> after), stage transitions with\n"
          "their causes, class changes with their reasons, churn-warning notices. Facts\n"
          "that time alone derived (an inactivity timer fired when the partition's clock\n"
          "passed its deadline: at a tick, at another customer's event, just before the\n"
          "customer's own next event, or at --as-of) appear as \"time passed\" at the\n"
          "position where they were derived; reclassifications under a new population\n"
          "model as \"a new population model came into force\". What derived a fact is\n"
          "what its change_id names (event:, time:, model:); for a warning notice or an\n"
          "older id it is inferred from its neighbours' ids, its position, time and order.\n"
          "It ends with the customer's state: score and dimensions, stage and since when,\n"
          "every class, P(alive), the purchases expected in the next 90 days and the open\n"
          "churn-warning episode.\n"
          "\n"
          "Without --as-of: the live projections, read from the store opened as a RocksDB\n"
          "secondary (safe while `guanxi run` holds the data directory); events the engine\n"
          "has not projected yet are left out and counted on stderr. With --as-of TIME (a\n"
          "date means the end of that day, UTC): the partition is recomputed from its log\n"
          "up to TIME in a temporary store, events that occurred later left out, and the\n"
          "trail and state are read from that; use the engine's --config.\n"
          "\n"
          "--json prints one object (messages in protobuf's JSON mapping):\n"
          "  {\"customerId\": string, \"partition\": number, \"asOf\"?: RFC 3339 string,\n"
          "   \"entries\": [{\"position\": number, \"event\": guanxi.v1.Event}\n"
          "              | {\"position\": number, \"cause\": \"event\"|\"time\"|\"model\",\n"
          "                 \"change\"?: guanxi.v1.RelationshipChange,\n"
          "                 \"warning\"?: guanxi.v1.ChurnWarning}],\n"
          "   \"state\": guanxi.v1.CustomerState | null}\n"
          "\"state\" is null when the customer had no event at or before --as-of. Exit 1\n"
          "with \"customer X is not in any partition under DIR\" for an unknown customer.\n"
          "See docs/operations.md, \"Auditing a customer\".",
      .positional_usage = "CUSTOMER",
      .min_positional = 1,
      .max_positional = 1,
      .flags =
          {{.name = "data", .value_name = "DIR", .help = "the data directory", .required = true},
           {.name = "as-of",
            .value_name = "TIME",
            .help = "event time: RFC 3339 or a date (its end); default: live"},
           {.name = "config",
            .value_name = "FILE",
            .help = "engine configuration (protobuf text format); default: built-in"},
           {.name = "json", .help = "print the trail as JSON"}},
      .run = RunTrail,
  };
}

}  // namespace guanxi::app
