#include "connectors/line_reader.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace guanxi::connectors {

absl::StatusOr<std::unique_ptr<LineReader>> LineReader::Open(const std::string& path) {
  gzFile file = path == "-" ? gzdopen(dup(STDIN_FILENO), "rb") : gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  gzbuffer(file, 1 << 17);
  int64_t size = 0;
  struct stat st;
  if (path != "-" && stat(path.c_str(), &st) == 0) size = st.st_size;
  return std::unique_ptr<LineReader>(new LineReader(file, path, size));
}

LineReader::LineReader(void* handle, std::string path, int64_t size_bytes)
    : handle_(handle), path_(std::move(path)), size_bytes_(size_bytes) {
  buffer_.resize(1 << 16);
}

LineReader::~LineReader() { gzclose(static_cast<gzFile>(handle_)); }

bool LineReader::Next(std::string& line) {
  auto* file = static_cast<gzFile>(handle_);
  line.clear();
  while (true) {
    if (gzgets(file, buffer_.data(), static_cast<int>(buffer_.size())) == nullptr) {
      int code = 0;
      const char* message = gzerror(file, &code);
      if (code != Z_OK && code != Z_BUF_ERROR) {
        status_ = absl::DataLossError(absl::StrCat("reading ", path_, ": ", message));
        return false;
      }
      return !line.empty();  // a last line without '\n'
    }
    const size_t n = std::strlen(buffer_.data());
    line.append(buffer_.data(), n);
    if (n > 0 && line.back() == '\n') {
      line.pop_back();
      return true;
    }
  }
}

int64_t LineReader::bytes_read() const { return gzoffset(static_cast<gzFile>(handle_)); }

}  // namespace guanxi::connectors
