// The checks every connector applies to each record (connectors/record_checks.h) and the
// checked arithmetic money is computed with (connectors/checked_int.h).
#include "connectors/record_checks.h"

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "connectors/checked_int.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace guanxi::connectors {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

TEST(TextProblemTest, AcceptsUtf8OfEveryLength) {
  EXPECT_EQ(TextProblem(""), std::nullopt);
  EXPECT_EQ(TextProblem("C-1042, billing"), std::nullopt);
  EXPECT_EQ(TextProblem("Müller"), std::nullopt);                 // 2 bytes
  EXPECT_EQ(TextProblem("关系 \xEF\xBF\xBD"), std::nullopt);         // 3 bytes, U+FFFD
  EXPECT_EQ(TextProblem("\xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF"), std::nullopt);  // 4, U+10FFFF
  EXPECT_EQ(TextProblem("\xED\x9F\xBF"), std::nullopt);  // U+D7FF, just below the surrogates
}

// Each problem names the first bad byte, counted from 1: nothing is skipped or mended.
TEST(TextProblemTest, NamesTheFirstBadByte) {
  EXPECT_THAT(TextProblem(std::string("2026-03-03\0 14:05", 17)),
              Optional(std::string("a NUL byte at byte 11")));
  EXPECT_THAT(TextProblem("C-\xff" "1"), Optional(std::string("invalid UTF-8 at byte 3 (0xff)")));
  EXPECT_THAT(TextProblem("ab\x80"), Optional(std::string("invalid UTF-8 at byte 3 (0x80)")));
  // Overlong forms, surrogates, code points above U+10FFFF, sequences cut short.
  EXPECT_THAT(TextProblem("\xC0\x80"), Optional(HasSubstr("at byte 1 (0xc0)")));
  EXPECT_THAT(TextProblem("x\xE0\x80\xAF"), Optional(HasSubstr("at byte 2 (0xe0)")));
  EXPECT_THAT(TextProblem("\xED\xA0\x80"), Optional(HasSubstr("at byte 1 (0xed)")));
  EXPECT_THAT(TextProblem("\xF4\x90\x80\x80"), Optional(HasSubstr("at byte 1 (0xf4)")));
  EXPECT_THAT(TextProblem("\xF5\x80\x80\x80"), Optional(HasSubstr("at byte 1 (0xf5)")));
  EXPECT_THAT(TextProblem("ok\xE5\x85"), Optional(HasSubstr("at byte 3 (0xe5)")));
  EXPECT_THAT(TextProblem("\xE5\x85x"), Optional(HasSubstr("at byte 1 (0xe5)")));
}

TEST(FieldsProblemTest, NamesTheFieldAndTheByte) {
  const std::vector<std::string> names = {"call_id", "customer_id", "reason"};
  EXPECT_EQ(FieldsProblem(names, {"1", "C-1", "Müller"}), std::nullopt);
  EXPECT_THAT(FieldsProblem(names, {"1", "C-\xff" "1", std::string("a\0b", 3)}),
              Optional(std::string("customer_id: invalid UTF-8 at byte 3 (0xff)")));
  EXPECT_THAT(FieldsProblem(names, {"1", "C-1", std::string("a\0b", 3)}),
              Optional(std::string("reason: a NUL byte at byte 2")));
}

TEST(CurrencyCodeProblemTest, ThreeCapitalLetters) {
  for (const char* code : {"EUR", "JPY", "XAU"}) EXPECT_EQ(CurrencyCodeProblem(code), std::nullopt);
  for (const char* code : {"", "eur", "EURO", "E1R", "€", "US"}) {
    EXPECT_THAT(CurrencyCodeProblem(code), Optional(HasSubstr("is not an ISO 4217 code"))) << code;
  }
}

