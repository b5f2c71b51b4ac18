// The header-checked CSV sources: callcenter-calls, callcenter-complaints, erp-orders,
// erp-payments, erp-contracts (docs/connectors.md).
#include <map>
#include <string>
#include <vector>

#include "connectors/connector.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

namespace guanxi::connectors {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::testing::HasSubstr;

struct Collect : EventSink {
  std::vector<v1::Event> events;
  std::map<int64_t, std::string> rejected;
  void Accept(v1::Event e) override { events.push_back(std::move(e)); }
  void Reject(int64_t line, std::string reason) override { rejected[line] = std::move(reason); }
};

Collect Parse(std::unique_ptr<LineParser> parser, const std::vector<std::string>& lines) {
  Collect out;
  int64_t n = 0;
  for (const std::string& line : lines) parser->Line(++n, line, out);
  parser->Finish(out);
  return out;
}

int64_t Seconds(const std::string& rfc3339) {
  google::protobuf::Timestamp ts;
  EXPECT_TRUE(TimeUtil::FromString(rfc3339, &ts)) << rfc3339;
  return ts.seconds();
}

// Parsing the same lines twice gives byte-identical events, and each event goes
// through protobuf JSON into the jsonl connector unchanged.
void ExpectDeterministicAndJsonRoundTrip(std::unique_ptr<LineParser> (*make)(),
                                         const std::vector<std::string>& lines) {
  Collect first = Parse(make(), lines);
  Collect second = Parse(make(), lines);
  ASSERT_FALSE(first.events.empty());
  ASSERT_EQ(first.events.size(), second.events.size());
  for (size_t i = 0; i < first.events.size(); ++i) {
    EXPECT_EQ(first.events[i].SerializeAsString(), second.events[i].SerializeAsString()) << i;
  }
  std::vector<std::string> json;
  for (const v1::Event& e : first.events) {
    std::string text;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(e, &text).ok());
    json.push_back(text);
  }
  Collect back = Parse(NewJsonlParser(), json);
  EXPECT_TRUE(back.rejected.empty()) << back.rejected.begin()->second;
  ASSERT_EQ(back.events.size(), first.events.size());
  for (size_t i = 0; i < back.events.size(); ++i) {
    EXPECT_EQ(back.events[i].SerializeAsString(), first.events[i].SerializeAsString()) << json[i];
  }
}

const char* kCallsHeader =
    "call_id,customer_id,start,end,direction,reason,resolved,sentiment,agent,useful_information";

TEST(CallCenterCallsParserTest, MapsEveryField) {
  Collect out = Parse(NewCallCenterCallsParser(),
                      {kCallsHeader,
                       "000193,C-1042,2026-03-03 14:05:10,2026-03-03 14:12:02,inbound,"
                       "\"billing question, March\",yes,0.4,agent-17,true",
                       "000194,C-7,2026-03-03T15:00:00Z,2026-03-03T16:00:00+01:00,outbound,,0,,,"});
  EXPECT_TRUE(out.rejected.empty()) << out.rejected.begin()->second;
  ASSERT_EQ(out.events.size(), 2u);
  const v1::Event& e = out.events[0];
  EXPECT_EQ(e.event_id(), "callcenter-call-000193");
  EXPECT_EQ(e.customer_id(), "C-1042");
  EXPECT_EQ(e.source(), "callcenter");
  EXPECT_EQ(e.occurred_at().seconds(), Seconds("2026-03-03T14:05:10Z"));
  EXPECT_EQ(e.call().call_id(), "000193");
  EXPECT_EQ(e.call().direction(), v1::CALL_DIRECTION_INBOUND);
  EXPECT_EQ(e.call().duration_seconds(), 412);
  EXPECT_EQ(e.call().reason(), "billing question, March");
  EXPECT_TRUE(e.call().resolved());
  ASSERT_TRUE(e.call().has_sentiment());
  EXPECT_DOUBLE_EQ(e.call().sentiment(), 0.4);
  EXPECT_EQ(e.call().agent(), "agent-17");
  EXPECT_TRUE(e.call().useful_information());
  const v1::Event& f = out.events[1];
  EXPECT_EQ(f.occurred_at().seconds(), Seconds("2026-03-03T15:00:00Z"));
  EXPECT_EQ(f.call().direction(), v1::CALL_DIRECTION_OUTBOUND);
  EXPECT_EQ(f.call().duration_seconds(), 0);  // 16:00+01:00 is 15:00Z
  EXPECT_FALSE(f.call().resolved());
  EXPECT_FALSE(f.call().has_sentiment());  // not scored
  EXPECT_FALSE(f.call().useful_information());
}

