#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "connectors/connector.h"
#include "connectors/line_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace guanxi::connectors {
namespace {

using ::testing::HasSubstr;

struct Collect : EventSink {
  std::vector<v1::Event> events;
  std::map<int64_t, std::string> rejected;
  void Accept(v1::Event e) override { events.push_back(std::move(e)); }
  void Reject(int64_t line, std::string reason) override { rejected[line] = std::move(reason); }
};

Collect ParseLines(LineParser& parser, const std::vector<std::string>& lines) {
  Collect out;
  int64_t n = 0;
  for (const std::string& line : lines) parser.Line(++n, line, out);
  parser.Finish(out);
  return out;
}

Collect ParseFile(LineParser& parser, const std::string& path, int64_t* lines = nullptr) {
  Collect out;
  auto reader = LineReader::Open(path);
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return out;
  std::string line;
  int64_t n = 0;
  while ((*reader)->Next(line)) parser.Line(++n, line, out);
  EXPECT_TRUE((*reader)->status().ok()) << (*reader)->status();
  parser.Finish(out);
  if (lines) *lines = n;
  return out;
}

std::string DataPath(const std::string& name) {
  return std::string(GUANXI_SHARED_DATA_DIR) + "/" + name;
}

bool Exists(const std::string& path) { return LineReader::Open(path).ok(); }

TEST(CdnowParserTest, MapsALineToAnOrder) {
  auto parser = NewCdnowParser();
  Collect out =
      ParseLines(*parser, {" 00004 0001 19970101  2   29.33", " 00004 0001 19970101  1   10.00"});
  ASSERT_EQ(out.events.size(), 2u);
  const v1::Event& e = out.events[0];
  EXPECT_EQ(e.event_id(), "cdnow-4-19970101-0");
  EXPECT_EQ(out.events[1].event_id(), "cdnow-4-19970101-1");  // same day, next line
  EXPECT_EQ(e.customer_id(), "4");
  EXPECT_EQ(e.occurred_at().seconds(), 852076800);  // 1997-01-01T00:00:00Z
  EXPECT_EQ(e.source(), "cdnow");
  EXPECT_EQ(e.order().amount().minor_units(), 2933);
  EXPECT_EQ(e.order().amount().currency(), "USD");
  EXPECT_EQ(e.order().quantity(), 2);
}

TEST(CdnowParserTest, EachBadRowIsReportedWithItsLineAndTheRestGoesThrough) {
  auto parser = NewCdnowParser();
  Collect out = ParseLines(*parser, {
                                        "00001 0001 19970101 1 9.99",    // 1 good
                                        "00001 0001 19970101 1",         // 2 too few fields
                                        "00001 0001 19970231 1 9.99",    // 3 no such date
                                        "00001 0001 1997-01-01 1 9.99",  // 4 date form
                                        "00001 0001 19970101 x 9.99",    // 5 count
                                        "00001 0001 19970101 1 -3.00",   // 6 negative amount
                                        "00001 0001 19970101 1 9.999",   // 7 sub-cent amount
                                        "",                              // 8 blank: skipped
                                        "00002 0001 19970102 3 30.00",   // 9 good
                                    });
  EXPECT_EQ(out.events.size(), 2u);
  ASSERT_EQ(out.rejected.size(), 6u);
  EXPECT_THAT(out.rejected[2], HasSubstr("expected 5 fields"));
  EXPECT_THAT(out.rejected[3], HasSubstr("not a real date"));
  EXPECT_THAT(out.rejected[4], HasSubstr("YYYYMMDD"));
  EXPECT_THAT(out.rejected[5], HasSubstr("number of CDs"));
  EXPECT_THAT(out.rejected[6], HasSubstr("dollar value"));
  EXPECT_THAT(out.rejected[7], HasSubstr("dollar value"));
}

// Issue 20: "0000\xff7" became customer 7 (the JSON printer dropped the byte that the
// id kept), 0 rejected. The customer must be digits, and any field valid UTF-8.
TEST(CdnowParserTest, ACustomerThatIsNotDigitsIsRejectedNotCreditedToAnother) {
  auto parser = NewCdnowParser();
  Collect out = ParseLines(*parser, {
                                        "0000\xff" "7 1 19970102 1 2.00",      // 1
                                        "0000é7 1 19970102 1 2.00",             // 2
                                        "00007 1 19970102 1 2.00",             // 3 good
                                        "00007 \xff 19970102 1 2.00",          // 4
                                        "00007 1 19970102 1 99999999999999999.99",  // 5
                                    });
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].customer_id(), "7");
  EXPECT_EQ(out.rejected[1], "customer: invalid UTF-8 at byte 5 (0xff)");
  EXPECT_EQ(out.rejected[2], "customer: '0000é7' is not a customer number");
  EXPECT_EQ(out.rejected[4], "sample: invalid UTF-8 at byte 1 (0xff)");
  EXPECT_EQ(out.rejected[5], "dollar value: '99999999999999999.99' is too large");
}

