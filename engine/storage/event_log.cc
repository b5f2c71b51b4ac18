#include "engine/storage/event_log.h"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <thread>
#include <cstring>
#include <filesystem>
#include <limits>
#include <numeric>
#include <system_error>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/digest.h"
#include "engine/storage/keys.h"
#include "engine/storage/personal_fields.h"
#include "engine/storage/rocks_util.h"
#include "engine/storage/sealing.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/listener.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/utilities/options_util.h"
#include "rocksdb/write_batch.h"
#include "rocksdb/write_buffer_manager.h"

namespace guanxi::engine {
namespace {

constexpr uint64_t kMaxWalBytes = 64 << 20;  // a store's write-ahead log files, at most

using keys::GetBigEndian64;
using keys::kCustomerKeysCf;
using keys::kDedupCf;
using keys::kHeadKey;
using keys::kLogCf;
using keys::kMetaCf;
using keys::kPartitionKey;
using keys::kStreamCf;
using keys::OffsetKey;
using keys::PositionKey;
using rocks::FromRocks;
using rocks::ReadOptionsAt;
using rocks::View;

// A customer_keys value: the key's id (8 bytes, big-endian) and its 32 bytes.
std::string KeyValue(const CustomerKey& key) {
  std::string value;
  keys::PutBigEndian64(value, key.id);
  value.append(reinterpret_cast<const char*>(key.bytes.data()), key.bytes.size());
  return value;
}
std::optional<CustomerKey> ParseKeyValue(std::string_view value) {
  CustomerKey key;
  if (value.size() != 8 + key.bytes.size()) return std::nullopt;
  key.id = GetBigEndian64(value.data());
  std::memcpy(key.bytes.data(), value.data() + 8, key.bytes.size());
  return key;
}

// RocksDB's info log of a store opened for writing (DIR/LOG; the previous one is kept as
// LOG.old), one write(2) per line. Not RocksDB's own file logger: in 7.8 that asserts
// on the line after one it failed to write (WritableFileWriter's "previous error"), and
// Debian builds RocksDB with assertions, so a full disk ended the process with SIGABRT
// (and the next start too, on its first lines). A line that cannot be written is dropped.
class InfoLog final : public rocksdb::Logger {
 public:
  explicit InfoLog(int fd) : fd_(fd) {}
  ~InfoLog() override { CloseFile(); }

  // A logger that drops everything when the file cannot be created.
  static std::shared_ptr<rocksdb::Logger> Open(const std::string& dir) {
    const std::string path = dir + "/LOG";
    std::error_code ec;
    std::filesystem::rename(path, dir + "/LOG.old", ec);  // none yet: nothing to keep
    return std::make_shared<InfoLog>(
        ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644));
  }

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    if (fd_ < 0) return;
    char line[4096];
    timeval now;
    gettimeofday(&now, nullptr);
    tm t;
    localtime_r(&now.tv_sec, &t);
    int n = std::snprintf(line, sizeof(line), "%04d/%02d/%02d-%02d:%02d:%02d.%06ld ",
                          t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min,
                          t.tm_sec, static_cast<long>(now.tv_usec));
    if (n < 0) return;
    const int m = std::vsnprintf(line + n, sizeof(line) - static_cast<size_t>(n), format, ap);
    if (m < 0) return;
    size_t length = std::min(sizeof(line) - 1, static_cast<size_t>(n) + static_cast<size_t>(m));
    if (line[length - 1] != '\n') line[length++] = '\n';
    if (::write(fd_, line, length) < 0) return;  // dropped (a full disk)
  }

 protected:
  rocksdb::Status CloseImpl() override {
    CloseFile();
    return rocksdb::Status::OK();
  }

 private:
  void CloseFile() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_;
};

const char* ReasonName(rocksdb::BackgroundErrorReason reason) {
  switch (reason) {
    case rocksdb::BackgroundErrorReason::kFlush:
      return "a flush";
    case rocksdb::BackgroundErrorReason::kCompaction:
      return "a compaction";
    case rocksdb::BackgroundErrorReason::kWriteCallback:
    case rocksdb::BackgroundErrorReason::kMemTable:
      return "a write";
    case rocksdb::BackgroundErrorReason::kManifestWrite:
    case rocksdb::BackgroundErrorReason::kManifestWriteNoWAL:
      return "a MANIFEST write";
    case rocksdb::BackgroundErrorReason::kFlushNoWAL:
      return "a flush";
  }
  return "background work";
}

// The first error RocksDB stopped a store's writes on (a failed WAL write, flush or
// compaction), and no recovery by RocksDB itself: its 7.8 recovery from a full disk
// goes on writing through the WAL writer that failed (facebook/rocksdb#11643, #12998),
// which asserts in Debian's build, and a store that failed mid-way is safest reopened.
// The engine stops instead (EventLog::CheckWritable), and a restart recovers from the
// WAL as after a crash.
class StoreErrors final : public rocksdb::EventListener {
 public:
  void OnBackgroundError(rocksdb::BackgroundErrorReason reason,
                         rocksdb::Status* error) override {
    if (error == nullptr || error->ok()) return;
    absl::MutexLock lock(&mu_);
    if (!first_.ok()) return;
    first_ = *error;
    reason_ = reason;
  }
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status,
                            bool* auto_recovery) override {
    if (auto_recovery != nullptr) *auto_recovery = false;
  }
  // OK, or the first error and what met it.
  std::pair<rocksdb::Status, rocksdb::BackgroundErrorReason> First() const {
    absl::MutexLock lock(&mu_);
    return {first_, reason_};
  }

 private:
  mutable absl::Mutex mu_;
  rocksdb::Status first_ ABSL_GUARDED_BY(mu_);
  rocksdb::BackgroundErrorReason reason_ ABSL_GUARDED_BY(mu_) =
      rocksdb::BackgroundErrorReason::kFlush;
};

}  // namespace