// Found by fuzzing (fuzz/regressions/connector_callcenter_calls/): an RFC 3339 time with
// a five-digit year parsed, and the call's duration (end - start) aborted in protobuf.
TEST(CallCenterCallsParserTest, ATimeOutsideYears1To9999IsARejectedRowNotACrash) {
  const std::string tail = ",inbound,r,true,0.1,a,";
  Collect out = Parse(NewCallCenterCallsParser(),
                      {kCallsHeader, "1,C,2026-03-03T15:00:00Z,20260-03-03T15:02:30Z" + tail,
                       "2,C,-2026-03-03T15:00:00Z,2026-03-03T15:02:30Z" + tail,
                       "3,C,0001-01-01T00:00:00Z,0001-01-01T00:00:01Z" + tail,
                       "4,C,9999-12-31T23:59:58Z,9999-12-31T23:59:59Z" + tail});
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].event_id(), "callcenter-call-3");  // the first year a Timestamp holds
  EXPECT_THAT(out.rejected[2], HasSubstr("end: '20260-03-03T15:02:30Z' is not a valid date"));
  EXPECT_THAT(out.rejected[3], HasSubstr("start: '-2026-03-03T15:00:00Z' is not a valid date"));
  // The last year parses, and the row is refused as the engine would refuse it: from the
  // future (kafka.max_future_seconds), not a crash.
  EXPECT_THAT(out.rejected[5], HasSubstr("future"));
}

