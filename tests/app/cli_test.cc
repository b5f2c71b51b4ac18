#include "app/cli.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "app/commands.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace guanxi::app {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct CommandRun {
  int code;
  std::string out;
  std::string err;
};

CommandRun RunCommand(const Command& root, std::vector<const char*> argv) {
  argv.insert(argv.begin(), "guanxi");
  std::ostringstream out, err;
  Io io{out, err};
  const int code = root.Main(static_cast<int>(argv.size()), argv.data(), io);
  return {code, out.str(), err.str()};
}

// A small tree shaped like the real one, with a body that echoes what it parsed.
Command TestTree() {
  Command root{.name = "guanxi", .summary = "test root"};
  Command group{.name = "audit", .summary = "audit things"};
  group.Add({.name = "trail",
             .summary = "show a trail",
             .positional_usage = "CUSTOMER",
             .min_positional = 1,
             .max_positional = 1,
             .flags = {{.name = "data", .value_name = "DIR", .help = "data dir", .required = true},
                       {.name = "limit", .value_name = "N", .help = "max", .default_value = "10"},
                       {.name = "json", .help = "JSON output"}},
             .run = [](const Args& args, Io& io) {
               auto limit = args.GetInt("limit", 1, 1000);
               if (!limit.ok()) return ReportUsageError(io, limit.status());
               io.out << args.positional()[0] << " " << args.Get("data") << " " << *limit << " "
                      << (args.IsSet("json") ? "json" : "text");
               return kExitOk;
             }});
  root.Add(std::move(group));
  return root;
}

