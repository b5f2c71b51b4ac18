#include "engine/query/trail.h"

#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/query/json.h"

namespace guanxi::engine {
namespace {

using google::protobuf::Timestamp;
using guanxi::v1::DerivedFact;
using guanxi::v1::LogRecord;
using guanxi::v1::TrailEntry;
using Cause = guanxi::v1::TrailEntry::Cause;

bool Before(const Timestamp& a, const Timestamp& b) {
  return a.seconds() < b.seconds() || (a.seconds() == b.seconds() && a.nanos() < b.nanos());
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
  if (id.rfind("event:", 0) == 0) return TrailEntry::CAUSE_EVENT;
  if (id.rfind("time:", 0) == 0) return TrailEntry::CAUSE_TIME;
  if (id.rfind("model:", 0) == 0) return TrailEntry::CAUSE_MODEL;
  return std::nullopt;
}

// Where one application's facts stand in their fixed order (projections/projection.h:
// the score move, the class changes in the field order of guanxi.v1.Classes, the stage
// change, then at most one churn-warning notice); -1 for a fact outside it.
int Rank(const DerivedFact& f) {
  if (f.has_warning()) return 1001;
  if (!f.has_change()) return -1;
  const auto& c = f.change();
  if (c.has_score()) return 0;
  if (c.has_stage()) return 1000;
  if (c.has_class_change()) {
    const auto* field =
        guanxi::v1::Classes::descriptor()->FindFieldByName(c.class_change().classification());
    return field == nullptr ? -1 : 1 + field->index();
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

}  // namespace

Timestamp FactTime(const DerivedFact& f) {
  if (f.has_change()) return f.change().event_time();
  if (f.has_warning()) return f.warning().event_time();
  return Timestamp();
}

absl::StatusOr<Trail> ReadTrail(const ProjectionView& view, std::string_view customer,
                                const TrailPage& page) {
  Trail trail;
  trail.customer_id = std::string(customer);
  trail.partition = view.partition;
  trail.as_of = view.as_of;
  trail.projected_to = view.projected_to;
  // Read from `after` itself, to see that it is one of the trail's positions. Every
  // event and every fact is at least one entry, so nothing at or past `horizon` can be
  // on the page: the position of the event after `limit` events, or of the first fact
  // of a position after `limit` facts.
  const uint64_t from = page.after.value_or(0);
  bool after_seen = !page.after;
  uint64_t horizon = std::numeric_limits<uint64_t>::max();
  RETURN_IF_ERROR(view.ForEachEvent(
      customer,
      [&](const LogRecord& r) {
        if (page.after && r.position() == *page.after) {
          after_seen = true;
          return true;
        }
        if (page.limit > 0 && trail.events.size() == page.limit) {
          horizon = r.position();
          return false;
        }
        trail.events.push_back(r);
        return true;
      },
      from));
  RETURN_IF_ERROR(view.ForEachFact(
      customer,
      [&](uint64_t position, const DerivedFact& f) {
        if (page.after && position == *page.after) {
          after_seen = true;
          return true;
        }
        if (position >= horizon) return false;
        if (page.limit > 0 && trail.facts.size() >= page.limit &&
            position != trail.facts.back().first) {
          horizon = position;
          return false;
        }
        trail.facts.emplace_back(position, f);
        return true;
      },
      from));
  if (!after_seen) {
    return absl::InvalidArgumentError(absl::StrCat(
        "position ", *page.after, " holds nothing of customer ",
        absl::string_view(customer.data(), customer.size()), "'s trail"));
  }
  while (!trail.events.empty() && trail.events.back().position() >= horizon) {
    trail.events.pop_back();
  }
  ASSIGN_OR_RETURN(trail.unprojected_events, view.UnprojectedEvents(customer));
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
      // neighbours' ids (the timers' facts come before the event's; a notice comes last
      // in its application, right after the facts it derived), its time and order.
      const size_t by_order = EventFactsFrom(trail.facts, f, end, event.event().occurred_at());
      const size_t begin = f;
      auto cause_of = [&](size_t i) {
        if (auto named = CauseInId(trail.facts[i].second, customer)) return *named;
        if (Before(FactTime(trail.facts[i].second), event.event().occurred_at())) {
          return TrailEntry::CAUSE_TIME;
        }
        if (trail.facts[i].second.has_warning() && i > begin) {
          if (auto before = CauseInId(trail.facts[i - 1].second, customer)) return *before;
        }
        for (size_t j = f; j < end; ++j) {
          if (j != i && CauseInId(trail.facts[j].second, customer) == TrailEntry::CAUSE_EVENT) {
            return j > i ? TrailEntry::CAUSE_TIME : TrailEntry::CAUSE_EVENT;
          }
        }
        return i < by_order ? TrailEntry::CAUSE_TIME : TrailEntry::CAUSE_EVENT;
      };
      // Timers that fell due by the event's time fired first, then the event applied.
      for (; f < end && cause_of(f) != TrailEntry::CAUSE_EVENT; ++f) {
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
    const Cause by_record = at->has_model() ? TrailEntry::CAUSE_MODEL : TrailEntry::CAUSE_TIME;
    for (; f < trail.facts.size() && trail.facts[f].first == fact_position; ++f) {
      trail.entries.push_back(
          {.position = fact_position,
           .fact = &trail.facts[f].second,
           .cause = CauseInId(trail.facts[f].second, customer).value_or(by_record),
           .at = beyond ? nullptr : at});
    }
  }
  // The entries read may still be more than a page: keep as many whole positions as fit.
  auto& entries = trail.entries;
  size_t end = 0;
  while (end < entries.size()) {
    size_t next = end;  // past the entries at entries[end].position
    while (next < entries.size() && entries[next].position == entries[end].position) ++next;
    if (page.limit > 0 && end > 0 && next > page.limit) break;
    end = next;
  }
  if (end < entries.size() || (horizon != std::numeric_limits<uint64_t>::max() && end > 0)) {
    trail.next_after = entries[end - 1].position;
  }
  entries.erase(entries.begin() + static_cast<std::ptrdiff_t>(end), entries.end());
  return trail;
}

guanxi::v1::Trail TrailMessage(const Trail& trail) {
  guanxi::v1::Trail message;
  message.set_customer_id(trail.customer_id);
  message.set_partition(trail.partition);
  if (trail.as_of) *message.mutable_as_of() = *trail.as_of;
  message.set_projected_to(trail.projected_to);
  message.set_unprojected_events(trail.unprojected_events);
  for (const Trail::Entry& e : trail.entries) {
    TrailEntry& entry = *message.add_entries();
    entry.set_position(e.position);
    if (e.fact == nullptr) {
      *entry.mutable_event() = e.event->event();
      if (PersonalDataErased(*e.event)) entry.set_personal_data_erased(true);
      continue;
    }
    entry.set_cause(e.cause);
    if (e.fact->has_change()) *entry.mutable_change() = e.fact->change();
    if (e.fact->has_warning()) *entry.mutable_warning() = e.fact->warning();
  }
  if (trail.state) *message.mutable_state() = *trail.state;
  if (trail.next_after) message.set_next_page_token(absl::StrCat(*trail.next_after));
  return message;
}

absl::StatusOr<std::string> TrailJson(const Trail& trail) {
  return MessageJson(TrailMessage(trail));
}

}  // namespace guanxi::engine