struct EventLog::Impl {
  EventLogOptions options;
  std::string dir;
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // parallel to names
  std::vector<std::string> names;
  rocksdb::ColumnFamilyHandle* log = nullptr;
  rocksdb::ColumnFamilyHandle* stream = nullptr;
  rocksdb::ColumnFamilyHandle* dedup = nullptr;
  rocksdb::ColumnFamilyHandle* meta = nullptr;
  // Null on a store opened read-only or secondary that predates sealing (none there).
  rocksdb::ColumnFamilyHandle* customer_keys = nullptr;
  std::shared_ptr<StoreErrors> errors;  // kReadWrite only
  std::shared_ptr<rocksdb::Logger> info_log;  // kReadWrite only; outlives db

  mutable absl::Mutex mu;
  uint64_t next_position ABSL_GUARDED_BY(mu) = 0;
  Hash head ABSL_GUARDED_BY(mu) = {};

  ~Impl() {
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    handles.clear();
    db.reset();  // before the info log it writes to
  }

  // A failed write as an absl::Status; a full disk as ResourceExhausted naming `dir`.
  absl::Status WriteError(const rocksdb::Status& s, std::string_view what) const {
    absl::Status status = FromRocks(s, what);
    if (status.code() != absl::StatusCode::kResourceExhausted) return status;
    const absl::StatusOr<uint64_t> free_bytes = FreeBytes(dir);
    return absl::ResourceExhaustedError(
        absl::StrCat(FullDiskMessage(dir, free_bytes.ok() ? *free_bytes : 0,
                                     options.min_free_bytes),
                     " (", status.message(), ")"));
  }

  // Reads the chain head from meta as of `read` (absent: an empty log).
  absl::Status ReadHead(const rocksdb::ReadOptions& read, uint64_t& next, Hash& hash) const {
    std::string value;
    rocksdb::Status s = db->Get(read, meta, kHeadKey, &value);
    if (s.IsNotFound()) {
      next = 0;
      hash.fill(0);
      return absl::OkStatus();
    }
    if (!s.ok()) return FromRocks(s, "reading the chain head");
    if (!keys::ParseHeadValue(value, next, hash)) {
      return absl::DataLossError("the chain head in meta is malformed");
    }
    return absl::OkStatus();
  }

  absl::Status LoadHead() {
    uint64_t next = 0;
    Hash hash;
    if (absl::Status s = ReadHead(rocksdb::ReadOptions(), next, hash); !s.ok()) return s;
    absl::MutexLock lock(&mu);
    next_position = next;
    head = hash;
    return absl::OkStatus();
  }

  // Records the partition on first use; refuses a store that holds another one.
  absl::Status CheckPartition() {
    if (!options.partition) return absl::OkStatus();
    std::string value;
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), meta, kPartitionKey, &value);
    if (s.IsNotFound()) {
      if (options.mode != OpenMode::kReadWrite) return absl::OkStatus();
      value = absl::StrCat(*options.partition);
      return FromRocks(db->Put(rocksdb::WriteOptions(), meta, kPartitionKey, value),
                       "recording the partition");
    }
    if (!s.ok()) return FromRocks(s, "reading the partition");
    if (value != absl::StrCat(*options.partition)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the event log at ", dir, " holds partition ", value, ", not ", *options.partition));
    }
    return absl::OkStatus();
  }

  // Counts the keys of a column family as of `read`.
  absl::StatusOr<uint64_t> CountKeys(const rocksdb::ReadOptions& read,
                                     rocksdb::ColumnFamilyHandle* cf) const {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read, cf));
    uint64_t n = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
    if (!it->status().ok()) return FromRocks(it->status(), "scanning an index");
    return n;
  }

  absl::StatusOr<guanxi::v1::LogRecord> ReadAt(uint64_t position,
                                               const rocksdb::ReadOptions& read) const {
    std::string value;
    rocksdb::Status s = db->Get(read, log, PositionKey(position), &value);
    if (s.IsNotFound())
      return absl::NotFoundError(absl::StrCat("no record at position ", position));
    if (!s.ok()) return FromRocks(s, absl::StrCat("reading position ", position));
    guanxi::v1::LogRecord record;
    RETURN_IF_ERROR(DecodeLogRecord(PositionKey(position), value, record));
    RETURN_IF_ERROR(OpenRecord(record, read));
    return record;
  }

  // Where, for errors: "partition 3" or the store's directory.
  std::string Where() const {
    return options.partition ? absl::StrCat("partition ", *options.partition) : dir;
  }

  // The customer's key as of `read`, or nullopt when there is none (never made, or
  // deleted by an erasure).
  absl::StatusOr<std::optional<CustomerKey>> KeyOf(std::string_view customer_id,
                                                   const rocksdb::ReadOptions& read) const {
    if (customer_keys == nullptr) return std::optional<CustomerKey>();
    std::string value;
    rocksdb::Status s = db->Get(read, customer_keys, rocksdb::Slice(customer_id.data(),
                                                                    customer_id.size()),
                                &value);
    if (s.IsNotFound()) return std::optional<CustomerKey>();
    if (!s.ok()) return FromRocks(s, "reading a customer key");
    std::optional<CustomerKey> key = ParseKeyValue(value);
    if (!key) {
      return absl::DataLossError(absl::StrCat(Where(), ": the key of customer '",
                                              absl::string_view(customer_id.data(),
                                                                customer_id.size()),
                                              "' is malformed"));
    }
    return key;
  }

  // The one read path of a stored record (see PersonalDataErased): restores the sealed
  // personal fields into the event when the customer's key exists, or leaves them empty
  // (and `sealed_personal` set) when an erasure deleted it. DataLoss naming the
  // partition and position when the sealed bytes do not authenticate.
  absl::Status OpenRecord(guanxi::v1::LogRecord& record, const rocksdb::ReadOptions& read) const {
    if (record.sealed_personal().empty() || !record.has_event()) return absl::OkStatus();
    const std::string& customer = record.event().customer_id();
    ASSIGN_OR_RETURN(std::optional<CustomerKey> key, KeyOf(customer, read));
    auto damaged = [&](absl::string_view why) {
      return absl::DataLossError(
          absl::StrCat(Where(), ", position ", record.position(), ": ", why));
    };
    absl::StatusOr<uint64_t> sealed_under = SealedKeyId(record.sealed_personal());
    if (!sealed_under.ok()) return damaged(sealed_under.status().message());
    // Erased: the customer has no key, or a newer one (made after an erasure deleted the
    // key this record was sealed under). The fields stay empty. (Bytes altered to name an
    // older key read as erased here; the hash chain, which covers them, shows the
    // alteration: Verify.)
    if (!key || *sealed_under < key->id) return absl::OkStatus();
    auto opened = Unseal(*key, record.sealed_personal(),
                         SealingContext(customer, record.position()));
    if (!opened.ok()) return damaged(opened.status().message());
    guanxi::v1::Event personal;
    if (!personal.ParseFromString(*opened)) {
      return damaged("the sealed personal data does not decode");
    }
    record.mutable_event()->MergeFrom(personal);
    record.clear_sealed_personal();
    return absl::OkStatus();
  }
};

