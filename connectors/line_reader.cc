#include "connectors/line_reader.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace guanxi::connectors {

absl::StatusOr<std::unique_ptr<LineReader>> LineReader::Open(const std::string& path,
                                                             size_t max_line_bytes) {
  gzFile file = path == "-" ? gzdopen(dup(STDIN_FILENO), "rb") : gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  gzbuffer(file, 1 << 17);
  int64_t size = 0;
  struct stat st;
  if (path != "-" && stat(path.c_str(), &st) == 0) size = st.st_size;
  return std::unique_ptr<LineReader>(new LineReader(file, path, size, max_line_bytes));
}

LineReader::LineReader(void* handle, std::string path, int64_t size_bytes,
                       size_t max_line_bytes)
    : handle_(handle),
      path_(std::move(path)),
      size_bytes_(size_bytes),
      max_line_bytes_(max_line_bytes) {
  buffer_.resize(1 << 16);
}

LineReader::~LineReader() { gzclose(static_cast<gzFile>(handle_)); }

bool LineReader::Next(std::string& line) {
  auto* file = static_cast<gzFile>(handle_);
  line.clear();
  overlong_bytes_ = 0;
  size_t length = 0;  // the line's bytes so far, kept or not
  const auto end_of_line = [&] {
    if (length > max_line_bytes_) {
      line.clear();
      overlong_bytes_ = static_cast<int64_t>(length);
    }
    return true;
  };
  while (true) {
    if (begin_ < end_) {
      // By length, not as a C string: a NUL byte is data like any other.
      const char* start = buffer_.data() + begin_;
      const auto* newline = static_cast<const char*>(std::memchr(start, '\n', end_ - begin_));
      const size_t n = newline == nullptr ? end_ - begin_ : static_cast<size_t>(newline - start);
      length += n;
      if (length <= max_line_bytes_) line.append(start, n);
      begin_ += n;
      if (newline != nullptr) {
        ++begin_;
        return end_of_line();
      }
    }
    const int n = gzread(file, buffer_.data(), static_cast<unsigned>(buffer_.size()));
    if (n <= 0) {
      int code = 0;
      const char* message = gzerror(file, &code);
      if (n < 0 || (code != Z_OK && code != Z_BUF_ERROR)) {
        status_ = absl::DataLossError(absl::StrCat("reading ", path_, ": ", message));
        return false;
      }
      return length > 0 && end_of_line();  // a last line without '\n'
    }
    begin_ = 0;
    end_ = static_cast<size_t>(n);
  }
}

int64_t LineReader::bytes_read() const { return gzoffset(static_cast<gzFile>(handle_)); }

}  // namespace guanxi::connectors
