#include "llm/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

namespace omni::llm {

int32_t argmax(std::span<const float> logits) {
  // The answer of the serial scan (keep i when logits[i] > the best so far): the first index of
  // the largest non-NaN value, or 0 when logits[0] is NaN (nothing compares greater). Found as
  // the maximum in 16 independent lanes (`v > m ? v : m` skips NaN and compiles to one vector
  // max), then the first index holding it (+0 and -0 compare equal, as in the scan): two
  // streaming passes instead of a dependent compare per element over 150k-token vocabularies.
  const size_t n = logits.size();
  if (n == 0) return 0;
  const float* x = logits.data();
  if (std::isnan(x[0])) return 0;
  constexpr size_t kLanes = 16;
  float lane[kLanes];
  for (float& l : lane) l = x[0];
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (size_t j = 0; j < kLanes; ++j) lane[j] = x[i + j] > lane[j] ? x[i + j] : lane[j];
  }
  float m = x[0];
  for (const float l : lane) m = l > m ? l : m;
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  for (size_t k = 0; k < n; ++k) {
    if (x[k] == m) return static_cast<int32_t>(k);
  }
  return 0;
}

bool Sampler::greedy() const {
  const auto& p = params_;
  return p.temperature <= 0.0f && p.logit_bias.empty() && p.repeat_penalty == 1.0f &&
         p.frequency_penalty == 0.0f && p.presence_penalty == 0.0f;
}

Sampler::Sampler(SamplingParams params) : params_(std::move(params)), rng_(params_.seed) {}

void Sampler::apply_penalties(std::span<float> logits, std::span<const int32_t> history) const {
  const auto& p = params_;
  if (p.repeat_penalty == 1.0f && p.frequency_penalty == 0.0f && p.presence_penalty == 0.0f) return;
  size_t start = 0;
  if (p.repeat_last_n >= 0 && history.size() > static_cast<size_t>(p.repeat_last_n)) {
    start = history.size() - static_cast<size_t>(p.repeat_last_n);
  }
  std::unordered_map<int32_t, int> counts;
  for (size_t i = start; i < history.size(); ++i) ++counts[history[i]];
  for (const auto& [id, n] : counts) {
    if (id < 0 || static_cast<size_t>(id) >= logits.size()) continue;
    float& l = logits[id];
    if (p.repeat_penalty != 1.0f) l = l > 0 ? l / p.repeat_penalty : l * p.repeat_penalty;
    l -= static_cast<float>(n) * p.frequency_penalty + p.presence_penalty;
  }
}

int32_t Sampler::sample(std::span<float> logits, std::span<const int32_t> history) {
  const auto& p = params_;
  for (const auto& [id, bias] : p.logit_bias) {
    if (id >= 0 && static_cast<size_t>(id) < logits.size()) logits[id] += bias;
  }
  apply_penalties(logits, history);
  if (p.temperature <= 0.0f) return argmax(logits);

  cand_.clear();
  cand_.reserve(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    if (logits[i] > -std::numeric_limits<float>::infinity()) {
      cand_.push_back({static_cast<int32_t>(i), logits[i], 0.0f});
    }
  }
  if (cand_.empty()) return argmax(logits);  // everything banned: fall back deterministically
  auto by_logit = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  // top-k: a partial sort keeps this cheap for 150k-token vocabularies.
  size_t k = cand_.size();
  if (p.top_k > 0 && static_cast<size_t>(p.top_k) < k) k = static_cast<size_t>(p.top_k);
  std::partial_sort(cand_.begin(), cand_.begin() + static_cast<std::ptrdiff_t>(k), cand_.end(), by_logit);
  cand_.resize(k);

  auto softmax = [&](float temp) {
    const float mx = cand_.front().logit;
    double sum = 0;
    for (auto& c : cand_) {
      c.p = std::exp((c.logit - mx) / temp);
      sum += c.p;
    }
    for (auto& c : cand_) c.p = static_cast<float>(c.p / sum);
  };
  softmax(1.0f);
  if (p.top_p < 1.0f) {
    double cum = 0;
    size_t keep = cand_.size();
    for (size_t i = 0; i < cand_.size(); ++i) {
      cum += cand_[i].p;
      if (cum >= p.top_p) {
        keep = i + 1;
        break;
      }
    }
    cand_.resize(keep);
  }
  if (p.min_p > 0.0f) {
    const float threshold = cand_.front().p * p.min_p;
    size_t keep = 1;
    while (keep < cand_.size() && cand_[keep].p >= threshold) ++keep;
    cand_.resize(keep);
  }
  softmax(p.temperature);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double r = u(rng_);
  double cum = 0;
  for (const auto& c : cand_) {
    cum += c.p;
    if (r < cum) return c.id;
  }
  return cand_.back().id;
}

}  // namespace omni::llm
