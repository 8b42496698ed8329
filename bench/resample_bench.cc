// Resampling 30 s of 48 kHz and 44.1 kHz audio to 16 kHz with each libsamplerate converter.
#include <benchmark/benchmark.h>

#include <cmath>

#include "asr/resample.h"

namespace {

void BM_ResampleTo16k(benchmark::State& state) {
  const int rate = static_cast<int>(state.range(0));
  const auto quality = static_cast<omni::asr::ResampleMethod>(state.range(1));
  omni::asr::Audio in;
  in.sample_rate = rate;
  in.samples.resize(static_cast<size_t>(rate) * 30);
  for (size_t i = 0; i < in.samples.size(); ++i) {
    in.samples[i] = static_cast<float>(0.3 * std::sin(0.01 * i) + 0.1 * std::sin(0.37 * i));
  }
  for (auto _ : state) {
    auto out = omni::asr::resample(in, 16000, quality);
    benchmark::DoNotOptimize(out.samples.data());
  }
  state.counters["audio_x_realtime"] = benchmark::Counter(
      30.0 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
// method: 0 own polyphase sinc, 1 libsamplerate best, 2 medium, 3 fastest
BENCHMARK(BM_ResampleTo16k)
    ->ArgNames({"rate", "method"})
    ->ArgsProduct({{48000, 44100, 8000}, {0, 1, 2, 3}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
