// One thread pool per thread count, shared by every benchmark of the binary (pools are costly
// to start and must not be torn down between a benchmark's iterations).
#pragma once

#include <map>
#include <memory>

#include "core/thread_pool.h"

namespace omni::bench {

inline ThreadPool& pool(int threads) {
  static std::map<int, std::unique_ptr<ThreadPool>> pools;
  auto& p = pools[threads];
  if (!p) p = std::make_unique<ThreadPool>(threads);
  return *p;
}

}  // namespace omni::bench