TEST(CallCenterCallsParserTest, EachBadRowIsReportedWithItsLineAndColumn) {
  const std::string ok_tail = ",inbound,r,true,0.1,a,";
  Collect out = Parse(
      NewCallCenterCallsParser(),
      {"call_id,customer,start,end,direction,reason,resolved,sentiment,agent,useful_information",
       "1,C,2026-03-03 10:00:00,2026-03-03 10:01:00" + ok_tail,               // 2 good
       ",C,2026-03-03 10:00:00,2026-03-03 10:01:00" + ok_tail,                // 3
       "4,,2026-03-03 10:00:00,2026-03-03 10:01:00" + ok_tail,                // 4
       "5,C,2026-02-30 10:00:00,2026-03-03 10:01:00" + ok_tail,               // 5
       "6,C,2026-03-03 10:00:00,03/03/2026 10:01" + ok_tail,                  // 6
       "7,C,2026-03-03 10:00:00,2026-03-03 09:59:59" + ok_tail,               // 7
       "8,C,2026-03-03 10:00:00,2026-03-03 10:01:00,sideways,r,true,,a,",     // 8
       "9,C,2026-03-03 10:00:00,2026-03-03 10:01:00,inbound,r,maybe,,a,",     // 9
       "10,C,2026-03-03 10:00:00,2026-03-03 10:01:00,inbound,r,true,1.5,a,",  // 10
       "11,C,2026-03-03 10:00:00,2026-03-03 10:01:00,inbound,r,true,nan,a,",  // 11
       "12,C,2026-03-03 10:00:00,2026-03-03 10:01:00,inbound,r,true,,a",      // 12
       "13,C,2026-03-03 10:00:00,2026-03-03 10:01:00,inbound,\"r,true,,a,",   // 13
       "",                                                                    // 14 skipped
       "15,C,2026-03-03 10:00:00,2026-03-03 10:01:00,inbound,r,,,a,",         // 15
       "16,C,2026-03-03T10:00:00,2026-03-03 10:01:00" + ok_tail,              // 16 no zone
       "17,C,2026-03-03 10:00:00,2026-03-03 10:01:00" + ok_tail + "x"});      // 17
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].event_id(), "callcenter-call-1");
  EXPECT_EQ(out.rejected.size(), 15u);
  EXPECT_THAT(out.rejected[1],
              HasSubstr("unexpected header; expected '" + std::string(kCallsHeader) + "'"));
  EXPECT_EQ(out.rejected[3], "call_id: empty");
  EXPECT_EQ(out.rejected[4], "customer_id: empty");
  EXPECT_THAT(out.rejected[5], HasSubstr("start: '2026-02-30 10:00:00' is not a valid date"));
  EXPECT_THAT(out.rejected[6], HasSubstr("end: '03/03/2026 10:01'"));
  EXPECT_EQ(out.rejected[7], "end: before start");
  EXPECT_EQ(out.rejected[8], "direction: 'sideways' is not one of inbound|outbound");
  EXPECT_EQ(out.rejected[9], "resolved: 'maybe' is not one of true|false|yes|no|1|0");
  EXPECT_THAT(out.rejected[10], HasSubstr("sentiment: '1.5' is not a number in -1..1"));
  EXPECT_THAT(out.rejected[11], HasSubstr("sentiment: 'nan'"));
  EXPECT_EQ(out.rejected[12], "expected 10 fields, got 9");
  EXPECT_THAT(out.rejected[13], HasSubstr("not closed"));
  EXPECT_THAT(out.rejected[15], HasSubstr("resolved: '' is not one of"));
  EXPECT_THAT(out.rejected[16], HasSubstr("start: '2026-03-03T10:00:00'"));
  EXPECT_THAT(out.rejected[17], HasSubstr("useful_information: 'x'"));
}

TEST(CallCenterCallsParserTest, DeterministicAndJsonRoundTrip) {
  ExpectDeterministicAndJsonRoundTrip(
      NewCallCenterCallsParser,
      {kCallsHeader, "1,C-1,2026-03-03 10:00:00,2026-03-03 10:01:00,inbound,r,true,-0.25,a,1",
       "2,C-2,2026-03-04,2026-03-04 00:00:30,outbound,,no,,,"});
}

TEST(CsvSourcesTest, HeaderWithByteOrderMarkAndCrLfIsAccepted) {
  Collect out = Parse(NewCallCenterCallsParser(),
                      {"\xEF\xBB\xBF" + std::string(kCallsHeader) + "\r",
                       "1,C,2026-03-03 10:00:00,2026-03-03 10:01:00,inbound,r,true,,a,\r"});
  EXPECT_TRUE(out.rejected.empty());
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_TRUE(out.events[0].call().resolved());
}

// Issue 20: "C-\xff1" became customer "C-1" (the JSON printer dropped the byte), 0
// rejected; over Kafka the engine dead-lettered it later, without a line. Every field of
// every row is checked here, naming the column and the byte.
TEST(CsvSourcesTest, AFieldThatIsNotUtf8OrHoldsANulRejectsTheRowNamingColumnAndByte) {
  const std::string tail = ",2026-03-03 14:05:10,2026-03-03 14:12:02,inbound,r,yes,,a,";
  std::string nul_reason = tail;
  nul_reason.replace(tail.find(",r,"), 3, std::string(",\0r,", 4));
  Collect out = Parse(NewCallCenterCallsParser(),
                      {kCallsHeader, "1,C-\xff" "1" + tail, "2,C-2" + tail + "f\xc3",
                       "3,C-3" + nul_reason, "4,C-4" + tail});
  EXPECT_EQ(out.rejected[2], "customer_id: invalid UTF-8 at byte 3 (0xff)");
  EXPECT_EQ(out.rejected[3], "useful_information: invalid UTF-8 at byte 2 (0xc3)");
  EXPECT_EQ(out.rejected[4], "reason: a NUL byte at byte 1");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].customer_id(), "C-4");
}

