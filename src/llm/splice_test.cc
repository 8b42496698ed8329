// Image embeddings spliced into the LLM, against llama.cpp/mtmd's goldens (see
// ../shared/refdata/vision/README.md): the golden's own projector output (embd.f32) goes in
// through build_media_prompt, so this checks the prompt layout, positions and the forward pass
// over embedding rows independently of the vision encoder.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "llm/generate.h"
#include "llm/media_prompt.h"
#include "llm/model.h"
#include "llm/sampler.h"
#include "testing/refdata.h"

namespace omni::llm {
namespace {

// Max |logit diff| vs llama.cpp. Its KV cache is F16 and so is ours; the README's float64
// cross-check of this LLM puts rounding differences below 1e-5 (logits lie in about [-1, 1.3]).
constexpr double kTol = 5e-5;
// The greedy steps after the prompt (one token per decode) agree less closely: measured up to
// 1.8e-4 from step 1 on while step 0 is at ~1e-6; the same with an F32 cache, and not a position
// offset (tried +-1, +2: worse). This LLM's older-commit goldens (../llm) agree to 7e-6 over 32
// such steps, so something in llama.cpp's single-token decode at this commit rounds differently;
// not yet pinned down. Greedy tokens are still exact (smallest golden margin 6.2e-4).
constexpr double kStepTol = 3e-4;

struct Golden {
  nlohmann::json json;
  std::shared_ptr<const Model> model;
  ImageEmbeddings image;
  ImageLayout layout;
};

Golden load_case(const std::string& name) {
  Golden g;
  std::ifstream f(testing::refdata("vision/golden/" + name + "/golden.json"));
  g.json = nlohmann::json::parse(f);
  const bool smol = name.starts_with("smolvlm");
  g.model = Model::load(testing::refdata(smol ? "vision/models/tiny-smolvlm-text-rand-f32.gguf"
                                              : "llm/models/tiny-llama-rand-f32.gguf"));
  g.image.embd = testing::read_f32(testing::refdata("vision/golden/" + name + "/embd.f32"));
  g.image.n_embd = g.model->config().n_embd;
  g.layout = smol ? ImageLayout::kIdefics3 : ImageLayout::kPlain;
  if (smol) {
    g.image.grid_cols = g.json["preprocessing"]["grid"]["cols"].get<uint32_t>();
    g.image.grid_rows = g.json["preprocessing"]["grid"]["rows"].get<uint32_t>();
    g.image.rows_per_tile = g.json["preprocessing"]["tiles"][0]["n_tokens"].get<uint32_t>();
  }
  return g;
}

Prompt build(const Golden& g) {
  const std::string marker = g.json["media_marker"].get<std::string>();
  MediaPromptOptions o;
  o.layout = g.layout;
  o.marker = marker;
  return build_media_prompt(g.model->vocab(), g.json["prompt"].get<std::string>(),
                            std::span<const ImageEmbeddings>(&g.image, 1), o);
}

class Splice : public ::testing::TestWithParam<const char*> {};

TEST_P(Splice, LayoutLogitsAndGreedy) {
  const Golden g = load_case(GetParam());
  const Prompt p = build(g);

  // The token layout, position by position (-1 = an embedding row).
  EXPECT_EQ(p.token_view(), g.json["sequence_token_ids_image_as_minus1"].get<std::vector<int32_t>>());
  ASSERT_EQ(p.size(), g.json["n_positions"].get<size_t>());
  // Every image chunk carries the golden's rows for its positions.
  const auto seq = p.token_view();
  for (const auto& ch : g.json["chunks"]) {
    if (ch["type"] != "image") continue;
    const auto pos = ch["pos_start"].get<size_t>(), row = ch["embd_row_start"].get<size_t>();
    size_t at = 0;
    for (const auto& c : p.chunks()) {
      if (at == pos) {
        ASSERT_TRUE(c.is_embd()) << "position " << pos;
        ASSERT_EQ(c.n_rows, ch["n_tokens"].get<uint32_t>());
        EXPECT_TRUE(std::equal(c.embd.begin(), c.embd.end(),
                               g.image.embd.begin() + static_cast<ptrdiff_t>(row * g.image.n_embd)));
      }
      at += c.n_positions();
    }
  }

  Context ctx(g.model, {.n_ctx = 512});
  const auto logits = ctx.eval(p);
  const auto gold = testing::read_f32(testing::refdata(std::string("vision/golden/") + GetParam() + "/logits.f32"));
  ASSERT_EQ(gold.size(), logits.size());
  double max_diff = 0;
  for (size_t i = 0; i < gold.size(); ++i) max_diff = std::max(max_diff, std::fabs(double{logits[i]} - gold[i]));
  EXPECT_LE(max_diff, kTol);
  for (const auto& il : g.json["last_logits"]["top50_id_logit"]) {
    EXPECT_NEAR(logits[il[0].get<size_t>()], il[1].get<double>(), kTol);
  }
  EXPECT_TRUE(std::equal(seq.begin(), seq.end(), ctx.history().begin(), ctx.history().end()));

  // 16 greedy tokens, free running, exact; every step's top-10 logits within tolerance.
  const auto& gg = g.json["greedy"];
  const auto want = gg["tokens"].get<std::vector<int32_t>>();
  std::vector<float> cur(logits.begin(), logits.end());
  std::vector<int32_t> got;
  double step_max = 0;
  for (size_t step = 0; step < want.size(); ++step) {
    double this_step = 0;
    for (const auto& il : gg["step_top10_id_logit"][step]) {
      this_step = std::max(this_step, std::fabs(cur[il[0].get<size_t>()] - il[1].get<double>()));
    }
    step_max = std::max(step_max, this_step);
    const int32_t next = argmax(cur);
    got.push_back(next);
    const auto l = ctx.eval(std::span<const int32_t>(&next, 1));
    cur.assign(l.begin(), l.end());
  }
  EXPECT_EQ(got, want);
  EXPECT_LE(step_max, kStepTol);
  std::printf("[ measured ] %s: max |logit diff| %.3g (last prompt position), %.3g (greedy top-10)\n",
              GetParam(), max_diff, step_max);
}

INSTANTIATE_TEST_SUITE_P(Refdata, Splice,
                         ::testing::Values("llava15-rocket", "llava15-horse", "llava15-camera",
                                           "smolvlm-rocket", "smolvlm-horse", "smolvlm-camera"),
                         [](const auto& pinfo) {
                           std::string s = pinfo.param;
                           std::replace(s.begin(), s.end(), '-', '_');
                           return s;
                         });

TEST(Splice, BatchSplitsDoNotChangeResults) {
  // Batches that cut through text and image chunks give the same logits as one batch.
  const Golden g = load_case("smolvlm-rocket");
  const Prompt p = build(g);
  Context whole(g.model, {.n_ctx = 512});
  const auto a = whole.eval(p);
  const std::vector<float> ref(a.begin(), a.end());
  Context small(g.model, {.n_ctx = 512, .n_batch = 7});
  const auto b = small.eval(p);
  for (size_t i = 0; i < ref.size(); ++i) ASSERT_NEAR(b[i], ref[i], 1e-6) << i;
  // And position by position, text and embeddings through separate calls.
  Context step(g.model, {.n_ctx = 512});
  std::span<const float> c;
  for (const auto& chunk : p.chunks()) {
    c = chunk.is_embd() ? step.eval_embeddings(chunk.embd, chunk.n_rows) : step.eval(chunk.tokens);
  }
  for (size_t i = 0; i < ref.size(); ++i) ASSERT_NEAR(c[i], ref[i], 1e-6) << i;
  EXPECT_EQ(step.history_keys().size(), p.size());
  EXPECT_TRUE(std::equal(step.history_keys().begin(), step.history_keys().end(), p.keys().begin()));
}

TEST(Splice, PrefixReuseStopsAtADifferentImage) {
  const Golden g = load_case("llava15-rocket");
  const Prompt p = build(g);
  GenerateOptions o;
  o.max_tokens = 2;
  o.sampling.temperature = 0;
  o.ignore_eos = true;
  Context ctx(g.model, {.n_ctx = 512});
  auto r = generate(ctx, p, o);
  EXPECT_EQ(r.timings.reused_tokens, 0);
  EXPECT_EQ(r.timings.prompt_tokens, static_cast<int>(p.size()));
  const auto first = r.tokens;

  // Same prompt again: everything but the last position is reused; same answer.
  r = generate(ctx, p, o);
  EXPECT_EQ(r.timings.reused_tokens, static_cast<int>(p.size()) - 1);
  EXPECT_EQ(r.tokens, first);

  // Same text, another image (one value changed in its last row): the cache is kept up to that
  // row only, and the result equals a fresh evaluation.
  Golden g2 = g;
  g2.image.embd.back() += 0.25f;
  const Prompt p2 = build(g2);
  r = generate(ctx, p2, o);
  EXPECT_EQ(r.timings.reused_tokens, 5 + 255);
  Context fresh(g.model, {.n_ctx = 512});
  EXPECT_EQ(generate(fresh, p2, o).tokens, r.tokens);

  // A token prompt never reuses an embedding position.
  const std::vector<int32_t> text_only = {1, 3148, 1001, 29901, 29871, 13};
  EXPECT_EQ(ctx.reuse_prefix(text_only), 5u);
  EXPECT_EQ(ctx.history().size(), 5u);
}

TEST(Splice, BadInputsAreClearErrors) {
  const Golden g = load_case("smolvlm-rocket");
  const Vocab& v = g.model->vocab();
  MediaPromptOptions o;
  o.layout = ImageLayout::kIdefics3;
  // Markers and images must pair up.
  EXPECT_THROW(build_media_prompt(v, "no marker", std::span<const ImageEmbeddings>(&g.image, 1), o), Error);
  EXPECT_THROW(build_media_prompt(v, "<__media__><__media__>", std::span<const ImageEmbeddings>(&g.image, 1), o),
               Error);
  // The rows must make the declared grid.
  ImageEmbeddings bad = g.image;
  bad.grid_cols = 5;
  EXPECT_THROW(build_media_prompt(v, "<__media__>", std::span<const ImageEmbeddings>(&bad, 1), o), Error);
  bad = g.image;
  bad.grid_cols = 0x10000;
  bad.grid_rows = 0x10000;
  EXPECT_THROW(build_media_prompt(v, "<__media__>", std::span<const ImageEmbeddings>(&bad, 1), o), Error);
  // A vocabulary without the idefics3 tokens (the LLaVA LLM) says which one is missing.
  const auto llama = Model::load(testing::refdata("llm/models/tiny-llama-rand-f32.gguf"));
  try {
    build_media_prompt(llama->vocab(), "<__media__>", std::span<const ImageEmbeddings>(&g.image, 1), o);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("<fake_token_around_image>"), std::string::npos) << e.what();
  }
  // Rows of the wrong width for the model.
  Prompt p;
  p.add_embeddings(std::vector<float>(3 * 32, 0.1f), 3);
  Context ctx(g.model, {.n_ctx = 64});
  EXPECT_THROW(ctx.eval(p), Error);
  EXPECT_THROW(p.add_embeddings(std::vector<float>(10, 0.0f), 3), Error);
  EXPECT_EQ(ctx.n_past(), 0u);
}

}  // namespace
}  // namespace omni::llm
