// `guanxi erase` end to end, in-process, on the data directory of tests/app/audit_data.h
// with personal data added: the erasure event the command writes is appended and
// projected as the engine would (EventLog::Append, PartitionProjector), then the trail,
// the export, `audit verify`, `replay` and the raw files of the store are checked.
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "app/commands.h"
#include "engine/privacy/erasure.h"
#include "engine/projection/projector.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/event_log.h"
#include "engine/storage/personal_fields.h"
#include "engine/storage/projection_store.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/app/audit_data.h"
#include "tests/app/command_run.h"
#include "tests/engine/event_log_test_util.h"

namespace guanxi::app {
namespace {

using ::guanxi::app::testing::BuildAuditData;
using ::guanxi::app::testing::DayAt;
using ::guanxi::app::testing::TestConfig;
using ::guanxi::app::testing::TestConfigPath;
using ::guanxi::engine::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

// Distinctive strings (no 4-byte run repeats, so a compressed SST keeps them literal).
constexpr char kAcmeComplaint[] = "Qz8Kw3Vm late again, Hx5Pj";
constexpr char kAcmeContact[] = "Wu Jb4Tn7Rc";
constexpr char kAcmeName[] = "Lf9Xd2Gs Ltd";
constexpr char kBetaContact[] = "Mo Yk6Fh1Zv";  // beta is not erased: the control

using ::guanxi::testing::CommandRun;

CommandRun Guanxi(std::vector<const char*> args) {
  return ::guanxi::testing::RunGuanxi(std::move(args));
}

// Partition 0's store as `guanxi run` holds it: the log, the projections, a projector.
struct Partition0 {
  explicit Partition0(const std::string& data) {
    engine::EventLogOptions options{.partition = 0};
    options.extra_column_families = engine::ProjectionStore::ColumnFamilies();
    log = std::move(*engine::EventLog::Open(engine::PartitionDir(data, 0), options));
    store = std::move(*engine::ProjectionStore::Attach(log.get()));
    projector = std::move(*engine::PartitionProjector::Create(
        log.get(), store.get(), {.partition = 0, .config = TestConfig()}));
  }
  // Appends the events (as consumed from Kafka) and projects them.
  void Ingest(std::vector<v1::Event> events) {
    std::vector<v1::LogRecord> records(events.size());
    for (size_t i = 0; i < events.size(); ++i) {
      *records[i].mutable_event() = std::move(events[i]);
      records[i].mutable_source()->set_topic("guanxi.events");
    }
    auto appended = log->Append(absl::MakeSpan(records), {});
    ASSERT_TRUE(appended.ok()) << appended.status();
    const std::atomic<bool> stop{false};
    ASSERT_TRUE(projector->CatchUp(log->next_position(), stop).ok());
  }
  std::map<std::string, v1::CustomerState> States() const {
    std::map<std::string, v1::CustomerState> states;
    EXPECT_TRUE(store
                    ->ForEachState([&](const v1::CustomerState& s) {
                      states[s.customer_id()] = s;
                      return true;
                    })
                    .ok());
    return states;
  }
  std::vector<std::string> Facts(const std::string& customer) const {
    std::vector<std::string> facts;
    EXPECT_TRUE(store
                    ->ForEachFact(customer,
                                  [&](uint64_t, const v1::DerivedFact& f) {
                                    facts.push_back(f.SerializeAsString());
                                    return true;
                                  })
                    .ok());
    return facts;
  }

