// The HTTP API against real stores: lookups, filtered pages, a customer's trail (live and
// as of a time), metrics, bad requests, authentication and roles, TLS, and the limits.
#include "engine/query/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "engine/config/config.h"
#include "engine/kafka/partitioner.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/projection_store.h"
#include "engine/projection/projector.h"
#include "engine/query/projection_view.h"
#include "engine/query/trail.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/stubs/common.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "guanxi/v1/events.pb.h"
#include "guanxi/v1/serving.pb.h"
#include "guanxi/v1/trail.pb.h"
#include "guanxi/v1/warning.pb.h"
#include "httplib.h"
#include "tests/engine/event_log_test_util.h"
#include "tests/free_port.h"

namespace guanxi::engine {
namespace {

using ::guanxi::engine::testing::OrderRecord;
using ::guanxi::engine::testing::TempDir;
using ::guanxi::testing::FreePort;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "s3cret-token";
constexpr int64_t kStart = 1'700'000'000;  // 2023-11-14T22:13:20Z

v1::Trail ParseTrail(const std::string& json) {
  v1::Trail trail;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &trail);
  EXPECT_TRUE(status.ok()) << status.message() << "\n" << json;
  return trail;
}

// A connection to 127.0.0.1:port that sends `bytes` and then nothing (closed when
// destroyed).
class RawConnection {
 public:
  RawConnection(int port, std::string_view bytes) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = fd_ >= 0 &&
                 connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                 send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
                     static_cast<ssize_t>(bytes.size());
  }
  ~RawConnection() {
    if (fd_ >= 0) close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  bool connected() const { return connected_; }
  // Everything the server sends until it closes the connection (or 30 s pass).
  std::string ReadAll() const {
    timeval timeout{.tv_sec = 30, .tv_usec = 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    std::string out;
    char buffer[4096];
    for (ssize_t n; (n = recv(fd_, buffer, sizeof buffer, 0)) > 0;) {
      out.append(buffer, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  int fd_;
  bool connected_ = false;
};

// An error answer's body: one JSON object {"error": "..."} in valid UTF-8.
void ExpectJsonError(const std::string& body, const std::string& what) {
  EXPECT_TRUE(google::protobuf::internal::IsStructurallyValidUTF8(body.data(),
                                                                  static_cast<int>(body.size())))
      << what << ": " << body;
  google::protobuf::Struct parsed;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(body, &parsed).ok()) << what << ": "
                                                                             << body;
  EXPECT_TRUE(parsed.fields().contains("error")) << what << ": " << body;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Two partitions; customers c0..c19 with one order each at day 0 and, for the even
    // ones, no more: an event 400 days later on c0 (c1) lets the others' timers fire.
    // Inactivity alone raises a watch here (the shipped churn defaults need a second
    // signal), so the quiet customers have warnings to list.
    config_ = DefaultEngineConfig();
    config_.mutable_churn()->mutable_weights()->set_inactivity(config_.churn().watch_points());
    for (int32_t p = 0; p < 2; ++p) {
      EventLogOptions options;
      options.partition = p;
      options.extra_column_families = ProjectionStore::ColumnFamilies();
      std::shared_ptr<EventLog> log =
          std::move(*EventLog::Open(PartitionDir(dir_.path(), p), options));
      std::shared_ptr<ProjectionStore> store = std::move(*ProjectionStore::Attach(log.get()));
      std::vector<v1::LogRecord> records;
      for (int c = p; c < 20; c += 2) {
        records.push_back(OrderRecord(absl::StrCat("e", c), absl::StrCat("c", c), kStart));
      }
      records.push_back(
          OrderRecord(absl::StrCat("late", p), absl::StrCat("c", p), kStart + 400 * 86400));
      ASSERT_TRUE(log->Append(absl::MakeSpan(records), {}).ok());
      const std::atomic<bool> stop{false};
      auto projector =
          PartitionProjector::Create(log.get(), store.get(), {.partition = p, .config = config_});
      ASSERT_TRUE(projector.ok());
      ASSERT_TRUE((*projector)->CatchUp(log->next_position(), stop).ok());
      views_.push_back({p, log, store});
      logs_.push_back(log);
      stores_.push_back(store);
    }
    status_.assigned = true;
    status_.totals.appended = 22;
    status_.partitions.push_back(
        {.partition = 0, .next_offset = 5, .high_watermark = 9, .reclassifying = true});
    status_.batch_latency_buckets = std::vector<uint64_t>(std::size(kBatchLatencyBounds) + 1, 3);
    status_.outbox.unacknowledged = 7;
    status_.outbox.failed_rounds = 2;
    auto server = HttpServer::Start({.address = "127.0.0.1:0",
                                     .bearer_token = kToken,
                                     .partitions = [this] { return views_; },
                                     .status = [this] { return status_; },
                                     .data_dir = dir_.path(),
                                     .config = config_});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_bearer_token_auth(kToken);
  }

  httplib::Result Get(const std::string& path) { return client_->Get(path.c_str()); }

  TempDir dir_;
  v1::EngineConfig config_;
  std::vector<PartitionView> views_;
  std::vector<std::shared_ptr<EventLog>> logs_;  // views_' logs and stores, writable
  std::vector<std::shared_ptr<ProjectionStore>> stores_;
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

// Answer serves a request given as bytes as the listening server serves a connection's:
// the same parsing, authentication and routes (the fuzzing harness goes through it).
TEST_F(HttpServerTest, AnswerServesRequestBytesAsAConnectionWould) {
  auto server = HttpServer::Unbound({.bearer_token = kToken,
                                     .partitions = [this] { return views_; },
                                     .status = [this] { return status_; },
                                     .config = config_})
                    .value();
  const std::string found = server->Answer(
      absl::StrCat("GET /v1/customers/c1 HTTP/1.1\r\nAuthorization: Bearer ", kToken, "\r\n\r\n"));
  EXPECT_THAT(found, ::testing::StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(found, HasSubstr("\"partition\":1"));
  EXPECT_THAT(server->Answer("GET /v1/customers/c1 HTTP/1.1\r\n\r\n"),
              ::testing::StartsWith("HTTP/1.1 401 "));
  EXPECT_THAT(server->Answer("not a request\r\n\r\n"), ::testing::StartsWith("HTTP/1.1 400 "));
}

TEST_F(HttpServerTest, AnIdWithASlashOrSpacesIsOnePercentEncodedSegment) {
  // Customers "acme/eu" and "x/trail" on partition 1, projected like the others.
  std::vector<v1::LogRecord> records = {OrderRecord("e-acme", "acme/eu", kStart),
                                        OrderRecord("e-x", "x/trail", kStart),
                                        OrderRecord("e-gamma", "gamma, Ltd.", kStart)};
  ASSERT_TRUE(logs_[1]->Append(absl::MakeSpan(records), {}).ok());
  const std::atomic<bool> stop{false};
  auto projector = PartitionProjector::Create(logs_[1].get(), stores_[1].get(),
                                              {.partition = 1, .config = config_});
  ASSERT_TRUE(projector.ok());
  ASSERT_TRUE((*projector)->CatchUp(logs_[1]->next_position(), stop).ok());

  auto acme = Get("/v1/customers/acme%2Feu");
  ASSERT_TRUE(acme);
  EXPECT_EQ(acme->status, 200) << acme->body;
  EXPECT_THAT(acme->body, HasSubstr("\"customerId\":\"acme/eu\""));
  auto trail = Get("/v1/customers/acme%2Feu/trail");
  ASSERT_TRUE(trail);
  ASSERT_EQ(trail->status, 200) << trail->body;
  EXPECT_EQ(ParseTrail(trail->body).customer_id(), "acme/eu");
  // "x/trail" is a customer, not the trail of "x".
  auto x = Get("/v1/customers/x%2Ftrail");
  ASSERT_TRUE(x);
  EXPECT_EQ(x->status, 200) << x->body;
  EXPECT_THAT(x->body, HasSubstr("\"customerId\":\"x/trail\""));
  auto gamma = Get("/v1/customers/gamma%2C%20Ltd./trail");
  ASSERT_TRUE(gamma);
  ASSERT_EQ(gamma->status, 200) << gamma->body;
  EXPECT_EQ(ParseTrail(gamma->body).customer_id(), "gamma, Ltd.");
  // The id unencoded is two segments: no such endpoint.
  auto unencoded = Get("/v1/customers/acme/eu");
  ASSERT_TRUE(unencoded);
  EXPECT_EQ(unencoded->status, 404);
  EXPECT_THAT(unencoded->body, HasSubstr("no such endpoint"));
}

TEST_F(HttpServerTest, TrailListsTheCustomersEventsAndTheFactsEachDerivedInOrder) {
  auto r = Get("/v1/customers/c2/trail");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json; charset=utf-8");
  const v1::Trail trail = ParseTrail(r->body);
  EXPECT_EQ(trail.customer_id(), "c2");
  EXPECT_EQ(trail.partition(), 0);
  EXPECT_FALSE(trail.has_as_of());
  EXPECT_EQ(trail.projected_to(), 11u);  // c0, c2, ..., c18, then late0
  EXPECT_EQ(trail.unprojected_events(), 0u);
  // c2's order at position 1 and what it derived; then, at late0 (position 10, c0's
  // event), what the deadlines that event moved the clock past derived: silence raises a
  // watch at 180 days, and escalates to critical at 270, which puts c2 at risk and lost
  // (180 days without interaction) in one stage change.
  std::vector<std::string> entries;
  for (const v1::TrailEntry& e : trail.entries()) {
    std::string what = e.has_event()            ? "event " + e.event().event_id()
                       : e.has_warning()        ? "warning"
                       : e.change().has_score() ? "score"
                       : e.change().has_stage()
                           ? v1::LifecycleStage_Name(e.change().stage().to())
                           : "class " + e.change().class_change().classification();
    entries.push_back(absl::StrCat(
        e.position(), " ", e.has_cause() ? v1::TrailEntry::Cause_Name(e.cause()) : "-", " ", what));
  }
  EXPECT_THAT(
      entries,
      ElementsAre("1 - event e2", "1 CAUSE_EVENT class loyalty_tier",
                  "1 CAUSE_EVENT class intent_class", "1 CAUSE_EVENT class relationship_kind",
                  "1 CAUSE_EVENT LIFECYCLE_STAGE_DEEPENING", "10 CAUSE_TIME warning",
                  "10 CAUSE_TIME LIFECYCLE_STAGE_LOST", "10 CAUSE_TIME warning"));
  uint64_t last = 0;
  for (const v1::TrailEntry& e : trail.entries()) {
    EXPECT_GE(e.position(), last);
    last = e.position();
  }
  ASSERT_TRUE(trail.has_state());
  EXPECT_EQ(trail.state().stage(), v1::LIFECYCLE_STAGE_LOST);
  // The same as the trail read by the shared builder from the engine's store.
  auto view = LiveProjectionView(views_[0]);
  ASSERT_TRUE(view.ok()) << view.status();
  auto built = ReadTrail(*view, "c2");
  ASSERT_TRUE(built.ok()) << built.status();
  EXPECT_EQ(r->body, *TrailJson(*built) + "\n");
}

// A trail comes in pages of whole log positions: c2 has 5 entries at position 1 and 3 at
// position 10 (above).
TEST_F(HttpServerTest, TrailPagesNeverSplitAPositionAndTogetherAreTheWholeTrail) {
  auto whole = Get("/v1/customers/c2/trail");
  ASSERT_TRUE(whole);
  ASSERT_EQ(whole->status, 200) << whole->body;
  const v1::Trail all = ParseTrail(whole->body);
  ASSERT_EQ(all.entries_size(), 8);
  EXPECT_TRUE(all.next_page_token().empty());

  // 3 fit no whole position: the first position comes whole all the same.
  auto first = Get("/v1/customers/c2/trail?limit=3");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200) << first->body;
  const v1::Trail one = ParseTrail(first->body);
  ASSERT_EQ(one.entries_size(), 5);
  for (const v1::TrailEntry& e : one.entries()) EXPECT_EQ(e.position(), 1u);
  EXPECT_EQ(one.next_page_token(), "1");
  EXPECT_TRUE(one.has_state());  // every page carries the state

  // 6 take position 1 but not position 10 as well.
  auto six = Get("/v1/customers/c2/trail?limit=6");
  ASSERT_TRUE(six);
  EXPECT_EQ(ParseTrail(six->body).entries_size(), 5);

  auto second = Get("/v1/customers/c2/trail?limit=3&page_token=" + one.next_page_token());
  ASSERT_TRUE(second);
  ASSERT_EQ(second->status, 200) << second->body;
  const v1::Trail two = ParseTrail(second->body);
  ASSERT_EQ(two.entries_size(), 3);
  EXPECT_TRUE(two.next_page_token().empty());
  for (int i = 0; i < 8; ++i) {
    const v1::TrailEntry& paged = i < 5 ? one.entries(i) : two.entries(i - 5);
    EXPECT_EQ(paged.SerializeAsString(), all.entries(i).SerializeAsString()) << i;
  }

  // The last page exactly full has no token; past the end is an empty page.
  auto eight = Get("/v1/customers/c2/trail?limit=8");
  ASSERT_TRUE(eight);
  EXPECT_EQ(eight->body, whole->body);
  auto past = Get("/v1/customers/c2/trail?page_token=10");
  ASSERT_TRUE(past);
  ASSERT_EQ(past->status, 200) << past->body;
  EXPECT_EQ(ParseTrail(past->body).entries_size(), 0);

  for (const char* bad : {"limit=0", "limit=10001", "limit=x", "page_token=abc"}) {
    auto r = Get(std::string("/v1/customers/c2/trail?") + bad);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad;
  }
}

// A token is the last position of a page: a number that is no position of the trail
// (c2's are 1 and 10) is no page's token, live or as of a time, and says so.
TEST_F(HttpServerTest, TrailPageTokenThatIsNoPagesTokenIsAFourHundred) {
  for (const char* token : {"0", "2", "9", "11", "18446744073709551615"}) {
    for (const char* as_of : {"", "&as_of=2030-01-01"}) {
      const std::string path =
          absl::StrCat("/v1/customers/c2/trail?limit=3&page_token=", token, as_of);
      auto r = Get(path);
      ASSERT_TRUE(r) << path;
      EXPECT_EQ(r->status, 400) << path << "\n" << r->body;
      EXPECT_THAT(r->body, HasSubstr("page_token: not a token this endpoint gave")) << path;
    }
  }
  for (const char* token : {"1", "10"}) {  // positions of the trail: pages after them
    auto r = Get(absl::StrCat("/v1/customers/c2/trail?limit=3&page_token=", token));
    ASSERT_TRUE(r) << token;
    EXPECT_EQ(r->status, 200) << token << "\n" << r->body;
  }
}

TEST_F(HttpServerTest, TrailAsOfATimeIsThePartitionRecomputedUpToThen) {
  // 300 days in: c2's deadlines (silence at 180 days, severe at 270: critical, at risk
  // and lost) have passed, but nothing moved the clock past them in the log (late0 is day
  // 400): it is the as-of time that fires them.
  const std::string at = google::protobuf::util::TimeUtil::ToString(
      google::protobuf::util::TimeUtil::SecondsToTimestamp(kStart + 300 * 86400));
  auto r = Get("/v1/customers/c2/trail?as_of=" + at);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const v1::Trail trail = ParseTrail(r->body);
  EXPECT_EQ(google::protobuf::util::TimeUtil::ToString(trail.as_of()), at);
  EXPECT_EQ(trail.projected_to(), 11u);
  bool lost_at_as_of = false;
  for (const v1::TrailEntry& e : trail.entries()) {
    if (e.has_change() && e.change().has_stage() &&
        e.change().stage().to() == v1::LIFECYCLE_STAGE_LOST) {
      lost_at_as_of =
          e.position() == trail.projected_to() && e.cause() == v1::TrailEntry::CAUSE_TIME;
    }
  }
  EXPECT_TRUE(lost_at_as_of) << r->body;
  EXPECT_EQ(trail.state().stage(), v1::LIFECYCLE_STAGE_LOST);
  // c0 as of then: its late order (day 400) is left out.
  auto c0 = Get("/v1/customers/c0/trail?as_of=" + at);
  ASSERT_TRUE(c0);
  ASSERT_EQ(c0->status, 200) << c0->body;
  EXPECT_EQ(ParseTrail(c0->body).state().events_applied(), 1u);
  // Exactly what the shared builder gives on the partition recomputed up to then (as
  // `guanxi audit trail --as-of` does).
  TempDir scratch;
  const std::atomic<bool> stop{false};
  auto view = OpenProjectionView({.data_dir = dir_.path(),
                                  .partition = 0,
                                  .scratch_dir = scratch.path(),
                                  .config = config_,
                                  .as_of = trail.as_of()},
                                 stop);
  ASSERT_TRUE(view.ok()) << view.status();
  auto built = ReadTrail(*view, "c2");
  ASSERT_TRUE(built.ok()) << built.status();
  EXPECT_EQ(r->body, *TrailJson(*built) + "\n");
  // A date is the end of that day; before the first event there is no state.
  auto early = Get("/v1/customers/c2/trail?as_of=2023-01-01");
  ASSERT_TRUE(early);
  ASSERT_EQ(early->status, 200) << early->body;
  const v1::Trail none = ParseTrail(early->body);
  EXPECT_EQ(google::protobuf::util::TimeUtil::ToString(none.as_of()), "2023-01-01T23:59:59.999999999Z");
  EXPECT_EQ(none.entries_size(), 0);
  EXPECT_FALSE(none.has_state());
}

TEST_F(HttpServerTest, TrailOfAnUnknownCustomerOrWithABadAsOfIsAFourHundred) {
  auto missing = Get("/v1/customers/nobody/trail");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->body,
            "{\"error\":\"customer nobody is not in any partition this instance owns\"}\n");
  auto missing_as_of = Get("/v1/customers/nobody/trail?as_of=2024-01-01");
  ASSERT_TRUE(missing_as_of);
  EXPECT_EQ(missing_as_of->status, 404);
  for (const char* bad : {"soon", "2024-02-30", "2024-1-1", ""}) {
    auto r = Get(absl::StrCat("/v1/customers/c2/trail?as_of=", bad));
    ASSERT_TRUE(r) << bad;
    EXPECT_EQ(r->status, 400) << bad;
    EXPECT_THAT(r->body, HasSubstr(absl::StrCat("{\"error\":\"as_of: '", bad,
                                                "' is neither RFC 3339 (2011-03-01T00:00:00Z) "
                                                "nor a date (2011-03-01)\"}")));
  }
}

TEST_F(HttpServerTest, AsOfTrailsBeyondTheLimitAreRefusedWithRetryAfter) {
  auto server = HttpServer::Start({.address = "127.0.0.1:0",
                                   .partitions = [this] { return views_; },
                                   .status = [this] { return status_; },
                                   .data_dir = dir_.path(),
                                   .config = config_,
                                   .max_as_of_trails = 0});
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client("127.0.0.1", (*server)->port());
  auto refused = client.Get("/v1/customers/c2/trail?as_of=2024-01-01");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->get_header_value("Retry-After"), "10");
  EXPECT_THAT(refused->body, HasSubstr("as-of trail(s) being recomputed already"));
  // The live trail needs no recomputation.
  auto live = client.Get("/v1/customers/c2/trail");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->status, 200);

  auto without_data = HttpServer::Start({.address = "127.0.0.1:0",
                                         .partitions = [this] { return views_; },
                                         .status = [this] { return status_; }});
  ASSERT_TRUE(without_data.ok()) << without_data.status();
  httplib::Client other("127.0.0.1", (*without_data)->port());
  auto unavailable = other.Get("/v1/customers/c2/trail?as_of=2024-01-01");
  ASSERT_TRUE(unavailable);
  EXPECT_EQ(unavailable->status, 501);
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
  // An empty page_token is the first page.
  auto first = Get("/v1/customers?stage=lost&limit=3");
  auto empty = Get("/v1/customers?stage=lost&limit=3&page_token=");
  ASSERT_TRUE(first && empty);
  EXPECT_EQ(empty->status, 200);
  EXPECT_EQ(empty->body, first->body);

  auto by_class = Get("/v1/customers?class=intent_class:A&limit=1000");
  ASSERT_TRUE(by_class);
  EXPECT_EQ(by_class->status, 200) << by_class->body;
}

// The account managers of c2, c4 (partition 0) and c3 (partition 1), from their profiles,
// applied after the fixture's events.
void NameOwners(std::vector<std::shared_ptr<EventLog>>& logs,
                std::vector<std::shared_ptr<ProjectionStore>>& stores,
                const v1::EngineConfig& config) {
  const std::pair<int, std::string> owners[] = {{2, "am-1"}, {4, "am-1"}, {3, "am-2"}};
  for (const auto& [c, owner] : owners) {
    v1::LogRecord r = OrderRecord(absl::StrCat("profile", c), absl::StrCat("c", c), kStart + 86400);
    r.mutable_event()->mutable_profile()->set_owner(owner);
    r.mutable_event()->mutable_profile()->set_name(absl::StrCat("Customer ", c));
    std::vector<v1::LogRecord> records = {r};
    ASSERT_TRUE(logs[static_cast<size_t>(c % 2)]->Append(absl::MakeSpan(records), {}).ok());
  }
  for (int32_t p = 0; p < 2; ++p) {
    const std::atomic<bool> stop{false};
    auto projector = PartitionProjector::Create(logs[static_cast<size_t>(p)].get(),
                                                stores[static_cast<size_t>(p)].get(),
                                                {.partition = p, .config = config});
    ASSERT_TRUE(projector.ok());
    ASSERT_TRUE((*projector)->CatchUp(logs[static_cast<size_t>(p)]->next_position(), stop).ok());
  }
}

TEST_F(HttpServerTest, PortfolioCountsTheOwnedCustomersAndTheListsFiltersNarrowBoth) {
  ASSERT_NO_FATAL_FAILURE(NameOwners(logs_, stores_, config_));
  // What the stores hold, counted here.
  int lost = 0, attention = 0;
  std::map<std::string, int> open;  // by level
  for (const PartitionView& view : views_) {
    ASSERT_TRUE(view.store
                    ->ForEachState([&](const v1::CustomerState& s) {
                      lost += s.stage() == v1::LIFECYCLE_STAGE_LOST;
                      const bool warned = !s.churn_episode().warning_id().empty();
                      if (warned) {
                        ++open[v1::WarningLevel_Name(
                            static_cast<v1::WarningLevel>(s.churn_episode().level()))];
                      }
                      attention += warned || s.stage() == v1::LIFECYCLE_STAGE_AT_RISK ||
                                   s.stage() == v1::LIFECYCLE_STAGE_WINNING_BACK;
                      return true;
                    })
                    .ok());
  }
  ASSERT_EQ(lost, 18);

  auto all = Get("/v1/portfolio");
  ASSERT_TRUE(all);
  ASSERT_EQ(all->status, 200) << all->body;
  EXPECT_THAT(all->body, HasSubstr("\"customers\":\"20\""));
  EXPECT_THAT(all->body, HasSubstr("\"LIFECYCLE_STAGE_LOST\":\"18\""));
  EXPECT_THAT(all->body, HasSubstr("\"owners\":{"));
  EXPECT_THAT(all->body, HasSubstr("\"am-1\":\"2\""));
  EXPECT_THAT(all->body, HasSubstr("\"am-2\":\"1\""));
  EXPECT_THAT(all->body, HasSubstr("\"\":\"17\""));  // no owner named
  EXPECT_THAT(all->body, HasSubstr(absl::StrCat("\"needingAttention\":\"", attention, "\"")));
  EXPECT_THAT(all->body, HasSubstr("\"intent_class\":{\"counts\":{\"A\":\"20\"}}"));

  // The same filters as the list, on the count and on the list.
  auto mine = Get("/v1/portfolio?owner=am-1");
  ASSERT_TRUE(mine);
  EXPECT_THAT(mine->body, HasSubstr("\"customers\":\"2\""));
  auto my_list = Get("/v1/customers?owner=am-1&limit=1000");
  ASSERT_TRUE(my_list);
  ASSERT_EQ(my_list->status, 200) << my_list->body;
  EXPECT_THAT(my_list->body, HasSubstr("\"customerId\":\"c2\""));
  EXPECT_THAT(my_list->body, HasSubstr("\"customerId\":\"c4\""));
  EXPECT_THAT(my_list->body, HasSubstr("\"owner\":\"am-1\""));
  EXPECT_THAT(my_list->body, HasSubstr("\"name\":\"Customer 2\""));
  EXPECT_THAT(my_list->body, Not(HasSubstr("\"customerId\":\"c3\"")));

  auto needing = Get("/v1/customers?needs_attention=true&limit=1000");
  ASSERT_TRUE(needing);
  ASSERT_EQ(needing->status, 200) << needing->body;
  int listed = 0;
  for (size_t at = 0; (at = needing->body.find("\"customerId\"", at)) != std::string::npos; ++at) {
    ++listed;
  }
  EXPECT_EQ(listed, attention);
  auto lost_count = Get("/v1/portfolio?stage=lost");
  ASSERT_TRUE(lost_count);
  EXPECT_THAT(lost_count->body, HasSubstr("\"customers\":\"18\""));

  // entered_since: everyone entered their stage after 1970; nobody after 2100.
  auto recent = Get("/v1/portfolio?entered_since=2100-01-01");
  ASSERT_TRUE(recent);
  EXPECT_THAT(recent->body, HasSubstr("\"customers\":\"0\""));
  auto ever = Get("/v1/portfolio?entered_since=1970-01-02T00:00:00Z");
  ASSERT_TRUE(ever);
  EXPECT_THAT(ever->body, HasSubstr("\"customers\":\"20\""));
  // The quiet customers' inactivity warnings, by level.
  ASSERT_FALSE(open.empty());
  for (const auto& [level, n] : open) {
    EXPECT_THAT(all->body, HasSubstr(absl::StrCat("\"", level, "\":\"", n, "\""))) << level;
  }
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
      {"/v1/customers?needs_attention=yes", "needs_attention: 'yes' is not true or false"},
      {"/v1/customers?entered_since=last-week", "entered_since: 'last-week' is neither"},
      {"/v1/portfolio?stage=bogus", "stage: 'bogus' is not a lifecycle stage"},
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

TEST_F(HttpServerTest, ReadsWaitForTheAssignmentAndReadyzSaysWhenCaughtUp) {
  auto readiness = [&](int expected_status) {
    httplib::Client probe("127.0.0.1", server_->port());  // probes carry no token
    auto r = probe.Get("/readyz");
    EXPECT_TRUE(r);
    if (!r) return v1::Readiness();
    EXPECT_EQ(r->status, expected_status) << r->body;
    v1::Readiness parsed;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r->body, &parsed).ok()) << r->body;
    EXPECT_EQ(parsed.ready(), expected_status == 200);
    return parsed;
  };
  // Caught up: 4 messages behind, within the default 1000.
  v1::Readiness ready = readiness(200);
  ASSERT_EQ(ready.partitions_size(), 1);
  EXPECT_EQ(ready.partitions(0).lag(), 4);
  EXPECT_TRUE(ready.waiting_for().empty());

