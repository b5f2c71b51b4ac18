#include "engine/storage/event_log.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "engine/storage/rocks_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/engine/event_log_test_util.h"

namespace guanxi::engine {
namespace {

using ::guanxi::engine::testing::OrderRecord;
using ::guanxi::engine::testing::TempDir;
using ::guanxi::engine::testing::WalBytes;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::unique_ptr<EventLog> OpenOrDie(const std::string& dir, EventLogOptions options = {}) {
  auto log = EventLog::Open(dir, options);
  EXPECT_TRUE(log.ok()) << log.status();
  return log.ok() ? std::move(*log) : nullptr;
}

std::vector<std::string> Ids(const EventLog& log, uint64_t from, uint64_t to) {
  std::vector<std::string> ids;
  EXPECT_TRUE(log.ReadRange(from, to,
                            [&](const v1::LogRecord& r) {
                              ids.push_back(r.has_event() ? r.event().event_id() : "<non-event>");
                              return true;
                            })
                  .ok());
  return ids;
}

std::vector<uint64_t> Stream(const EventLog& log, const std::string& customer,
                             std::optional<int64_t> until = std::nullopt) {
  std::optional<google::protobuf::Timestamp> t;
  if (until) {
    t.emplace();
    t->set_seconds(*until);
  }
  std::vector<uint64_t> positions;
  EXPECT_TRUE(log.ReadStream(customer, t,
                             [&](const v1::LogRecord& r) {
                               positions.push_back(r.position());
                               return true;
                             })
                  .ok());
  return positions;
}

TEST(EventLogTest, AppendAssignsDensePositionsAndChainsHashes) {
  TempDir dir;
  auto log = OpenOrDie(dir.path());
  std::vector<v1::LogRecord> batch = {OrderRecord("e0", "a", 10), OrderRecord("e1", "b", 20),
                                      OrderRecord("e2", "a", 30)};
  auto result = log->Append(absl::MakeSpan(batch), {});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->appended, 3u);
  EXPECT_EQ(log->next_position(), 3u);
  EXPECT_THAT(Ids(*log, 0, 100), ElementsAre("e0", "e1", "e2"));
  // Each record links to the hash of its predecessor; the head is the last one's hash.
  std::vector<std::string> stored;
  Hash prev = {};
  ASSERT_TRUE(log->ReadRange(0, 3,
                             [&](const v1::LogRecord& r) {
                               EXPECT_EQ(r.prev_hash(), std::string(prev.begin(), prev.end()));
                               prev = EventLog::HashOf(r.SerializeAsString());
                               return true;
                             })
                  .ok());
  EXPECT_EQ(log->head_hash(), prev);
  EXPECT_TRUE(log->Verify()->ok);
}

TEST(EventLogTest, ReadsByRangeStreamAndEventId) {
  TempDir dir;
  auto log = OpenOrDie(dir.path());
  std::vector<v1::LogRecord> batch = {OrderRecord("e0", "a", 10), OrderRecord("e1", "ab", 20),
                                      OrderRecord("e2", "a", 30), OrderRecord("e3", "a", 5)};
  ASSERT_TRUE(log->Append(absl::MakeSpan(batch), {}).ok());
  EXPECT_THAT(Ids(*log, 1, 3), ElementsAre("e1", "e2"));
  EXPECT_THAT(Stream(*log, "a"), ElementsAre(0, 2, 3));  // "ab" is another customer
  EXPECT_THAT(Stream(*log, "ab"), ElementsAre(1));
  EXPECT_THAT(Stream(*log, "a", 10), ElementsAre(0, 3));  // occurred at or before 10
  EXPECT_THAT(Stream(*log, "nobody"), ElementsAre());
  auto found = log->FindEvent("e2");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->position(), 2u);
  EXPECT_EQ(log->FindEvent("zz").status().code(), absl::StatusCode::kNotFound);
}