namespace {

// Seals `personal` into r.sealed_personal under the customer's key, making the key (and
// putting it in `batch`) if the customer has none.
absl::Status SealInto(rocksdb::ColumnFamilyHandle* customer_keys, guanxi::v1::LogRecord& r,
                      const guanxi::v1::Event& personal,
                      std::unordered_map<std::string, std::optional<CustomerKey>>& keys,
                      rocksdb::WriteBatch& batch) {
  const std::string& customer = r.event().customer_id();
  std::optional<CustomerKey>& key = keys[customer];
  if (!key) {
    ASSIGN_OR_RETURN(key, NewCustomerKey(/*id=*/r.position()));
    batch.Put(customer_keys, customer, KeyValue(*key));
  }
  ASSIGN_OR_RETURN(std::string sealed, Seal(*key, personal.SerializeAsString(),
                                            SealingContext(customer, r.position())));
  r.set_sealed_personal(std::move(sealed));
  return absl::OkStatus();
}

}  // namespace

absl::Status DecodeLogRecord(std::string_view key, std::string_view value,
                             guanxi::v1::LogRecord& record) {
  if (key.size() != 8) return absl::DataLossError("a log key is malformed");
  const uint64_t position = GetBigEndian64(key.data());
  auto damaged = [position](std::string_view what) {
    return absl::DataLossError(absl::StrCat("the record at position ", position, " ", Sv(what)));
  };
  if (value.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !record.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return damaged("does not decode");
  }
  if (record.position() != position) {
    return damaged(absl::StrCat("says it is at position ", record.position()));
  }
  switch (record.body_case()) {
    case guanxi::v1::LogRecord::BODY_NOT_SET:
      return damaged("has no body");
    case guanxi::v1::LogRecord::kEvent: {
      const guanxi::v1::Event& e = record.event();
      if (e.event_id().empty()) return damaged("is an event without event_id");
      if (e.customer_id().empty()) return damaged("is an event without customer_id");
      if (!e.has_occurred_at()) return damaged("is an event without occurred_at");
      return absl::OkStatus();
    }
    default:
      return absl::OkStatus();
  }
}

SharedStorage::SharedStorage(int64_t block_cache_bytes, int64_t write_buffer_bytes,
                             uint64_t compaction_buffer_bytes)
    : impl_(std::make_unique<Impl>()) {
  impl_->block_cache = rocksdb::NewLRUCache(static_cast<size_t>(block_cache_bytes));
  // Memtables count against the cache too, so the two budgets add up to one bound.
  impl_->write_buffer_manager = std::make_shared<rocksdb::WriteBufferManager>(
      static_cast<size_t>(write_buffer_bytes), impl_->block_cache);
  impl_->sst_file_manager.reset(rocksdb::NewSstFileManager(rocksdb::Env::Default()));
  impl_->sst_file_manager->SetCompactionBufferSize(compaction_buffer_bytes);
}

SharedStorage::~SharedStorage() = default;

EventLog::EventLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EventLog::~EventLog() = default;

Hash EventLog::HashOf(std::string_view stored_value) { return Sha256(stored_value); }

