// SHA-256, for the log's hash chain (EventLog::HashOf), through OpenSSL's EVP with the
// digest fetched once and a context per thread: OpenSSL 3's one-shot SHA256() fetches
// the algorithm by name on every call (about 4,000 instructions a record).
//
//   const Sha256Digest d = Sha256(bytes);
//
// Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace guanxi::engine {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest Sha256(std::string_view bytes);

}  // namespace guanxi::engine
