// Tokenizer algorithms on small in-memory vocabularies, the streaming detokenizer, and bad
// metadata. Conformance with llama.cpp on real vocabularies is in tokenizer_test.cc.
#include "llm/vocab.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/gguf.h"
#include "llm/tokenizer_impl.h"

namespace omni::llm {
namespace {

const std::string kSp = "\xE2\x96\x81";  // ▁

// SPM vocabulary: specials, the 256 byte tokens, then a few pieces with scores.
VocabSpec spm_spec() {
  VocabSpec s;
  s.model = "llama";
  s.tokens = {"<unk>", "<s>", "</s>"};
  s.token_types = {2, 3, 3};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    s.tokens.push_back(buf);
    s.token_types.push_back(6);
  }
  for (const auto& [t, sc] : std::vector<std::pair<std::string, float>>{
           {kSp + "h", -1}, {"he", -2}, {"ll", -3}, {"o", -4}, {kSp + "he", -5},
           {kSp + "hell", -6}, {"h", -7}, {"e", -8}, {"l", -9}, {kSp, -10}, {"hell", -11},
           {kSp + "hello", -12}, {"<|user|>", 0}}) {
    s.tokens.push_back(t);
    s.scores.resize(s.tokens.size() - 1, 0.0f);
    s.scores.push_back(sc);
    s.token_types.push_back(t == "<|user|>" ? 4 : 1);
  }
  return s;
}

TokenId id_of(const Vocab& v, const std::string& t) {
  const TokenId id = v.find(t);
  EXPECT_NE(id, kNoToken) << t;
  return id;
}

TEST(SpmTokenizer, MergesByScoreAndFallsBackToBytes) {
  const Vocab v(spm_spec());
  EXPECT_EQ(v.type(), VocabType::kSpm);
  EXPECT_TRUE(v.add_bos());
  const auto ids = v.tokenize("hello", true, false);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], 1);
  // As in the reference, the BOS (rendered empty) uses up the leading-space removal.
  EXPECT_EQ(v.detokenize(ids), " hello");
  EXPECT_EQ(v.detokenize(ids, true), " hello");  // removing the BOS keeps the space, too
  EXPECT_EQ(v.detokenize(v.tokenize("hello", false, false)), "hello");
  // A character with no token becomes its UTF-8 bytes.
  const auto euro = v.tokenize("\xE2\x82\xAC", false, false);
  EXPECT_EQ(euro, (std::vector<TokenId>{id_of(v, kSp), id_of(v, "<0xE2>"), id_of(v, "<0x82>"),
                                        id_of(v, "<0xAC>")}));
  EXPECT_EQ(v.token_to_piece(id_of(v, "<0xE2>")), "\xE2");
  EXPECT_EQ(v.newline(), id_of(v, "<0x0A>"));
}

TEST(SpmTokenizer, SpecialTokens) {
  const Vocab v(spm_spec());
  // Control tokens are text unless parse_special; user-defined ones are always split off.
  const auto plain = v.tokenize("<s>", false, false);
  EXPECT_NE(plain, (std::vector<TokenId>{1}));
  EXPECT_EQ(v.tokenize("<s>", false, true), (std::vector<TokenId>{1}));
  const TokenId user = id_of(v, "<|user|>");
  const auto u = v.tokenize("<|user|>hello", false, false);
  ASSERT_GE(u.size(), 2u);
  EXPECT_EQ(u[0], user);
  // After a special token the next text gets the space prefix again.
  EXPECT_EQ(v.token_to_piece(u[1]).substr(0, 1), " ");
  EXPECT_EQ(v.token_to_piece(1, false), "");
  EXPECT_EQ(v.token_to_piece(1, true), "<s>");
  EXPECT_THROW(v.token_to_piece(100000), Error);
  EXPECT_THROW(v.token_to_piece(-1), Error);
}