absl::StatusOr<std::unique_ptr<EventLog>> EventLog::Open(const std::string& dir,
                                                         const EventLogOptions& options) {
  // RocksDB creates only the last level of a missing directory; create whole paths.
  const std::string& own_dir = options.mode == OpenMode::kReadWrite   ? dir
                               : options.mode == OpenMode::kSecondary ? options.secondary_dir
                                                                      : std::string();
  if (options.mode == OpenMode::kReadWrite) {
    // Not below the floor: opening writes (a new WAL, the OPTIONS file, a flush of what
    // the WAL recovered), and a disk that fills during it is what this floor prevents.
    RETURN_IF_ERROR(CheckFreeSpace(dir, options.min_free_bytes));
  }
  if (!own_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(own_dir, ec);
    if (ec) {
      return absl::InternalError(absl::StrCat("cannot create ", own_dir, ": ", ec.message()));
    }
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->dir = dir;

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = options.mode == OpenMode::kReadWrite;
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 4;
  // A write-ahead log file is deleted once every family with writes in it has flushed
  // them; a family written rarely (meta, the checkpoint, the outbox) holds every file
  // since its last flush. RocksDB's default bound, four times all the families' write
  // buffers (about 1.5 GiB a store here), let a 300,000-event ingest leave 10 files (7.9
  // MiB) beside 6 MiB of data in each partition; a crash's recovery, `guanxi replay` and
  // every secondary replay them at open. Over kMaxWalBytes, RocksDB flushes the families
  // holding the oldest file.
  db_options.max_total_wal_size = kMaxWalBytes;
  if (options.mode == OpenMode::kSecondary) db_options.max_open_files = -1;
  if (options.shared) {
    db_options.write_buffer_manager = options.shared->impl().write_buffer_manager;
    db_options.sst_file_manager = options.shared->impl().sst_file_manager;
  }
  if (options.mode == OpenMode::kReadWrite) {
    impl->info_log = InfoLog::Open(dir);
    db_options.info_log = impl->info_log;
    impl->errors = std::make_shared<StoreErrors>();
    db_options.listeners.push_back(impl->errors);
    db_options.max_bgerror_resume_count = 0;  // StoreErrors: no recovery by RocksDB
  }

  auto cache =
      options.shared ? options.shared->impl().block_cache : rocksdb::NewLRUCache(32 << 20);
  const auto supported = rocksdb::GetSupportedCompressions();
  const bool lz4 =
      std::find(supported.begin(), supported.end(), rocksdb::kLZ4Compression) != supported.end();
  auto cf_options = [&](bool bloom, bool insert_hint) {
    rocksdb::ColumnFamilyOptions cf;
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = cache;
    if (bloom) {
      // Most Append lookups miss: a bloom filter in the SST files, and a small one in the
      // memtable (2% of its 16 MiB, 335 KiB, about 10 bits a key of the 250,000 it holds):
      // a miss in the skiplist cost about 7,000 instructions an event, 4% of the engine's.
      // Only here: on every family the memtable filters cost about 3 MiB per store (94
      // MiB of 32 stores at 100,000 customers), and nothing else looks up what it lacks.
      table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
      cf.memtable_prefix_bloom_size_ratio = 0.02;
      cf.memtable_whole_key_filtering = true;
    }
    // Every store of the process shares one write-buffer budget (storage.write_buffer_bytes),
    // so a memtable need not be large: 16 MiB (RocksDB's default is 64) keeps what one
    // column family of one of many partitions can hold, and its arena blocks (2 MiB),
    // small.
    cf.write_buffer_size = 16 << 20;
    // One insert hint per memtable (every key has the empty prefix): a key is inserted
    // from where the last one went, climbing only as far as it must. The batches give
    // their keys in order (rocks::AddInKeyOrder), so the climb is short; without the hint
    // every key not next to the last one is searched for from the top. Not on a family
    // that takes DeleteRange (the outbox): RocksDB 7.8 (Debian's) shares the hint between a
    // memtable's keys and its range tombstones, which loses keys from scans (facebook/
    // rocksdb#5118, fixed upstream in 2024 by #12558).
    if (insert_hint) {
      cf.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewCappedPrefixTransform(0));
    }
    cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    cf.compression = lz4 && !options.scratch ? rocksdb::kLZ4Compression : rocksdb::kNoCompression;
    return cf;
  };
  // The log's own families, then the declared extra ones, then any others on disk.
  // Read-only and secondary opens can only open families that exist.
  std::vector<std::string> existing;
  const rocksdb::Options list_options(db_options, rocksdb::ColumnFamilyOptions());
  if (!rocksdb::DB::ListColumnFamilies(list_options, dir, &existing).ok()) existing.clear();
  std::vector<std::string> names = {rocksdb::kDefaultColumnFamilyName, kLogCf, kStreamCf, kDedupCf,
                                    kMetaCf};
  auto add = [&](const std::string& name) {
    if (std::find(names.begin(), names.end(), name) != names.end()) return;
    if (options.mode != OpenMode::kReadWrite &&
        std::find(existing.begin(), existing.end(), name) == existing.end()) {
      return;
    }
    names.push_back(name);
  };
  add(kCustomerKeysCf);
  for (const std::string& name : options.extra_column_families) add(name);
  // Every family on disk, in every mode: a read-write open must open them all, and a
  // secondary that leaves one out stops seeing the writer's new appends (its WAL
  // catch-up fails silently; tests/engine/projector_test.cc, SecondaryTest).
  for (const std::string& name : existing) add(name);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.reserve(names.size());
  for (const std::string& name : names)
    descriptors.emplace_back(name, cf_options(name == kDedupCf, name != keys::kOutboxCf));

  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  switch (options.mode) {
    case OpenMode::kReadWrite: {
      // The families on disk are opened, and those not there yet made after, in one call:
      // an open that makes them itself (create_missing_column_families) makes each with a
      // call that writes the OPTIONS file and parses it back, once per family, which was
      // most of what opening a fresh store cost (engine/storage/README.md).
      std::vector<size_t> order(descriptors.size());  // the families on disk first
      std::iota(order.begin(), order.end(), size_t{0});
      const auto first_missing = std::stable_partition(order.begin(), order.end(), [&](size_t i) {
        return names[i] == rocksdb::kDefaultColumnFamilyName ||
               std::find(existing.begin(), existing.end(), names[i]) != existing.end();
      });
      std::vector<rocksdb::ColumnFamilyDescriptor> present, missing;
      for (auto it = order.begin(); it != order.end(); ++it) {
        (it < first_missing ? present : missing).push_back(descriptors[*it]);
      }
      std::vector<rocksdb::ColumnFamilyHandle*> opened;
      s = rocksdb::DB::Open(rocksdb::Options(db_options, rocksdb::ColumnFamilyOptions()), dir,
                            present, &opened, &raw);
      if (!s.ok()) break;
      impl->db.reset(raw);
      if (!missing.empty()) {
        std::vector<rocksdb::ColumnFamilyHandle*> made;
        s = raw->CreateColumnFamilies(missing, &made);
        opened.insert(opened.end(), made.begin(), made.end());
      }
      if (!s.ok()) {
        impl->handles = std::move(opened);  // closed with the store
        break;
      }
      impl->handles.assign(descriptors.size(), nullptr);
      for (size_t k = 0; k < order.size(); ++k) impl->handles[order[k]] = opened[k];
      break;
    }
    case OpenMode::kReadOnly:
      s = rocksdb::DB::OpenForReadOnly(rocksdb::Options(db_options, rocksdb::ColumnFamilyOptions()),
                                       dir, descriptors, &impl->handles, &raw);
      break;
    case OpenMode::kSecondary:
      if (options.secondary_dir.empty()) {
        return absl::InvalidArgumentError("secondary_dir is required to open a log as secondary");
      }
      s = rocksdb::DB::OpenAsSecondary(rocksdb::Options(db_options, rocksdb::ColumnFamilyOptions()),
                                       dir, options.secondary_dir, descriptors, &impl->handles,
                                       &raw);
      break;
  }
  if (!s.ok()) return impl->WriteError(s, absl::StrCat("opening the event log at ", dir));
  if (impl->db == nullptr) impl->db.reset(raw);
  impl->log = impl->handles[1];
  impl->stream = impl->handles[2];
  impl->dedup = impl->handles[3];
  impl->meta = impl->handles[4];
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == kCustomerKeysCf) impl->customer_keys = impl->handles[i];
  }
  impl->names = std::move(names);
  if (absl::Status st = impl->CheckPartition(); !st.ok()) return st;
  if (absl::Status st = impl->LoadHead(); !st.ok()) return st;
  return std::unique_ptr<EventLog>(new EventLog(std::move(impl)));
}

