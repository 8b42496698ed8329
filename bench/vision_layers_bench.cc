// The ViT passes outside the projection GEMMs, at the shapes of the two bench encoders:
// SmolVLM-256M's SigLIP-B/16 at 512 px (1024 tokens, 768 wide, 12 heads, FFN 3072) and
// LLaVA-1.5's CLIP ViT-L/14 at 336 px (577 tokens, 1024 wide, 16 heads, FFN 4096).
// Self-attention (both products + softmax) counts 4 n^2 d flops; GELU and LayerNorm count the
// floats they go over (items_per_second).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "bench_pool.h"
#include "core/kernels.h"
#include "vision/attention.h"
#include "vision/gelu_table.h"

namespace {

struct Vit {
  int64_t n, d;
  int heads;
  int64_t ff;
};
constexpr Vit kSmol{1024, 768, 12, 3072};
constexpr Vit kLlava{577, 1024, 16, 4096};

std::vector<float> random_floats(int64_t n, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

void attention(benchmark::State& st, Vit s) {
  const int threads = static_cast<int>(st.range(0));
  const auto q = random_floats(s.n * s.d, 1.0f, 1), k = random_floats(s.n * s.d, 1.0f, 2);
  const auto v = random_floats(s.n * s.d, 1.0f, 3);
  std::vector<float> out(static_cast<size_t>(s.n * s.d));
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.d / s.heads));
  for (auto _ : st) {
    omni::vision::self_attention(q.data(), k.data(), v.data(), s.n, s.heads, s.d, scale,
                                 out.data(), omni::bench::pool(threads));
    benchmark::DoNotOptimize(out.data());
  }
  st.counters["GFLOPS"] = benchmark::Counter(4.0 * static_cast<double>(s.n * s.n * s.d) * 1e-9,
                                             benchmark::Counter::kIsIterationInvariantRate);
}

void gelu(benchmark::State& st, Vit s) {
  const auto src = random_floats(s.n * s.ff, 1.5f, 4);
  std::vector<float> x(src.size());
  for (auto _ : st) {
    st.PauseTiming();
    x = src;
    st.ResumeTiming();
    omni::vision::gelu_tanh_f16_table(x.data(), static_cast<int64_t>(x.size()));
    benchmark::DoNotOptimize(x.data());
  }
  st.SetItemsProcessed(st.iterations() * static_cast<int64_t>(x.size()));
}

void layer_norm(benchmark::State& st, Vit s) {
  const auto x = random_floats(s.n * s.d, 1.0f, 5), w = random_floats(s.d, 1.0f, 6);
  const auto b = random_floats(s.d, 1.0f, 7);
  std::vector<float> y(x.size());
  for (auto _ : st) {
    for (int64_t i = 0; i < s.n; ++i) {
      omni::kernels::layer_norm(x.data() + i * s.d, w.data(), b.data(), 1e-6f, s.d,
                                y.data() + i * s.d);
    }
    benchmark::DoNotOptimize(y.data());
  }
  st.SetItemsProcessed(st.iterations() * s.n * s.d);
}

BENCHMARK_CAPTURE(attention, smolvlm, kSmol)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(attention, llava, kLlava)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(gelu, smolvlm, kSmol)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(layer_norm, llava, kLlava)->Unit(benchmark::kMicrosecond);

}  // namespace
