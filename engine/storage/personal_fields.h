// The personal fields of a message: those marked [(guanxi.v1.personal) = true]
// (proto/guanxi/v1/options.proto), found by protobuf reflection, so the protos are the
// one list of what is personal (docs/events.md, "Personal data").
//
//   guanxi::v1::Event personal;
//   if (SplitPersonal(event, personal)) { ... seal personal ... }  // event: cleared
//   event.MergeFrom(personal);                                     // restored
//
// Pure functions; thread-safe on distinct messages.
#pragma once

#include "google/protobuf/message.h"
#include "guanxi/v1/events.pb.h"

namespace guanxi::engine {

// Moves the personal fields of `event` into `personal` (an Event holding those fields
// alone, at the same places: its payload case is the event's), leaving them cleared in
// `event`. False, and `personal` empty, when the event has none set. `event.MergeFrom(
// personal)` restores the event exactly (a present-but-empty optional field included).
// Repeated message fields are not looked into (an Event has none).
bool SplitPersonal(guanxi::v1::Event& event, guanxi::v1::Event& personal);

// Whether `message` has a personal field set (in singular nested messages too). Reads
// only; no copy. Looks only where a personal field can be: a table per message type,
// made on first use (thread-safe), instead of listing every field set.
bool HasPersonal(const google::protobuf::Message& message);

// Clears every personal field of `message`, in nested and repeated messages too (a
// CustomerState's name and its contacts' names). Whether anything was cleared.
bool ClearPersonal(google::protobuf::Message& message);

}  // namespace guanxi::engine
