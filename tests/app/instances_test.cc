// Several instances answer as one (docs/api.md, "Several instances"): two `guanxi run`
// processes in one consumer group, each with --http and --advertise, each answering for
// every customer, forwarding to the owner what it does not own; when one stops, the
// other takes its partitions and answers for everyone itself. Built twice: on the
// embedded cluster (InstancesTest) and on a real Apache Kafka (GUANXI_APACHE_KAFKA,
// ctest label `kafka`).
#include <signal.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "guanxi/v1/events.pb.h"
#include "guanxi/v1/serving.pb.h"
#include "httplib.h"
#include "tests/app/spawn.h"
#include "tests/app/test_files.h"
#include "tests/app/test_cluster.h"
#include "tests/engine/event_log_test_util.h"
#include "tests/free_port.h"

namespace guanxi {
namespace {

using engine::testing::TempDir;
using testing::FreePort;
using testing::KafkaKind;
using testing::RunToEnd;
using testing::Spawn;
using testing::TestCluster;
using testing::Wait;

constexpr int kPartitions = 4;

struct Instance {
  std::string address;  // host:port, advertised
  std::string data, err;
  pid_t pid = 0;
  std::unique_ptr<httplib::Client> client;
};

// Its readiness, or nullopt while it does not answer.
std::optional<v1::Readiness> Ready(Instance& instance) {
  auto r = instance.client->Get("/readyz");
  if (!r) return std::nullopt;
  v1::Readiness readiness;
  if (!google::protobuf::util::JsonStringToMessage(r->body, &readiness).ok()) return std::nullopt;
  return readiness;
}

// Waits until every instance given is ready and together they own each partition once.
bool AllReadyOwningEachPartitionOnce(std::vector<Instance*> instances) {
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (absl::Now() < deadline) {
    std::multiset<int32_t> owned;
    bool ready = true;
    for (Instance* instance : instances) {
      auto readiness = Ready(*instance);
      ready = ready && readiness && readiness->ready();
      if (!readiness) continue;
      for (const auto& p : readiness->partitions()) owned.insert(p.partition());
    }
    if (ready && owned == std::multiset<int32_t>{0, 1, 2, 3}) return true;
    absl::SleepFor(absl::Milliseconds(100));  // polling other processes' state
  }
  return false;
}

struct Answer {
  int status = 0;
  std::string served_by;
  std::string body;
};

// GET `path`, asking again on a 503 (as Retry-After tells a client) for up to 60 s.
Answer GetPatiently(Instance& instance, const std::string& path) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  for (;;) {
    auto r = instance.client->Get(path);
    if (r && (r->status != 503 || absl::Now() > deadline)) {
      return {r->status, r->get_header_value("X-Guanxi-Served-By"), r->body};
    }
    if (!r && absl::Now() > deadline) return {};
    absl::SleepFor(absl::Milliseconds(100));
  }
}

class InstancesTest : public ::testing::TestWithParam<KafkaKind> {};

TEST_P(InstancesTest, EveryInstanceAnswersForEveryCustomerAndTheLastOneForAll) {
  auto cluster = TestCluster::Start(GetParam(), "InstancesTest", kPartitions);
  ASSERT_NE(cluster, nullptr);
  TempDir root;
  const std::string config = root.Sub("guanxi.conf");
  cluster->WriteConfig(config);

  const std::string events = root.Sub("events.jsonl");
  ASSERT_EQ(RunToEnd({"simulate", "--customers", "80", "--days", "200", "--seed", "11",
                      "--output", events}),
            0);
  ASSERT_EQ(RunToEnd({"connect", "jsonl", "--input", events, "--brokers", cluster->brokers(),
                      "--topic", cluster->kafka().events_topic(), "--config", config}),
            0);
  std::set<std::string> customers;
  for (const v1::Event& event : testing::ReadEventFile(events)) {
    customers.insert(event.customer_id());
  }
  ASSERT_EQ(customers.size(), 80u);

  Instance a, b;
  for (auto [instance, name] : {std::pair{&a, "a"}, std::pair{&b, "b"}}) {
    const int port = FreePort();
    instance->address = absl::StrCat("127.0.0.1:", port);
    instance->data = root.Sub(name);
    instance->err = root.Sub(absl::StrCat(name, ".err"));
    // --ready-lag 0: ready once every event is consumed and projected. With the default
    // (1000 messages) an instance owning ~630 of them was ready before it had read any,
    // and a read could find its customer not projected yet (a 404, seen once on Apache
    // Kafka).
    instance->pid = Spawn({"run", "--brokers", cluster->brokers(), "--data", instance->data,
                           "--config", config, "--http", instance->address, "--advertise",
                           instance->address, "--ready-lag", "0"},
                          "", instance->err);
    instance->client = std::make_unique<httplib::Client>("127.0.0.1", port);
  }
  absl::Cleanup stop = [&] {
    for (Instance* instance : {&a, &b}) {
      if (instance->pid == 0) continue;
      kill(instance->pid, SIGKILL);
      Wait(instance->pid);
    }
    if (!::testing::Test::HasFailure()) return;
    for (Instance* instance : {&a, &b}) testing::PrintFile(instance->address, instance->err);
  };
  ASSERT_TRUE(AllReadyOwningEachPartitionOnce({&a, &b}));

  // Each instance answers for every customer; the answer comes from the owner's store.
  std::map<std::string, int> forwarded;  // by the instance that forwarded
  for (const std::string& id : customers) {
    std::set<std::string> served_by;
    for (Instance* instance : {&a, &b}) {
      for (const std::string& path :
           {absl::StrCat("/v1/customers/", id), absl::StrCat("/v1/customers/", id, "/trail")}) {
        const Answer answer = GetPatiently(*instance, path);
        ASSERT_EQ(answer.status, 200) << path << " at " << instance->address << ": "
                                      << answer.body;
        EXPECT_NE(answer.body.find(absl::StrCat("\"customerId\":\"", id, "\"")),
                  std::string::npos)
            << answer.body;
        served_by.insert(answer.served_by);
        if (answer.served_by != instance->address) ++forwarded[instance->address];
      }
    }
    EXPECT_EQ(served_by.size(), 1u) << id << ": one owner answers";
  }
  EXPECT_GT(forwarded[a.address], 0);
  EXPECT_GT(forwarded[b.address], 0);
  std::printf("[ instances ] %zu customers found through both instances; %d reads forwarded "
              "by a, %d by b\n",
              customers.size(), forwarded[a.address], forwarded[b.address]);

  // b stops cleanly: a takes its partitions, and answers for everyone from its own store.
  kill(b.pid, SIGTERM);
  EXPECT_EQ(Wait(b.pid), 0);
  b.pid = 0;
  ASSERT_TRUE(AllReadyOwningEachPartitionOnce({&a}));
  for (const std::string& id : customers) {
    const Answer answer = GetPatiently(a, absl::StrCat("/v1/customers/", id));
    ASSERT_EQ(answer.status, 200) << id << ": " << answer.body;
    EXPECT_EQ(answer.served_by, a.address) << id;
  }
  kill(a.pid, SIGTERM);
  EXPECT_EQ(Wait(a.pid), 0);
  a.pid = 0;
}

#if defined(GUANXI_APACHE_KAFKA)
INSTANTIATE_TEST_SUITE_P(ApacheKafka, InstancesTest, ::testing::Values(KafkaKind::kApache),
                         [](const auto& param_info) { return testing::KindName(param_info.param); });
#else
INSTANTIATE_TEST_SUITE_P(Embedded, InstancesTest, ::testing::Values(KafkaKind::kEmbedded),
                         [](const auto& param_info) { return testing::KindName(param_info.param); });
#endif

}  // namespace
}  // namespace guanxi
