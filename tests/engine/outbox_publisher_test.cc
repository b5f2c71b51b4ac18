// The outbox publisher against the embedded cluster, with its broker taken down while a
// round waits for acknowledgements. Waits are bounded loops on conditions.
#include "engine/projection/outbox_publisher.h"

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/config/config.h"
#include "engine/kafka/kafka.h"
#include "engine/kafka/topics.h"
#include "engine/storage/event_log.h"
#include "engine/storage/projection_store.h"
#include "gtest/gtest.h"
#include "tests/engine/event_log_test_util.h"

namespace guanxi::engine {
namespace {

using ::guanxi::engine::testing::TempDir;

// A partition's store as the engine hands it to the publisher: the projection families,
// keeping their event log open.
struct OpenStore {
  std::unique_ptr<EventLog> log;
  std::unique_ptr<ProjectionStore> projections;
};
std::shared_ptr<ProjectionStore> OpenPartitionStore(const std::string& dir) {
  auto opened = std::make_shared<OpenStore>();
  EventLogOptions options;
  options.extra_column_families = ProjectionStore::ColumnFamilies();
  opened->log = std::move(*EventLog::Open(dir, options));
  opened->projections = std::move(*ProjectionStore::Attach(opened->log.get()));
  return std::shared_ptr<ProjectionStore>(opened, opened->projections.get());
}

void AddChanges(ProjectionStore& store, uint64_t from, uint64_t to) {
  ProjectionStore::Batch batch;
  for (uint64_t sequence = from; sequence < to; ++sequence) {
    v1::OutboxEntry entry;
    entry.set_topic(v1::OutboxEntry::TOPIC_RELATIONSHIP_CHANGES);
    entry.set_key(absl::StrCat("c", sequence));
    entry.set_value(absl::StrCat("change ", sequence));
    batch.AddOutbox(sequence, entry);
  }
  ASSERT_TRUE(store.Commit(batch).ok());
}

size_t OutboxSize(const ProjectionStore& store) {
  std::vector<std::pair<uint64_t, v1::OutboxEntry>> entries;
  EXPECT_TRUE(store.ReadOutbox(0, 1000, &entries).ok());
  return entries.size();
}

bool WaitFor(const std::function<bool()>& condition, absl::Time deadline) {
  while (!condition()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

// Removing a partition (its revocation) while its round waits for a broker that is down
// returns at once instead of waiting out the round (up to a minute). The round goes on
// holding the store; its entries stay in the outbox until the broker acknowledges them,
// then they are deleted and the publisher lets go of the store.
TEST(OutboxPublisherTest, RemoveDuringARoundTheBrokerCannotAcknowledgeDoesNotWaitForIt) {
  auto cluster = std::move(*EmbeddedCluster::Start(1));
  v1::EngineConfig config = DefaultEngineConfig();
  ASSERT_TRUE(CreateGuanxiTopics(*cluster, config.kafka(), 1).ok());
  TempDir dir;
  std::shared_ptr<ProjectionStore> store = OpenPartitionStore(dir.path());
  OutboxPublisher publisher(cluster->bootstrap_servers(), config);
  ASSERT_TRUE(publisher.Start().ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(90);

  // One entry goes out while the broker is up (the producer is connected).
  AddChanges(*store, 0, 1);
  publisher.Add(0, store);
  publisher.Notify();
  ASSERT_TRUE(WaitFor([&] { return publisher.stats().published == 1; }, deadline));
  EXPECT_EQ(OutboxSize(*store), 0u);

  // The next round is produced while the broker is down, and waits.
  ASSERT_TRUE(cluster->SetBrokerDown(1).ok());
  AddChanges(*store, 1, 4);
  publisher.Notify();
  ASSERT_TRUE(WaitFor([&] { return publisher.stats().unacknowledged == 3; }, deadline));
  publisher.Remove(0);
  // Remove returned while the round still waits: nothing acknowledged, nothing deleted.
  EXPECT_EQ(publisher.stats().unacknowledged, 3u);
  EXPECT_EQ(publisher.stats().published, 1u);
  EXPECT_EQ(OutboxSize(*store), 3u);
  EXPECT_GT(store.use_count(), 1) << "the round in progress holds the store";

  // The broker returns: the round ends, deletes what was acknowledged, lets go.
  ASSERT_TRUE(cluster->SetBrokerUp(1).ok());
  EXPECT_TRUE(WaitFor([&] { return publisher.stats().published == 4 && store.use_count() == 1; },
                      deadline));
  EXPECT_EQ(OutboxSize(*store), 0u);
  EXPECT_EQ(publisher.stats().unacknowledged, 0u);
  publisher.Stop();
}

TEST(OutboxPublisherTest, StopDuringARoundTheBrokerCannotAcknowledgeLeavesItInTheOutbox) {
  auto cluster = std::move(*EmbeddedCluster::Start(1));
  v1::EngineConfig config = DefaultEngineConfig();
  ASSERT_TRUE(CreateGuanxiTopics(*cluster, config.kafka(), 1).ok());
  TempDir dir;
  std::shared_ptr<ProjectionStore> store = OpenPartitionStore(dir.path());
  const absl::Time deadline = absl::Now() + absl::Seconds(90);
  {
    // The removed partition would be waited for an hour: if Stop waited for it, the test would
    // run into ctest's timeout.
    OutboxPublisher publisher(cluster->bootstrap_servers(), config, absl::Hours(1));
    ASSERT_TRUE(publisher.Start().ok());
    AddChanges(*store, 0, 1);
    publisher.Add(0, store);
    publisher.Notify();
    ASSERT_TRUE(WaitFor([&] { return publisher.stats().published == 1; }, deadline));
    ASSERT_TRUE(cluster->SetBrokerDown(1).ok());
    AddChanges(*store, 1, 4);
    publisher.Notify();
    ASSERT_TRUE(WaitFor([&] { return publisher.stats().unacknowledged == 3; }, deadline));
    publisher.Stop();
    EXPECT_EQ(publisher.stats().published, 1u);
    EXPECT_EQ(publisher.stats().failed_rounds, 1u);
    EXPECT_EQ(OutboxSize(*store), 3u) << "what was not acknowledged stays in the outbox";
  }  // the producer is destroyed here, without waiting for the broker either
  EXPECT_EQ(store.use_count(), 1);

  // The next publisher, with the broker back, delivers them.
  ASSERT_TRUE(cluster->SetBrokerUp(1).ok());
  OutboxPublisher next(cluster->bootstrap_servers(), config);
  ASSERT_TRUE(next.Start().ok());
  next.Add(0, store);
  next.Notify();
  EXPECT_TRUE(WaitFor([&] { return next.stats().published == 3; }, deadline));
  EXPECT_EQ(OutboxSize(*store), 0u);
  next.Stop();
}

// A delivery that fails (here: the broker down past the message timeout) leaves the
// entries in the outbox; the publisher produces them again from the first failed one
// and deletes them once the broker, back, acknowledged them.
TEST(OutboxPublisherTest, AFailedDeliveryIsProducedAgainFromTheFirstFailure) {
  auto cluster = std::move(*EmbeddedCluster::Start(1));
  v1::EngineConfig config = DefaultEngineConfig();
  v1::KafkaProperty* timeout = config.mutable_kafka()->add_properties();
  timeout->set_name("message.timeout.ms");
  timeout->set_value("300");
  ASSERT_TRUE(CreateGuanxiTopics(*cluster, config.kafka(), 1).ok());
  TempDir dir;
  std::shared_ptr<ProjectionStore> store = OpenPartitionStore(dir.path());
  OutboxPublisher publisher(cluster->bootstrap_servers(), config);
  ASSERT_TRUE(publisher.Start().ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(90);
  AddChanges(*store, 0, 1);
  publisher.Add(0, store);
  publisher.Notify();
  ASSERT_TRUE(WaitFor([&] { return publisher.stats().published == 1; }, deadline));

  ASSERT_TRUE(cluster->SetBrokerDown(1).ok());
  AddChanges(*store, 1, 4);
  publisher.Notify();
  ASSERT_TRUE(WaitFor([&] { return publisher.stats().failed_rounds >= 1; }, deadline));
  EXPECT_EQ(publisher.stats().published, 1u);
  EXPECT_EQ(OutboxSize(*store), 3u) << "nothing failed is deleted";
  EXPECT_FALSE(publisher.WaitIdle(absl::ZeroDuration())) << "a retry is due";

  ASSERT_TRUE(cluster->SetBrokerUp(1).ok());
  EXPECT_TRUE(publisher.WaitIdle(absl::Seconds(60)));
  EXPECT_EQ(publisher.stats().published, 4u);
  EXPECT_EQ(OutboxSize(*store), 0u);
  publisher.Stop();
}

}  // namespace
}  // namespace guanxi::engine
