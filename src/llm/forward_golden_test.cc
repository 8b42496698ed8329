// The forward pass against llama.cpp's outputs on the refdata models (see
// ../shared/refdata/llm/README.md): last-position logits for every prompt, and 32 greedy steps
// (tokens equal up to the first near-tie, per-step top-10 logits within tolerance).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "llm/model.h"
#include "llm/sampler.h"
#include "testing/refdata.h"

namespace omni::llm {
namespace {

struct Case {
  const char* model;
  // Max |our logit - llama.cpp logit| allowed. F32: rounding-level (the README's float64
  // cross-check is 6.3e-3 for stories260K with logits up to 18, <= 1.6e-4 for the random models).
  // Quantized: llama.cpp also quantizes activations to Q8_0 inside its matmuls; we measure the
  // difference that remains and bound it here.
  double tol;
};

class ForwardGolden : public ::testing::TestWithParam<Case> {};

nlohmann::json load_json(const std::string& path) {
  std::ifstream f(path);
  return nlohmann::json::parse(f);
}

TEST_P(ForwardGolden, LastLogitsAndGreedy) {
  const Case& c = GetParam();
  const auto model = Model::load(testing::refdata(std::string("llm/models/") + c.model + ".gguf"));
  const auto golden = load_json(testing::refdata(std::string("llm/golden/") + c.model + ".json"));
  const auto logits_file = testing::read_f32(testing::refdata(std::string("llm/golden/") + c.model + ".logits.f32"));
  const uint32_t V = model->config().n_vocab;
  ASSERT_EQ(logits_file.size() % V, 0u);

  for (const auto& p : golden["prompts"]) {
    SCOPED_TRACE(p["prompt"].get<std::string>());
    const auto tokens = p["prompt_tokens(add_special=true,parse_special=true)"].get<std::vector<int32_t>>();
    Context ctx(model, {.n_ctx = 256});
    const auto logits = ctx.eval(tokens);
    const size_t row = p["last_logits"]["file_row"].get<size_t>();
    double max_diff = 0;
    for (uint32_t i = 0; i < V; ++i) {
      max_diff = std::max(max_diff, std::fabs(static_cast<double>(logits[i]) - logits_file[row * V + i]));
    }
    EXPECT_LE(max_diff, c.tol) << c.model;
    std::printf("[ measured ] %s: max |logit diff| %.3g\n", c.model, max_diff);

    // Greedy continuation: follow the golden tokens (so one near-tie flip does not derail the
    // rest), check our argmax where the golden margin is clearly above the tolerance, and the
    // golden's top-10 logits at every step.
    const auto& g = p["greedy"];
    const auto gold_tokens = g["tokens"].get<std::vector<int32_t>>();
    const auto margins = g["top1_minus_top2_margin"].get<std::vector<double>>();
    std::vector<float> cur(logits.begin(), logits.end());
    int checked = 0;
    double step_max = 0;
    for (size_t step = 0; step < gold_tokens.size(); ++step) {
      if (margins[step] > 2 * c.tol) {
        EXPECT_EQ(argmax(cur), gold_tokens[step]) << "step " << step;
        ++checked;
      }
      for (const auto& il : g["step_top10_id_logit"][step]) {
        const int id = il[0].get<int>();
        EXPECT_NEAR(cur[id], il[1].get<double>(), c.tol) << "step " << step << " id " << id;
        step_max = std::max(step_max, std::fabs(cur[id] - il[1].get<double>()));
      }
      const int32_t next = gold_tokens[step];
      const auto l = ctx.eval(std::span<const int32_t>(&next, 1));
      cur.assign(l.begin(), l.end());
    }
    std::printf("[ measured ] %s: greedy steps checked %d/%zu, max top-10 logit diff %.3g\n", c.model,
                checked, gold_tokens.size(), step_max);
    // Every model but Q4_0 (whose margins are all below its tolerance) checks greedy tokens.
    if (c.tol < 1e-2) {
      EXPECT_GT(checked, 0);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Refdata, ForwardGolden,
                         // Measured on this engine (x86-64, every dispatch level): stories260K 1.0e-3 (last logits) /
                         // 3.9e-3 (greedy top-10), tiny-llama f32 8.4e-6, tiny-qwen2 1.5e-7, Q8_0 1.3e-7
                         // (activations quantized exactly as llama.cpp does), Q4_0 8.0e-3 (see
                         // docs/TESTING.md: the goldens' Q4_0 path ran llama.cpp's AMX kernels).
                         ::testing::Values(Case{"stories260K", 1e-2}, Case{"tiny-llama-rand-f32", 5e-5},
                                           Case{"tiny-qwen2-rand-f32", 1e-5},
                                           Case{"tiny-llama-rand-q8_0", 1e-5},
                                           Case{"tiny-llama-rand-q4_0", 1.5e-2}),
                         [](const auto& pinfo) {
                           std::string s = pinfo.param.model;
                           std::replace(s.begin(), s.end(), '-', '_');
                           return s;
                         });

}  // namespace
}  // namespace omni::llm