TEST(SpmTokenizer, Phi3StripsSpaceAfterSpecials) {
  VocabSpec s = spm_spec();
  s.name = "Phi3 mini";
  const Vocab v(std::move(s));
  const TokenId user = id_of(v, "<|user|>");
  // rstrip: the spaces after <|user|> are dropped before tokenizing the rest.
  EXPECT_EQ(v.tokenize("<|user|>   hello", false, false), v.tokenize("<|user|>hello", false, false));
  EXPECT_EQ(v.tokenize("<|user|>   ", false, false), (std::vector<TokenId>{user}));
}

TEST(StreamingDetokenizer, HoldsBackIncompleteUtf8) {
  const Vocab v(spm_spec());
  StreamingDetokenizer d(v);
  EXPECT_EQ(d.push(id_of(v, "<0xE2>")), "");
  EXPECT_EQ(d.push(id_of(v, "<0x82>")), "");
  EXPECT_EQ(d.push(id_of(v, "<0xAC>")), "\xE2\x82\xAC");
  EXPECT_EQ(d.push(id_of(v, kSp + "he")), " he");
  EXPECT_EQ(d.push(id_of(v, "<0xF0>")), "");
  EXPECT_EQ(d.flush(), "\xF0");
  EXPECT_EQ(d.push(1), "");  // control tokens render only when asked
  StreamingDetokenizer ds(v, true);
  EXPECT_EQ(ds.push(1), "<s>");
}

// Byte-level BPE: symbols are GPT-2 mapped bytes ("Ġ" = space).
VocabSpec bpe_spec() {
  VocabSpec s;
  s.model = "gpt2";
  s.pre = "gpt-2";
  const std::string G = "\xC4\xA0";  // Ġ
  s.tokens = {"a", "b", "c", G, "ab", "abc", G + "a", G + "ab", "<|endoftext|>"};
  s.token_types = {1, 1, 1, 1, 1, 1, 1, 1, 3};
  s.merges = {"a b", "ab c", G + " a", G + "a b"};
  s.eos = 8;
  s.bos = 8;
  return s;
}

TEST(BpeTokenizer, MergesByRank) {
  const Vocab v(bpe_spec());
  EXPECT_EQ(v.tokenize("abc", false, false), (std::vector<TokenId>{5}));
  // "a b" (rank 0) wins over "Ġ a" (rank 2), and there is no "Ġ ab" merge.
  EXPECT_EQ(v.tokenize("abc ab", false, false), (std::vector<TokenId>{5, 3, 4}));
  EXPECT_EQ(v.tokenize(" a", false, false), (std::vector<TokenId>{6}));
  EXPECT_EQ(v.tokenize("cab", false, false), (std::vector<TokenId>{2, 4}));
  // Unknown byte: no single-byte token -> dropped, as in the reference.
  EXPECT_EQ(v.tokenize("a!", false, false), (std::vector<TokenId>{0}));
  EXPECT_EQ(v.tokenize("a<|endoftext|>", false, true), (std::vector<TokenId>{0, 8}));
  EXPECT_FALSE(v.add_bos());
  EXPECT_TRUE(v.is_eog(8));
  EXPECT_EQ(v.detokenize({5, 7}), "abc ab");
  EXPECT_EQ(v.token_to_piece(3), " ");
}

TEST(WpmTokenizer, LongestMatchAndUnk) {
  VocabSpec s;
  s.model = "bert";
  s.tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", kSp + "hello", kSp + "he", "llo", kSp + ",",
              kSp + "cafe", "##x"};
  s.token_types = {3, 2, 3, 3, 1, 1, 1, 1, 1, 1};
  s.unk = 1, s.bos = 2, s.sep = 3, s.pad = 0;
  const Vocab v(std::move(s));
  EXPECT_EQ(v.tokenize("Hello, CAFÉ zz", true, false),
            (std::vector<TokenId>{2, 4, 7, 8, 1, 3}));
  EXPECT_EQ(wpm_preprocess("Ab,c  d\xE4\xB8\x80x", true, true),
            (std::vector<std::string>{"ab", ",", "c", "d", "\xE4\xB8\x80", "x"}));
}