TEST(CsvSourcesTest, AnIdTheLogWouldRefuseIsRejectedHere) {
  Collect out = Parse(
      NewCallCenterCallsParser(),
      {kCallsHeader, std::string(300, 'x') + ",C,2026-03-03 10:00:00,2026-03-03 10:01:00,inbound,r,"
                                             "true,,a,"});
  EXPECT_TRUE(out.events.empty());
  EXPECT_THAT(out.rejected[2], HasSubstr("event_id"));
}

const char* kComplaintsHeader =
    "complaint_id,customer_id,opened_at,severity,category,channel,description,resolved_at,"
    "customer_satisfied,resolution";

TEST(CallCenterComplaintsParserTest, MapsAComplaintAndItsResolution) {
  Collect out =
      Parse(NewCallCenterComplaintsParser(),
            {kComplaintsHeader,
             "5521,C-1042,2026-03-04 10:12:00,high,delivery,phone,third late delivery this quarter,"
             "2026-03-06 16:40:00,true,\"expedited re-delivery, credit note\"",
             "5522,C-7,2026-03-05T08:00:00Z,,billing,email,,,,"});
  EXPECT_TRUE(out.rejected.empty()) << out.rejected.begin()->second;
  ASSERT_EQ(out.events.size(), 3u);
  const v1::Event& opened = out.events[0];
  EXPECT_EQ(opened.event_id(), "callcenter-complaint-5521");
  EXPECT_EQ(opened.customer_id(), "C-1042");
  EXPECT_EQ(opened.source(), "callcenter");
  EXPECT_EQ(opened.occurred_at().seconds(), Seconds("2026-03-04T10:12:00Z"));
  EXPECT_EQ(opened.complaint().complaint_id(), "5521");
  EXPECT_EQ(opened.complaint().severity(), v1::SEVERITY_HIGH);
  EXPECT_EQ(opened.complaint().category(), "delivery");
  EXPECT_EQ(opened.complaint().channel(), "phone");
  EXPECT_EQ(opened.complaint().description(), "third late delivery this quarter");
  const v1::Event& resolved = out.events[1];
  EXPECT_EQ(resolved.event_id(), "callcenter-complaint-5521-resolved");
  EXPECT_EQ(resolved.customer_id(), "C-1042");
  EXPECT_EQ(resolved.source(), "callcenter");
  EXPECT_EQ(resolved.occurred_at().seconds(), Seconds("2026-03-06T16:40:00Z"));
  EXPECT_EQ(resolved.complaint_resolved().complaint_id(), "5521");
  EXPECT_TRUE(resolved.complaint_resolved().customer_satisfied());
  EXPECT_EQ(resolved.complaint_resolved().resolution(), "expedited re-delivery, credit note");
  const v1::Event& open = out.events[2];  // still open: no ComplaintResolved
  EXPECT_EQ(open.event_id(), "callcenter-complaint-5522");
  EXPECT_EQ(open.complaint().severity(), v1::SEVERITY_UNSPECIFIED);
}

