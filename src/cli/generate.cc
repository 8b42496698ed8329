// omni generate -m MODEL -p PROMPT -n N [--temp T] [--seed S] [-t THREADS] [-c CTX] [--json]
//                [--mem-report]
//   Streams the continuation of PROMPT; with --json prints
//   {"tokens":[...],"text":"...","finish_reason":"...","timings":{...}} instead.
// omni logits -m MODEL -p PROMPT [--top K] --json
//   {"top":[[id,logit],...]} for the last prompt position (ties by id).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>

#include "cli/command.h"
#include "core/error.h"
#include "core/mem_stats.h"
#include "core/thread_pool.h"
#include "llm/generate.h"
#include "llm/model.h"

namespace omni::cli {
namespace {

struct ModelFlags {
  std::string model;
  std::string prompt;
  int threads = 0;
  uint32_t ctx = 0;
  bool json = false;
  bool f32_cache = false;
};

void add_model_flags(CLI::App* cmd, ModelFlags& f) {
  cmd->add_option("-m,--model", f.model, "GGUF model file")->required();
  cmd->add_option("-p,--prompt", f.prompt, "prompt text (special tokens like <|im_start|> are parsed)")
      ->required();
  cmd->add_option("-t,--threads", f.threads, "threads (default: all cores)");
  cmd->add_option("-c,--ctx-size,--ctx", f.ctx,
                  "context size in tokens = KV cache length (default: the model's, at most 4096)");
  cmd->add_flag("--kv-f32", f.f32_cache, "keep the KV cache in f32 instead of f16");
  cmd->add_flag("--json", f.json, "print one JSON object");
}

std::vector<int32_t> tokenize_prompt(const llm::Model& model, const std::string& prompt) {
  llm::check_prompt_text(prompt);
  auto tokens = model.vocab().tokenize(prompt, /*add_special=*/true, /*parse_special=*/true);
  if (tokens.empty()) throw Error("the prompt tokenizes to nothing");
  return tokens;
}

struct GenerateFlags : ModelFlags {
  int n = 128;
  float temp = 0.8f;
  int64_t seed = -1;
  int top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  std::vector<std::string> stop;
  bool ignore_eos = false;
  bool mem_report = false;
};

void run_generate(const GenerateFlags& f) {
  // --mem-report: resident memory after each stage, to account for it against the model file.
  auto report = [&](const char* stage) {
    if (f.mem_report) std::fprintf(stderr, "memory %-14s %s\n", stage, mem_stats_line(mem_stats()).c_str());
  };
  report("start");
  ThreadPool pool(f.threads);
  auto model = llm::Model::load(f.model);
  report("model loaded");
  const auto prompt = tokenize_prompt(*model, f.prompt);
  llm::Context ctx(model, {.n_ctx = f.ctx, .kv_type = f.f32_cache ? llm::KvType::kF32 : llm::KvType::kF16,
                           .pool = &pool});
  report("context");
  llm::GenerateOptions opts;
  opts.max_tokens = f.n;
  opts.sampling.temperature = f.temp;
  opts.sampling.top_k = f.top_k;
  opts.sampling.top_p = f.top_p;
  opts.sampling.min_p = f.min_p;
  opts.sampling.repeat_penalty = f.repeat_penalty;
  opts.sampling.seed = f.seed >= 0 ? static_cast<uint64_t>(f.seed) : std::random_device{}();
  opts.stop = f.stop;
  opts.ignore_eos = f.ignore_eos;
  bool first = true;
  const llm::OnText stream = [&](std::string_view t) {
    if (first) report("first token");
    first = false;
    if (!f.json) {
      std::fwrite(t.data(), 1, t.size(), stdout);
      std::fflush(stdout);
    }
    return true;
  };
  const auto r = llm::generate(ctx, prompt, opts, stream);
  report("end");
  if (f.json) {
    nlohmann::json j;
    j["tokens"] = r.tokens;
    j["text"] = r.text;
    j["finish_reason"] = r.finish_reason;
    j["prompt_tokens"] = prompt;
    j["timings"] = {{"prompt_tokens", r.timings.prompt_tokens},
                    {"prompt_ms", r.timings.prompt_ms},
                    {"prompt_tokens_per_s", r.timings.prompt_tokens_per_s()},
                    {"generated_tokens", r.timings.generated_tokens},
                    {"generate_ms", r.timings.generate_ms},
                    {"generate_tokens_per_s", r.timings.generate_tokens_per_s()}};
    const std::string out = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
  } else {
    std::printf("\n");
    std::fprintf(stderr, "prompt: %d tokens, %.1f tok/s; generated: %d tokens, %.1f tok/s (%s)\n",
                 r.timings.prompt_tokens, r.timings.prompt_tokens_per_s(), r.timings.generated_tokens,
                 r.timings.generate_tokens_per_s(), r.finish_reason.c_str());
  }
}

struct LogitsFlags : ModelFlags {
  int top = 10;
};

void run_logits(const LogitsFlags& f) {
  ThreadPool pool(f.threads);
  auto model = llm::Model::load(f.model);
  const auto prompt = tokenize_prompt(*model, f.prompt);
  llm::Context ctx(model, {.n_ctx = f.ctx, .kv_type = f.f32_cache ? llm::KvType::kF32 : llm::KvType::kF16,
                           .pool = &pool});
  if (prompt.size() > ctx.n_ctx()) throw Error("the prompt is longer than the context size");
  const auto logits = ctx.eval(prompt);
  std::vector<int32_t> ids(logits.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
  const size_t k = std::min<size_t>(static_cast<size_t>(std::max(f.top, 1)), ids.size());
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k), ids.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  nlohmann::json top = nlohmann::json::array();
  for (size_t i = 0; i < k; ++i) top.push_back({ids[i], logits[ids[i]]});
  nlohmann::json j;
  j["top"] = top;
  j["prompt_tokens"] = prompt;
  if (f.json) {
    std::printf("%s\n", j.dump().c_str());
  } else {
    for (size_t i = 0; i < k; ++i) {
      std::printf("%8d %12.6f %s\n", ids[i], logits[ids[i]],
                  model->vocab().token_to_piece(ids[i], true).c_str());
    }
  }
}

const RegisterCommand reg_generate([](CLI::App& app) {
  auto f = std::make_shared<GenerateFlags>();
  auto* cmd = app.add_subcommand("generate", "Continue a prompt with a GGUF language model");
  add_model_flags(cmd, *f);
  cmd->add_option("-n,--n-predict", f->n, "tokens to generate (default 128)");
  cmd->add_option("--temp", f->temp, "temperature; 0 = greedy (default 0.8)");
  cmd->add_option("--seed", f->seed, "sampling seed (default: random)");
  cmd->add_option("--top-k", f->top_k, "top-k (default 40, 0 = off)");
  cmd->add_option("--top-p", f->top_p, "top-p (default 0.95, 1 = off)");
  cmd->add_option("--min-p", f->min_p, "min-p (default 0.05, 0 = off)");
  cmd->add_option("--repeat-penalty", f->repeat_penalty, "repetition penalty (default 1 = off)");
  cmd->add_option("--stop", f->stop, "stop string (repeatable)");
  cmd->add_flag("--ignore-eos", f->ignore_eos, "do not stop at end-of-generation tokens");
  cmd->add_flag("--mem-report", f->mem_report,
                "print resident memory (anonymous / file-backed) after each stage to stderr");
  cmd->callback([f] { run_generate(*f); });
});

const RegisterCommand reg_logits([](CLI::App& app) {
  auto f = std::make_shared<LogitsFlags>();
  auto* cmd = app.add_subcommand("logits", "Top logits at the last position of a prompt");
  add_model_flags(cmd, *f);
  cmd->add_option("--top", f->top, "how many (default 10)");
  cmd->callback([f] { run_logits(*f); });
});

}  // namespace
}  // namespace omni::cli
