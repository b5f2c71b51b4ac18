// The event log of one Kafka partition: an append-only, hash-chained sequence of
// records in its own RocksDB store, with a per-customer stream index, an event-id dedup
// index, and the consumed source offsets committed atomically with the records.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<EventLog> log,
//                    EventLog::Open(dir, {.partition = 3}));
//   std::vector<guanxi::v1::LogRecord> batch = ...;  // body + source set per record
//   ASSIGN_OR_RETURN(AppendResult r,
//                    log->Append(absl::MakeSpan(batch), {{"guanxi.events", 3, 1042}}));
//
// Atomicity: one Append is one RocksDB WriteBatch holding the records, both indexes, the
// source offsets and the chain head: after any crash either all of it is there or none.
// Durability: with `sync` off, a process crash loses nothing Append returned OK for; a
// machine crash may lose the last batches (never part of one), and since the offsets
// went with them, Kafka delivers exactly those again. With `sync` on, Append returns
// only after the WAL is fdatasync'ed (RocksDB WriteOptions::sync).
// Thread-safety: Append must be called from one thread at a time (the partition's one
// writer); reads may run concurrently with it and with each other.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "google/protobuf/timestamp.pb.h"
#include "guanxi/v1/log.pb.h"

namespace guanxi::engine {

using Hash = std::array<uint8_t, 32>;  // SHA-256

enum class OpenMode {
  kReadWrite,  // the partition's one writer; creates the store on first open
  kReadOnly,   // a fixed view as of open; fails if another process is compacting files away
  kSecondary,  // follows a running writer: call CatchUp() to see its newer appends
};

// One block cache and one write-buffer budget (memtables charged to the cache) for every
// partition's store in a process, so memory stays bounded however many partitions it
// owns (docs/storage.md); and one RocksDB SstFileManager, which tracks the stores' files
// together and keeps `compaction_buffer_bytes` free beside a compaction. Immutable once
// made; thread-safe.
class SharedStorage {
 public:
  SharedStorage(int64_t block_cache_bytes, int64_t write_buffer_bytes,
                uint64_t compaction_buffer_bytes = 0);
  ~SharedStorage();
  SharedStorage(const SharedStorage&) = delete;
  SharedStorage& operator=(const SharedStorage&) = delete;

  struct Impl;  // internal to engine/storage (rocks_util.h)
  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

struct EventLogOptions {
  OpenMode mode = OpenMode::kReadWrite;
  // kSecondary only: a directory of the reader's own (RocksDB keeps its info log there).
  std::string secondary_dir{};
  bool sync = false;
  // A store thrown away after use, which nothing reads after a crash (replay's and the
  // audit's rebuilds: engine::OpenReplayStore): every write to the database (appends,
  // the projection store's commits) skips RocksDB's write-ahead log, what is not flushed
  // yet dies with the process, and the files flushed are not compressed. Those rebuilds
  // spent a tenth of their time writing the log and compressing (docs/storage.md).
  bool scratch = false;
  // Shared across every partition's store of one process; null = a private block cache
  // of 32 MiB and no write-buffer budget.
  std::shared_ptr<const SharedStorage> shared{};
  // The partition this store holds. Recorded in meta on the first read-write open that
  // sets it; an open naming another partition then fails (FailedPrecondition), so a
  // store cannot be mounted as the wrong partition. Unset: not checked.
  std::optional<int32_t> partition{};
  // Column families other stores of engine/storage keep in the same database
  // (ProjectionStore::ColumnFamilies()). Created by a read-write open; read-only and
  // secondary opens get those that exist. Families found on disk but not declared are
  // opened too, in every mode (a read-write open must open them all; a secondary missing one stops seeing
  // new appends), with default options.
  std::vector<std::string> extra_column_families{};
  // kReadWrite only: the free space kept on the filesystem of `dir` (0: none kept).
  // Open refuses to open the store with less free, and every write to it (Append, the
  // projection store's commits) is refused while less is free: ResourceExhausted naming
  // the directory, the free space and this floor (FullDiskMessage). Its room is what
  // RocksDB's background work needs to finish once writes stop: flushing the memtables
  // and a compaction (docs/storage.md, "The space budget").
  uint64_t min_free_bytes = 0;
};


// A Kafka position consumed up to: the next offset to read.
struct SourceOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t next_offset = 0;
};

struct AppendOutcome {
  bool duplicate = false;  // an event whose event_id the log already had (or the batch)
  uint64_t position = 0;   // where it was appended, or where the original lies
};

struct AppendResult {
  std::vector<AppendOutcome> outcomes;  // one per input record, in order
  uint64_t appended = 0;
};

struct VerifyResult {
  bool ok = true;
  uint64_t records_checked = 0;
  std::optional<uint64_t> first_bad_position{};
  std::string reason{};  // empty when ok

