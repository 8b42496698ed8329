// Encoder output and prompt logits of the random-weight micro models against whisper.cpp
// (flash attention off) on the jfk log-mel.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>

#include "asr/whisper_forward.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "testing/refdata.h"

namespace omni::asr {
namespace {

using omni::testing::read_f32;
using omni::testing::refdata;

LogMel jfk_mel() {
  LogMel mel;
  mel.n_mel = 80;
  mel.n_len = 4100;
  mel.n_len_org = 1099;
  mel.data = read_f32(refdata("asr/golden/jfk_logmel.f32"));
  EXPECT_EQ(mel.data.size(), 80u * 4100u);
  return mel;
}

struct Diff {
  double max_abs = 0, rms = 0;
};
Diff diff(const std::vector<float>& a, const std::vector<float>& b) {
  Diff d;
  for (size_t i = 0; i < a.size(); ++i) {
    const double e = std::fabs(double(a[i]) - b[i]);
    d.max_abs = std::max(d.max_abs, e);
    d.rms += e * e;
  }
  d.rms = std::sqrt(d.rms / a.size());
  return d;
}

TEST(WhisperForward, EncoderMatchesWhisperCpp) {
  ThreadPool pool(2);
  const auto model = WhisperModel::load(refdata("asr/models/ggml-micro-random-f16.bin"));
  const auto out = whisper_encode(*model, jfk_mel(), 0, 1500, pool);
  const auto ref = read_f32(refdata("asr/golden/micro/encoder_out.whispercpp_nofa.f32"));
  ASSERT_EQ(out.size(), ref.size());
  const Diff d = diff(out, ref);
  std::printf("encoder vs whisper.cpp nofa: max_abs %.3g rms %.3g\n", d.max_abs, d.rms);
  EXPECT_LT(d.max_abs, 1e-2);
  EXPECT_LT(d.rms, 2e-3);
}

TEST(WhisperForward, ShortAudioContextUsesSlicedPositions) {
  ThreadPool pool(2);
  const auto model = WhisperModel::load(refdata("asr/models/ggml-micro-random-f16.bin"));
  const auto out = whisper_encode(*model, jfk_mel(), 0, 200, pool);
  EXPECT_EQ(out.size(), 200u * 64u);
  for (float v : out) ASSERT_TRUE(std::isfinite(v));
  EXPECT_THROW(whisper_encode(*model, jfk_mel(), 0, 1501, pool), Error);
}

void check_logits(const std::string& name, std::vector<int32_t> prompt) {
  ThreadPool pool(2);
  const auto model = WhisperModel::load(refdata("asr/models/ggml-" + name + "-random-f16.bin"));
  const auto enc = whisper_encode(*model, jfk_mel(), 0, 1500, pool);
  WhisperDecoder dec(*model, pool);
  dec.set_audio(enc, 1500);
  std::vector<float> logits;
  dec.decode(prompt.data(), static_cast<int>(prompt.size()), logits);
  const auto ref = read_f32(refdata("asr/golden/" + name + "/logits_prompt.whispercpp_nofa.f32"));
  ASSERT_EQ(logits.size(), ref.size());
  const Diff d = diff(logits, ref);
  std::printf("%s logits vs whisper.cpp nofa: max_abs %.3g rms %.3g\n", name.c_str(), d.max_abs,
              d.rms);
  EXPECT_LT(d.max_abs, 2e-3);
  EXPECT_LT(d.rms, 4e-4);
  auto top = [](const std::vector<float>& v) {
    std::vector<int> idx(v.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + 5, idx.end(),
                      [&](int a, int b) { return v[a] > v[b]; });
    idx.resize(5);
    return idx;
  };
  EXPECT_EQ(top(logits), top(ref));

  // 32-step raw argmax decode, fed back token by token.
  std::ifstream f(refdata("asr/golden/" + name + "/golden.json"));
  const auto g = nlohmann::json::parse(f);
  const auto& raw = g["variants"]["whispercpp_nofa"]["raw_greedy_argmax_32"];
  std::vector<int32_t> want;
  for (const auto& t : (raw.is_object() ? raw["tokens"] : raw)) {
    want.push_back(t.is_object() ? t["id"].get<int32_t>() : t.get<int32_t>());
  }
  ASSERT_EQ(want.size(), 32u);
  dec.reset();
  dec.decode(prompt.data(), static_cast<int>(prompt.size()), logits);
  std::vector<int32_t> got;
  for (int i = 0; i < 32; ++i) {
    const int32_t id = static_cast<int32_t>(
        std::max_element(logits.begin(), logits.end()) - logits.begin());
    got.push_back(id);
    dec.decode(&id, 1, logits);
  }
  EXPECT_EQ(got, want);
}

TEST(WhisperForward, PromptLogitsMicro) { check_logits("micro", {50258, 50259, 50359}); }
TEST(WhisperForward, PromptLogitsMicroEn) { check_logits("micro.en", {50257}); }

}  // namespace
}  // namespace omni::asr
