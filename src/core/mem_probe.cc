#include "core/mem_probe.h"

#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "core/cpu.h"
#include "core/error.h"
#include "core/thread_pool.h"

namespace omni {
namespace {

// Hint: 0 no prefetch, 1 into L1 (T0), 2 into L2 (T1). Each of the S streams is `len` bytes
// (a multiple of 128) starting len bytes after the previous one; per 128 bytes and stream, two
// loads and (with a hint) two prefetches `pf` bytes ahead. The prefetch address is formed as an
// integer: past the end it names memory we do not own, which a prefetch may do.
template <int S, int Hint>
__attribute__((target("avx512f"))) uint64_t read_zmm(const uint8_t* p, size_t len, uint32_t pf) {
  __m512i acc[S];
  for (auto& a : acc) a = _mm512_setzero_si512();
  for (size_t off = 0; off < len; off += 128) {
    for (int s = 0; s < S; ++s) {
      const uint8_t* q = p + s * len + off;
      if constexpr (Hint != 0) {
        const uintptr_t ahead = reinterpret_cast<uintptr_t>(q) + pf;
        constexpr auto hint = Hint == 1 ? _MM_HINT_T0 : _MM_HINT_T1;
        _mm_prefetch(reinterpret_cast<const char*>(ahead), hint);
        _mm_prefetch(reinterpret_cast<const char*>(ahead + 64), hint);
      }
      const __m512i a = _mm512_load_si512(q), b = _mm512_load_si512(q + 64);
      acc[s] = _mm512_xor_si512(acc[s], _mm512_xor_si512(a, b));
    }
  }
  __m512i t = acc[0];
  for (int s = 1; s < S; ++s) t = _mm512_xor_si512(t, acc[s]);
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, t);
  uint64_t x = 0;
  for (uint64_t l : lanes) x |= l;
  return x;
}

template <int S, int Hint>
__attribute__((target("avx2"))) uint64_t read_ymm(const uint8_t* p, size_t len, uint32_t pf) {
  __m256i acc[S];
  for (auto& a : acc) a = _mm256_setzero_si256();
  for (size_t off = 0; off < len; off += 128) {
    for (int s = 0; s < S; ++s) {
      const uint8_t* q = p + s * len + off;
      if constexpr (Hint != 0) {
        const uintptr_t ahead = reinterpret_cast<uintptr_t>(q) + pf;
        constexpr auto hint = Hint == 1 ? _MM_HINT_T0 : _MM_HINT_T1;
        _mm_prefetch(reinterpret_cast<const char*>(ahead), hint);
        _mm_prefetch(reinterpret_cast<const char*>(ahead + 64), hint);
      }
      const auto* v = reinterpret_cast<const __m256i*>(q);
      const __m256i x = _mm256_xor_si256(_mm256_load_si256(v), _mm256_load_si256(v + 1));
      const __m256i y = _mm256_xor_si256(_mm256_load_si256(v + 2), _mm256_load_si256(v + 3));
      acc[s] = _mm256_xor_si256(acc[s], _mm256_xor_si256(x, y));
    }
  }
  __m256i t = acc[0];
  for (int s = 1; s < S; ++s) t = _mm256_xor_si256(t, acc[s]);
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), t);
  return lanes[0] | lanes[1] | lanes[2] | lanes[3];
}

using ReadFn = uint64_t (*)(const uint8_t*, size_t, uint32_t);

template <int Hint>
ReadFn pick_streams(bool wide, int streams) {
  switch (streams) {
    case 1: return wide ? read_zmm<1, Hint> : read_ymm<1, Hint>;
    case 2: return wide ? read_zmm<2, Hint> : read_ymm<2, Hint>;
    case 4: return wide ? read_zmm<4, Hint> : read_ymm<4, Hint>;
    case 8: return wide ? read_zmm<8, Hint> : read_ymm<8, Hint>;
    default: break;
  }
  throw Error("memory probe: " + std::to_string(streams) + " streams (1, 2, 4 or 8)");
}

