#include "connectors/run.h"

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "engine/kafka/kafka.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace guanxi::connectors {
namespace {

using ::testing::HasSubstr;

std::string WriteTemp(const std::string& content) {
  std::string path = ::testing::TempDir() + "/connect_input_XXXXXX";
  std::vector<char> name(path.begin(), path.end());
  name.push_back('\0');
  const int fd = mkstemp(name.data());
  EXPECT_GE(fd, 0);
  FILE* f = fdopen(fd, "w");
  std::fwrite(content.data(), 1, content.size(), f);  // every byte, NUL included
  std::fclose(f);
  return name.data();
}

const char* kCdnow =
    "00001 0001 19970101 1 10.00\n"
    "00001 0001 19970301 1 10.00\n"
    "garbage line\n"
    "00002 0001 19970601 2 20.00\n";

TEST(RunConnectorTest, CountsEveryOutcomeAndFiltersByEventTime) {
  const std::string path = WriteTemp(kCdnow);
  auto reader = LineReader::Open(path);
  ASSERT_TRUE(reader.ok());
  auto parser = NewCdnowParser();
  std::ostringstream out;
  JsonlPublisher publisher(out);
  ConnectOptions options;
  // The window is (since, until]: the first order's own instant is left out, the
  // second's is kept, so one run's --until T and the next one's --since T neither
  // overlap nor leave a gap.
  options.since.emplace();
  options.since->set_seconds(852076800);  // 1997-01-01T00:00:00Z, the first order: after it
  options.until.emplace();
  options.until->set_seconds(857174400);  // 1997-03-01T00:00:00Z, the second: at or before
  std::vector<int64_t> rejected_lines;
  ConnectHooks hooks{
      .on_reject = [&](int64_t line, const std::string&) { rejected_lines.push_back(line); }};
  auto summary = RunConnector(**reader, *parser, publisher, options, hooks);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->lines, 4);
  EXPECT_EQ(summary->events, 3);
  EXPECT_EQ(summary->filtered, 2);
  EXPECT_EQ(summary->sent, 1);
  EXPECT_EQ(summary->rejected, 1);
  EXPECT_EQ(rejected_lines, std::vector<int64_t>{3});
  EXPECT_EQ(summary->rejected_by_reason.begin()->second, 1);
  EXPECT_THAT(out.str(), HasSubstr("\"eventId\":\"cdnow-1-19970301-0\""));
  std::remove(path.c_str());
}

// What the connector writes as JSONL, the jsonl connector reads back identically.
TEST(RunConnectorTest, JsonlOutputRoundTripsThroughTheJsonlParser) {
  const std::string path = WriteTemp(kCdnow);
  auto reader = LineReader::Open(path);
  auto parser = NewCdnowParser();
  std::ostringstream first;
  JsonlPublisher to_first(first);
  ASSERT_TRUE(RunConnector(**reader, *parser, to_first, {}, {}).ok());

  const std::string jsonl = WriteTemp(first.str());
  auto reader2 = LineReader::Open(jsonl);
  auto parser2 = NewJsonlParser();
  std::ostringstream second;
  JsonlPublisher to_second(second);
  auto summary = RunConnector(**reader2, *parser2, to_second, {}, {});
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->sent, 3);
  EXPECT_EQ(summary->rejected, 0);
  EXPECT_EQ(first.str(), second.str());
  std::remove(path.c_str());
  std::remove(jsonl.c_str());
}

class FailingPublisher final : public EventPublisher {
 public:
  absl::Status Publish(const v1::Event&) override {
    ++published_;
    return absl::OkStatus();
  }
  absl::StatusOr<int64_t> Flush() override { return published_; }  // every delivery failed

 private:
  int64_t published_ = 0;
};

TEST(RunConnectorTest, FailedDeliveriesAreCountedNotSent) {
  const std::string path = WriteTemp(kCdnow);
  auto reader = LineReader::Open(path);
  auto parser = NewCdnowParser();
  FailingPublisher publisher;
  auto summary = RunConnector(**reader, *parser, publisher, {}, {});
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->sent, 0);
  EXPECT_EQ(summary->failed, 3);
  std::remove(path.c_str());
}

