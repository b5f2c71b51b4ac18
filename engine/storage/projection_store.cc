#include "engine/storage/projection_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "engine/storage/keys.h"
#include "engine/storage/rocks_util.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace guanxi::engine {
namespace {

// The bytes of a message holding a map (ProjectionCheckpoint.sources) in one order,
// whatever order the map was filled in: a replay must store what the live projector
// stored, byte for byte (ProjectionStore::Compare).
std::string DeterministicBytes(const google::protobuf::Message& message) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    out.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&out);
  }
  return bytes;
}

using keys::kCheckpointKey;
using keys::kCustomerKeysCf;
using keys::kFactsCf;
using keys::kOutboxCf;
using keys::kProjectionCf;
using keys::kRefitScheduleKey;
using keys::kStateCf;
using keys::kTimersCf;
using keys::kWarningsCf;
using keys::SequenceKey;
using rocks::FromRocks;
using rocks::ReadOptionsAt;
using rocks::View;

std::string Hex(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) absl::StrAppendFormat(&out, "%02x", c);
  return out;
}

}  // namespace

struct ProjectionStore::Impl {
  EventLog* log = nullptr;
  rocksdb::DB* db = nullptr;
  rocksdb::ColumnFamilyHandle* state = nullptr;
  rocksdb::ColumnFamilyHandle* timers = nullptr;
  rocksdb::ColumnFamilyHandle* facts = nullptr;
  rocksdb::ColumnFamilyHandle* outbox = nullptr;
  rocksdb::ColumnFamilyHandle* projection = nullptr;
  rocksdb::ColumnFamilyHandle* warnings = nullptr;

  // The first outbox sequence not deleted (outbox_start()).
  mutable absl::Mutex outbox_mu;
  uint64_t outbox_start ABSL_GUARDED_BY(outbox_mu) = 0;
};

// Column families are bound at Commit, so a batch is built without a store.
struct ProjectionStore::Batch::Impl {
  struct Op {
    int family;  // 0 state, 1 timers, 2 facts, 3 outbox, 4 projection, 5 warnings
    std::string key;
    std::string value;
    bool erase = false;
  };
  std::vector<Op> ops;
  // The outbox entries added since the last chunk was closed: consecutive sequences,
  // the last `outbox_last`.
  guanxi::v1::OutboxChunk outbox;
  uint64_t outbox_last = 0;

  // Adds the open chunk (if any) to `ops`, under its last entry's sequence.
  void CloseOutboxChunk() {
    if (outbox.entries().empty()) return;
    ops.push_back({3, keys::OutboxChunkKey(outbox_last), outbox.SerializeAsString(), false});
    outbox.Clear();
  }
};

ProjectionStore::Batch::Batch() : impl_(std::make_unique<Impl>()) {}
ProjectionStore::Batch::~Batch() = default;

void ProjectionStore::Batch::Clear() {
  impl_->ops.clear();
  impl_->outbox.Clear();
  writes_ = 0;
}

void ProjectionStore::Batch::PutState(const guanxi::v1::CustomerState& state) {
  impl_->ops.push_back({0, state.customer_id(), state.SerializeAsString(), false});
  ++writes_;
}

void ProjectionStore::Batch::MoveTimer(std::string_view customer_id,
                                       std::optional<int64_t> old_deadline,
                                       std::optional<int64_t> new_deadline) {
  if (old_deadline == new_deadline) return;
  if (old_deadline) {
    impl_->ops.push_back({1, keys::TimerKey(*old_deadline, customer_id), {}, true});
  }
  if (new_deadline) {
    impl_->ops.push_back({1, keys::TimerKey(*new_deadline, customer_id), {}, false});
  }
  ++writes_;
}

void ProjectionStore::Batch::AddFact(std::string_view customer_id, uint64_t position,
                                     uint32_t index, const guanxi::v1::DerivedFact& fact) {
  impl_->ops.push_back(
      {2, keys::FactKey(customer_id, position, index), fact.SerializeAsString(), false});
  ++writes_;
}

