// Memory read-bandwidth ceiling of this machine: the rate a token's weight stream can at best
// be read at, to express generation speed as a share of it. A single plain read loop
// underestimates it (one hardware-prefetched stream per core does not keep enough requests in
// flight: 27.8 GB/s measured that way on the 2-core Zen 4 VM where llama.cpp's F16 generation
// moved 41.8 GB/s), so the probe tries several read shapes (SIMD width, independent streams
// per thread, software prefetch distance) and reports the best.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace omni {

class ThreadPool;

struct MemReadShape {
  int streams = 1;         // independent sequential streams per chunk (1, 2, 4, 8)
  uint32_t prefetch = 0;   // software prefetch distance in bytes (0: none)
  bool l2_hint = true;     // prefetch into L2 (T1) rather than L1 (T0)
  bool wide = true;        // 64-byte loads where the CPU has AVX-512, else 32-byte
  std::string name() const;
};

struct MemReadResult {
  MemReadShape shape;
  int threads = 0;
  double gb_per_s = 0;  // 1e9 bytes per second, median of the repetitions
};

// Reads `buffer` (bytes, 4 KiB-aligned start recommended) once with `shape` on every thread of
// `pool`; returns bytes per second of wall time. The buffer must be written beforehand (reading
// never-touched anonymous memory maps the shared zero page and measures the cache instead).
double measure_read(ThreadPool& pool, const uint8_t* buffer, size_t bytes, const MemReadShape& shape);

// Runs every shape of a small grid `reps` times over a buffer of `bytes` (allocated and
// filled here; at least 32x the last-level cache for a DRAM figure) and returns all results,
// best first. Takes about (grid size x reps x bytes / bandwidth) seconds.
std::vector<MemReadResult> probe_read_bandwidth(ThreadPool& pool, size_t bytes, int reps = 3);

}  // namespace omni
