// `guanxi broker` as a separate process: other processes reach it over TCP, and it
// stops cleanly on SIGTERM.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "engine/kafka/kafka.h"
#include "gtest/gtest.h"

extern char** environ;

namespace guanxi::app {
namespace {

TEST(BrokerProcessTest, ServesTopicsOverTcpAndStopsOnSigterm) {
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  std::string binary = GUANXI_BINARY;
  char broker[] = "broker", partitions[] = "--partitions", two[] = "2";
  char* argv[] = {binary.data(), broker, partitions, two, nullptr};
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv, environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);

  // The first line on stdout is the bootstrap address, printed once the topics exist.
  std::string bootstrap;
  char c;
  while (read(out[0], &c, 1) == 1 && c != '\n') bootstrap.push_back(c);
  ASSERT_FALSE(bootstrap.empty());

  int delivered = 0;
  auto producer = engine::Producer::Create(bootstrap, {}, [&](const engine::Producer::Delivery& d) {
    EXPECT_TRUE(d.status.ok()) << d.status;
    ++delivered;
  });
  ASSERT_TRUE(producer.ok()) << producer.status();
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE((*producer)->Produce("guanxi.events", "c" + std::to_string(i), "v", 0).ok());
  }
  ASSERT_TRUE((*producer)->Produce("guanxi.dead-letters", "k", "v", 0).ok());
  EXPECT_EQ((*producer)->Flush(absl::Seconds(30)), 0);
  EXPECT_EQ(delivered, 101);
  producer->reset();

  kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  close(out[0]);
}

}  // namespace
}  // namespace guanxi::app