void ProjectionStore::Batch::AddChangeFact(std::string_view customer_id, uint64_t position,
                                           uint32_t index, std::string_view serialized_change) {
  // A message with one field set serializes as that field: its tag, the length, the
  // bytes (protobuf's wire format for a length-delimited field).
  std::string value;
  value.reserve(1 + 5 + serialized_change.size());
  uint8_t head[1 + 5];
  head[0] = static_cast<uint8_t>((guanxi::v1::DerivedFact::kChangeFieldNumber << 3) | 2);
  const uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
      static_cast<uint32_t>(serialized_change.size()), head + 1);
  value.append(reinterpret_cast<const char*>(head), static_cast<size_t>(end - head));
  value.append(serialized_change);
  impl_->ops.push_back({2, keys::FactKey(customer_id, position, index), std::move(value), false});
  ++writes_;
}

void ProjectionStore::Batch::AddOutbox(uint64_t sequence, guanxi::v1::OutboxEntry entry) {
  if (!impl_->outbox.entries().empty() && sequence != impl_->outbox_last + 1) {
    impl_->CloseOutboxChunk();
  }
  *impl_->outbox.add_entries() = std::move(entry);
  impl_->outbox_last = sequence;
  ++writes_;
}

void ProjectionStore::Batch::AddWarning(const guanxi::v1::ChurnWarning& warning, uint64_t position,
                                        uint32_t index) {
  impl_->ops.push_back({5,
                        keys::WarningKey(warning.event_time().seconds(), warning.customer_id(),
                                         position, index),
                        warning.SerializeAsString(), false});
  ++writes_;
}

void ProjectionStore::Batch::PutCheckpoint(const guanxi::v1::ProjectionCheckpoint& checkpoint) {
  impl_->ops.push_back({4, kCheckpointKey, DeterministicBytes(checkpoint), false});
  ++writes_;
}

void ProjectionStore::Batch::PutRefitSchedule(const guanxi::v1::RefitSchedule& schedule) {
  impl_->ops.push_back({4, kRefitScheduleKey, schedule.SerializeAsString(), false});
  ++writes_;
}

const std::vector<std::string>& ProjectionStore::ColumnFamilies() {
  static const auto* const kFamilies = new std::vector<std::string>{
      kStateCf, kTimersCf, kFactsCf, kOutboxCf, kProjectionCf, kWarningsCf};
  return *kFamilies;
}

absl::StatusOr<std::unique_ptr<ProjectionStore>> ProjectionStore::Attach(EventLog* log) {
  auto impl = std::make_unique<Impl>();
  impl->log = log;
  impl->db = rocks::Access::Db(*log);
  impl->state = rocks::Access::Family(*log, kStateCf);
  impl->timers = rocks::Access::Family(*log, kTimersCf);
  impl->facts = rocks::Access::Family(*log, kFactsCf);
  impl->outbox = rocks::Access::Family(*log, kOutboxCf);
  impl->projection = rocks::Access::Family(*log, kProjectionCf);
  impl->warnings = rocks::Access::Family(*log, kWarningsCf);
  if (!impl->state || !impl->timers || !impl->facts || !impl->outbox || !impl->projection ||
      !impl->warnings) {
    return absl::FailedPreconditionError(
        "the store has no projection column families (open the log with "
        "ProjectionStore::ColumnFamilies(), read-write, at least once)");
  }
  auto store = std::unique_ptr<ProjectionStore>(new ProjectionStore(std::move(impl)));
  // Where the outbox starts: its first entry, or when empty, where the next will go. A
  // store that cannot tell (damaged; audit reads those) starts at 0.
  std::vector<std::pair<uint64_t, guanxi::v1::OutboxEntry>> first;
  uint64_t start = 0;
  if (store->ReadOutbox(0, 1, &first).ok()) {
    if (!first.empty()) {
      start = first.front().first;
    } else if (auto checkpoint = store->ReadCheckpoint(); checkpoint.ok()) {
      start = checkpoint->next_outbox_sequence();
    }
  }
  absl::MutexLock lock(&store->impl_->outbox_mu);
  store->impl_->outbox_start = start;
  return store;
}

ProjectionStore::ProjectionStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProjectionStore::~ProjectionStore() = default;

