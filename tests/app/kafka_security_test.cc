// guanxi against Apache Kafka's SASL_SSL listener (ctest label `kafka`), logging in with
// SCRAM-SHA-512 and with PLAIN: configured through the documented librdkafka properties in
// `kafka.properties`, `topics`, `connect` and `run` work; a wrong password or a CA that did
// not sign the brokers' certificates is an error naming the settings to check, within
// seconds, not a hang.
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

// The topics and group of one mechanism's run: `security-<mechanism>.`.
std::string Prefix(const std::string& mechanism) { return absl::StrCat("security-", mechanism, "."); }

// A configuration with this run's topics, logging in with `mechanism` as `password` and
// trusting `ca`.
void WriteSaslConfig(const std::string& path, const std::string& mechanism,
                     const std::string& password, const std::string& ca) {
  const std::string prefix = Prefix(mechanism);
  std::ofstream(path) << "kafka {\n"
                      << "  group_id: \"" << prefix << "engine\"\n"
                      << "  events_topic: \"" << prefix << "events\"\n"
                      << "  warnings_topic: \"" << prefix << "churn-warnings\"\n"
                      << "  changes_topic: \"" << prefix << "relationship-changes\"\n"
                      << "  dead_letters_topic: \"" << prefix << "dead-letters\"\n"
                      << "  instances_topic: \"" << prefix << "instances\"\n"
                      << "  properties { name: \"security.protocol\" value: \"SASL_SSL\" }\n"
                      << "  properties { name: \"sasl.mechanisms\" value: \"" << mechanism
                      << "\" }\n"
                      << "  properties { name: \"sasl.username\" value: \"guanxi\" }\n"
                      << "  properties { name: \"sasl.password\" value: \"" << password
                      << "\" }\n"
                      << "  properties { name: \"ssl.ca.location\" value: \"" << ca << "\" }\n"
                      << "}\n";
}

// SCRAM-SHA-512 is what a production cluster would use (the password never crosses the
// wire); PLAIN over TLS is what many managed clusters offer.
class KafkaSecurityTest : public ::testing::TestWithParam<std::string> {};

TEST_P(KafkaSecurityTest, SaslSslWorksAndAWrongPasswordOrAnUntrustedCaIsAClearErrorNotAHang) {
  const std::string mechanism = GetParam();
  const std::string events_topic = Prefix(mechanism) + "events";
  TempDir root;
  const std::string brokers = TestCluster::SaslBrokers();
  const std::string good = root.Sub("good.conf"), bad_password = root.Sub("bad-password.conf"),
                    bad_ca = root.Sub("bad-ca.conf");
  WriteSaslConfig(good, mechanism, "guanxi-secret", TestCluster::SaslCa());
  WriteSaslConfig(bad_password, mechanism, "not-the-password", TestCluster::SaslCa());
  // A CA of its own, which signed nothing the brokers present.
  const std::string other_ca = root.Sub("other-ca.pem");
  ASSERT_EQ(std::system(absl::StrCat("openssl req -x509 -newkey rsa:2048 -nodes -days 1 "
                                     "-subj /CN=other -keyout '",
                                     root.Sub("other.key"), "' -out '", other_ca,
                                     "' 2>/dev/null")
                            .c_str()),
            0);
  WriteSaslConfig(bad_ca, mechanism, "guanxi-secret", other_ca);

  // Everything works over SASL_SSL.
  ASSERT_EQ(RunToEnd({"topics", "--brokers", brokers, "--partitions", "3", "--replication-factor",
                      "3", "--config", good}),
            0);
  const std::string events = root.Sub("events.jsonl");
  ASSERT_EQ(RunToEnd({"simulate", "--customers", "30", "--days", "90", "--seed", "3", "--output",
                      events}),
            0);
  ASSERT_EQ(RunToEnd({"connect", "jsonl", "--input", events, "--brokers", brokers, "--topic",
                      events_topic, "--config", good}),
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
       {"connect", "jsonl", "--input", events, "--brokers", brokers, "--topic", events_topic,
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
    std::printf("[ security ] %s, %s: exit 1 after %s\n", mechanism.c_str(), c.what.c_str(),
                absl::FormatDuration(took).c_str());
  }
}

INSTANTIATE_TEST_SUITE_P(Mechanisms, KafkaSecurityTest,
                         ::testing::Values("SCRAM-SHA-512", "PLAIN"),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string name = p.param;
                           std::erase(name, '-');
                           return name;
                         });

}  // namespace
}  // namespace guanxi
