#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "connectors/checked_int.h"
#include "connectors/connector.h"
#include "connectors/csv.h"
#include "connectors/record_checks.h"
#include "connectors/time_parse.h"

namespace guanxi::connectors {
namespace {

constexpr std::string_view kHeader =
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country";
const std::vector<std::string>& Columns() {
  static const std::vector<std::string> columns =
      absl::StrSplit(absl::string_view(kHeader.data(), kHeader.size()), ',');
  return columns;
}
// Prices carry up to 3 decimals ("0.001"): sums are kept exactly in thousandths of a
// pound and rounded once per invoice to pence.
constexpr int kPriceScale = 3;
constexpr char kOverflows[] = " (it overflows a 64-bit count)";

struct Invoice {
  std::string number;
  std::string customer;
  google::protobuf::Timestamp first_at;
  int64_t first_line = 0;
  // Sums of the lines' |quantity| x price, in thousandths of a pound, and of their
  // |quantity|: positive for orders and cancellations alike (a cancellation's event
  // carries the amount and quantity reversed as positive numbers).
  int64_t amount_milli = 0;
  int64_t quantity = 0;
  int32_t lines = 0;
  std::string first_stock_code;
  std::vector<std::string> stock_codes;
};

class OnlineRetailParser final : public LineParser {
 public:
  void Line(int64_t number, std::string_view text, EventSink& sink) override {
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (number == 1) {
      if (text != kHeader) {
        sink.Reject(number,
                    absl::StrCat("unexpected header; expected '", std::string(kHeader), "'"));
      }
      return;
    }
    if (text.empty()) return;
    auto fields = SplitCsvLine(text);
    if (!fields.ok()) {
      sink.Reject(number, std::string(fields.status().message()));
      return;
    }
    if (fields->size() != Columns().size()) {
      sink.Reject(number,
                  absl::StrCat("expected ", Columns().size(), " fields, got ", fields->size()));
      return;
    }
    if (auto problem = FieldsProblem(Columns(), *fields)) {
      sink.Reject(number, *std::move(problem));
      return;
    }
    const std::string& invoice_no = (*fields)[0];
    const std::string& stock_code = (*fields)[1];
    const std::string& customer_field = (*fields)[6];
    if (customer_field.empty()) {
      sink.Reject(number, "no CustomerID: the line cannot be attributed to a customer");
      return;
    }
    if (invoice_no.empty()) {
      sink.Reject(number, "no InvoiceNo");
      return;
    }
    auto customer = ParseCustomerId(customer_field);
    if (!customer.ok()) {
      sink.Reject(number, absl::StrCat("CustomerID: ", customer.status().message()));
      return;
    }
    auto quantity = ParseFixedPoint((*fields)[3], 0);
    if (!quantity.ok()) {
      sink.Reject(number, absl::StrCat("Quantity: ", quantity.status().message()));
      return;
    }
    auto when = ParseDateTime((*fields)[4]);
    if (!when.ok()) {
      sink.Reject(number, absl::StrCat("InvoiceDate: ", when.status().message()));
      return;
    }
    auto price = ParseFixedPoint((*fields)[5], kPriceScale);
    if (!price.ok() || *price < 0) {
      sink.Reject(number,
                  absl::StrCat("UnitPrice: ", price.ok() ? "negative" : price.status().message()));
      return;
    }
    const bool cancellation = invoice_no[0] == 'C';
    if (cancellation != (*quantity < 0)) {
      sink.Reject(number, cancellation ? "a cancellation line with a positive Quantity"
                                       : "an order line with a negative Quantity");
      return;
    }
    // ParseFixedPoint never yields INT64_MIN, so the magnitude fits.
    const int64_t count = cancellation ? -*quantity : *quantity;
    const std::optional<int64_t> line_milli = CheckedMul(count, *price);
    if (!line_milli) {
      sink.Reject(number, absl::StrCat("amount: Quantity ", (*fields)[3], " x UnitPrice ",
                                       (*fields)[5], " is too large", kOverflows));
      return;
    }

    auto [it, inserted] = index_.try_emplace(invoice_no, invoices_.size());
    if (inserted) {
      Invoice fresh;
      fresh.number = invoice_no;
      fresh.customer = *customer;
      fresh.first_at = *when;
      fresh.first_line = number;
      fresh.first_stock_code = stock_code;
      invoices_.push_back(std::move(fresh));
    }
    Invoice& invoice = invoices_[it->second];
    if (invoice.customer != *customer) {
      sink.Reject(number,
                  absl::StrCat("invoice ", invoice_no, " belongs to customer ", invoice.customer,
                               " (line ", invoice.first_line, "), not ", *customer));
      return;
    }
    const std::optional<int64_t> amount_milli = CheckedAdd(invoice.amount_milli, *line_milli);
    const std::optional<int64_t> total_quantity = CheckedAdd(invoice.quantity, count);
    if (!amount_milli || !total_quantity) {
      sink.Reject(number, absl::StrCat(amount_milli ? "Quantity" : "amount", ": invoice ",
                                       invoice_no, "'s total with this line is too large",
                                       kOverflows));
      return;
    }
    invoice.amount_milli = *amount_milli;
    invoice.quantity = *total_quantity;
    invoice.lines += 1;
    if (!cancellation) invoice.stock_codes.push_back(stock_code);
  }