absl::Status ProjectionStore::Commit(Batch& batch) {
  rocksdb::ColumnFamilyHandle* const families[] = {
      impl_->state, impl_->timers, impl_->facts, impl_->outbox, impl_->projection, impl_->warnings};
  batch.impl_->CloseOutboxChunk();
  std::vector<rocks::KeyedWrite> writes;
  writes.reserve(batch.impl_->ops.size());
  for (auto& op : batch.impl_->ops) {
    writes.push_back({families[op.family], std::move(op.key), std::move(op.value), op.erase});
  }
  rocksdb::WriteBatch wb;
  RETURN_IF_ERROR(FromRocks(rocks::AddInKeyOrder(writes, wb), "building a projection batch"));
  const rocksdb::WriteOptions options = rocks::Access::WriteOptions(*impl_->log);
  batch.Clear();
  RETURN_IF_ERROR(impl_->log->CheckWritable());
  impl_->log->AwaitWriteBufferRoom();
  const rocksdb::Status s = impl_->db->Write(options, &wb);
  return s.ok() ? absl::OkStatus()
                : rocks::Access::WriteError(*impl_->log, s, "committing projections");
}

absl::StatusOr<guanxi::v1::ProjectionCheckpoint> ProjectionStore::ReadCheckpoint(
    const StoreSnapshot* at) const {
  guanxi::v1::ProjectionCheckpoint checkpoint;
  std::string value;
  rocksdb::Status s = impl_->db->Get(ReadOptionsAt(at), impl_->projection, kCheckpointKey, &value);
  if (s.IsNotFound()) return checkpoint;
  if (!s.ok()) return FromRocks(s, "reading the projection checkpoint");
  if (!checkpoint.ParseFromString(value)) {
    return absl::DataLossError("the projection checkpoint does not parse");
  }
  return checkpoint;
}

absl::StatusOr<guanxi::v1::RefitSchedule> ProjectionStore::ReadRefitSchedule() const {
  guanxi::v1::RefitSchedule schedule;
  std::string value;
  rocksdb::Status s =
      impl_->db->Get(rocksdb::ReadOptions(), impl_->projection, kRefitScheduleKey, &value);
  if (s.IsNotFound()) return schedule;
  if (!s.ok()) return FromRocks(s, "reading the refit schedule");
  if (!schedule.ParseFromString(value)) {
    return absl::DataLossError("the refit schedule does not parse");
  }
  return schedule;
}

namespace {

// A stored state parsed, or the error that names its customer.
absl::Status ParseState(std::string_view customer_id, const rocksdb::Slice& value,
                        guanxi::v1::CustomerState* state) {
  if (!state->ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError(
        absl::StrCat("the state of customer ", Sv(customer_id), " does not parse"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<bool> ProjectionStore::GetState(std::string_view customer_id,
                                               guanxi::v1::CustomerState* state,
                                               const StoreSnapshot* at) const {
  rocksdb::PinnableSlice value;
  rocksdb::Status s =
      impl_->db->Get(ReadOptionsAt(at), impl_->state,
                     rocksdb::Slice(customer_id.data(), customer_id.size()), &value);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return FromRocks(s, "reading a customer state");
  RETURN_IF_ERROR(ParseState(customer_id, value, state));
  return true;
}

absl::Status ProjectionStore::ForEachState(
    const std::function<bool(const guanxi::v1::CustomerState&)>& visit,
    std::optional<std::string_view> after) const {
  return ForEachCustomer(
      [](const std::string&) { return false; },
      [&](const std::string&, const guanxi::v1::CustomerState* state) { return visit(*state); },
      after);
}

absl::Status ProjectionStore::ForEachCustomer(
    const std::function<bool(const std::string&)>& held,
    const std::function<bool(const std::string&, const guanxi::v1::CustomerState*)>& visit,
    std::optional<std::string_view> after) const {
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->state));
  if (after) {
    it->Seek(rocksdb::Slice(after->data(), after->size()));
    if (it->Valid() && View(it->key()) == *after) it->Next();
  } else {
    it->SeekToFirst();
  }
  guanxi::v1::CustomerState state;
  std::string customer;
  for (; it->Valid(); it->Next()) {
    customer.assign(it->key().data(), it->key().size());
    if (held(customer)) {
      if (!visit(customer, nullptr)) break;
      continue;
    }
    RETURN_IF_ERROR(ParseState(customer, it->value(), &state));
    if (!visit(customer, &state)) break;
  }
  return FromRocks(it->status(), "reading customer states");
}

absl::Status ProjectionStore::ForEachTimer(
    const std::function<bool(int64_t, std::string_view)>& visit,
    std::optional<std::pair<int64_t, std::string_view>> from) const {
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->timers));
  if (from) {
    it->Seek(keys::TimerKey(from->first, from->second));
  } else {
    it->SeekToFirst();
  }
  for (; it->Valid(); it->Next()) {
    const std::optional<keys::TimerKeyParts> key = keys::ParseTimerKey(View(it->key()));
    if (!key) return absl::DataLossError("a malformed timer key");
    if (!visit(key->deadline, key->customer_id)) break;
  }
  return FromRocks(it->status(), "reading timers");
}

absl::Status ProjectionStore::ForEachFact(
    std::string_view customer_id,
    const std::function<bool(uint64_t, const guanxi::v1::DerivedFact&)>& visit,
    const StoreSnapshot* at, uint64_t from) const {
  const std::string prefix = keys::CustomerPrefix(customer_id);
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ReadOptionsAt(at), impl_->facts));
  guanxi::v1::DerivedFact fact;
  for (it->Seek(keys::FactKey(customer_id, from, 0)); it->Valid(); it->Next()) {
    const std::string_view key = View(it->key());
    if (key.substr(0, prefix.size()) != prefix) break;
    if (key.size() != prefix.size() + keys::kFactSuffixSize) {
      return absl::DataLossError("a malformed fact key");
    }
    if (!fact.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError(
          absl::StrCat("a fact of customer ", Sv(customer_id), " does not parse"));
    }
    if (!visit(keys::FactPosition(key, prefix.size()), fact)) break;
  }
  return FromRocks(it->status(), "reading facts");
}

