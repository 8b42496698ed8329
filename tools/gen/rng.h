// Deterministic random weights: the same seed gives the same bytes on every machine and for any
// thread count, because each (tensor, chunk) pair has its own counter-derived stream.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>

namespace omni::gen {

inline uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// xoshiro256** (Blackman & Vigna), seeded through splitmix64.
class Rng {
 public:
  Rng(uint64_t seed, uint64_t stream, uint64_t chunk) {
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ull) ^ (chunk * 0x2545f4914f6cdd1dull);
    for (auto& s : s_) s = splitmix64(x);
  }
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  // Standard normal by Box-Muller; both outputs are used.
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * std::numbers::pi * u2);
    has_spare_ = true;
    return r * std::cos(2.0 * std::numbers::pi * u2);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
  double spare_ = 0.0;
  bool has_spare_ = false;
};

// Fills `n` floats with N(0, stddev) from stream `stream`, in 64K-element chunks generated in
// parallel; the result does not depend on the number of threads.
void fill_normal(float* dst, uint64_t n, uint64_t seed, uint64_t stream, float stddev);

}  // namespace omni::gen
