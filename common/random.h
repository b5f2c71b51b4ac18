// A deterministic random generator: SplitMix64 with hand-written distributions, so the
// same seed gives the same numbers on every platform and standard library (std::
// distributions differ between them). For the simulator and the benchmarks; not for
// anything secret.
//
//   Random rng(seed);
//   if (rng.Chance(0.15)) ...;
//   const double z = rng.Normal(0, 1);
#pragma once

#include <cmath>
#include <cstdint>

namespace guanxi {

class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  bool Chance(double p) { return Uniform() < p; }
  int64_t Int(int64_t lo, int64_t hi) {  // inclusive; lo when the range is empty
    if (hi <= lo) return lo;
    return lo + static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }
  double Normal(double mean, double sd) {  // Box-Muller, two draws
    const double u1 = 1.0 - Uniform();
    const double u2 = Uniform();
    return mean + sd * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }
  double LogNormal(double median, double sigma) { return median * std::exp(Normal(0, sigma)); }

 private:
  uint64_t state_;
};

}  // namespace guanxi
