// Internals shared by vocab.cc and the per-model tokenizers (tokenizer_{spm,bpe,wpm}.cc).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "llm/vocab.h"

namespace omni::llm {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct Vocab::Impl {
  // BPE merge rank by the merge line "left right" (byte-level symbols never contain a space).
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> merge_rank;
  bool ignore_merges = false;
  size_t max_token_len = 0;  // bytes, for WordPiece's longest match
  bool lowercase = true;     // WordPiece normalizer
  bool strip_accents = true;
};

// Each appends the ids of one fragment of plain text (special tokens already split off).
// SentencePiece expects spaces already escaped as U+2581.
void tokenize_spm(const Vocab& vocab, std::string_view text, std::vector<TokenId>& out);
void tokenize_bpe(const Vocab& vocab, std::string_view text, std::vector<TokenId>& out);
void tokenize_wpm(const Vocab& vocab, std::string_view text, std::vector<TokenId>& out);

// WordPiece normalisation and word split (exposed for tests).
std::vector<std::string> wpm_preprocess(std::string_view text, bool lowercase, bool strip_accents);

}  // namespace omni::llm
