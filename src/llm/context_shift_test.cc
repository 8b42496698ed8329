#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "llm/chat.h"
#include "llm/generate.h"
#include "llm/model.h"
#include "testing/refdata.h"

namespace omni::llm {
namespace {

std::vector<int32_t> some_tokens(const Model& m, size_t n) {
  std::vector<int32_t> t(n);
  const auto v = static_cast<uint32_t>(m.config().n_vocab);
  for (size_t i = 0; i < n; ++i) t[i] = static_cast<int32_t>((i * 7919u + 13u) % v);
  return t;
}

// Largest |a - b| over the largest |b|.
double rel_diff(std::span<const float> a, std::span<const float> b) {
  double d = 0, s = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    d = std::max(d, std::fabs(static_cast<double>(a[i]) - b[i]));
    s = std::max(s, std::fabs(static_cast<double>(b[i])));
  }
  return d / s;
}

// After a shift, the cache holds what a fresh evaluation of the kept tokens at their new
// positions would hold, where that does not depend on the dropped tokens: layer 0, whose keys are
// rope(Wk · norm(embedding), position) and whose values do not depend on the position. (Deeper
// layers saw the dropped tokens through attention, as in every context shift.) Then generation
// goes on from the shifted cache.
void expect_shift_matches_fresh(const char* file, KvType kv, double tol) {
  auto model = Model::load(testing::refdata(file));
  const auto toks = some_tokens(*model, 41);
  Context shifted(model, {.n_ctx = 48, .kv_type = kv});
  shifted.eval(std::span<const int32_t>(toks.data(), 40));
  shifted.shift(4, 16);
  ASSERT_EQ(shifted.n_past(), 24u);
  std::vector<int32_t> kept(shifted.history().begin(), shifted.history().end());
  EXPECT_TRUE(std::equal(kept.begin(), kept.begin() + 4, toks.begin()));
  EXPECT_TRUE(std::equal(kept.begin() + 4, kept.end(), toks.begin() + 20));
  Context fresh(model, {.n_ctx = 48, .kv_type = kv});
  fresh.eval(kept);
  const uint32_t KV = model->config().kv_dim();
  std::vector<float> ka(KV), va(KV), kb(KV), vb(KV), k_old(KV), v_old(KV);
  Context unshifted(model, {.n_ctx = 48, .kv_type = kv});
  unshifted.eval(std::span<const int32_t>(toks.data(), 40));
  for (uint32_t p = 0; p < 24; ++p) {
    shifted.kv_cache().load(0, p, ka.data(), va.data());
    fresh.kv_cache().load(0, p, kb.data(), vb.data());
    EXPECT_LT(rel_diff(ka, kb), tol) << file << " position " << p;
    EXPECT_EQ(va, vb) << file << " position " << p;
    if (p >= 4) {
      // The same token before the shift: rotated by 16 more positions, far from the fresh keys.
      unshifted.kv_cache().load(0, p + 16, k_old.data(), v_old.data());
      EXPECT_EQ(v_old, vb);
      EXPECT_GT(rel_diff(k_old, kb), 100 * tol) << file << " position " << p;
    }
  }
  const auto logits = shifted.eval(std::span<const int32_t>(&toks[40], 1));
  EXPECT_EQ(logits.size(), model->config().n_vocab);
  EXPECT_EQ(shifted.n_past(), 25u);
  for (float l : logits) ASSERT_TRUE(std::isfinite(l));
}

TEST(ContextShift, MatchesFreshEvaluationNeoxRope) {
  expect_shift_matches_fresh("llm/models/tiny-qwen2-rand-f32.gguf", KvType::kF32, 1e-5);
  expect_shift_matches_fresh("llm/models/tiny-qwen2-rand-f32.gguf", KvType::kF16, 2e-3);
}

TEST(ContextShift, MatchesFreshEvaluationAdjacentRope) {
  expect_shift_matches_fresh("llm/models/stories260K.gguf", KvType::kF32, 1e-5);
  expect_shift_matches_fresh("llm/models/stories260K.gguf", KvType::kF16, 2e-3);
}

TEST(ContextShift, RejectsARangeOutsideTheHistory) {
  auto model = Model::load(testing::refdata("llm/models/stories260K.gguf"));
  Context ctx(model, {.n_ctx = 32});
  ctx.eval(some_tokens(*model, 10));
  EXPECT_THROW(ctx.shift(4, 7), Error);
  EXPECT_THROW(ctx.shift(11, 0 + 1), Error);
  EXPECT_EQ(ctx.n_past(), 10u);
}

TEST(ContextShift, GenerationContinuesPastAFullContext) {
  auto model = Model::load(testing::refdata("llm/models/stories260K.gguf"));
  const std::vector<int32_t> prompt = model->vocab().tokenize("Once upon a time", true, false);
  GenerateOptions o;
  o.max_tokens = 80;
  o.sampling.temperature = 0;
  o.ignore_eos = true;
  Context ctx(model, {.n_ctx = 32});
  const auto r = generate(ctx, prompt, o);
  EXPECT_EQ(r.tokens.size(), 80u);
  EXPECT_GE(r.context_shifts, 2);
  EXPECT_EQ(r.finish_reason, "length");
  EXPECT_LE(ctx.n_past(), 32u);
  EXPECT_EQ(ctx.history()[0], prompt[0]);  // n_keep = 1 keeps BOS
  // Before the first shift the text is what an unshifted context produces.
  Context big(model, {.n_ctx = 128});
  const auto ref = generate(big, prompt, o);
  const size_t before = 32 - prompt.size() + 1;
  EXPECT_TRUE(std::equal(r.tokens.begin(), r.tokens.begin() + static_cast<long>(before), ref.tokens.begin()));
  o.context_shift = false;
  Context off(model, {.n_ctx = 32});
  const auto stopped = generate(off, prompt, o);
  EXPECT_EQ(stopped.tokens.size(), before);
  EXPECT_EQ(stopped.context_shifts, 0);
}

TEST(ContextShift, LongChatDropsOldestTurns) {
  auto model = Model::load(testing::refdata("llm/models/tiny-qwen2-rand-f32.gguf"));
  Chat chat(model, {.n_ctx = 64}, "Be brief.");
  GenerateOptions o;
  o.max_tokens = 12;
  o.sampling.temperature = 0;
  o.ignore_eos = true;
  for (int turn = 0; turn < 6; ++turn) {
    const auto r = chat.send("Tell me more about turn " + std::to_string(turn), o);
    EXPECT_EQ(r.tokens.size(), 12u) << turn;
  }
  EXPECT_EQ(chat.messages().front().role, "system");
  EXPECT_LT(chat.messages().size(), 13u);  // older turns were dropped
  EXPECT_LE(chat.context().n_past(), 64u);
}

}  // namespace
}  // namespace omni::llm
