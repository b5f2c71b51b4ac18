// Alters, removes and reorders stored records behind the log's back (through RocksDB
// itself, so RocksDB's own checksums stay valid and only the chain can tell), and flips
// a byte in an SST file (which only RocksDB's checksums can tell). Verify must name the
// first bad position each time.
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "engine/storage/event_log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/engine/event_log_test_util.h"

namespace guanxi::engine {
namespace {

using ::guanxi::engine::testing::OrderRecord;
using ::guanxi::engine::testing::TempDir;
using ::testing::HasSubstr;

constexpr uint64_t kRecords = 10;

std::string Key(uint64_t position) {
  std::string key(8, '\0');
  for (int i = 7; i >= 0; --i) {
    key[static_cast<size_t>(i)] = static_cast<char>(position & 0xff);
    position >>= 8;
  }
  return key;
}

void Fill(const std::string& dir) {
  auto log = EventLog::Open(dir, {});
  ASSERT_TRUE(log.ok()) << log.status();
  std::vector<v1::LogRecord> batch;
  for (uint64_t i = 0; i < kRecords; ++i) {
    batch.push_back(OrderRecord("e" + std::to_string(i), "c" + std::to_string(i % 3),
                                static_cast<int64_t>(1000 + i), static_cast<int64_t>(i)));
  }
  ASSERT_TRUE((*log)->Append(absl::MakeSpan(batch), {{"guanxi.events", 0, kRecords}}).ok());
  ASSERT_TRUE((*log)->Flush().ok());
}

// Opens the store with plain RocksDB, as someone tampering with the files would.
class RawStore {
 public:
  explicit RawStore(const std::string& dir) {
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const char* name : {"default", "log", "stream", "dedup", "meta", "customer_keys"}) {
      cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    rocksdb::DB* db = nullptr;
    EXPECT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir, cfs, &handles_, &db).ok());
    db_.reset(db);
  }
  ~RawStore() {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  }
  std::string Get(uint64_t position) {
    std::string value;
    EXPECT_TRUE(db_->Get(rocksdb::ReadOptions(), handles_[1], Key(position), &value).ok());
    return value;
  }
  void Put(uint64_t position, const std::string& value) {
    ASSERT_TRUE(db_->Put(rocksdb::WriteOptions(), handles_[1], Key(position), value).ok());
  }
  void Delete(uint64_t position) {
    ASSERT_TRUE(db_->Delete(rocksdb::WriteOptions(), handles_[1], Key(position)).ok());
  }
  void DeleteDedup(const std::string& event_id) {
    ASSERT_TRUE(db_->Delete(rocksdb::WriteOptions(), handles_[3], event_id).ok());
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

VerifyResult VerifyStore(const std::string& dir) {
  auto log = EventLog::Open(dir, {});
  EXPECT_TRUE(log.ok()) << log.status();
  auto result = (*log)->Verify();
  EXPECT_TRUE(result.ok()) << result.status();
  return *result;
}

TEST(EventLogCorruptionTest, IntactLogVerifies) {
  TempDir dir;
  Fill(dir.path());
  VerifyResult r = VerifyStore(dir.path());
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.records_checked, kRecords);
}

TEST(EventLogCorruptionTest, AlteredRecordIsNamed) {
  TempDir dir;
  Fill(dir.path());
  {
    RawStore raw(dir.path());
    v1::LogRecord record;
    ASSERT_TRUE(record.ParseFromString(raw.Get(4)));
    record.mutable_event()->mutable_order()->mutable_amount()->set_minor_units(999999);
    raw.Put(4, record.SerializeAsString());
  }
  VerifyResult r = VerifyStore(dir.path());
  EXPECT_FALSE(r.ok);
  ASSERT_TRUE(r.first_bad_position.has_value());
  EXPECT_EQ(*r.first_bad_position, 4u);
  EXPECT_THAT(r.reason, HasSubstr("altered"));
  EXPECT_THAT(r.ToStatus().message(), HasSubstr("position 4"));
}

TEST(EventLogCorruptionTest, DeletedRecordIsNamed) {
  TempDir dir;
  Fill(dir.path());
  { RawStore(dir.path()).Delete(6); }
  VerifyResult r = VerifyStore(dir.path());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_position, std::optional<uint64_t>(6));
  EXPECT_THAT(r.reason, HasSubstr("missing"));
}

TEST(EventLogCorruptionTest, SwappedPairIsNamed) {
  TempDir dir;
  Fill(dir.path());
  {
    RawStore raw(dir.path());
    const std::string a = raw.Get(2), b = raw.Get(3);
    raw.Put(2, b);
    raw.Put(3, a);
  }
  VerifyResult r = VerifyStore(dir.path());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_position, std::optional<uint64_t>(2));
  EXPECT_THAT(r.reason, HasSubstr("out of order"));
}

