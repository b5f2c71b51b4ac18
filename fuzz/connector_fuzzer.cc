// Each connector's record parser (connectors/connector.h), driven as `guanxi connect
// SOURCE --input FILE --output FILE` drives it: the input is a file's bytes, read by
// LineReader (plain or gzip, detected from the bytes), parsed by the source's parser and
// written as JSON lines by JsonlPublisher through RunConnector (connectors/run.h).
// One executable per source: fuzz/CMakeLists.txt builds this file with the harness file
// of each (connector_<source>_fuzzer.cc), which names the parser.
#include "fuzz/connector_fuzzer.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "connectors/line_reader.h"
#include "connectors/run.h"

namespace guanxi::fuzz {

int FuzzConnector(const uint8_t* data, size_t size,
                  std::unique_ptr<connectors::LineParser> (*make_parser)()) {
  // LineReader reads a path: the input goes to a file of this process's own, in memory
  // where /dev/shm exists.
  static const std::string path = [] {
    const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    return std::string(dir) + "/guanxi-fuzz-connector-" + std::to_string(getpid());
  }();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) __builtin_trap();
  }
  auto reader = connectors::LineReader::Open(path);
  if (!reader.ok()) __builtin_trap();
  std::unique_ptr<connectors::LineParser> parser = make_parser();
  std::ostringstream events;
  connectors::JsonlPublisher publisher(events);
  connectors::ConnectOptions options;
  options.since.emplace().set_seconds(0);  // the event-time filter is read too
  auto summary = connectors::RunConnector(**reader, *parser, publisher, options, {});
  // A read error (a damaged gzip stream) is the only error: bad rows are counted.
  if (!summary.ok() && summary.status().code() != absl::StatusCode::kDataLoss) __builtin_trap();
  return 0;
}

}  // namespace guanxi::fuzz
