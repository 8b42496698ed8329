// Kernel throughput: memory read bandwidth (the ceiling for generation), matvec at the shapes of
// Qwen2-0.5B (FFN 4864x896 and 896x4864, LM head 151936x896) for each weight type at 1 and 2
// threads, batched matmul (128 activation rows), activation quantization and pool dispatch.
// Matvec weights cycle through copies totalling >= 256 MiB so every pass reads DRAM, as a
// token's forward pass does. Counters: bytes_per_second = weight bytes streamed; `bw_pct` = that
// against the 2-thread read bandwidth measured by this binary.
#include <benchmark/benchmark.h>

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <tuple>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/cpu.h"
#include "core/dtype.h"
#include "core/half.h"
#include "core/kernels.h"
#include "core/quant_blocks.h"
#include "core/thread_pool.h"
#include "bench_pool.h"

namespace {

using omni::DType;
using omni::ThreadPool;

using omni::bench::pool;

struct AlignedBuf {
  uint8_t* p = nullptr;
  size_t n = 0;
  explicit AlignedBuf(size_t bytes) : p(static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64))), n(bytes) {}
  ~AlignedBuf() { std::free(p); }
  AlignedBuf(const AlignedBuf&) = delete;
  AlignedBuf& operator=(const AlignedBuf&) = delete;
};

