#include "core/ggml_file.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <limits>

#include "core/byte_io.h"
#include "core/error.h"
#include "testing/refdata.h"

namespace omni::ggml {
namespace {

using omni::testing::read_file;
using omni::testing::refdata;

Writer rewrite(const File& f) {
  Writer w(f.hparams(), f.mel_filters(), f.vocab());
  for (const auto& t : f.tensors()) w.add_tensor(t.name, t.type, t.shape, t.bytes());
  return w;
}

TEST(GgmlFile, MicroModelContents) {
  const File f = File::open(refdata("asr/models/ggml-micro-random-f16.bin"));
  const Hparams& h = f.hparams();
  EXPECT_EQ(h.n_vocab, 51865);
  EXPECT_EQ(h.n_audio_ctx, 1500);
  EXPECT_EQ(h.n_audio_state, 64);
  EXPECT_EQ(h.n_audio_head, 2);
  EXPECT_EQ(h.n_audio_layer, 2);
  EXPECT_EQ(h.n_text_ctx, 448);
  EXPECT_EQ(h.n_text_state, 64);
  EXPECT_EQ(h.n_text_head, 2);
  EXPECT_EQ(h.n_text_layer, 3);
  EXPECT_EQ(h.n_mels, 80);
  EXPECT_EQ(h.ftype, 1);
  EXPECT_EQ(h.weight_type(), DType::F16);
  EXPECT_EQ(f.mel_filters().n_mel, 80);
  EXPECT_EQ(f.mel_filters().n_fft, 201);
  EXPECT_EQ(f.mel_filters().data.size(), 80u * 201u);
  EXPECT_EQ(f.vocab().size(), 50257u);
  EXPECT_EQ(f.vocab()[0], "!");
  EXPECT_EQ(f.vocab()[50255], "\xe5\x9c\xba");
  EXPECT_EQ(f.vocab()[50256], "");  // stored empty; whisper.cpp names the special tokens itself

  const TensorInfo* conv = f.tensor("encoder.conv1.weight");
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(conv->type, DType::F16);
  EXPECT_EQ(conv->shape, (std::vector<uint64_t>{3, 80, 64}));
  EXPECT_EQ(conv->n_bytes, 3u * 80u * 64u * 2u);
  const TensorInfo* bias = f.tensor("encoder.conv1.bias");
  ASSERT_NE(bias, nullptr);
  EXPECT_EQ(bias->type, DType::F32);
  EXPECT_EQ(bias->shape, (std::vector<uint64_t>{1, 64}));
  const TensorInfo* emb = f.tensor("decoder.token_embedding.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->shape, (std::vector<uint64_t>{64, 51865}));
  EXPECT_EQ(f.tensor("decoder.blocks.0.attn.key.bias"), nullptr);  // attn.key has no bias
  EXPECT_NE(f.tensor("decoder.blocks.2.mlp.2.weight"), nullptr);
  // Tensors are packed back to back up to the end of the file.
  const TensorInfo& last = f.tensors().back();
  EXPECT_EQ(last.offset + last.n_bytes, f.file_size());
}

TEST(GgmlFile, EnglishModelDiffersOnlyInVocabulary) {
  const File a = File::open(refdata("asr/models/ggml-micro-random-f16.bin"));
  const File b = File::open(refdata("asr/models/ggml-micro.en-random-f16.bin"));
  EXPECT_EQ(b.hparams().n_vocab, 51864);
  EXPECT_EQ(a.mel_filters().data, b.mel_filters().data);
  ASSERT_EQ(a.tensors().size(), b.tensors().size());
  for (size_t i = 0; i < a.tensors().size(); ++i) {
    const auto& ta = a.tensors()[i];
    const auto& tb = b.tensors()[i];
    EXPECT_EQ(ta.name, tb.name);
    if (ta.name == "decoder.token_embedding.weight") continue;
    EXPECT_EQ(ta.shape, tb.shape);
    EXPECT_EQ(0, std::memcmp(ta.data, tb.data, ta.n_bytes)) << ta.name;
  }
}

TEST(GgmlFile, RefdataModelsRoundTripByteForByte) {
  for (const char* rel : {"asr/models/ggml-micro-random-f16.bin",
                          "asr/models/ggml-micro.en-random-f16.bin"}) {
    SCOPED_TRACE(rel);
    const auto bytes = read_file(refdata(rel));
    const File f = File::parse(bytes, rel);
    const auto out = rewrite(f).to_bytes();
    ASSERT_EQ(out.size(), bytes.size());
    EXPECT_TRUE(out == bytes);
  }
}

TEST(GgmlFile, QuantizedFtypeCarriesTheQuantizationVersion) {
  Hparams h{8, 4, 32, 1, 1, 4, 32, 1, 1, 2, 1000 * 2 + 8};  // q5_0, quantization version 2
  EXPECT_EQ(h.ftype_base(), 8);
  EXPECT_EQ(h.quant_version(), 2);
  EXPECT_EQ(h.weight_type(), DType::Q5_0);
  Writer w(h, {2, 2, {1, 2, 3, 4}}, {"x", "yz"});
  std::vector<uint8_t> q(22 * 2, 0x5a);
  w.add_tensor("decoder.token_embedding.weight", DType::Q5_0, {32, 2}, q);
  std::vector<uint8_t> v(4 * 3, 0);
  w.add_tensor("decoder.ln.bias", DType::F32, {3}, v);
  const auto bytes = w.to_bytes();
  const File f = File::parse(bytes, "q.bin");
  EXPECT_EQ(f.hparams().ftype, 2008);
  EXPECT_EQ(f.vocab(), (std::vector<std::string>{"x", "yz"}));
  EXPECT_EQ(f.mel_filters().data, (std::vector<float>{1, 2, 3, 4}));
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.tensors()[0].type, DType::Q5_0);
  EXPECT_EQ(f.tensors()[0].n_bytes, 44u);
  EXPECT_EQ(f.tensors()[1].offset, bytes.size() - 12);
  EXPECT_TRUE(rewrite(f).to_bytes() == bytes);
}

TEST(GgmlFile, WriterRefusesInconsistentInput) {
  const Hparams h{8, 4, 32, 1, 1, 4, 32, 1, 1, 2, 1};
  EXPECT_THROW(Writer(h, {2, 3, {1, 2}}, {}), Error);
  Writer w(h, {1, 1, {0}}, {});
  std::vector<uint8_t> d(8);
  EXPECT_THROW(w.add_tensor("a", DType::F32, {3}, d), Error);      // size mismatch
  EXPECT_THROW(w.add_tensor("a", DType::Q4_K, {256}, d), Error);   // type not in these files
  EXPECT_THROW(w.add_tensor("a", DType::F32, {}, d), Error);       // no dims
  EXPECT_THROW(w.add_tensor("", DType::F32, {2}, d), Error);       // no name
  w.add_tensor("a", DType::F32, {2}, d);
  EXPECT_THROW(w.add_tensor("a", DType::F32, {2}, d), Error);      // duplicate
}

TEST(GgmlFile, WriteAndOpenFromDisk) {
  Writer w({8, 4, 32, 1, 1, 4, 32, 1, 1, 1, 0}, {1, 1, {0.5f}}, {"a"});
  std::vector<uint8_t> d(8, 1);
  w.add_tensor("t", DType::F16, {4}, d);
  const auto path = (std::filesystem::temp_directory_path() /
                     ("omni_ggml_test_" + std::to_string(::getpid()) + ".bin"))
                        .string();
  w.write(path);
  const File f = File::open(path);
  std::filesystem::remove(path);
  EXPECT_EQ(f.tensors().at(0).n_bytes, 8u);
  EXPECT_EQ(f.mel_filters().data[0], 0.5f);
}

// --- hand-built hostile files -----------------------------------------------------------------

struct Raw {
  ByteWriter w;
  uint64_t at() const { return w.size(); }
  Raw& i32(int32_t x) { w.put(x); return *this; }
  Raw& u32(uint32_t x) { w.put(x); return *this; }
  Raw& f32(float x) { w.put(x); return *this; }
  Raw& bytes(std::string_view s) { w.put_bytes(s); return *this; }
  Raw& zeros(size_t n) { for (size_t i = 0; i < n; ++i) w.put<uint8_t>(0); return *this; }
  // magic, hparams (ftype as given), 1x2 filters, vocab of 2 tokens.
  Raw& preamble(int32_t ftype = 1) {
    u32(kMagic);
    for (int32_t v : {10, 4, 32, 1, 1, 4, 32, 1, 1, 1}) i32(v);
    i32(ftype).i32(1).i32(2).f32(0).f32(1);
    return i32(2).u32(1).bytes("a").u32(2).bytes("bc");
  }
  // A tensor header (n_dims, name length, type, ne..., name).
  Raw& header(std::string_view name, int32_t type, std::vector<int32_t> ne) {
    i32(static_cast<int32_t>(ne.size())).i32(static_cast<int32_t>(name.size())).i32(type);
    for (int32_t x : ne) i32(x);
    return bytes(name);
  }
  std::vector<uint8_t> get() { return w.bytes(); }
};

constexpr uint64_t kPreambleSize = 4 + 44 + 8 + 8 + 4 + 5 + 6;

void expect_error(std::vector<uint8_t> bytes, const std::vector<std::string>& needles) {
  try {
    (void)File::parse(bytes, "evil.bin");
    ADD_FAILURE() << "expected a FormatError";
  } catch (const FormatError& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind("evil.bin: ", 0), 0u) << m;
    for (const auto& n : needles) EXPECT_NE(m.find(n), std::string::npos) << "'" << n << "' in: " << m;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

std::string at(uint64_t off) { return "(at byte " + std::to_string(off) + ")"; }

TEST(GgmlMalicious, Preamble) {
  EXPECT_EQ(Raw().preamble().at(), kPreambleSize);
  EXPECT_NO_THROW((void)File::parse(Raw().preamble().get(), "ok.bin"));
  expect_error({}, {"magic", "truncated", at(0)});
  Raw gguf;
  gguf.u32(0x46554747).zeros(60);
  expect_error(gguf.get(), {"magic", "not a whisper ggml file (magic 0x46554747", at(0)});
  auto b = Raw().preamble().get();
  expect_error({b.begin(), b.begin() + 30}, {"hparams.n_text_state", "truncated", at(28)});
  // Negative / zero hyper-parameters and unknown ftypes.
  b = Raw().preamble().get();
  std::memset(b.data() + 4 + 4 * 6, 0xff, 4);
  expect_error(b, {"hparams.n_text_state", "must be positive, found -1", at(28)});
  for (int32_t ftype : {4, 10, -1, 1004}) {
    expect_error(Raw().preamble(ftype).get(),
                 {"hparams.ftype", "unknown ftype " + std::to_string(ftype), at(44)});
  }
}

TEST(GgmlMalicious, MelFiltersAndVocab) {
  Raw neg;
  neg.u32(kMagic);
  for (int i = 0; i < 10; ++i) neg.i32(1);
  neg.i32(0).i32(-80).i32(201);
  expect_error(neg.get(), {"mel filters", "shape -80 x 201 is not positive", at(48)});
  Raw huge;
  huge.u32(kMagic);
  for (int i = 0; i < 10; ++i) huge.i32(1);
  huge.i32(0).i32(1 << 30).i32(1 << 30).zeros(16);
  expect_error(huge.get(), {"mel filters data", "1152921504606846976 float32 values cannot fit",
                            at(56)});
  Raw vocab;
  vocab.u32(kMagic);
  for (int i = 0; i < 10; ++i) vocab.i32(1);
  vocab.i32(0).i32(1).i32(1).f32(0);
  const uint64_t count_at = vocab.at();
  vocab.i32(1 << 30).zeros(8);
  expect_error(vocab.get(), {"vocab count", "1073741824 tokens cannot fit", at(count_at)});
  Raw negv;
  negv.u32(kMagic);
  for (int i = 0; i < 10; ++i) negv.i32(1);
  negv.i32(0).i32(1).i32(1).f32(0).i32(-5);
  expect_error(negv.get(), {"vocab count", "is negative", at(count_at)});
  Raw tok;
  tok.u32(kMagic);
  for (int i = 0; i < 10; ++i) tok.i32(1);
  tok.i32(0).i32(1).i32(1).f32(0).i32(2).u32(1).bytes("a");
  const uint64_t tok_at = tok.at();
  tok.u32(0xffffffffu).zeros(4);
  expect_error(tok.get(), {"vocab token #1", "length 4294967295 exceeds", at(tok_at)});
}

TEST(GgmlMalicious, TensorHeaders) {
  const uint64_t t0 = kPreambleSize;
  expect_error(Raw().preamble().i32(1).i32(1).get(), {"tensor #0 header", "truncated", at(t0 + 8)});
  expect_error(Raw().preamble().header("w", 0, {}).zeros(4).get(),
               {"tensor #0 n_dims", "0 dimensions (must be 1..4)", at(t0)});
  expect_error(Raw().preamble().header("w", 0, {1, 1, 1, 1, 1}).zeros(4).get(),
               {"tensor #0 n_dims", "5 dimensions", at(t0)});
  expect_error(Raw().preamble().i32(1).i32(-4).i32(0).i32(1).zeros(8).get(),
               {"tensor #0 name length", "length -4", at(t0 + 4)});
  expect_error(Raw().preamble().i32(1).i32(1 << 30).i32(0).i32(1).zeros(8).get(),
               {"tensor #0 name length", "length 1073741824 is not within", at(t0 + 4)});
  expect_error(Raw().preamble().header("w", 0, {4, 0}).zeros(16).get(),
               {"tensor #0 ne[1]", "dimension 0 is not positive", at(t0 + 16)});
  expect_error(Raw().preamble().header("w", 0, {-4}).zeros(16).get(),
               {"tensor #0 ne[0]", "dimension -4 is not positive", at(t0 + 12)});
  const int32_t big = std::numeric_limits<int32_t>::max();
  expect_error(Raw().preamble().header("w", 0, {big, big, big, big}).zeros(16).get(),
               {"tensor #0 ne[2]", "element count overflows", at(t0 + 20)});
  for (int32_t type : {4, 10, 14, 30, -1, 99}) {
    expect_error(Raw().preamble().header("enc.w", type, {32}).zeros(256).get(),
                 {"tensor 'enc.w' type", "unsupported tensor type " + std::to_string(type),
                  at(t0 + 8)});
  }
  expect_error(Raw().preamble().header("enc.w", 2, {48, 2}).zeros(256).get(),
               {"tensor 'enc.w' ne[0]", "not a multiple of the q4_0 block size 32", at(t0 + 12)});
}

TEST(GgmlMalicious, TensorDataAndNames) {
  const uint64_t t0 = kPreambleSize;
  auto past = Raw().preamble().header("dec.w", 0, {8, 2}).zeros(63).get();
  expect_error(past, {"tensor 'dec.w' data", "64 bytes extend past end of file (size " +
                                                 std::to_string(past.size()) + ")",
                      at(t0 + 12 + 8 + 5)});
  Raw dup;
  dup.preamble().header("x", 0, {1}).zeros(4);
  const uint64_t second = dup.at();
  dup.header("x", 1, {2}).zeros(4);
  expect_error(dup.get(), {"tensor 'x'", "duplicate tensor name", at(second)});
  // A trailing partial header is a truncation, not the end of the tensor list.
  expect_error(Raw().preamble().header("x", 0, {1}).zeros(4).i32(1).get(),
               {"tensor #1 header", "truncated"});
}

}  // namespace
}  // namespace omni::ggml