  std::unique_ptr<engine::EventLog> log;
  std::unique_ptr<engine::ProjectionStore> store;  // attached to `log`: destroyed first
  std::unique_ptr<engine::PartitionProjector> projector;
};

v1::Event At(const std::string& id, const std::string& customer, int day) {
  v1::Event e;
  e.set_event_id(id);
  e.set_customer_id(customer);
  e.mutable_occurred_at()->set_seconds(DayAt(day));
  e.set_source("test");
  return e;
}

std::vector<v1::Event> PersonalEvents() {
  v1::Event complaint = At("acme/c9", "acme", 302);
  complaint.mutable_complaint()->set_complaint_id("c9");
  complaint.mutable_complaint()->set_severity(v1::SEVERITY_MEDIUM);
  complaint.mutable_complaint()->set_description(kAcmeComplaint);
  v1::Event contact = At("acme/contact", "acme", 303);
  contact.mutable_contact_change()->set_contact_id("acme/c-7");
  contact.mutable_contact_change()->set_change(v1::CONTACT_CHANGE_KIND_JOINED);
  contact.mutable_contact_change()->set_role(v1::CONTACT_ROLE_DECISION_MAKER);
  contact.mutable_contact_change()->set_champion(true);
  contact.mutable_contact_change()->set_name(kAcmeContact);
  v1::Event profile = At("acme/profile-2", "acme", 304);
  profile.mutable_profile()->set_name(kAcmeName);
  v1::Event left = contact;
  left.set_event_id("acme/contact-left");
  left.mutable_occurred_at()->set_seconds(DayAt(306));
  left.mutable_contact_change()->set_change(v1::CONTACT_CHANGE_KIND_LEFT);
  v1::Event beta = At("beta/contact", "beta", 303);
  beta.mutable_contact_change()->set_contact_id("beta/c-1");
  beta.mutable_contact_change()->set_change(v1::CONTACT_CHANGE_KIND_JOINED);
  beta.mutable_contact_change()->set_name(kBetaContact);
  return {complaint, contact, profile, beta, left};
}

// Whether any file under `dir` holds `text`.
bool AnyFileHolds(const std::string& dir, const std::string& text) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    if (bytes.str().find(text) != std::string::npos) return true;
  }
  return false;
}

std::string Export(const std::string& data) {
  CommandRun run = Guanxi({"export", "--data", data.c_str(), "--format", "jsonl", "--config",
                           TestConfigPath().c_str()});
  EXPECT_EQ(run.code, 0) << run.err;
  return run.out;
}