  // Before the group assigned anything: reads are refused with Retry-After, not a 404.
  status_.assigned = false;
  for (const char* path : {"/v1/customers/c3", "/v1/customers/nobody", "/v1/customers",
                           "/v1/customers/c3/trail", "/v1/warnings"}) {
    auto r = Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 503) << path;
    EXPECT_EQ(r->get_header_value("Retry-After"), "1") << path;
    EXPECT_THAT(r->body, HasSubstr("waiting for the consumer group to assign")) << path;
  }
  EXPECT_THAT(readiness(503).waiting_for(),
              ElementsAre("the consumer group has not assigned this instance its partitions"));
  auto health = Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);  // alive all the same

  status_.assigned = true;
  status_.partitions[0].high_watermark = 5000;
  EXPECT_THAT(readiness(503).waiting_for(), ElementsAre("partition 0: 4995 messages to consume"));
  status_.partitions[0].high_watermark = -1;
  v1::Readiness unknown = readiness(503);
  EXPECT_EQ(unknown.partitions(0).lag(), -1);
  EXPECT_THAT(unknown.waiting_for(),
              ElementsAre("partition 0: the broker's end is not known yet"));
  status_.partitions[0].high_watermark = 9;
  status_.partitions[0].log_records = 3000;
  status_.partitions[0].projected = 1000;
  EXPECT_THAT(readiness(503).waiting_for(), ElementsAre("partition 0: 2000 records to project"));
  status_.partitions[0].projected = 2500;
  EXPECT_EQ(readiness(200).partitions(0).unprojected(), 500);
}

