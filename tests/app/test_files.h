// Files the processes under test write or read, for the tests that spawn them: a JSONL
// file of events (`guanxi simulate --output`, `guanxi connect --output`), and a
// process's report.
#pragma once

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "guanxi/v1/events.pb.h"

namespace guanxi::testing {

// The events of a JSONL file of events, in file order (a line that does not parse is a
// test failure).
inline std::vector<v1::Event> ReadEventFile(const std::string& path) {
  std::vector<v1::Event> events;
  std::ifstream in(path);
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    EXPECT_TRUE(
        google::protobuf::util::JsonStringToMessage(line, &events.emplace_back(), options).ok())
        << line;
  }
  return events;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Prints a file another process wrote (its report), for a failure's output.
inline void PrintFile(const std::string& title, const std::string& path) {
  std::printf("----- %s (%s)\n%s", title.c_str(), path.c_str(), ReadFile(path).c_str());
}

}  // namespace guanxi::testing