TEST(LineReaderTest, ANulByteStaysInItsLine) {
  const std::string path = WriteTemp(std::string("one\ntw\0o\n\nthree", 15));
  auto reader = LineReader::Open(path);
  ASSERT_TRUE(reader.ok());
  std::vector<std::string> lines;
  for (std::string line; (*reader)->Next(line);) lines.push_back(line);
  EXPECT_TRUE((*reader)->status().ok());
  EXPECT_EQ(lines, (std::vector<std::string>{"one", std::string("tw\0o", 4), "", "three"}));
  std::remove(path.c_str());
}

TEST(LineReaderTest, ALineOverTheMaximumComesEmptyWithItsLengthAndTheNextIsWhole) {
  const std::string path = WriteTemp("short\n0123456789abcdef\nnext\n\nlast-too-long");
  auto reader = LineReader::Open(path, /*max_line_bytes=*/8);
  ASSERT_TRUE(reader.ok());
  std::vector<std::pair<std::string, int64_t>> lines;
  for (std::string line; (*reader)->Next(line);) {
    lines.emplace_back(line, (*reader)->overlong_bytes());
  }
  EXPECT_TRUE((*reader)->status().ok());
  EXPECT_EQ(lines, (std::vector<std::pair<std::string, int64_t>>{
                       {"short", 0}, {"", 16}, {"next", 0}, {"", 0}, {"", 13}}));
  std::remove(path.c_str());
}

struct RunResult {
  ConnectSummary summary;
  std::map<int64_t, std::string> rejected;
  std::string out;
};

RunResult RunFile(const std::string& input, std::unique_ptr<LineParser> parser,
              EventPublisher* publisher = nullptr, const ConnectOptions& options = {}) {
  RunResult result;
  const std::string path = WriteTemp(input);
  auto reader = LineReader::Open(path);
  EXPECT_TRUE(reader.ok());
  std::ostringstream out;
  JsonlPublisher jsonl(out);
  ConnectHooks hooks{.on_reject = [&](int64_t line, const std::string& reason) {
    result.rejected[line] = reason;
  }};
  auto summary =
      RunConnector(**reader, *parser, publisher ? *publisher : jsonl, options, hooks);
  EXPECT_TRUE(summary.ok()) << summary.status();
  if (summary.ok()) result.summary = *summary;
  result.out = out.str();
  std::remove(path.c_str());
  return result;
}

const char* kCallsHeader =
    "call_id,customer_id,start,end,direction,reason,resolved,sentiment,agent,useful_information\n";

std::string Call(const std::string& id, const std::string& start = "2026-03-03 14:05:10",
                 const std::string& reason = "x") {
  return absl::StrCat(id, ",C-", id, ",", start, ",2026-03-03 14:12:02,inbound,", reason,
                      ",yes,,a,false\n");
}

// Issue 20: a NUL byte made the line reader stop the line there and glue the next line
// to it, which then vanished into the bad one's error ("expected 10 fields, got 19").
TEST(RunConnectorTest, ANulByteRejectsItsLineAloneAndTheNextLineGoesThrough) {
  RunResult csv = RunFile(absl::StrCat(kCallsHeader, Call("1"),
                                   Call("2", std::string("2026-03-03\0 14:05:10", 20)),
                                   Call("3"), Call("4")),
                      NewCallCenterCallsParser());
  EXPECT_EQ(csv.summary.lines, 5);
  EXPECT_EQ(csv.summary.sent, 3);
  EXPECT_EQ(csv.rejected, (std::map<int64_t, std::string>{{3, "start: a NUL byte at byte 11"}}));
  EXPECT_THAT(csv.out, HasSubstr("\"callcenter-call-3\""));

  const std::string event =
      R"({"eventId":"e#","customerId":"C-1","occurredAt":"2026-03-02T09:30:00Z","visit":{}})";
  std::string jsonl;
  for (const char* n : {"1", "2", "3"}) {
    std::string line = absl::StrReplaceAll(event, {{"#", n}});
    if (std::string(n) == "2") line.insert(line.find("C-1"), 1, '\0');
    absl::StrAppend(&jsonl, line, "\n");
  }
  RunResult json = RunFile(jsonl, NewJsonlParser());
  EXPECT_EQ(json.summary.lines, 3);
  EXPECT_EQ(json.summary.sent, 2);
  ASSERT_EQ(json.rejected.size(), 1u);
  EXPECT_EQ(json.rejected[2], "not a guanxi.v1.Event in protobuf JSON: a NUL byte at byte 31");
  EXPECT_THAT(json.out, HasSubstr("\"e3\""));
}