TEST(EventLogTest, AppendWithDuplicateEventIdIsNoOp) {
  TempDir dir;
  auto log = OpenOrDie(dir.path());
  std::vector<v1::LogRecord> first = {OrderRecord("e0", "a", 10)};
  ASSERT_TRUE(log->Append(absl::MakeSpan(first), {}).ok());
  // Already in the log, and twice within one batch.
  std::vector<v1::LogRecord> second = {OrderRecord("e0", "a", 10), OrderRecord("e1", "a", 11),
                                       OrderRecord("e1", "a", 11)};
  auto result = log->Append(absl::MakeSpan(second), {});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->appended, 1u);
  EXPECT_TRUE(result->outcomes[0].duplicate);
  EXPECT_EQ(result->outcomes[0].position, 0u);
  EXPECT_FALSE(result->outcomes[1].duplicate);
  EXPECT_EQ(result->outcomes[1].position, 1u);
  EXPECT_TRUE(result->outcomes[2].duplicate);
  EXPECT_EQ(result->outcomes[2].position, 1u);
  EXPECT_THAT(Ids(*log, 0, 10), ElementsAre("e0", "e1"));
}

TEST(EventLogTest, OffsetsAreStoredWithTheBatchEvenWhenAllAreDuplicates) {
  TempDir dir;
  auto log = OpenOrDie(dir.path());
  EXPECT_FALSE(log->StoredOffset("guanxi.events", 0)->has_value());
  std::vector<v1::LogRecord> batch = {OrderRecord("e0", "a", 10, 7)};
  ASSERT_TRUE(log->Append(absl::MakeSpan(batch), {{"guanxi.events", 0, 8}}).ok());
  EXPECT_EQ(**log->StoredOffset("guanxi.events", 0), 8);
  std::vector<v1::LogRecord> again = {OrderRecord("e0", "a", 10, 8)};
  ASSERT_TRUE(log->Append(absl::MakeSpan(again), {{"guanxi.events", 0, 9}}).ok());
  EXPECT_EQ(**log->StoredOffset("guanxi.events", 0), 9);
  EXPECT_EQ(log->next_position(), 1u);
}

TEST(EventLogTest, ReopenKeepsRecordsHeadAndOffsets) {
  TempDir dir;
  Hash head;
  {
    auto log = OpenOrDie(dir.path());
    std::vector<v1::LogRecord> batch = {OrderRecord("e0", "a", 10), OrderRecord("e1", "b", 11)};
    ASSERT_TRUE(log->Append(absl::MakeSpan(batch), {{"guanxi.events", 0, 2}}).ok());
    head = log->head_hash();
  }
  auto log = OpenOrDie(dir.path());
  EXPECT_EQ(log->next_position(), 2u);
  EXPECT_EQ(log->head_hash(), head);
  EXPECT_EQ(**log->StoredOffset("guanxi.events", 0), 2);
  std::vector<v1::LogRecord> more = {OrderRecord("e1", "b", 11), OrderRecord("e2", "b", 12)};
  auto result = log->Append(absl::MakeSpan(more), {});
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->outcomes[0].duplicate);  // the dedup index survived too
  EXPECT_EQ(result->outcomes[1].position, 2u);
  EXPECT_TRUE(log->Verify()->ok);
}

// A scratch store writes nothing to RocksDB's write-ahead log; a store by default does.
TEST(EventLogTest, AScratchStoreWritesNoWriteAheadLog) {
  for (const bool wal : {true, false}) {
    TempDir dir;
    auto log = OpenOrDie(dir.path(), {.scratch = !wal});
    const uintmax_t before = WalBytes(dir.path());
    std::vector<v1::LogRecord> batch = {OrderRecord("e0", "a", 10), OrderRecord("e1", "b", 11)};
    ASSERT_TRUE(log->Append(absl::MakeSpan(batch), {}).ok());
    EXPECT_EQ(Ids(*log, 0, 2), (std::vector<std::string>{"e0", "e1"}));
    if (wal) {
      EXPECT_GT(WalBytes(dir.path()), before);
    } else {
      EXPECT_EQ(WalBytes(dir.path()), before);
    }
  }
}