TEST(CallCenterComplaintsParserTest, EachBadRowIsReportedWithItsLineAndColumn) {
  Collect out = Parse(NewCallCenterComplaintsParser(),
                      {"complaint_id,customer_id,opened_at",
                       "1,C,2026-03-04 10:00:00,low,c,phone,d,,,",                       // 2 good
                       "2,C,2026-03-04 10:00:00,urgent,c,phone,d,,,",                    // 3
                       "3,C,2026-03-04 10:00:00,low,c,phone,d,2026-03-04 09:00:00,1,r",  // 4
                       "4,C,2026-03-04 10:00:00,low,c,phone,d,,,fixed",                  // 5
                       "5,C,2026-03-04 10:00:00,low,c,phone,d,2026-03-05,perhaps,r",     // 6
                       "6,C,,low,c,phone,d,,,",                                          // 7
                       "7,C,2026-03-04 10:00:00,low,c,phone,d,soon,,",                   // 8
                       ",C,2026-03-04 10:00:00,low,c,phone,d,,,",                        // 9
                       "9,C,2026-03-04 10:00:00,low,c,phone,d"});                        // 10
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.rejected.size(), 9u);
  EXPECT_THAT(out.rejected[1], HasSubstr(kComplaintsHeader));
  EXPECT_EQ(out.rejected[3], "severity: 'urgent' is not one of low|medium|high|critical");
  EXPECT_EQ(out.rejected[4], "resolved_at: before opened_at");
  EXPECT_EQ(out.rejected[5], "resolved_at: empty, yet customer_satisfied or resolution is set");
  EXPECT_THAT(out.rejected[6], HasSubstr("customer_satisfied: 'perhaps'"));
  EXPECT_EQ(out.rejected[7], "opened_at: empty");
  EXPECT_THAT(out.rejected[8], HasSubstr("resolved_at: 'soon'"));
  EXPECT_EQ(out.rejected[9], "complaint_id: empty");
  EXPECT_EQ(out.rejected[10], "expected 10 fields, got 7");
}

TEST(CallCenterComplaintsParserTest, DeterministicAndJsonRoundTrip) {
  ExpectDeterministicAndJsonRoundTrip(
      NewCallCenterComplaintsParser,
      {kComplaintsHeader,
       "1,C-1,2026-03-04 10:00:00,critical,c,web,\"said \"\"never again\"\"\","
       "2026-03-08T12:00:00Z,no,refund",
       "2,C-2,2026-03-05,medium,,,,,,"});
}

const char* kOrdersHeader =
    "document_id,customer_id,kind,date,amount,currency,product_line,quantity,"
    "reverses_document_id";

TEST(ErpOrdersParserTest, MapsEveryField) {
  Collect out = Parse(
      NewErpOrdersParser(),
      {kOrdersHeader, "SO-77120,C-1042,order,2026-03-05 08:00:00,12500.00,EUR,industrial pumps,12,",
       "INV-77120,C-1042,invoice,2026-03-06,12500,EUR,industrial pumps,,",
       "CN-5,C-1042,cancellation,2026-03-07,99.5,EUR,,1,SO-77120",
       "JP-1,C-9,order,2026-03-07,1500,JPY,,,"});
  EXPECT_TRUE(out.rejected.empty()) << out.rejected.begin()->second;
  ASSERT_EQ(out.events.size(), 4u);
  const v1::Event& e = out.events[0];
  EXPECT_EQ(e.event_id(), "erp-order-SO-77120");
  EXPECT_EQ(e.customer_id(), "C-1042");
  EXPECT_EQ(e.source(), "erp");
  EXPECT_EQ(e.occurred_at().seconds(), Seconds("2026-03-05T08:00:00Z"));
  EXPECT_EQ(e.order().order_id(), "SO-77120");
  EXPECT_EQ(e.order().kind(), v1::ORDER_KIND_ORDER);
  EXPECT_EQ(e.order().amount().currency(), "EUR");
  EXPECT_EQ(e.order().amount().minor_units(), 1250000);
  EXPECT_EQ(e.order().product_line(), "industrial pumps");
  EXPECT_EQ(e.order().quantity(), 12);
  EXPECT_EQ(e.order().reverses_order_id(), "");
  EXPECT_EQ(out.events[1].order().kind(), v1::ORDER_KIND_INVOICE);
  EXPECT_EQ(out.events[1].occurred_at().seconds(), Seconds("2026-03-06T00:00:00Z"));
  EXPECT_EQ(out.events[1].order().quantity(), 0);  // not reported
  const v1::Event& cancel = out.events[2];
  EXPECT_EQ(cancel.order().kind(), v1::ORDER_KIND_CANCELLATION);
  EXPECT_EQ(cancel.order().amount().minor_units(), 9950);
  EXPECT_EQ(cancel.order().reverses_order_id(), "SO-77120");
  EXPECT_EQ(out.events[3].order().amount().minor_units(), 1500);  // yen have no minor unit
}

