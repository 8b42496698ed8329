// One decoder residual-block convolution of the medium Piper voice on its own (1 thread), for
// A/B of the Winograd machinery without the rest of a sentence: kernel k, dilation d, channels
// (in = out), length t, Winograd tile size m (0 = the direct GEMM path). The shapes are stage 3
// (32 channels, 66816 samples for en2) and stage 2 (64 channels, 16704 samples).
#include <benchmark/benchmark.h>

#include <random>

#include "tts/vits_ops.h"

namespace {

void BM_TtsResConv(benchmark::State& state) {
  const int k = int(state.range(0)), d = int(state.range(1)), ch = int(state.range(2));
  const int t = int(state.range(3)), m = int(state.range(4));
  omni::tts::Conv1d c;
  c.cin = c.cout = ch;
  c.k = k;
  c.dilation = d;
  c.pad = d * (k - 1) / 2;
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.f, 0.1f);
  c.w.resize(size_t(ch) * ch * k);
  for (float& v : c.w) v = nd(rng);
  c.b.assign(size_t(ch), 0.01f);
  c.prepare(false);
  if (m > 0) c.wino.prepare(c.w.data(), ch, ch, k, d, m);
  omni::tts::Act x(ch, t);
  for (float& v : x.d) v = nd(rng);
  omni::tts::Act y(ch, t);  // y += conv(lrelu(x)): grows linearly, no overflow
  for (auto _ : state) {
    c.accumulate(x, y, nullptr, 0.1f);
    benchmark::DoNotOptimize(y.d.data());
  }
  state.counters["Mmac/s"] = benchmark::Counter(double(ch) * ch * k * t * 1e-6,
                                                benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_TtsResConv)
    ->ArgNames({"k", "d", "ch", "t", "m"})
    ->Args({3, 1, 32, 66816, 4})
    ->Args({3, 1, 32, 66816, 0})
    ->Args({5, 6, 32, 66816, 4})
    ->Args({5, 6, 32, 66816, 0})
    ->Args({7, 12, 32, 66816, 4})
    ->Args({5, 2, 64, 16704, 4})
    ->Args({5, 2, 64, 16704, 6})
    ->Unit(benchmark::kMillisecond);

}  // namespace
