#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "connectors/connector.h"
#include "connectors/csv.h"
#include "connectors/time_parse.h"

namespace guanxi::connectors {
namespace {

class CdnowParser final : public LineParser {
 public:
  void Line(int64_t number, std::string_view text, EventSink& sink) override {
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    const std::vector<absl::string_view> fields = absl::StrSplit(
        absl::string_view(text.data(), text.size()), absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.empty()) return;  // blank line
    if (fields.size() != 5) {
      sink.Reject(number, absl::StrCat("expected 5 fields (customer sample date cds dollars), got ",
                                       fields.size()));
      return;
    }
    const std::string customer = StripLeadingZeros(fields[0]);
    if (customer.empty()) {
      sink.Reject(number, "the customer id is empty");
      return;
    }
    const std::string date(fields[2]);
    auto when = ParseCompactDate(date);
    if (!when.ok()) {
      sink.Reject(number, absl::StrCat("date: ", when.status().message()));
      return;
    }
    auto cds = ParseFixedPoint(std::string_view(fields[3].data(), fields[3].size()), 0);
    if (!cds.ok() || *cds < 0) {
      sink.Reject(number, absl::StrCat("number of CDs: '", fields[3], "' is not a count"));
      return;
    }
    auto cents = ParseFixedPoint(std::string_view(fields[4].data(), fields[4].size()), 2);
    if (!cents.ok() || *cents < 0) {
      sink.Reject(number, absl::StrCat("dollar value: '", fields[4], "' is not an amount"));
      return;
    }
    const int n = same_day_[{customer, date}]++;
    guanxi::v1::Event event;
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
    sink.Accept(std::move(event));
  }

  void Finish(EventSink&) override {}

 private:
  static std::string StripLeadingZeros(absl::string_view id) {
    const size_t first = id.find_first_not_of('0');
    return first == absl::string_view::npos ? std::string(id.empty() ? "" : "0")
                                            : std::string(id.substr(first));
  }

  std::map<std::pair<std::string, std::string>, int> same_day_;
};

}  // namespace

std::unique_ptr<LineParser> NewCdnowParser() { return std::make_unique<CdnowParser>(); }

}  // namespace guanxi::connectors