TEST(ErpOrdersParserTest, EachBadRowIsReportedWithItsLineAndColumn) {
  Collect out = Parse(NewErpOrdersParser(), {kOrdersHeader,
                                             "1,C,order,2026-03-05,10.00,EUR,p,1,",       // 2 good
                                             "2,C,quote,2026-03-05,10.00,EUR,p,1,",       // 3
                                             "3,C,order,2026-13-05,10.00,EUR,p,1,",       // 4
                                             "4,C,order,2026-03-05,10.001,EUR,p,1,",      // 5
                                             "5,C,order,2026-03-05,ten,EUR,p,1,",         // 6
                                             "6,C,order,2026-03-05,-10.00,EUR,p,1,",      // 7
                                             "7,C,order,2026-03-05,10.00,eur,p,1,",       // 8
                                             "8,C,order,2026-03-05,10.00,,p,1,",          // 9
                                             "9,C,order,2026-03-05,,EUR,p,1,",            // 10
                                             "10,C,order,2026-03-05,10.00,EUR,p,1.5,",    // 11
                                             "11,C,order,2026-03-05,10.00,EUR,p,1,SO-1",  // 12
                                             "12,,order,2026-03-05,10.00,EUR,p,1,",       // 13
                                             "13,C,order,2026-03-05,10.5,JPY,p,1,",       // 14
                                             "14,C,order,2026-03-05,10.00,EUR,p,1"});     // 15
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.rejected.size(), 13u);
  EXPECT_EQ(out.rejected[3], "kind: 'quote' is not one of order|invoice|cancellation");
  EXPECT_THAT(out.rejected[4], HasSubstr("date: '2026-13-05'"));
  EXPECT_EQ(out.rejected[5], "amount: '10.001' has more than 2 decimals");
  EXPECT_EQ(out.rejected[6], "amount: 'ten' is not a decimal number");
  EXPECT_EQ(out.rejected[7], "amount: '-10.00' is negative");
  EXPECT_THAT(out.rejected[8], HasSubstr("currency: 'eur' is not an ISO 4217 code"));
  EXPECT_THAT(out.rejected[9], HasSubstr("currency: '' is not an ISO 4217 code"));
  EXPECT_EQ(out.rejected[10], "amount: empty");
  EXPECT_EQ(out.rejected[11], "quantity: '1.5' is not a whole number >= 0");
  EXPECT_THAT(out.rejected[12], HasSubstr("reverses_document_id: set, but only"));
  EXPECT_EQ(out.rejected[13], "customer_id: empty");
  EXPECT_EQ(out.rejected[14], "amount: '10.5' has more than 0 decimals");
  EXPECT_EQ(out.rejected[15], "expected 9 fields, got 8");
}

// Amounts are exact up to the largest int64 of minor units and rejected beyond it (in
// the digits, or in the scaling to the currency's minor units), never wrapped.
TEST(ErpOrdersParserTest, AnAmountBeyondInt64MinorUnitsIsRejected) {
  Collect out = Parse(NewErpOrdersParser(),
                      {kOrdersHeader, "1,C,order,2026-03-05,92233720368547758.07,EUR,p,1,",
                       "2,C,order,2026-03-05,92233720368547758.08,EUR,p,1,",
                       "3,C,order,2026-03-05,92233720368547758,BHD,p,1,",
                       "4,C,order,2026-03-05,10.00,EUR,p,99999999999999999999,"});
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].order().amount().minor_units(), 9223372036854775807);
  EXPECT_EQ(out.rejected[3], "amount: '92233720368547758.08' is too large");
  EXPECT_EQ(out.rejected[4], "amount: '92233720368547758' is too large");  // x 1000 fils
  EXPECT_EQ(out.rejected[5], "quantity: '99999999999999999999' is not a whole number >= 0");
}