absl::Status ProjectionStore::ForEachWarningSince(
    int64_t since, const std::function<bool(const guanxi::v1::ChurnWarning&)>& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->warnings));
  guanxi::v1::ChurnWarning warning;
  for (it->Seek(keys::WarningsFrom(since)); it->Valid(); it->Next()) {
    if (!warning.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("a warning does not parse");
    }
    if (!visit(warning)) break;
  }
  return FromRocks(it->status(), "reading warnings");
}

absl::Status ProjectionStore::ReadOutbox(
    uint64_t from_sequence, size_t max,
    std::vector<std::pair<uint64_t, guanxi::v1::OutboxEntry>>* out) const {
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->outbox));
  guanxi::v1::OutboxChunk chunk;
  for (it->Seek(SequenceKey(from_sequence)); it->Valid() && out->size() < max; it->Next()) {
    const std::optional<keys::OutboxKeyParts> key = keys::ParseOutboxKey(View(it->key()));
    if (!key) return absl::DataLossError("a malformed outbox key");
    const int size = static_cast<int>(it->value().size());
    chunk.Clear();
    if (key->chunk ? !chunk.ParseFromArray(it->value().data(), size)
                   : !chunk.add_entries()->ParseFromArray(it->value().data(), size)) {
      return absl::DataLossError(
          absl::StrCat("the outbox chunk ending at ", key->last_sequence, " does not parse"));
    }
    if (chunk.entries().empty() ||
        static_cast<uint64_t>(chunk.entries_size()) > key->last_sequence + 1) {
      return absl::DataLossError(absl::StrCat("the outbox chunk ending at ", key->last_sequence,
                                              " holds ", chunk.entries_size(), " entries"));
    }
    uint64_t sequence = key->last_sequence + 1 - chunk.entries_size();
    for (guanxi::v1::OutboxEntry& entry : *chunk.mutable_entries()) {
      if (sequence >= from_sequence && out->size() < max) {
        out->emplace_back(sequence, std::move(entry));
      }
      ++sequence;
    }
  }
  return FromRocks(it->status(), "reading the outbox");
}

absl::Status ProjectionStore::DeleteOutbox(uint64_t from_sequence, uint64_t to_sequence) {
  if (from_sequence >= to_sequence) return absl::OkStatus();
  const rocksdb::WriteOptions options = rocks::Access::WriteOptions(*impl_->log);
  RETURN_IF_ERROR(impl_->log->CheckWritable());
  // The one DeleteRange of the store: its family has no memtable insert hint
  // (EventLog::Open says why); a range deletion elsewhere must keep it so.
  const rocksdb::Status s = impl_->db->DeleteRange(
      options, impl_->outbox, SequenceKey(from_sequence), SequenceKey(to_sequence));
  if (!s.ok()) {
    return rocks::Access::WriteError(*impl_->log, s, "deleting published outbox entries");
  }
  absl::MutexLock lock(&impl_->outbox_mu);
  impl_->outbox_start = std::max(impl_->outbox_start, to_sequence);
  return absl::OkStatus();
}