TEST_F(HttpServerTest, AReadForACustomerAnotherInstanceOwnsIsForwardedToItOnce) {
  // Two instances, each owning one of the fixture's partitions; the directory says so.
  status_.events_partitions = 2;
  std::map<int32_t, std::string> owners;
  absl::Mutex owners_mu;
  std::vector<std::unique_ptr<HttpServer>> servers;
  std::vector<std::unique_ptr<httplib::Client>> clients;
  for (int32_t p = 0; p < 2; ++p) {
    const int port = FreePort();
    const std::string self = absl::StrCat("127.0.0.1:", port);
    owners[p] = self;
    auto server = HttpServer::Start(
        {.address = self,
         .bearer_token = kToken,
         .partitions = [this, p] { return std::vector<PartitionView>{views_[p]}; },
         .status = [this] { return status_; },
         .data_dir = dir_.path(),
         .config = config_,
         .self = self,
         .owner_of = [&](int32_t partition) -> std::optional<std::string> {
           absl::MutexLock lock(&owners_mu);
           auto owner = owners.find(partition);
           if (owner == owners.end()) return std::nullopt;
           return owner->second;
         }});
    ASSERT_TRUE(server.ok()) << server.status();
    servers.push_back(std::move(*server));
    clients.push_back(std::make_unique<httplib::Client>("127.0.0.1", port));
    clients.back()->set_bearer_token_auth(kToken);
  }

  // The fixture put c<i> in partition i % 2; those whose home partition that is are
  // found through either instance, the same answer, served by the owner.
  int forwarded[2] = {0, 0};
  for (int i = 0; i < 20; ++i) {
    const std::string id = absl::StrCat("c", i);
    const int32_t holder = i % 2;
    if (KeyPartition(id, 2) != holder) {
      // Its home partition is the other instance's own: a 404 there is the truth.
      auto r = clients[1 - holder]->Get(absl::StrCat("/v1/customers/", id));
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 404) << id;
      continue;
    }
    for (const std::string& path : {absl::StrCat("/v1/customers/", id),
                                   absl::StrCat("/v1/customers/", id, "/trail?limit=2")}) {
      auto direct = clients[holder]->Get(path);
      auto via = clients[1 - holder]->Get(path);
      ASSERT_TRUE(direct && via) << path;
      EXPECT_EQ(direct->status, 200) << path;
      EXPECT_EQ(via->status, 200) << path << via->body;
      EXPECT_EQ(via->body, direct->body) << path;
      EXPECT_EQ(via->get_header_value("Content-Type"), "application/json; charset=utf-8");
      EXPECT_EQ(direct->get_header_value("X-Guanxi-Served-By"), owners[holder]);
      EXPECT_EQ(via->get_header_value("X-Guanxi-Served-By"), owners[holder]);
    }
    ++forwarded[1 - holder];
  }
  EXPECT_GT(forwarded[0], 0);
  EXPECT_GT(forwarded[1], 0);

  // An unknown customer whose home is instance 1's: instance 1's 404.
  std::string nobody = "nobody";
  while (KeyPartition(nobody, 2) != 1) nobody += "+";
  auto missing = clients[0]->Get(absl::StrCat("/v1/customers/", nobody));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->get_header_value("X-Guanxi-Served-By"), owners[1]);

  // One hop at most: a forwarded request is answered where it lands.
  auto hopped = clients[0]->Get(absl::StrCat("/v1/customers/", nobody),
                                {{"X-Guanxi-Forwarded-By", owners[1]}});
  ASSERT_TRUE(hopped);
  EXPECT_EQ(hopped->status, 404);
  EXPECT_EQ(hopped->get_header_value("X-Guanxi-Served-By"), owners[0]);

  // The token is checked before anything is forwarded.
  httplib::Client anonymous("127.0.0.1", servers[0]->port());
  auto refused = anonymous.Get(absl::StrCat("/v1/customers/", nobody));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);

  // An owner not known yet, or not answering: 503, ask again.
  {
    absl::MutexLock lock(&owners_mu);
    owners.erase(1);
  }
  auto unknown = clients[0]->Get(absl::StrCat("/v1/customers/", nobody));
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 503);
  EXPECT_EQ(unknown->get_header_value("Retry-After"), "1");
  EXPECT_THAT(unknown->body, HasSubstr("belongs to partition 1, which this instance does not own "
                                       "and whose owner it does not know yet"));
  const std::string gone = absl::StrCat("127.0.0.1:", FreePort());
  {
    absl::MutexLock lock(&owners_mu);
    owners[1] = gone;
  }
  auto down = clients[0]->Get(absl::StrCat("/v1/customers/", nobody));
  ASSERT_TRUE(down);
  EXPECT_EQ(down->status, 503);
  EXPECT_EQ(down->get_header_value("Retry-After"), "1");
  EXPECT_THAT(down->body, HasSubstr(absl::StrCat("partition 1's owner ", gone, " did not answer")));
}