TEST(CdnowParserTest, RealSampleParsesCompletelyAndDeterministically) {
  const std::string path = DataPath("cdnow/CDNOW_sample.txt");
  if (!Exists(path)) GTEST_SKIP() << path << " is not there (../shared/data)";
  auto first = NewCdnowParser();
  auto second = NewCdnowParser();
  Collect a = ParseFile(*first, path);
  Collect b = ParseFile(*second, path);
  // ../shared/data/README.md: 6,919 purchase lines, 2,357 customers.
  EXPECT_EQ(a.events.size(), 6919u);
  EXPECT_TRUE(a.rejected.empty());
  std::set<std::string> customers, ids;
  for (const v1::Event& e : a.events) {
    customers.insert(e.customer_id());
    EXPECT_TRUE(ids.insert(e.event_id()).second) << "duplicate id " << e.event_id();
  }
  EXPECT_EQ(customers.size(), 2357u);
  ASSERT_EQ(a.events.size(), b.events.size());
  for (size_t i = 0; i < a.events.size(); ++i) {
    ASSERT_EQ(a.events[i].SerializeAsString(), b.events[i].SerializeAsString()) << i;
  }
}

TEST(JsonlParserTest, AcceptsEventsAndReportsBadLines) {
  auto parser = NewJsonlParser();
  Collect out = ParseLines(
      *parser,
      {R"({"eventId":"e1","customerId":"C-1","occurredAt":"2026-03-02T09:30:00Z","visit":{"outcome":"OUTCOME_POSITIVE"}})",
       "",
       R"({"eventId":"e2","customerId":"C-1","occurredAt":"2026-03-02T09:30:00Z","visit":{},"colour":"red"})",
       R"({"eventId":"e3","customerId":"C-1","visit":{}})",
       R"({"eventId":"e4","customerId":"C-1","occurredAt":"2026-03-02T09:30:00Z"})",
       R"({"eventId":"e5",)",
       R"({"eventId":"e6","occurredAt":"yesterday","customerId":"C-1","call":{}})"});
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].visit().outcome(), v1::OUTCOME_POSITIVE);
  ASSERT_EQ(out.rejected.size(), 5u);
  EXPECT_THAT(out.rejected[3], HasSubstr("colour"));
  EXPECT_THAT(out.rejected[4], HasSubstr("occurred_at is missing"));
  EXPECT_THAT(out.rejected[5], HasSubstr("no payload"));
  EXPECT_THAT(out.rejected[6], HasSubstr("protobuf JSON"));
  EXPECT_THAT(out.rejected[7], HasSubstr("protobuf JSON"));
}

