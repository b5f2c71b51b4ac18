// The fuzzing build's web view: no file (web/CMakeLists.txt with GUANXI_FUZZ). The HTTP
// harness exercises the API; the page's files are fixed bytes served by exact path.
#include "web/web_files.h"

namespace guanxi::web {

std::span<const File> Files() { return {}; }

}  // namespace guanxi::web