// An error's message may quote what the client sent (an id, a path), which need not be
// UTF-8: the body is valid JSON all the same, the bytes that are no UTF-8 replaced.
TEST_F(HttpServerTest, EveryErrorBodyIsValidJsonWhateverTheRequestHeld) {
  const std::pair<std::string, int> cases[] = {
      {"/v1/customers/%ff%fe", 404},
      {"/v1/customers/%ff%fe/trail", 404},
      {"/v1/customers/%c0%af%ed%a0%80", 404},  // an overlong '/', a surrogate
      {"/v1/customers/%e4%b8", 404},           // a sequence cut short
      {"/v1/nothing%ff", 404},
      {"/v1/warnings?since=%ff", 400},
      {"/v1/customers/c2/trail?as_of=%fe", 400},
  };
  for (const auto& [path, status] : cases) {
    auto r = Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, status) << path;
    ExpectJsonError(r->body, path);
  }
  auto unknown = Get("/v1/customers/%ff%fe");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->body,
            "{\"error\":\"customer \\ufffd\\ufffd is not in any partition this instance "
            "owns\"}\n");
  // A customer id in UTF-8 comes back as it is.
  auto chinese = Get("/v1/customers/%E5%85%B3%E7%B3%BB");
  ASSERT_TRUE(chinese);
  EXPECT_THAT(chinese->body, HasSubstr("customer 关系 is not"));
  // What cpp-httplib answers itself, a request it cannot read, is JSON too.
  RawConnection garbage(server_->port(), "NONSENSE\r\n\r\n");
  ASSERT_TRUE(garbage.connected());
  const std::string answer = garbage.ReadAll();
  EXPECT_THAT(answer, ::testing::StartsWith("HTTP/1.1 400"));
  const size_t body = answer.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos) << answer;
  ExpectJsonError(answer.substr(body + 4), "a malformed request");
}