TEST(ErpOrdersParserTest, DeterministicAndJsonRoundTrip) {
  ExpectDeterministicAndJsonRoundTrip(
      NewErpOrdersParser,
      {kOrdersHeader, "SO-1,C-1,order,2026-03-05 08:00:00,12500.00,EUR,\"pumps, large\",12,",
       "CN-1,C-1,cancellation,2026-03-06,10,EUR,,,SO-1"});
}

const char* kPaymentsHeader =
    "payment_id,customer_id,invoice_id,amount,currency,due_date,paid_date";

TEST(ErpPaymentsParserTest, MapsEveryField) {
  Collect out =
      Parse(NewErpPaymentsParser(),
            {kPaymentsHeader, "PAY-9001,C-1042,INV-77120,12500.00,EUR,2026-04-04,2026-04-12",
             "PAY-9002,C-7,,0.07,KWD,,2026-04-13 10:30:00"});
  EXPECT_TRUE(out.rejected.empty()) << out.rejected.begin()->second;
  ASSERT_EQ(out.events.size(), 2u);
  const v1::Event& e = out.events[0];
  EXPECT_EQ(e.event_id(), "erp-payment-PAY-9001");
  EXPECT_EQ(e.customer_id(), "C-1042");
  EXPECT_EQ(e.source(), "erp");
  EXPECT_EQ(e.occurred_at().seconds(), Seconds("2026-04-12T00:00:00Z"));
  EXPECT_EQ(e.payment().payment_id(), "PAY-9001");
  EXPECT_EQ(e.payment().invoice_id(), "INV-77120");
  EXPECT_EQ(e.payment().amount().currency(), "EUR");
  EXPECT_EQ(e.payment().amount().minor_units(), 1250000);
  EXPECT_EQ(e.payment().due_at().seconds(), Seconds("2026-04-04T00:00:00Z"));
  EXPECT_EQ(e.payment().paid_at().seconds(), Seconds("2026-04-12T00:00:00Z"));
  const v1::Event& f = out.events[1];
  EXPECT_EQ(f.payment().invoice_id(), "");
  EXPECT_FALSE(f.payment().has_due_at());             // no due date known
  EXPECT_EQ(f.payment().amount().minor_units(), 70);  // fils: 3 decimals
  EXPECT_EQ(f.occurred_at().seconds(), Seconds("2026-04-13T10:30:00Z"));
}

TEST(ErpPaymentsParserTest, EachBadRowIsReportedWithItsLineAndColumn) {
  Collect out = Parse(NewErpPaymentsParser(), {"payment_id;customer_id",
                                               "1,C,I,1.00,EUR,2026-04-04,2026-04-12",   // 2 good
                                               "2,C,I,1.00,EUR,2026-04-04,",             // 3
                                               "3,C,I,1.00,EUR,4 April,2026-04-12",      // 4
                                               "4,C,I,1.00,EURO,2026-04-04,2026-04-12",  // 5
                                               ",C,I,1.00,EUR,2026-04-04,2026-04-12",    // 6
                                               "6,C,I,1.00,EUR,2026-04-04,2026-04-12,x"});  // 7
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.rejected.size(), 6u);
  EXPECT_THAT(out.rejected[1], HasSubstr(kPaymentsHeader));
  EXPECT_EQ(out.rejected[3], "paid_date: empty");
  EXPECT_THAT(out.rejected[4], HasSubstr("due_date: '4 April'"));
  EXPECT_THAT(out.rejected[5], HasSubstr("currency: 'EURO'"));
  EXPECT_EQ(out.rejected[6], "payment_id: empty");
  EXPECT_EQ(out.rejected[7], "expected 7 fields, got 8");
}

