#include "rng.h"

#include <algorithm>
#include <thread>
#include <vector>

namespace omni::gen {

void fill_normal(float* dst, uint64_t n, uint64_t seed, uint64_t stream, float stddev) {
  constexpr uint64_t kChunk = 1 << 16;
  const uint64_t chunks = (n + kChunk - 1) / kChunk;
  const uint64_t hw = std::max(1u, std::thread::hardware_concurrency());
  const unsigned threads = static_cast<unsigned>(std::max<uint64_t>(1, std::min(chunks, hw)));
  auto work = [&](unsigned t) {
    for (uint64_t c = t; c < chunks; c += threads) {
      Rng rng(seed, stream, c);
      const uint64_t end = std::min(n, (c + 1) * kChunk);
      for (uint64_t i = c * kChunk; i < end; ++i) dst[i] = static_cast<float>(rng.normal() * stddev);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& th : pool) th.join();
}

}  // namespace omni::gen
