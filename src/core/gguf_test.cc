#include "core/gguf.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <limits>

#include "core/byte_io.h"
#include "core/error.h"
#include "testing/refdata.h"

namespace omni::gguf {
namespace {

using omni::testing::read_file;
using omni::testing::refdata;

std::vector<std::string> refdata_ggufs() {
  return {"llm/models/stories260K.gguf",
          "llm/models/tiny-llama-rand-f32.gguf",
          "llm/models/tiny-llama-rand-q8_0.gguf",
          "llm/models/tiny-llama-rand-q4_0.gguf",
          "llm/models/tiny-qwen2-rand-f32.gguf",
          "llm/vocab/ggml-vocab-llama-spm.gguf",
          "llm/vocab/ggml-vocab-gpt-2.gguf",
          "llm/vocab/ggml-vocab-phi-3.gguf",
          "llm/vocab/ggml-vocab-bert-bge.gguf",
          "llm/vocab/ggml-vocab-deepseek-coder.gguf",
          "vision/models/mmproj-tiny-llava15-rand-f32.gguf",
          "vision/models/mmproj-tiny-smolvlm-rand-f32.gguf",
          "vision/models/tiny-smolvlm-text-rand-f32.gguf"};
}

// Reads every part of a file back into a Writer: the inverse of parsing.
Writer rewrite(const File& f) {
  Writer w(f.version());
  for (const auto& kv : f.metadata()) w.set(kv.key, kv.value);
  for (const auto& t : f.tensors()) w.add_tensor(t.name, t.type, t.shape, t.bytes());
  return w;
}

TEST(Gguf, Stories260KHeaderAndMetadata) {
  const File f = File::open(refdata("llm/models/stories260K.gguf"));
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.architecture(), "llama");
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.file_size(), 1185376u);
  EXPECT_EQ(f.tensors().size(), 48u);
  EXPECT_EQ(f.metadata().size(), 19u);
  EXPECT_EQ(f.data_offset() % 32, 0u);
  EXPECT_EQ(f.get_int("llama.block_count"), 5);
  EXPECT_EQ(f.get_int("llama.embedding_length"), 64);
  EXPECT_EQ(f.get_int("llama.feed_forward_length"), 172);
  EXPECT_EQ(f.get_int("llama.attention.head_count"), 8);
  EXPECT_EQ(f.get_int("llama.attention.head_count_kv"), 4);
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(f.get_int("tokenizer.ggml.bos_token_id"), 1);
  EXPECT_EQ(f.get_int("tokenizer.ggml.eos_token_id"), 2);
  EXPECT_FALSE(f.get_int("no.such.key").has_value());
  const Array* tokens = f.get_array("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  EXPECT_EQ(tokens->type, ValueType::STRING);
  EXPECT_EQ(tokens->items.size(), 512u);
  // A typed getter refuses a key of another type and names it.
  try {
    (void)f.get_int("general.architecture");
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("general.architecture"), std::string::npos);
  }
  const TensorInfo* emb = f.tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->type, DType::F32);
  EXPECT_EQ(emb->shape, (std::vector<uint64_t>{64, 512}));
  EXPECT_EQ(emb->n_elements, 64u * 512u);
  EXPECT_EQ(emb->n_bytes, 64u * 512u * 4u);
  EXPECT_EQ(emb->rows(), 512u);
  EXPECT_EQ(f.tensor("nope"), nullptr);
}

TEST(Gguf, TensorDataPointsIntoTheFile) {
  // Norm weights of the random models are exactly 1.0: check through the data pointer.
  const auto bytes = read_file(refdata("llm/models/tiny-llama-rand-q4_0.gguf"));
  const File f = File::parse(bytes, "q4_0.gguf");
  const TensorInfo* norm = f.tensor("blk.0.attn_norm.weight");
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(norm->type, DType::F32);
  ASSERT_EQ(norm->shape, (std::vector<uint64_t>{64}));
  for (uint64_t i = 0; i < 64; ++i) {
    float x;
    std::memcpy(&x, norm->data + 4 * i, 4);
    EXPECT_EQ(x, 1.0f) << i;
  }
  EXPECT_EQ(norm->data, bytes.data() + f.data_offset() + norm->offset);
  const TensorInfo* q = f.tensor("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->type, DType::Q4_0);
  EXPECT_EQ(q->n_bytes, 64u * 64u / 32u * 18u);
}

TEST(Gguf, EveryRefdataFileRoundTripsByteForByte) {
  for (const auto& rel : refdata_ggufs()) {
    SCOPED_TRACE(rel);
    const auto bytes = read_file(refdata(rel));
    const File f = File::parse(bytes, rel);
    const auto out = rewrite(f).to_bytes();
    ASSERT_EQ(out.size(), bytes.size());
    EXPECT_TRUE(out == bytes);
  }
}

TEST(Gguf, OpenReportsIoErrorsAsPlainErrors) {
  try {
    (void)File::open("/nonexistent/model.gguf");
    FAIL() << "expected Error";
  } catch (const FormatError&) {
    FAIL() << "a missing file is not a format error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.gguf"), std::string::npos);
  }
}

Value nested(int depth) {
  if (depth == 0) return make_array(ValueType::I32, {make_i32(1), make_i32(-2)});
  return make_array(ValueType::ARRAY, {nested(depth - 1), nested(depth - 1)});
}

