// How the projection store lays its writes out, seen through RocksDB itself (as the
// corruption tests do): the outbox (ProjectionStore::AddOutbox, ReadOutbox, DeleteOutbox)
// takes one key a commit, its entries read back one by one, a chunk deleted once all its
// entries are, and the one-key-an-entry layout of older stores still read; a change's
// fact given serialized is stored as the DerivedFact holding it.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/storage/event_log.h"
#include "engine/storage/keys.h"
#include "engine/storage/projection_store.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/engine/event_log_test_util.h"

namespace guanxi::engine {
namespace {

using ::guanxi::engine::testing::TempDir;

v1::OutboxEntry Entry(uint64_t sequence) {
  v1::OutboxEntry entry;
  entry.set_topic(v1::OutboxEntry::TOPIC_CHURN_WARNINGS);
  entry.set_key(absl::StrCat("c", sequence));
  entry.set_value(absl::StrCat("warning ", sequence));
  return entry;
}

// A partition store with its projection families, as the engine opens it.
struct Store {
  explicit Store(const std::string& dir) {
    EventLogOptions options;
    options.extra_column_families = ProjectionStore::ColumnFamilies();
    auto opened = EventLog::Open(dir, options);
    EXPECT_TRUE(opened.ok()) << opened.status();
    log = std::move(*opened);
    auto attached = ProjectionStore::Attach(log.get());
    EXPECT_TRUE(attached.ok()) << attached.status();
    projections = std::move(*attached);
  }
  void Add(uint64_t from, uint64_t to) {
    ProjectionStore::Batch batch;
    for (uint64_t sequence = from; sequence < to; ++sequence) batch.AddOutbox(sequence, Entry(sequence));
    ASSERT_TRUE(projections->Commit(batch).ok());
  }
  // The sequences ReadOutbox gives from `from` on, each checked against what was added.
  std::vector<uint64_t> Read(uint64_t from, size_t max = 100) const {
    std::vector<std::pair<uint64_t, v1::OutboxEntry>> entries;
    EXPECT_TRUE(projections->ReadOutbox(from, max, &entries).ok());
    std::vector<uint64_t> sequences;
    for (const auto& [sequence, entry] : entries) {
      EXPECT_EQ(entry.value(), Entry(sequence).value());
      sequences.push_back(sequence);
    }
    return sequences;
  }
  std::unique_ptr<EventLog> log;
  std::unique_ptr<ProjectionStore> projections;
};

// A family of the store through plain RocksDB (the store closed meanwhile).
class RawFamily {
 public:
  explicit RawFamily(const std::string& dir, const std::string& family = keys::kOutboxCf) {
    std::vector<std::string> names;
    EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::Options(), dir, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const std::string& name : names) families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    rocksdb::DB* db = nullptr;
    EXPECT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir, families, &handles_, &db).ok());
    db_.reset(db);
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == family) family_ = handles_[i];
    }
    EXPECT_NE(family_, nullptr);
  }
  ~RawFamily() {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  }
  std::vector<std::string> Keys() {
    std::vector<std::string> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), family_));
    for (it->SeekToFirst(); it->Valid(); it->Next()) out.push_back(it->key().ToString());
    return out;
  }
  std::vector<std::string> Values() {
    std::vector<std::string> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), family_));
    for (it->SeekToFirst(); it->Valid(); it->Next()) out.push_back(it->value().ToString());
    return out;
  }
  // An entry as a store written before chunks held it: its own key, a bare OutboxEntry.
  void PutSingle(uint64_t sequence) {
    ASSERT_TRUE(db_->Put(rocksdb::WriteOptions(), family_, keys::SequenceKey(sequence),
                         Entry(sequence).SerializeAsString())
                    .ok());
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* family_ = nullptr;
};

