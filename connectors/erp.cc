// The ERP's exports: orders/invoices, payments, contract milestones (docs/connectors.md).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "connectors/connector.h"
#include "connectors/csv_record.h"

namespace guanxi::connectors {

std::unique_ptr<LineParser> NewErpOrdersParser() {
  return NewCsvParser(
      "erp",
      {"document_id", "customer_id", "kind", "date", "amount", "currency", "product_line",
       "quantity", "reverses_document_id"},
      [](CsvRow& row, std::vector<v1::Event>& events) {
        const std::string& id = row.Id("document_id");
        const std::string& customer = row.Id("customer_id");
        const auto kind =
            row.Enum<v1::OrderKind>("kind", {{"order", v1::ORDER_KIND_ORDER},
                                             {"invoice", v1::ORDER_KIND_INVOICE},
                                             {"cancellation", v1::ORDER_KIND_CANCELLATION}});
        const auto date = row.Time("date");
        const auto amount = row.Money("amount", "currency");
        const int64_t quantity = row.Count("quantity");
        const std::string& reverses = row.Text("reverses_document_id");
        if (!reverses.empty() && kind != v1::ORDER_KIND_CANCELLATION) {
          row.Fail("reverses_document_id", "set, but only a cancellation reverses a document");
        }
        if (!row.ok()) return;
        v1::Event event = MakeEvent(absl::StrCat("erp-order-", id), customer, date);
        v1::Order* order = event.mutable_order();
        order->set_order_id(id);
        order->set_kind(kind);
        *order->mutable_amount() = *amount;
        order->set_product_line(row.Text("product_line"));
        order->set_quantity(quantity);
        order->set_reverses_order_id(reverses);
        events.push_back(std::move(event));
      });
}

std::unique_ptr<LineParser> NewErpPaymentsParser() {
  return NewCsvParser(
      "erp",
      {"payment_id", "customer_id", "invoice_id", "amount", "currency", "due_date", "paid_date"},
      [](CsvRow& row, std::vector<v1::Event>& events) {
        const std::string& id = row.Id("payment_id");
        const std::string& customer = row.Id("customer_id");
        const auto amount = row.Money("amount", "currency");
        const auto due = row.OptionalTime("due_date");
        const auto paid = row.Time("paid_date");
        if (!row.ok()) return;
        v1::Event event = MakeEvent(absl::StrCat("erp-payment-", id), customer, paid);
        v1::Payment* payment = event.mutable_payment();
        payment->set_payment_id(id);
        payment->set_invoice_id(row.Text("invoice_id"));
        *payment->mutable_amount() = *amount;
        if (due) *payment->mutable_due_at() = *due;
        *payment->mutable_paid_at() = paid;
        events.push_back(std::move(event));
      });
}

std::unique_ptr<LineParser> NewErpContractsParser() {
  return NewCsvParser(
      "erp",
      {"contract_id", "customer_id", "milestone", "date", "value", "currency", "renewal_due_date"},
      [](CsvRow& row, std::vector<v1::Event>& events) {
        const std::string& id = row.Id("contract_id");
        const std::string& customer = row.Id("customer_id");
        const std::string& milestone_name = row.Text("milestone");
        const auto milestone = row.Enum<v1::ContractMilestoneKind>(
            "milestone", {{"signed", v1::CONTRACT_MILESTONE_KIND_SIGNED},
                          {"delivered", v1::CONTRACT_MILESTONE_KIND_DELIVERED},
                          {"accepted", v1::CONTRACT_MILESTONE_KIND_ACCEPTED},
                          {"renewal_due", v1::CONTRACT_MILESTONE_KIND_RENEWAL_DUE},
                          {"renewed", v1::CONTRACT_MILESTONE_KIND_RENEWED},
                          {"terminated", v1::CONTRACT_MILESTONE_KIND_TERMINATED}});
        const auto date = row.Time("date");
        const auto value = row.Money("value", "currency", /*optional=*/true);
        const auto renewal_due = row.OptionalTime("renewal_due_date");
        if (!row.ok()) return;
        // The id names the UTC day, however the date was written, so a re-export in
        // another date format still yields the same id.
        const std::string day = absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(date.seconds()),
                                                 absl::UTCTimeZone());
        v1::Event event = MakeEvent(
            absl::StrCat("erp-contract-", id, "-", milestone_name, "-", day), customer, date);
        v1::ContractMilestone* contract = event.mutable_contract();
        contract->set_contract_id(id);
        contract->set_milestone(milestone);
        if (value) *contract->mutable_value() = *value;
        if (renewal_due) *contract->mutable_renewal_due_at() = *renewal_due;
        events.push_back(std::move(event));
      });
}

}  // namespace guanxi::connectors
