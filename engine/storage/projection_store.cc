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

// Protobuf's wire format of a length-delimited field up to its bytes: the tag, the length.
void AppendLengthDelimited(std::string& out, int field_number, size_t size) {
  uint8_t head[5 + 5];
  uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
      static_cast<uint32_t>(field_number) << 3 | 2, head);
  end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(size),
                                                                      end);
  out.append(reinterpret_cast<const char*>(head), static_cast<size_t>(end - head));
}

// The facts family fact by fact, whichever way they are stored: a group (DerivedFacts
// under FactGroupKey) yields each of its facts under the FactKey it would have alone, so
// stores written with and without groups read alike (ForEachFact) and compare equal
// (Compare). value() is the fact's serialized DerivedFact.
class FactCursor {
 public:
  explicit FactCursor(std::unique_ptr<rocksdb::Iterator> it) : it_(std::move(it)) {}
  void Seek(std::string_view key) {
    it_->Seek(rocksdb::Slice(key.data(), key.size()));
    Load();
  }
  void SeekToFirst() {
    it_->SeekToFirst();
    Load();
  }
  bool Valid() const { return next_ < facts_.size(); }
  const std::string& key() const { return key_; }
  uint64_t position() const { return position_; }
  std::string_view value() const { return facts_[next_]; }
  void Next() {
    if (++next_ < facts_.size()) {
      key_ = keys::FactKey(customer_, position_, index_ + static_cast<uint32_t>(next_));
      return;
    }
    it_->Next();
    Load();
  }
  absl::Status status() const { return status_.ok() ? FromRocks(it_->status(), "reading facts") : status_; }

 private:
  // The facts of the entry the iterator is at (none at the end or on damage: status()).
  void Load() {
    facts_.clear();
    next_ = 0;
    if (!it_->Valid() || !status_.ok()) return;
    const std::optional<keys::FactKeyParts> parts = keys::ParseFactKey(View(it_->key()));
    if (!parts) {
      status_ = absl::DataLossError("a malformed fact key");
      return;
    }
    customer_ = std::string(parts->customer_id);
    position_ = parts->position;
    index_ = parts->index;
    const std::string_view value = View(it_->value());
    if (!parts->group) {
      facts_.push_back(value);
    } else {
      google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(value.data()),
                                                static_cast<int>(value.size()));
      uint32_t size = 0;
      while (in.CurrentPosition() < static_cast<int>(value.size())) {
        if (in.ReadTag() != (guanxi::v1::DerivedFacts::kFactsFieldNumber << 3 | 2) ||
            !in.ReadVarint32(&size) || !in.Skip(static_cast<int>(size))) {
          facts_.clear();
          status_ = absl::DataLossError(absl::StrCat("the facts of customer ", customer_,
                                                     " at position ", position_,
                                                     " do not parse"));
          return;
        }
        facts_.push_back(value.substr(static_cast<size_t>(in.CurrentPosition()) - size, size));
      }
    }
    key_ = keys::FactKey(customer_, position_, index_);
  }

  std::unique_ptr<rocksdb::Iterator> it_;
  absl::Status status_;
  std::string customer_;
  uint64_t position_ = 0;
  uint32_t index_ = 0;
  std::vector<std::string_view> facts_;
  size_t next_ = 0;
  std::string key_;
};

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
  // The open group of facts: ops[facts_op] holds those of customer facts_customer at
  // facts_position, up to index facts_next - 1.
  size_t facts_op = SIZE_MAX;
  std::string facts_customer;
  uint64_t facts_position = 0;
  uint32_t facts_next = 0;
  // The outbox entries added since the last chunk was closed: consecutive sequences,
  // the last `outbox_last`.
  guanxi::v1::OutboxChunk outbox;
  uint64_t outbox_last = 0;

  // Adds a fact given as a serialized DerivedFact (`head`, then `body`, as one message) to
  // the open group when it continues it, else to a new group.
  void AddFact(std::string_view customer_id, uint64_t position, uint32_t index,
               std::string_view head, std::string_view body) {
    if (facts_op == SIZE_MAX || index != facts_next || position != facts_position ||
        customer_id != facts_customer) {
      ops.push_back({2, keys::FactGroupKey(customer_id, position, index), {}, false});
      facts_op = ops.size() - 1;
      facts_customer.assign(customer_id);
      facts_position = position;
    }
    // An element of DerivedFacts.facts: the field's tag, the length, the bytes.
    std::string& value = ops[facts_op].value;
    AppendLengthDelimited(value, guanxi::v1::DerivedFacts::kFactsFieldNumber,
                          head.size() + body.size());
    value.append(head);
    value.append(body);
    facts_next = index + 1;
  }

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
  impl_->facts_op = SIZE_MAX;
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
  impl_->AddFact(customer_id, position, index, fact.SerializeAsString(), {});
  ++writes_;
}