absl::StatusOr<AppendResult> EventLog::Append(absl::Span<guanxi::v1::LogRecord> records,
                                              absl::Span<const SourceOffset> offsets) {
  Impl& d = *impl_;
  if (d.options.mode != OpenMode::kReadWrite) {
    return absl::FailedPreconditionError("Append on an event log opened read-only");
  }
  // Validate first: a bad record writes nothing.
  std::vector<size_t> event_indexes;
  for (size_t i = 0; i < records.size(); ++i) {
    const guanxi::v1::LogRecord& r = records[i];
    if (r.body_case() == guanxi::v1::LogRecord::BODY_NOT_SET) {
      return absl::InvalidArgumentError(absl::StrCat("records[", i, "] has no body"));
    }
    if (!r.has_event()) continue;
    const guanxi::v1::Event& e = r.event();
    if (e.event_id().empty())
      return absl::InvalidArgumentError(absl::StrCat("records[", i, "].event.event_id is missing"));
    if (e.customer_id().empty())
      return absl::InvalidArgumentError(
          absl::StrCat("records[", i, "].event.customer_id is missing"));
    if (!e.has_occurred_at())
      return absl::InvalidArgumentError(
          absl::StrCat("records[", i, "].event.occurred_at is missing"));
    event_indexes.push_back(i);
  }
  RETURN_IF_ERROR(CheckWritable());

  // Which events does the log already hold? One MultiGet (bloom-filtered) for the batch.
  std::vector<rocksdb::Slice> ids;
  ids.reserve(event_indexes.size());
  for (size_t i : event_indexes) ids.emplace_back(records[i].event().event_id());
  std::vector<rocksdb::PinnableSlice> found(ids.size());
  std::vector<rocksdb::Status> statuses(ids.size());
  if (!ids.empty()) {
    d.db->MultiGet(rocksdb::ReadOptions(), d.dedup, ids.size(), ids.data(), found.data(),
                   statuses.data());
  }

  AppendResult result;
  result.outcomes.resize(records.size());
  std::unordered_map<std::string_view, uint64_t> in_batch;
  in_batch.reserve(event_indexes.size());
  std::vector<bool> duplicate(records.size(), false);
  for (size_t k = 0; k < event_indexes.size(); ++k) {
    const size_t i = event_indexes[k];
    if (statuses[k].ok()) {
      if (found[k].size() != 8) return absl::DataLossError("a dedup entry is malformed");
      duplicate[i] = true;
      result.outcomes[i] = {true, GetBigEndian64(found[k].data())};
    } else if (!statuses[k].IsNotFound()) {
      return FromRocks(statuses[k], "reading the dedup index");
    }
  }

  // The keys of the customers whose events carry personal data: one MultiGet. A key
  // made or deleted within the batch is tracked in `keys` (nullopt: none, make one).
  std::unordered_map<std::string, std::optional<CustomerKey>> keys;
  std::vector<bool> has_personal(records.size(), false);
  {
    std::vector<std::string> customers;
    for (size_t k = 0; k < event_indexes.size(); ++k) {
      const size_t i = event_indexes[k];
      const guanxi::v1::Event& e = records[i].event();
      if (duplicate[i] || !HasPersonal(e)) continue;
      has_personal[i] = true;
      if (keys.try_emplace(e.customer_id()).second) customers.push_back(e.customer_id());
    }
    std::vector<rocksdb::Slice> slices(customers.begin(), customers.end());
    std::vector<rocksdb::PinnableSlice> values(slices.size());
    std::vector<rocksdb::Status> key_statuses(slices.size());
    if (!slices.empty()) {
      d.db->MultiGet(rocksdb::ReadOptions(), d.customer_keys, slices.size(), slices.data(),
                     values.data(), key_statuses.data());
    }
    for (size_t k = 0; k < customers.size(); ++k) {
      if (key_statuses[k].IsNotFound()) continue;
      if (!key_statuses[k].ok()) return FromRocks(key_statuses[k], "reading the customer keys");
      std::optional<CustomerKey> key = ParseKeyValue(View(values[k]));
      if (!key) {
        return absl::DataLossError(absl::StrCat(d.Where(), ": the key of customer '",
                                                customers[k], "' is malformed"));
      }
      keys[customers[k]] = key;
    }
  }

  uint64_t next;
  Hash head;
  {
    absl::MutexLock lock(&d.mu);
    next = d.next_position;
    head = d.head;
  }
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();

  rocksdb::WriteBatch batch;
  std::string value, key;
  std::vector<rocks::KeyedWrite> indexes;  // the stream and dedup entries
  indexes.reserve(2 * event_indexes.size());
  guanxi::v1::Event personal;
  for (size_t i = 0; i < records.size(); ++i) {
    if (duplicate[i]) continue;
    guanxi::v1::LogRecord& r = records[i];
    if (r.has_event()) {
      auto [it, inserted] = in_batch.try_emplace(r.event().event_id(), next);
      if (!inserted) {
        result.outcomes[i] = {true, it->second};
        continue;
      }
    }
    r.set_position(next);
    r.set_prev_hash(head.data(), head.size());
    r.mutable_recorded_at()->set_seconds(now_ns / 1'000'000'000);
    r.mutable_recorded_at()->set_nanos(static_cast<int32_t>(now_ns % 1'000'000'000));
    value.clear();
    if (r.has_event() && r.event().has_erasure()) {
      // The erasure deletes the key in the batch that appends it: from this record on,
      // the customer's earlier sealed fields no longer open. A later event of theirs
      // with personal data gets a new key.
      batch.Delete(d.customer_keys, r.event().customer_id());
      keys[r.event().customer_id()] = std::nullopt;
    }
    if (has_personal[i] && SplitPersonal(*r.mutable_event(), personal)) {
      // Stored: the event with its personal fields cleared, and them sealed. The caller's
      // record is given them back (it is what a read of this record returns).
      absl::Status sealed = SealInto(d.customer_keys, r, personal, keys, batch);
      if (sealed.ok()) r.SerializeToString(&value);
      r.mutable_event()->MergeFrom(personal);
      r.clear_sealed_personal();
      if (!sealed.ok()) return sealed;
    } else {
      r.SerializeToString(&value);
    }
    head = HashOf(value);
    key = PositionKey(next);
    batch.Put(d.log, key, value);
    if (r.has_event()) {
      indexes.push_back({d.stream, keys::StreamKey(r.event().customer_id(), next),
                         keys::StreamValue(r.event().occurred_at())});
      indexes.push_back({d.dedup, r.event().event_id(), key});
    }
    result.outcomes[i] = {false, next};
    ++result.appended;
    ++next;
  }
  // The records went in in position order; their index entries go in in key order.
  if (rocksdb::Status s = rocks::AddInKeyOrder(indexes, batch); !s.ok()) {
    return FromRocks(s, "building an append batch");
  }
  for (const SourceOffset& o : offsets) {
    batch.Put(d.meta, OffsetKey(o.topic, o.partition), keys::OffsetValue(o.next_offset));
  }
  batch.Put(d.meta, kHeadKey, keys::HeadValue(next, head));

  const rocksdb::WriteOptions write_options = rocks::Access::WriteOptions(*this);
  AwaitWriteBufferRoom();
  if (rocksdb::Status s = d.db->Write(write_options, &batch); !s.ok()) {
    return d.WriteError(s, "appending");
  }
  absl::MutexLock lock(&d.mu);
  d.next_position = next;
  d.head = head;
  return result;
}

void EventLog::AwaitWriteBufferRoom() const {
  if (!impl_->options.shared) return;
  const rocksdb::WriteBufferManager* manager =
      impl_->options.shared->impl().write_buffer_manager.get();
  if (manager == nullptr || !manager->enabled()) return;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  while (manager->memory_usage() > manager->buffer_size() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

absl::Status EventLog::CheckWritable() const {
  const Impl& d = *impl_;
  if (d.errors != nullptr) {
    if (auto [error, reason] = d.errors->First(); !error.ok()) {
      absl::Status s = d.WriteError(
          error, absl::StrCat("RocksDB stopped writing after ", ReasonName(reason), " failed"));
      if (s.code() == absl::StatusCode::kResourceExhausted) return s;
      return absl::InternalError(
          absl::StrCat("the store at ", d.dir, ": ", s.message(), "; restart to reopen it"));
    }
  }
  if (d.options.mode != OpenMode::kReadWrite) return absl::OkStatus();
  return CheckFreeSpace(d.dir, d.options.min_free_bytes);
}

uint64_t EventLog::next_position() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->next_position;
}

Hash EventLog::head_hash() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->head;
}

absl::StatusOr<std::optional<int64_t>> EventLog::StoredOffset(std::string_view topic,
                                                              int32_t partition) const {
  std::string value;
  rocksdb::Status s =
      impl_->db->Get(rocksdb::ReadOptions(), impl_->meta, OffsetKey(topic, partition), &value);
  if (s.IsNotFound()) return std::optional<int64_t>();
  if (!s.ok()) return FromRocks(s, "reading a stored offset");
  if (value.size() != 8) return absl::DataLossError("a stored offset is malformed");  // OffsetValue
  return std::optional<int64_t>(static_cast<int64_t>(GetBigEndian64(value.data())));
}

StoreSnapshot::StoreSnapshot(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StoreSnapshot::~StoreSnapshot() { impl_->db->ReleaseSnapshot(impl_->snapshot); }

std::unique_ptr<const StoreSnapshot> EventLog::TakeSnapshot() const {
  rocksdb::DB* db = impl_->db.get();
  return std::unique_ptr<const StoreSnapshot>(new StoreSnapshot(
      std::make_unique<StoreSnapshot::Impl>(StoreSnapshot::Impl{db, db->GetSnapshot()})));
}

absl::Status EventLog::ReadRange(uint64_t from, uint64_t to,
                                 const std::function<bool(const guanxi::v1::LogRecord&)>& visit,
                                 const StoreSnapshot* at) const {
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ReadOptionsAt(at), impl_->log));
  const rocksdb::ReadOptions read = ReadOptionsAt(at);
  guanxi::v1::LogRecord record;
  for (it->Seek(PositionKey(from)); it->Valid(); it->Next()) {
    if (it->key().size() != 8) return absl::DataLossError("a log key is malformed");
    const uint64_t position = GetBigEndian64(it->key().data());
    if (position >= to) break;
    RETURN_IF_ERROR(DecodeLogRecord(View(it->key()), View(it->value()), record));
    RETURN_IF_ERROR(impl_->OpenRecord(record, read));
    if (!visit(record)) return absl::OkStatus();
  }
  return FromRocks(it->status(), "reading the log");
}

absl::Status EventLog::ReadStream(std::string_view customer_id,
                                  const std::optional<google::protobuf::Timestamp>& until,
                                  const std::function<bool(const guanxi::v1::LogRecord&)>& visit,
                                  const StoreSnapshot* at, uint64_t from) const {
  const std::string prefix = keys::CustomerPrefix(customer_id);
  const rocksdb::ReadOptions read = ReadOptionsAt(at);
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(read, impl_->stream));
  for (it->Seek(keys::StreamKey(customer_id, from));
       it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (it->key().size() != prefix.size() + 8)
      return absl::DataLossError("a stream key is malformed");
    if (until && !keys::OccurredAtOrBefore(View(it->value()), *until)) continue;
    const uint64_t position = keys::StreamPosition(View(it->key()), prefix.size());
    auto record = impl_->ReadAt(position, read);
    if (!record.ok()) {
      return absl::DataLossError(absl::StrCat("the stream index points at position ", position,
                                              ": ", record.status().message()));
    }
    if (!visit(*record)) return absl::OkStatus();
  }
  return FromRocks(it->status(), "reading a customer stream");
}

absl::StatusOr<guanxi::v1::LogRecord> EventLog::FindEvent(std::string_view event_id) const {
  std::string value;
  rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), impl_->dedup,
                                     rocksdb::Slice(event_id.data(), event_id.size()), &value);
  if (s.IsNotFound()) {
    return absl::NotFoundError(absl::StrCat(
        "no event with id '", absl::string_view(event_id.data(), event_id.size()), "'"));
  }
  if (!s.ok()) return FromRocks(s, "reading the dedup index");
  if (value.size() != 8) return absl::DataLossError("a dedup entry is malformed");
  return impl_->ReadAt(GetBigEndian64(value.data()), rocksdb::ReadOptions());
}