  // OK, or DataLoss naming the first bad position and the reason.
  absl::Status ToStatus() const;
};

// One point in a partition's store (a RocksDB snapshot): the reads given it see exactly
// what had been committed when it was taken, in every column family (the log's and those
// of the code sharing the store: a customer's state, its facts and the projection
// checkpoint as one commit left them), however much is written after. For a reader
// beside the store's writers (a query inside `guanxi run`); read-only and secondary
// stores change only on CatchUp and need none.
// Holding one keeps RocksDB from compacting away the versions it sees: hold it for one
// query. Lifetime: it must be destroyed before the EventLog that took it, and not be
// used across that log's CatchUp. Thread-safe (immutable).
class StoreSnapshot {
 public:
  ~StoreSnapshot();
  StoreSnapshot(const StoreSnapshot&) = delete;
  StoreSnapshot& operator=(const StoreSnapshot&) = delete;

  struct Impl;  // internal to engine/storage (rocks_util.h)
  const Impl& impl() const { return *impl_; }

 private:
  friend class EventLog;
  explicit StoreSnapshot(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Whether a record read back through EventLog (ReadRange, ReadStream, FindEvent) had
// its personal fields erased: sealed, and the customer's key deleted by an erasure, so
// they are empty in its event. A record read with its key has them restored and
// `sealed_personal` cleared; one written before sealing existed has them in clear text.
inline bool PersonalDataErased(const guanxi::v1::LogRecord& record) {
  return !record.sealed_personal().empty();
}

namespace rocks {
struct Access;
}

// Decodes one stored record of the `log` column family as every read of the log does:
// `key` is its 8-byte position, `value` the serialized LogRecord, decoded into `record`.
// A record the log could not have written is DataLoss naming the position (when the key
// gives one), never handed on: a key that is not 8 bytes, a value that does not decode,
// a record that says another position, one without a body, or an event without what
// Append requires (event_id, customer_id, occurred_at). Pure; thread-safe.
absl::Status DecodeLogRecord(std::string_view key, std::string_view value,
                             guanxi::v1::LogRecord& record);

class EventLog {
 public:
  static absl::StatusOr<std::unique_ptr<EventLog>> Open(const std::string& dir,
                                                        const EventLogOptions& options);
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Appends `records` (each with its body and, for events, its source coordinates set;
  // position, prev_hash and recorded_at are filled in here) and stores `offsets`, in one
  // atomic write. An event's personal fields are stored sealed (LogRecord.sealed_personal,
  // under the customer's key, made in this batch if the customer has none); `records`
  // are left holding them, as a read returns them. An Erasure event deletes its
  // customer's key in the same batch. An event whose event_id is already in the log, or earlier in the same
  // batch, is not appended again (outcome.duplicate). An event without event_id,
  // customer_id or occurred_at is InvalidArgument naming the field, and nothing is
  // written. FailedPrecondition on a log not opened kReadWrite.
  absl::StatusOr<AppendResult> Append(absl::Span<guanxi::v1::LogRecord> records,
                                      absl::Span<const SourceOffset> offsets);

  // The position the next appended record will get (= number of records).
  uint64_t next_position() const;
  // The hash of the last record (32 zero bytes for an empty log).
  Hash head_hash() const;
  // The next offset to consume stored for topic/partition, if any.
  absl::StatusOr<std::optional<int64_t>> StoredOffset(std::string_view topic,
                                                      int32_t partition) const;

  // The store as it is now, for reads that must agree with each other (StoreSnapshot).
  std::unique_ptr<const StoreSnapshot> TakeSnapshot() const;

  // Every read below returns records opened: the event's personal fields restored from
  // `sealed_personal` under the customer's key, or left empty when an erasure deleted
  // it (PersonalDataErased). Sealed bytes that do not authenticate are DataLoss naming
  // the partition and the position.
  //
  // Calls `visit` with each record in [from, to) in position order until it returns
  // false. DataLoss if a record cannot be read or decoded. With `at`, as of that
  // snapshot (of this log).
  absl::Status ReadRange(uint64_t from, uint64_t to,
                         const std::function<bool(const guanxi::v1::LogRecord&)>& visit,
                         const StoreSnapshot* at = nullptr) const;
  // The customer's records at position `from` or later, in position order (a seek: the
  // records before `from` are not read); with `until`, only events that occurred at or
  // before it. With `at`, as of that snapshot (of this log).
  absl::Status ReadStream(std::string_view customer_id,
                          const std::optional<google::protobuf::Timestamp>& until,
                          const std::function<bool(const guanxi::v1::LogRecord&)>& visit,
                          const StoreSnapshot* at = nullptr, uint64_t from = 0) const;
  // The record holding this event_id, or NotFound.
  absl::StatusOr<guanxi::v1::LogRecord> FindEvent(std::string_view event_id) const;

  // kSecondary: shows the writer's newer appends, by reopening the secondary (RocksDB
  // 7.8's own catch-up can serve stale values of overwritten keys after a flush). A
  // ProjectionStore attached to this log is invalid after it. A no-op for other modes.
  absl::Status CatchUp();

  // Checks RocksDB's block checksums and the chain: positions dense from 0, each key
  // equal to its record's position, each prev_hash equal to the previous record's hash,
  // the head stored in meta equal to the last record, and one stream and one dedup
  // entry per event record. Names the first bad position. Damage is reported in the
  // result (ok = false; ToStatus() gives DataLoss); a non-OK status means Verify itself
  // could not run. Reads one snapshot, so it may run beside Append.
  absl::StatusOr<VerifyResult> Verify() const;

  // Flushes memtables to SST files (tests, checkpoints, a partition set down).
  absl::Status Flush();

  // Writes a consistent copy of the whole store (the log and every column family
  // attached to it) to `dir`, which must not exist: a RocksDB checkpoint, hard links
  // where `dir` is on the same filesystem, copies elsewhere. Safe beside Append and the
  // projection store's commits (each a batch: the copy holds a batch whole or not at
  // all). FailedPrecondition on a log not opened kReadWrite.
  absl::Status Checkpoint(const std::string& dir) const;

  // Before a write to this store (Append calls it; so does the projection store's
  // commit): while the memtables of every store sharing the write-buffer budget hold
  // more than it (the flush thread is behind the writers), waits for them to be flushed,
  // 100 ms at most. RocksDB's own WriteBufferManager only asks the writing store to
  // flush; its stall mode can wait forever on stores nobody writes to any more.
  void AwaitWriteBufferRoom() const;

  // Whether this store may be written now (Append calls it; so do the projection
  // store's writes). ResourceExhausted (FullDiskMessage) while its filesystem has less
  // than `min_free_bytes` free, or when RocksDB stopped the store on a full disk; Internal
  // when it stopped it on another error (a flush or compaction that failed), with its
  // message. Either way nothing is written, and the store stays as its
  // last write left it: the engine stops, and a restart resumes from there. RocksDB's
  // own recovery from such errors is switched off: in 7.8 it goes on writing through
  // a file writer that failed (facebook/rocksdb#11643).
  absl::Status CheckWritable() const;

  // SHA-256 of a stored record value.
  static Hash HashOf(std::string_view stored_value);

 private:
  friend struct rocks::Access;  // the other stores of engine/storage sharing the database
  struct Impl;
  explicit EventLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace guanxi::engine
