#include "llm/generate.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "core/error.h"
#include "llm/unicode.h"

namespace omni::llm {
namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Length of the longest suffix of `text` that is a proper prefix of some stop string: that
// much must be held back, since the next token may complete the stop string.
size_t held_back(std::string_view text, const std::vector<std::string>& stops) {
  size_t hold = 0;
  for (const auto& s : stops) {
    for (size_t n = std::min(s.size() - 1, text.size()); n > hold; --n) {
      if (text.substr(text.size() - n) == std::string_view(s).substr(0, n)) {
        hold = n;
        break;
      }
    }
  }
  return hold;
}

}  // namespace

void check_prompt_text(std::string_view text, std::string_view what) {
  if (text.empty()) throw Error(std::string(what) + " is empty");
  const size_t at = unicode::invalid_utf8_at(text);
  if (at != std::string_view::npos) {
    char byte[8];
    std::snprintf(byte, sizeof byte, "0x%02x", static_cast<unsigned>(static_cast<uint8_t>(text[at])));
    throw Error(std::string(what) + " is not valid UTF-8: byte " + byte + " at offset " +
                std::to_string(at) + " does not start a well-formed sequence");
  }
}

GenerateResult generate(Context& ctx, std::span<const int32_t> prompt, const GenerateOptions& opts,
                        const OnText& on_text) {
  return generate(ctx, Prompt(prompt), opts, on_text);
}

GenerateResult generate(Context& ctx, const Prompt& prompt, const GenerateOptions& opts,
                        const OnText& on_text) {
  if (prompt.empty()) throw Error("generate: the prompt is empty");
  if (prompt.size() > ctx.n_ctx()) {
    throw Error("the prompt has " + std::to_string(prompt.size()) +
                " positions, more than the context size " + std::to_string(ctx.n_ctx()));
  }
  std::vector<std::string> stops;
  for (const auto& s : opts.stop) {
    if (!s.empty()) stops.push_back(s);
  }
  const Vocab& vocab = ctx.model().vocab();
  GenerateResult r;
  const auto t0 = std::chrono::steady_clock::now();
  const uint32_t kept = ctx.reuse_prefix(prompt);
  r.timings.reused_tokens = static_cast<int>(kept);
  r.timings.prompt_tokens = static_cast<int>(prompt.size() - kept);
  Prompt todo;
  todo.append(prompt, kept);
  auto logits = ctx.eval(todo);
  r.timings.prompt_ms = ms_since(t0);

  Sampler sampler(opts.sampling);
  StreamingDetokenizer detok(vocab);
  std::vector<float> scratch;
  std::string pending;  // decoded text not yet handed out (may start a stop string)
  const auto t1 = std::chrono::steady_clock::now();
  r.finish_reason = "length";
  bool stop_string_hit = false;
  for (int i = 0; i < opts.max_tokens; ++i) {
    int32_t tok;
    if (sampler.greedy()) {
      tok = argmax(logits);
    } else {
      scratch.assign(logits.begin(), logits.end());
      tok = sampler.sample(scratch, ctx.history());
    }
    r.tokens.push_back(tok);
    if (!opts.ignore_eos && vocab.is_eog(tok)) {
      r.finish_reason = "stop";
      break;
    }
    pending += detok.push(tok);
    bool stopped = false;
    for (const auto& s : stops) {
      const size_t at = pending.find(s);
      if (at != std::string::npos) {
        pending.resize(at);
        stopped = true;
      }
    }
    const size_t hold = stopped ? 0 : held_back(pending, stops);
    if (pending.size() > hold) {
      const std::string out = pending.substr(0, pending.size() - hold);
      pending.erase(0, pending.size() - hold);
      r.text += out;
      if (on_text && !on_text(out)) {
        r.finish_reason = "cancelled";
        break;
      }
    }
    if (stopped) {
      r.finish_reason = "stop";
      stop_string_hit = true;
      break;
    }
    if (i + 1 == opts.max_tokens) break;
    if (ctx.n_past() >= ctx.n_ctx()) {
      const uint32_t n = ctx.n_past(), keep = std::min(opts.n_keep, n);
      const uint32_t discard = (n - keep) / 2;
      if (!opts.context_shift || discard == 0) break;  // finish with "length"
      ctx.shift(keep, discard);
      ++r.context_shifts;
    }
    logits = ctx.eval(std::span<const int32_t>(&tok, 1));
  }
  if (r.finish_reason != "cancelled" && !stop_string_hit) {
    const std::string rest = pending + detok.flush();
    r.text += rest;
    if (on_text && !rest.empty()) on_text(rest);
  }
  r.timings.generated_tokens = static_cast<int>(r.tokens.size());
  r.timings.generate_ms = ms_since(t1);
  return r;
}

}  // namespace omni::llm
