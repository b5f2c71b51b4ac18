#include "engine/storage/data_dir.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"

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

}  // namespace guanxi::engine
