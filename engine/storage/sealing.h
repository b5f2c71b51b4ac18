// Sealing: authenticated encryption of a customer's personal data under that
// customer's key (crypto-shredding: deleting the key makes every sealed copy unreadable
// for good). AES-256-GCM (OpenSSL EVP), a random 256-bit key per customer, a random
// 96-bit nonce per seal, 128-bit tag. The only file of guanxi that includes OpenSSL's
// EVP (sealing.cc).
//
//   ASSIGN_OR_RETURN(CustomerKey key, NewCustomerKey(/*id=*/7));
//   ASSIGN_OR_RETURN(std::string sealed, Seal(key, plaintext, SealingContext(customer, 7)));
//   ASSIGN_OR_RETURN(std::string opened, Unseal(key, sealed, SealingContext(customer, 7)));
//
// Sealed bytes: 1 version byte (1), the key's id (8 bytes, big-endian), the 12-byte nonce,
// the ciphertext, the 16-byte tag. The version and id are authenticated with the
// additional data (`context`), which is not stored: opening with another context fails,
// so sealed bytes moved to another customer or position do not open.
// Thread-safe (the cipher fetched once, a cipher context per thread, and per thread a
// pool of OpenSSL RAND output that nonces are taken from, each byte once).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace guanxi::engine {

inline constexpr size_t kCustomerKeyBytes = 32;  // AES-256

// A customer's key. `id` tells the customer's keys apart (the event log uses the
// position of the record that made it): sealed bytes name the id of their key, so bytes
// sealed under a key an erasure deleted are told from altered bytes when the customer
// has a newer key.
struct CustomerKey {
  uint64_t id = 0;
  std::array<uint8_t, kCustomerKeyBytes> bytes{};
};

// A fresh random key (OpenSSL's RAND_bytes, a CSPRNG). Internal if the generator fails.
absl::StatusOr<CustomerKey> NewCustomerKey(uint64_t id);

// The additional data binding sealed bytes to a customer and a log position.
std::string SealingContext(std::string_view customer_id, uint64_t position);

// `plaintext` sealed under `key`, bound to `context`. Internal if OpenSSL fails.
absl::StatusOr<std::string> Seal(const CustomerKey& key, std::string_view plaintext,
                                 std::string_view context);

// The id of the key `sealed` was sealed under; DataLoss if the bytes are malformed.
absl::StatusOr<uint64_t> SealedKeyId(std::string_view sealed);

// The plaintext of `sealed`. DataLoss if the bytes are malformed, were altered, or were
// sealed under another key or context (the tag does not verify): never a silent empty.
absl::StatusOr<std::string> Unseal(const CustomerKey& key, std::string_view sealed,
                                 std::string_view context);

}  // namespace guanxi::engine
