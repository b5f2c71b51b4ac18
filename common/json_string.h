// A JSON string literal for hand-built JSON (the HTTP API's errors and page tokens, the
// benchmark's results, `guanxi replay --json`): quotes, backslashes and control
// characters escaped as RFC 8259 asks, and always valid UTF-8 (RFC 8259 section 8.1):
// a byte that does not belong to a well-formed UTF-8 sequence (a percent-decoded %ff in a
// request path, say) becomes U+FFFD, written \ufffd. Messages go through protobuf's JSON
// printer instead (engine/query/json.h).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/utf8.h"

namespace guanxi {

inline void AppendJsonString(std::string& out, std::string_view s) {
  constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      const size_t length = Utf8SequenceLength(s.substr(i));
      if (length == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(s.substr(i, length));
        i += length;
      }
      continue;
    }
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
    ++i;
  }
  out.push_back('"');
}

inline std::string JsonString(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

}  // namespace guanxi
