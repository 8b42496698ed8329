// The vision packed GEMM (vision/packed_gemm.h) at the ViT shapes of LLaVA-1.5 (CLIP ViT-L/14,
// 336 px: 577 tokens, 1024 wide, MLP 4096) and SmolVLM-256M (SigLIP-B/16 at 512 px: 1024
// tokens, 768 wide, MLP 3072), F16 weights as the mmproj files hold them.
//   packed_gemm/<m>x<k>x<n>/strassen:L/threads:T
// items_per_second = nominal multiply-adds x 2 (2 m k n per call, whatever Strassen saves), so
// it reads as GFLOP/s against the fp32 FMA peak (Zen 4: 117 GFLOP/s per core).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "core/half.h"
#include "core/kernels.h"
#include "vision/packed_gemm.h"
#include "bench_pool.h"

namespace {

using omni::bench::pool;

std::vector<float> random_floats(int64_t n, uint64_t seed, float scale) {
  std::vector<float> v(static_cast<size_t>(n));
  uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
  for (auto& x : v) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    x = scale * (static_cast<float>(s >> 40) / static_cast<float>(1 << 24) - 0.5f);
  }
  return v;
}

// args: m, k (inputs), n (outputs), Strassen levels, threads
void BM_PackedGemm(benchmark::State& state) {
  const int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  const int levels = static_cast<int>(state.range(3));
  const int threads = static_cast<int>(state.range(4));
  if (omni::kernels::active().gemm6x64_f32 == nullptr) {
    state.SkipWithError("no packed GEMM block at this CPU level");
    return;
  }
  const auto wf = random_floats(n * k, 1, 0.1f);
  std::vector<uint16_t> wh(wf.size());
  for (size_t i = 0; i < wf.size(); ++i) wh[i] = omni::fp32_to_fp16(wf[i]);
  omni::ThreadPool& tp = pool(threads);
  const omni::vision::PackedWeights w(omni::DType::F16, wh.data(), n, k, &tp);
  const auto x = random_floats(m * k, 2, 2.0f);
  const auto bias = random_floats(n, 3, 1.0f);
  std::vector<float> y(static_cast<size_t>(m * n));
  omni::vision::StrassenConfig cfg;
  cfg.max_levels = levels;
  for (auto _ : state) {
    omni::vision::gemm(w, x.data(), m, bias.data(), false, y.data(), cfg, tp);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * 2 * m * k * n);
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"m", "k", "n", "strassen", "threads"});
  const int64_t kShapes[][3] = {
      {577, 1024, 1024}, {577, 1024, 4096}, {577, 4096, 1024},   // LLaVA ViT
      {576, 4096, 4096},                                         // LLaVA projector mm.2
      {1024, 768, 768}, {1024, 768, 3072}, {1024, 3072, 768},    // SmolVLM ViT
  };
  for (const auto& s : kShapes) {
    for (int l : {0, 1, 2}) {
      for (int t : {1, 2}) b->Args({s[0], s[1], s[2], l, t});
    }
  }
}
BENCHMARK(BM_PackedGemm)->Apply(shapes)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
