// Reads a text input line by line: a plain or gzip'd file (detected from its bytes), or
// standard input for "-". Lines come without their terminator ('\n'), whole and as
// written: every byte up to the terminator, a NUL byte or invalid UTF-8 included (the
// parsers judge the line; one odd byte never merges two lines).
//
//   ASSIGN_OR_RETURN(auto reader, LineReader::Open(path));
//   std::string line;
//   while (reader->Next(line)) ...;
//   RETURN_IF_ERROR(reader->status());
//
// Not thread-safe. The reader owns its file handle; it closes it when destroyed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace guanxi::connectors {

class LineReader {
 public:
  static absl::StatusOr<std::unique_ptr<LineReader>> Open(const std::string& path);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The next line into `line`; false at the end of input or on a read error (then
  // status() says which).
  bool Next(std::string& line);
  absl::Status status() const { return status_; }
  // Bytes consumed from the underlying file so far (compressed bytes for gzip), and the
  // file's size (0 when unknown, e.g. stdin): for progress bars.
  int64_t bytes_read() const;
  int64_t size_bytes() const { return size_bytes_; }

 private:
  LineReader(void* handle, std::string path, int64_t size_bytes);

  void* handle_;  // a gzFile
  std::string path_;
  int64_t size_bytes_;
  std::string buffer_;  // decompressed bytes; [begin_, end_) not yet returned
  size_t begin_ = 0;
  size_t end_ = 0;
  absl::Status status_;
};

}  // namespace guanxi::connectors
