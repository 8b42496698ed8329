// libFuzzer target: arbitrary bytes through every pre-tokenizer and through SPM, byte-level BPE
// and WordPiece tokenizers built in memory, with the properties that must hold for any input:
// pre-tokenizer words join back to the (decoded) text, byte-level BPE with all 256 byte tokens
// round-trips valid UTF-8 exactly, and the streaming detokenizer emits the same bytes as
// detokenize.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "llm/pretokenize.h"
#include "llm/unicode.h"
#include "llm/vocab.h"

namespace {

using omni::llm::PreTokenizer;
using omni::llm::Vocab;
using omni::llm::VocabSpec;

const std::string kSp = "\xE2\x96\x81";

Vocab make_spm() {
  VocabSpec s;
  s.model = "llama";
  s.tokens = {"<unk>", "<s>", "</s>", "<|user|>"};
  s.token_types = {2, 3, 3, 4};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    s.tokens.push_back(buf);
    s.token_types.push_back(6);
  }
  for (const char* t : {"a", "b", "ab", "ba", "aba", "\xC3\xA9"}) {
    s.tokens.push_back(t);
    s.tokens.push_back(kSp + t);
    s.token_types.push_back(1);
    s.token_types.push_back(1);
  }
  s.tokens.push_back(kSp);
  s.token_types.push_back(1);
  s.scores.resize(s.tokens.size());
  for (size_t i = 0; i < s.scores.size(); ++i) s.scores[i] = -static_cast<float>(i % 7);
  return Vocab(std::move(s));
}

Vocab make_bpe() {
  VocabSpec s;
  s.model = "gpt2";
  s.pre = "qwen2";  // no space clean-up, so detokenize must give the text back
  for (int b = 0; b < 256; ++b) s.tokens.push_back(omni::llm::unicode::bytes_to_gpt2(
                                    std::string(1, static_cast<char>(b))));
  const std::string G = "\xC4\xA0";
  for (const std::string& t : {std::string("ab"), std::string("abc"), G + "a", G + "ab",
                              std::string("<|im_end|>")}) {
    s.tokens.push_back(t);
  }
  s.token_types.assign(s.tokens.size(), 1);
  s.token_types.back() = 3;
  s.merges = {"a b", "ab c", G + " a", G + "a b", "b a"};
  return Vocab(std::move(s));
}

Vocab make_wpm() {
  VocabSpec s;
  s.model = "bert";
  s.tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", kSp + "a", "b", kSp + ",", kSp + "ab", "a"};
  s.token_types = {3, 2, 3, 3, 1, 1, 1, 1, 1};
  s.unk = 1, s.bos = 2, s.sep = 3;
  return Vocab(std::move(s));
}

std::string reencode(std::string_view text) {
  std::string out;
  for (uint32_t c : omni::llm::unicode::decode_utf8(text)) omni::llm::unicode::append_utf8(out, c);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Vocab spm = make_spm();
  static const Vocab bpe = make_bpe();
  static const Vocab wpm = make_wpm();
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const bool add = mode & 1, parse = mode & 2;

  const std::string expect = reencode(text);
  for (auto kind : {PreTokenizer::kDefault, PreTokenizer::kGpt2, PreTokenizer::kLlama3,
                    PreTokenizer::kQwen2, PreTokenizer::kDeepseekLlm, PreTokenizer::kDeepseekCoder,
                    PreTokenizer::kFalcon, PreTokenizer::kStarcoder}) {
    std::string joined;
    for (const auto& w : omni::llm::pre_tokenize(kind, text)) {
      if (w.empty()) __builtin_trap();
      joined += w;
    }
    if (joined != expect) __builtin_trap();
  }

  for (const Vocab* v : {&spm, &bpe, &wpm}) {
    const auto ids = v->tokenize(text, add, parse);
    for (auto id : ids) {
      if (id < 0 || static_cast<size_t>(id) >= v->n_tokens()) __builtin_trap();
    }
    const std::string whole = v->detokenize(ids, mode & 4, mode & 8);
    (void)whole;
    omni::llm::StreamingDetokenizer stream(*v, true);
    std::string streamed;
    for (auto id : ids) streamed += stream.push(id);
    streamed += stream.flush();
    std::string direct;
    for (auto id : ids) direct += v->token_to_piece(id, true);
    if (streamed != direct) __builtin_trap();
  }

  if (omni::llm::unicode::is_valid_utf8(text) && !parse) {
    const auto ids = bpe.tokenize(text, false, false);
    if (bpe.detokenize(ids) != text) __builtin_trap();
  }
  return 0;
}