// Takes what KafkaSizeRefusal lets through, as the Kafka publisher does (app/publishers.cc).
class SizeLimitedPublisher final : public EventPublisher {
 public:
  explicit SizeLimitedPublisher(KafkaSizeLimits limits) : limits_(limits) {}
  std::optional<std::string> Refusal(const v1::Event& event) const override {
    return KafkaSizeRefusal(event.customer_id().size(), event.ByteSizeLong(), limits_);
  }
  absl::Status Publish(const v1::Event& event) override {
    if (auto refused = Refusal(event)) return absl::InvalidArgumentError(*refused);
    ids.push_back(event.event_id());
    return absl::OkStatus();
  }
  absl::StatusOr<int64_t> Flush() override { return 0; }
  std::vector<std::string> ids;

 private:
  KafkaSizeLimits limits_;
};

// Issue 20: one row whose event was over message.max.bytes failed the produce call and
// stopped the run with exit 1; nothing in --rejects, later rows never sent.
TEST(RunConnectorTest, AnEventTooLargeForThePublisherRejectsItsRowAndTheRunGoesOn) {
  SizeLimitedPublisher publisher({.max_message_bytes = 1000, .max_event_bytes = 1 << 20});
  RunResult r = RunFile(absl::StrCat(kCallsHeader, Call("1"),
                                 Call("2", "2026-03-03 14:05:10", std::string(2000, 'r')),
                                 Call("3")),
                    NewCallCenterCallsParser(), &publisher);
  EXPECT_EQ(publisher.ids, (std::vector<std::string>{"callcenter-call-1", "callcenter-call-3"}));
  EXPECT_EQ(r.summary.sent, 2);
  EXPECT_EQ(r.summary.rejected, 1);
  EXPECT_EQ(r.summary.rejected_by_reason.at("oversized"), 1);
  ASSERT_EQ(r.rejected.count(3), 1u);
  EXPECT_THAT(r.rejected[3], testing::MatchesRegex("oversized: the event is 2[0-9]{3} bytes, "
                                                   "over the 997 bytes a Kafka message may "
                                                   "carry with its 3-byte key .*"));
  // An event outside --since/--until is not sent, so it is not refused either.
  SizeLimitedPublisher later({.max_message_bytes = 1000, .max_event_bytes = 1 << 20});
  ConnectOptions options;
  options.until.emplace();
  options.until->set_seconds(1);
  RunResult filtered =
      RunFile(absl::StrCat(kCallsHeader, Call("2", "2026-03-03 14:05:10", std::string(2000, 'r'))),
          NewCallCenterCallsParser(), &later, options);
  EXPECT_EQ(filtered.summary.rejected, 0);
  EXPECT_EQ(filtered.summary.filtered, 1);
}

TEST(KafkaSizeRefusalTest, CountsTheKeyAndValueAgainstEachLimit) {
  const KafkaSizeLimits limits{.max_message_bytes = 1000, .max_event_bytes = 1 << 20};
  EXPECT_EQ(KafkaSizeRefusal(10, 990, limits), std::nullopt);
  EXPECT_EQ(KafkaSizeRefusal(10, 991, limits),
            "oversized: the event is 991 bytes, over the 990 bytes a Kafka message may carry "
            "with its 10-byte key (message.max.bytes less framing)");
  EXPECT_NE(KafkaSizeRefusal(1001, 0, limits), std::nullopt);  // the key alone
  const KafkaSizeLimits engine{.max_message_bytes = 1'000'000, .max_event_bytes = 900};
  EXPECT_EQ(KafkaSizeRefusal(10, 900, engine), std::nullopt);
  EXPECT_EQ(KafkaSizeRefusal(10, 901, engine),
            "oversized: the event is 901 bytes, over kafka.max_event_bytes 900 (the engine would "
            "dead-letter it)");
}

