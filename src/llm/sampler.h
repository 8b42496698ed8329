// Turns logits into the next token: logit bias, repetition/frequency/presence penalties, then
// greedy, or top-k → top-p → min-p → temperature → a seeded draw. Grammar-constrained output can
// later plug in as one more filter over the candidate set.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <utility>
#include <vector>

namespace omni::llm {

struct SamplingParams {
  float temperature = 0.8f;  // <= 0: greedy (argmax, ties to the lowest id)
  int top_k = 40;            // <= 0: off
  float top_p = 0.95f;       // >= 1: off
  float min_p = 0.05f;       // <= 0: off
  float repeat_penalty = 1.0f;  // 1: off; divides positive / multiplies negative logits
  int repeat_last_n = 64;       // window of past tokens the penalties look at (-1: all)
  float frequency_penalty = 0.0f;
  float presence_penalty = 0.0f;
  uint64_t seed = 0xC0FFEE;
  std::vector<std::pair<int32_t, float>> logit_bias;  // token id, added bias (-inf bans)
};

class Sampler {
 public:
  explicit Sampler(SamplingParams params);

  // `history`: tokens so far (prompt and generated), for the penalties. `logits` is modified.
  int32_t sample(std::span<float> logits, std::span<const int32_t> history);

  const SamplingParams& params() const { return params_; }
  // True when sample() is argmax of the logits as they are (no bias, no penalties): callers
  // may then take argmax() of their logits without a modifiable copy.
  bool greedy() const;

 private:
  struct Candidate {
    int32_t id;
    float logit;
    float p;
  };
  void apply_penalties(std::span<float> logits, std::span<const int32_t> history) const;

  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<Candidate> cand_;
};

// Argmax with ties resolved to the lowest id (llama.cpp's greedy sampler does the same).
int32_t argmax(std::span<const float> logits);

}  // namespace omni::llm