TEST(EraseTest, ErasesThePersonalDataAndNothingElse) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  BuildAuditData(data);
  auto partition = std::make_unique<Partition0>(data);
  partition->Ingest(PersonalEvents());

  // Before: the trail shows the personal data; the log's own bytes hold none of it.
  CommandRun trail = Guanxi({"audit", "trail", "acme", "--data", data.c_str(), "--json",
                             "--config", TestConfigPath().c_str()});
  ASSERT_EQ(trail.code, 0) << trail.err;
  EXPECT_THAT(trail.out, HasSubstr(kAcmeComplaint));
  EXPECT_THAT(trail.out, HasSubstr(kAcmeContact));
  const auto states = partition->States();
  ASSERT_EQ(states.at("acme").name(), kAcmeName);
  const std::vector<std::string> acme_facts = partition->Facts("acme");
  const std::string exported = Export(data);

  // `guanxi erase` writes the erasure event; the engine appends and projects it.
  const std::string request = dir.Sub("erase.jsonl");
  CommandRun erase = Guanxi({"erase", "acme", "--output", request.c_str(), "--reason",
                             "GDPR art. 17 request 7", "--requested-by", "dpo"});
  ASSERT_EQ(erase.code, 0) << erase.err;
  std::ifstream in(request);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  v1::Event erasure;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &erasure).ok()) << line;
  ASSERT_TRUE(erasure.has_erasure());
  partition->Ingest({erasure});

  // The state lost its personal fields and nothing else; beta is untouched; the facts
  // (scores, stages, classes, warnings) are the same.
  auto after = partition->States();
  v1::CustomerState expected = states.at("acme");
  engine::ClearPersonal(expected);
  EXPECT_EQ(after.at("acme").SerializeAsString(), expected.SerializeAsString());
  EXPECT_EQ(after.at("acme").name(), "");
  for (const auto& [customer, state] : states) {
    if (customer == "acme") continue;
    EXPECT_EQ(after.at(customer).SerializeAsString(), state.SerializeAsString()) << customer;
  }
  EXPECT_EQ(partition->Facts("acme"), acme_facts);
  // So is the export, row for row, and it never held a name.
  EXPECT_EQ(Export(data), exported);

  // The trail says the data was erased, when, and why, and shows none of it.
  const std::string when = google::protobuf::util::TimeUtil::ToString(erasure.occurred_at());
  trail = Guanxi({"audit", "trail", "acme", "--data", data.c_str(), "--config",
                  TestConfigPath().c_str()});
  ASSERT_EQ(trail.code, 0) << trail.err;
  EXPECT_THAT(trail.out, HasSubstr(absl::StrCat(
                             when, "  #", partition->log->next_position() - 1,
                             "  personal data erased: reason \"GDPR art. 17 request 7\", "
                             "requested by dpo")));
  EXPECT_THAT(trail.out, HasSubstr("complaint"));
  EXPECT_THAT(trail.out, HasSubstr("(personal data erased)"));
  for (const char* gone : {kAcmeComplaint, kAcmeContact, kAcmeName}) {
    EXPECT_THAT(trail.out, Not(HasSubstr(gone)));
  }
  trail = Guanxi({"audit", "trail", "acme", "--data", data.c_str(), "--json", "--config",
                  TestConfigPath().c_str()});
  ASSERT_EQ(trail.code, 0) << trail.err;
  EXPECT_THAT(trail.out, HasSubstr("\"personalDataErased\":true"));
  for (const char* gone : {kAcmeComplaint, kAcmeContact, kAcmeName}) {
    EXPECT_THAT(trail.out, Not(HasSubstr(gone)));
  }
  trail = Guanxi({"audit", "trail", "beta", "--data", data.c_str(), "--json", "--config",
                  TestConfigPath().c_str()});
  EXPECT_THAT(trail.out, HasSubstr(kBetaContact));

  // The chain still verifies; a replay gives the same projections.
  CommandRun verify = Guanxi({"audit", "verify", "--data", data.c_str()});
  EXPECT_EQ(verify.code, 0) << verify.out << verify.err;
  CommandRun replay =
      Guanxi({"replay", "--data", data.c_str(), "--config", TestConfigPath().c_str()});
  EXPECT_EQ(replay.code, 0) << replay.out << replay.err;

  // Erasing again, and erasing a customer the engine never saw: harmless, and in the log.
  auto again = engine::ErasureEvent("acme", "repeated", "dpo", absl::FromUnixSeconds(1790000000));
  auto nobody = engine::ErasureEvent("nobody", "unknown", "dpo", absl::FromUnixSeconds(1790000001));
  ASSERT_TRUE(again.ok() && nobody.ok());
  partition->Ingest({*again, *nobody});
  EXPECT_EQ(partition->States().size(), after.size());
  EXPECT_EQ(partition->States().at("acme").SerializeAsString(),
            after.at("acme").SerializeAsString());
  EXPECT_TRUE(partition->log->FindEvent(nobody->event_id()).ok());
  verify = Guanxi({"audit", "verify", "--data", data.c_str()});
  EXPECT_EQ(verify.code, 0) << verify.out << verify.err;
  replay = Guanxi({"replay", "--data", data.c_str(), "--config", TestConfigPath().c_str()});
  EXPECT_EQ(replay.code, 0) << replay.out << replay.err;

  // After the purge (the projector's, at the erasure's commit) and a close, no file of
  // the data directory holds the erased data; the control, beta's contact, is found.
  partition.reset();
  EXPECT_TRUE(AnyFileHolds(data, kBetaContact));
  for (const char* gone : {kAcmeComplaint, kAcmeContact, kAcmeName}) {
    EXPECT_FALSE(AnyFileHolds(data, gone)) << gone;
  }
}

TEST(EraseTest, RefusesAnIdTheEngineWouldDeadLetterAndNeedsADestination) {
  TempDir dir;
  CommandRun run = Guanxi({"erase", "", "--output", dir.Sub("x").c_str()});
  EXPECT_EQ(run.code, 2) << run.err;
  run = Guanxi({"erase", "acme"});
  EXPECT_EQ(run.code, 2) << run.err;
  EXPECT_THAT(run.err, HasSubstr("--brokers"));
}

}  // namespace
}  // namespace guanxi::app
