// Runs a `guanxi` command in this process (RootCommand().Main), its output captured, for
// the tests of the commands that need no child process.
#pragma once

#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "app/commands.h"

namespace guanxi::testing {

struct CommandRun {
  int code;
  std::string out, err;
};

// `guanxi args...`.
inline CommandRun RunGuanxi(std::vector<const char*> args) {
  args.insert(args.begin(), "guanxi");
  std::ostringstream out, err;
  app::Io io{out, err};
  const int code = app::RootCommand().Main(static_cast<int>(args.size()), args.data(), io);
  return {code, out.str(), err.str()};
}

// The same, with `--config config` added to the commands that read the projections'
// configuration (audit and export): the one a test's data was projected with.
inline CommandRun RunGuanxiWithConfig(std::vector<const char*> args, const std::string& config) {
  if (args.size() >= 2 && (std::string(args[0]) == "audit" || std::string(args[0]) == "export")) {
    args.push_back("--config");
    args.push_back(config.c_str());
  }
  return RunGuanxi(std::move(args));
}

}  // namespace guanxi::testing
