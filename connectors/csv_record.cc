#include "connectors/csv_record.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <system_error>

#include "absl/time/time.h"
#include "connectors/csv.h"
#include "connectors/record_checks.h"
#include "connectors/time_parse.h"
#include "google/protobuf/util/time_util.h"

namespace guanxi::connectors {
namespace {

// ISO 4217 currencies whose minor unit is not a hundredth.
int CurrencyDecimals(std::string_view code) {
  static constexpr std::string_view kNone[] = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY",
                                               "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
                                               "VND", "VUV", "XAF", "XOF", "XPF"};
  static constexpr std::string_view kThree[] = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"};
  static constexpr std::string_view kFour[] = {"CLF", "UYW"};
  auto in = [&](const auto& list) {
    return std::find(std::begin(list), std::end(list), code) != std::end(list);
  };
  if (in(kNone)) return 0;
  if (in(kThree)) return 3;
  if (in(kFour)) return 4;
  return 2;
}

std::optional<google::protobuf::Timestamp> ParseAnyTime(std::string_view text) {
  if (text.find('T') != std::string_view::npos) {  // RFC 3339
    absl::Time t;
    std::string error;
    if (text.find(' ') != std::string_view::npos ||
        !absl::ParseTime(absl::RFC3339_full, absl::string_view(text.data(), text.size()), &t,
                         &error)) {
      return std::nullopt;
    }
    // Abseil reads any number of year digits ("20260-03-03T..."); a Timestamp holds
    // 0001..9999 only, and protobuf's arithmetic on one outside aborts.
    const int64_t seconds = absl::ToUnixSeconds(t);
    if (seconds < google::protobuf::util::TimeUtil::kTimestampMinSeconds ||
        seconds > google::protobuf::util::TimeUtil::kTimestampMaxSeconds) {
      return std::nullopt;
    }
    google::protobuf::Timestamp ts;
    ts.set_seconds(seconds);
    ts.set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
    return ts;
  }
  auto ts = text.size() == 10 ? ParseDateTime(absl::StrCat(std::string(text), " 00:00"))
                              : ParseDateTime(text);
  if (!ts.ok()) return std::nullopt;
  return *ts;
}

class CsvParser final : public LineParser {
 public:
  CsvParser(std::string source, std::vector<std::string> columns, CsvRowMapper map)
      : source_(std::move(source)),
        columns_(std::move(columns)),
        header_(absl::StrJoin(columns_, ",")),
        map_(std::move(map)) {}

  void Line(int64_t number, std::string_view text, EventSink& sink) override {
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (number == 1) {
      constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";
      if (text.substr(0, kByteOrderMark.size()) == kByteOrderMark) {
        text.remove_prefix(kByteOrderMark.size());
      }
      if (text != header_) {
        sink.Reject(number, absl::StrCat("unexpected header; expected '", header_, "'"));
      }
      return;
    }
    if (text.empty()) return;
    auto fields = SplitCsvLine(text);
    if (!fields.ok()) {
      sink.Reject(number, std::string(fields.status().message()));
      return;
    }
    if (fields->size() != columns_.size()) {
      sink.Reject(number,
                  absl::StrCat("expected ", columns_.size(), " fields, got ", fields->size()));
      return;
    }
    if (auto problem = FieldsProblem(columns_, *fields)) {
      sink.Reject(number, *std::move(problem));
      return;
    }
    CsvRow row(columns_, *std::move(fields));
    std::vector<guanxi::v1::Event> events;
    map_(row, events);
    if (!row.ok()) {
      sink.Reject(number, row.error());
      return;
    }
    for (guanxi::v1::Event& event : events) event.set_source(source_);
    AcceptRecord(number, std::move(events), sink);
  }

  void Finish(EventSink&) override {}

 private:
  const std::string source_;
  const std::vector<std::string> columns_;
  const std::string header_;
  const CsvRowMapper map_;
};

}  // namespace

