// The web view's built files (web/src, bundled by scripts/web), embedded in the binary so
// that `guanxi run --http` serves the page with nothing else installed. The source of
// Files() is generated at build time (cmake/embed_files.cmake, web/CMakeLists.txt).
#pragma once

#include <span>
#include <string_view>

namespace guanxi::web {

struct File {
  std::string_view path;  // "/index.html", "/app.js", ...
  std::string_view body;
};

// Every file, in path order.
std::span<const File> Files();

}  // namespace guanxi::web
