// Linked into every harness: protobuf logs each string field with invalid UTF-8 it is
// asked to parse, which a fuzzer does thousands of times a second. The harnesses judge
// the results, not the log.
#include "google/protobuf/stubs/logging.h"

namespace {

const bool kQuiet = (google::protobuf::SetLogHandler(nullptr), true);

}  // namespace
