// Sealing (engine/storage/sealing.h), the personal fields (personal_fields.h) and the
// event log's one read path for sealed records (event_log.h): personal data is stored
// sealed, read back restored, read back empty once the customer's key is deleted, and a
// record whose sealed bytes were altered is DataLoss naming its partition and position.
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/storage/event_log.h"
#include "engine/storage/keys.h"
#include "engine/storage/personal_fields.h"
#include "engine/storage/rocks_util.h"
#include "engine/storage/sealing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "google/protobuf/descriptor.h"
#include "guanxi/v1/options.pb.h"
#include "guanxi/v1/state.pb.h"
#include "rocksdb/db.h"
#include "tests/engine/event_log_test_util.h"

namespace guanxi::engine {
namespace {

using ::guanxi::engine::testing::TempDir;
using ::testing::HasSubstr;

constexpr char kSecret[] = "third late delivery, Zhang Min furious";
constexpr char kName[] = "Zhang Min";

TEST(SealingTest, OpensWhatItSealedAndNothingElse) {
  auto key = NewCustomerKey(3);
  ASSERT_TRUE(key.ok());
  auto sealed = Seal(*key, kSecret, SealingContext("C-1", 7));
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ(sealed->find(kSecret), std::string::npos);
  auto opened = Unseal(*key, *sealed, SealingContext("C-1", 7));
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, kSecret);
  // Two seals of the same text differ (random nonce).
  EXPECT_NE(*Seal(*key, kSecret, SealingContext("C-1", 7)), *sealed);