__attribute__((target("avx2"))) uint64_t read_avx2(const uint8_t* p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 128 <= n; i += 128) {
    a0 = _mm256_xor_si256(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_xor_si256(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_xor_si256(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_xor_si256(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  a0 = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
  return static_cast<uint64_t>(_mm256_extract_epi64(a0, 0));
}

uint64_t read_sse2(const uint8_t* p, size_t n) {
  __m128i a0 = _mm_setzero_si128(), a1 = a0;
  for (size_t i = 0; i + 32 <= n; i += 32) {
    a0 = _mm_xor_si128(a0, _mm_load_si128(reinterpret_cast<const __m128i*>(p + i)));
    a1 = _mm_xor_si128(a1, _mm_load_si128(reinterpret_cast<const __m128i*>(p + i + 16)));
  }
  return static_cast<uint64_t>(_mm_cvtsi128_si64(_mm_xor_si128(a0, a1)));
}

// 64-byte loads from 4 streams at once (the part split in quarters), 2 lines per stream per
// step: more lines in flight than one sequential stream keeps, so the probe reports what the
// memory system delivers rather than what one prefetch stream sustains.
__attribute__((target("avx512f"))) uint64_t read_avx512(const uint8_t* p, size_t n) {
  const size_t q = n / 4 / 128 * 128;
  __m512i a[8];
  for (auto& v : a) v = _mm512_setzero_si512();
  for (size_t i = 0; i < q; i += 128) {
    for (int s = 0; s < 4; ++s) {
      const uint8_t* b = p + static_cast<size_t>(s) * q + i;
      a[2 * s] = _mm512_xor_si512(a[2 * s], _mm512_load_si512(b));
      a[2 * s + 1] = _mm512_xor_si512(a[2 * s + 1], _mm512_load_si512(b + 64));
    }
  }
  for (int j = 1; j < 8; ++j) a[0] = _mm512_xor_si512(a[0], a[j]);
  const uint64_t tail = 4 * q < n ? read_avx2(p + 4 * q, n - 4 * q) : 0;
  uint64_t lanes[8];
  _mm512_storeu_si512(lanes, a[0]);
  return lanes[0] ^ lanes[7] ^ tail;
}

uint64_t read_bytes(const uint8_t* p, size_t n) {
  if (omni::cpu_features().avx512f) return read_avx512(p, n);
  return omni::cpu_features().avx2 ? read_avx2(p, n) : read_sse2(p, n);
}

constexpr size_t kBandwidthBytes = size_t{1} << 30;  // 1 GiB, far beyond the 32 MiB L3

AlignedBuf& bandwidth_buffer() {
  static AlignedBuf buf(kBandwidthBytes);
  static const bool touched = [] {
    std::memset(buf.p, 1, buf.n);  // fault the pages in
    return true;
  }();
  (void)touched;
  return buf;
}

void read_parallel(ThreadPool& tp, const AlignedBuf& b, std::atomic<uint64_t>& sink) {
  const int64_t parts = tp.size() * 16;
  const size_t part = b.n / static_cast<size_t>(parts);
  tp.parallel_for(parts, [&](int64_t pb, int64_t pe) {
    uint64_t x = 0;
    for (int64_t i = pb; i < pe; ++i) x ^= read_bytes(b.p + static_cast<size_t>(i) * part, part);
    sink ^= x;
  });
}

// 2-thread read bandwidth in bytes/s (median of 5), measured once per process.
double reference_bandwidth() {
  static const double bw = [] {
    AlignedBuf& b = bandwidth_buffer();
    std::atomic<uint64_t> sink{0};
    std::vector<double> v;
    for (int r = 0; r < 5; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      read_parallel(pool(2), b, sink);
      v.push_back(static_cast<double>(b.n) /
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(v.begin(), v.end());
    return v[2];
  }();
  return bw;
}

void BM_MemoryBandwidth(benchmark::State& state) {
  ThreadPool& tp = pool(static_cast<int>(state.range(0)));
  AlignedBuf& b = bandwidth_buffer();
  std::atomic<uint64_t> sink{0};
  for (auto _ : state) read_parallel(tp, b, sink);
  benchmark::DoNotOptimize(sink.load());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(b.n));
}
BENCHMARK(BM_MemoryBandwidth)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->MinTime(1.0);

// Deterministic, fast fill (xorshift); quantized blocks get sane fp16 scales so no NaN, inf or
// subnormal slows the float path.
void fill_weights(DType t, uint8_t* p, int64_t rows, int64_t cols) {
  uint64_t s = 0x9e3779b97f4a7c15ull;
  const auto next = [&s] {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  };
  const int64_t n = rows * cols;
  if (t == DType::F32) {
    auto* f = reinterpret_cast<float*>(p);
    for (int64_t i = 0; i < n; ++i) f[i] = static_cast<float>(static_cast<int64_t>(next() % 2001) - 1000) * 1e-4f;
    return;
  }
  if (t == DType::F16) {
    auto* h = reinterpret_cast<uint16_t*>(p);
    for (int64_t i = 0; i < n; ++i) h[i] = omni::fp32_to_fp16(static_cast<float>(static_cast<int64_t>(next() % 2001) - 1000) * 1e-4f);
    return;
  }
  const omni::DTypeInfo& info = omni::dtype_info(t);
  const int64_t nb = n / info.block_size;
  for (int64_t i = 0; i < nb * info.type_size; i += 8) {
    const uint64_t v = next();
    std::memcpy(p + i, &v, static_cast<size_t>(std::min<int64_t>(8, nb * info.type_size - i)));
  }
  const uint16_t d = omni::fp32_to_fp16(0.01f);
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* blk = p + b * info.type_size;
    if (t == DType::Q6_K) {
      std::memcpy(blk + offsetof(omni::BlockQ6_K, d), &d, 2);
    } else {
      std::memcpy(blk, &d, 2);
      if (t == DType::Q4_K || t == DType::Q5_K || t == DType::Q4_1) std::memcpy(blk + 2, &d, 2);
    }
  }
}

struct Matrix {
  int64_t rows, cols;
  uint64_t bytes;
  std::vector<std::unique_ptr<AlignedBuf>> copies;
};

// Copies of one weight matrix totalling >= 256 MiB (dram) so each matvec reads from DRAM, or a
// single copy (cached). Only the most recent matrix is kept, so memory stays bounded; the
// benchmarks of one matrix are registered next to each other.
Matrix& matrix(DType t, int64_t rows, int64_t cols, bool dram) {
  static std::tuple<int, int64_t, int64_t, bool> key{-1, 0, 0, false};
  static Matrix m{0, 0, 0, {}};
  const auto want_key = std::make_tuple(static_cast<int>(t), rows, cols, dram);
  if (key == want_key) return m;
  m.copies.clear();
  m = Matrix{rows, cols, *omni::row_bytes(t, static_cast<uint64_t>(cols)) * static_cast<uint64_t>(rows), {}};
  const uint64_t want = dram ? (uint64_t{256} << 20) : 1;
  const size_t copies = static_cast<size_t>(std::max<uint64_t>(1, (want + m.bytes - 1) / m.bytes));
  for (size_t c = 0; c < copies; ++c) {
    m.copies.push_back(std::make_unique<AlignedBuf>(m.bytes));
    fill_weights(t, m.copies.back()->p, rows, cols);
  }
  key = want_key;
  return m;
}

void run_matvec(benchmark::State& state, DType t, int64_t rows, int64_t cols, int threads,
                bool dram = true) {
  Matrix& m = matrix(t, rows, cols, dram);
  std::vector<float> x(static_cast<size_t>(cols)), y(static_cast<size_t>(rows));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 17) * 0.1f - 0.8f;
  ThreadPool& tp = pool(threads);
  omni::kernels::Activations act;
  act.quantize(t, x.data(), 1, cols);
  size_t c = 0;
  for (auto _ : state) {
    omni::kernels::matmul(t, m.copies[c]->p, rows, act, y.data(), &tp);
    c = (c + 1) % m.copies.size();
    benchmark::ClobberMemory();
  }
  const double bytes = static_cast<double>(m.bytes) * static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["bw_pct"] = benchmark::Counter(bytes * 100.0 / reference_bandwidth(), benchmark::Counter::kIsRate);
}

// The single-token kernel alone on 4 rows that stay in L1 (no dispatch, no prefetch loop):
// pure compute per weight byte, for A/B of the unpack and float work.
void run_rows4_l1(benchmark::State& state, DType t, int64_t cols) {
  const uint64_t rb = *omni::row_bytes(t, static_cast<uint64_t>(cols));
  AlignedBuf w(4 * rb);
  fill_weights(t, w.p, 4, cols);
  std::vector<float> x(static_cast<size_t>(cols));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 17) * 0.1f - 0.8f;
  omni::kernels::Activations act;
  act.quantize(t, x.data(), 1, cols);
  const auto rows4 = omni::kernels::quant_rows4_fn(t, omni::kernels::active());
  if (rows4 == nullptr) {
    state.SkipWithError("no 4-row kernel at this level");
    return;
  }
  float y[4];
  for (auto _ : state) {
    rows4(w.p, rb, act.row(0), cols, y);
    benchmark::DoNotOptimize(y);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(4 * rb * state.iterations()));
}

void run_matmul(benchmark::State& state, DType t, int64_t rows, int64_t cols, int64_t batch, int threads) {
  Matrix& m = matrix(t, rows, cols, false);
  std::vector<float> x(static_cast<size_t>(cols * batch)), y(static_cast<size_t>(rows * batch));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 23) * 0.1f - 1.1f;
  ThreadPool& tp = pool(threads);
  for (auto _ : state) {
    omni::kernels::matmul(t, m.copies[0]->p, rows, cols, x.data(), batch, y.data(), &tp);
    benchmark::ClobberMemory();
  }
  state.counters["GFLOPS"] = benchmark::Counter(2.0 * static_cast<double>(rows * cols * batch) * 1e-9 *
                                                    static_cast<double>(state.iterations()),
                                                benchmark::Counter::kIsRate);
}

void BM_PoolDispatch(benchmark::State& state) {
  ThreadPool& tp = pool(static_cast<int>(state.range(0)));
  std::atomic<int64_t> sink{0};
  for (auto _ : state) {
    tp.parallel_for(896, [&](int64_t b, int64_t e) { sink.fetch_add(e - b, std::memory_order_relaxed); }, 8);
  }
}
BENCHMARK(BM_PoolDispatch)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime();

void BM_QuantizeActivations(benchmark::State& state) {
  const DType t = static_cast<DType>(state.range(0));
  const int64_t cols = 4864;
  std::vector<float> x(static_cast<size_t>(cols));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 29) * 0.07f - 1.0f;
  omni::kernels::Activations act;
  for (auto _ : state) act.quantize(t, x.data(), 1, cols);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * cols);
}
BENCHMARK(BM_QuantizeActivations)->Arg(static_cast<int>(DType::Q8_0))->Arg(static_cast<int>(DType::Q4_K));