TEST(CheckedIntTest, ResultOrNothingNeverWrapped) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(CheckedMul(3'000'000'000, 3'000'000), 9'000'000'000'000'000);
  EXPECT_EQ(CheckedMul(3'000'000'000, 3'000'000'000'000), std::nullopt);  // was -2011...
  EXPECT_EQ(CheckedMul(kMax, -1), -kMax);
  EXPECT_EQ(CheckedAdd(kMax - 1, 1), kMax);
  EXPECT_EQ(CheckedAdd(kMax, 1), std::nullopt);
  EXPECT_EQ(CheckedAdd(std::numeric_limits<int64_t>::min(), -1), std::nullopt);
}

struct Collect : EventSink {
  std::vector<v1::Event> events;
  std::map<int64_t, std::string> rejected;
  size_t refuse_over_bytes = 0;  // 0: refuse nothing
  void Accept(v1::Event e) override { events.push_back(std::move(e)); }
  void Reject(int64_t line, std::string reason) override { rejected[line] = std::move(reason); }
  std::optional<std::string> Refusal(const v1::Event& event) const override {
    if (refuse_over_bytes == 0 || event.ByteSizeLong() <= refuse_over_bytes) return std::nullopt;
    return "oversized: too big";
  }
};

v1::Event Order(std::string id, std::string currency, std::string product_line = "") {
  v1::Event e;
  e.set_event_id(std::move(id));
  e.set_customer_id("C-1");
  e.mutable_occurred_at()->set_seconds(1'700'000'000);
  e.mutable_order()->mutable_amount()->set_currency(std::move(currency));
  e.mutable_order()->mutable_amount()->set_minor_units(100);
  e.mutable_order()->set_product_line(std::move(product_line));
  return e;
}

TEST(AcceptRecordTest, AcceptsEveryEventOfAGoodRecord) {
  Collect sink;
  AcceptRecord(4, {Order("a", "EUR"), Order("b", "")}, sink);  // "": the default currency
  EXPECT_TRUE(sink.rejected.empty());
  EXPECT_EQ(sink.events.size(), 2u);
}

// One event the sink refuses (too large for the destination) rejects its record whole,
// with its line: no event of it is accepted.
TEST(AcceptRecordTest, AnEventTheSinkRefusesRejectsTheWholeRecord) {
  Collect sink;
  sink.refuse_over_bytes = 200;
  AcceptRecord(7, {Order("a", "EUR"), Order("b", "EUR", std::string(500, 'x'))}, sink);
  EXPECT_TRUE(sink.events.empty());
  EXPECT_EQ(sink.rejected[7], "oversized: too big");
}

TEST(AcceptRecordTest, MoneyWithACurrencyNotIso4217ShapedIsRejectedNamingTheField) {
  Collect sink;
  AcceptRecord(3, {Order("a", "eur")}, sink);
  EXPECT_TRUE(sink.events.empty());
  EXPECT_EQ(sink.rejected[3],
            "order.amount.currency: 'eur' is not an ISO 4217 code (three capital letters)");
}

TEST(AcceptRecordTest, AnEventTheLogWouldRefuseIsRejected) {
  Collect sink;
  AcceptRecord(2, {Order("", "EUR")}, sink);
  EXPECT_THAT(sink.rejected[2], HasSubstr("event_id is missing"));
}

// A typo'd year (2207 for 2027): the engine would dead-letter it, so the row is reported
// here with its line. Years ahead of any clock this test runs on.
TEST(AcceptRecordTest, AnEventDatedFarAheadOfNowIsRejected) {
  Collect sink;
  v1::Event typo = Order("a", "EUR");
  typo.mutable_occurred_at()->set_seconds(7'500'000'000);  // 2207
  AcceptRecord(5, {typo}, sink);
  EXPECT_TRUE(sink.events.empty());
  EXPECT_THAT(sink.rejected[5], HasSubstr("occurred_at 2207-"));
  EXPECT_THAT(sink.rejected[5], HasSubstr("is more than kafka.max_future_seconds"));
}

}  // namespace
}  // namespace guanxi::connectors
