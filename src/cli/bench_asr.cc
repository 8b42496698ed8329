// `omni bench asr -m MODEL [-t THREADS]`: encoder time for a 30 s window and decoder tokens/s.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <span>
#include <thread>
#include <memory>
#include <string>
#include <vector>

#include "asr/audio_io.h"
#include "asr/mel.h"
#include "asr/resample.h"
#include "asr/whisper_forward.h"
#include "asr/whisper_stream.h"
#include "cli/command.h"
#include "core/error.h"
#include "core/thread_pool.h"

namespace omni::cli {
namespace {

struct BenchAsrArgs {
  std::string model;
  int threads = 0;
  int tokens = 64;
  bool stream = false;
  std::vector<std::string> audio;
  double step_s = 0.5;
  double tokens_per_s = 4.0;
  bool agreement = false;
  bool no_timestamps = false;
};

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

// --stream: feeds AUDIO in 100 ms chunks at real-time pace and reports, per partial update, the
// delay from the arrival of the newest chunk it covers to its emission.
void run_stream(const BenchAsrArgs& a) {
  if (a.audio.size() != 1) throw Error("bench asr --stream needs one --audio FILE");
  const asr::Audio in = asr::to_whisper_input(asr::load_audio_file(a.audio[0]));
  asr::Transcriber tr(a.model, a.threads);
  asr::StreamingOptions so;
  so.step_s = a.step_s;
  so.tokens_per_s = a.tokens_per_s;
  so.transcribe.no_timestamps = a.no_timestamps;
  std::vector<double> lat, comp;
  int skipped = 0;
  asr::StreamingTranscriber st(tr, so, [&](const asr::Partial& p) {
    if (p.final) return;
    lat.push_back(p.latency_ms);
    comp.push_back(p.compute_ms);
    skipped += p.steps_skipped;
  });
  const std::span<const float> pcm(in.samples);
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < pcm.size(); i += 1600) {
    std::this_thread::sleep_until(start + std::chrono::milliseconds(i / 16));
    st.feed(pcm.subspan(i, std::min<size_t>(1600, pcm.size() - i)));
  }
  const auto t0 = std::chrono::steady_clock::now();
  const std::string text = st.finish();
  const double final_ms = ms_since(t0);
  if (lat.empty()) throw Error("bench asr --stream: audio shorter than one step");
  auto sorted = lat;
  std::sort(sorted.begin(), sorted.end());
  double sum = 0, csum = 0;
  for (double v : lat) sum += v;
  for (double v : comp) csum += v;
  std::printf("model: %s, threads %d, step %.2f s, audio %.2f s, %zu partials, %d steps skipped, "
              "token budget %.1f/s + %d\n",
              a.model.c_str(), a.threads, a.step_s, static_cast<double>(pcm.size()) / 16000.0,
              lat.size(), skipped, so.tokens_per_s, so.token_margin);
  std::printf("partial latency ms: mean %.1f  p50 %.1f  p90 %.1f  max %.1f  (compute mean %.1f)\n",
              sum / static_cast<double>(lat.size()), sorted[sorted.size() / 2],
              sorted[sorted.size() * 9 / 10], sorted.back(), csum / static_cast<double>(comp.size()));
  std::printf("final pass after end of audio: %.1f ms\ntext: %s\n", final_ms, text.c_str());
}

std::vector<int32_t> token_ids(const asr::Transcript& t) {
  std::vector<int32_t> v;
  for (const auto& s : t.segments) {
    for (const auto& tok : s.tokens) v.push_back(tok.id);
  }
  return v;
}

// Longest common subsequence length (token lists of at most a few hundred ids).
size_t lcs(const std::vector<int32_t>& x, const std::vector<int32_t>& y) {
  std::vector<size_t> prev(y.size() + 1, 0), cur(y.size() + 1, 0);
  for (size_t i = 1; i <= x.size(); ++i) {
    for (size_t j = 1; j <= y.size(); ++j) {
      cur[j] = x[i - 1] == y[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], cur[j - 1]);
    }
    std::swap(prev, cur);
  }
  return prev[y.size()];
}

