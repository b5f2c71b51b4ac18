// The classification of a customer (METHOD.md section 2; docs/scoring.md, "Classes"):
// every field of guanxi.v1.Classes, the relationship kind of each contact, and the
// BG/NBD figures p_alive and expected_purchases_90d, as a pure function of the
// customer's projection state, the configuration and the partition's latest
// population model (projections/population.h).
//
//   // after ApplyEvent / AdvanceTime of the event or tick at `position`, or for every
//   // customer after appending a new ModelRecord at `position`:
//   for (auto& change : Classify(config.classification(), latest_model_or_null, state,
//                                now, position)) {
//     outbox.Add(change);
//   }
//
// Pure: no I/O, no clock, no threads, no randomness, no global mutable state.
// Deterministic: the same config, model, state bytes, `now` and `position` give the same
// state bytes and the same facts. Cheap when nothing changes: no heap allocation then
// (reasons are only formatted for classes that change).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "google/protobuf/timestamp.pb.h"
#include "guanxi/v1/config.pb.h"
#include "guanxi/v1/events.pb.h"
#include "guanxi/v1/models.pb.h"
#include "guanxi/v1/state.pb.h"

namespace guanxi::projections {

// Brings state.classes, every contact's relationship_kind, state.p_alive and
// state.expected_purchases_90d up to date, evaluated at the later of `now` and
// state.as_of() (a late event does not move the clock back). `model` is the
// partition's latest ModelRecord, or nullptr while none has been fitted.
//
// Population-relative classes (abc, rfm_*, transaction_quadrant, value_tier,
// potential_tier, development_matrix) are empty while the model lacks what they need
// (no model, or a model fitted over too small a population), and the RFM scores, RFM
// segment and transaction quadrant are empty for a customer without a purchase. The
// others (loyalty_tier, intent_class, relationship_kind) need no model. p_alive and
// expected_purchases_90d are 0 without a BG/NBD model or without a purchase.
//
// Returns one derived fact per Classes field whose value changed, in the field order of
// guanxi.v1.Classes: change_id "<customer_id>/<position>/class/<field name>",
// event_time `now`, class_change {classification: the field name, from, to (RFM scores
// as "1".."5", empty for unset), reason: the figures and the thresholds that decided
// `to`}. Contact kinds and the BG/NBD figures are updated without facts. A state that
// has seen no event is left unchanged.
std::vector<guanxi::v1::RelationshipChange> Classify(const guanxi::v1::ClassificationConfig& config,
                                                     const guanxi::v1::ModelRecord* model,
                                                     guanxi::v1::CustomerState& state,
                                                     const google::protobuf::Timestamp& now,
                                                     uint64_t position);

// The classification's bookkeeping of one event (CustomerState fields 44..59: profile
// potential and strategic flag, complaint and renewal counts, the latest conversion,
// inbound call and opportunity in progress). Called by the relationship projection's
// ApplyEvent for every event; late events never move a "latest" time back.
void BookkeepClassification(guanxi::v1::CustomerState& state, const guanxi::v1::Event& event);

// "key" for a decision maker or an executive, "general" otherwise.
std::string_view ContactRelationshipKind(const guanxi::v1::Contact& contact);

}  // namespace guanxi::projections