// Attention of one block of 4 prompt queries over 512 cached positions (head_dim 64, a
// Qwen2-0.5B head in a 512-token prompt): the probability-weighted sum of V rows.
void BM_AttnPv4(benchmark::State& state) {
  const int64_t len = 512, hd = 64, kv = 128;
  std::vector<float> p(static_cast<size_t>(4 * len)), v(static_cast<size_t>(len * kv)), out(4 * hd);
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<float>(i % 13) * 0.01f;
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 31) * 0.05f - 0.7f;
  for (auto _ : state) {
    omni::kernels::attn_pv4(p.data(), len, len, v.data(), kv, hd, out.data(), hd);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["GFLOPS"] = benchmark::Counter(2.0 * 4 * len * hd * 1e-9 * static_cast<double>(state.iterations()),
                                                benchmark::Counter::kIsRate);
}
BENCHMARK(BM_AttnPv4);

const struct Registrar {
  Registrar() {
    std::printf("%s\n", omni::cpu_summary().c_str());
    const std::pair<DType, const char*> types[] = {{DType::F32, "f32"},   {DType::F16, "f16"},
                                                   {DType::Q8_0, "q8_0"}, {DType::Q4_0, "q4_0"},
                                                   {DType::Q4_K, "q4_K"}, {DType::Q6_K, "q6_K"},
                                                   {DType::Q5_K, "q5_K"}, {DType::Q5_0, "q5_0"}};
    const std::pair<int64_t, int64_t> shapes[] = {{4864, 896}, {896, 4864}, {151936, 896}};
    for (const auto& type_name : types) {
      const DType t = type_name.first;  // (clang 14 cannot capture structured bindings)
      const char* name = type_name.second;
      for (const auto& shape : shapes) {
        const int64_t rows = shape.first, cols = shape.second;
        if (cols % omni::dtype_info(t).block_size != 0) continue;  // K-quants need 256 | cols
        for (int threads : {1, 2}) {
          const std::string n = std::string("matvec/") + name + "/" + std::to_string(rows) + "x" +
                                std::to_string(cols) + "/threads:" + std::to_string(threads);
          benchmark::RegisterBenchmark(n.c_str(), [=](benchmark::State& s) { run_matvec(s, t, rows, cols, threads); })
              ->UseRealTime()
              ->Unit(benchmark::kMicrosecond);
        }
      }
      // Weights resident in L2/L3, one thread, CPU time: the kernel's compute ceiling, which must
      // stay well above half the DRAM bandwidth for two threads to saturate memory.
      const std::string nc = std::string("matvec_cached/") + name + "/256x4864/threads:1";
      benchmark::RegisterBenchmark(nc.c_str(), [=](benchmark::State& s) { run_matvec(s, t, 256, 4864, 1, false); })
          ->Unit(benchmark::kMicrosecond);
      if (t != DType::F32 && t != DType::F16) {
        for (const int64_t lc : {int64_t{896}, int64_t{1024}, int64_t{3584}}) {
          if (lc % omni::dtype_info(t).block_size != 0) continue;
          const std::string nl = std::string("rows4_l1/") + name + "/" + std::to_string(lc);
          benchmark::RegisterBenchmark(nl.c_str(), [=](benchmark::State& s) { run_rows4_l1(s, t, lc); });
        }
      }
      // The same for short rows (the 896-column Q/O/gate/up/LM-head shapes), where per-row
      // latency (one accumulator chain, the final reduction) counts more than in long rows.
      if (896 % omni::dtype_info(t).block_size == 0) {
        const std::string ns = std::string("matvec_cached/") + name + "/512x896/threads:1";
        benchmark::RegisterBenchmark(ns.c_str(), [=](benchmark::State& s) { run_matvec(s, t, 512, 896, 1, false); })
            ->Unit(benchmark::kMicrosecond);
      }
      // Prompt processing: 128 activation rows through the FFN shapes (up/gate and down).
      for (const auto& shape : {std::pair<int64_t, int64_t>{896, 4864}, std::pair<int64_t, int64_t>{4864, 896}}) {
        const int64_t rows = shape.first, cols = shape.second;
        if (cols % omni::dtype_info(t).block_size != 0) continue;
        for (int threads : {1, 2}) {
          const std::string n = std::string("matmul128/") + name + "/" + std::to_string(rows) + "x" +
                                std::to_string(cols) + "/threads:" + std::to_string(threads);
          benchmark::RegisterBenchmark(n.c_str(), [=](benchmark::State& s) { run_matmul(s, t, rows, cols, 128, threads); })
              ->UseRealTime()
              ->Unit(benchmark::kMillisecond);
        }
      }
    }
  }
} registrar;

}  // namespace
