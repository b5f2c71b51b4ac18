// Internal to engine/storage: what its stores share of RocksDB. The only header with
// RocksDB types; included by engine/storage's own .cc files (and the storage tests that
// damage a store on purpose), never by a header (tests/wall_test.py checks).
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/storage/event_log.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/slice.h"
#include "rocksdb/sst_file_manager.h"
#include "rocksdb/status.h"
#include "rocksdb/write_batch.h"
#include "rocksdb/write_buffer_manager.h"

namespace guanxi::engine {

struct SharedStorage::Impl {
  std::shared_ptr<rocksdb::Cache> block_cache;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffer_manager;
  std::shared_ptr<rocksdb::SstFileManager> sst_file_manager;
};

struct StoreSnapshot::Impl {
  rocksdb::DB* db = nullptr;
  const rocksdb::Snapshot* snapshot = nullptr;
};

namespace rocks {

// The database of a log and the column families it opened, for the other stores sharing
// it (ProjectionStore).
struct Access {
  static rocksdb::DB* Db(const EventLog& log);
  // A column family the log opened (its own or an extra one), or null.
  static rocksdb::ColumnFamilyHandle* Family(const EventLog& log, std::string_view name);
  // Every column family the log opened.
  static std::vector<rocksdb::ColumnFamilyHandle*> Families(const EventLog& log);
  // Whether the log was opened kReadWrite (so the store may be flushed and compacted).
  static bool Writable(const EventLog& log);
  // How every store sharing the database writes: synced or not (EventLogOptions::sync),
  // through the write-ahead log unless a scratch store (EventLogOptions::scratch).
  static rocksdb::WriteOptions WriteOptions(const EventLog& log);
  // A failed write to the log's store as an absl::Status (FromRocks); a full disk as
  // ResourceExhausted naming the store's directory and its free space.
  static absl::Status WriteError(const EventLog& log, const rocksdb::Status& s,
                                 std::string_view what);
};

// A RocksDB status as an absl::Status, prefixed with what was being done.
inline absl::Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  const std::string message =
      absl::StrCat(absl::string_view(what.data(), what.size()), ": ", s.ToString());
  if (s.IsCorruption()) return absl::DataLossError(message);
  if (s.IsNoSpace() || s.subcode() == rocksdb::Status::kSpaceLimit) {
    return absl::ResourceExhaustedError(message);
  }
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain() || s.IsIncomplete()) {
    return absl::UnavailableError(message);
  }
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(message);
  if (s.IsNotFound()) return absl::NotFoundError(message);
  return absl::InternalError(message);
}

// One write of a batch, for AddInKeyOrder.
struct KeyedWrite {
  rocksdb::ColumnFamilyHandle* family = nullptr;
  std::string key;
  std::string value;
  bool erase = false;
};

// Adds `writes` to `batch` in key order within each column family; the writes to one key
// keep the order they were made in, so the batch leaves the store as it would have in
// that order. Why: a memtable is a skiplist, and a key that does not land next to the one
// inserted before it is searched for from the top; with the column families' insert hint
// (EventLog::Open) each key of an ascending run is searched for from where the one before
// it went, and the batch's keys of one family are such a run (issue #16; bench/README.md
// has the A/B).
inline rocksdb::Status AddInKeyOrder(const std::vector<KeyedWrite>& writes,
                                     rocksdb::WriteBatch& batch) {
  // Sorted by reference (the writes hold strings; moving them costs more than the sort).
  struct Ref {
    uint32_t family;
    std::string_view key;
    uint32_t index;  // the order made, for writes to one key
  };
  std::vector<Ref> order;
  order.reserve(writes.size());
  for (uint32_t i = 0; i < writes.size(); ++i) {
    order.push_back({writes[i].family->GetID(), writes[i].key, i});
  }
  std::sort(order.begin(), order.end(), [](const Ref& a, const Ref& b) {
    if (a.family != b.family) return a.family < b.family;
    if (const int c = a.key.compare(b.key); c != 0) return c < 0;
    return a.index < b.index;
  });
  for (const Ref& r : order) {
    const KeyedWrite& w = writes[r.index];
    rocksdb::Status s =
        w.erase ? batch.Delete(w.family, w.key) : batch.Put(w.family, w.key, w.value);
    if (!s.ok()) return s;
  }
  return rocksdb::Status::OK();
}

// Read options for a read as of `at` (null: the latest).
inline rocksdb::ReadOptions ReadOptionsAt(const StoreSnapshot* at) {
  rocksdb::ReadOptions read;
  if (at != nullptr) read.snapshot = at->impl().snapshot;
  return read;
}

inline std::string_view View(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

}  // namespace rocks
}  // namespace guanxi::engine
