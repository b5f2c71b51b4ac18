// How the projection store lays its writes out, seen through RocksDB itself (as the
// corruption tests do): the outbox (ProjectionStore::AddOutbox, ReadOutbox, DeleteOutbox)
// takes one key a commit, its entries read back one by one, a chunk deleted once all its
// entries are, and the one-key-an-entry layout of older stores still read; the facts of
// one application share a key, and facts stored one a key read and compare alike.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/storage/event_log.h"
#include "engine/storage/keys.h"
#include "engine/storage/projection_store.h"
#include "gmock/gmock.h"
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
  void Put(const std::string& key, const std::string& value) {
    ASSERT_TRUE(db_->Put(rocksdb::WriteOptions(), family_, key, value).ok());
  }
  // An entry as a store written before chunks held it: its own key, a bare OutboxEntry.
  void PutSingle(uint64_t sequence) { Put(keys::SequenceKey(sequence), Entry(sequence).SerializeAsString()); }

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

v1::DerivedFact ChangeFact(const std::string& id) {
  v1::DerivedFact fact;
  v1::RelationshipChange& change = *fact.mutable_change();
  change.set_change_id(id);
  change.set_customer_id("c1");
  change.set_position(7);
  change.mutable_score()->set_from(61.5);
  change.mutable_score()->set_to(58.25);
  return fact;
}

// The change ids ForEachFact gives for c1, with their positions.
std::vector<std::string> FactsOf(const ProjectionStore& store) {
  std::vector<std::string> read;
  EXPECT_TRUE(store
                  .ForEachFact("c1",
                               [&](uint64_t position, const v1::DerivedFact& f) {
                                 read.push_back(absl::StrCat(position, ":", f.change().change_id()));
                                 return true;
                               })
                  .ok());
  return read;
}

// The facts one application derived for a customer share one key, whichever way each
// was added (a change given serialized is stored as the DerivedFact holding it); an
// index that does not follow, or another position, starts another key.
TEST(ProjectionStoreTest, TheFactsOfOneApplicationShareOneKey) {
  TempDir dir;
  {
    Store store(dir.path());
    ProjectionStore::Batch batch;
    batch.AddChangeFact("c1", 7, 0, ChangeFact("a").change().SerializeAsString());
    batch.AddFact("c1", 7, 1, ChangeFact("b"));
    batch.AddFact("c1", 7, 3, ChangeFact("d"));  // a gap: another key
    batch.AddFact("c1", 9, 0, ChangeFact("e"));  // another position
    ASSERT_TRUE(store.projections->Commit(batch).ok());
    EXPECT_EQ(FactsOf(*store.projections),
              (std::vector<std::string>{"7:a", "7:b", "7:d", "9:e"}));
  }
  RawFamily raw(dir.path(), keys::kFactsCf);
  EXPECT_EQ(raw.Keys(), (std::vector<std::string>{keys::FactGroupKey("c1", 7, 0),
                                                  keys::FactGroupKey("c1", 7, 3),
                                                  keys::FactGroupKey("c1", 9, 0)}));
  v1::DerivedFacts first;
  *first.add_facts() = ChangeFact("a");
  *first.add_facts() = ChangeFact("b");
  EXPECT_EQ(raw.Values()[0], first.SerializeAsString());
}

// A store written before facts were grouped (one DerivedFact a key) reads the same, and
// compares equal to one holding the same facts in groups (a replay of an old log).
TEST(ProjectionStoreTest, FactsStoredOneAKeyReadAndCompareAsGroupedOnes) {
  TempDir old_dir, new_dir;
  { Store store(old_dir.path()); }
  {
    RawFamily raw(old_dir.path(), keys::kFactsCf);
    raw.Put(keys::FactKey("c1", 7, 0), ChangeFact("a").SerializeAsString());
    raw.Put(keys::FactKey("c1", 7, 1), ChangeFact("b").SerializeAsString());
  }
  Store old_store(old_dir.path());
  Store new_store(new_dir.path());
  ProjectionStore::Batch batch;
  batch.AddFact("c1", 7, 0, ChangeFact("a"));
  batch.AddFact("c1", 7, 1, ChangeFact("b"));
  ASSERT_TRUE(new_store.projections->Commit(batch).ok());
  EXPECT_EQ(FactsOf(*old_store.projections), (std::vector<std::string>{"7:a", "7:b"}));
  EXPECT_EQ(FactsOf(*new_store.projections), (std::vector<std::string>{"7:a", "7:b"}));
  auto same = ProjectionStore::Compare(*old_store.projections, *new_store.projections, 5);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_TRUE(same->empty()) << (*same)[0];

  // A fact that differs is named by its own key, inside a group too.
  ProjectionStore::Batch more;
  more.AddFact("c1", 7, 2, ChangeFact("c"));
  ASSERT_TRUE(new_store.projections->Commit(more).ok());
  auto differ = ProjectionStore::Compare(*old_store.projections, *new_store.projections, 5);
  ASSERT_TRUE(differ.ok()) << differ.status();
  ASSERT_EQ(differ->size(), 1u);
  EXPECT_THAT((*differ)[0], ::testing::HasSubstr("only in the second"));
}

}  // namespace
}  // namespace guanxi::engine