// Connections that send part of a request, or nothing, and wait hold a request thread
// only briefly: many more of them than the server has threads (which were 8, each held
// 5 s by such a connection) leave the probes and the API answering while they are all
// still open. The deadline is generous; what is asserted is an answer at all.
TEST_F(HttpServerTest, IdleConnectionsDoNotStarveTheApi) {
  constexpr int kIdle = 96;
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < kIdle; ++i) {
    idle.push_back(std::make_unique<RawConnection>(
        server_->port(), i % 2 == 0 ? "GET /healthz HTTP/1.1\r\n" : ""));
    ASSERT_TRUE(idle.back()->connected()) << i;
  }
  httplib::Client client("127.0.0.1", server_->port());
  client.set_connection_timeout(30, 0);
  client.set_read_timeout(30, 0);
  client.set_bearer_token_auth(kToken);
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health) << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);
  auto customer = client.Get("/v1/customers/c3");
  ASSERT_TRUE(customer) << httplib::to_string(customer.error());
  EXPECT_EQ(customer->status, 200);
  idle.clear();  // only now
}

TEST_F(HttpServerTest, BearerTokenGuardsEverythingButHealth) {
  httplib::Client anonymous("127.0.0.1", server_->port());
  auto health = anonymous.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  for (const char* path : {"/metrics", "/v1/customers", "/v1/customers/c3",
                           "/v1/customers/c3/trail", "/v1/customers/c3/trail?as_of=2024-01-01"}) {
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
  EXPECT_THAT(r->body, HasSubstr("# TYPE guanxi_outbox_unacknowledged gauge\n"
                                 "guanxi_outbox_unacknowledged 7\n"));
  EXPECT_THAT(r->body, HasSubstr("# TYPE guanxi_outbox_failed_rounds_total counter\n"
                                 "guanxi_outbox_failed_rounds_total 2\n"));
  // The outbox was never published here: every derived change is still waiting.
  EXPECT_THAT(r->body, ::testing::ContainsRegex("guanxi_outbox_depth\\{partition=\"0\"\\} [1-9]"));
  EXPECT_THAT(r->body, ::testing::HasSubstr("guanxi_outbox_full{partition=\"0\"} 0"));
  EXPECT_THAT(r->body, ::testing::HasSubstr("# TYPE guanxi_partition_reclassifying gauge\n"));
  EXPECT_THAT(r->body, ::testing::HasSubstr("guanxi_partition_reclassifying{partition=\"0\"} 1"));
}

// The two roles: the read token reads, the admin token reads and calls admin endpoints
// (GET /v1/admin/limits stands for them); no token or a wrong one is a 401, the read
// token at an admin endpoint a 403, each with a JSON error.
TEST_F(HttpServerTest, ReadAndAdminTokensEachGetTheirRole) {
  constexpr char kAdmin[] = "adm1n-token";
  auto server = HttpServer::Start({.address = "127.0.0.1:0",
                                   .bearer_token = kToken,
                                   .admin_token = kAdmin,
                                   .partitions = [this] { return views_; },
                                   .status = [this] { return status_; }});
  ASSERT_TRUE(server.ok()) << server.status();
  const auto get = [&](const std::string& path, const std::string& authorization) {
    httplib::Client client("127.0.0.1", (*server)->port());
    httplib::Headers headers;
    if (!authorization.empty()) headers.emplace("Authorization", authorization);
    return client.Get(path.c_str(), headers);
  };
  const std::string read = absl::StrCat("Bearer ", kToken);
  const std::string admin = absl::StrCat("Bearer ", kAdmin);
  struct Case {
    std::string authorization;
    int customer;  // GET /v1/customers/c3
    int limits;    // GET /v1/admin/limits
  };
  const Case cases[] = {
      {"", 401, 401},
      {read, 200, 403},
      {admin, 200, 200},
      {absl::StrCat("bearer ", kToken), 200, 403},  // the scheme is case-insensitive
      {"Bearer not-it", 401, 401},
      {"Bearer s3cret-toke", 401, 401},       // a prefix of the read token
      {"Bearer s3cret-token2", 401, 401},     // the read token and more
      {"Bearer adm1n-token s3cret-token", 401, 401},
      {absl::StrCat("Basic ", kToken), 401, 401},
      {"Bearer ", 401, 401},
  };
  for (const Case& c : cases) {
    auto customer = get("/v1/customers/c3", c.authorization);
    ASSERT_TRUE(customer) << c.authorization;
    EXPECT_EQ(customer->status, c.customer) << c.authorization;
    auto limits = get("/v1/admin/limits", c.authorization);
    ASSERT_TRUE(limits) << c.authorization;
    EXPECT_EQ(limits->status, c.limits) << c.authorization << ": " << limits->body;
    if (c.limits != 200) {
      ExpectJsonError(limits->body, c.authorization);
    }
    if (c.limits == 401) {
      EXPECT_EQ(limits->get_header_value("WWW-Authenticate"), "Bearer");
    }
    if (c.limits == 403) {
      EXPECT_THAT(limits->body, HasSubstr("requires the admin token"));
    }
  }
  auto limits = get("/v1/admin/limits", admin);
  ASSERT_TRUE(limits);
  EXPECT_THAT(limits->body, HasSubstr("\"tls\":false,\"readToken\":true,\"adminToken\":true,"
                                      "\"maxRequests\":24,\"requests\":1,"));
  // The probes and the web view's files need no token.
  for (const char* open : {"/healthz", "/readyz", "/"}) {
    auto r = get(open, "");
    ASSERT_TRUE(r) << open;
    EXPECT_NE(r->status, 401) << open;
  }
}

TEST_F(HttpServerTest, AdminEndpointsAreForbiddenWithoutAnAdminToken) {
  // The fixture's server has a read token only; this one has no token at all.
  auto open = HttpServer::Start({.address = "127.0.0.1:0",
                                 .partitions = [this] { return views_; },
                                 .status = [this] { return status_; }});
  ASSERT_TRUE(open.ok()) << open.status();
  httplib::Client anonymous("127.0.0.1", (*open)->port());
  for (httplib::Client* client : {client_.get(), &anonymous}) {
    auto customer = client->Get("/v1/customers/c3");
    ASSERT_TRUE(customer);
    EXPECT_EQ(customer->status, 200);
    auto limits = client->Get("/v1/admin/limits");
    ASSERT_TRUE(limits);
    EXPECT_EQ(limits->status, 403);
    EXPECT_EQ(limits->body,
              "{\"error\":\"admin endpoints are disabled: the server was started without an "
              "admin token (--http-admin-token-file)\"}\n");
  }
}

// POST /v1/customers/{id}/erase: the admin token only; the erasure event is built from
// the id in the path and the body, handed to produce_erasure, and answered 202.
TEST_F(HttpServerTest, EraseHandsTheErasureEventToTheProducerForTheAdminOnly) {
  constexpr char kAdmin[] = "adm1n-token";
  absl::Mutex mu;
  std::vector<v1::Event> produced;
  absl::Status next_produce;  // what the producer answers
  auto server = HttpServer::Start({.address = "127.0.0.1:0",
                                   .bearer_token = kToken,
                                   .admin_token = kAdmin,
                                   .partitions = [this] { return views_; },
                                   .status = [this] { return status_; },
                                   .produce_erasure = [&](const v1::Event& erasure) {
                                     absl::MutexLock lock(&mu);
                                     if (!next_produce.ok()) return next_produce;
                                     produced.push_back(erasure);
                                     return absl::OkStatus();
                                   }});
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client("127.0.0.1", (*server)->port());
  const auto post = [&](const std::string& path, const std::string& body,
                        const std::string& token) {
    httplib::Headers headers{{"Authorization", absl::StrCat("Bearer ", token)}};
    return client.Post(path.c_str(), headers, body, "application/json");
  };

  auto r = post("/v1/customers/c3/erase", "", kToken);  // the read token
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  r = post("/v1/customers/c3/erase", "", "not-it");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);

  // An id with '/' and a space, percent-encoded, is one customer.
  r = post("/v1/customers/a%2Fb%20c/erase",
           R"({"reason": "GDPR art. 17 request 7", "requestedBy": "dpo"})", kAdmin);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  v1::Event answered;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r->body, &answered).ok()) << r->body;
  EXPECT_EQ(answered.customer_id(), "a/b c");
  EXPECT_EQ(answered.erasure().reason(), "GDPR art. 17 request 7");
  EXPECT_EQ(answered.erasure().requested_by(), "dpo");
  // Without a body: no reason, and the admin token named as who asked.
  r = post("/v1/customers/c3/erase", "", kAdmin);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  {
    absl::MutexLock lock(&mu);
    ASSERT_EQ(produced.size(), 2u);
    EXPECT_EQ(produced[0].SerializeAsString(), answered.SerializeAsString());
    EXPECT_EQ(produced[1].customer_id(), "c3");
    EXPECT_EQ(produced[1].erasure().reason(), "");
    EXPECT_EQ(produced[1].erasure().requested_by(), "the HTTP API's admin token");
    EXPECT_NE(produced[0].event_id(), produced[1].event_id());
  }

  // Bad requests produce nothing.
  struct Bad {
    std::string path, body;
    int status;
    std::string says;
  };
  const Bad bad[] = {
      {"/v1/customers/c3/erase", "{\"reason\": ", 400, "not a guanxi.v1.Erasure in JSON"},
      {"/v1/customers/c3/erase", R"({"name": "Wu"})", 400, "not a guanxi.v1.Erasure in JSON"},
      {"/v1/customers/c3/erase", "[1]", 400, "not a guanxi.v1.Erasure in JSON"},
      {"/v1/customers/c3/erase",  // nested 30,000 deep: protobuf's depth limit, no overflow
       absl::StrCat("{\"reason\":", std::string(30'000, '['), std::string(30'000, ']'), "}"),
       400, "not a guanxi.v1.Erasure in JSON"},
      {absl::StrCat("/v1/customers/", std::string(300, 'x'), "/erase"), "", 400,
       "customer_id"},
      {"/v1/customers/c3", "", 404, "no such endpoint: POST"},
      {"/v1/customers/c3/trail", "", 404, "no such endpoint: POST"},
      {"/v1/customers/c3/erase/now", "", 404, "no such endpoint: POST"},
  };
  for (const Bad& b : bad) {
    r = post(b.path, b.body, kAdmin);
    ASSERT_TRUE(r) << b.path;
    EXPECT_EQ(r->status, b.status) << b.path << " " << b.body << ": " << r->body;
    EXPECT_THAT(r->body, HasSubstr(b.says)) << b.path << " " << b.body;
    ExpectJsonError(r->body, b.path);
  }
  // GET is not how one erases.
  httplib::Headers admin{{"Authorization", absl::StrCat("Bearer ", kAdmin)}};
  r = client.Get("/v1/customers/c3/erase", admin);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);

  // The broker not taking it: 503 with Retry-After (asking again is safe); another
  // failure: 500.
  {
    absl::MutexLock lock(&mu);
    next_produce = absl::UnavailableError("all brokers are down");
  }
  r = post("/v1/customers/c3/erase", "", kAdmin);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->get_header_value("Retry-After"), "5");
  EXPECT_THAT(r->body, HasSubstr("all brokers are down; asking again is safe"));
  {
    absl::MutexLock lock(&mu);
    next_produce = absl::PermissionDeniedError("topic authorization failed");
  }
  r = post("/v1/customers/c3/erase", "", kAdmin);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  absl::MutexLock lock(&mu);
  EXPECT_EQ(produced.size(), 2u);
}

