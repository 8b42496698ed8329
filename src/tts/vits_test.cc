#include "tts/vits.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/thread_pool.h"
#include "testing/refdata.h"

namespace omni::tts {
namespace {

using nlohmann::json;

json load_json(const std::string& rel) {
  std::ifstream f(omni::testing::refdata(rel));
  return json::parse(f);
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

const VitsModel& tiny() {
  static const VitsModel m = VitsModel::load(omni::testing::refdata("tts/models/tiny.onnx"));
  return m;
}
const VitsModel& tiny_ms() {
  static const VitsModel m = VitsModel::load(omni::testing::refdata("tts/models/tiny-ms.onnx"));
  return m;
}

std::vector<float> golden_f32(const std::string& file) {
  return omni::testing::read_f32(omni::testing::refdata("tts/golden/" + file));
}

class VitsGolden : public ::testing::TestWithParam<const char*> {};

// Stage by stage against ONNX Runtime / torch, noise scales 0, length scales 1.0 and 1.3.
TEST_P(VitsGolden, MatchesReference) {
  const std::string name = GetParam();
  const json g = load_json("tts/golden/" + name + ".json");
  const auto ids = g["phoneme_ids"].get<std::vector<int64_t>>();
  for (const json& run : g["runs"]) {
    const float ls = run["scales"][1].get<float>();
    SCOPED_TRACE(name + " length_scale " + std::to_string(ls));
    VitsOptions opt;
    opt.length_scale = ls;
    VitsTrace trace;
    const std::vector<float> audio = tiny().synthesize(ids, opt, &trace);
    EXPECT_EQ(trace.durations, run["durations_after_ceil"].get<std::vector<int>>());
    ASSERT_EQ(audio.size(), run["samples"].get<size_t>());
    EXPECT_LE(max_abs_diff(audio, golden_f32(run["files"]["audio_f32"])), 2e-5f);
    if (run.contains("intermediates")) {
      const json& im = run["intermediates"];
      EXPECT_LE(max_abs_diff(trace.m_p.d, golden_f32(im["m_p"]["file"])), 1e-5f);
      EXPECT_LE(max_abs_diff(trace.logs_p.d, golden_f32(im["logs_p"]["file"])), 1e-5f);
      EXPECT_LE(max_abs_diff(trace.logw, golden_f32(im["logw"]["file"])), 2e-5f);
      EXPECT_LE(max_abs_diff(trace.dec_in.d, golden_f32(im["dec_in"]["file"])), 1e-5f);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Tiny, VitsGolden,
                         ::testing::Values("en1", "en2", "en3", "en4", "en5", "ko1", "ko2"));

TEST(Vits, MultiSpeakerGoldens) {
  EXPECT_EQ(tiny_ms().num_speakers(), 2);
  for (const char* name : {"ms_en1", "ms_en2"}) {
    const json g = load_json(std::string("tts/golden/") + name + ".json");
    const auto ids = g["phoneme_ids"].get<std::vector<int64_t>>();
    for (const json& run : g["runs"]) {
      SCOPED_TRACE(std::string(name) + " sid " + std::to_string(run["sid"].get<int>()));
      VitsOptions opt;
      opt.speaker = run["sid"].get<int>();
      VitsTrace trace;
      const auto audio = tiny_ms().synthesize(ids, opt, &trace);
      EXPECT_EQ(trace.durations, run["durations_after_ceil"].get<std::vector<int>>());
      ASSERT_EQ(audio.size(), run["samples"].get<size_t>());
      EXPECT_LE(max_abs_diff(audio, golden_f32(run["files"]["audio_f32"])), 2e-5f);
    }
  }
  VitsOptions bad;
  bad.speaker = 2;
  EXPECT_THROW(tiny_ms().synthesize(std::vector<int64_t>{1, 0, 2}, bad), Error);
}

TEST(Vits, ThreadsGiveSameAudio) {
  const json g = load_json("tts/golden/en1.json");
  const auto ids = g["phoneme_ids"].get<std::vector<int64_t>>();
  ThreadPool pool(2), pool3(3);
  VitsOptions one, two, three;
  two.pool = &pool;
  three.pool = &pool3;
  // Several threads also cut the decoder's residual blocks into time ranges (3: cuts off any
  // tile grid), which must not change a bit.
  const auto audio = tiny().synthesize(ids, one);
  EXPECT_EQ(audio, tiny().synthesize(ids, two));
  EXPECT_EQ(audio, tiny().synthesize(ids, three));
}

// The medium voice's layer types at half its widths (encoder, duration predictor and flow run
// per time range on each thread; 3 threads cut elsewhere than 2) and a narrow decoder, to keep
// the test fast.
TEST(Vits, MediumShapeThreadsGiveSameIntermediates) {
  VitsShape shape;
  shape.hidden = shape.inter = shape.dp_filter = 96;
  shape.filter = 384;
  shape.up_initial = 32;
  const VitsModel model = VitsModel::random(shape, 5);
  const json g = load_json("tts/golden/en2.json");
  const auto en2 = g["phoneme_ids"].get<std::vector<int64_t>>();
  // Three times over (327 ids): long enough for the encoder's FFN to be cut into ranges too.
  std::vector<int64_t> ids;
  for (int i = 0; i < 3; ++i) ids.insert(ids.end(), en2.begin(), en2.end());
  ThreadPool pool(2), pool3(3);
  VitsOptions one, two, three;
  one.noise_w = two.noise_w = three.noise_w = 0.8f;
  one.noise_scale = two.noise_scale = three.noise_scale = 0.667f;
  two.pool = &pool;
  three.pool = &pool3;
  VitsTrace t1, t2, t3;
  const auto audio = model.synthesize(ids, one, &t1);
  EXPECT_EQ(audio, model.synthesize(ids, two, &t2));
  EXPECT_EQ(audio, model.synthesize(ids, three, &t3));
  for (const VitsTrace* t : {&t2, &t3}) {
    EXPECT_EQ(t1.m_p.d, t->m_p.d);
    EXPECT_EQ(t1.logs_p.d, t->logs_p.d);
    EXPECT_EQ(t1.logw, t->logw);
    EXPECT_EQ(t1.dec_in.d, t->dec_in.d);
  }
}

TEST(Vits, NoiseIsSeeded) {
  const std::vector<int64_t> ids = {1, 0, 20, 0, 59, 0, 24, 0, 2};
  VitsOptions a;
  a.noise_scale = 0.667f;
  a.noise_w = 0.8f;
  a.seed = 7;
  VitsOptions b = a;
  b.seed = 8;
  const auto x = tiny().synthesize(ids, a);
  EXPECT_EQ(x, tiny().synthesize(ids, a));
  const auto y = tiny().synthesize(ids, b);
  EXPECT_FALSE(x == y);
  for (float v : x) ASSERT_LT(std::fabs(v), 1.f);
}

TEST(Vits, ChunkedDecoderEqualsWholeSentence) {
  const json g = load_json("tts/golden/en2.json");
  const auto ids = g["phoneme_ids"].get<std::vector<int64_t>>();
  VitsOptions opt;
  const auto whole = tiny().synthesize(ids, opt);
  EXPECT_GT(tiny().decoder_context_frames(), 4);
  const size_t frames = whole.size() / 256;
  for (int chunk : {5, 32, 1000}) {
    // First chunk: the same size, shorter (first audio early), or longer than the others.
    for (int first : {0, 1, 8, 40}) {
      std::vector<float> joined;
      size_t chunks = 0, lasts = 0;
      const size_t first_len = size_t(first > 0 ? first : chunk);
      EXPECT_TRUE(tiny().synthesize_streaming(
          ids, opt, chunk,
          [&](std::span<const float> a, bool last) {
            EXPECT_EQ(a.size(), std::min(chunks == 0 ? first_len * 256 : size_t(chunk) * 256,
                                         whole.size() - joined.size()));
            joined.insert(joined.end(), a.begin(), a.end());
            ++chunks;
            lasts += last;
            EXPECT_EQ(last, joined.size() == whole.size());
            return true;
          },
          first));
      const size_t rest = frames > first_len ? frames - first_len : 0;
      EXPECT_EQ(chunks, 1 + (rest + chunk - 1) / chunk);
      EXPECT_EQ(lasts, 1u);
      // Exact: the context covers the receptive field.
      EXPECT_EQ(joined, whole) << "chunk " << chunk << " first " << first;
    }
  }
  // Multi-speaker conditioning goes through the chunks too.
  VitsOptions ms;
  ms.speaker = 1;
  const auto ms_whole = tiny_ms().synthesize(ids, ms);
  std::vector<float> ms_joined;
  tiny_ms().synthesize_streaming(
      ids, ms, 16,
      [&](std::span<const float> a, bool) {
        ms_joined.insert(ms_joined.end(), a.begin(), a.end());
        return true;
      },
      4);
  EXPECT_EQ(ms_joined, ms_whole);
  int calls = 0;
  EXPECT_FALSE(tiny().synthesize_streaming(ids, opt, 16, [&](std::span<const float>, bool) {
    ++calls;
    return false;
  }));
  EXPECT_EQ(calls, 1);
}

TEST(Vits, BadIds) {
  EXPECT_THROW(tiny().synthesize(std::vector<int64_t>{}, {}), Error);
  EXPECT_THROW(tiny().synthesize(std::vector<int64_t>{1, 256, 2}, {}), Error);
  EXPECT_THROW(tiny().synthesize(std::vector<int64_t>{1, -1, 2}, {}), Error);
}

}  // namespace
}  // namespace omni::tts
