// Overflow-checked int64 arithmetic for figures computed from input (amounts in minor
// units, quantities, their sums): the result, or nullopt where it does not fit; never a
// wrapped value. Every connector computes money through these.
//
//   auto amount = CheckedMul(quantity, unit_price);
//   if (!amount) return reject("Quantity x UnitPrice is too large");
//
// Pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>

namespace guanxi::connectors {

inline std::optional<int64_t> CheckedAdd(int64_t a, int64_t b) {
  int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) return std::nullopt;
  return sum;
}

inline std::optional<int64_t> CheckedMul(int64_t a, int64_t b) {
  int64_t product = 0;
  if (__builtin_mul_overflow(a, b, &product)) return std::nullopt;
  return product;
}

}  // namespace guanxi::connectors