TEST_F(HttpServerTest, EraseWithoutAProducerIsNotImplemented) {
  constexpr char kAdmin[] = "adm1n-token";
  auto server = HttpServer::Unbound({.admin_token = kAdmin,
                                     .partitions = [this] { return views_; },
                                     .status = [this] { return status_; }});
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string answer = (*server)->Answer(absl::StrCat(
      "POST /v1/customers/c3/erase HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ", kAdmin,
      "\r\nContent-Length: 0\r\n\r\n"));
  EXPECT_THAT(answer, ::testing::StartsWith("HTTP/1.1 501"));
  EXPECT_THAT(answer, HasSubstr("use guanxi erase"));
}

TEST(HttpServerStartTest, TheAdminTokenMustDifferFromTheReadToken) {
  auto same =
      HttpServer::Start({.address = "127.0.0.1:0", .bearer_token = "t", .admin_token = "t"});
  EXPECT_EQ(same.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(same.status().message()), HasSubstr("--http-admin-token-file"));
}

TEST(HttpServerStartTest, ATokenFileWithWhatNoHeaderCarriesIsAnError) {
  TempDir dir;
  std::ofstream(dir.Sub("spaced")) << "two words\n";
  std::ofstream(dir.Sub("empty")) << " \n";
  std::ofstream(dir.Sub("good")) << "  tok-en_1.~\n";
  auto spaced = ReadTokenFile(dir.Sub("spaced"));
  EXPECT_EQ(spaced.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(spaced.status().message()), HasSubstr(dir.Sub("spaced")));
  EXPECT_EQ(ReadTokenFile(dir.Sub("empty")).status().code(), absl::StatusCode::kInvalidArgument);
  auto good = ReadTokenFile(dir.Sub("good"));
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(*good, "tok-en_1.~");
}

// A certificate authority and a server certificate for 127.0.0.1 it signed, made for the
// test with the openssl command (no key material lives in the repository).
class TestCertificates {
 public:
  TestCertificates() {
    const std::string script = absl::StrCat(
        "cd '", dir_.path(), "' && ",
        "( openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout ca.key -out ca.pem -days 2 -subj /CN=guanxi-test-ca && ",
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout server.key -out server.csr -subj /CN=127.0.0.1 && ",
        "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > server.ext && ",
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out server.pem -days 2 -extfile server.ext && ",
        "openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:prime256v1 -out other.key",
        " ) >openssl.log 2>&1");
    ok_ = std::system(script.c_str()) == 0;
  }
  bool ok() const { return ok_; }
  std::string Path(const std::string& name) const { return dir_.Sub(name); }