// Issue 20: JSON text that is not UTF-8, or holds a raw NUL, is rejected before the JSON
// parser (whose error would quote the bad bytes); Money with a currency that is not
// ISO 4217-shaped is rejected naming the field; an empty currency is the default one.
TEST(JsonlParserTest, InvalidUtf8NulAndBadCurrencyAreRejected) {
  auto parser = NewJsonlParser();
  const std::string order =
      R"({"eventId":"e#","customerId":"C-1","occurredAt":"2026-03-02T09:30:00Z",)"
      R"("order":{"amount":{"currency":"CUR","minorUnits":"100"}}})";
  auto line = [&](const std::string& id, const std::string& currency) {
    std::string text = order;
    text.replace(text.find('#'), 1, id);
    text.replace(text.find("CUR"), 3, currency);
    return text;
  };
  std::string nul = line("3", "EUR");
  nul.insert(nul.find("C-1"), 1, '\0');
  Collect out = ParseLines(*parser, {line("1", "EUR"), line("2", "EUR").insert(33, "\xff"), nul,
                                     line("4", "eur"), line("5", "")});
  ASSERT_EQ(out.events.size(), 2u);
  EXPECT_EQ(out.events[0].event_id(), "e1");
  EXPECT_EQ(out.events[1].event_id(), "e5");
  EXPECT_EQ(out.rejected[2],
            "not a guanxi.v1.Event in protobuf JSON: invalid UTF-8 at byte 34 (0xff)");
  EXPECT_EQ(out.rejected[3], "not a guanxi.v1.Event in protobuf JSON: a NUL byte at byte 31");
  EXPECT_EQ(out.rejected[4],
            "order.amount.currency: 'eur' is not an ISO 4217 code (three capital letters)");
}

// Issue 20: JSON nested a million deep, in a field the schema knows, in one it does not
// and at the top, is a rejected line (protobuf's JSON parser stops at its depth limit),
// never a stack overflow; the next line goes through.
TEST(JsonlParserTest, DeeplyNestedJsonIsARejectedLine) {
  auto parser = NewJsonlParser();
  const std::string deep_array = std::string(1'000'000, '[') + std::string(1'000'000, ']');
  std::string deep_object;
  for (int i = 0; i < 200'000; ++i) deep_object += "{\"a\":";
  deep_object += "1" + std::string(200'000, '}');
  const std::string good =
      R"({"eventId":"e5","customerId":"C-1","occurredAt":"2026-03-02T09:30:00Z",)"
      R"("order":{"amount":{"currency":"EUR","minorUnits":"100"}}})";
  Collect out = ParseLines(*parser, {R"({"eventId":)" + deep_array + "}",
                                     R"({"order":{"amount":)" + deep_object + "}}",
                                     R"({"noSuchField":)" + deep_array + "}", deep_array, good});
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].event_id(), "e5");
  for (int line = 1; line <= 4; ++line) {
    EXPECT_THAT(out.rejected[line], HasSubstr("not a guanxi.v1.Event in protobuf JSON"))
        << "line " << line;
  }
}

const char* kHeader =
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country";

TEST(OnlineRetailParserTest, GroupsLinesIntoOrdersAndMatchesCancellations) {
  auto parser = NewOnlineRetailParser();
  Collect out = ParseLines(
      *parser,
      {kHeader,
       "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom",
       "536365,71053,\"LANTERN, METAL\",6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom",
       "536366,22633,HAND WARMER,6,2010-12-01 08:28:00,1.85,13047.0,United Kingdom",
       "536365,84406B,CUPID HANGER,8,2010-12-01 08:26:00,0.001,17850.0,United Kingdom",
       "C536379,71053,\"LANTERN, METAL\",-2,2010-12-01 09:41:00,3.39,17850.0,United Kingdom"});
  EXPECT_TRUE(out.rejected.empty());
  ASSERT_EQ(out.events.size(), 3u);
  const v1::Event& order = out.events[0];
  EXPECT_EQ(order.event_id(), "online-retail-536365");
  EXPECT_EQ(order.customer_id(), "17850");
  EXPECT_EQ(order.order().kind(), v1::ORDER_KIND_ORDER);
  EXPECT_EQ(order.order().line_count(), 3);  // the non-adjacent third line joined it
  EXPECT_EQ(order.order().quantity(), 20);
  // 6 x 2.55 + 6 x 3.39 + 8 x 0.001 = 35.648 -> 3565 pence.
  EXPECT_EQ(order.order().amount().minor_units(), 3565);
  EXPECT_EQ(order.order().amount().currency(), "GBP");
  EXPECT_EQ(order.occurred_at().seconds(), 1291191960);  // 2010-12-01T08:26:00Z
  const v1::Event& cancel = out.events[2];
  EXPECT_EQ(cancel.event_id(), "online-retail-C536379");
  EXPECT_EQ(cancel.order().kind(), v1::ORDER_KIND_CANCELLATION);
  EXPECT_EQ(cancel.order().amount().minor_units(), 678);
  EXPECT_EQ(cancel.order().quantity(), 2);
  EXPECT_EQ(cancel.order().reverses_order_id(), "536365");
}

