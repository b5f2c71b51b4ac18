#include "connectors/run.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

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
  std::fputs(content.c_str(), f);
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
  options.since.emplace();
  options.since->set_seconds(857174400);  // 1997-03-01T00:00:00Z: inclusive
  options.until.emplace();
  options.until->set_seconds(864950400);  // 1997-05-30T00:00:00Z: exclusive
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

TEST(LineReaderTest, MissingFileIsNotFound) {
  auto reader = LineReader::Open("/nonexistent/input.csv");
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace guanxi::connectors