 private:
  testing::TempDir dir_;
  bool ok_ = false;
};

TEST_F(HttpServerTest, TlsServesAClientThatTrustsItsCaAndNoPlaintext) {
  TestCertificates certs;
  ASSERT_TRUE(certs.ok()) << "openssl failed: see " << certs.Path("openssl.log");
  auto server = HttpServer::Start({.address = "127.0.0.1:0",
                                   .bearer_token = kToken,
                                   .tls_cert_file = certs.Path("server.pem"),
                                   .tls_key_file = certs.Path("server.key"),
                                   .partitions = [this] { return views_; },
                                   .status = [this] { return status_; }});
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  httplib::SSLClient trusting("127.0.0.1", port);
  trusting.set_ca_cert_path(certs.Path("ca.pem").c_str());
  trusting.enable_server_certificate_verification(true);
  trusting.set_bearer_token_auth(kToken);
  auto customer = trusting.Get("/v1/customers/c3");
  ASSERT_TRUE(customer) << httplib::to_string(customer.error());
  EXPECT_EQ(customer->status, 200);
  EXPECT_THAT(customer->body, HasSubstr("\"customerId\":\"c3\""));
  // Plaintext HTTP on the same port gets no answer at all.
  httplib::Client plain("127.0.0.1", port);
  plain.set_bearer_token_auth(kToken);
  auto refused = plain.Get("/v1/customers/c3");
  EXPECT_FALSE(refused && refused->status == 200);
  RawConnection raw(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(raw.connected());
  EXPECT_THAT(raw.ReadAll(), Not(HasSubstr("ok")));
  // A client that does not trust the test CA refuses the server.
  httplib::SSLClient distrusting("127.0.0.1", port);
  distrusting.enable_server_certificate_verification(true);
  distrusting.set_ca_cert_path(certs.Path("server.pem").c_str());  // not a CA
  auto unverified = distrusting.Get("/healthz");
  ASSERT_FALSE(unverified);
  EXPECT_EQ(unverified.error(), httplib::Error::SSLServerVerification);
  // The server still serves the trusting client.
  auto health = trusting.Get("/healthz");
  ASSERT_TRUE(health) << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);
}

// With TLS, a read forwarded to the customer's owner goes over HTTPS, and only to an
// owner whose certificate chains to the CA given (tls_ca_file): one that does not (here:
// the system's CAs, which never signed the test's) is an owner that does not answer.
TEST_F(HttpServerTest, ForwardedReadsGoOverHttpsToAnOwnerTheCaVouchesFor) {
  TestCertificates certs;
  ASSERT_TRUE(certs.ok()) << "openssl failed: see " << certs.Path("openssl.log");
  status_.events_partitions = 2;
  std::string away = "a";  // a customer whose home is partition 1, held by none
  while (KeyPartition(away, 2) != 1) away += "+";
  const int owner_port = FreePort();
  const std::string owner = absl::StrCat("127.0.0.1:", owner_port);
  const auto start = [&](const std::string& address, int32_t partition,
                         const std::string& ca_file) {
    return HttpServer::Start(
        {.address = address,
         .bearer_token = kToken,
         .tls_cert_file = certs.Path("server.pem"),
         .tls_key_file = certs.Path("server.key"),
         .tls_ca_file = ca_file,
         .partitions = [this, partition] { return std::vector<PartitionView>{views_[partition]}; },
         .status = [this] { return status_; },
         .self = address,
         .owner_of = [&](int32_t) -> std::optional<std::string> { return owner; }});
  };
  auto owning = start(owner, 1, certs.Path("ca.pem"));
  ASSERT_TRUE(owning.ok()) << owning.status();
  const std::string asking = absl::StrCat("127.0.0.1:", FreePort());
  auto trusting = start(asking, 0, certs.Path("ca.pem"));
  ASSERT_TRUE(trusting.ok()) << trusting.status();
  const std::string other = absl::StrCat("127.0.0.1:", FreePort());
  auto system_cas = start(other, 0, "");
  ASSERT_TRUE(system_cas.ok()) << system_cas.status();
  const auto get = [&](int port) {
    httplib::SSLClient client("127.0.0.1", port);
    client.set_ca_cert_path(certs.Path("ca.pem").c_str());
    client.enable_server_certificate_verification(true);
    client.set_bearer_token_auth(kToken);
    return client.Get(absl::StrCat("/v1/customers/", away).c_str());
  };
  auto forwarded = get((*trusting)->port());
  ASSERT_TRUE(forwarded) << httplib::to_string(forwarded.error());
  EXPECT_EQ(forwarded->status, 404) << forwarded->body;  // the owner's own answer
  EXPECT_EQ(forwarded->get_header_value("X-Guanxi-Served-By"), owner);
  auto refused = get((*system_cas)->port());
  ASSERT_TRUE(refused) << httplib::to_string(refused.error());
  EXPECT_EQ(refused->status, 503);
  EXPECT_THAT(refused->body, HasSubstr(absl::StrCat("partition 1's owner ", owner,
                                                    " did not answer: SSLServerVerification")));
  // The CA file is checked at start, and only goes with TLS.
  auto bad_ca = start(absl::StrCat("127.0.0.1:", FreePort()), 0, certs.Path("server.key"));
  EXPECT_EQ(bad_ca.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad_ca.status().message()),
              HasSubstr(absl::StrCat("--http-tls-ca-file: ", certs.Path("server.key"),
                                     " cannot be read or holds no PEM certificate")));
  auto without_tls =
      HttpServer::Start({.address = "127.0.0.1:0", .tls_ca_file = certs.Path("ca.pem")});
  EXPECT_EQ(without_tls.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(without_tls.status().message()),
              HasSubstr("--http-tls-ca-file goes with --http-tls-cert-file"));
}