TEST(EventLogTest, BadRecordsNameTheFieldAndWriteNothing) {
  TempDir dir;
  auto log = OpenOrDie(dir.path());
  const std::pair<void (*)(v1::LogRecord&), const char*> cases[] = {
      {[](v1::LogRecord& r) { r.mutable_event()->clear_event_id(); }, "records[1].event.event_id"},
      {[](v1::LogRecord& r) { r.mutable_event()->clear_customer_id(); },
       "records[1].event.customer_id"},
      {[](v1::LogRecord& r) { r.mutable_event()->clear_occurred_at(); },
       "records[1].event.occurred_at"},
      {[](v1::LogRecord& r) { r.clear_body(); }, "records[1] has no body"},
  };
  for (const auto& [mutate, field] : cases) {
    std::vector<v1::LogRecord> batch = {OrderRecord("ok", "a", 1), OrderRecord("bad", "a", 2)};
    mutate(batch[1]);
    auto result = log->Append(absl::MakeSpan(batch), {{"guanxi.events", 0, 2}});
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(result.status().message(), HasSubstr(field));
  }
  EXPECT_EQ(log->next_position(), 0u);
  EXPECT_FALSE(log->StoredOffset("guanxi.events", 0)->has_value());
}

TEST(EventLogTest, ModelAndTickRecordsAppendWithoutDedup) {
  TempDir dir;
  auto log = OpenOrDie(dir.path());
  std::vector<v1::LogRecord> batch(2);
  batch[0].mutable_tick()->mutable_event_time()->set_seconds(100);
  batch[1].mutable_model()->mutable_bgnbd()->set_r(0.243);
  ASSERT_TRUE(log->Append(absl::MakeSpan(batch), {}).ok());
  std::vector<v1::LogRecord> again = batch;
  ASSERT_TRUE(log->Append(absl::MakeSpan(again), {}).ok());
  EXPECT_EQ(log->next_position(), 4u);
  std::vector<int> kinds;
  ASSERT_TRUE(log->ReadRange(0, 4,
                             [&](const v1::LogRecord& r) {
                               kinds.push_back(r.body_case());
                               return true;
                             })
                  .ok());
  EXPECT_THAT(kinds, ElementsAre(v1::LogRecord::kTick, v1::LogRecord::kModel, v1::LogRecord::kTick,
                                 v1::LogRecord::kModel));
}

