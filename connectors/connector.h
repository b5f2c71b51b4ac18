// Source adapters: each maps one system's records to guanxi Events with deterministic
// event ids (the same source record always yields the same id, so feeding the same
// input twice appends nothing new).
//
//   auto parser = NewOnlineRetailParser();
//   int64_t n = 0;
//   for (std::string line; std::getline(in, line);) parser->Line(++n, line, sink);
//   parser->Finish(sink);
//
// Parsers are pure (no I/O, no clock): the caller reads the input and sends the events.
// A bad row never stops a parser: it is reported to the sink with its line number and
// the reason, and the rest goes through. Every parser rejects a row with a field that is
// not UTF-8 or holds a NUL byte, an amount that does not fit in int64 minor units, a
// currency that is not ISO 4217-shaped, an event the log would refuse, and an event the
// sink refuses (connectors/record_checks.h). Not thread-safe: one parser per input.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "guanxi/v1/events.pb.h"

namespace guanxi::connectors {

// Receives what a parser makes of its input.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void Accept(guanxi::v1::Event event) = 0;
  // A row that could not be mapped: its 1-based line number and why.
  virtual void Reject(int64_t line, std::string reason) = 0;
  // Why the events' destination could never take `event` (it is larger than the
  // destination's message size limit, say), or nullopt. A parser asks for each event of
  // a row before accepting any and rejects the row whole instead, with its line and this
  // reason, so that one such row does not stop the run. By default nothing is refused.
  virtual std::optional<std::string> Refusal(const guanxi::v1::Event& /*event*/) const {
    return std::nullopt;
  }
};

class LineParser {
 public:
  virtual ~LineParser() = default;
  // One line of input without its line terminator; lines are numbered from 1 (a header,
  // where the format has one, is line 1). A trailing '\r' is ignored.
  virtual void Line(int64_t number, std::string_view text, EventSink& sink) = 0;
  // End of input: emits what was held back (records that group several lines).
  virtual void Finish(EventSink& sink) = 0;
};

// One guanxi.v1.Event per line in protobuf's JSON mapping (docs/events.md): the format
// any system can write. Unknown fields and events the log would refuse (no event_id,
// customer_id, occurred_at or payload) are rejected with the line number. The ids are
// the source's own.
std::unique_ptr<LineParser> NewJsonlParser();

// CDNOW purchases (Fader, Hardie & Lee 2005): whitespace-separated "customer sample
// YYYYMMDD cds dollars", no header. One Order per line, in USD, at midnight UTC of the
// date; event id "cdnow-<customer>-<YYYYMMDD>-<n>" where n counts that customer's
// earlier lines on the same date.
std::unique_ptr<LineParser> NewCdnowParser();

// The UCI Online Retail export (InvoiceNo,StockCode,Description,Quantity,InvoiceDate,
// UnitPrice,CustomerID,Country). Invoice lines are grouped by InvoiceNo over the whole
// input (an invoice's lines need not be adjacent) into one Order per invoice, in GBP,
// at the time of its first line (read as UTC: the export has no zone). An invoice
// starting with "C" is a cancellation: ORDER_KIND_CANCELLATION of the amount reversed,
// naming the customer's most recent earlier invoice that held the first cancelled
// stock code (empty when the order predates the data). Lines without a CustomerID are
// reported and skipped. Event id "online-retail-<InvoiceNo>".
std::unique_ptr<LineParser> NewOnlineRetailParser();

// The header-checked CSV sources of docs/connectors.md. Each validates line 1 against
// its header (a wrong one is rejected with the expected header; the rows are then read
// in the expected column order) and rejects a row whose field count, id, customer_id,
// date, number or enumerated value is wrong, naming the column ("start: ..."). Times
// are "YYYY-MM-DD" (midnight), "YYYY-MM-DD HH:MM[:SS]" (UTC) or RFC 3339.

// Calls: call_id,customer_id,start,end,direction,reason,resolved,sentiment,agent,
// useful_information. One Call at `start`, lasting end - start; event id
// "callcenter-call-<call_id>".
std::unique_ptr<LineParser> NewCallCenterCallsParser();

// Complaints: complaint_id,customer_id,opened_at,severity,category,channel,description,
// resolved_at,customer_satisfied,resolution. A Complaint at opened_at ("callcenter-
// complaint-<id>") and, when resolved_at is set, a ComplaintResolved at resolved_at
// ("callcenter-complaint-<id>-resolved").
std::unique_ptr<LineParser> NewCallCenterComplaintsParser();

// Orders/invoices: document_id,customer_id,kind,date,amount,currency,product_line,
// quantity,reverses_document_id. One Order; event id "erp-order-<document_id>".
std::unique_ptr<LineParser> NewErpOrdersParser();

// Payments: payment_id,customer_id,invoice_id,amount,currency,due_date,paid_date. One
// Payment at paid_date; event id "erp-payment-<payment_id>".
std::unique_ptr<LineParser> NewErpPaymentsParser();

// Contract milestones: contract_id,customer_id,milestone,date,value,currency,
// renewal_due_date. One ContractMilestone at `date`; event id
// "erp-contract-<contract_id>-<milestone>-<YYYY-MM-DD of date, UTC>".
std::unique_ptr<LineParser> NewErpContractsParser();

}  // namespace guanxi::connectors