TEST(HttpServerStartTest, ACertificateOrKeyThatCannotServeIsAnErrorNamingFlagAndFile) {
  TestCertificates certs;
  ASSERT_TRUE(certs.ok()) << "openssl failed: see " << certs.Path("openssl.log");
  const std::string missing = certs.Path("missing.pem");
  struct Case {
    std::string cert, key, message;
  };
  const Case cases[] = {
      {missing, certs.Path("server.key"), "--http-tls-cert-file: cannot read " + missing},
      {certs.Path("server.pem"), missing, "--http-tls-key-file: cannot read " + missing},
      {certs.Path("server.key"), certs.Path("server.key"),
       "--http-tls-cert-file: " + certs.Path("server.key") + " holds no PEM certificate"},
      {certs.Path("server.pem"), certs.Path("server.pem"),
       "--http-tls-key-file: " + certs.Path("server.pem") + " holds no unencrypted PEM"},
      {certs.Path("server.pem"), certs.Path("other.key"),
       "--http-tls-key-file: " + certs.Path("other.key") +
           " is not the private key of the certificate in --http-tls-cert-file " +
           certs.Path("server.pem")},
      {certs.Path("server.pem"), "", "go together"},
      {"", certs.Path("server.key"), "go together"},
  };
  for (const Case& c : cases) {
    auto started = HttpServer::Start(
        {.address = "127.0.0.1:0", .tls_cert_file = c.cert, .tls_key_file = c.key});
    EXPECT_EQ(started.status().code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_THAT(std::string(started.status().message()), HasSubstr(c.message));
  }
}

// What cpp-httplib reads before any handler runs is bounded: a body beyond
// max_body_bytes is a 413, a request target beyond 8 KiB a 414, a header line beyond
// 8 KiB a 400, header fields beyond max_header_bytes (or 100 of them) a 431; each a JSON
// error, and the server goes on.
TEST_F(HttpServerTest, OversizedRequestsAreRefusedAndTheServerGoesOn) {
  auto body = client_->Post("/v1/customers", std::string(100 * 1024, 'x'), "text/plain");
  ASSERT_TRUE(body) << httplib::to_string(body.error());
  EXPECT_EQ(body->status, 413);
  ExpectJsonError(body->body, "a large body");
  auto target = Get(absl::StrCat("/v1/customers/", std::string(9000, 'x')));
  ASSERT_TRUE(target) << httplib::to_string(target.error());
  EXPECT_EQ(target->status, 414);
  ExpectJsonError(target->body, "a long target");
  httplib::Headers large = {{"X-A", std::string(7000, 'a')},
                            {"X-B", std::string(7000, 'b')},
                            {"X-C", std::string(7000, 'c')}};
  auto headers = client_->Get("/v1/customers/c3", large);
  ASSERT_TRUE(headers) << httplib::to_string(headers.error());
  EXPECT_EQ(headers->status, 431);
  EXPECT_THAT(headers->body, HasSubstr("header fields are too large"));
  auto line = client_->Get("/healthz", {{"X-Long", std::string(9000, 'l')}});
  ASSERT_TRUE(line) << httplib::to_string(line.error());
  EXPECT_EQ(line->status, 400);  // a header line beyond cpp-httplib's 8 KiB
  ExpectJsonError(line->body, "a long header line");
  httplib::Headers many;
  for (int i = 0; i < 150; ++i) many.emplace(absl::StrCat("X-", i), "1");
  auto fields = client_->Get("/healthz", many);
  ASSERT_TRUE(fields) << httplib::to_string(fields.error());
  EXPECT_EQ(fields->status, 431);
  ExpectJsonError(fields->body, "many fields");
  auto customer = Get("/v1/customers/c3");
  ASSERT_TRUE(customer);
  EXPECT_EQ(customer->status, 200);
  auto health = Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

// At most max_requests requests are answered at once: held inside the handler (a read
// forwarded to an owner that does not answer until released), two fill the server; a
// third gets 503 with Retry-After, the probes still answer, and once the two are done,
// reads are served again.
TEST_F(HttpServerTest, RequestsBeyondTheLimitGetAFiveHundredThreeAndProbesStillAnswer) {
  status_.events_partitions = 4;  // partitions 2 and 3 belong to another instance
  std::string away;  // a customer whose home partition is not owned here
  for (int i = 0; away.empty(); ++i) {
    if (KeyPartition(absl::StrCat("x", i), 4) >= 2) away = absl::StrCat("x", i);
  }
  absl::Mutex mu;
  int waiting = 0;
  bool released = false;
  auto server = HttpServer::Start({.address = "127.0.0.1:0",
                                   .partitions = [this] { return views_; },
                                   .status = [this] { return status_; },
                                   .max_requests = 2,
                                   .self = "127.0.0.1:1",
                                   .owner_of = [&](int32_t) -> std::optional<std::string> {
                                     absl::MutexLock lock(&mu);
                                     ++waiting;
                                     mu.Await(absl::Condition(&released));
                                     return std::nullopt;  // not known: 503
                                   }});
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  std::vector<std::thread> held;
  std::vector<int> held_status(2, 0);
  // However the test ends, the held requests are let go and joined before the server goes.
  const auto release = [&] {
    {
      absl::MutexLock lock(&mu);
      released = true;
    }
    for (std::thread& t : held) {
      if (t.joinable()) t.join();
    }
  };
  struct Finally {
    std::function<void()> run;
    ~Finally() { run(); }
  } finally{release};
  for (int i = 0; i < 2; ++i) {
    held.emplace_back([&, i] {
      httplib::Client client("127.0.0.1", port);
      client.set_read_timeout(60, 0);
      auto r = client.Get(absl::StrCat("/v1/customers/", away).c_str());
      held_status[static_cast<size_t>(i)] = r ? r->status : -1;
    });
  }
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](int* n) { return *n == 2; }, &waiting));
  }
  httplib::Client client("127.0.0.1", port);
  auto refused = client.Get("/v1/customers/c3");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->get_header_value("Retry-After"), "1");
  EXPECT_EQ(refused->body,
            "{\"error\":\"2 requests are being answered already; retry shortly\"}\n");
  for (const char* probe : {"/healthz", "/readyz"}) {
    auto r = client.Get(probe);
    ASSERT_TRUE(r) << probe;
    EXPECT_EQ(r->status, 200) << probe;
  }
  release();
  EXPECT_THAT(held_status, ElementsAre(503, 503));  // the owner was not known
  auto served = client.Get("/v1/customers/c3");
  ASSERT_TRUE(served);
  EXPECT_EQ(served->status, 200);
}

// An as-of storm: many clients asking for as-of trails at once, each a recomputation of
// a partition's log, while that partition's log is appended to and projected. One
// recomputation runs at a time, the others get 503 with Retry-After, and ingest goes on:
// every batch is appended and projected while the storm lasts.
TEST_F(HttpServerTest, AnAsOfStormIsRefusedBeyondItsLimitAndIngestGoesOn) {
  auto server = HttpServer::Start({.address = "127.0.0.1:0",
                                   .partitions = [this] { return views_; },
                                   .status = [this] { return status_; },
                                   .data_dir = dir_.path(),
                                   .config = config_,
                                   .max_as_of_trails = 1});
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  constexpr int kStormClients = 6;
  constexpr int kMaxRequestsEach = 2000;
  constexpr int kBatches = 100;
  constexpr int kPerBatch = 10;
  absl::Mutex mu;
  int ok = 0, refused = 0, other = 0, exhausted = 0;
  bool ingest_done = false;
  bool abandon = false;  // the test ended early: the storm stops
  std::vector<std::thread> storm;
  struct Finally {
    std::function<void()> run;
    ~Finally() { run(); }
  } finally{[&] {
    {
      absl::MutexLock lock(&mu);
      abandon = true;
    }
    for (std::thread& t : storm) {
      if (t.joinable()) t.join();
    }
  }};
  for (int i = 0; i < kStormClients; ++i) {
    storm.emplace_back([&] {
      httplib::Client client("127.0.0.1", port);
      client.set_read_timeout(120, 0);
      for (int n = 0; n < kMaxRequestsEach; ++n) {
        auto r = client.Get("/v1/customers/c2/trail?as_of=2030-01-01");
        absl::MutexLock lock(&mu);
        if (!r) {
          ++other;
        } else if (r->status == 200) {
          ++ok;
        } else if (r->status == 503 && r->get_header_value("Retry-After") == "10") {
          ++refused;
        } else {
          ++other;
        }
        // The storm lasts until ingest is done and it saw a recomputation answered.
        if ((ingest_done && ok > 0) || abandon) return;
      }
      absl::MutexLock lock(&mu);
      ++exhausted;
    });
  }
  // Ingest starts once the storm is refusing (or has given up), so it runs under it.
  std::pair<int*, int*> counts(&refused, &exhausted);
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](std::pair<int*, int*>* p) { return *p->first > 0 || *p->second == kStormClients; },
        &counts));
  }
  auto projector = PartitionProjector::Create(logs_[0].get(), stores_[0].get(),
                                              {.partition = 0, .config = config_});
  ASSERT_TRUE(projector.ok()) << projector.status();
  const std::atomic<bool> stop{false};
  const uint64_t before = logs_[0]->next_position();
  for (int b = 0; b < kBatches; ++b) {
    std::vector<v1::LogRecord> records;
    for (int e = 0; e < kPerBatch; ++e) {
      records.push_back(OrderRecord(absl::StrCat("storm-", b, "-", e), absl::StrCat("n", e),
                                    kStart + 500 * 86400 + b));
    }
    ASSERT_TRUE(logs_[0]->Append(absl::MakeSpan(records), {}).ok());
    ASSERT_TRUE((*projector)->CatchUp(logs_[0]->next_position(), stop).ok());
  }
  {
    absl::MutexLock lock(&mu);
    ingest_done = true;
  }
  for (std::thread& t : storm) t.join();  // on the storm's own terms
  // Every batch appended and projected.
  EXPECT_EQ(logs_[0]->next_position(), before + kBatches * kPerBatch);
  auto checkpoint = stores_[0]->ReadCheckpoint();
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_EQ(checkpoint->next_position(), logs_[0]->next_position());
  // The storm was refused beyond the one recomputation, and served within it.
  EXPECT_GT(refused, 0);
  EXPECT_GT(ok, 0);
  EXPECT_EQ(other, 0);
  EXPECT_EQ(exhausted, 0) << "the storm ended before ingest did, or no recomputation succeeded";
  // After the storm, an as-of trail sees what was ingested meanwhile.
  httplib::Client client("127.0.0.1", port);
  auto after = client.Get("/v1/customers/n3/trail?as_of=2030-01-01");
  ASSERT_TRUE(after);
  ASSERT_EQ(after->status, 200) << after->body;
  EXPECT_EQ(ParseTrail(after->body).state().events_applied(), static_cast<uint64_t>(kBatches));
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