uint64_t ProjectionStore::outbox_start() const {
  absl::MutexLock lock(&impl_->outbox_mu);
  return impl_->outbox_start;
}

bool ProjectionStore::AwaitOutboxStart(uint64_t sequence, absl::Duration timeout) const {
  absl::MutexLock lock(&impl_->outbox_mu);
  auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(impl_->outbox_mu) {
    return impl_->outbox_start >= sequence;
  };
  return impl_->outbox_mu.AwaitWithTimeout(absl::Condition(&reached), timeout);
}

absl::StatusOr<std::vector<std::string>> ProjectionStore::Compare(const ProjectionStore& a,
                                                                  const ProjectionStore& b,
                                                                  size_t max_differences) {
  std::vector<std::string> differences;
  const std::pair<const char*, rocksdb::ColumnFamilyHandle * ProjectionStore::Impl::*> families[] =
      {{kStateCf, &Impl::state},
       {kTimersCf, &Impl::timers},
       {kFactsCf, &Impl::facts},
       {kWarningsCf, &Impl::warnings},
       {kProjectionCf, &Impl::projection}};
  for (const auto& [name, member] : families) {
    std::unique_ptr<rocksdb::Iterator> x(
        a.impl_->db->NewIterator(rocksdb::ReadOptions(), a.impl_.get()->*member));
    std::unique_ptr<rocksdb::Iterator> y(
        b.impl_->db->NewIterator(rocksdb::ReadOptions(), b.impl_.get()->*member));
    x->SeekToFirst();
    y->SeekToFirst();
    // A copy for the lambdas: clang 14 cannot capture a structured binding.
    const std::string family(name);
    auto key_of = [&](rocksdb::Iterator& it) {
      // States and facts are keyed by readable customer ids; show timers' and facts'
      // binary parts in hex.
      const std::string_view key = View(it.key());
      return family == kStateCf ? std::string(key) : Hex(key);
    };
    // The refit bookkeeping is the live requester's, not a projection: a replay has none.
    auto skip = [&](rocksdb::Iterator& it) {
      if (it.Valid() && family == kProjectionCf && View(it.key()) == kRefitScheduleKey) {
        it.Next();
      }
    };
    skip(*x);
    skip(*y);
    while ((x->Valid() || y->Valid()) && differences.size() < max_differences) {
      const int order = !x->Valid() ? 1 : !y->Valid() ? -1 : x->key().compare(y->key());
      if (order < 0) {
        differences.push_back(absl::StrCat(name, " ", key_of(*x), ": only in the first"));
        x->Next();
      } else if (order > 0) {
        differences.push_back(absl::StrCat(name, " ", key_of(*y), ": only in the second"));
        y->Next();
      } else {
        if (x->value() != y->value()) {
          differences.push_back(absl::StrCat(name, " ", key_of(*x), ": values differ"));
        }
        x->Next();
        y->Next();
      }
      skip(*x);
      skip(*y);
    }
    RETURN_IF_ERROR(FromRocks(x->status(), "comparing stores"));
    RETURN_IF_ERROR(FromRocks(y->status(), "comparing stores"));
  }
  return differences;
}

}  // namespace guanxi::engine

namespace guanxi::engine {

absl::Status ProjectionStore::PurgeErased(std::string_view customer_id) {
  if (!rocks::Access::Writable(*impl_->log)) return absl::OkStatus();  // holds no writes
  rocksdb::DB* db = impl_->db;
  rocksdb::FlushOptions flush;
  flush.wait = true;
  RETURN_IF_ERROR(
      FromRocks(db->Flush(flush, rocks::Access::Families(*impl_->log)), "flushing before a purge"));
  // The customer's own key in both families: [id, id + "\0"] holds exactly it.
  const std::string begin(customer_id);
  const std::string end = begin + std::string(1, '\0');
  const rocksdb::Slice from(begin), to(end);
  rocksdb::CompactRangeOptions compact;
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (const char* name : {kCustomerKeysCf, kStateCf}) {
    rocksdb::ColumnFamilyHandle* cf = rocks::Access::Family(*impl_->log, name);
    if (cf == nullptr) continue;
    RETURN_IF_ERROR(FromRocks(db->CompactRange(compact, cf, &from, &to),
                              absl::StrCat("compacting ", name, " after an erasure")));
  }
  return absl::OkStatus();
}

}  // namespace guanxi::engine
