// The ViT self-attention as the encoder runs it: q, k and v are column blocks of one fused
// n x 3d projection output (rows 3d apart) that the GEMM has just written with streaming stores,
// so none of it is in the caches when the attention starts. Each iteration rewrites the qkv
// matrix the same way (untimed) first. Shapes of the two bench encoders: SmolVLM-256M (1024
// tokens, 768 wide, 12 heads) and LLaVA-1.5's CLIP ViT-L/14 (577 tokens, 1024 wide, 16 heads).
// vision_layers_bench.cc's attention/* keeps separate, cache-warm q, k, v.
#include <benchmark/benchmark.h>
#include <xmmintrin.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "bench_pool.h"
#include "vision/attention.h"

namespace {

struct Shape {
  int64_t n, d;
  int heads;
};
constexpr Shape kSmol{1024, 768, 12};
constexpr Shape kLlava{577, 1024, 16};

// dst = src through non-temporal stores (SSE, the x86-64 baseline): the lines end up in memory,
// not in the caches, as the encoder's streamed GEMM output does.
void stream_copy(const std::vector<float>& src, std::vector<float>& dst) {
  for (size_t i = 0; i + 4 <= src.size(); i += 4) _mm_stream_ps(dst.data() + i, _mm_loadu_ps(src.data() + i));
  _mm_sfence();
}

void attention_fused(benchmark::State& st, Shape s) {
  const int threads = static_cast<int>(st.range(0));
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> src(static_cast<size_t>(s.n * 3 * s.d));
  for (auto& x : src) x = dist(rng);
  std::vector<float> qkv(src.size()), out(static_cast<size_t>(s.n * s.d));
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.d / s.heads));
  for (auto _ : st) {
    st.PauseTiming();
    stream_copy(src, qkv);
    st.ResumeTiming();
    omni::vision::self_attention(qkv.data(), qkv.data() + s.d, qkv.data() + 2 * s.d, 3 * s.d, s.n,
                                 s.heads, s.d, scale, out.data(), omni::bench::pool(threads));
    benchmark::DoNotOptimize(out.data());
  }
  st.counters["GFLOPS"] = benchmark::Counter(4.0 * static_cast<double>(s.n * s.n * s.d) * 1e-9,
                                             benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK_CAPTURE(attention_fused, smolvlm, kSmol)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(attention_fused, llava, kLlava)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
