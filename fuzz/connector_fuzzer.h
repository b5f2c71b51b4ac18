// What every connector harness does (connector_fuzzer.cc): one input file through
// RunConnector with the given source's parser.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "connectors/connector.h"

namespace guanxi::fuzz {

int FuzzConnector(const uint8_t* data, size_t size,
                  std::unique_ptr<connectors::LineParser> (*make_parser)());

}  // namespace guanxi::fuzz
