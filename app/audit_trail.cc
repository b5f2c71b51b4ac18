// guanxi audit trail: everything that happened to one customer, event by event, with the
// facts each application derived, and the customer's state at the end; live, or as of an
// event time recomputed from the log. The trail is read by engine/query/trail.h (as the
// HTTP API reads it); this is the command: its flags, finding the customer's partition,
// and the text for people.
#include <unistd.h>

#include <atomic>
#include <cmath>
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
#include "common/strings.h"
#include "engine/config/config.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/personal_fields.h"
#include "engine/query/projection_view.h"
#include "engine/query/trail.h"
#include "google/protobuf/util/time_util.h"
#include "guanxi/v1/projection.pb.h"
#include "guanxi/v1/state.pb.h"
#include "guanxi/v1/warning.pb.h"

namespace guanxi::app {
namespace {

using engine::FactTime;
using engine::Trail;
using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;
using guanxi::v1::DerivedFact;
using guanxi::v1::Event;
using guanxi::v1::LogRecord;
using guanxi::v1::TrailEntry;

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
    case Event::kErasure: {
      const auto& x = e.erasure();
      kind = "personal data erased";
      if (!x.reason().empty()) add(absl::StrCat("reason ", Quoted(x.reason())));
      if (!x.requested_by().empty()) add(absl::StrCat("requested by ", x.requested_by()));
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

// The heading of a group of facts that time passing or a model derived.
std::string Heading(const Trail::Entry& e, const Timestamp& t) {
  if (e.cause == TrailEntry::CAUSE_MODEL) {
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
                         s.expected_purchases_90d())
      << (s.has_churn_risk()
              ? absl::StrFormat("  churn risk %.3f (no purchase and no interaction in the "
                                "horizon)\n",
                                s.churn_risk())
              : std::string("  churn risk: not known yet (no churn risk model)\n"));
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

// Entries a page of the text trail holds: what is in memory at once.
constexpr size_t kTextPageEntries = 1000;

// The trail as text, a page at a time (ReadTrail reads only the page: a customer with a
// million events is printed in bounded memory): Start with the first page, Entries with
// each, End with the last.
class TextTrailPrinter {
 public:
  explicit TextTrailPrinter(std::ostream& out) : out_(out) {}
  void Start(const Trail& trail);
  void Entries(const Trail& trail);
  void End(const Trail& trail);

 private:
  std::ostream& out_;
  bool any_entry_ = false;
  // The (position, seconds) of the "time passed" or model heading shown last, if any
  // since the last event line: facts under one heading share it.
  bool headed_ = false;
  std::pair<uint64_t, int64_t> heading_{0, 0};
  // Events of the customer's shown so far whose personal fields are readable in the
  // log: at an erasure, those can only be records written before sealing existed.
  int64_t clear_personal_ = 0;
};

void TextTrailPrinter::Start(const Trail& trail) {
  out_ << "customer " << trail.customer_id << ", partition " << trail.partition << ": ";
  if (trail.as_of) {
    out_ << "as of " << Time(*trail.as_of) << ", recomputed from the log\n";
  } else {
    out_ << "live projections (" << trail.projected_to << " log records applied)\n";
  }
}

void TextTrailPrinter::Entries(const Trail& trail) {
  any_entry_ = any_entry_ || !trail.entries.empty();
  for (const Trail::Entry& e : trail.entries) {
    if (e.fact == nullptr) {
      const Event& event = e.event->event();
      out_ << Time(event.occurred_at()) << "  #" << e.position << "  " << Describe(event)
           << (engine::PersonalDataErased(*e.event) ? " (personal data erased)" : "");
      if (event.has_erasure() && clear_personal_ > 0) {
        out_ << "; " << clear_personal_
             << " earlier events predate sealing: their personal fields stay readable in the "
                "log until the partition is rebuilt (docs/operations.md)";
      }
      out_ << "\n";
      if (engine::HasPersonal(event)) ++clear_personal_;
      headed_ = false;
      continue;
    }
    if (e.cause != TrailEntry::CAUSE_EVENT) {
      const Timestamp t = FactTime(*e.fact);
      const std::pair<uint64_t, int64_t> key{e.position, t.seconds()};
      if (!headed_ || heading_ != key) out_ << Heading(e, t) << "\n";
      headed_ = true;
      heading_ = key;
    }
    out_ << "    " << Describe(*e.fact) << "\n";
  }
}

void TextTrailPrinter::End(const Trail& trail) {
  if (!any_entry_) out_ << "(no events)\n";
  if (trail.state) {
    PrintState(*trail.state, out_);
  } else {
    out_ << "no state: the customer had no event"
         << (trail.as_of ? absl::StrCat(" at or before ", Time(*trail.as_of)) : std::string())
         << "\n";
  }
}

int RunTrail(const Args& args, Io& io) {
  auto config = engine::LoadEngineConfig(args.Get("config"));
  if (!config.ok()) return ReportUsageError(io, config.status());
  std::optional<Timestamp> as_of;
  if (args.Has("as-of")) {
    auto parsed = ParseTimeFlag("as-of", args.Get("as-of"));
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
  auto view = engine::OpenProjectionView(
      {.data_dir = data,
       .partition = partition,
       .scratch_dir = absl::StrCat(scratch.path(), "/view"),
       .config = *config,
       .as_of = as_of},
      stop, [&](uint64_t applied, uint64_t total) {
        progress.Update(static_cast<int64_t>(applied), static_cast<int64_t>(total),
                        static_cast<int64_t>(applied), "records");
      });
  progress.Finish();
  if (!view.ok()) return ReportFailure(io, view.status());
  // Text is printed a page at a time; JSON is one Trail message, read whole.
  TextTrailPrinter printer(io.out);
  engine::TrailPage page{.after = std::nullopt, .limit = json ? 0 : kTextPageEntries};
  for (bool first = true;; first = false) {
    auto trail = engine::ReadTrail(*view, customer, page);
    if (!trail.ok()) {
      return ReportFailure(io, absl::Status(trail.status().code(),
                                            absl::StrCat("partition ", partition, ": ",
                                                         trail.status().message())));
    }
    if (first && trail->unprojected_events > 0) {
      io.err << "guanxi audit trail: " << trail->unprojected_events << " later event"
             << (trail->unprojected_events == 1 ? " is" : "s are")
             << " in the log but not projected yet; not shown\n";
    }
    if (json) {
      auto out = engine::TrailJson(*trail);
      if (!out.ok()) return ReportFailure(io, out.status());
      io.out << *out << "\n";
      return kExitOk;
    }
    if (first) printer.Start(*trail);
    printer.Entries(*trail);
    if (!trail->next_after) {
      printer.End(*trail);
      return kExitOk;
    }
    page.after = trail->next_after;
  }
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
          "--json prints one guanxi.v1.Trail (proto/guanxi/v1/trail.proto) in protobuf's\n"
          "JSON mapping, as GET /v1/customers/{id}/trail of `guanxi run --http` answers:\n"
          "  {\"customerId\": string, \"partition\": number, \"asOf\"?: RFC 3339 string,\n"
          "   \"projectedTo\": string, \"unprojectedEvents\": string,\n"
          "   \"entries\": [{\"position\": string, \"event\": guanxi.v1.Event}\n"
          "              | {\"position\": string,\n"
          "                 \"cause\": \"CAUSE_EVENT\"|\"CAUSE_TIME\"|\"CAUSE_MODEL\",\n"
          "                 \"change\"?: guanxi.v1.RelationshipChange,\n"
          "                 \"warning\"?: guanxi.v1.ChurnWarning}],\n"
          "   \"state\"?: guanxi.v1.CustomerState}\n"
          "\"state\" is left out when the customer had no event at or before --as-of. Exit 1\n"
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
