// Every layer of the medium Piper voice's HiFi-GAN decoder on its own (1 thread), at the
// lengths of the en2 sentence (313 frames -> 2504 / 20032 / 80128 samples per stage), for a
// per-layer profile: `Gflop/s` counts the layer's DIRECT multiply-adds (2 flops each), so it
// compares algorithms (Winograd beats the direct count) as well as kernels. Random weights,
// leaky-ReLU input as in the decoder; the residual convs return x + conv(lrelu(x)) as the
// decoder's do.
#include <benchmark/benchmark.h>

#include <random>

#include "tts/vits_ops.h"

namespace {

void fill(std::vector<float>& v, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.f, 0.1f);
  for (float& x : v) x = nd(rng);
}

// Conv1d: cin, cout, k, dilation, t (input = output length), residual (1: y = x + conv).
void BM_TtsDecConv(benchmark::State& state) {
  const int cin = int(state.range(0)), cout = int(state.range(1)), k = int(state.range(2));
  const int d = int(state.range(3)), t = int(state.range(4));
  const bool residual = state.range(5) != 0;
  std::mt19937 rng(1);
  omni::tts::Conv1d c;
  c.cin = cin;
  c.cout = cout;
  c.k = k;
  c.dilation = d;
  c.pad = d * (k - 1) / 2;
  c.w.resize(size_t(cout) * cin * k);
  fill(c.w, rng);
  c.b.assign(size_t(cout), 0.01f);
  c.prepare();
  omni::tts::Act x(cin, t);
  fill(x.d, rng);
  omni::tts::Act y(cout, t);
  for (auto _ : state) {
    if (residual) {
      y = c.residual(x, nullptr, 0.1f);
    } else {
      y = c(x, nullptr, 0.1f);
    }
    benchmark::DoNotOptimize(y.d.data());
  }
  state.counters["Gflop/s"] = benchmark::Counter(2e-9 * cin * cout * k * t,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_TtsDecConv)
    ->ArgNames({"cin", "cout", "k", "d", "t", "res"})
    ->Args({192, 256, 7, 1, 313, 0})  // conv_pre
    ->Args({128, 128, 3, 1, 2504, 1})
    ->Args({128, 128, 3, 2, 2504, 1})
    ->Args({128, 128, 5, 2, 2504, 1})
    ->Args({128, 128, 5, 6, 2504, 1})
    ->Args({128, 128, 7, 3, 2504, 1})
    ->Args({128, 128, 7, 12, 2504, 1})
    ->Args({64, 64, 3, 1, 20032, 1})
    ->Args({64, 64, 3, 2, 20032, 1})
    ->Args({64, 64, 5, 2, 20032, 1})
    ->Args({64, 64, 5, 6, 20032, 1})
    ->Args({64, 64, 7, 3, 20032, 1})
    ->Args({64, 64, 7, 12, 20032, 1})
    ->Args({32, 32, 3, 1, 80128, 1})
    ->Args({32, 32, 3, 1, 8192, 1})
    ->Args({32, 32, 7, 3, 8192, 1})
    ->Args({32, 32, 3, 2, 80128, 1})
    ->Args({32, 32, 5, 2, 80128, 1})
    ->Args({32, 32, 5, 6, 80128, 1})
    ->Args({32, 32, 7, 3, 80128, 1})
    ->Args({32, 32, 7, 12, 80128, 1})
    ->Args({32, 1, 7, 1, 80128, 0})  // conv_post
    ->Unit(benchmark::kMicrosecond);

// ConvTranspose1d: cin, cout, k, stride, input length (padding (k - stride) / 2).
void BM_TtsDecUp(benchmark::State& state) {
  const int cin = int(state.range(0)), cout = int(state.range(1)), k = int(state.range(2));
  const int s = int(state.range(3)), t = int(state.range(4));
  std::mt19937 rng(1);
  omni::tts::ConvTranspose1d u;
  u.cin = cin;
  u.cout = cout;
  u.k = k;
  u.stride = s;
  u.pad = (k - s) / 2;
  u.w.resize(size_t(cin) * cout * k);
  fill(u.w, rng);
  u.b.assign(size_t(cout), 0.01f);
  u.prepare();
  omni::tts::Act x(cin, t);
  fill(x.d, rng);
  for (auto _ : state) {
    const omni::tts::Act y = u(x, nullptr, 0.1f);
    benchmark::DoNotOptimize(y.d.data());
  }
  state.counters["Gflop/s"] = benchmark::Counter(2e-9 * cin * cout * k * t,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_TtsDecUp)
    ->ArgNames({"cin", "cout", "k", "s", "t"})
    ->Args({256, 128, 16, 8, 313})
    ->Args({128, 64, 16, 8, 2504})
    ->Args({64, 32, 8, 4, 20032})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
