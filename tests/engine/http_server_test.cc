// The HTTP API against real stores: lookups, filtered pages, metrics, bad requests and
// authentication.
#include "engine/query/http_server.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "engine/config/config.h"
#include "engine/log/projection_store.h"
#include "engine/projection/projector.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/engine/event_log_test_util.h"

namespace guanxi::engine {
namespace {

using ::guanxi::engine::testing::OrderRecord;
using ::guanxi::engine::testing::TempDir;
using ::testing::HasSubstr;

constexpr char kToken[] = "s3cret-token";

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Two partitions; customers c0..c19 with one order each at day 0 and, for the even
    // ones, no more: an event 400 days later on another customer lets their timers fire.
    for (int32_t p = 0; p < 2; ++p) {
      EventLogOptions options;
      options.partition = p;
      options.extra_column_families = ProjectionStore::ColumnFamilies();
      std::shared_ptr<EventLog> log = std::move(*EventLog::Open(dir_.Sub(absl::StrCat(p)), options));
      std::shared_ptr<ProjectionStore> store = std::move(*ProjectionStore::Attach(log.get()));
      std::vector<v1::LogRecord> records;
      for (int c = p; c < 20; c += 2) {
        records.push_back(OrderRecord(absl::StrCat("e", c), absl::StrCat("c", c), 1'700'000'000));
      }
      records.push_back(OrderRecord(absl::StrCat("late", p), absl::StrCat("c", p),
                                    1'700'000'000 + 400 * 86400));
      ASSERT_TRUE(log->Append(absl::MakeSpan(records), {}).ok());
      const std::atomic<bool> stop{false};
      // Inactivity alone raises a watch here (the shipped churn defaults need a second
      // signal), so the quiet customers have warnings to list.
      v1::EngineConfig config = DefaultEngineConfig();
      config.mutable_churn()->mutable_weights()->set_inactivity(config.churn().watch_points());
      auto projector = PartitionProjector::Create(log.get(), store.get(),
                                                  {.partition = p, .config = config});
      ASSERT_TRUE(projector.ok());
      ASSERT_TRUE((*projector)->CatchUp(log->next_position(), stop).ok());
      views_.push_back({p, log, store});
    }
    status_.totals.appended = 22;
    status_.partitions.push_back({.partition = 0, .next_offset = 5, .high_watermark = 9});
    status_.batch_latency_buckets = std::vector<uint64_t>(std::size(kBatchLatencyBounds) + 1, 3);
    auto server = HttpServer::Start({.address = "127.0.0.1:0",
                                     .bearer_token = kToken,
                                     .partitions = [this] { return views_; },
                                     .status = [this] { return status_; }});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_bearer_token_auth(kToken);
  }

  httplib::Result Get(const std::string& path) { return client_->Get(path.c_str()); }

  TempDir dir_;
  std::vector<PartitionView> views_;
  EngineStatus status_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(HttpServerTest, CustomerByIdAndUnknownId) {
  auto r = Get("/v1/customers/c3");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->body, HasSubstr("\"partition\":1"));
  EXPECT_THAT(r->body, HasSubstr("\"customerId\":\"c3\""));
  auto missing = Get("/v1/customers/nobody");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_THAT(missing->body, HasSubstr("{\"error\":\"customer nobody is not in any partition"));
}

TEST_F(HttpServerTest, FilteredListPagesThroughEveryMatch) {
  // Everyone but c0 and c1 went quiet for 400 days: lost.
  std::set<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    std::string path = "/v1/customers?stage=lost&limit=3";
    if (!token.empty()) path += "&page_token=" + token;  // "<partition>:<id>": URL-safe here
    auto r = Get(path);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    ++pages;
    const size_t at = r->body.find("\"nextPageToken\":\"");
    ASSERT_NE(at, std::string::npos);
    token = r->body.substr(at + 17, r->body.find('"', at + 17) - at - 17);
    for (int c = 0; c < 20; ++c) {
      if (r->body.find(absl::StrCat("\"customerId\":\"c", c, "\"")) != std::string::npos) {
        EXPECT_TRUE(seen.insert(absl::StrCat("c", c)).second) << "c" << c << " twice";
        EXPECT_TRUE(r->body.find("LIFECYCLE_STAGE_LOST") != std::string::npos);
      }
    }
  } while (!token.empty() && pages < 20);
  EXPECT_EQ(seen.size(), 18u);
  EXPECT_EQ(seen.count("c0") + seen.count("c1"), 0u);
  EXPECT_EQ(pages, 6);

  auto by_class = Get("/v1/customers?class=intent_class:A&limit=1000");
  ASSERT_TRUE(by_class);
  EXPECT_EQ(by_class->status, 200) << by_class->body;
}

TEST_F(HttpServerTest, WarningsSinceATimeOldestFirst) {
  // The quiet customers' inactivity raised warnings as their deadlines passed.
  auto all = Get("/v1/warnings?limit=1000");
  ASSERT_TRUE(all);
  ASSERT_EQ(all->status, 200) << all->body;
  EXPECT_THAT(all->body, HasSubstr("\"warningId\":\"c2/time:"));
  EXPECT_THAT(all->body, HasSubstr("\"notice\":\"WARNING_NOTICE_RAISED\""));
  EXPECT_THAT(all->body, HasSubstr("\"more\":false"));
  auto one = Get("/v1/warnings?limit=1");
  ASSERT_TRUE(one);
  EXPECT_THAT(one->body, HasSubstr("\"more\":true"));
  auto later = Get("/v1/warnings?since=2100-01-01T00:00:00Z");
  ASSERT_TRUE(later);
  EXPECT_EQ(later->body, "{\"warnings\":[],\"more\":false}\n");
  auto bad = Get("/v1/warnings?since=yesterday");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_THAT(bad->body, HasSubstr("since: 'yesterday' is not an RFC 3339 time"));
}

TEST_F(HttpServerTest, BadRequestsAreFourHundredsWithAMessage) {
  const std::pair<std::string, std::string> cases[] = {
      {"/v1/customers?limit=0", "limit: must be an integer in 1..1000"},
      {"/v1/customers?limit=abc", "limit: must be an integer"},
      {"/v1/customers?stage=bogus", "stage: 'bogus' is not a lifecycle stage"},
      {"/v1/customers?class=nonsense", "class: 'nonsense' is not FIELD:VALUE"},
      {"/v1/customers?class=colour:red", "class: 'colour:red'"},
      {"/v1/customers?page_token=garbage", "page_token: not a token this API returned"},
  };
  for (const auto& [path, message] : cases) {
    auto r = Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 400) << path;
    EXPECT_THAT(r->body, HasSubstr(message)) << path;
  }
  auto unknown = Get("/v1/nothing");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_THAT(unknown->body, HasSubstr("no such endpoint: GET /v1/nothing"));
}

TEST_F(HttpServerTest, BearerTokenGuardsEverythingButHealth) {
  httplib::Client anonymous("127.0.0.1", server_->port());
  auto health = anonymous.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  for (const char* path : {"/metrics", "/v1/customers", "/v1/customers/c3"}) {
    auto r = anonymous.Get(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << path;
    EXPECT_THAT(r->body, HasSubstr("bearer token is required"));
  }
  httplib::Client wrong("127.0.0.1", server_->port());
  wrong.set_bearer_token_auth("not-it");
  auto r = wrong.Get("/v1/customers/c3");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
}

TEST_F(HttpServerTest, MetricsInPrometheusTextFormat) {
  auto r = Get("/metrics");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_THAT(r->body, HasSubstr("# TYPE guanxi_events_ingested_total counter\n"
                                 "guanxi_events_ingested_total 22\n"));
  EXPECT_THAT(r->body, HasSubstr("guanxi_consumer_lag_messages{partition=\"0\"} 4\n"));
  EXPECT_THAT(r->body, HasSubstr("guanxi_append_batch_latency_seconds_bucket{le=\"+Inf\"} 3\n"));
  EXPECT_THAT(r->body, HasSubstr("guanxi_append_batch_latency_seconds_count 3\n"));
  // The outbox was never published here: every derived change is still waiting.
  EXPECT_THAT(r->body, ::testing::ContainsRegex("guanxi_outbox_depth\\{partition=\"0\"\\} [1-9]"));
}

TEST(HttpServerStartTest, BadAddressAndTokenFile) {
  auto bad = HttpServer::Start({.address = "no-port"});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("'no-port' is not HOST:PORT"));
  auto missing = ReadTokenFile("/nonexistent/token");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace guanxi::engine
