#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "connectors/connector.h"
#include "connectors/csv.h"
#include "connectors/record_checks.h"
#include "connectors/time_parse.h"

namespace guanxi::connectors {
namespace {

class CdnowParser final : public LineParser {
 public:
  void Line(int64_t number, std::string_view text, EventSink& sink) override {
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    const std::vector<std::string> fields = absl::StrSplit(
        absl::string_view(text.data(), text.size()), absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.empty()) return;  // blank line
    if (fields.size() != 5) {
      sink.Reject(number, absl::StrCat("expected 5 fields (customer sample date cds dollars), got ",
                                       fields.size()));
      return;
    }
    static const std::vector<std::string> kNames = {"customer", "sample", "date",
                                                    "number of CDs", "dollar value"};
    if (auto problem = FieldsProblem(kNames, fields)) {
      sink.Reject(number, *std::move(problem));
      return;
    }
    const std::string& customer_field = fields[0];
    if (customer_field.find_first_not_of("0123456789") != std::string::npos) {
      sink.Reject(number,
                  absl::StrCat("customer: '", customer_field, "' is not a customer number"));
      return;
    }
    const std::string customer = StripLeadingZeros(customer_field);
    const std::string& date = fields[2];
    auto when = ParseCompactDate(date);
    if (!when.ok()) {
      sink.Reject(number, absl::StrCat("date: ", when.status().message()));
      return;
    }
    auto cds = ParseFixedPoint(fields[3], 0);
    if (!cds.ok() || *cds < 0) {
      sink.Reject(number, absl::StrCat("number of CDs: '", fields[3], "' is not a count"));
      return;
    }
    auto cents = ParseFixedPoint(fields[4], 2);
    if (!cents.ok()) {
      sink.Reject(number, absl::StrCat("dollar value: ", cents.status().message()));
      return;
    }
    if (*cents < 0) {
      sink.Reject(number, absl::StrCat("dollar value: '", fields[4], "' is negative"));
      return;
    }
    const int n = same_day_[{customer, date}]++;
    std::vector<guanxi::v1::Event> events(1);
    guanxi::v1::Event& event = events.back();
    event.set_event_id(absl::StrCat("cdnow-", customer, "-", date, "-", n));
    event.set_customer_id(customer);
    *event.mutable_occurred_at() = *when;
    event.set_source("cdnow");
    auto* order = event.mutable_order();
    order->set_order_id(absl::StrCat(customer, "-", date, "-", n));
    order->set_kind(guanxi::v1::ORDER_KIND_ORDER);
    order->mutable_amount()->set_currency("USD");
    order->mutable_amount()->set_minor_units(*cents);
    order->set_quantity(*cds);
    order->set_line_count(1);
    AcceptRecord(number, std::move(events), sink);
  }

  void Finish(EventSink&) override {}

 private:
  // "00004" -> "4"; "0000" -> "0". `id` is digits.
  static std::string StripLeadingZeros(const std::string& id) {
    const size_t first = id.find_first_not_of('0');
    return first == std::string::npos ? "0" : id.substr(first);
  }

  std::map<std::pair<std::string, std::string>, int> same_day_;
};

}  // namespace

std::unique_ptr<LineParser> NewCdnowParser() { return std::make_unique<CdnowParser>(); }

}  // namespace guanxi::connectors
