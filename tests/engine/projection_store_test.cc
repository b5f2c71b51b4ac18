// The outbox's storage (ProjectionStore::AddOutbox, ReadOutbox, DeleteOutbox): one key a
// commit, entries read back one by one, chunks deleted once all their entries are, and
// the one-key-an-entry layout of older stores still read. Through RocksDB itself to see
// the keys, as the corruption tests do.
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

// The store's `outbox` family through plain RocksDB (the store closed meanwhile).
class RawOutbox {
 public:
  explicit RawOutbox(const std::string& dir) {
    std::vector<std::string> names;
    EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::Options(), dir, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const std::string& name : names) families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    rocksdb::DB* db = nullptr;
    EXPECT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir, families, &handles_, &db).ok());
    db_.reset(db);
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == keys::kOutboxCf) outbox_ = handles_[i];
    }
    EXPECT_NE(outbox_, nullptr);
  }
  ~RawOutbox() {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  }
  std::vector<std::string> Keys() {
    std::vector<std::string> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), outbox_));
    for (it->SeekToFirst(); it->Valid(); it->Next()) out.push_back(it->key().ToString());
    return out;
  }
  // An entry as a store written before chunks held it: its own key, a bare OutboxEntry.
  void PutSingle(uint64_t sequence) {
    ASSERT_TRUE(db_->Put(rocksdb::WriteOptions(), outbox_, keys::SequenceKey(sequence),
                         Entry(sequence).SerializeAsString())
                    .ok());
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* outbox_ = nullptr;
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
  EXPECT_EQ(RawOutbox(dir.path()).Keys(),
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
    RawOutbox raw(dir.path());
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
  EXPECT_EQ(RawOutbox(dir.path()).Keys(),
            (std::vector<std::string>{keys::OutboxChunkKey(1), keys::OutboxChunkKey(6)}));
}

}  // namespace
}  // namespace guanxi::engine
