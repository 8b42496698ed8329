// omni-gen: writes random-weight models of real architectures and shapes (GGUF language models,
// whisper.cpp ggml speech models, Piper VITS voices) so tests and benchmarks never download
// anything.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "core/error.h"
#include "llm_gen.h"
#include "mmproj_gen.h"
#include "piper_gen.h"
#include "whisper_gen.h"

int main(int argc, char** argv) {
  using namespace omni::gen;
  CLI::App app{"omni-gen: random-weight model generator"};
  app.require_subcommand(1);

  auto* llm = app.add_subcommand("llm", "write a GGUF language model (llama, qwen2, qwen3)");
  std::string preset_name, out;
  LlmShape shape;
  LlmGenOptions opts;
  llm->add_option("--preset", preset_name, "a real shape: qwen2-0.5b, qwen3-0.6b, llama-1b, tiny-llama, tiny-qwen2, tiny-qwen3");
  llm->add_option("--arch", shape.arch, "llama | qwen2 | qwen3");
  llm->add_option("--layers", shape.n_layer);
  llm->add_option("--embd", shape.n_embd);
  llm->add_option("--heads", shape.n_head);
  llm->add_option("--kv-heads", shape.n_head_kv);
  llm->add_option("--head-dim", shape.head_dim, "0: n_embd / heads");
  llm->add_option("--ff", shape.n_ff);
  llm->add_option("--vocab", shape.n_vocab, "vocab rows (0: the tokenizer's size)");
  llm->add_option("--ctx", shape.n_ctx);
  llm->add_option("--rope-base", shape.rope_freq_base);
  llm->add_option("--rms-eps", shape.rms_eps);
  llm->add_flag("--tied,!--untied", shape.tied_embeddings, "tie output to token_embd");
  llm->add_option("--vocab-from", opts.vocab_from, "GGUF whose tokenizer is copied")->required();
  llm->add_option("--type", opts.type, "f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_K q6_K q4_K_M");
  llm->add_flag("--pure", opts.pure, "every matrix exactly --type (no llama-quantize mix)");
  llm->add_option("--seed", opts.seed);
  llm->add_option("--std", opts.stddev, "weight standard deviation");
  llm->add_option("--name", opts.name, "general.name");
  llm->add_option("-o,--output", out, "output .gguf")->required();
  llm->callback([&] {
    if (!preset_name.empty()) {
      auto p = llm_preset(preset_name);
      if (!p) throw omni::Error("unknown preset '" + preset_name + "'");
      // Explicit flags override the preset's values.
      LlmShape s = *p;
      if (llm->count("--arch")) s.arch = shape.arch;
      if (llm->count("--layers")) s.n_layer = shape.n_layer;
      if (llm->count("--embd")) s.n_embd = shape.n_embd;
      if (llm->count("--heads")) s.n_head = shape.n_head;
      if (llm->count("--kv-heads")) s.n_head_kv = shape.n_head_kv;
      if (llm->count("--head-dim")) s.head_dim = shape.head_dim;
      if (llm->count("--ff")) s.n_ff = shape.n_ff;
      if (llm->count("--vocab")) s.n_vocab = shape.n_vocab;
      if (llm->count("--ctx")) s.n_ctx = shape.n_ctx;
      if (llm->count("--rope-base")) s.rope_freq_base = shape.rope_freq_base;
      if (llm->count("--rms-eps")) s.rms_eps = shape.rms_eps;
      if (llm->count("--tied") || llm->count("--untied")) s.tied_embeddings = shape.tied_embeddings;
      shape = s;
    }
    if (opts.name.empty() && !preset_name.empty()) opts.name = preset_name + "-random";
    generate_llm(shape, opts, out);
  });

  auto* wh = app.add_subcommand("whisper", "write a whisper.cpp ggml speech model");
  std::string wpreset, wout;
  WhisperShape ws;
  WhisperGenOptions wopts;
  wh->add_option("--preset", wpreset, "whisper-tiny, -base, -small, -medium, -large-v3, -large-v3-turbo (+ .en)");
  wh->add_option("--vocab", ws.n_vocab);
  wh->add_option("--audio-ctx", ws.n_audio_ctx);
  wh->add_option("--audio-state", ws.n_audio_state);
  wh->add_option("--audio-heads", ws.n_audio_head);
  wh->add_option("--audio-layers", ws.n_audio_layer);
  wh->add_option("--text-ctx", ws.n_text_ctx);
  wh->add_option("--text-state", ws.n_text_state);
  wh->add_option("--text-heads", ws.n_text_head);
  wh->add_option("--text-layers", ws.n_text_layer);
  wh->add_option("--mels", ws.n_mels, "80 or 128");
  wh->add_option("--vocab-from", wopts.vocab_from, "whisper ggml file whose vocabulary is copied")->required();
  wh->add_option("--type", wopts.type, "f32 f16 q8_0 q5_0 q5_1 q4_0 q4_1");
  wh->add_option("--seed", wopts.seed);
  wh->add_option("-o,--output", wout, "output .bin")->required();
  wh->callback([&] {
    if (!wpreset.empty()) {
      auto p = whisper_preset(wpreset);
      if (!p) throw omni::Error("unknown whisper preset '" + wpreset + "'");
      WhisperShape s = *p;
      if (wh->count("--vocab")) s.n_vocab = ws.n_vocab;
      if (wh->count("--audio-ctx")) s.n_audio_ctx = ws.n_audio_ctx;
      if (wh->count("--audio-state")) s.n_audio_state = ws.n_audio_state;
      if (wh->count("--audio-heads")) s.n_audio_head = ws.n_audio_head;
      if (wh->count("--audio-layers")) s.n_audio_layer = ws.n_audio_layer;
      if (wh->count("--text-ctx")) s.n_text_ctx = ws.n_text_ctx;
      if (wh->count("--text-state")) s.n_text_state = ws.n_text_state;
      if (wh->count("--text-heads")) s.n_text_head = ws.n_text_head;
      if (wh->count("--text-layers")) s.n_text_layer = ws.n_text_layer;
      if (wh->count("--mels")) s.n_mels = ws.n_mels;
      ws = s;
    }
    generate_whisper(ws, wopts, wout);
  });

  auto* mm = app.add_subcommand("mmproj", "write a GGUF vision encoder + projector (mmproj)");
  std::string mpreset, mout;
  MmprojGenOptions mopts;
  int mm_layers = 0;
  uint32_t mm_preproc = 0;
  mm->add_option("--preset", mpreset, "smolvlm-256m | llava15-7b")->required();
  mm->add_option("--layers", mm_layers, "override the ViT layer count (smaller test files)");
  mm->add_option("--preproc-size", mm_preproc,
                 "idefics3: longest edge of the tiled image (default 4 x image size; "
                 "= image size gives 1 tile + the global image)");
  mm->add_option("--type", mopts.type, "f32 f16 q8_0 (default f16)");
  mm->add_option("--seed", mopts.seed);
  mm->add_option("-o,--output", mout, "output .gguf")->required();
  mm->callback([&] {
    auto p = mmproj_preset(mpreset);
    if (!p) throw omni::Error("unknown mmproj preset '" + mpreset + "'");
    if (mm->count("--layers")) p->n_layer = static_cast<uint32_t>(mm_layers);
    if (mm->count("--preproc-size")) p->preproc_image_size = mm_preproc;
    if (mopts.name.empty()) mopts.name = mpreset + "-random";
    generate_mmproj(*p, mopts, mout);
  });

  auto* pv =
      app.add_subcommand("piper", "write a Piper (VITS) voice resized from a template voice");
  std::string pout;
  PiperShape ps;
  PiperGenOptions popts;
  pv->add_option("--from", popts.from, "template voice .onnx (single speaker, .onnx.json beside)")
      ->required();
  pv->add_option("--hidden", ps.hidden, "hidden = inter channels (medium 192)");
  pv->add_option("--filter", ps.filter, "encoder FFN channels (medium 768)");
  pv->add_option("--decoder", ps.decoder, "decoder initial channels (medium 256)");
  pv->add_option("--seed", popts.seed);
  pv->add_option("-o,--output", pout, "output .onnx (+ .onnx.json)")->required();
  pv->callback([&] { generate_piper(ps, popts, pout); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const omni::Error& e) {
    std::fprintf(stderr, "omni-gen: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
