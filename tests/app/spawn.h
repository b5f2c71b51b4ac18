// Runs the `guanxi` binary under test as a child process (GUANXI_BINARY).
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"

extern char** environ;

namespace guanxi::testing {

// Starts `guanxi args...`; with `stdout_path` (`stderr_path`), its standard output
// (error) goes to that file.
inline pid_t Spawn(std::vector<std::string> args, const std::string& stdout_path = "",
                   const std::string& stderr_path = "") {
  std::vector<char*> argv;
  std::string binary = GUANXI_BINARY;
  argv.push_back(binary.data());
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!stdout_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, 1, stdout_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  if (!stderr_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

// Waits for the child; its exit code, or -1 when a signal ended it.
inline int Wait(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Runs `guanxi args...` to its end; its exit code.
inline int RunToEnd(std::vector<std::string> args, const std::string& stdout_path = "",
                    const std::string& stderr_path = "") {
  return Wait(Spawn(std::move(args), stdout_path, stderr_path));
}

}  // namespace guanxi::testing
