// `omni bench asr -m MODEL [-t THREADS]`: encoder time for a 30 s window and decoder tokens/s.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "asr/mel.h"
#include "asr/whisper_forward.h"
#include "cli/command.h"
#include "core/thread_pool.h"

namespace omni::cli {
namespace {

struct BenchAsrArgs {
  std::string model;
  int threads = 0;
  int tokens = 64;
};

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

void run(const BenchAsrArgs& a) {
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
  cmd->callback([args] { run(*args); });
});

}  // namespace
}  // namespace omni::cli
