// Text-to-speech speed: real-time factor (compute seconds per audio second; lower is better) of
// our VITS engine on the refdata tiny voice (en2, "The quick brown fox ...") and on a
// random-weight voice of Piper's real "medium" shape, at 1 and 2 threads. Reads refdata from
// $OMNI_REFDATA or ../shared/refdata (run from the project root). The *File* benchmarks run the
// voice named by $OMNI_TTS_VOICE (e.g. a medium voice from `omni-gen piper`, the same file
// ONNX Runtime is timed on by scripts/bench/tts_vs_ort.sh).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "core/thread_pool.h"
#include "tts/vits.h"

namespace {

std::string refdata(const std::string& rel) {
  const char* env = std::getenv("OMNI_REFDATA");
  return std::string(env ? env : "../shared/refdata") + "/" + rel;
}

std::vector<int64_t> en2_ids() {
  std::ifstream f(refdata("tts/golden/en2.json"));
  return nlohmann::json::parse(f)["phoneme_ids"].get<std::vector<int64_t>>();
}

void run(benchmark::State& state, const omni::tts::VitsModel& model,
         const std::vector<int64_t>& ids) {
  omni::ThreadPool pool(static_cast<int>(state.range(0)));
  omni::tts::VitsOptions opt;
  opt.pool = &pool;
  double audio_seconds = 0;
  for (auto _ : state) {
    const auto audio = model.synthesize(ids, opt);
    audio_seconds = double(audio.size()) / 22050.0;
    benchmark::DoNotOptimize(audio.data());
  }
  state.counters["audio_s"] = audio_seconds;
  // time / (audio * iterations): the real-time factor.
  state.counters["RTF"] = benchmark::Counter(
      audio_seconds * double(state.iterations()),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_TtsTinyEn2(benchmark::State& state) {
  static const auto model = omni::tts::VitsModel::load(refdata("tts/models/tiny.onnx"));
  static const auto ids = en2_ids();
  run(state, model, ids);
}
BENCHMARK(BM_TtsTinyEn2)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_TtsMediumEn2(benchmark::State& state) {
  static const auto model = omni::tts::VitsModel::random(omni::tts::VitsShape{}, 1234);
  static const auto ids = en2_ids();
  run(state, model, ids);
}
BENCHMARK(BM_TtsMediumEn2)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)
    ->UseRealTime()->MinTime(2.0);

// Time to first audio: a 9-word sentence (en2) on the medium-shaped voice, decoder streamed
// in 32-frame chunks (~0.37 s of audio each); the clock stops at the first chunk.
void BM_TtsMediumFirstAudio(benchmark::State& state) {
  static const auto model = omni::tts::VitsModel::random(omni::tts::VitsShape{}, 1234);
  static const auto ids = en2_ids();
  omni::ThreadPool pool(static_cast<int>(state.range(0)));
  omni::tts::VitsOptions opt;
  opt.pool = &pool;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    double first = 0;
    model.synthesize_streaming(ids, opt, 32, [&](std::span<const float>, bool) {
      first = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      return false;
    });
    state.SetIterationTime(first);
  }
}
BENCHMARK(BM_TtsMediumFirstAudio)->ArgName("threads")->Arg(1)->Arg(2)
    ->Unit(benchmark::kMillisecond)->UseManualTime();

const omni::tts::VitsModel* file_model(benchmark::State& state) {
  static const char* path = std::getenv("OMNI_TTS_VOICE");
  static const auto model =
      path ? omni::tts::VitsModel::load(path) : omni::tts::VitsModel::random({}, 1);
  if (!path) {
    state.SkipWithError("set OMNI_TTS_VOICE to a Piper voice .onnx");
    return nullptr;
  }
  return &model;
}

void BM_TtsFileEn2(benchmark::State& state) {
  static const auto ids = en2_ids();
  if (const auto* model = file_model(state)) run(state, *model, ids);
}
BENCHMARK(BM_TtsFileEn2)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)
    ->UseRealTime()->MinTime(2.0);

// Time to first audio on the file voice, en2 (9 words): 32-frame chunks, the first one
// `first` frames long (16: what PiperVoice uses).
void BM_TtsFileFirstAudio(benchmark::State& state) {
  static const auto ids = en2_ids();
  const auto* model = file_model(state);
  if (!model) return;
  omni::ThreadPool pool(static_cast<int>(state.range(0)));
  omni::tts::VitsOptions opt;
  opt.pool = &pool;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    double first = 0;
    model->synthesize_streaming(
        ids, opt, 32,
        [&](std::span<const float>, bool) {
          first = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          return false;
        },
        static_cast<int>(state.range(1)));
    state.SetIterationTime(first);
  }
}
BENCHMARK(BM_TtsFileFirstAudio)->ArgNames({"threads", "first"})
    ->Args({1, 16})->Args({2, 16})->Args({1, 8})->Args({2, 8})->Args({1, 32})->Args({2, 32})
    ->Unit(benchmark::kMillisecond)->UseManualTime()->MinTime(1.0);

}  // namespace