absl::Status EventLog::CatchUp() {
  if (impl_->options.mode != OpenMode::kSecondary) return absl::OkStatus();
  // Not TryCatchUpWithPrimary: in RocksDB 7.8 a secondary that replayed a key from a WAL
  // keeps serving that value after the primary overwrote it and flushed
  // (facebook/rocksdb#15051), and the chain head and the offsets are such keys. A fresh
  // secondary reads the MANIFEST and the live WALs anew. Opened before the old one
  // closes, so a failure leaves this log as it was.
  auto fresh = Open(impl_->dir, impl_->options);
  if (!fresh.ok()) return fresh.status();
  impl_.swap((*fresh)->impl_);
  return absl::OkStatus();
}

absl::Status EventLog::Flush() {
  if (impl_->options.mode != OpenMode::kReadWrite) return absl::OkStatus();
  return FromRocks(impl_->db->Flush(rocksdb::FlushOptions(), impl_->handles), "flushing");
}

absl::Status EventLog::Checkpoint(const std::string& dir) const {
  if (impl_->options.mode != OpenMode::kReadWrite) {
    return absl::FailedPreconditionError("a checkpoint needs the store opened for writing");
  }
  rocksdb::Checkpoint* raw = nullptr;
  RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(impl_->db.get(), &raw), "checkpointing"));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  return FromRocks(checkpoint->CreateCheckpoint(dir), absl::StrCat("checkpointing to ", dir));
}

