#include "tts/rel_attention.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

namespace omni::tts {
namespace {

// The dispatched head (query-blocked with AVX-512 where hd % 16 == 0) equals the plain loops
// bit for bit, at lengths around the block sizes and with windows wider than the input.
TEST(RelAttention, FastPathEqualsReferenceBits) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.f, 2.f);
  for (int hd : {16, 96, 48, 8}) {
    for (int t : {1, 3, 8, 9, 16, 17, 109}) {
      for (int w : {0, 4, 20}) {
        auto fill = [&](size_t n) {
          std::vector<float> v(n);
          for (float& x : v) x = normal(rng);
          return v;
        };
        const auto q = fill(size_t(hd) * t), k = fill(size_t(hd) * t), v = fill(size_t(hd) * t);
        const auto ek = fill(size_t(2 * w + 1) * hd), ev = fill(size_t(2 * w + 1) * hd);
        std::vector<float> a(size_t(hd) * t), b(size_t(hd) * t);
        rel_attention_head(q.data(), k.data(), v.data(), t, hd, 0.1f, ek.data(), ev.data(), w,
                           a.data());
        rel_attention_head_reference(q.data(), k.data(), v.data(), t, hd, 0.1f, ek.data(),
                                     ev.data(), w, b.data());
        ASSERT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)))
            << "hd " << hd << " t " << t << " window " << w;
      }
    }
  }
}

}  // namespace
}  // namespace omni::tts
