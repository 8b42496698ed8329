// Hand-built hostile GGUF files, one per validation rule: each must be refused with a
// FormatError that names the file, the field and the byte offset where the bad value sits.
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "core/byte_io.h"
#include "core/error.h"
#include "core/gguf.h"

namespace omni::gguf {
namespace {

// Raw GGUF bytes, written field by field so a test can put any value anywhere.
struct Raw {
  ByteWriter w;
  uint64_t at() const { return w.size(); }
  Raw& u8(uint8_t x) { w.put(x); return *this; }
  Raw& u32(uint32_t x) { w.put(x); return *this; }
  Raw& u64(uint64_t x) { w.put(x); return *this; }
  Raw& str(std::string_view s) { w.put<uint64_t>(s.size()); w.put_bytes(s); return *this; }
  Raw& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return u32(kMagic).u32(version).u64(n_tensors).u64(n_kv);
  }
  Raw& kv_u32(std::string_view key, uint32_t v) { return str(key).u32(4).u32(v); }
  // A tensor info: name, dims, type, offset.
  Raw& info(std::string_view name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(ne.size()));
    for (auto x : ne) u64(x);
    return u32(type).u64(offset);
  }
  Raw& pad(uint64_t align = 32) { w.pad_to(align); return *this; }
  Raw& zeros(size_t n) { for (size_t i = 0; i < n; ++i) w.put<uint8_t>(0); return *this; }
  std::vector<uint8_t> bytes() { return w.bytes(); }
};