TEST(CliTest, RunsNestedCommandWithFlagsInBothForms) {
  CommandRun r =
      RunCommand(TestTree(), {"audit", "trail", "c1", "--data", "/d", "--limit=5", "--json"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "c1 /d 5 json");
  EXPECT_THAT(r.err, IsEmpty());
}

TEST(CliTest, DefaultApplies) {
  CommandRun r = RunCommand(TestTree(), {"audit", "trail", "--data", "/d", "c1"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "c1 /d 10 text");
}

TEST(CliTest, UnknownFlagIsUsageErrorNamingIt) {
  CommandRun r = RunCommand(TestTree(), {"audit", "trail", "c1", "--data", "/d", "--bogus", "1"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("unknown flag '--bogus'"));
  EXPECT_THAT(r.err, HasSubstr("usage: guanxi audit trail"));
}

TEST(CliTest, UnknownSingleDashFlagIsUsageError) {
  CommandRun r = RunCommand(TestTree(), {"audit", "trail", "c1", "--data", "/d", "-x"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("unknown flag '-x'"));
}

TEST(CliTest, MissingRequiredFlagIsUsageError) {
  CommandRun r = RunCommand(TestTree(), {"audit", "trail", "c1"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--data is required"));
}

TEST(CliTest, MissingValueIsUsageError) {
  CommandRun r = RunCommand(TestTree(), {"audit", "trail", "c1", "--data"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--data needs a value"));
}

TEST(CliTest, BadValueIsUsageErrorNamingFlag) {
  CommandRun r = RunCommand(TestTree(), {"audit", "trail", "c1", "--data", "/d", "--limit", "ten"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--limit: 'ten' is not a whole number"));
  r = RunCommand(TestTree(), {"audit", "trail", "c1", "--data", "/d", "--limit", "0"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--limit: 0 is outside [1, 1000]"));
}

TEST(CliTest, BooleanFlagRejectsValue) {
  CommandRun r = RunCommand(TestTree(), {"audit", "trail", "c1", "--data", "/d", "--json=yes"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--json takes no value"));
}

TEST(CliTest, RepeatedFlagIsUsageError) {
  CommandRun r = RunCommand(TestTree(), {"audit", "trail", "c1", "--data", "/a", "--data", "/b"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--data given twice"));
}

TEST(CliTest, PositionalCountsAreChecked) {
  CommandRun r = RunCommand(TestTree(), {"audit", "trail", "--data", "/d"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("missing CUSTOMER"));
  r = RunCommand(TestTree(), {"audit", "trail", "--data", "/d", "a", "b"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("unexpected argument 'b'"));
}

TEST(CliTest, UnknownCommandIsUsageError) {
  CommandRun r = RunCommand(TestTree(), {"frobnicate"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("unknown command 'frobnicate'"));
}

TEST(CliTest, NoCommandPrintsHelpToStderrAndFails) {
  CommandRun r = RunCommand(TestTree(), {});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("audit"));
}

TEST(CliTest, HelpAtEveryLevelSucceeds) {
  CommandRun r = RunCommand(TestTree(), {"--help"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_THAT(r.out, HasSubstr("audit  audit things"));
  r = RunCommand(TestTree(), {"audit", "--help"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_THAT(r.out, HasSubstr("trail"));
  // --help wins over otherwise-bad arguments, so users can always ask.
  r = RunCommand(TestTree(), {"audit", "trail", "--bogus", "--help"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_THAT(r.out, HasSubstr("--data DIR"));
  EXPECT_THAT(r.out, HasSubstr("(default: 10)"));
}

TEST(CliTest, DoubleDashEndsFlags) {
  CommandRun r = RunCommand(TestTree(), {"audit", "trail", "--data", "/d", "--", "--odd-id"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "--odd-id /d 10 text");
}

TEST(RootCommandTest, ListsSubcommandsAndEachHasHelp) {
  CommandRun r = RunCommand(RootCommand(), {"--help"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_THAT(r.out, HasSubstr("audit"));
  EXPECT_THAT(r.out, HasSubstr("broker"));
  EXPECT_THAT(r.out, HasSubstr("connect"));
  EXPECT_THAT(r.out, HasSubstr("simulate"));
  for (std::vector<const char*> path : std::vector<std::vector<const char*>>{
           {"audit"}, {"audit", "verify"}, {"broker"}, {"connect"}, {"simulate"}}) {
    path.push_back("--help");
    CommandRun h = RunCommand(RootCommand(), path);
    EXPECT_EQ(h.code, kExitOk) << path[0];
    EXPECT_THAT(h.out, HasSubstr("usage: guanxi"));
  }
}

// An HTTP API that cannot be served as asked stops `guanxi run` before the engine starts
// (exit 2, nothing written to the data directory), naming the flag and the file.
TEST(RunCommandTest, AnUnusableHttpTokenOrCertificateFlagStopsItBeforeTheEngineStarts) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("guanxi_cli_test_run_http_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string data = (dir / "data").string();
  const std::string missing = (dir / "missing").string();
  const std::string token = (dir / "token").string();
  const std::string not_pem = (dir / "not.pem").string();
  std::ofstream(token) << "t0ken\n";
  std::ofstream(not_pem) << "not a certificate\n";
  struct Case {
    std::vector<const char*> flags;
    std::string message;
  };
  const Case cases[] = {
      {{"--http-token-file", missing.c_str()},
       "--http-token-file: cannot read the token file " + missing},
      {{"--http-admin-token-file", missing.c_str()},
       "--http-admin-token-file: cannot read the token file " + missing},
      {{"--http-token-file", token.c_str(), "--http-admin-token-file", token.c_str()},
       "--http-admin-token-file: the admin token is the read token"},
      {{"--http-tls-cert-file", missing.c_str(), "--http-tls-key-file", not_pem.c_str()},
       "--http-tls-cert-file: cannot read " + missing},
      {{"--http-tls-cert-file", not_pem.c_str(), "--http-tls-key-file", not_pem.c_str()},
       "--http-tls-cert-file: " + not_pem + " holds no PEM certificate chain"},
      {{"--http-tls-cert-file", not_pem.c_str()}, "go together"},
      {{"--http-tls-ca-file", not_pem.c_str()},
       "--http-tls-ca-file goes with --http-tls-cert-file"},
  };
  for (const Case& c : cases) {
    std::vector<const char*> argv = {"run",    "--data", data.c_str(), "--brokers",
                                     "127.0.0.1:1", "--http", "127.0.0.1:0"};
    argv.insert(argv.end(), c.flags.begin(), c.flags.end());
    CommandRun r = RunCommand(RootCommand(), argv);
    EXPECT_EQ(r.code, kExitUsage) << c.message << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.message));
    EXPECT_FALSE(std::filesystem::exists(data)) << c.message;
  }
  // Without --http, each of them is a usage error too.
  CommandRun r = RunCommand(RootCommand(), {"run", "--data", data.c_str(), "--brokers",
                                            "127.0.0.1:1", "--http-tls-cert-file", "x"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--http-tls-cert-file goes with --http"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace guanxi::app