TEST(OnlineRetailParserTest, EachBadRowIsReportedWithItsLine) {
  auto parser = NewOnlineRetailParser();
  Collect out =
      ParseLines(*parser, {kHeader,
                           "1,A,ok,1,2011-01-01 10:00:00,1.00,12345.0,UK",            // 2 good
                           "2,A,no customer,1,2011-01-01 10:00:00,1.00,,UK",          // 3
                           "3,A,short,1,2011-01-01 10:00:00,1.00",                    // 4
                           "4,A,\"open quote,1,2011-01-01 10:00:00,1.00,12345.0,UK",  // 5
                           "5,A,qty,one,2011-01-01 10:00:00,1.00,12345.0,UK",         // 6
                           "6,A,date,1,01/01/2011 10:00,1.00,12345.0,UK",             // 7
                           "7,A,price,1,2011-01-01 10:00:00,-1.00,12345.0,UK",        // 8
                           "8,A,neg qty,-1,2011-01-01 10:00:00,1.00,12345.0,UK",      // 9
                           "C9,A,pos qty,1,2011-01-01 10:00:00,1.00,12345.0,UK",      // 10
                           "1,B,other customer,1,2011-01-01 10:00:00,1.00,999.0,UK",  // 11
                           "10,A,cust,1,2011-01-01 10:00:00,1.00,12x45.0,UK"});       // 12
  EXPECT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.rejected.size(), 10u);
  EXPECT_THAT(out.rejected[3], HasSubstr("no CustomerID"));
  EXPECT_THAT(out.rejected[4], HasSubstr("expected 8 fields"));
  EXPECT_THAT(out.rejected[5], HasSubstr("not closed"));
  EXPECT_THAT(out.rejected[6], HasSubstr("Quantity"));
  EXPECT_THAT(out.rejected[7], HasSubstr("InvoiceDate"));
  EXPECT_THAT(out.rejected[8], HasSubstr("UnitPrice"));
  EXPECT_THAT(out.rejected[9], HasSubstr("negative Quantity"));
  EXPECT_THAT(out.rejected[10], HasSubstr("positive Quantity"));
  EXPECT_THAT(out.rejected[11], HasSubstr("belongs to customer 12345"));
  EXPECT_THAT(out.rejected[12], HasSubstr("CustomerID"));
}

// Issue 20: Quantity 3000000000 x UnitPrice 3000000000 became an order of
// -201110797026118861 pence, 0 rejected. Every amount is computed with checked
// arithmetic: a line whose amount, or whose invoice's total, does not fit is rejected.
TEST(OnlineRetailParserTest, AnAmountThatOverflowsIsRejectedNotWrapped) {
  auto parser = NewOnlineRetailParser();
  Collect out = ParseLines(
      *parser,
      {kHeader,
       "1,A,big,3000000000,2010-12-01 08:26:00,3000000000,17850.0,UK",                 // 2
       "2,A,ok,1,2010-12-01 08:26:00,1.00,17850.0,UK",                                 // 3
       "3,A,max,9223372036854775,2010-12-01 08:27:00,1.000,17850.0,UK",                // 4
       "3,B,again,1,2010-12-01 08:27:00,0.808,17850.0,UK",                             // 5
       "C4,A,cancel,-3000000000,2010-12-01 08:28:00,3000000000,17850.0,UK",            // 6
       "5,A,qty,99999999999999999999,2010-12-01 08:28:00,1.00,17850.0,UK"});           // 7
  EXPECT_EQ(out.rejected[2],
            "amount: Quantity 3000000000 x UnitPrice 3000000000 is too large (it overflows a "
            "64-bit count)");
  EXPECT_EQ(out.rejected[5],
            "amount: invoice 3's total with this line is too large (it overflows a 64-bit count)");
  EXPECT_THAT(out.rejected[6], HasSubstr("amount: Quantity -3000000000 x UnitPrice 3000000000"));
  EXPECT_EQ(out.rejected[7], "Quantity: '99999999999999999999' is too large");
  EXPECT_EQ(out.rejected.size(), 4u);
  ASSERT_EQ(out.events.size(), 2u);  // invoices 2 and 3 (its first line only)
  EXPECT_EQ(out.events[0].order().amount().minor_units(), 100);
  EXPECT_EQ(out.events[1].order().amount().minor_units(), 922337203685477500);
  EXPECT_EQ(out.events[1].order().line_count(), 1);
  for (const v1::Event& e : out.events) EXPECT_GE(e.order().amount().minor_units(), 0);
}