TEST(Gguf, WriterCoversAllValueTypesAndReadsBack) {
  for (uint32_t version : {2u, 3u}) {
    Writer w(version);
    Value v;
    v.v.emplace<uint8_t>(250);
    w.set("t.u8", v);
    v.v.emplace<int8_t>(-5);
    w.set("t.i8", v);
    v.v.emplace<uint16_t>(65000);
    w.set("t.u16", v);
    v.v.emplace<int16_t>(-30000);
    w.set("t.i16", v);
    w.set("t.u32", make_u32(4000000000u));
    w.set("t.i32", make_i32(-7));
    w.set("t.f32", make_f32(1.5f));
    w.set("t.bool", make_bool(true));
    w.set("t.str", make_string("h\xc3\xa9llo"));
    w.set("t.arr", make_array(ValueType::STRING, {make_string("a"), make_string("")}));
    w.set("t.u64", make_u64(std::numeric_limits<uint64_t>::max()));
    v.v.emplace<int64_t>(std::numeric_limits<int64_t>::min());
    w.set("t.i64", v);
    v.v.emplace<double>(-0.25);
    w.set("t.f64", v);
    w.set("t.nested", nested(3));
    w.set("t.i32", make_i32(-8));  // replaces in place
    w.set("general.alignment", make_u32(64));
    std::vector<uint8_t> data(2 * 18 * 3);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7);
    w.add_tensor("q", DType::Q4_0, {64, 3}, data);
    std::vector<uint8_t> one(4 * 5, 0x11);
    w.add_tensor("v", DType::F32, {5}, one);

    const auto bytes = w.to_bytes();
    const File f = File::parse(bytes, "mem.gguf");
    EXPECT_EQ(f.version(), version);
    EXPECT_EQ(f.metadata().size(), 15u);
    EXPECT_EQ(f.metadata()[5].key, "t.i32");
    EXPECT_EQ(f.get_int("t.u8"), 250);
    EXPECT_EQ(f.get_int("t.i8"), -5);
    EXPECT_EQ(f.get_int("t.u16"), 65000);
    EXPECT_EQ(f.get_int("t.i16"), -30000);
    EXPECT_EQ(f.get_int("t.u32"), 4000000000);
    EXPECT_EQ(f.get_int("t.i32"), -8);
    EXPECT_EQ(f.get_float("t.f32"), 1.5);
    EXPECT_EQ(f.get_bool("t.bool"), true);
    EXPECT_EQ(f.get_string("t.str"), "h\xc3\xa9llo");
    EXPECT_EQ(f.find("t.u64")->as_uint(), std::numeric_limits<uint64_t>::max());
    EXPECT_FALSE(f.find("t.u64")->as_int().has_value());
    EXPECT_EQ(f.get_int("t.i64"), std::numeric_limits<int64_t>::min());
    EXPECT_FALSE(f.find("t.i64")->as_uint().has_value());
    EXPECT_EQ(f.get_float("t.f64"), -0.25);
    EXPECT_EQ(f.get_float("t.u8"), 250.0);  // lenient: integers are numbers
    const Array* arr = f.get_array("t.arr");
    ASSERT_NE(arr, nullptr);
    ASSERT_EQ(arr->items.size(), 2u);
    EXPECT_EQ(*arr->items[1].as_string(), "");
    const Array* n = f.get_array("t.nested");
    for (int d = 0; d < 3; ++d) {
      ASSERT_NE(n, nullptr);
      EXPECT_EQ(n->type, ValueType::ARRAY);
      n = n->items[1].as_array();
    }
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->items[1].as_int(), -2);
    EXPECT_EQ(f.alignment(), 64u);
    EXPECT_EQ(f.data_offset() % 64, 0u);
    ASSERT_EQ(f.tensors().size(), 2u);
    EXPECT_EQ(f.tensors()[1].offset, 128u);  // 108 bytes padded to 64
    EXPECT_TRUE(std::equal(data.begin(), data.end(), f.tensors()[0].data));
    EXPECT_EQ(bytes.size() % 64, 0u);
    EXPECT_TRUE(rewrite(f).to_bytes() == bytes);
  }
}

TEST(Gguf, WriterRefusesInconsistentInput) {
  Writer w;
  std::vector<uint8_t> data(10);
  EXPECT_THROW(w.add_tensor("x", DType::F32, {3}, data), Error);
  EXPECT_THROW(w.add_tensor("x", DType::Q8_0, {10}, data), Error);
  w.set("general.alignment", make_u32(48));
  EXPECT_THROW((void)w.to_bytes(), Error);
  Writer bad_array;
  bad_array.set("a", make_array(ValueType::U32, {make_i32(1)}));
  EXPECT_THROW((void)bad_array.to_bytes(), Error);
  EXPECT_THROW((void)Writer(1).to_bytes(), Error);
}

TEST(Gguf, WriteAndOpenFromDisk) {
  Writer w;
  w.set("general.architecture", make_string("test"));
  std::vector<uint8_t> data(8, 0);
  w.add_tensor("t", DType::F16, {4}, data);
  const auto path = (std::filesystem::temp_directory_path() /
                     ("omni_gguf_test_" + std::to_string(::getpid()) + ".gguf"))
                        .string();
  w.write(path);
  const File f = File::open(path);
  std::filesystem::remove(path);
  EXPECT_EQ(f.architecture(), "test");
  EXPECT_EQ(f.tensors().at(0).n_bytes, 8u);
}

}  // namespace
}  // namespace omni::gguf