void expect_error(std::vector<uint8_t> bytes, const std::vector<std::string>& needles) {
  try {
    (void)File::parse(bytes, "evil.gguf");
    ADD_FAILURE() << "expected a FormatError";
  } catch (const FormatError& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind("evil.gguf: ", 0), 0u) << m;
    for (const auto& n : needles) EXPECT_NE(m.find(n), std::string::npos) << "'" << n << "' in: " << m;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

std::string at(uint64_t off) { return "(at byte " + std::to_string(off) + ")"; }

TEST(GgufMalicious, EmptyAndTruncatedHeader) {
  expect_error({}, {"magic", "truncated", at(0)});
  Raw r;
  r.u32(kMagic).u32(3).u32(0);
  expect_error(r.bytes(), {"tensor count", "truncated", "needs 8 bytes, 4 left", at(8)});
}

TEST(GgufMalicious, BadMagicAndVersions) {
  Raw bad;
  bad.u32(0x67676d6c).u32(3).u64(0).u64(0);
  expect_error(bad.bytes(), {"magic", "not a GGUF file", "0x67676d6c", at(0)});
  Raw v1;
  v1.header(0, 0, 1);
  expect_error(v1.bytes(), {"version", "version 1 is not supported", at(4)});
  Raw v4;
  v4.header(0, 0, 4);
  expect_error(v4.bytes(), {"version", "unsupported GGUF version 4", at(4)});
  Raw be;
  be.header(0, 0, 0x03000000);
  expect_error(be.bytes(), {"version", "big-endian", at(4)});
}

TEST(GgufMalicious, CountsThatCannotFit) {
  Raw kv;
  kv.header(0, std::numeric_limits<uint64_t>::max());
  expect_error(kv.bytes(), {"metadata count", "18446744073709551615 key-value pairs", at(16)});
  Raw t;
  t.header(uint64_t{1} << 60, 0);
  expect_error(t.bytes(), {"tensor count", "cannot fit", at(8)});
}

TEST(GgufMalicious, StringLengthsChecked) {
  Raw key;
  key.header(0, 1).u64(uint64_t{1} << 62).u32(0).zeros(8);
  expect_error(key.bytes(), {"metadata key #0", "string length 4611686018427387904", at(24)});
  Raw val;
  val.header(0, 1).str("general.name").u32(8);
  const uint64_t off = val.at();
  val.u64(1000).zeros(10);
  expect_error(val.bytes(), {"key 'general.name'", "string length 1000 exceeds", at(off)});
  Raw trunc;
  trunc.header(0, 1).str("a.b").u32(6);
  expect_error(trunc.bytes(), {"key 'a.b'", "truncated", at(trunc.at())});
}

TEST(GgufMalicious, ArrayLengthsCheckedBeforeAllocating) {
  Raw r;
  r.header(0, 1).str("tokenizer.ggml.scores").u32(9).u32(6);
  const uint64_t off = r.at();
  r.u64(uint64_t{1} << 40).zeros(64);
  expect_error(r.bytes(), {"key 'tokenizer.ggml.scores' array length",
                           "1099511627776 f32 values cannot fit", at(off)});
  // A string array whose elements run out part-way.
  Raw s;
  s.header(0, 1).str("tokenizer.ggml.tokens").u32(9).u32(8).u64(3).str("a").str("b");
  const uint64_t third = s.at();
  s.u64(50).zeros(3);
  expect_error(s.bytes(), {"key 'tokenizer.ggml.tokens'[2]", "string length 50", at(third)});
}

TEST(GgufMalicious, TotalMetadataValuesCapped) {
  // A u8 array that fits in the file but holds more values than the cap: refused before the
  // ~40 bytes per value are allocated.
  const uint64_t n = kMaxMetadataValues + 1;
  Raw r;
  r.header(0, 1).str("a").u32(9).u32(0);
  const uint64_t off = r.at();
  r.u64(n).zeros(n);
  expect_error(r.bytes(), {"key 'a' array length", "more than 16777216 metadata values", at(off)});
}

TEST(GgufMalicious, UnknownValueTypes) {
  Raw r;
  r.header(0, 1).str("x");
  const uint64_t off = r.at();
  r.u32(13).u32(0);
  expect_error(r.bytes(), {"key 'x' value type", "unknown value type 13", at(off)});
  Raw a;
  a.header(0, 1).str("y").u32(9);
  const uint64_t elem = a.at();
  a.u32(77).u64(0);
  expect_error(a.bytes(), {"key 'y' array element type", "unknown value type 77", at(elem)});
}

TEST(GgufMalicious, DuplicateKeys) {
  Raw r;
  r.header(0, 2).kv_u32("llama.block_count", 1);
  const uint64_t off = r.at();
  r.kv_u32("llama.block_count", 2);
  expect_error(r.bytes(), {"key 'llama.block_count'", "duplicate metadata key", at(off)});
}

TEST(GgufMalicious, NestingDepthLimit) {
  Raw r;
  r.header(0, 1).str("deep").u32(9);
  // Arrays of arrays, each holding one array, deeper than the limit.
  for (int i = 0; i < kMaxArrayNesting + 2; ++i) r.u32(9).u64(1);
  r.u32(4).u64(0).zeros(32);
  expect_error(r.bytes(), {"key 'deep'[0]", "nested deeper than 8"});
  // At the limit it parses.
  Raw ok;
  ok.header(0, 1).str("deep").u32(9);
  for (int i = 0; i < kMaxArrayNesting - 1; ++i) ok.u32(9).u64(1);
  ok.u32(4).u64(1).u32(42);
  const File f = File::parse(ok.bytes(), "ok.gguf");
  EXPECT_NE(f.get_array("deep"), nullptr);
}

TEST(GgufMalicious, BadBool) {
  Raw r;
  r.header(0, 1).str("tokenizer.ggml.add_bos_token").u32(7);
  const uint64_t off = r.at();
  r.u8(2);
  expect_error(r.bytes(), {"key 'tokenizer.ggml.add_bos_token'", "bool value 2", at(off)});
}

TEST(GgufMalicious, Alignment) {
  for (uint32_t a : {0u, 48u, 3u}) {
    Raw r;
    r.header(0, 1).str("general.alignment").u32(4);
    const uint64_t off = r.at();
    r.u32(a);
    expect_error(r.bytes(), {"key 'general.alignment'", "alignment " + std::to_string(a) +
                                                            " is not a non-zero power of two",
                             at(off)});
  }
  Raw t;
  t.header(0, 1).str("general.alignment");
  const uint64_t off = t.at();
  t.u32(10).u64(32);
  expect_error(t.bytes(), {"key 'general.alignment'", "must be a u32, found u64", at(off)});
}

// One tensor info after an empty metadata section; the data section follows, aligned.
std::vector<uint8_t> one_tensor(std::vector<uint64_t> ne, uint32_t type, uint64_t offset,
                                size_t data_bytes, uint64_t* info_at = nullptr) {
  Raw r;
  r.header(1, 0);
  if (info_at) *info_at = r.at();
  r.info("blk.0.attn_q.weight", ne, type, offset).pad().zeros(data_bytes);
  return r.bytes();
}

TEST(GgufMalicious, TensorDims) {
  uint64_t info = 0;
  const std::string name = "tensor 'blk.0.attn_q.weight'";
  const uint64_t dims_at = 24 + 8 + 19;  // header, name length, name
  expect_error(one_tensor({1, 1, 1, 1, 1}, 0, 0, 32, &info),
               {name + " n_dims", "5 dimensions (at most 4)", at(dims_at)});
  expect_error(one_tensor({4, 0}, 0, 0, 32), {name + " ne[1]", "dimension is zero", at(dims_at + 12)});
  expect_error(one_tensor({uint64_t(-3)}, 0, 0, 32),
               {name + " ne[0]", "dimension -3 is negative", at(dims_at + 4)});
  expect_error(one_tensor({uint64_t{1} << 32, uint64_t{1} << 32}, 0, 0, 32),
               {name + " ne[1]", "element count overflows", at(dims_at + 12)});
  expect_error(one_tensor({uint64_t{1} << 62}, 0, 0, 32), {name + " ne[0]", "overflows 64 bits"});
  expect_error(one_tensor({uint64_t{1} << 31, uint64_t{1} << 31}, 0, 0, 32),
               {name + " shape", "byte size overflows 64 bits"});
}

TEST(GgufMalicious, TensorTypes) {
  const std::string name = "tensor 'blk.0.attn_q.weight'";
  const uint64_t type_at = 24 + 8 + 19 + 4 + 8;
  expect_error(one_tensor({32}, 4, 0, 32), {name + " type", "unknown tensor type 4", at(type_at)});
  expect_error(one_tensor({32}, 1000, 0, 32), {name + " type", "unknown tensor type 1000"});
  expect_error(one_tensor({31, 2}, 2, 0, 64),
               {name + " ne[0]", "row of 31 elements is not a multiple of the q4_0 block size 32"});
}

TEST(GgufMalicious, TensorOffsets) {
  const std::string name = "tensor 'blk.0.attn_q.weight'";
  const uint64_t off_at = 24 + 8 + 19 + 4 + 8 + 4;
  expect_error(one_tensor({4}, 0, 4, 32),
               {name + " data offset", "offset 4 is not a multiple of the alignment 32", at(off_at)});
  const auto past = one_tensor({4}, 0, 1024, 32);
  expect_error(past, {name, "data offset 1024 past end of file (size " +
                                std::to_string(past.size()), at(off_at)});
  expect_error(one_tensor({4}, 0, uint64_t(-32), 32), {name, "past end of file", at(off_at)});
  expect_error(one_tensor({64}, 0, 0, 16), {name, "extends past end of file", at(off_at)});
  // A tensor exactly filling the file is fine.
  EXPECT_NO_THROW((void)File::parse(one_tensor({8}, 0, 0, 32), "ok.gguf"));
}

TEST(GgufMalicious, DuplicateAndOverlappingTensors) {
  Raw d;
  d.header(2, 0).info("a", {8}, 0, 0);
  const uint64_t second = d.at();
  d.info("a", {8}, 0, 32).pad().zeros(64);
  expect_error(d.bytes(), {"tensor 'a'", "duplicate tensor name", at(second)});

  Raw o;
  o.header(2, 0).info("a", {16}, 0, 0);
  const uint64_t b_at = o.at();
  o.info("b", {8}, 0, 32).pad().zeros(96);
  expect_error(o.bytes(), {"tensor 'b'", "data at offset 32 overlaps tensor 'a' [0, 64)",
                           at(b_at + 8 + 1 + 4 + 8 + 4)});
  // Listed in reverse order the overlap is still found.
  Raw rev;
  rev.header(2, 0).info("b", {8}, 0, 32).info("a", {16}, 0, 0).pad().zeros(96);
  expect_error(rev.bytes(), {"tensor 'b'", "overlaps tensor 'a'"});
}

TEST(GgufMalicious, NamesFromTheFileAreSanitized) {
  Raw r;
  r.header(0, 2).kv_u32("bad\x1b[31mkey", 1).kv_u32("bad\x1b[31mkey", 1);
  expect_error(r.bytes(), {"key 'bad?[31mkey'", "duplicate"});
}

}  // namespace
}  // namespace omni::gguf
