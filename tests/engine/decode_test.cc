#include "engine/ingest/decode.h"

#include <cmath>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "engine/storage/event_log.h"
#include "gtest/gtest.h"

namespace guanxi::engine {
namespace {

v1::Event ValidEvent() {
  v1::Event e;
  e.set_event_id("erp-order-1");
  e.set_customer_id("C-1");
  e.mutable_occurred_at()->set_seconds(1'700'000'000);
  e.set_source("erp");
  e.mutable_order()->set_order_id("1");
  e.mutable_order()->mutable_amount()->set_minor_units(1250);
  return e;
}

std::string Bytes(const v1::Event& e) { return e.SerializeAsString(); }

TEST(DecodeEventTest, AcceptsValidEventWithMatchingKeyOrNoKey) {
  const std::string bytes = Bytes(ValidEvent());
  DecodeResult r = DecodeEvent("C-1", bytes, {});
  ASSERT_TRUE(r.ok()) << r.rejection->reason;
  EXPECT_EQ(r.event.event_id(), "erp-order-1");
  EXPECT_EQ(r.event.order().amount().minor_units(), 1250);
  EXPECT_TRUE(DecodeEvent("", bytes, {}).ok());
}

struct Case {
  const char* name;
  void (*mutate)(v1::Event&);
  std::string_view code;
};

TEST(DecodeEventTest, EachMissingOrBadFieldHasItsReason) {
  const Case cases[] = {
      {"no event_id", [](v1::Event& e) { e.clear_event_id(); }, kReasonMissingEventId},
      {"no customer_id", [](v1::Event& e) { e.clear_customer_id(); }, kReasonMissingCustomerId},
      {"no occurred_at", [](v1::Event& e) { e.clear_occurred_at(); }, kReasonMissingOccurredAt},
      {"no payload", [](v1::Event& e) { e.clear_payload(); }, kReasonUnknownEventType},
      {"control char in id", [](v1::Event& e) { e.set_event_id("a\nb"); }, kReasonBadField},
      {"id too long", [](v1::Event& e) { e.set_customer_id(std::string(257, 'x')); },
       kReasonBadField},
      {"nanos out of range", [](v1::Event& e) { e.mutable_occurred_at()->set_nanos(-1); },
       kReasonBadField},
      {"year 10000", [](v1::Event& e) { e.mutable_occurred_at()->set_seconds(253402300800); },
       kReasonBadField},
  };
  for (const Case& c : cases) {
    v1::Event e = ValidEvent();
    c.mutate(e);
    DecodeResult r = DecodeEvent("", Bytes(e), {});
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.rejection->code, c.code) << c.name << ": " << r.rejection->reason;
    EXPECT_FALSE(r.rejection->reason.empty()) << c.name;
  }
}

// Figures with a documented range (docs/events.md): outside it, the event is refused
// with a reason that names the field; inside it, and when absent, it is accepted.
TEST(DecodeEventTest, FiguresOutsideTheirDocumentedRangeAreBadFields) {
  struct FigureCase {
    const char* name;
    void (*mutate)(v1::Event&);
    const char* field;  // empty: accepted
  };
  const FigureCase cases[] = {
      {"sentiment 0.4", [](v1::Event& e) { e.mutable_call()->set_sentiment(0.4); }, ""},
      {"call not scored", [](v1::Event& e) { e.mutable_call()->set_call_id("c"); }, ""},
      {"sentiment on 0..100", [](v1::Event& e) { e.mutable_call()->set_sentiment(72); },
       "call.sentiment"},
      {"sentiment NaN", [](v1::Event& e) { e.mutable_call()->set_sentiment(std::nan("")); },
       "call.sentiment"},
      {"lean -1", [](v1::Event& e) { e.mutable_competitor_signal()->set_lean(-1); }, ""},
      {"lean -1.5", [](v1::Event& e) { e.mutable_competitor_signal()->set_lean(-1.5); },
       "competitor_signal.lean"},
      {"satisfaction 4 of 1..5",
       [](v1::Event& e) {
         auto* s = e.mutable_survey();
         s->set_satisfaction(4);
         s->set_scale_min(1);
         s->set_scale_max(5);
       },
       ""},
      {"NPS alone", [](v1::Event& e) { e.mutable_survey()->set_nps(9); }, ""},
      {"satisfaction 7 of 1..5",
       [](v1::Event& e) {
         auto* s = e.mutable_survey();
         s->set_satisfaction(7);
         s->set_scale_min(1);
         s->set_scale_max(5);
       },
       "survey.satisfaction"},
      {"satisfaction without a scale",
       [](v1::Event& e) { e.mutable_survey()->set_satisfaction(4); },
       "survey.scale_min..scale_max"},
      {"NPS 11",
       [](v1::Event& e) {
         auto* s = e.mutable_survey();
         s->set_satisfaction(4);
         s->set_scale_min(1);
         s->set_scale_max(5);
         s->set_nps(11);
       },
       "survey.nps"},
      {"assessment 0..100",
       [](v1::Event& e) {
         e.mutable_assessment()->set_acceptance(0);
         e.mutable_assessment()->set_guidance(100);
       },
       ""},
      {"assessment 120",
       [](v1::Event& e) {
         e.mutable_assessment()->set_acceptance(70);
         e.mutable_assessment()->set_competitive_preference(120);
       },
       "assessment.competitive_preference"},
      {"payment due in year 10000",
       [](v1::Event& e) { e.mutable_payment()->mutable_due_at()->set_seconds(253402300800); },
       "payment.due_at"},
      {"renewal due with bad nanos",
       [](v1::Event& e) { e.mutable_contract()->mutable_renewal_due_at()->set_nanos(-5); },
       "contract.renewal_due_at"},
  };
  for (const FigureCase& c : cases) {
    v1::Event e = ValidEvent();
    c.mutate(e);
    DecodeResult r = DecodeEvent("", Bytes(e), {});
    if (std::string_view(c.field).empty()) {
      EXPECT_TRUE(r.ok()) << c.name << ": " << r.rejection->reason;
      continue;
    }
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.rejection->code, kReasonBadField) << c.name;
    EXPECT_EQ(r.rejection->reason.rfind(c.field, 0), 0u) << c.name << ": " << r.rejection->reason;
  }
}

TEST(DecodeEventTest, GarbageIsUndecodable) {
  DecodeResult r = DecodeEvent("", std::string("\xff\xff\xff\xff garbage", 12), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.rejection->code, kReasonUndecodable);
}

TEST(DecodeEventTest, UnknownPayloadFieldIsUnknownEventType) {
  // A newer producer's event type: field 99 (length-delimited) that this build lacks.
  v1::Event e = ValidEvent();
  e.clear_payload();
  std::string bytes = Bytes(e);
  bytes += std::string("\x9a\x06\x02\x08\x01", 5);  // tag (99 << 3 | 2), len 2, {1: 1}
  DecodeResult r = DecodeEvent("", bytes, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.rejection->code, kReasonUnknownEventType);
  EXPECT_NE(r.rejection->reason.find("does not know"), std::string::npos);
}

TEST(DecodeEventTest, OversizedIsRejectedBeforeParsing) {
  DecodeResult r = DecodeEvent("", Bytes(ValidEvent()), {.max_event_bytes = 8});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.rejection->code, kReasonOversized);
}