const std::string& CsvRow::Text(std::string_view column) const {
  const auto it = std::find(columns_.begin(), columns_.end(), column);
  if (it == columns_.end()) std::abort();  // a mapper naming a column its header lacks
  return fields_[static_cast<size_t>(it - columns_.begin())];
}

const std::string& CsvRow::Id(std::string_view column) {
  const std::string& text = Text(column);
  if (text.empty()) Fail(column, "empty");
  return text;
}

google::protobuf::Timestamp CsvRow::Time(std::string_view column) {
  if (Text(column).empty()) {
    Fail(column, "empty");
    return {};
  }
  return OptionalTime(column).value_or(google::protobuf::Timestamp());
}

std::optional<google::protobuf::Timestamp> CsvRow::OptionalTime(std::string_view column) {
  const std::string& text = Text(column);
  if (text.empty()) return std::nullopt;
  auto ts = ParseAnyTime(text);
  if (!ts) {
    Fail(column, absl::StrCat("'", text,
                              "' is not a valid date or time (YYYY-MM-DD, YYYY-MM-DD HH:MM:SS "
                              "in UTC, or RFC 3339 like 2026-03-03T14:05:10Z)"));
  }
  return ts;
}

bool CsvRow::Bool(std::string_view column, std::optional<bool> if_empty) {
  return Enum<bool>(
      column,
      {{"true", true}, {"false", false}, {"yes", true}, {"no", false}, {"1", true}, {"0", false}},
      if_empty);
}

int64_t CsvRow::Count(std::string_view column) {
  const std::string& text = Text(column);
  if (text.empty()) return 0;
  auto value = ParseFixedPoint(text, 0);
  if (!value.ok() || *value < 0) {
    Fail(column, absl::StrCat("'", text, "' is not a whole number >= 0"));
    return 0;
  }
  return *value;
}

std::optional<double> CsvRow::Number(std::string_view column, double min, double max) {
  const std::string& text = Text(column);
  if (text.empty()) return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !(value >= min && value <= max)) {
    Fail(column, absl::StrCat("'", text, "' is not a number in ", min, "..", max));
    return std::nullopt;
  }
  return value;
}

std::optional<guanxi::v1::Money> CsvRow::Money(std::string_view amount_column,
                                               std::string_view currency_column, bool optional) {
  const std::string& amount = Text(amount_column);
  const std::string& currency = Text(currency_column);
  if (optional && amount.empty() && currency.empty()) return std::nullopt;
  if (auto problem = CurrencyCodeProblem(currency)) {
    Fail(currency_column, *problem);
    return std::nullopt;
  }
  if (amount.empty()) {
    Fail(amount_column, "empty");
    return std::nullopt;
  }
  auto minor = ParseFixedPoint(amount, CurrencyDecimals(currency));
  if (!minor.ok()) {
    Fail(amount_column, std::string(minor.status().message()));
    return std::nullopt;
  }
  if (*minor < 0) {
    Fail(amount_column, absl::StrCat("'", amount, "' is negative"));
    return std::nullopt;
  }
  guanxi::v1::Money money;
  money.set_currency(currency);
  money.set_minor_units(*minor);
  return money;
}

void CsvRow::Fail(std::string_view column, std::string_view problem) {
  if (error_.empty()) error_ = absl::StrCat(std::string(column), ": ", std::string(problem));
}

std::unique_ptr<LineParser> NewCsvParser(std::string source, std::vector<std::string> columns,
                                         CsvRowMapper map) {
  return std::make_unique<CsvParser>(std::move(source), std::move(columns), std::move(map));
}

guanxi::v1::Event MakeEvent(std::string event_id, std::string customer_id,
                            const google::protobuf::Timestamp& occurred_at) {
  guanxi::v1::Event event;
  event.set_event_id(std::move(event_id));
  event.set_customer_id(std::move(customer_id));
  *event.mutable_occurred_at() = occurred_at;
  return event;
}

}  // namespace guanxi::connectors
