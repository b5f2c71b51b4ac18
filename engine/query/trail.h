// A customer's audit trail, read from a partition's projections (a ProjectionView: live,
// or recomputed as of a time): every event of the customer in log-position order and,
// with each, the facts its application derived (score moves with the dimensions that
// moved, stage transitions and their causes, class changes and the thresholds crossed,
// churn-warning notices); the facts that time passing (an inactivity timer firing) or a
// new population model derived, where they were derived; and the customer's state at
// the end. `guanxi audit trail` prints it as text or JSON; GET /v1/customers/{id}/trail
// answers with its JSON. Both JSON forms are one guanxi.v1.Trail (proto/guanxi/v1/
// trail.proto).
//
//   ASSIGN_OR_RETURN(ProjectionView view, LiveProjectionView(partition));
//   ASSIGN_OR_RETURN(Trail trail, ReadTrail(view, "acme"));
//   ASSIGN_OR_RETURN(std::string json, TrailJson(trail));
//
// What derived a fact: what its change_id names ("<customer>/event:...", ".../time:...",
// ".../model:..."; projections/projection.h). Churn-warning notices (whose warning_id
// names the cause of the episode's start) and facts stored before ids named their cause
// are placed by inference: at a position that holds no event of the customer's, time (or
// the model record there); at the customer's own event, a fact dated before the event is
// a timer's; one followed by a fact whose id names the event is a timer's (each
// application's facts come together, the timers' before the event's), one preceded by
// such a fact the event's; failing that, the fixed order of each application's facts
// (score, stage, classes in field order, then the warning notice) shows where one
// application's end. If the event itself derived nothing, or the order shows no break, a
// timer's facts due exactly at the event's time are shown as the event's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/query/projection_view.h"
#include "google/protobuf/timestamp.pb.h"
#include "guanxi/v1/log.pb.h"
#include "guanxi/v1/projection.pb.h"
#include "guanxi/v1/state.pb.h"
#include "guanxi/v1/trail.pb.h"

namespace guanxi::engine {

// What a trail shows. Move-only: `entries` point into the trail's own vectors (a move
// keeps their elements where they are, a copy would not). Not thread-safe.
struct Trail {
  // One line of the trail: an event of the customer, or one derived fact.
  struct Entry {
    uint64_t position = 0;
    // The customer's event at `position`: the entry itself when `fact` is null; for a
    // fact derived at the customer's own event, that event.
    const guanxi::v1::LogRecord* event = nullptr;
    const guanxi::v1::DerivedFact* fact = nullptr;
    // A fact's cause (CAUSE_UNSPECIFIED for the event entry).
    guanxi::v1::TrailEntry::Cause cause = guanxi::v1::TrailEntry::CAUSE_UNSPECIFIED;
    // CAUSE_TIME / CAUSE_MODEL: the record at `position` (null at projected_to: the as-of
    // time itself).
    const guanxi::v1::LogRecord* at = nullptr;
  };

  Trail() = default;
  Trail(Trail&&) = default;
  Trail& operator=(Trail&&) = default;
  Trail(const Trail&) = delete;
  Trail& operator=(const Trail&) = delete;

  std::string customer_id{};
  int32_t partition = 0;
  std::optional<google::protobuf::Timestamp> as_of{};  // the view's
  uint64_t projected_to = 0;                           // the view's
  uint64_t unprojected_events = 0;  // live: the customer's events not projected yet
  std::vector<Entry> entries{};     // in log-position order
  std::optional<guanxi::v1::CustomerState> state{};
  // Set when the page's limit cut the entries (ReadTrail): the last log position kept.
  std::optional<uint64_t> next_after{};

  // What the entries point into.
  std::vector<guanxi::v1::LogRecord> events{};
  std::vector<std::pair<uint64_t, guanxi::v1::DerivedFact>> facts{};
  std::vector<guanxi::v1::LogRecord> others{};  // the records at time and model facts
};

// One page of a trail's entries: those after log position `after` (nullopt: from the
// start), whole positions at a time (an event and what was derived there are never
// split), as many positions as fit in `limit` entries but at least one (0: no limit).
struct TrailPage {
  std::optional<uint64_t> after;
  size_t limit = 0;
};

// One page of the customer's trail as `view` shows it (the whole trail by default), with
// next_after set when entries after it were cut; the state and the other fields are the
// whole trail's, on every page. Only the page is read: the customer's events and facts
// from `after` on, stopping as soon as the page is full, so a page of a customer with a
// million events costs what a page of one with a hundred does. A customer the view's
// partition does not hold has an empty trail and no state. InvalidArgument when `after`
// is not one of the positions of the customer's trail (so it was never a page's end);
// DataLoss if the store cannot be decoded.
absl::StatusOr<Trail> ReadTrail(const ProjectionView& view, std::string_view customer_id,
                                const TrailPage& page = {});

// The trail as a guanxi.v1.Trail, and that in protobuf's JSON mapping (engine/query/
// json.h), one line without a newline.
guanxi::v1::Trail TrailMessage(const Trail& trail);
absl::StatusOr<std::string> TrailJson(const Trail& trail);

// The event time a fact carries (a change's or a warning's event_time).
google::protobuf::Timestamp FactTime(const guanxi::v1::DerivedFact& fact);

}  // namespace guanxi::engine
