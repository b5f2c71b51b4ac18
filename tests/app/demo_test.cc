// `guanxi demo` end to end, in-process and short: it streams, projects, serves the web view
// at the address it prints, and (with --exit) ends by itself.
#include <sstream>

#include "app/commands.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace guanxi::app {
namespace {

using ::testing::HasSubstr;

TEST(DemoTest, StreamsProjectsAndEndsByItselfWithASummary) {
  const char* argv[] = {"guanxi", "demo",   "--duration", "8",     "--customers", "150",
                        "--days", "120",    "--http",     "127.0.0.1:0", "--exit"};
  std::ostringstream out, err;
  Io io{out, err};
  const int code = RootCommand().Main(11, argv, io);
  EXPECT_EQ(code, kExitOk) << err.str();
  EXPECT_THAT(out.str(), ::testing::ContainsRegex("web view: http://127\\.0\\.0\\.1:[1-9][0-9]*/"));
  EXPECT_THAT(out.str(), HasSubstr("lifecycle:"));
  EXPECT_THAT(out.str(), HasSubstr("most at risk"));
  EXPECT_THAT(out.str(), HasSubstr("summary: 150 simulated customers"));
  EXPECT_THAT(out.str(), ::testing::ContainsRegex("appended, [0-9]+ churn warnings; [1-9][0-9,]* customers projected"));
}

}  // namespace
}  // namespace guanxi::app
