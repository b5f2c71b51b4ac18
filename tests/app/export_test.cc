// `guanxi export` end to end, in-process, on the data directory of tests/app/audit_data.h:
// one row per customer in CSV (RFC 4180) and JSONL, the values of a known customer, the
// as-of export against the audit trail's as-of state, and the error paths.
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "app/commands.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/event_log.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "guanxi/v1/export.pb.h"
#include "guanxi/v1/state.pb.h"
#include "tests/app/audit_data.h"
#include "tests/app/command_run.h"
#include "tests/engine/event_log_test_util.h"

namespace guanxi::app {
namespace {

using ::guanxi::app::testing::BuildAuditData;
using ::guanxi::engine::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using ::guanxi::testing::CommandRun;

// Every command with the configuration the test data was projected with.
CommandRun Guanxi(std::vector<const char*> args) {
  return ::guanxi::testing::RunGuanxiWithConfig(std::move(args), testing::TestConfigPath());
}

// RFC 4180, strictly: CRLF after every record, quoted fields with doubled quotes.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '"') {
      for (++i; i < text.size(); ++i) {
        if (text[i] == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            field.push_back('"');
            ++i;
          } else {
            ++i;
            break;
          }
        } else {
          field.push_back(text[i]);
        }
      }
    }
    while (i < text.size() && text[i] != ',' && text[i] != '\r') field.push_back(text[i++]);
    record.push_back(field);
    field.clear();
    if (i < text.size() && text[i] == ',') {
      ++i;
      continue;
    }
    EXPECT_EQ(text.substr(i, 2), "\r\n") << "a record does not end with CRLF at " << i;
    i += 2;
    records.push_back(record);
    record.clear();
  }
  return records;
}

// The rows by customer_id, each as column name -> cell.
std::map<std::string, std::map<std::string, std::string>> CsvRows(const std::string& text) {
  const auto records = ParseCsv(text);
  std::map<std::string, std::map<std::string, std::string>> rows;
  if (records.empty()) return rows;
  for (size_t r = 1; r < records.size(); ++r) {
    EXPECT_EQ(records[r].size(), records[0].size()) << "row " << r;
    auto& row = rows[records[r][0]];
    for (size_t c = 0; c < records[0].size() && c < records[r].size(); ++c) {
      row[records[0][c]] = records[r][c];
    }
  }
  return rows;
}

std::vector<v1::ExportRow> JsonlRows(const std::string& text) {
  std::vector<v1::ExportRow> rows;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    v1::ExportRow row;
    const auto status = google::protobuf::util::JsonStringToMessage(std::string(line), &row);
    EXPECT_TRUE(status.ok()) << status.message() << "\n" << line;
    rows.push_back(row);
  }
  return rows;
}

// The customer's state as `guanxi audit trail --json` prints it.
v1::CustomerState TrailState(const char* data, const char* customer,
                             std::vector<const char*> more = {}) {
  std::vector<const char*> args = {"audit", "trail", customer, "--data", data, "--json"};
  args.insert(args.end(), more.begin(), more.end());
  const CommandRun r = Guanxi(args);
  EXPECT_EQ(r.code, kExitOk) << r.err;
  google::protobuf::Struct trail;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &trail).ok()) << r.out;
  std::string state_json;
  EXPECT_TRUE(
      google::protobuf::util::MessageToJsonString(trail.fields().at("state"), &state_json).ok());
  v1::CustomerState state;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(state_json, &state).ok());
  return state;
}

