// The BG/NBD fit against the paper (Fader, Hardie & Lee 2005), end to end: the raw CDNOW
// purchases go through the cdnow connector and the event log, and `guanxi model fit`
// reproduces the published estimates from the log.
#include <fstream>
#include <sstream>

#include "app/commands.h"
#include "connectors/connector.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/event_log.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/app/command_run.h"
#include "guanxi/v1/models.pb.h"
#include "tests/engine/event_log_test_util.h"

namespace guanxi::app {
namespace {

using ::guanxi::engine::testing::TempDir;
using ::testing::HasSubstr;

using ::guanxi::testing::CommandRun;

CommandRun Guanxi(std::vector<const char*> args) {
  return ::guanxi::testing::RunGuanxi(std::move(args));
}

// Collects a connector's events.
struct Collect final : connectors::EventSink {
  std::vector<v1::Event> events;
  int64_t rejected = 0;
  void Accept(v1::Event e) override { events.push_back(std::move(e)); }
  void Reject(int64_t, std::string) override { ++rejected; }
};

TEST(ModelFitTest, CdnowThroughTheConnectorAndTheLogReproducesThePaper) {
  const std::string path = std::string(GUANXI_SHARED_DATA_DIR) + "/cdnow/CDNOW_sample.txt";
  std::ifstream in(path);
  if (!in) GTEST_SKIP() << "no " << path;
  Collect sink;
  auto parser = connectors::NewCdnowParser();
  int64_t n = 0;
  for (std::string line; std::getline(in, line);) parser->Line(++n, line, sink);
  parser->Finish(sink);
  ASSERT_EQ(sink.rejected, 0);
  ASSERT_EQ(sink.events.size(), 6919u);  // the sample's purchase records

  // Into two partitions' logs, customers split by id as Kafka would keep them together.
  TempDir data;
  std::vector<v1::LogRecord> by_partition[2];
  for (const v1::Event& e : sink.events) {
    v1::LogRecord r;
    *r.mutable_event() = e;
    by_partition[std::hash<std::string>{}(e.customer_id()) % 2].push_back(std::move(r));
  }
  for (int p = 0; p < 2; ++p) {
    auto log = engine::EventLog::Open(engine::PartitionDir(data.path(), p), {.partition = p});
    ASSERT_TRUE(log.ok()) << log.status();
    ASSERT_TRUE((*log)->Append(absl::MakeSpan(by_partition[p]), {}).ok());
  }

  // Calibration period 1997-01-01 .. 1997-09-30: the end of 30 September.
  const CommandRun fit = Guanxi({"model", "fit", "--data", data.path().c_str(), "--as-of", "1997-09-30",
                          "--json"});
  ASSERT_EQ(fit.code, kExitOk) << fit.err;
  v1::ModelRecord model;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(fit.out, &model).ok()) << fit.out;
  ASSERT_TRUE(model.has_bgnbd()) << fit.out;
  const auto& b = model.bgnbd();
  EXPECT_EQ(b.customers(), 2357);
  EXPECT_TRUE(b.converged());
  EXPECT_EQ(b.time_unit_days(), 7);
  // Published: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426 (each within 0.5%),
  // log-likelihood -9582.4 (within 0.1).
  EXPECT_NEAR(b.r(), 0.243, 0.243 * 0.005);
  EXPECT_NEAR(b.alpha(), 4.414, 4.414 * 0.005);
  EXPECT_NEAR(b.a(), 0.793, 0.793 * 0.005);
  EXPECT_NEAR(b.b(), 2.426, 2.426 * 0.005);
  EXPECT_NEAR(b.log_likelihood(), -9582.4, 0.1);
  EXPECT_EQ(model.partitions_size(), 2);

  // The same for people.
  const CommandRun text = Guanxi({"model", "fit", "--data", data.path().c_str(), "--as-of", "1997-09-30"});
  ASSERT_EQ(text.code, kExitOk) << text.err;
  EXPECT_THAT(text.out, HasSubstr("BG/NBD (time unit 7 days): r 0.2425"));
  EXPECT_THAT(text.out, HasSubstr("(2357 customers, converged)"));
}

TEST(ModelFitTest, BadAsOfIsAUsageError) {
  TempDir data;
  const CommandRun r = Guanxi({"model", "fit", "--data", data.path().c_str(), "--as-of", "soon"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--as-of: 'soon' is neither RFC 3339"));
}

}  // namespace
}  // namespace guanxi::app
