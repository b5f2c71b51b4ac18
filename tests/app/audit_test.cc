// `guanxi audit verify` end to end, in-process: an intact data directory, a tampered one.
#include <sstream>

#include "app/commands.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/event_log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/engine/event_log_test_util.h"

namespace guanxi::app {
namespace {

using ::guanxi::engine::testing::OrderRecord;
using ::guanxi::engine::testing::TempDir;
using ::testing::HasSubstr;

struct AuditRun {
  int code;
  std::string out, err;
};

AuditRun Audit(std::vector<const char*> args) {
  args.insert(args.begin(), {"guanxi", "audit", "verify"});
  std::ostringstream out, err;
  Io io{out, err};
  const int code = RootCommand().Main(static_cast<int>(args.size()), args.data(), io);
  return {code, out.str(), err.str()};
}

void FillPartition(const std::string& data, int32_t partition, int records) {
  auto log = engine::EventLog::Open(engine::PartitionDir(data, partition), {});
  ASSERT_TRUE(log.ok()) << log.status();
  std::vector<v1::LogRecord> batch;
  for (int i = 0; i < records; ++i) {
    batch.push_back(OrderRecord("p" + std::to_string(partition) + "-" + std::to_string(i), "c",
                                1000 + i, i, partition));
  }
  ASSERT_TRUE((*log)->Append(absl::MakeSpan(batch), {}).ok());
}

TEST(AuditVerifyTest, IntactDataDirectoryExitsZeroWithSummary) {
  TempDir dir;
  FillPartition(dir.path(), 0, 5);
  FillPartition(dir.path(), 3, 7);
  AuditRun r = Audit({"--data", dir.path().c_str()});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("partition 0: intact, 5 records"));
  EXPECT_THAT(r.out, HasSubstr("partition 3: intact, 7 records"));
  EXPECT_THAT(r.out, HasSubstr("intact: 2 partitions, 12 records checked"));
  AuditRun j = Audit({"--data", dir.path().c_str(), "--json"});
  EXPECT_EQ(j.code, kExitOk);
  EXPECT_THAT(j.out, HasSubstr("{\"ok\":true,\"recordsChecked\":12,"));
}

TEST(AuditVerifyTest, DeletedRecordNamesPartitionAndPosition) {
  TempDir dir;
  FillPartition(dir.path(), 1, 6);
  {
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const char* name : {"default", "log", "stream", "dedup", "meta", "customer_keys"}) {
      cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), engine::PartitionDir(dir.path(), 1), cfs,
                                  &handles, &db)
                    .ok());
    ASSERT_TRUE(
        db->Delete(rocksdb::WriteOptions(), handles[1], std::string("\0\0\0\0\0\0\0\2", 8)).ok());
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    delete db;
  }
  AuditRun r = Audit({"--data", dir.path().c_str()});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_THAT(r.out, HasSubstr("partition 1: DAMAGED at position 2"));
  AuditRun j = Audit({"--data", dir.path().c_str(), "--json"});
  EXPECT_THAT(j.out, HasSubstr("\"firstBadPosition\":2"));
}

TEST(AuditVerifyTest, MissingDataDirectoryIsAFailureNotAnEmptySuccess) {
  AuditRun r = Audit({"--data", "/nonexistent/guanxi-data"});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_THAT(r.err, HasSubstr("no partition stores"));
}

}  // namespace
}  // namespace guanxi::app