TEST(ErpPaymentsParserTest, DeterministicAndJsonRoundTrip) {
  ExpectDeterministicAndJsonRoundTrip(
      NewErpPaymentsParser, {kPaymentsHeader, "P-1,C-1,I-1,12500.00,EUR,2026-04-04,2026-04-12",
                             "P-2,C-1,,3,USD,,2026-04-13T10:30:00.250Z"});
}

const char* kContractsHeader =
    "contract_id,customer_id,milestone,date,value,currency,renewal_due_date";

TEST(ErpContractsParserTest, MapsEveryField) {
  Collect out =
      Parse(NewErpContractsParser(),
            {kContractsHeader, "K-301,C-1042,renewal_due,2026-09-01,90000.00,EUR,2026-12-31",
             "K-301,C-1042,delivered,2026-03-01T23:30:00-02:00,,,"});
  EXPECT_TRUE(out.rejected.empty()) << out.rejected.begin()->second;
  ASSERT_EQ(out.events.size(), 2u);
  const v1::Event& e = out.events[0];
  EXPECT_EQ(e.event_id(), "erp-contract-K-301-renewal_due-2026-09-01");
  EXPECT_EQ(e.customer_id(), "C-1042");
  EXPECT_EQ(e.source(), "erp");
  EXPECT_EQ(e.occurred_at().seconds(), Seconds("2026-09-01T00:00:00Z"));
  EXPECT_EQ(e.contract().contract_id(), "K-301");
  EXPECT_EQ(e.contract().milestone(), v1::CONTRACT_MILESTONE_KIND_RENEWAL_DUE);
  EXPECT_EQ(e.contract().value().currency(), "EUR");
  EXPECT_EQ(e.contract().value().minor_units(), 9000000);
  EXPECT_EQ(e.contract().renewal_due_at().seconds(), Seconds("2026-12-31T00:00:00Z"));
  const v1::Event& f = out.events[1];
  EXPECT_EQ(f.event_id(), "erp-contract-K-301-delivered-2026-03-02");  // the UTC day
  EXPECT_EQ(f.contract().milestone(), v1::CONTRACT_MILESTONE_KIND_DELIVERED);
  EXPECT_FALSE(f.contract().has_value());
  EXPECT_FALSE(f.contract().has_renewal_due_at());
}

TEST(ErpContractsParserTest, EachBadRowIsReportedWithItsLineAndColumn) {
  Collect out =
      Parse(NewErpContractsParser(), {kContractsHeader,
                                      "K-1,C,signed,2026-01-01,100,EUR,2027-01-01",  // 2 good
                                      "K-2,C,cancelled,2026-01-01,100,EUR,",         // 3
                                      "K-3,C,signed,,100,EUR,",                      // 4
                                      "K-4,C,signed,2026-01-01,100,,",               // 5
                                      "K-5,C,signed,2026-01-01,,EUR,",               // 6
                                      "K-6,C,signed,2026-01-01,100,EUR,next year",   // 7
                                      "K-7,,signed,2026-01-01,100,EUR,"});           // 8
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.rejected.size(), 6u);
  EXPECT_THAT(out.rejected[3], HasSubstr("milestone: 'cancelled' is not one of signed|"));
  EXPECT_EQ(out.rejected[4], "date: empty");
  EXPECT_THAT(out.rejected[5], HasSubstr("currency: ''"));
  EXPECT_EQ(out.rejected[6], "value: empty");
  EXPECT_THAT(out.rejected[7], HasSubstr("renewal_due_date: 'next year'"));
  EXPECT_EQ(out.rejected[8], "customer_id: empty");
}

TEST(ErpContractsParserTest, DeterministicAndJsonRoundTrip) {
  ExpectDeterministicAndJsonRoundTrip(
      NewErpContractsParser, {kContractsHeader, "K-1,C-1,signed,2026-01-01,100.10,EUR,2027-01-01",
                              "K-1,C-1,terminated,2026-06-30 17:00:00,,,"});
}

}  // namespace
}  // namespace guanxi::connectors
