// Log-mel spectrogram of 30 s of 16 kHz audio (one Whisper window), as whisper.cpp computes it
// in whisper_pcm_to_mel: 3000 frames with an FFT plus the 30 s of appended zeros.
#include <benchmark/benchmark.h>

#include <random>

#include "asr/fft.h"
#include "asr/mel.h"
#include "core/thread_pool.h"

namespace {

std::vector<float> noise_seconds(double secs) {
  std::mt19937 rng(1);
  std::normal_distribution<float> g(0.0f, 0.1f);
  std::vector<float> x(static_cast<size_t>(secs * 16000));
  for (auto& v : x) v = g(rng);
  return x;
}

void BM_LogMel30s(benchmark::State& state) {
  const auto x = noise_seconds(30);
  const auto filters = omni::asr::slaney_mel_filters(static_cast<int>(state.range(1)));
  omni::ThreadPool pool(static_cast<int>(state.range(0)));
  omni::asr::LogMelOptions opt;
  opt.pool = &pool;
  for (auto _ : state) {
    auto mel = omni::asr::log_mel_spectrogram(x, filters, opt);
    benchmark::DoNotOptimize(mel.data.data());
  }
  state.counters["audio_x_realtime"] = benchmark::Counter(
      30.0 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LogMel30s)
    ->ArgNames({"threads", "n_mel"})
    ->Args({1, 80})
    ->Args({2, 80})
    ->Args({1, 128})
    ->Args({2, 128})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_WhisperFft400(benchmark::State& state) {
  omni::asr::WhisperFft fft(400);
  const auto x = noise_seconds(0.025);
  std::vector<float> re(201), im(201);
  for (auto _ : state) {
    fft.transform(x.data(), re.data(), im.data());
    benchmark::DoNotOptimize(re.data());
  }
}
BENCHMARK(BM_WhisperFft400);

}  // namespace