// Every figure of the row that comes from the state, compared with the state.
void ExpectRowIsState(const v1::ExportRow& row, const v1::CustomerState& s) {
  EXPECT_EQ(row.customer_id(), s.customer_id());
  EXPECT_EQ(row.overall_score(), s.overall_score());
  std::map<v1::Dimension, double> dims;
  for (const auto& d : s.dimensions()) dims[d.dimension()] = d.score();
  ASSERT_EQ(dims.size(), 8u);
  EXPECT_EQ(row.acceptance(), dims[v1::DIMENSION_ACCEPTANCE]);
  EXPECT_EQ(row.participation(), dims[v1::DIMENSION_PARTICIPATION]);
  EXPECT_EQ(row.information(), dims[v1::DIMENSION_INFORMATION]);
  EXPECT_EQ(row.guidance(), dims[v1::DIMENSION_GUIDANCE]);
  EXPECT_EQ(row.project_support(), dims[v1::DIMENSION_PROJECT_SUPPORT]);
  EXPECT_EQ(row.competitive_preference(), dims[v1::DIMENSION_COMPETITIVE_PREFERENCE]);
  EXPECT_EQ(row.feeling(), dims[v1::DIMENSION_FEELING]);
  EXPECT_EQ(row.behaviour(), dims[v1::DIMENSION_BEHAVIOUR]);
  EXPECT_EQ(row.stage(), s.stage());
  EXPECT_EQ(row.stage_since().seconds(), s.stage_since().seconds());
  // Every class, by name.
  const auto* classes = v1::Classes::descriptor();
  for (int i = 0; i < classes->field_count(); ++i) {
    const auto* from = classes->field(i);
    const auto* to = v1::ExportRow::descriptor()->FindFieldByName(from->name());
    ASSERT_NE(to, nullptr) << from->name();
    if (from->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_STRING) {
      EXPECT_EQ(row.GetReflection()->GetString(row, to),
                s.classes().GetReflection()->GetString(s.classes(), from))
          << from->name();
    } else {
      EXPECT_EQ(row.GetReflection()->GetInt32(row, to),
                s.classes().GetReflection()->GetInt32(s.classes(), from))
          << from->name();
    }
  }
  EXPECT_EQ(row.p_alive(), s.p_alive());
  EXPECT_EQ(row.expected_purchases_90d(), s.expected_purchases_90d());
  // The open churn-warning episode's level (its reasons come from its notices).
  EXPECT_EQ(row.churn_level(), s.churn_episode().warning_id().empty()
                                   ? v1::WARNING_LEVEL_UNSPECIFIED
                                   : static_cast<v1::WarningLevel>(s.churn_episode().level()));
  EXPECT_EQ(row.churn_reasons_size() == 0, s.churn_episode().warning_id().empty());
}

class ExportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new TempDir();
    BuildAuditData(data_->path());
  }
  static void TearDownTestSuite() {
    delete data_;
    data_ = nullptr;
  }
  static const char* data() { return data_->path().c_str(); }

  static TempDir* data_;
};

TempDir* ExportTest::data_ = nullptr;

