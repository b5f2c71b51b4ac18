// What a decline does to each kind of event on the simulator: the table the weights of
// decline_evidence were set from (docs/scoring.md, "How the weight of evidence was
// set"). `churn_quality --rates[=CUT]` prints it.
//
// For every persona (prospects left out) and phase, the customer-days spent in it and
// the events of each kind in it: "normal" is a non-churner's whole history and a
// churner's before its decline; "early" the decline while its progress p is below CUT
// (default 0.5); "late" the rest of it up to the churn date (events after it are left
// out). Each row is a kind of event (a call, a call in a sentiment bin of 0.2, an
// unresolved call, a complaint of a severity, a competitor signal in a lean bin, a
// payment in a lateness bin of 5 days, an assessment in a bin of 10 of its mean, ...)
// with its rate per customer-day in normal
// times and early in a decline, the count early, and log(rate in phase / normal rate)
// for the early and the late phase: the log-likelihood ratio of such an event, the
// figure decline_evidence adds for it (before what the rates take away between events).
// Rates per customer-day, not per customer's own rate: within a persona the customers'
// own rates differ by a log-normal spread of purchase rates only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "connectors/simulator.h"
#include "guanxi/v1/events.pb.h"

namespace guanxi::bench {

// Prints the table to stdout. `events` in any order; `truth` from the same simulation,
// indexed as `customer_of` maps each event's customer id. `start` and `days` as
// simulated.
void PrintEvidenceRates(const std::vector<guanxi::v1::Event>& events,
                        const std::vector<connectors::GroundTruth>& truth,
                        const std::vector<size_t>& customer_of, int64_t start, int32_t days,
                        double cut);

}  // namespace guanxi::bench