TEST(OnlineRetailParserTest, ALineWithInvalidUtf8OrANulInAnyFieldIsRejectedNamingIt) {
  auto parser = NewOnlineRetailParser();
  const std::string nul("2,A,ok,1,2010-12-01 08:26:00,1.00,17850.0,U\0K", 46);
  Collect out = ParseLines(*parser, {kHeader, "1,A,caf\xe9,1,2010-12-01 08:26:00,1.00,17850.0,UK",
                                     nul, "3,A,café,1,2010-12-01 08:26:00,1.00,17850.0,UK"});
  EXPECT_EQ(out.rejected[2], "Description: invalid UTF-8 at byte 4 (0xe9)");
  EXPECT_EQ(out.rejected[3], "Country: a NUL byte at byte 2");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].order().order_id(), "3");
}

TEST(OnlineRetailParserTest, WrongHeaderIsReported) {
  auto parser = NewOnlineRetailParser();
  Collect out = ParseLines(*parser, {"a,b,c"});
  EXPECT_THAT(out.rejected[1], HasSubstr("unexpected header"));
}

// The figures of ../shared/data/README.md: 541,909 lines, 135,080 without a CustomerID,
// 4,372 distinct customers, 9,288 cancellation lines. Counted here besides: 383 of the
// cancellation lines lack a CustomerID, so 8,905 remain, in 3,654 cancellation invoices;
// 22,190 invoices with a customer in all.
TEST(OnlineRetailParserTest, RealDataCountsByOutcome) {
  const std::string path = DataPath("online-retail.csv.gz");
  if (!Exists(path)) GTEST_SKIP() << path << " is not there (../shared/data)";
  auto parser = NewOnlineRetailParser();
  int64_t lines = 0;
  Collect out = ParseFile(*parser, path, &lines);
  EXPECT_EQ(lines, 541909 + 1);  // + the header
  EXPECT_EQ(out.rejected.size(), 135080u);
  for (const auto& [line, reason] : out.rejected) {
    ASSERT_THAT(reason, HasSubstr("no CustomerID")) << "line " << line;
  }
  std::set<std::string> customers;
  int64_t cancellations = 0, cancellation_lines = 0, matched = 0, lines_in_events = 0;
  for (const v1::Event& e : out.events) {
    customers.insert(e.customer_id());
    lines_in_events += e.order().line_count();
    if (e.order().kind() == v1::ORDER_KIND_CANCELLATION) {
      ++cancellations;
      cancellation_lines += e.order().line_count();
      if (!e.order().reverses_order_id().empty()) ++matched;
    }
  }
  EXPECT_EQ(customers.size(), 4372u);
  EXPECT_EQ(out.events.size(), 22190u);
  EXPECT_EQ(cancellations, 3654);
  EXPECT_EQ(cancellation_lines, 9288 - 383);
  EXPECT_EQ(lines_in_events, 541909 - 135080);
  // Most cancellations reverse an order inside the data window; print the rest.
  std::cout << "cancellations matched to an earlier order: " << matched << " of " << cancellations
            << "\n";
  EXPECT_GT(matched, cancellations / 2);
}

}  // namespace
}  // namespace guanxi::connectors
