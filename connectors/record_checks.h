// Internal to the connectors: the checks every connector applies to each input record,
// whatever its format, so that every source judges a row the same way. A parser checks
// the record's text as soon as it has split it into fields, and hands the events it made
// of the record to AcceptRecord, which accepts them all or rejects the record whole:
//
//   if (auto problem = FieldsProblem(columns, fields)) {
//     sink.Reject(line, *std::move(problem));
//     return;
//   }
//   ... map the fields to events ...
//   AcceptRecord(line, std::move(events), sink);
//
// Pure and thread-safe (the sink is the caller's).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/connector.h"
#include "guanxi/v1/events.pb.h"

namespace guanxi::connectors {

// What is wrong with one field's text, or nullopt: it must be UTF-8 (no overlong form,
// no surrogate, nothing above U+10FFFF, no sequence cut short) without a NUL byte. The
// problem names the first bad byte, counted from 1 within `text`: "invalid UTF-8 at byte
// 3 (0xff)", "a NUL byte at byte 17". Nothing is ever dropped or replaced: such a field
// rejects its row.
std::optional<std::string> TextProblem(std::string_view text);

// TextProblem of each field, the first bad one as "<name>: <problem>"; `names` and
// `fields` are parallel (names[i] names fields[i]; extra fields go unnamed as "field N").
std::optional<std::string> FieldsProblem(const std::vector<std::string>& names,
                                         const std::vector<std::string>& fields);

// Why `code` is not an ISO 4217-shaped currency code (three capital letters), or nullopt.
std::optional<std::string> CurrencyCodeProblem(std::string_view code);

// Accepts every event made of the record at `line`, or rejects the record whole (no event
// of it accepted) with the reason of the first event that is one the log would refuse
// (engine::ValidateEvent), the engine would dead-letter as dated more than
// kafka.max_future_seconds (its default, 30 days) after now (a typo'd year;
// engine::CheckNotFromTheFuture, against this machine's clock), carries Money whose non-empty currency is not ISO 4217-shaped
// ("order.amount.currency: ..."), or the sink's destination cannot take
// (EventSink::Refusal: larger than its message size limit, say).
void AcceptRecord(int64_t line, std::vector<guanxi::v1::Event> events, EventSink& sink);

}  // namespace guanxi::connectors