absl::StatusOr<VerifyResult> EventLog::Verify() const {
  Impl& d = *impl_;
  VerifyResult result;
  auto fail = [&](std::optional<uint64_t> position, std::string reason) {
    result.ok = false;
    result.first_bad_position = position;
    result.reason = std::move(reason);
    return result;
  };

  // One snapshot for the scan, the head and the indexes, so a concurrent Append cannot
  // make them disagree. (Read-only and secondary stores change only on CatchUp.)
  rocksdb::ReadOptions read;
  read.verify_checksums = true;
  read.fill_cache = false;
  std::shared_ptr<const rocksdb::Snapshot> snapshot;
  if (d.options.mode == OpenMode::kReadWrite) {
    snapshot.reset(d.db->GetSnapshot(),
                   [db = d.db.get()](const rocksdb::Snapshot* s) { db->ReleaseSnapshot(s); });
    read.snapshot = snapshot.get();
  }
  uint64_t head_next = 0;
  Hash head;
  if (absl::Status s = d.ReadHead(read, head_next, head); !s.ok()) {
    if (s.code() == absl::StatusCode::kDataLoss)
      return fail(std::nullopt, std::string(s.message()));
    return s;
  }

  std::unique_ptr<rocksdb::Iterator> it(d.db->NewIterator(read, d.log));
  uint64_t expected = 0;
  uint64_t events = 0;
  Hash prev = {};
  guanxi::v1::LogRecord record;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != 8) return fail(expected, "a log key is not 8 bytes");
    const uint64_t position = GetBigEndian64(it->key().data());
    if (position != expected) {
      return fail(expected,
                  absl::StrCat("missing: the next stored record is at position ", position));
    }
    if (!record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return fail(position, "altered: the record does not decode");
    }
    if (record.position() != position) {
      return fail(position,
                  absl::StrCat("out of order: the record stored here belongs at position ",
                               record.position()));
    }
    if (record.prev_hash().size() != prev.size() ||
        std::memcmp(record.prev_hash().data(), prev.data(), prev.size()) != 0) {
      // This record's link disagrees with its predecessor's content: the predecessor
      // was altered (or, equally consistent with the evidence, this link was).
      return fail(position == 0 ? 0 : position - 1,
                  absl::StrCat("altered: the hash chain breaks between positions ",
                               position == 0 ? 0 : position - 1, " and ", position));
    }
    prev = HashOf(View(it->value()));
    if (record.has_event()) ++events;
    ++expected;
    ++result.records_checked;
  }
  if (!it->status().ok()) {
    return fail(expected, absl::StrCat("unreadable: position ", expected,
                                       " and after cannot be read: ", it->status().ToString()));
  }
  if (head_next > expected) {
    return fail(expected, absl::StrCat("missing: the chain head says ", head_next,
                                       " records, the log holds ", expected));
  }
  if (head_next < expected) {
    return fail(head_next, absl::StrCat("the log holds ", expected,
                                        " records, more than the chain head's ", head_next));
  }
  if (expected > 0 && head != prev) {
    return fail(expected - 1, "altered: the last record no longer matches the chain head");
  }
  for (auto [cf, name] : {std::pair{d.stream, kStreamCf}, std::pair{d.dedup, kDedupCf}}) {
    absl::StatusOr<uint64_t> n = d.CountKeys(read, cf);
    if (!n.ok()) return fail(std::nullopt, absl::StrCat("unreadable: ", n.status().message()));
    if (*n != events) {
      return fail(std::nullopt, absl::StrCat("index: ", name, " holds ", *n, " entries for ",
                                             events, " event records"));
    }
  }
  rocksdb::Status checksums = d.db->VerifyChecksum();
  if (!checksums.ok())
    return fail(std::nullopt, absl::StrCat("unreadable: RocksDB checksum: ", checksums.ToString()));
  return result;
}

