// A backfill of real data leaves every partition the population models live running
// would (issue 19, item 2): the UCI online-retail orders (a year, 4,300 or so customers)
// through the connector and the topic into eight partitions with `--until-caught-up`.
// Every partition then holds a model record for every 30 days of its event time, its
// latest fitted within a refit period of its clock, BG/NBD included; every customer with a
// purchase has its P(alive); and the churn risk, calibrated once snapshots are a horizon
// old, is known for every customer.
#include <atomic>
#include <map>
#include <string>
#include <vector>

#include "connectors/connector.h"
#include "connectors/line_reader.h"
#include "engine/config/config.h"
#include "engine/ingest/ingest_engine.h"
#include "engine/kafka/kafka.h"
#include "engine/kafka/topics.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/event_log.h"
#include "engine/storage/projection_store.h"
#include "gtest/gtest.h"
#include "tests/engine/event_log_test_util.h"

namespace guanxi::engine {
namespace {

using ::guanxi::engine::testing::TempDir;

constexpr int kPartitions = 8;
constexpr int64_t kDay = 86400;

struct Collect final : connectors::EventSink {
  std::vector<v1::Event> events;
  void Accept(v1::Event e) override { events.push_back(std::move(e)); }
  void Reject(int64_t, std::string) override {}
};

TEST(BackfillModelsTest, EveryPartitionOfARealBackfillHasItsModelsAndEveryCustomerItsRisk) {
  const std::string path = std::string(GUANXI_SHARED_DATA_DIR) + "/online-retail.csv.gz";
  auto reader = connectors::LineReader::Open(path);
  if (!reader.ok()) GTEST_SKIP() << reader.status();
  Collect sink;
  auto parser = connectors::NewOnlineRetailParser();
  std::string line;
  int64_t n = 0;
  while ((*reader)->Next(line)) parser->Line(++n, line, sink);
  parser->Finish(sink);
  ASSERT_GT(sink.events.size(), 20000u);

  auto cluster = std::move(*EmbeddedCluster::Start(1));
  const v1::EngineConfig config = DefaultEngineConfig();
  ASSERT_TRUE(CreateGuanxiTopics(*cluster, config.kafka(), kPartitions).ok());
  const std::string brokers = cluster->bootstrap_servers();
  {
    auto producer = std::move(*Producer::Create(brokers, {}, nullptr));
    for (const v1::Event& e : sink.events) {
      ASSERT_TRUE(producer
                      ->Produce(config.kafka().events_topic(), e.customer_id(),
                                e.SerializeAsString(), 0)
                      .ok());
    }
    ASSERT_EQ(producer->Flush(absl::Seconds(60)), 0);
  }

  TempDir data;
  std::atomic<bool> stop{false};
  IngestEngine engine(
      {.brokers = brokers, .data_dir = data.path(), .config = config, .until_caught_up = true});
  const absl::Status run = engine.Run(stop);
  ASSERT_TRUE(run.ok()) << run;

  const int64_t refit = int64_t{config.classification().model_refit_days()} * kDay;
  int64_t customers = 0;
  for (int32_t p = 0; p < kPartitions; ++p) {
    EventLogOptions options;
    options.extra_column_families = ProjectionStore::ColumnFamilies();
    auto log = std::move(*EventLog::Open(PartitionDir(data.path(), p), options));
    auto store = std::move(*ProjectionStore::Attach(log.get()));
    int models = 0;
    int64_t first_event = 0;
    uint64_t last_model = 0;
    ASSERT_TRUE(log->ReadRange(0, UINT64_MAX, [&](const v1::LogRecord& r) {
                     if (r.has_model()) {
                       ++models;
                       last_model = r.position();
                       EXPECT_GT(r.model().reclassify_per_record(), 0u);
                     }
                     if (r.has_event() && first_event == 0) {
                       first_event = r.event().occurred_at().seconds();
                     }
                     return true;
                   }).ok());
    auto checkpoint = store->ReadCheckpoint();
    ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
    ASSERT_EQ(checkpoint->next_position(), log->next_position()) << "partition " << p;
    ASSERT_TRUE(checkpoint->has_model()) << "partition " << p;
    const v1::ModelRecord& model = checkpoint->model();
    const int64_t clock = checkpoint->clock().seconds();
    // A model for every refit period of event time since the first (a day's slack a
    // refit: a try that finds the population too small waits a day).
    EXPECT_GE(models, (clock - first_event) / (refit + kDay)) << "partition " << p;
    EXPECT_LE(clock - model.as_of().seconds(), refit + kDay) << "partition " << p;
    EXPECT_TRUE(model.has_bgnbd()) << "partition " << p;
    ASSERT_TRUE(model.has_churn_risk()) << "partition " << p;
    EXPECT_GE(model.churn_risk().examples(), 20) << "partition " << p;
    // Everyone reclassified under the last model: the backfill's end finished its pass.
    EXPECT_FALSE(checkpoint->has_reclassify()) << "partition " << p;
    ASSERT_TRUE(store
                    ->ForEachState([&](const v1::CustomerState& s) {
                      ++customers;
                      EXPECT_EQ(s.reclassified_under(), last_model) << s.customer_id();
                      if (s.purchase_days() > 0) {
                        EXPECT_GT(s.p_alive(), 0) << s.customer_id();
                      }
                      EXPECT_TRUE(s.has_churn_risk()) << s.customer_id();
                      return !HasFailure();
                    })
                    .ok());
  }
  EXPECT_GT(customers, 4000);
}

}  // namespace
}  // namespace guanxi::engine
