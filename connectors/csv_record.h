// Internal to the connectors: what the header-checked CSV sources (callcenter-*, erp-*)
// share. A source is its header and a function mapping one row to its events; this
// file does the rest (header check, quoting, field count, field parsing with reasons
// that name the column, the log's own checks on the events made).
//
//   return NewCsvParser("erp", {"payment_id", "customer_id", ...},
//                       [](CsvRow& row, std::vector<v1::Event>& events) { ... });
//
// Pure; not thread-safe (one parser per input), like every LineParser.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "connectors/connector.h"
#include "google/protobuf/timestamp.pb.h"
#include "guanxi/v1/events.pb.h"

namespace guanxi::connectors {

// One data row, read by column name. Each getter parses one field; the first field
// that fails is recorded as "<column>: <problem>" (later failures are ignored) and the
// getter returns a default, so a mapper reads every field and the parser rejects the
// row once, afterwards, when !ok().
class CsvRow {
 public:
  // `columns` must outlive the row; fields.size() == columns.size().
  CsvRow(const std::vector<std::string>& columns, std::vector<std::string> fields)
      : columns_(columns), fields_(std::move(fields)) {}

  // The field as written (may be empty).
  const std::string& Text(std::string_view column) const;
  // Non-empty text: an identifier.
  const std::string& Id(std::string_view column);
  // "YYYY-MM-DD" (midnight), "YYYY-MM-DD HH:MM[:SS]" (both UTC) or RFC 3339
  // ("2026-03-03T14:05:10Z", "...+08:00").
  google::protobuf::Timestamp Time(std::string_view column);
  // As Time; an empty field is nullopt.
  std::optional<google::protobuf::Timestamp> OptionalTime(std::string_view column);
  // true|false|yes|no|1|0; an empty field is `if_empty`, or an error when not given.
  bool Bool(std::string_view column, std::optional<bool> if_empty = std::nullopt);
  // A whole number >= 0; an empty field is 0.
  int64_t Count(std::string_view column);
  // A decimal number in [min, max]; an empty field is nullopt.
  std::optional<double> Number(std::string_view column, double min, double max);
  // A non-negative amount in the currency's minor units: `currency` is an ISO 4217
  // code (three capital letters) and the amount has at most the currency's decimals
  // (2 for most; 0 for JPY, KRW...; 3 for BHD, KWD...). Both empty is nullopt when
  // `optional`; otherwise both are required.
  std::optional<guanxi::v1::Money> Money(std::string_view amount_column,
                                         std::string_view currency_column, bool optional = false);
  // One of `values` (exact spelling); an empty field is `if_empty`, or an error.
  template <typename E>
  E Enum(std::string_view column, std::initializer_list<std::pair<std::string_view, E>> values,
         std::optional<E> if_empty = std::nullopt);

  // Records a problem with `column` unless a problem is already recorded.
  void Fail(std::string_view column, std::string_view problem);
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

 private:
  const std::vector<std::string>& columns_;
  std::vector<std::string> fields_;
  std::string error_;
};

// Maps one row to its events (envelope without `source`, which the parser sets).
// Cross-field checks go through row.Fail.
using CsvRowMapper = std::function<void(CsvRow& row, std::vector<guanxi::v1::Event>& events)>;

// A parser for a CSV source whose line 1 must be exactly `columns` joined by commas (a
// UTF-8 byte order mark before it is ignored). A different line 1 is rejected with the
// expected header, and the rows are still read in the expected column order. Blank
// lines are skipped; a row with broken quoting, the wrong number of fields, a field
// that is not UTF-8 or holds a NUL byte, a field that does not parse, or an event
// AcceptRecord refuses (connectors/record_checks.h) is rejected whole, with the reason.
std::unique_ptr<LineParser> NewCsvParser(std::string source, std::vector<std::string> columns,
                                         CsvRowMapper map);

// An event with its envelope set (the payload is the caller's).
guanxi::v1::Event MakeEvent(std::string event_id, std::string customer_id,
                            const google::protobuf::Timestamp& occurred_at);

template <typename E>
E CsvRow::Enum(std::string_view column,
               std::initializer_list<std::pair<std::string_view, E>> values,
               std::optional<E> if_empty) {
  const std::string& text = Text(column);
  if (text.empty() && if_empty) return *if_empty;
  for (const auto& [name, value] : values) {
    if (text == name) return value;
  }
  std::vector<std::string> names;
  for (const auto& value : values) names.emplace_back(value.first);
  Fail(column, absl::StrCat("'", text, "' is not one of ", absl::StrJoin(names, "|")));
  return E{};
}

}  // namespace guanxi::connectors
