#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "connectors/connector.h"
#include "connectors/csv.h"
#include "connectors/time_parse.h"

namespace guanxi::connectors {
namespace {

constexpr std::string_view kHeader =
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country";
// Prices carry up to 3 decimals ("0.001"): sums are kept exactly in thousandths of a
// pound and rounded once per invoice to pence.
constexpr int kPriceScale = 3;

struct Invoice {
  std::string number;
  std::string customer;
  google::protobuf::Timestamp first_at;
  int64_t first_line = 0;
  int64_t amount_milli = 0;  // sum of quantity x price, in thousandths of a pound
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
    if (fields->size() != 8) {
      sink.Reject(number, absl::StrCat("expected 8 fields, got ", fields->size()));
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
    invoice.amount_milli += *quantity * *price;
    invoice.quantity += *quantity;
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
      guanxi::v1::Event event;
      event.set_event_id(absl::StrCat("online-retail-", invoice.number));
      event.set_customer_id(invoice.customer);
      *event.mutable_occurred_at() = invoice.first_at;
      event.set_source("online-retail");
      auto* order = event.mutable_order();
      order->set_order_id(invoice.number);
      order->set_kind(cancellation ? guanxi::v1::ORDER_KIND_CANCELLATION
                                   : guanxi::v1::ORDER_KIND_ORDER);
      // Thousandths of a pound -> pence, rounded half away from zero; cancellations
      // carry the reversed amount as a positive number.
      const int64_t milli = cancellation ? -invoice.amount_milli : invoice.amount_milli;
      order->mutable_amount()->set_currency("GBP");
      order->mutable_amount()->set_minor_units(milli >= 0 ? (milli + 5) / 10 : (milli - 5) / 10);
      order->set_quantity(cancellation ? -invoice.quantity : invoice.quantity);
      order->set_line_count(invoice.lines);
      auto& codes = last_order[invoice.customer];
      if (cancellation) {
        if (auto hit = codes.find(invoice.first_stock_code); hit != codes.end()) {
          order->set_reverses_order_id(hit->second);
        }
      } else {
        for (const std::string& code : invoice.stock_codes) codes[code] = invoice.number;
      }
      sink.Accept(std::move(event));
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