absl::Status VerifyResult::ToStatus() const {
  if (ok) return absl::OkStatus();
  return absl::DataLossError(
      first_bad_position
          ? absl::StrCat("the event log is damaged at position ", *first_bad_position, ": ", reason)
          : absl::StrCat("the event log is damaged: ", reason));
}

namespace rocks {

rocksdb::ColumnFamilyHandle* Access::Family(const EventLog& log, std::string_view name) {
  for (size_t i = 0; i < log.impl_->names.size(); ++i) {
    if (log.impl_->names[i] == name) return log.impl_->handles[i];
  }
  return nullptr;
}

rocksdb::DB* Access::Db(const EventLog& log) { return log.impl_->db.get(); }

std::vector<rocksdb::ColumnFamilyHandle*> Access::Families(const EventLog& log) {
  return log.impl_->handles;
}

bool Access::Writable(const EventLog& log) {
  return log.impl_->options.mode == OpenMode::kReadWrite;
}

rocksdb::WriteOptions Access::WriteOptions(const EventLog& log) {
  rocksdb::WriteOptions options;
  options.sync = log.impl_->options.sync;
  options.disableWAL = log.impl_->options.scratch;
  return options;
}

absl::Status Access::WriteError(const EventLog& log, const rocksdb::Status& s,
                                std::string_view what) {
  return log.impl_->WriteError(s, what);
}

}  // namespace rocks

}  // namespace guanxi::engine