  // Another position, another customer, another key, a flipped bit, a cut: DataLoss.
  EXPECT_EQ(Unseal(*key, *sealed, SealingContext("C-1", 8)).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(Unseal(*key, *sealed, SealingContext("C-2", 7)).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(Unseal(*NewCustomerKey(3), *sealed, SealingContext("C-1", 7)).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(*SealedKeyId(*sealed), 3u);
  for (size_t at : {size_t{0}, size_t{5}, size_t{20}, sealed->size() - 1}) {
    std::string tampered = *sealed;
    tampered[at] = static_cast<char>(tampered[at] ^ 0x01);
    EXPECT_EQ(Unseal(*key, tampered, SealingContext("C-1", 7)).status().code(),
              absl::StatusCode::kDataLoss)
        << "byte " << at;
  }
  EXPECT_EQ(Unseal(*key, sealed->substr(0, 10), SealingContext("C-1", 7)).status().code(),
            absl::StatusCode::kDataLoss);
}

// The 12-byte nonce of sealed bytes (after the version and the key id).
std::string NonceOf(const std::string& sealed) { return sealed.substr(1 + 8, 12); }

// Nonces come from a per-thread pool of generator output: across many seals (the pool
// refilled several times) none repeats.
TEST(SealingTest, NoNonceRepeatsAcrossPoolRefills) {
  auto key = NewCustomerKey(1);
  ASSERT_TRUE(key.ok());
  std::set<std::string> nonces;
  for (int i = 0; i < 2000; ++i) {
    auto sealed = Seal(*key, "x", SealingContext("C-1", static_cast<uint64_t>(i)));
    ASSERT_TRUE(sealed.ok()) << sealed.status();
    EXPECT_TRUE(nonces.insert(NonceOf(*sealed)).second) << "seal " << i;
  }
}

// A forked child must not hand out the parent's pooled nonces again.
TEST(SealingTest, AForkedChildDrawsNoncesOfItsOwn) {
  auto key = NewCustomerKey(1);
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(Seal(*key, "x", SealingContext("C-1", 0)).ok());  // the pool is filled
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto sealed = Seal(*key, "x", SealingContext("C-1", 1));
    const std::string nonce = sealed.ok() ? NonceOf(*sealed) : std::string(12, '\0');
    _exit(write(fds[1], nonce.data(), nonce.size()) == 12 ? 0 : 1);
  }
  close(fds[1]);
  auto sealed = Seal(*key, "x", SealingContext("C-1", 1));
  ASSERT_TRUE(sealed.ok());
  std::string from_child(12, '\0');
  ASSERT_EQ(read(fds[0], from_child.data(), from_child.size()), 12);
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(from_child, NonceOf(*sealed));
}

guanxi::v1::Event Complaint(const std::string& id, const std::string& customer) {
  guanxi::v1::Event e;
  e.set_event_id(id);
  e.set_customer_id(customer);
  e.mutable_occurred_at()->set_seconds(1767225600);
  auto* c = e.mutable_complaint();
  c->set_complaint_id(id);
  c->set_severity(guanxi::v1::SEVERITY_HIGH);
  c->set_category("delivery");
  c->set_description(kSecret);
  return e;
}

TEST(PersonalFieldsTest, SplitsOutExactlyThePersonalFieldsAndRestoresThem) {
  guanxi::v1::Event event = Complaint("e1", "C-1");
  const guanxi::v1::Event original = event;
  guanxi::v1::Event personal;
  ASSERT_TRUE(SplitPersonal(event, personal));
  EXPECT_EQ(event.complaint().description(), "");
  EXPECT_EQ(event.complaint().category(), "delivery");  // not personal
  EXPECT_EQ(event.event_id(), "e1");
  EXPECT_EQ(personal.complaint().description(), kSecret);
  EXPECT_EQ(personal.event_id(), "");
  EXPECT_FALSE(HasPersonal(event));
  event.MergeFrom(personal);
  EXPECT_EQ(event.SerializeAsString(), original.SerializeAsString());

  // A profile whose only field is the name, and a present-but-empty name: kept exactly.
  for (const std::string& name : {std::string(kName), std::string()}) {
    guanxi::v1::Event profile;
    profile.set_event_id("p");
    profile.mutable_profile()->set_name(name);
    const std::string before = profile.SerializeAsString();
    ASSERT_TRUE(SplitPersonal(profile, personal));
    EXPECT_TRUE(profile.has_profile());
    EXPECT_FALSE(profile.profile().has_name());
    profile.MergeFrom(personal);
    EXPECT_EQ(profile.SerializeAsString(), before);
  }

  // An order carries nothing personal.
  guanxi::v1::Event order;
  order.mutable_order()->set_order_id("o1");
  EXPECT_FALSE(SplitPersonal(order, personal));
  EXPECT_EQ(order.order().order_id(), "o1");

  // The state: its name and its contacts' names.
  guanxi::v1::CustomerState state;
  state.set_customer_id("C-1");
  state.set_name(kName);
  state.set_overall_score(61);
  state.add_contacts()->set_name(kName);
  state.mutable_contacts(0)->set_contact_id("C-1/c-7");
  EXPECT_TRUE(ClearPersonal(state));
  EXPECT_EQ(state.name(), "");
  EXPECT_EQ(state.contacts(0).name(), "");
  EXPECT_EQ(state.contacts(0).contact_id(), "C-1/c-7");
  EXPECT_EQ(state.overall_score(), 61);
  EXPECT_FALSE(ClearPersonal(state));
}

// The paths from Event to each of its personal fields, through singular message fields.
void PersonalPaths(const google::protobuf::Descriptor* type,
                   std::vector<const google::protobuf::FieldDescriptor*>& path,
                   std::vector<std::vector<const google::protobuf::FieldDescriptor*>>& out) {
  for (int i = 0; i < type->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = type->field(i);
    path.push_back(field);
    if (field->options().GetExtension(guanxi::v1::personal)) {
      out.push_back(path);
    } else if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE &&
               !field->is_repeated()) {
      PersonalPaths(field->message_type(), path, out);
    }
    path.pop_back();
  }
}

// HasPersonal looks only where a personal field can be (a table per message type, made
// once): each personal field of Event, set alone, is found, as SplitPersonal finds it;
// the messages leading to it, set without it, are not.
TEST(PersonalFieldsTest, HasPersonalFindsEveryPersonalFieldAndNothingElse) {
  std::vector<const google::protobuf::FieldDescriptor*> path;
  std::vector<std::vector<const google::protobuf::FieldDescriptor*>> paths;
  PersonalPaths(guanxi::v1::Event::descriptor(), path, paths);
  ASSERT_GE(paths.size(), 5u);  // contacts, free text of calls, complaints, surveys, names
  for (const auto& to_field : paths) {
    guanxi::v1::Event event;
    event.set_event_id("e1");
    event.set_customer_id("C-1");
    google::protobuf::Message* at = &event;
    for (size_t i = 0; i + 1 < to_field.size(); ++i) {
      at = at->GetReflection()->MutableMessage(at, to_field[i]);
    }
    EXPECT_FALSE(HasPersonal(event)) << to_field.back()->full_name() << ": not set yet";
    const google::protobuf::FieldDescriptor* field = to_field.back();
    ASSERT_EQ(field->cpp_type(), google::protobuf::FieldDescriptor::CPPTYPE_STRING)
        << field->full_name();
    if (field->is_repeated()) {
      at->GetReflection()->AddString(at, field, kSecret);
    } else {
      at->GetReflection()->SetString(at, field, kSecret);
    }
    EXPECT_TRUE(HasPersonal(event)) << field->full_name();
    guanxi::v1::Event personal;
    EXPECT_TRUE(SplitPersonal(event, personal)) << field->full_name();
    EXPECT_FALSE(HasPersonal(event)) << field->full_name() << ": split off";
    EXPECT_TRUE(HasPersonal(personal)) << field->full_name();
  }
}

guanxi::v1::LogRecord RecordOf(guanxi::v1::Event event) {
  guanxi::v1::LogRecord r;
  *r.mutable_event() = std::move(event);
  return r;
}

// The raw values of a column family, as stored.
std::vector<std::string> RawValues(const EventLog& log, const char* family) {
  std::vector<std::string> values;
  rocksdb::ColumnFamilyHandle* cf = rocks::Access::Family(log, family);
  if (cf == nullptr) return values;
  std::unique_ptr<rocksdb::Iterator> it(
      rocks::Access::Db(log)->NewIterator(rocksdb::ReadOptions(), cf));
  for (it->SeekToFirst(); it->Valid(); it->Next()) values.push_back(it->value().ToString());
  return values;
}

TEST(SealedLogTest, StoresPersonalDataSealedReadsItBackAndForgetsItWithTheKey) {
  TempDir dir;
  auto log = EventLog::Open(dir.path(), {.partition = 4});
  ASSERT_TRUE(log.ok()) << log.status();
  std::vector<guanxi::v1::LogRecord> batch = {RecordOf(Complaint("e1", "C-1")),
                                              RecordOf(Complaint("e2", "C-2"))};
  ASSERT_TRUE((*log)->Append(absl::MakeSpan(batch), {}).ok());
  // The caller's records keep their fields (they are handed to the projector).
  EXPECT_EQ(batch[0].event().complaint().description(), kSecret);
  EXPECT_TRUE(batch[0].sealed_personal().empty());

  for (const std::string& value : RawValues(**log, keys::kLogCf)) {
    EXPECT_EQ(value.find(kSecret), std::string::npos);
    EXPECT_EQ(value.find("Zhang"), std::string::npos);
  }
  EXPECT_EQ(RawValues(**log, keys::kCustomerKeysCf).size(), 2u);

  auto read = [&](const std::string& id) { return (*log)->FindEvent(id); };
  ASSERT_TRUE(read("e1").ok()) << read("e1").status();
  EXPECT_EQ(read("e1")->event().complaint().description(), kSecret);
  EXPECT_FALSE(PersonalDataErased(*read("e1")));

  // The erasure of C-1: its key goes in the same batch; C-2 keeps its own.
  guanxi::v1::Event erasure;
  erasure.set_event_id("erase-1");
  erasure.set_customer_id("C-1");
  erasure.mutable_occurred_at()->set_seconds(1780000000);
  erasure.mutable_erasure()->set_reason("test");
  std::vector<guanxi::v1::LogRecord> erase = {RecordOf(erasure)};
  ASSERT_TRUE((*log)->Append(absl::MakeSpan(erase), {}).ok());
  EXPECT_EQ(RawValues(**log, keys::kCustomerKeysCf).size(), 1u);
  ASSERT_TRUE(read("e1").ok()) << read("e1").status();
  EXPECT_EQ(read("e1")->event().complaint().description(), "");
  EXPECT_EQ(read("e1")->event().complaint().category(), "delivery");
  EXPECT_TRUE(PersonalDataErased(*read("e1")));
  EXPECT_EQ(read("e2")->event().complaint().description(), kSecret);
  // The chain covers the sealed bytes: unchanged, still whole.
  auto verified = (*log)->Verify();
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok) << verified->reason;

