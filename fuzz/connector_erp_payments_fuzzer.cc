// The erp-payments connector's parser, from a file's bytes (connector_fuzzer.cc).
#include "fuzz/connector_fuzzer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return guanxi::fuzz::FuzzConnector(data, size, guanxi::connectors::NewErpPaymentsParser);
}