  // Emits one Order per invoice in the order invoices first appeared (the export's
  // time order), matching cancellations to the orders they reverse on the way.
  void Finish(EventSink& sink) override {
    // customer -> stock code -> the latest order (invoice number) that held it.
    std::unordered_map<std::string, std::unordered_map<std::string, std::string>> last_order;
    for (Invoice& invoice : invoices_) {
      const bool cancellation = invoice.number[0] == 'C';
      std::vector<guanxi::v1::Event> events(1);
      guanxi::v1::Event& event = events.back();
      event.set_event_id(absl::StrCat("online-retail-", invoice.number));
      event.set_customer_id(invoice.customer);
      *event.mutable_occurred_at() = invoice.first_at;
      event.set_source("online-retail");
      auto* order = event.mutable_order();
      order->set_order_id(invoice.number);
      order->set_kind(cancellation ? guanxi::v1::ORDER_KIND_CANCELLATION
                                   : guanxi::v1::ORDER_KIND_ORDER);
      // Thousandths of a pound -> pence, rounded half up (the sum is >= 0).
      order->mutable_amount()->set_currency("GBP");
      order->mutable_amount()->set_minor_units(invoice.amount_milli / 10 +
                                               (invoice.amount_milli % 10 >= 5 ? 1 : 0));
      order->set_quantity(invoice.quantity);
      order->set_line_count(invoice.lines);
      auto& codes = last_order[invoice.customer];
      if (cancellation) {
        if (auto hit = codes.find(invoice.first_stock_code); hit != codes.end()) {
          order->set_reverses_order_id(hit->second);
        }
      } else {
        for (const std::string& code : invoice.stock_codes) codes[code] = invoice.number;
      }
      AcceptRecord(invoice.first_line, std::move(events), sink);
    }
    invoices_.clear();
    index_.clear();
  }

 private:
  // "17850.0" (how the export writes it) or "17850" -> "17850".
  static absl::StatusOr<std::string> ParseCustomerId(const std::string& text) {
    std::string_view id = text;
    if (id.size() > 2 && id.substr(id.size() - 2) == ".0") id.remove_suffix(2);
    for (char c : id) {
      if (c < '0' || c > '9') {
        return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not a customer number"));
      }
    }
    return std::string(id);
  }

  std::vector<Invoice> invoices_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace

std::unique_ptr<LineParser> NewOnlineRetailParser() {
  return std::make_unique<OnlineRetailParser>();
}

}  // namespace guanxi::connectors
