// Text generation over a Context: prompt-prefix reuse, sampling, stop strings, EOG tokens,
// max tokens, streaming valid UTF-8 text, cancellation, timings.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llm/model.h"
#include "llm/sampler.h"

namespace omni::llm {

struct GenerateOptions {
  int max_tokens = 256;
  SamplingParams sampling;
  std::vector<std::string> stop;  // generation ends before the first occurrence of any
  bool ignore_eos = false;        // keep going past end-of-generation tokens
  // When the context fills during generation: true shifts it (keeps the first n_keep positions,
  // drops the older half of the rest, see Context::shift) and goes on; false finishes with
  // "length".
  bool context_shift = true;
  uint32_t n_keep = 1;  // e.g. the BOS token, or a system prompt's length
};

struct Timings {
  int prompt_tokens = 0;    // evaluated (not reused) prompt tokens
  int reused_tokens = 0;    // prompt tokens whose KV cache was kept from the previous call
  double prompt_ms = 0;
  int generated_tokens = 0;
  double generate_ms = 0;   // from the first sampled token to the end
  double prompt_tokens_per_s() const { return prompt_ms > 0 ? prompt_tokens * 1000.0 / prompt_ms : 0; }
  double generate_tokens_per_s() const {
    return generate_ms > 0 ? generated_tokens * 1000.0 / generate_ms : 0;
  }
};

struct GenerateResult {
  std::vector<int32_t> tokens;  // generated ids (a stop string's tokens included)
  std::string text;             // generated text, cut before a stop string
  std::string finish_reason;    // "stop" (EOG token or stop string), "length", "cancelled"
  int context_shifts = 0;       // times the context was shifted to make room
  Timings timings;
};

// Called with each new piece of valid UTF-8 text; return false to cancel generation.
using OnText = std::function<bool(std::string_view text)>;

// Throws omni::Error when a prompt or message text is empty or not valid UTF-8 (naming the
// offending byte and its offset), before it reaches the tokenizer, which would otherwise turn
// stray bytes into byte tokens silently.
void check_prompt_text(std::string_view text, std::string_view what = "the prompt");

// Continues `ctx` with `prompt` (the KV cache of a common prefix with the context's history is
// reused) and generates. Throws omni::Error if the prompt is empty or does not fit the context;
// when the context fills during generation it shifts or finishes with "length" (see
// GenerateOptions::context_shift).
GenerateResult generate(Context& ctx, std::span<const int32_t> prompt, const GenerateOptions& opts,
                        const OnText& on_text = {});

// The same for a prompt of tokens and embedding rows (e.g. text around an image). Reuse stops at
// the first position whose token or embedding row differs from the history.
GenerateResult generate(Context& ctx, const Prompt& prompt, const GenerateOptions& opts,
                        const OnText& on_text = {});

}  // namespace omni::llm
