// A JSON string literal for hand-built JSON (the HTTP API's errors and page tokens, the
// benchmark's results, `guanxi replay --json`): quotes, backslashes and control
// characters escaped as RFC 8259 asks. Messages go through protobuf's JSON printer
// instead (engine/query/json.h).
#pragma once

#include <string>
#include <string_view>

namespace guanxi {

inline void AppendJsonString(std::string& out, std::string_view s) {
  constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out.push_back(kHex[u >> 4]);
          out.push_back(kHex[u & 0xf]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

inline std::string JsonString(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

}  // namespace guanxi