TEST_F(ExportTest, CsvHasAHeaderAndOneQuotedRowPerCustomer) {
  const CommandRun r = Guanxi({"export", "--data", data(), "--format", "csv"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.err, HasSubstr("guanxi export: 6 customers from 2 partitions, live\n"));
  const auto records = ParseCsv(r.out);
  ASSERT_EQ(records.size(), 7u);  // the header and the six customers
  EXPECT_EQ(
      r.out.substr(0, r.out.find("\r\n")),
      "customer_id,partition,events,overall_score,acceptance,participation,information,guidance,"
      "project_support,competitive_preference,feeling,behaviour,stage,stage_since,abc,"
      "rfm_recency,rfm_frequency,rfm_monetary,rfm_segment,transaction_quadrant,value_tier,"
      "potential_tier,loyalty_tier,development_matrix,intent_class,relationship_kind,p_alive,"
      "expected_purchases_90d,churn_risk,churn_level,churn_reasons");
  // The columns are ExportRow's fields, in order.
  ASSERT_EQ(records[0].size(), static_cast<size_t>(v1::ExportRow::descriptor()->field_count()));
  for (size_t c = 0; c < records[0].size(); ++c) {
    EXPECT_EQ(records[0][c], v1::ExportRow::descriptor()->field(static_cast<int>(c))->name());
  }
  // Partitions in order, customer_id order within each.
  std::vector<std::string> customers;
  for (size_t i = 1; i < records.size(); ++i) customers.push_back(records[i][0]);
  EXPECT_THAT(customers,
              ElementsAre("acme", "beta", "gamma, Ltd.", "delta", "epsilon", "say \"hi\", inc"));
  // Quoted where RFC 4180 says so, and only there.
  EXPECT_THAT(r.out, HasSubstr("\r\n\"gamma, Ltd.\",0,1,"));
  EXPECT_THAT(r.out, HasSubstr("\r\n\"say \"\"hi\"\", inc\",1,1,"));
  EXPECT_THAT(r.out, HasSubstr("\r\nacme,0,9,"));

  // A known customer's cells.
  auto rows = CsvRows(r.out);
  auto& acme = rows["acme"];
  const v1::CustomerState state = TrailState(data(), "acme");
  EXPECT_EQ(acme["partition"], "0");
  EXPECT_EQ(acme["events"], "9");
  EXPECT_EQ(std::stod(acme["overall_score"]), state.overall_score());  // reads back exactly
  EXPECT_EQ(acme["stage"], "LIFECYCLE_STAGE_MAINTAINING");  // its open episode is a watch
  EXPECT_EQ(acme["stage_since"], "2025-10-28T09:00:00Z");
  EXPECT_EQ(acme["abc"], "B");
  EXPECT_EQ(acme["rfm_recency"], "3");
  EXPECT_EQ(acme["rfm_segment"], "about_to_sleep");
  EXPECT_EQ(acme["development_matrix"], "key_account");
  EXPECT_EQ(std::stod(acme["p_alive"]), state.p_alive());
  // Its partition's one model record has no churn risk model (nothing was a horizon old
  // to calibrate on): not known, an empty cell rather than 0.
  EXPECT_FALSE(state.has_churn_risk());
  EXPECT_EQ(acme["churn_risk"], "");
  // acme's open episode: raised (watch) when its day-300 silence deadline fell due.
  EXPECT_EQ(acme["churn_level"], "WARNING_LEVEL_WATCH");
  EXPECT_EQ(acme["churn_reasons"], "inactivity");
  EXPECT_EQ(rows["delta"]["churn_level"], "WARNING_LEVEL_WARNING");  // escalated
  EXPECT_EQ(rows["beta"]["churn_level"], "");                        // its episode resolved
  EXPECT_EQ(rows["beta"]["churn_reasons"], "");
  EXPECT_EQ(rows["gamma, Ltd."]["stage"], "LIFECYCLE_STAGE_LOST");
  EXPECT_EQ(rows["delta"]["partition"], "1");
  EXPECT_EQ(rows["delta"]["events"], "6");
  EXPECT_EQ(rows["delta"]["abc"], "");  // partition 1 has no population model
}

TEST_F(ExportTest, JsonlIsOneExportRowPerCustomer) {
  const CommandRun r = Guanxi({"export", "--data", data(), "--format", "jsonl"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  const auto rows = JsonlRows(r.out);
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[0].customer_id(), "acme");
  EXPECT_EQ(rows[0].partition(), 0);
  EXPECT_EQ(rows[0].events(), 9);
  ExpectRowIsState(rows[0], TrailState(data(), "acme"));
  EXPECT_EQ(rows[5].customer_id(), "say \"hi\", inc");
  ExpectRowIsState(rows[3], TrailState(data(), "delta"));
  EXPECT_EQ(rows[0].churn_level(), v1::WARNING_LEVEL_WATCH);
  EXPECT_THAT(rows[0].churn_reasons(), ElementsAre("inactivity"));
  // Every field is present, zero or not, in protobuf's JSON mapping.
  EXPECT_THAT(r.out, HasSubstr("\"churnLevel\":\"WARNING_LEVEL_UNSPECIFIED\",\"churnReasons\":[]"));
}

TEST_F(ExportTest, AsOfExportEqualsTheTrailsAsOfState) {
  const CommandRun r =
      Guanxi({"export", "--data", data(), "--format", "jsonl", "--as-of", "2025-06-01"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.err, HasSubstr("as of 2025-06-01T23:59:59.999999999Z recomputed from the log"));
  const auto rows = JsonlRows(r.out);
  ASSERT_EQ(rows.size(), 6u);
  const v1::CustomerState as_of = TrailState(data(), "acme", {"--as-of", "2025-06-01"});
  ASSERT_EQ(rows[0].customer_id(), "acme");
  ExpectRowIsState(rows[0], as_of);
  EXPECT_EQ(rows[0].events(), 6);  // the events that occurred by then
  EXPECT_EQ(static_cast<uint64_t>(rows[0].events()), as_of.events_applied());
  EXPECT_EQ(rows[0].stage(), v1::LIFECYCLE_STAGE_MAINTAINING);  // a watch open, no warning
  const v1::CustomerState live = TrailState(data(), "acme");
  EXPECT_NE(rows[0].overall_score(), live.overall_score());
}

TEST_F(ExportTest, AsOfBeforeACustomersFirstEventLeavesTheCustomerOut) {
  // By the end of 4 January: acme (day 0, 3), beta (day 1), epsilon (day 2).
  const CommandRun r =
      Guanxi({"export", "--data", data(), "--format", "csv", "--as-of", "2025-01-04"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  const auto rows = CsvRows(r.out);
  std::vector<std::string> customers;
  for (const auto& [id, row] : rows) customers.push_back(id);
  EXPECT_THAT(customers, ElementsAre("acme", "beta", "epsilon"));
  EXPECT_EQ(rows.at("acme").at("events"), "2");
}

TEST_F(ExportTest, OutputFileIsTheSameRowsWrittenWhole) {
  TempDir out_dir;
  const std::string path = out_dir.Sub("customers.csv");
  const CommandRun r =
      Guanxi({"export", "--data", data(), "--format", "csv", "--output", path.c_str()});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat(", to ", path)));
  std::ifstream in(path, std::ios::binary);
  std::stringstream file;
  file << in.rdbuf();
  EXPECT_EQ(file.str(), Guanxi({"export", "--data", data(), "--format", "csv"}).out);
  EXPECT_FALSE(std::filesystem::exists(path + ".partial"));
}

TEST_F(ExportTest, BadFlagsAreUsageErrorsAndAMissingDataDirectoryAFailure) {
  const CommandRun format = Guanxi({"export", "--data", data(), "--format", "xml"});
  EXPECT_EQ(format.code, kExitUsage);
  EXPECT_THAT(format.err, HasSubstr("--format: 'xml' is not one of jsonl, csv"));
  const CommandRun as_of =
      Guanxi({"export", "--data", data(), "--format", "csv", "--as-of", "yesterday"});
  EXPECT_EQ(as_of.code, kExitUsage);
  EXPECT_THAT(as_of.err, HasSubstr("--as-of: 'yesterday' is neither RFC 3339"));
  const CommandRun no_format = Guanxi({"export", "--data", data()});
  EXPECT_EQ(no_format.code, kExitUsage);
  const CommandRun missing = Guanxi({"export", "--data", "/nonexistent/guanxi", "--format", "csv"});
  EXPECT_EQ(missing.code, kExitFailure);
  EXPECT_THAT(missing.err, HasSubstr("no partition stores"));
}

TEST(ExportLiveTest, ExportsBesideARunningWriter) {
  TempDir data;
  BuildAuditData(data.path());
  // The engine holds both partitions; partition 0 has an event not projected yet.
  std::vector<std::unique_ptr<engine::EventLog>> writers;
  for (int32_t p : {0, 1}) {
    engine::EventLogOptions options{.partition = p};
    options.extra_column_families = engine::ProjectionStore::ColumnFamilies();
    auto writer = engine::EventLog::Open(engine::PartitionDir(data.path(), p), options);
    ASSERT_TRUE(writer.ok()) << writer.status();
    writers.push_back(std::move(*writer));
  }
  testing::Events acme("acme", 0);
  acme.Visit(340);
  std::vector<v1::LogRecord> batch = acme.records();
  ASSERT_TRUE(writers[0]->Append(absl::MakeSpan(batch), {}).ok());

  const CommandRun r = Guanxi({"export", "--data", data.path().c_str(), "--format", "jsonl"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  const auto rows = JsonlRows(r.out);
  ASSERT_EQ(rows.size(), 6u);
  // The row counts the events its figures include: the live projections' nine.
  EXPECT_EQ(rows[0].customer_id(), "acme");
  EXPECT_EQ(rows[0].events(), 9);
}

TEST(ExportRowTest, EveryClassHasAColumnOfTheSameNameAndType) {
  const auto* classes = v1::Classes::descriptor();
  for (int i = 0; i < classes->field_count(); ++i) {
    const auto* field = classes->field(i);
    const auto* column = v1::ExportRow::descriptor()->FindFieldByName(field->name());
    ASSERT_NE(column, nullptr) << "ExportRow has no column for Classes." << field->name();
    EXPECT_EQ(column->type(), field->type()) << field->name();
  }
}

}  // namespace
}  // namespace guanxi::app
