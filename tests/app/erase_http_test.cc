// POST /v1/customers/{id}/erase against a running `guanxi run` on the embedded cluster:
// the admin token asks, the erasure goes through the events topic to the customer's
// partition, the engine appends it, and the customer's state and trail lose their
// personal data while another customer keeps its own (docs/api.md, "Erasing a customer").
#include <signal.h>

#include <fstream>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "guanxi/v1/events.pb.h"
#include "httplib.h"
#include "tests/app/spawn.h"
#include "tests/app/test_cluster.h"
#include "tests/app/test_files.h"
#include "tests/engine/event_log_test_util.h"
#include "tests/free_port.h"

namespace guanxi {
namespace {

using engine::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::FreePort;
using testing::KafkaKind;
using testing::RunToEnd;
using testing::Spawn;
using testing::TestCluster;
using testing::Wait;

constexpr char kAcmeName[] = "Lf9Xd2Gs Ltd";
constexpr char kBetaName[] = "Mo Yk6Fh1Zv";  // beta is not erased: the control
constexpr char kAdmin[] = "adm1n-token";
constexpr char kRead[] = "r3ad-token";

// GET `path` with the read token until `done` holds for the answer's body (60 s at
// most: the engine is another process); the last body.
template <typename Done>
std::string GetUntil(httplib::Client& client, const std::string& path, Done done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  std::string body;
  for (;;) {
    auto r = client.Get(path, {{"Authorization", absl::StrCat("Bearer ", kRead)}});
    if (r) body = r->body;
    if ((r && r->status == 200 && done(body)) || absl::Now() > deadline) return body;
    absl::SleepFor(absl::Milliseconds(100));  // polling another process's state
  }
}

TEST(EraseOverHttpTest, TheAdminAsksAndTheRunningEngineErases) {
  auto cluster = TestCluster::Start(KafkaKind::kEmbedded, "EraseOverHttpTest", 2);
  ASSERT_NE(cluster, nullptr);
  TempDir root;
  const std::string config = root.Sub("guanxi.conf");
  cluster->WriteConfig(config);
  const std::string events = root.Sub("events.jsonl");
  std::ofstream(events)
      << R"({"eventId":"p1","customerId":"acme","occurredAt":"2026-11-02T10:00:00Z",)"
      << R"("source":"crm","profile":{"name":")" << kAcmeName << R"(","owner":"li"}})" << "\n"
      << R"({"eventId":"p2","customerId":"beta","occurredAt":"2026-11-02T11:00:00Z",)"
      << R"("source":"crm","profile":{"name":")" << kBetaName << R"(","owner":"li"}})" << "\n";
  ASSERT_EQ(RunToEnd({"connect", "jsonl", "--input", events, "--brokers", cluster->brokers(),
                      "--topic", cluster->kafka().events_topic(), "--config", config}),
            0);
  std::ofstream(root.Sub("read.token")) << kRead << "\n";
  std::ofstream(root.Sub("admin.token")) << kAdmin << "\n";

  const int port = FreePort();
  const std::string err = root.Sub("run.err");
  pid_t pid = Spawn({"run", "--brokers", cluster->brokers(), "--data", root.Sub("data"),
                     "--config", config, "--http", absl::StrCat("127.0.0.1:", port),
                     "--http-token-file", root.Sub("read.token"), "--http-admin-token-file",
                     root.Sub("admin.token")},
                    "", err);
  absl::Cleanup stop = [&] {
    if (pid != 0) {
      kill(pid, SIGKILL);
      Wait(pid);
    }
    if (::testing::Test::HasFailure()) testing::PrintFile("guanxi run", err);
  };
  httplib::Client client("127.0.0.1", port);
  for (const char* id : {"acme", "beta"}) {
    const std::string state = GetUntil(client, absl::StrCat("/v1/customers/", id),
                                       [](const std::string&) { return true; });
    ASSERT_THAT(state, HasSubstr(id == std::string("acme") ? kAcmeName : kBetaName));
  }

  // The read token may not; the admin token may.
  const auto post = [&](const char* token) {
    return client.Post("/v1/customers/acme/erase",
                       {{"Authorization", absl::StrCat("Bearer ", token)}},
                       R"({"reason":"GDPR art. 17 request 7","requestedBy":"dpo"})",
                       "application/json");
  };
  auto r = post(kRead);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  r = post(kAdmin);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  v1::Event erasure;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r->body, &erasure).ok()) << r->body;

  // The engine appends it: acme's state loses its name (its owner, not personal, stays);
  // beta keeps its own; the trail shows the erasure and not the name.
  const std::string acme = GetUntil(client, "/v1/customers/acme", [](const std::string& body) {
    return body.find(kAcmeName) == std::string::npos;
  });
  EXPECT_THAT(acme, Not(HasSubstr(kAcmeName)));
  EXPECT_THAT(acme, HasSubstr("\"owner\":\"li\""));
  EXPECT_THAT(GetUntil(client, "/v1/customers/beta", [](const std::string&) { return true; }),
              HasSubstr(kBetaName));
  const std::string trail = GetUntil(client, "/v1/customers/acme/trail",
                                     [](const std::string&) { return true; });
  EXPECT_THAT(trail, HasSubstr(erasure.event_id()));
  EXPECT_THAT(trail, HasSubstr("\"personalDataErased\":true"));
  EXPECT_THAT(trail, HasSubstr("GDPR art. 17 request 7"));
  EXPECT_THAT(trail, Not(HasSubstr(kAcmeName)));

  kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid), 0);
  pid = 0;
}

}  // namespace
}  // namespace guanxi