TEST(VocabSpec, RejectsBadSpecs) {
  VocabSpec s = spm_spec();
  s.scores.resize(3);
  EXPECT_THROW(Vocab(std::move(s)), FormatError);
  s = spm_spec();
  s.token_types.resize(2);
  EXPECT_THROW(Vocab(std::move(s)), FormatError);
  s = spm_spec();
  s.model = "rwkv";
  EXPECT_THROW(Vocab(std::move(s)), FormatError);
  s = spm_spec();
  s.tokens.clear();
  EXPECT_THROW(Vocab(std::move(s)), FormatError);
  VocabSpec b = bpe_spec();
  b.merges.clear();
  EXPECT_THROW(Vocab(std::move(b)), FormatError);
  b = bpe_spec();
  b.pre = "unknown-pre";
  EXPECT_THROW(Vocab(std::move(b)), FormatError);
  // Out-of-range special ids fall back to "none"; adding a missing BOS is an error, not UB.
  b = bpe_spec();
  b.bos = 99999;
  b.add_bos = true;
  const Vocab vb(std::move(b));
  EXPECT_EQ(vb.bos(), kNoToken);  // metadata id ignored, and the default (11) is out of range
  EXPECT_THROW(vb.tokenize("a", true, false), Error);
  b = bpe_spec();
  b.bos.reset();
  b.add_bos = true;
  const Vocab vn(std::move(b));
  EXPECT_EQ(vn.bos(), kNoToken);
  EXPECT_THROW(vn.tokenize("a", true, false), Error);
}

gguf::Value str_array(const std::vector<std::string>& v) {
  std::vector<gguf::Value> items;
  for (const auto& s : v) items.push_back(gguf::make_string(s));
  return gguf::make_array(gguf::ValueType::STRING, std::move(items));
}

TEST(VocabGguf, ReadsMetadataAndNamesBadKeys) {
  gguf::Writer w;
  w.set("general.name", gguf::make_string("tiny"));
  w.set("tokenizer.ggml.model", gguf::make_string("gpt2"));
  w.set("tokenizer.ggml.pre", gguf::make_string("gpt-2"));
  w.set("tokenizer.ggml.tokens", str_array({"a", "b", "ab"}));
  w.set("tokenizer.ggml.merges", str_array({"a b"}));
  w.set("tokenizer.ggml.eos_token_id", gguf::make_u32(2));
  auto bytes = w.to_bytes();
  {
    const auto f = gguf::File::parse(bytes, "mem.gguf");
    const Vocab v = Vocab::from_gguf(f);
    EXPECT_EQ(v.tokenize("ab", false, false), (std::vector<TokenId>{2}));
    EXPECT_EQ(v.eos(), 2);
  }
  // tokens of the wrong element type
  w.set("tokenizer.ggml.tokens",
        gguf::make_array(gguf::ValueType::U32, {gguf::make_u32(1), gguf::make_u32(2)}));
  bytes = w.to_bytes();
  {
    const auto f = gguf::File::parse(bytes, "mem.gguf");
    try {
      (void)Vocab::from_gguf(f);
      FAIL() << "expected FormatError";
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.tokens"), std::string::npos)
          << e.what();
    }
  }
  // model missing entirely
  gguf::Writer w2;
  w2.set("tokenizer.ggml.tokens", str_array({"a"}));
  bytes = w2.to_bytes();
  const auto f2 = gguf::File::parse(bytes, "mem.gguf");
  EXPECT_THROW((void)Vocab::from_gguf(f2), FormatError);
  // token types that do not fit int32
  w.set("tokenizer.ggml.tokens", str_array({"a", "b", "ab"}));
  w.set("tokenizer.ggml.token_type",
        gguf::make_array(gguf::ValueType::F32,
                         {gguf::make_f32(1), gguf::make_f32(1e30f), gguf::make_f32(1)}));
  bytes = w.to_bytes();
  const auto f3 = gguf::File::parse(bytes, "mem.gguf");
  EXPECT_THROW((void)Vocab::from_gguf(f3), FormatError);
}

}  // namespace
}  // namespace omni::llm