TEST(EventLogCorruptionTest, AlteredLastRecordIsCaughtByTheHead) {
  TempDir dir;
  Fill(dir.path());
  {
    RawStore raw(dir.path());
    v1::LogRecord record;
    ASSERT_TRUE(record.ParseFromString(raw.Get(kRecords - 1)));
    record.mutable_event()->set_customer_id("someone-else");
    raw.Put(kRecords - 1, record.SerializeAsString());
  }
  VerifyResult r = VerifyStore(dir.path());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_position, std::optional<uint64_t>(kRecords - 1));
}

TEST(EventLogCorruptionTest, RemovedLastRecordIsCaughtByTheHead) {
  TempDir dir;
  Fill(dir.path());
  { RawStore(dir.path()).Delete(kRecords - 1); }
  VerifyResult r = VerifyStore(dir.path());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_position, std::optional<uint64_t>(kRecords - 1));
}

TEST(EventLogCorruptionTest, FlippedByteInAnSstFileIsDataLossNotACrash) {
  TempDir dir;
  Fill(dir.path());
  // The log's records are the largest values: its SST is the largest file.
  std::filesystem::path largest;
  uintmax_t size = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (entry.path().extension() == ".sst" && entry.file_size() > size) {
      size = entry.file_size();
      largest = entry.path();
    }
  }
  ASSERT_FALSE(largest.empty());
  {
    std::fstream f(largest, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(64);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x5a);
    f.seekp(64);
    f.write(&c, 1);
  }
  auto log = EventLog::Open(dir.path(), {});
  if (!log.ok()) {  // corruption found at open is fine too, as long as it is DataLoss
    EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss) << log.status();
    return;
  }
  auto r = (*log)->Verify();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->ok);
  ASSERT_TRUE(r->first_bad_position.has_value()) << r->reason;
  EXPECT_EQ(*r->first_bad_position, 0u);  // the first block holds position 0
  EXPECT_THAT(r->reason, HasSubstr("unreadable"));
  EXPECT_EQ(r->ToStatus().code(), absl::StatusCode::kDataLoss);
}

TEST(EventLogCorruptionTest, LostDedupEntryIsCaughtByTheIndexCount) {
  TempDir dir;
  Fill(dir.path());
  { RawStore(dir.path()).DeleteDedup("e5"); }
  VerifyResult r = VerifyStore(dir.path());
  EXPECT_FALSE(r.ok);
  EXPECT_THAT(r.reason, HasSubstr("dedup holds 9 entries for 10 event records"));
  EXPECT_EQ(r.ToStatus().code(), absl::StatusCode::kDataLoss);
}

// What every read does with a stored record (DecodeLogRecord): a record the log could
// not have written is DataLoss naming its position, never handed on.
TEST(EventLogCorruptionTest, DecodeLogRecordRefusesWhatTheLogCannotHoldAsDataLoss) {
  v1::LogRecord good = OrderRecord("e1", "c1", 1000, 7);
  good.set_position(7);
  v1::LogRecord decoded;
  ASSERT_TRUE(DecodeLogRecord(Key(7), good.SerializeAsString(), decoded).ok());
  EXPECT_EQ(decoded.event().event_id(), "e1");

  auto refused = [&](std::string_view key, const std::string& value, std::string_view why) {
    const absl::Status s = DecodeLogRecord(key, value, decoded);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << why << ": " << s;
    EXPECT_THAT(s.message(), HasSubstr(why));
  };
  refused(Key(7).substr(0, 7), good.SerializeAsString(), "a log key is malformed");
  refused(Key(7), "\xff\xff\xff", "at position 7 does not decode");
  refused(Key(8), good.SerializeAsString(), "says it is at position 7");
  v1::LogRecord no_body = good;
  no_body.clear_event();
  refused(Key(7), no_body.SerializeAsString(), "has no body");
  for (auto [field, why] : {std::pair{"event_id", "without event_id"},
                            std::pair{"customer_id", "without customer_id"},
                            std::pair{"occurred_at", "without occurred_at"}}) {
    v1::LogRecord bad = good;
    const google::protobuf::FieldDescriptor* f = v1::Event::descriptor()->FindFieldByName(field);
    bad.mutable_event()->GetReflection()->ClearField(bad.mutable_event(), f);
    refused(Key(7), bad.SerializeAsString(), why);
  }
}

// ReadRange goes through it: a record altered to claim another position is DataLoss.
TEST(EventLogCorruptionTest, ReadRangeOfARecordClaimingAnotherPositionIsDataLoss) {
  TempDir dir;
  Fill(dir.path());
  {
    RawStore raw(dir.path());
    v1::LogRecord record;
    ASSERT_TRUE(record.ParseFromString(raw.Get(4)));
    record.set_position(5);
    raw.Put(4, record.SerializeAsString());
  }
  auto log = EventLog::Open(dir.path(), {.mode = OpenMode::kReadOnly});
  ASSERT_TRUE(log.ok()) << log.status();
  const absl::Status s = (*log)->ReadRange(0, kRecords, [](const v1::LogRecord&) { return true; });
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(s.message(), HasSubstr("position 4 says it is at position 5"));
}

}  // namespace
}  // namespace guanxi::engine
