#include "engine/partition/snapshot_shelf.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"

namespace guanxi::engine {
namespace fs = std::filesystem;

namespace {

absl::Status FileError(const std::string& what, const std::error_code& error) {
  return absl::InternalError(absl::StrCat(what, ": ", error.message()));
}

// A name no other writer uses at the same time: hidden until renamed.
std::string HiddenName(const std::string& dir, const char* purpose) {
  return absl::StrCat(dir, "/.", purpose, "-", getpid(), "-", absl::ToUnixNanos(absl::Now()));
}

}  // namespace

SnapshotShelf::SnapshotShelf(std::string root, int keep) : root_(std::move(root)), keep_(keep) {}

std::string SnapshotShelf::PartitionShelf(int32_t partition) const {
  return absl::StrCat(root_, "/partition-", partition);
}

std::string SnapshotShelf::SnapshotDir(int32_t partition, int64_t offset) const {
  return absl::StrCat(PartitionShelf(partition), "/", absl::StrFormat("%020d", offset));
}

std::vector<int64_t> SnapshotShelf::Offsets(int32_t partition) const {
  std::vector<int64_t> offsets;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(PartitionShelf(partition), error)) {
    int64_t offset = 0;
    const std::string name = entry.path().filename().string();
    // Hidden names are snapshots being written, or left by a writer that died.
    if (name.empty() || name[0] == '.' || !absl::SimpleAtoi(name, &offset)) continue;
    offsets.push_back(offset);
  }
  std::sort(offsets.begin(), offsets.end());
  return offsets;
}

absl::StatusOr<bool> SnapshotShelf::Take(const EventLog& log, int32_t partition, int64_t offset) {
  absl::StatusOr<bool> taken = TryTake(log, partition, offset);
  if (!taken.ok()) {
    ++failed_;
  } else if (*taken) {
    ++taken_;
  }
  return taken;
}

absl::StatusOr<bool> SnapshotShelf::TryTake(const EventLog& log, int32_t partition,
                                            int64_t offset) {
  const std::string shelf = PartitionShelf(partition);
  std::vector<int64_t> offsets = Offsets(partition);
  if (!offsets.empty() && offsets.back() == offset) return false;
  std::error_code error;
  fs::create_directories(shelf, error);
  if (error) return FileError(absl::StrCat("creating ", shelf), error);
  const std::string hidden = HiddenName(shelf, "taking");
  if (absl::Status s = log.Checkpoint(hidden); !s.ok()) {
    fs::remove_all(hidden, error);
    return s;
  }
  const std::string name = SnapshotDir(partition, offset);
  fs::rename(hidden, name, error);
  if (error) {
    // Another instance put the same offset there first (the same content), or the
    // shelf failed: either way this copy is not needed.
    const bool there = fs::exists(name);
    std::error_code ignored;
    fs::remove_all(hidden, ignored);
    if (!there) return FileError(absl::StrCat("renaming a snapshot to ", name), error);
  }
  offsets = Offsets(partition);
  for (size_t i = 0; i + static_cast<size_t>(keep_) < offsets.size(); ++i) {
    fs::remove_all(SnapshotDir(partition, offsets[i]), error);
  }
  return true;
}

absl::StatusOr<std::optional<int64_t>> SnapshotShelf::Restore(int32_t partition,
                                                            const std::string& dir) {
  const std::vector<int64_t> offsets = Offsets(partition);
  if (offsets.empty()) return std::nullopt;
  const std::string parent = fs::path(dir).parent_path().string();
  std::error_code error;
  fs::create_directories(parent, error);
  if (error) return FileError(absl::StrCat("creating ", parent), error);
  absl::Status last;
  for (auto offset = offsets.rbegin(); offset != offsets.rend(); ++offset) {
    const std::string snapshot = SnapshotDir(partition, *offset);
    // Copied under a hidden name and renamed: a crash mid-copy leaves no half store
    // where the engine would open it.
    const std::string hidden = HiddenName(parent, "restoring");
    fs::copy(snapshot, hidden, fs::copy_options::recursive, error);
    if (!error) fs::rename(hidden, dir, error);
    if (!error) {
      ++restored_;
      return *offset;
    }
    std::error_code ignored;
    fs::remove_all(hidden, ignored);
    last = FileError(absl::StrCat("restoring ", dir, " from the snapshot ", snapshot), error);
  }
  return last;
}

}  // namespace guanxi::engine