  // A later event of C-1 with personal data gets a new key, and reads back.
  std::vector<guanxi::v1::LogRecord> later = {RecordOf(Complaint("e3", "C-1"))};
  ASSERT_TRUE((*log)->Append(absl::MakeSpan(later), {}).ok());
  EXPECT_EQ(read("e3")->event().complaint().description(), kSecret);
  EXPECT_TRUE(PersonalDataErased(*read("e1")));  // the old key is not back

  // Sealed bytes altered on disk: DataLoss naming the partition and the position.
  {
    rocksdb::ColumnFamilyHandle* cf = rocks::Access::Family(**log, keys::kLogCf);
    std::string value;
    ASSERT_TRUE(rocks::Access::Db(**log)
                    ->Get(rocksdb::ReadOptions(), cf, keys::PositionKey(1), &value)
                    .ok());
    guanxi::v1::LogRecord record;
    ASSERT_TRUE(record.ParseFromString(value));
    std::string sealed = record.sealed_personal();
    sealed[sealed.size() / 2] = static_cast<char>(sealed[sealed.size() / 2] ^ 0x20);
    record.set_sealed_personal(sealed);
    ASSERT_TRUE(rocks::Access::Db(**log)
                    ->Put(rocksdb::WriteOptions(), cf, keys::PositionKey(1),
                          record.SerializeAsString())
                    .ok());
  }
  auto damaged = read("e2");
  EXPECT_EQ(damaged.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(damaged.status().message(), HasSubstr("partition 4, position 1"));
  absl::Status range = (*log)->ReadRange(0, 4, [](const guanxi::v1::LogRecord&) { return true; });
  EXPECT_EQ(range.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(range.message(), HasSubstr("partition 4, position 1"));
}

}  // namespace
}  // namespace guanxi::engine
