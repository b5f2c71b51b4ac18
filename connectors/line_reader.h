// Reads a text input line by line: a plain or gzip'd file (detected from its bytes), or
// standard input for "-". Lines come without their terminator ('\n'), whole and as
// written: every byte up to the terminator, a NUL byte or invalid UTF-8 included (the
// parsers judge the line; one odd byte never merges two lines). A line longer than
// max_line_bytes is read to its end without being kept, so memory stays bounded whatever
// the input holds: it comes empty, and overlong_bytes() says how long it was.
//
//   ASSIGN_OR_RETURN(auto reader, LineReader::Open(path));
//   std::string line;
//   while (reader->Next(line)) ...;
//   RETURN_IF_ERROR(reader->status());
//
// Not thread-safe. The reader owns its file handle; it closes it when destroyed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace guanxi::connectors {

class LineReader {
 public:
  // 16 MiB: over any event a line could carry to the engine (kafka.max_event_bytes, 1 MiB
  // by default, must fit in a Kafka message).
  static constexpr size_t kMaxLineBytes = size_t{16} << 20;

  static absl::StatusOr<std::unique_ptr<LineReader>> Open(
      const std::string& path, size_t max_line_bytes = kMaxLineBytes);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The next line into `line`; false at the end of input or on a read error (then
  // status() says which).
  bool Next(std::string& line);
  // The length of the line Next gave last when it was over max_line_bytes (the line
  // itself then comes empty); 0 otherwise.
  int64_t overlong_bytes() const { return overlong_bytes_; }
  size_t max_line_bytes() const { return max_line_bytes_; }
  absl::Status status() const { return status_; }
  // Bytes consumed from the underlying file so far (compressed bytes for gzip), and the
  // file's size (0 when unknown, e.g. stdin): for progress bars.
  int64_t bytes_read() const;
  int64_t size_bytes() const { return size_bytes_; }

 private:
  LineReader(void* handle, std::string path, int64_t size_bytes, size_t max_line_bytes);

  void* handle_;  // a gzFile
  std::string path_;
  int64_t size_bytes_;
  size_t max_line_bytes_;
  int64_t overlong_bytes_ = 0;
  std::string buffer_;  // decompressed bytes; [begin_, end_) not yet returned
  size_t begin_ = 0;
  size_t end_ = 0;
  absl::Status status_;
};

}  // namespace guanxi::connectors
