#include "engine/storage/data_dir.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "rocksdb/env.h"

namespace guanxi::engine {

std::string PartitionDir(const std::string& data_dir, int32_t partition) {
  return absl::StrCat(data_dir, "/partitions/", partition);
}

absl::StatusOr<std::vector<int32_t>> ListPartitions(const std::string& data_dir) {
  std::vector<int32_t> partitions;
  std::error_code ec;
  const std::filesystem::path root = std::filesystem::path(data_dir) / "partitions";
  for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    int32_t n = 0;
    auto [end, err] = std::from_chars(name.data(), name.data() + name.size(), n);
    if (err == std::errc() && end == name.data() + name.size() && n >= 0 && entry.is_directory()) {
      partitions.push_back(n);
    }
  }
  if (partitions.empty()) {
    return absl::NotFoundError(absl::StrCat("no partition stores under ", root.string(),
                                            ec ? absl::StrCat(" (", ec.message(), ")") : ""));
  }
  std::sort(partitions.begin(), partitions.end());
  return partitions;
}

absl::StatusOr<uint64_t> FreeBytes(const std::string& dir) {
  std::filesystem::path path = std::filesystem::absolute(dir);
  std::error_code ec;
  while (!std::filesystem::exists(path, ec) && path.has_parent_path() &&
         path != path.parent_path()) {
    path = path.parent_path();
  }
  uint64_t free_bytes = 0;
  const rocksdb::Status s = rocksdb::Env::Default()->GetFreeSpace(path.string(), &free_bytes);
  if (!s.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot tell the free space of ", path.string(), ": ", s.ToString()));
  }
  return free_bytes;
}

absl::Status CheckFreeSpace(const std::string& dir, uint64_t needed) {
  if (needed == 0) return absl::OkStatus();
  absl::StatusOr<uint64_t> free_bytes = FreeBytes(dir);
  if (!free_bytes.ok()) return free_bytes.status();
  if (*free_bytes >= needed) return absl::OkStatus();
  return absl::ResourceExhaustedError(FullDiskMessage(dir, *free_bytes, needed));
}

std::string FullDiskMessage(const std::string& dir, uint64_t free_bytes, uint64_t needed) {
  auto mib = [](uint64_t bytes) {
    return absl::StrFormat("%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  };
  if (needed == 0) {
    return absl::StrCat("the data directory ", dir, " is full (", mib(free_bytes),
                        " free): free space there, then restart");
  }
  return absl::StrCat("the data directory ", dir, " has ", mib(free_bytes),
                      " free; guanxi needs at least ", mib(needed),
                      " there to go on (room to flush the write buffers and for a compaction: "
                      "storage.min_free_bytes): free space there, then restart");
}

}  // namespace guanxi::engine