// --agreement: the accuracy cost of a reduced audio context. Each clip is decoded with the full
// 30 s window and with audio_ctx = the frames the clip covers (what a streaming step does);
// reports the common prefix of the two token sequences and LCS / length of the full one.
void run_agreement(const BenchAsrArgs& a) {
  if (a.audio.empty()) throw Error("bench asr --agreement needs --audio FILE...");
  asr::Transcriber tr(a.model, a.threads);
  asr::TranscribeOptions full;
  full.no_timestamps = a.no_timestamps;
  std::printf("%-44s %8s %6s %6s %7s %9s %s\n", "clip", "audio_ctx", "full", "reduced",
              "prefix", "lcs/full", "ms full / reduced");
  for (const auto& path : a.audio) {
    const asr::Audio in = asr::to_whisper_input(asr::load_audio_file(path));
    asr::TranscribeOptions red = full;
    red.audio_ctx = static_cast<int>((in.samples.size() + 319) / 320);
    auto t0 = std::chrono::steady_clock::now();
    const auto f = token_ids(tr.transcribe_16k(in.samples, full));
    const double full_ms = ms_since(t0);
    t0 = std::chrono::steady_clock::now();
    const auto r = token_ids(tr.transcribe_16k(in.samples, red));
    const double red_ms = ms_since(t0);
    size_t prefix = 0;
    while (prefix < f.size() && prefix < r.size() && f[prefix] == r[prefix]) ++prefix;
    const std::string name = path.substr(path.find_last_of('/') + 1);
    std::printf("%-44s %8d %6zu %6zu %7zu %8.1f%% %.0f / %.0f\n", name.c_str(), red.audio_ctx,
                f.size(), r.size(), prefix,
                f.empty() ? 100.0 : 100.0 * static_cast<double>(lcs(f, r)) / f.size(), full_ms,
                red_ms);
  }
}

void run(const BenchAsrArgs& a) {
  if (a.stream) return run_stream(a);
  if (a.agreement) return run_agreement(a);
  const auto model = asr::WhisperModel::load(a.model);
  ThreadPool pool(a.threads);
  const auto& hp = model->hparams();
  // A deterministic 30 s input (a chirp): timing does not depend on content.
  std::vector<float> pcm(16000 * 30);
  for (size_t i = 0; i < pcm.size(); ++i) {
    const double t = static_cast<double>(i) / 16000.0;
    pcm[i] = static_cast<float>(0.3 * std::sin(2 * 3.14159265 * (200 + 40 * t) * t));
  }
  asr::LogMelOptions mo;
  mo.pool = &pool;
  auto t0 = std::chrono::steady_clock::now();
  const asr::LogMel mel = asr::log_mel_spectrogram(pcm, model->mel_filters(), mo);
  const double mel_ms = ms_since(t0);
  t0 = std::chrono::steady_clock::now();
  const auto enc = asr::whisper_encode(*model, mel, 0, hp.n_audio_ctx, pool);
  const double enc_ms = ms_since(t0);

  asr::WhisperDecoder dec(*model, pool);
  t0 = std::chrono::steady_clock::now();
  dec.set_audio(enc, hp.n_audio_ctx);
  const double cross_ms = ms_since(t0);
  std::vector<float> logits;
  int32_t tok = model->tokens().sot;
  const int n = std::min(a.tokens, hp.n_text_ctx - 1);
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    dec.decode(&tok, 1, logits);
    tok = static_cast<int32_t>(i % 1000 + 1);  // ordinary text tokens
  }
  const double dec_ms = ms_since(t0);
  std::printf("model: %s (%d layers, state %d, %s)\n", a.model.c_str(), hp.n_audio_layer,
              hp.n_audio_state, std::string(dtype_name(hp.weight_type())).c_str());
  std::printf("threads: %d\n", pool.size());
  std::printf("log-mel 30 s:  %8.1f ms\n", mel_ms);
  std::printf("encoder 30 s:  %8.1f ms\n", enc_ms);
  std::printf("cross K/V:     %8.1f ms\n", cross_ms);
  std::printf("decoder:       %8.1f tokens/s (%d tokens, %.2f ms/token)\n", n * 1000.0 / dec_ms,
              n, dec_ms / n);
}

const RegisterCommand kRegister([](CLI::App& app) {
  CLI::App* bench = command_group(app, "bench", "Speed measurements of the engines");
  auto args = std::make_shared<BenchAsrArgs>();
  CLI::App* cmd = bench->add_subcommand("asr", "Whisper encoder / decoder speed");
  cmd->add_option("-m,--model", args->model, "Whisper model (whisper.cpp ggml .bin)")->required();
  cmd->add_option("-t,--threads", args->threads, "Threads (default: all cores)")
      ->check(CLI::Range(1, 256));
  cmd->add_option("-n,--tokens", args->tokens, "Decoder steps to time")->check(CLI::Range(1, 440));
  cmd->add_flag("--stream", args->stream, "Streaming partial latency at real-time feed (--audio)");
  cmd->add_option("--audio", args->audio, "Audio file(s) for --stream / --agreement");
  cmd->add_flag("--agreement", args->agreement,
                "Token agreement of reduced audio_ctx vs full-window decoding on --audio clips");
  cmd->add_option("--tokens-per-s", args->tokens_per_s,
                  "Streaming token budget per second of buffer (0: no cap)")
      ->check(CLI::Range(0.0, 1000.0));
  cmd->add_flag("--no-timestamps", args->no_timestamps, "Decode without timestamp tokens");
  cmd->add_option("--step", args->step_s, "Streaming step in seconds")->check(CLI::Range(0.05, 30.0));
  cmd->callback([args] { run(*args); });
});

}  // namespace
}  // namespace omni::cli