TEST(DecodeEventTest, KeyMustEqualCustomerId) {
  DecodeResult r = DecodeEvent("C-2", Bytes(ValidEvent()), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.rejection->code, kReasonKeyMismatch);
}

TEST(DecodeEventTest, DeadLetterKeepsOriginalBytesAndCoordinates) {
  const std::string value("\x01\x02garbage", 9);
  v1::SourceCoordinates source;
  source.set_topic("guanxi.events");
  source.set_partition(3);
  source.set_offset(42);
  DecodeResult r = DecodeEvent("k", value, {});
  ASSERT_FALSE(r.ok());
  v1::DeadLetter d = MakeDeadLetter("k", value, source, *r.rejection, 1'700'000'000'123,
                                    DecodeLimits{}.max_message_bytes);
  EXPECT_EQ(d.original_value(), value);
  EXPECT_EQ(d.original_key(), "k");
  EXPECT_EQ(d.source().partition(), 3);
  EXPECT_EQ(d.source().offset(), 42);
  EXPECT_EQ(d.reason_code(), kReasonUndecodable);
  EXPECT_EQ(d.dead_lettered_at().seconds(), 1'700'000'000);
  EXPECT_EQ(d.dead_lettered_at().nanos(), 123'000'000);
  EXPECT_FALSE(d.has_value_truncated());
  EXPECT_FALSE(d.has_key_truncated());
}

std::string Sha256(std::string_view bytes) {
  const Hash hash = EventLog::HashOf(bytes);
  return std::string(reinterpret_cast<const char*>(hash.data()), hash.size());
}

// `n` bytes that are no guanxi.v1.Event (field number 0 is invalid), the rest varied.
std::string Garbage(size_t n) {
  std::string bytes(n, '\0');
  uint64_t x = 7;
  for (size_t i = 1; i < n; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    bytes[i] = static_cast<char>(x >> 56);
  }
  return bytes;
}

// A dead letter is never heavier than the producer sends (else the partition would
// stop on it for good): the original whole up to the last byte that fits, its first
// bytes beyond, with the whole's size and SHA-256 and a reason that says so.
TEST(DecodeEventTest, DeadLetterCarriesTheOriginalWholeUpToTheBudgetThenItsPrefix) {
  constexpr size_t kMax = 10'000;
  v1::SourceCoordinates source;
  source.set_topic("guanxi.events");
  source.set_offset(7);
  const Rejection rejection{kReasonUndecodable, "not a guanxi.v1.Event"};
  const std::string all = Garbage(kMax + 200);
  size_t largest_whole = 0;
  for (size_t n = kMax - 200; n <= all.size(); ++n) {
    const std::string_view value(all.data(), n);
    const v1::DeadLetter d = MakeDeadLetter("c1", value, source, rejection, 0, kMax);
    ASSERT_LE(DeadLetterBytes(d), kMax) << n;
    EXPECT_EQ(d.original_key(), "c1");
    EXPECT_FALSE(d.has_key_truncated());
    if (!d.has_value_truncated()) {
      ASSERT_TRUE(largest_whole == 0 || largest_whole == n - 1)
          << "whole again after a cut one, at " << n;
      EXPECT_EQ(d.original_value(), value);
      EXPECT_EQ(d.reason(), "not a guanxi.v1.Event");
      largest_whole = n;
      continue;
    }
    EXPECT_EQ(d.value_truncated().original_size(), static_cast<int64_t>(n));
    EXPECT_EQ(d.value_truncated().original_sha256(), Sha256(value));
    EXPECT_EQ(d.original_value(), value.substr(0, d.original_value().size()));
    EXPECT_GE(d.original_value().size(), kMax - 300) << n;  // only the envelope is given up
    EXPECT_EQ(d.reason(),
              absl::StrCat("not a guanxi.v1.Event; the value, ", n,
                           " bytes, is cut to its first bytes to fit a dead letter "
                           "(value_truncated has its size and SHA-256)"));
    EXPECT_EQ(d.reason_code(), kReasonUndecodable);
    EXPECT_EQ(d.source().offset(), 7);
  }
  // The boundary is the budget's: one byte more than the largest whole one did not fit.
  ASSERT_GT(largest_whole, kMax - 200);
  EXPECT_LT(largest_whole, kMax);
  v1::DeadLetter whole = MakeDeadLetter("c1", std::string_view(all.data(), largest_whole), source,
                                        rejection, 0, kMax);
  EXPECT_GE(DeadLetterBytes(whole), kMax - 1);  // one byte more is over
}

// A key that large (a poison message's) is cut too, to a quarter of the budget: it
// travels twice, in the letter and as the letter's own key.
TEST(DecodeEventTest, DeadLetterCutsAHugeKeyAndTheValueAfterIt) {
  constexpr size_t kMax = 10'000;
  const Rejection rejection{kReasonKeyMismatch, "the Kafka key must equal customer_id"};
  const std::string key = Garbage(6'000), value = Garbage(8'000);
  const v1::DeadLetter d = MakeDeadLetter(key, value, {}, rejection, 0, kMax);
  EXPECT_LE(DeadLetterBytes(d), kMax);
  EXPECT_EQ(d.original_key(), key.substr(0, kMax / 4));
  EXPECT_EQ(d.key_truncated().original_size(), 6'000);
  EXPECT_EQ(d.key_truncated().original_sha256(), Sha256(key));
  EXPECT_EQ(d.value_truncated().original_size(), 8'000);
  EXPECT_EQ(d.original_value(), value.substr(0, d.original_value().size()));
  EXPECT_NE(d.reason().find("the key, 6000 bytes, is cut"), std::string::npos) << d.reason();
  EXPECT_NE(d.reason().find("the value, 8000 bytes, is cut"), std::string::npos) << d.reason();
  // A huge key with a small value: only the key is cut.
  const v1::DeadLetter key_only = MakeDeadLetter(key, "tiny", {}, rejection, 0, kMax);
  EXPECT_LE(DeadLetterBytes(key_only), kMax);
  EXPECT_TRUE(key_only.has_key_truncated());
  EXPECT_FALSE(key_only.has_value_truncated());
  EXPECT_EQ(key_only.original_value(), "tiny");
}

}  // namespace
}  // namespace guanxi::engine