TEST(EventLogTest, ReadOnlyLogRefusesAppend) {
  TempDir dir;
  { OpenOrDie(dir.path()); }
  auto log = OpenOrDie(dir.path(), {.mode = OpenMode::kReadOnly});
  std::vector<v1::LogRecord> batch = {OrderRecord("e0", "a", 10)};
  EXPECT_EQ(log->Append(absl::MakeSpan(batch), {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(EventLogTest, SecondarySeesTheWritersAppendsAfterCatchUp) {
  TempDir dir;
  auto writer = OpenOrDie(dir.Sub("log"));
  std::vector<v1::LogRecord> first = {OrderRecord("e0", "a", 10)};
  ASSERT_TRUE(writer->Append(absl::MakeSpan(first), {{"guanxi.events", 0, 1}}).ok());
  auto reader = OpenOrDie(dir.Sub("log"),
                          {.mode = OpenMode::kSecondary, .secondary_dir = dir.Sub("secondary")});
  EXPECT_EQ(reader->next_position(), 1u);
  std::vector<v1::LogRecord> second = {OrderRecord("e1", "a", 11), OrderRecord("e2", "b", 12)};
  ASSERT_TRUE(writer->Append(absl::MakeSpan(second), {{"guanxi.events", 0, 3}}).ok());
  ASSERT_TRUE(reader->CatchUp().ok());
  EXPECT_EQ(reader->next_position(), 3u);
  EXPECT_THAT(Ids(*reader, 0, 10), ElementsAre("e0", "e1", "e2"));
  EXPECT_EQ(**reader->StoredOffset("guanxi.events", 0), 3);
  auto verified = reader->Verify();
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok) << verified->reason;
}

TEST(EventLogTest, SecondaryNeedsItsOwnDirectory) {
  TempDir dir;
  { OpenOrDie(dir.path()); }
  auto reader = EventLog::Open(dir.path(), {.mode = OpenMode::kSecondary});
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(EventLogTest, ExtraColumnFamiliesAreOpenedByALaterOpenThatDoesNotDeclareThem) {
  TempDir dir;
  {
    auto log = OpenOrDie(dir.path(), {.extra_column_families = {"state"}});
    rocksdb::ColumnFamilyHandle* state = rocks::Access::Family(*log, "state");
    ASSERT_NE(state, nullptr);
    EXPECT_EQ(rocks::Access::Family(*log, "nope"), nullptr);
    ASSERT_TRUE(rocks::Access::Db(*log)->Put(rocksdb::WriteOptions(), state, "a", "2 events").ok());
    std::vector<v1::LogRecord> batch = {OrderRecord("e0", "a", 10), OrderRecord("e1", "a", 11)};
    ASSERT_TRUE(log->Append(absl::MakeSpan(batch), {{"guanxi.events", 0, 2}}).ok());
  }
  // A later open that does not declare the family still opens it (RocksDB requires it).
  auto log = OpenOrDie(dir.path());
  rocksdb::ColumnFamilyHandle* state = rocks::Access::Family(*log, "state");
  ASSERT_NE(state, nullptr);
  std::string value;
  ASSERT_TRUE(rocks::Access::Db(*log)->Get(rocksdb::ReadOptions(), state, "a", &value).ok());
  EXPECT_EQ(value, "2 events");
  EXPECT_EQ(log->next_position(), 2u);
}

// A batch's writes go in in key order per column family (for the memtable's insert hint),
// but the writes to one key keep their order: the store ends as the writes in the order
// they were made would leave it.
TEST(EventLogTest, WritesInKeyOrderKeepTheOrderOfEachKeysWrites) {
  TempDir dir;
  auto log = OpenOrDie(dir.path(), {.extra_column_families = {"state", "timers"}});
  rocksdb::ColumnFamilyHandle* state = rocks::Access::Family(*log, "state");
  rocksdb::ColumnFamilyHandle* timers = rocks::Access::Family(*log, "timers");
  std::vector<rocks::KeyedWrite> writes = {
      {timers, "t9", "", false}, {state, "c", "1", false}, {state, "a", "1", false},
      {timers, "t1", "", false}, {state, "a", "", true},   {state, "b", "1", false},
      {state, "a", "2", false},  {timers, "t9", "", true}, {state, "c", "", true}};
  rocksdb::WriteBatch batch;
  ASSERT_TRUE(rocks::AddInKeyOrder(writes, batch).ok());
  // In key order within a family; the writes of a, c and t9 in the order made.
  struct Order : rocksdb::WriteBatch::Handler {
    std::vector<std::pair<uint32_t, std::string>> writes;
    rocksdb::Status PutCF(uint32_t family, const rocksdb::Slice& key,
                          const rocksdb::Slice& value) override {
      writes.emplace_back(family, key.ToString() + value.ToString());
      return rocksdb::Status::OK();
    }
    rocksdb::Status DeleteCF(uint32_t family, const rocksdb::Slice& key) override {
      writes.emplace_back(family, key.ToString() + "-");
      return rocksdb::Status::OK();
    }
  } order;
  ASSERT_TRUE(batch.Iterate(&order).ok());
  std::vector<std::pair<uint32_t, std::string>> expected;
  for (const char* w : {"a1", "a-", "a2", "b1", "c1", "c-"}) {
    expected.emplace_back(state->GetID(), w);
  }
  for (const char* w : {"t1", "t9", "t9-"}) expected.emplace_back(timers->GetID(), w);
  if (timers->GetID() < state->GetID()) {  // the families in the order of their ids
    std::rotate(expected.begin(), expected.begin() + 6, expected.end());
  }
  EXPECT_EQ(order.writes, expected);

  rocksdb::DB* db = rocks::Access::Db(*log);
  ASSERT_TRUE(db->Write(rocksdb::WriteOptions(), &batch).ok());
  std::string value;
  ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), state, "a", &value).ok());
  EXPECT_EQ(value, "2");
  ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), state, "b", &value).ok());
  EXPECT_TRUE(db->Get(rocksdb::ReadOptions(), state, "c", &value).IsNotFound());
  EXPECT_TRUE(db->Get(rocksdb::ReadOptions(), timers, "t1", &value).ok());
  EXPECT_TRUE(db->Get(rocksdb::ReadOptions(), timers, "t9", &value).IsNotFound());
}