// With the producer's own limit (as app/publishers.cc uses it), what KafkaSizeRefusal lets
// through the producer takes, and what the producer refuses ("Message size too large")
// KafkaSizeRefusal refuses first: so a Kafka run never stops on a produce error of size.
TEST(KafkaSizeRefusalTest, AgreesWithTheProducer) {
  auto cluster = engine::EmbeddedCluster::Start(1);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  ASSERT_TRUE((*cluster)->CreateTopic("events", 1, 1).ok());
  int delivered = 0;
  auto producer = engine::Producer::Create((*cluster)->bootstrap_servers(),
                                           {{"message.max.bytes", "1000"}},
                                           [&](const engine::Producer::Delivery& d) {
                                             if (d.status.ok()) ++delivered;
                                           });
  ASSERT_TRUE(producer.ok()) << producer.status();
  const KafkaSizeLimits limits{.max_message_bytes = (*producer)->max_message_bytes()};
  ASSERT_GT(limits.max_message_bytes, 900u);
  ASSERT_LE(limits.max_message_bytes, 1000u);
  int produced = 0, refused_by_producer = 0;
  for (const size_t key_bytes : {size_t{0}, size_t{3}, size_t{200}}) {
    const std::string key(key_bytes, 'k');
    const size_t largest = limits.max_message_bytes - key_bytes;  // let through, just
    for (size_t value_bytes = largest - 2; value_bytes <= largest + 80; ++value_bytes) {
      SCOPED_TRACE(absl::StrCat("key ", key_bytes, " bytes, value ", value_bytes, " bytes"));
      const bool let_through = !KafkaSizeRefusal(key_bytes, value_bytes, limits);
      EXPECT_EQ(let_through, value_bytes <= largest);
      const absl::Status status =
          (*producer)->Produce("events", key, std::string(value_bytes, 'v'), 0);
      if (status.ok()) {
        ++produced;
      } else {
        ++refused_by_producer;
        EXPECT_THAT(status.message(), HasSubstr("Message size too large"));
        EXPECT_FALSE(let_through);
      }
      if (let_through) {
        EXPECT_TRUE(status.ok()) << status;
      }
    }
  }
  EXPECT_GT(refused_by_producer, 0);  // the loop did reach the producer's own limit
  EXPECT_EQ((*producer)->Flush(absl::Seconds(30)), 0);
  EXPECT_EQ(delivered, produced);
}

TEST(LineReaderTest, MissingFileIsNotFound) {
  auto reader = LineReader::Open("/nonexistent/input.csv");
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kNotFound);
}

// A 100 MB line (issue 20): rejected with its line number and length, read without
// being kept, and the lines around it go through.
TEST(RunConnectorTest, AHundredMegabyteLineIsRejectedAndTheRestGoesThrough) {
  std::string input = "00001 0001 19970101 1 10.00\n";
  input.append(size_t{100} << 20, '7');
  input += "\n00002 0001 19970601 2 20.00\n";
  RunResult r = RunFile(input, NewCdnowParser());
  EXPECT_EQ(r.summary.lines, 3);
  EXPECT_EQ(r.summary.events, 2);
  EXPECT_EQ(r.summary.rejected, 1);
  EXPECT_EQ(r.rejected[2],
            absl::StrCat("too long: the line is 104857600 bytes, over the ",
                         LineReader::kMaxLineBytes, " a line may have (no event is that large)"));
  EXPECT_EQ(r.summary.rejected_by_reason["too long"], 1);
}

}  // namespace
}  // namespace guanxi::connectors
