// Helpers for hostile-input tests of file parsers: where to truncate a file and which bytes to
// flip, deterministically, within a parsing-cost budget so the suite stays fast (also under ASan).
//
// A parse of a prefix costs about its length, so positions are chosen to spend a byte budget:
// every offset in the dense head of the file (header and first fields, where one byte changes
// the meaning of everything after it), then seeded random offsets over the metadata region and
// a spread over the data region.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace omni::testing {

struct HostilePlan {
  uint64_t dense = 4096;          // every offset below this (capped to the metadata size)
  uint64_t budget = 32ull << 20;  // bytes of parsing to spend on sampled positions
  uint64_t max_sampled = 300;     // at most this many sampled positions
  uint64_t min_sampled = 16;      // at least this many, whatever the budget
  uint64_t seed = 0x0dd5eed;
};

// Truncation lengths for a file of `size` bytes whose metadata (everything a parser interprets)
// spans [0, meta_end). Sorted, unique, all < size.
inline std::vector<uint64_t> truncation_points(uint64_t size, uint64_t meta_end,
                                               const HostilePlan& plan = {}) {
  std::set<uint64_t> pts;
  meta_end = std::min(meta_end, size);
  const uint64_t dense = std::min(plan.dense, meta_end);
  for (uint64_t i = 0; i < dense; ++i) pts.insert(i);
  std::mt19937_64 rng(plan.seed ^ size);
  // A truncation inside the metadata costs half of it on average, one in the data all of it.
  const uint64_t per_meta = std::max<uint64_t>(1, meta_end / 2);
  const uint64_t per_data = std::max<uint64_t>(1, meta_end);
  uint64_t n_meta = std::clamp(plan.budget / 2 / per_meta, plan.min_sampled, plan.max_sampled);
  uint64_t n_data = std::clamp(plan.budget / 2 / per_data, plan.min_sampled / 2, plan.max_sampled / 3);
  if (meta_end > dense) {
    // A quarter in the last 2 KiB of the metadata, where tensor infos usually sit.
    std::uniform_int_distribution<uint64_t> d(dense, meta_end - 1);
    std::uniform_int_distribution<uint64_t> tail(std::max(dense, meta_end - std::min<uint64_t>(meta_end, 2048)),
                                                 meta_end - 1);
    for (uint64_t i = 0; i < n_meta; ++i) pts.insert(i % 4 == 0 ? tail(rng) : d(rng));
  }
  if (size > meta_end) {
    // Evenly spread over the data region, plus its first and last bytes.
    pts.insert(meta_end);
    pts.insert(size - 1);
    for (uint64_t i = 1; i <= n_data; ++i) pts.insert(meta_end + (size - meta_end) * i / (n_data + 1));
  }
  return {pts.begin(), pts.end()};
}

// Byte flips (position, xor mask) for a file of `size` bytes with metadata [0, meta_end): most of
// them in the metadata (head and tail), a few in the data region (which parsers do not interpret).
struct Flip {
  uint64_t pos;
  uint8_t mask;
};
inline std::vector<Flip> byte_flips(uint64_t size, uint64_t meta_end, const HostilePlan& plan = {}) {
  std::vector<Flip> flips;
  if (size == 0) return flips;
  meta_end = std::clamp<uint64_t>(meta_end, 1, size);
  const uint64_t n = std::clamp(plan.budget / meta_end, plan.min_sampled, plan.max_sampled);
  std::mt19937_64 rng(plan.seed * 31 + size);
  std::uniform_int_distribution<int> bit(0, 7);
  std::uniform_int_distribution<int> coin(0, 9);
  // Half of the metadata flips land in the first 256 bytes: header and first keys.
  std::uniform_int_distribution<uint64_t> head(0, std::min<uint64_t>(256, meta_end) - 1);
  std::uniform_int_distribution<uint64_t> meta(0, meta_end - 1);
  std::uniform_int_distribution<uint64_t> tail(meta_end - std::min<uint64_t>(meta_end, 2048),
                                               meta_end - 1);
  std::uniform_int_distribution<uint64_t> all(0, size - 1);
  for (uint64_t i = 0; i < n; ++i) {
    // 10% anywhere, 40% in the head, 20% in the last 2 KiB of metadata, 30% in the metadata.
    const int c = coin(rng);
    const uint64_t pos = c == 0 ? all(rng) : c < 5 ? head(rng) : c < 7 ? tail(rng) : meta(rng);
    // Single-bit flips mostly; sometimes a whole byte (0xff) to reach large values.
    const uint8_t mask = coin(rng) == 0 ? 0xff : static_cast<uint8_t>(1u << bit(rng));
    flips.push_back({pos, mask});
  }
  return flips;
}

// gtest parameter name for a refdata path: its file name with non-alphanumerics as '_'.
inline std::string file_param_name(const ::testing::TestParamInfo<const char*>& p) {
  std::string s = p.param;
  s = s.substr(s.rfind('/') + 1);
  for (char& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return s;
}

}  // namespace omni::testing
