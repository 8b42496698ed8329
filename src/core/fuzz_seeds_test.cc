// The small hand-made fuzz seeds in fuzz/seeds/ are built here with the writers, so they stay
// reproducible: this test fails if a committed seed differs from what the writers produce, and
// rewrites them when OMNI_REGEN_SEEDS=1 is set.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>

#include "core/byte_io.h"
#include "core/ggml_file.h"
#include "core/gguf.h"
#include "testing/refdata.h"

namespace omni {
namespace {

std::filesystem::path seeds_dir() {
  if (std::filesystem::exists("fuzz/seeds")) return "fuzz/seeds";
  return std::filesystem::path(omni::testing::binary("")) / ".." / ".." / "fuzz" / "seeds";
}

std::vector<uint8_t> pattern(size_t n, uint8_t mul) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * mul + 1);
  return v;
}

std::vector<uint8_t> gguf_all_types() {
  using namespace gguf;
  Writer w(3);
  w.set("general.architecture", make_string("llama"));
  w.set("llama.block_count", make_u32(1));
  w.set("llama.rope.freq_base", make_f32(10000.0f));
  w.set("tokenizer.ggml.tokens",
        make_array(ValueType::STRING, {make_string("<s>"), make_string("a"), make_string("\xe2\x96\x81")}));
  w.set("tokenizer.ggml.scores", make_array(ValueType::F32, {make_f32(0), make_f32(-1), make_f32(-2)}));
  w.set("tokenizer.ggml.add_bos_token", make_bool(true));
  Value v;
  v.v.emplace<uint8_t>(1);
  w.set("x.u8", v);
  v.v.emplace<int8_t>(-1);
  w.set("x.i8", v);
  v.v.emplace<uint16_t>(2);
  w.set("x.u16", v);
  v.v.emplace<int16_t>(-2);
  w.set("x.i16", v);
  w.set("x.i32", make_i32(-3));
  w.set("x.u64", make_u64(4));
  v.v.emplace<int64_t>(-4);
  w.set("x.i64", v);
  v.v.emplace<double>(0.5);
  w.set("x.f64", v);
  w.set("x.nested", make_array(ValueType::ARRAY,
                               {make_array(ValueType::I32, {make_i32(1)}),
                                make_array(ValueType::I32, {})}));
  w.add_tensor("token_embd.weight", DType::F32, {4, 3}, pattern(48, 3));
  w.add_tensor("blk.0.attn_q.weight", DType::Q4_0, {32, 2}, pattern(36, 5));
  w.add_tensor("blk.0.ffn_up.weight", DType::Q8_0, {32, 1}, pattern(34, 7));
  w.add_tensor("output_norm.weight", DType::F16, {4}, pattern(8, 11));
  return w.to_bytes();
}

std::vector<uint8_t> gguf_v2_aligned64() {
  using namespace gguf;
  Writer w(2);
  w.set("general.alignment", make_u32(64));
  w.set("general.name", make_string("seed"));
  w.add_tensor("a", DType::Q4_K, {256}, pattern(144, 13));
  w.add_tensor("b", DType::I8, {3, 2}, pattern(6, 17));
  return w.to_bytes();
}

std::vector<uint8_t> gguf_vocab_only() {
  using namespace gguf;
  Writer w(3);
  w.set("general.architecture", make_string("gpt2"));
  w.set("tokenizer.ggml.model", make_string("gpt2"));
  w.set("tokenizer.ggml.tokens", make_array(ValueType::STRING, {make_string("a"), make_string("b"),
                                                                make_string("ab")}));
  w.set("tokenizer.ggml.merges", make_array(ValueType::STRING, {make_string("a b")}));
  w.set("tokenizer.ggml.token_type",
        make_array(ValueType::I32, {make_i32(1), make_i32(1), make_i32(1)}));
  return w.to_bytes();
}

std::vector<uint8_t> ggml_tiny(int32_t ftype) {
  using namespace ggml;
  Hparams h{5, 4, 32, 2, 1, 3, 32, 2, 1, 2, ftype};
  MelFilters mel{2, 3, {0.0f, 0.5f, 1.0f, 1.0f, 0.5f, 0.0f}};
  Writer w(h, mel, {"a", "b", "", "\xc3\xa9", "tok"});
  w.add_tensor("encoder.conv1.bias", DType::F32, {1, 32}, pattern(128, 3));
  w.add_tensor("encoder.blocks.0.mlp.0.weight", DType::F16, {32, 2}, pattern(128, 5));
  w.add_tensor("decoder.token_embedding.weight", DType::Q4_0, {32, 5}, pattern(90, 7));
  w.add_tensor("decoder.blocks.0.attn.query.weight", DType::Q8_0, {32, 1}, pattern(34, 9));
  w.add_tensor("decoder.blocks.0.attn.key.weight", DType::Q5_1, {32, 1}, pattern(24, 11));
  return w.to_bytes();
}

struct Seed {
  const char* name;
  std::function<std::vector<uint8_t>()> make;
};

TEST(FuzzSeeds, CommittedSeedsMatchTheWriters) {
  const std::vector<Seed> seeds = {
      {"gguf_all_types.gguf", gguf_all_types},
      {"gguf_v2_aligned64.gguf", gguf_v2_aligned64},
      {"gguf_vocab_only.gguf", gguf_vocab_only},
      {"ggml_tiny_f16.bin", [] { return ggml_tiny(1); }},
      {"ggml_tiny_q4_0_qv1.bin", [] { return ggml_tiny(1002); }},
  };
  const bool regen = std::getenv("OMNI_REGEN_SEEDS") != nullptr;
  for (const auto& s : seeds) {
    SCOPED_TRACE(s.name);
    const auto bytes = s.make();
    const auto path = (seeds_dir() / s.name).string();
    if (regen) write_file_bytes(path, bytes);
    ASSERT_TRUE(std::filesystem::exists(path)) << path;
    EXPECT_TRUE(omni::testing::read_file(path) == bytes);
    // Each seed parses: the fuzzer starts from valid files.
    if (std::string(s.name).ends_with(".gguf")) {
      EXPECT_NO_THROW((void)gguf::File::parse(bytes, s.name));
    } else {
      EXPECT_NO_THROW((void)ggml::File::parse(bytes, s.name));
    }
  }
}

}  // namespace
}  // namespace omni