void ProjectionStore::Batch::AddChangeFact(std::string_view customer_id, uint64_t position,
                                           uint32_t index, std::string_view serialized_change) {
  // A message with one field set serializes as that field: its tag, the length, the
  // bytes.
  std::string head;
  AppendLengthDelimited(head, guanxi::v1::DerivedFact::kChangeFieldNumber,
                        serialized_change.size());
  impl_->AddFact(customer_id, position, index, head, serialized_change);
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
  FactCursor facts(
      std::unique_ptr<rocksdb::Iterator>(impl_->db->NewIterator(ReadOptionsAt(at), impl_->facts)));
  guanxi::v1::DerivedFact fact;
  for (facts.Seek(keys::FactKey(customer_id, from, 0)); facts.Valid(); facts.Next()) {
    if (!facts.key().starts_with(prefix)) break;
    const std::string_view bytes = facts.value();
    if (!fact.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return absl::DataLossError(
          absl::StrCat("a fact of customer ", Sv(customer_id), " does not parse"));
    }
    if (!visit(facts.position(), fact)) break;
  }
  return facts.status();
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

namespace {

// A family's entries as stored (every family but the facts, which FactCursor reads).
class EntryCursor {
 public:
  explicit EntryCursor(std::unique_ptr<rocksdb::Iterator> it) : it_(std::move(it)) {}
  void SeekToFirst() { it_->SeekToFirst(); }
  bool Valid() const { return it_->Valid(); }
  std::string_view key() const { return View(it_->key()); }
  std::string_view value() const { return View(it_->value()); }
  void Next() { it_->Next(); }
  absl::Status status() const { return FromRocks(it_->status(), "comparing stores"); }

 private:
  std::unique_ptr<rocksdb::Iterator> it_;
};

// Up to `max_differences` in `differences`: the keys of one family only one store has,
// and those whose values differ.
template <typename Cursor>
absl::Status CompareFamily(const std::string& family, Cursor& x, Cursor& y,
                           size_t max_differences, std::vector<std::string>& differences) {
  auto key_of = [&](const Cursor& it) {
    // States are keyed by readable customer ids; show the binary keys in hex.
    const std::string_view key = it.key();
    return family == kStateCf ? std::string(key) : Hex(key);
  };
  // The refit bookkeeping is the live requester's, not a projection: a replay has none.
  auto skip = [&](Cursor& it) {
    if (it.Valid() && family == kProjectionCf && it.key() == kRefitScheduleKey) it.Next();
  };
  x.SeekToFirst();
  y.SeekToFirst();
  skip(x);
  skip(y);
  while ((x.Valid() || y.Valid()) && differences.size() < max_differences) {
    const int order = !x.Valid() ? 1 : !y.Valid() ? -1 : std::string_view(x.key()).compare(y.key());
    if (order < 0) {
      differences.push_back(absl::StrCat(family, " ", key_of(x), ": only in the first"));
      x.Next();
    } else if (order > 0) {
      differences.push_back(absl::StrCat(family, " ", key_of(y), ": only in the second"));
      y.Next();
    } else {
      if (x.value() != y.value()) {
        differences.push_back(absl::StrCat(family, " ", key_of(x), ": values differ"));
      }
      x.Next();
      y.Next();
    }
    skip(x);
    skip(y);
  }
  RETURN_IF_ERROR(x.status());
  return y.status();
}

}  // namespace

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
    auto iterator = [&, member = member](const ProjectionStore& store) {
      return std::unique_ptr<rocksdb::Iterator>(
          store.impl_->db->NewIterator(rocksdb::ReadOptions(), store.impl_.get()->*member));
    };
    const std::string family(name);
    if (family == kFactsCf) {
      // Fact by fact: a store written before facts were grouped compares equal.
      FactCursor x(iterator(a)), y(iterator(b));
      RETURN_IF_ERROR(CompareFamily(family, x, y, max_differences, differences));
    } else {
      EntryCursor x(iterator(a)), y(iterator(b));
      RETURN_IF_ERROR(CompareFamily(family, x, y, max_differences, differences));
    }
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
