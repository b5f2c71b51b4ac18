// guanxi against Apache Kafka's SASL_SSL listener (ctest label `kafka`): configured through
// the documented librdkafka properties in `kafka.properties`, `topics`, `connect` and
// `run` work; a wrong password or a CA that did not sign the brokers' certificates is an
// error naming the settings to check, within seconds, not a hang.
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/app/spawn.h"
#include "tests/app/test_cluster.h"
#include "tests/engine/event_log_test_util.h"

namespace guanxi {
namespace {

using engine::testing::TempDir;
using testing::RunToEnd;
using testing::TestCluster;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A configuration with this test's topics, logging in as `password` and trusting `ca`.
void WriteSaslConfig(const std::string& path, const std::string& password, const std::string& ca) {
  std::ofstream(path) << "kafka {\n"
                         "  group_id: \"security-test\"\n"
                         "  events_topic: \"security.events\"\n"
                         "  warnings_topic: \"security.churn-warnings\"\n"
                         "  changes_topic: \"security.relationship-changes\"\n"
                         "  dead_letters_topic: \"security.dead-letters\"\n"
                         "  properties { name: \"security.protocol\" value: \"SASL_SSL\" }\n"
                         "  properties { name: \"sasl.mechanisms\" value: \"PLAIN\" }\n"
                         "  properties { name: \"sasl.username\" value: \"guanxi\" }\n"
                         "  properties { name: \"sasl.password\" value: \""
                      << password << "\" }\n"
                      << "  properties { name: \"ssl.ca.location\" value: \"" << ca << "\" }\n"
                      << "}\n";
}

TEST(KafkaSecurityTest, SaslSslWorksAndAWrongPasswordOrAnUntrustedCaIsAClearErrorNotAHang) {
  TempDir root;
  const std::string brokers = TestCluster::SaslBrokers();
  const std::string good = root.Sub("good.conf"), bad_password = root.Sub("bad-password.conf"),
                    bad_ca = root.Sub("bad-ca.conf");
  WriteSaslConfig(good, "guanxi-secret", TestCluster::SaslCa());
  WriteSaslConfig(bad_password, "not-the-password", TestCluster::SaslCa());
  // A CA of its own, which signed nothing the brokers present.
  const std::string other_ca = root.Sub("other-ca.pem");
  ASSERT_EQ(std::system(absl::StrCat("openssl req -x509 -newkey rsa:2048 -nodes -days 1 "
                                     "-subj /CN=other -keyout '",
                                     root.Sub("other.key"), "' -out '", other_ca,
                                     "' 2>/dev/null")
                            .c_str()),
            0);
  WriteSaslConfig(bad_ca, "guanxi-secret", other_ca);

  // Everything works over SASL_SSL.
  ASSERT_EQ(RunToEnd({"topics", "--brokers", brokers, "--partitions", "3", "--replication-factor",
                      "3", "--config", good}),
            0);
  const std::string events = root.Sub("events.jsonl");
  ASSERT_EQ(RunToEnd({"simulate", "--customers", "30", "--days", "90", "--seed", "3", "--output",
                      events}),
            0);
  ASSERT_EQ(RunToEnd({"connect", "jsonl", "--input", events, "--brokers", brokers, "--topic",
                      "security.events", "--config", good}),
            0);
  const std::string summary = root.Sub("run.err");
  ASSERT_EQ(RunToEnd({"run", "--brokers", brokers, "--data", root.Sub("data"), "--config", good,
                      "--until-caught-up"},
                     "", summary),
            0)
      << Slurp(summary);
  int64_t lines = 0;
  std::ifstream in(events);
  for (std::string line; std::getline(in, line);) lines += line.empty() ? 0 : 1;
  EXPECT_NE(Slurp(summary).find(absl::StrCat(lines, " appended")), std::string::npos)
      << Slurp(summary);

  // A wrong password: every command says which settings to check, at once.
  struct Case {
    std::string what, config, names;
    std::vector<std::string> args;
  };
  const std::vector<Case> cases = {
      {"topics, wrong password", bad_password, "sasl.password",
       {"topics", "--brokers", brokers, "--config", bad_password}},
      {"connect, wrong password", bad_password, "sasl.password",
       {"connect", "jsonl", "--input", events, "--brokers", brokers, "--topic", "security.events",
        "--config", bad_password}},
      {"run, wrong password", bad_password, "sasl.password",
       {"run", "--brokers", brokers, "--data", root.Sub("data-bad"), "--config", bad_password}},
      {"topics, untrusted CA", bad_ca, "ssl.ca.location",
       {"topics", "--brokers", brokers, "--config", bad_ca}},
      {"run, untrusted CA", bad_ca, "ssl.ca.location",
       {"run", "--brokers", brokers, "--data", root.Sub("data-ca"), "--config", bad_ca}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string err = root.Sub("case.err");
    const absl::Time start = absl::Now();
    EXPECT_EQ(RunToEnd(c.args, "", err), 1);
    const absl::Duration took = absl::Now() - start;
    EXPECT_NE(Slurp(err).find(c.names), std::string::npos) << Slurp(err);
    // Not a hang: well inside the 30 s a timeout would take.
    EXPECT_LT(took, absl::Seconds(20)) << Slurp(err);
    std::printf("[ security ] %s: exit 1 after %s\n", c.what.c_str(),
                absl::FormatDuration(took).c_str());
  }
}

}  // namespace
}  // namespace guanxi
