// Helpers shared by the event log tests.
#pragma once

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "guanxi/v1/log.pb.h"

namespace guanxi::engine::testing {

// A fresh directory under the test temp dir, removed when the object goes away.
class TempDir {
 public:
  TempDir() {
    std::string pattern = std::filesystem::temp_directory_path() / "guanxi_log_XXXXXX";
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// An order event of `customer` at `seconds`, read from Kafka at `offset`.
inline guanxi::v1::LogRecord OrderRecord(const std::string& event_id, const std::string& customer,
                                         int64_t seconds, int64_t offset = 0,
                                         int32_t partition = 0) {
  guanxi::v1::LogRecord r;
  auto* e = r.mutable_event();
  e->set_event_id(event_id);
  e->set_customer_id(customer);
  e->mutable_occurred_at()->set_seconds(seconds);
  e->set_source("test");
  e->mutable_order()->set_order_id(event_id);
  e->mutable_order()->mutable_amount()->set_minor_units(100);
  r.mutable_source()->set_topic("guanxi.events");
  r.mutable_source()->set_partition(partition);
  r.mutable_source()->set_offset(offset);
  return r;
}

// The total size of the write-ahead log files in a store's directory (what its next open
// replays).
inline uintmax_t WalBytes(const std::string& dir) {
  uintmax_t bytes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".log") bytes += entry.file_size();
  }
  return bytes;
}

}  // namespace guanxi::engine::testing