TEST(OutboxStoreTest, ACommitsEntriesShareOneKeyAndReadBackOneByOne) {
  TempDir dir;
  {
    Store store(dir.path());
    store.Add(0, 5);
    store.Add(5, 10);
    EXPECT_EQ(store.Read(0), (std::vector<uint64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
    EXPECT_EQ(store.Read(3, 4), (std::vector<uint64_t>{3, 4, 5, 6}));
    EXPECT_EQ(store.Read(9), (std::vector<uint64_t>{9}));
    EXPECT_TRUE(store.Read(10).empty());
  }
  EXPECT_EQ(RawFamily(dir.path()).Keys(),
            (std::vector<std::string>{keys::OutboxChunkKey(4), keys::OutboxChunkKey(9)}));
}

TEST(OutboxStoreTest, AChunkIsDeletedOnceEveryEntryOfItIs) {
  TempDir dir;
  Store store(dir.path());
  store.Add(0, 5);
  store.Add(5, 10);
  ASSERT_TRUE(store.projections->DeleteOutbox(0, 7).ok());
  EXPECT_EQ(store.projections->outbox_start(), 7u);
  // The first chunk is gone; the second still holds 5 and 6 (delivered again after a
  // restart: at least once), and a read from 7 starts at 7.
  EXPECT_EQ(store.Read(0), (std::vector<uint64_t>{5, 6, 7, 8, 9}));
  EXPECT_EQ(store.Read(7), (std::vector<uint64_t>{7, 8, 9}));
  ASSERT_TRUE(store.projections->DeleteOutbox(7, 10).ok());
  EXPECT_TRUE(store.Read(0).empty());
  EXPECT_EQ(store.projections->outbox_start(), 10u);
}

TEST(OutboxStoreTest, EntriesOfAStoreWrittenBeforeChunksAreReadAndDeletedWithTheNewOnes) {
  TempDir dir;
  { Store store(dir.path()); }  // makes the families
  {
    RawFamily raw(dir.path());
    for (uint64_t sequence = 0; sequence < 3; ++sequence) raw.PutSingle(sequence);
  }
  Store store(dir.path());
  EXPECT_EQ(store.projections->outbox_start(), 0u);
  store.Add(3, 6);
  EXPECT_EQ(store.Read(1), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  ASSERT_TRUE(store.projections->DeleteOutbox(0, 2).ok());
  EXPECT_EQ(store.Read(0), (std::vector<uint64_t>{2, 3, 4, 5}));
  ASSERT_TRUE(store.projections->DeleteOutbox(2, 4).ok());
  EXPECT_EQ(store.Read(0), (std::vector<uint64_t>{3, 4, 5}));
}

TEST(OutboxStoreTest, AGapInSequencesStartsANewChunk) {
  TempDir dir;
  {
    Store store(dir.path());
    ProjectionStore::Batch batch;
    for (uint64_t sequence : {0, 1, 5, 6}) batch.AddOutbox(sequence, Entry(sequence));
    ASSERT_TRUE(store.projections->Commit(batch).ok());
    EXPECT_EQ(store.Read(0), (std::vector<uint64_t>{0, 1, 5, 6}));
  }
  EXPECT_EQ(RawFamily(dir.path()).Keys(),
            (std::vector<std::string>{keys::OutboxChunkKey(1), keys::OutboxChunkKey(6)}));
}

TEST(ProjectionStoreTest, AChangeGivenSerializedIsStoredAsTheFactHoldingIt) {
  TempDir dir;
  v1::RelationshipChange change;
  change.set_change_id("c1/7/0");
  change.set_customer_id("c1");
  change.set_position(7);
  change.mutable_score()->set_from(61.5);
  change.mutable_score()->set_to(58.25);
  v1::DerivedFact fact;
  *fact.mutable_change() = change;
  {
    Store store(dir.path());
    ProjectionStore::Batch batch;
    batch.AddChangeFact("c1", 7, 0, change.SerializeAsString());
    batch.AddFact("c1", 7, 1, fact);
    ASSERT_TRUE(store.projections->Commit(batch).ok());
    std::vector<std::string> read;
    ASSERT_TRUE(store.projections
                    ->ForEachFact("c1", [&](uint64_t position, const v1::DerivedFact& f) {
                      EXPECT_EQ(position, 7u);
                      read.push_back(f.change().change_id());
                      return true;
                    })
                    .ok());
    EXPECT_EQ(read, (std::vector<std::string>{"c1/7/0", "c1/7/0"}));
  }
  const std::vector<std::string> values = RawFamily(dir.path(), keys::kFactsCf).Values();
  ASSERT_EQ(values.size(), 2u);
  EXPECT_EQ(values[0], fact.SerializeAsString());
  EXPECT_EQ(values[0], values[1]);
}

}  // namespace
}  // namespace guanxi::engine