ReadFn pick(const MemReadShape& s, bool wide) {
  if (s.prefetch == 0) return pick_streams<0>(wide, s.streams);
  return s.l2_hint ? pick_streams<2>(wide, s.streams) : pick_streams<1>(wide, s.streams);
}

bool has_avx512() { return cpu_max_level() >= CpuLevel::kAvx512; }

std::atomic<uint64_t> g_sink{0};

}  // namespace

std::string MemReadShape::name() const {
  std::string n = std::string(wide ? "zmm" : "ymm") + " x" + std::to_string(streams);
  if (prefetch) n += " pf" + std::to_string(prefetch / 1024) + "k" + (l2_hint ? "-L2" : "-L1");
  return n;
}

double measure_read(ThreadPool& pool, const uint8_t* buffer, size_t bytes, const MemReadShape& shape) {
  if (cpu_max_level() < CpuLevel::kAvx2) throw Error("memory probe: needs AVX2");
  const bool wide = shape.wide && has_avx512();
  const ReadFn fn = pick(shape, wide);
  // Chunks of 4 MiB (far more than any prefetch distance), claimed by the threads as they go,
  // so a thread that loses its core to another process does not hold the others up.
  constexpr size_t kChunk = size_t{4} << 20;
  const auto chunks = static_cast<int64_t>(bytes / kChunk);
  if (chunks < 1) throw Error("memory probe: buffer smaller than 4 MiB");
  const size_t len = kChunk / static_cast<size_t>(shape.streams);
  std::atomic<uint64_t> sink{0};
  const auto t0 = std::chrono::steady_clock::now();
  pool.parallel_for(chunks, [&](int64_t b, int64_t e) {
    uint64_t x = 0;
    for (int64_t c = b; c < e; ++c) x ^= fn(buffer + static_cast<size_t>(c) * kChunk, len, shape.prefetch);
    sink.fetch_xor(x, std::memory_order_relaxed);
  });
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  g_sink.fetch_xor(sink.load(), std::memory_order_relaxed);  // the loads must stay
  return static_cast<double>(chunks) * static_cast<double>(kChunk) / s;
}

std::vector<MemReadResult> probe_read_bandwidth(ThreadPool& pool, size_t bytes, int reps) {
  bytes = std::max<size_t>(bytes, size_t{4} << 20) / 4096 * 4096;
  // Mapped, not malloc'ed: unmapping hands the pages straight back (an allocator, or a
  // sanitizer's quarantine, could keep them resident and inflate the caller's memory report).
  void* raw = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw Error("memory probe: cannot allocate " + std::to_string(bytes) + " bytes");
  const auto unmap = [bytes](uint8_t* q) { ::munmap(q, bytes); };
  std::unique_ptr<uint8_t, decltype(unmap)> buf(static_cast<uint8_t*>(raw), unmap);
  std::memset(buf.get(), 0x5a, bytes);  // real pages, not the zero page
  std::vector<MemReadShape> grid;
  // Prefetch variants only at the widest load width (the narrower width checks that load
  // width is not what limits the plain shapes).
  const bool avx512 = has_avx512();
  for (bool wide : {true, false}) {
    if (wide && !avx512) continue;
    for (int s : {1, 2, 4, 8}) grid.push_back({s, 0, true, wide});
    if (!wide && avx512) continue;
    for (int s : {1, 4}) {
      for (uint32_t pf : {4096u, 16384u, 32768u}) grid.push_back({s, pf, true, wide});
      grid.push_back({s, 1024u, false, wide});
    }
  }
  std::vector<MemReadResult> out;
  measure_read(pool, buf.get(), bytes, grid[0]);  // warm-up: pages, TLB, frequency
  for (const MemReadShape& s : grid) {
    std::vector<double> v;
    for (int r = 0; r < std::max(reps, 1); ++r) v.push_back(measure_read(pool, buf.get(), bytes, s));
    std::sort(v.begin(), v.end());
    out.push_back({s, pool.size(), v[v.size() / 2] * 1e-9});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const MemReadResult& a, const MemReadResult& b) { return a.gb_per_s > b.gb_per_s; });
  return out;
}

}  // namespace omni