TEST(EventLogTest, StoreOfAnotherPartitionIsRefused) {
  TempDir dir;
  { OpenOrDie(dir.path(), {.partition = 3}); }
  EXPECT_NE(OpenOrDie(dir.path(), {.partition = 3}), nullptr);
  EXPECT_NE(OpenOrDie(dir.path()), nullptr);  // unset: not checked
  auto wrong = EventLog::Open(dir.path(), {.partition = 4});
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(wrong.status().message(), HasSubstr("holds partition 3, not 4"));
}

TEST(EventLogTest, VerifyBesideConcurrentAppendsSeesAConsistentSnapshot) {
  TempDir dir;
  auto log = OpenOrDie(dir.path());
  constexpr int kBatches = 200;
  std::thread writer([&] {
    for (int b = 0; b < kBatches; ++b) {
      std::vector<v1::LogRecord> batch;
      for (int i = 0; i < 10; ++i) {
        const int n = b * 10 + i;
        batch.push_back(OrderRecord("e" + std::to_string(n), "c" + std::to_string(n % 7), n, n));
      }
      ASSERT_TRUE(log->Append(absl::MakeSpan(batch), {{"guanxi.events", 0, b * 10 + 10}}).ok());
    }
  });
  for (int i = 0; i < 20; ++i) {
    auto verified = log->Verify();
    ASSERT_TRUE(verified.ok()) << verified.status();
    EXPECT_TRUE(verified->ok) << verified->reason;
    EXPECT_EQ(verified->records_checked % 10, 0u);  // whole batches only
  }
  writer.join();
  auto verified = log->Verify();
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok) << verified->reason;
  EXPECT_EQ(verified->records_checked, 10u * kBatches);
}

}  // namespace
}  // namespace guanxi::engine

namespace guanxi::engine {
namespace {

// Below the floor of free space a store is not opened for writing, and the error says
// where and how much is free (docs/storage.md, "The space budget"). The same check
// guards every write (DiskFullTest fills a real filesystem).
TEST(EventLogTest, ReadWriteOpenIsRefusedBelowTheFreeSpaceFloor) {
  TempDir dir;
  EventLogOptions options;
  options.min_free_bytes = uint64_t{1} << 60;  // more than any disk has
  auto log = EventLog::Open(dir.Sub("log"), options);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(log.status().message(), HasSubstr("the data directory " + dir.Sub("log") + " has "));
  EXPECT_THAT(log.status().message(), HasSubstr("MiB free; guanxi needs at least"));

  // With room it opens and appends.
  options.min_free_bytes = 1;
  auto writable = EventLog::Open(dir.Sub("log"), options);
  ASSERT_TRUE(writable.ok()) << writable.status();
  EXPECT_TRUE((*writable)->CheckWritable().ok());
  std::vector<guanxi::v1::LogRecord> batch = {OrderRecord("e1", "c1", 1'700'000'000, 0)};
  ASSERT_TRUE((*writable)->Append(absl::MakeSpan(batch), {}).ok());
}

}  // namespace
}  // namespace guanxi::engine
