// Pre-tokenizers for byte-level BPE vocabularies (`tokenizer.ggml.pre`): split text into the
// words that BPE merges never cross. Each kind is the sequence of regular expressions llama.cpp
// applies for it, implemented as hand-written matchers with the semantics of a backtracking
// (ECMAScript) regex search: every pass splits each piece left by the previous pass into its
// matches and the gaps between them (gaps are kept), and at each position the alternatives are
// tried in order. Lookaheads and `$` see the end of the current piece as the end of the text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace omni::llm {

enum class PreTokenizer {
  kDefault,        // missing/"default": punctuation runs, GPT-2 split, digit runs, 3 digits
  kGpt2,           // gpt-2, phi-2, mpt, olmo, jais, ...
  kLlama3,         // llama3 / llama-bpe / dbrx / smaug / chatglm4: digits in groups of <= 3
  kQwen2,          // qwen2 / stablelm2 / deepseek-r1-qwen / megrez: single digits
  kDeepseekLlm,    // deepseek-llm
  kDeepseekCoder,  // deepseek-coder
  kFalcon,         // falcon
  kStarcoder,      // starcoder / refact / command-r / smollm / codeshell / exaone / minerva
};

// Maps `tokenizer.ggml.pre` to the kind plus the vocab options llama.cpp ties to it. Throws
// omni::FormatError for a name it does not know.
struct PreTokenizerInfo {
  PreTokenizer kind = PreTokenizer::kDefault;
  bool ignore_merges = false;  // a word that is itself a token is not merged (llama3)
  bool clean_spaces = true;    // detokenizer removes spaces before punctuation
  bool default_add_bos = false;
  bool clears_bos = false;  // the pre-tokenizer's model has no BOS (chatglm4)
};
PreTokenizerInfo pre_tokenizer_info(std::string_view pre);
std::string_view pre_tokenizer_name(PreTokenizer kind);

// Splits `text` into words (UTF-8; invalid bytes become U+FFFD as in the reference). The words
// concatenate to the (decoded) text; none is empty.
std::vector<std::string> pre_tokenize(PreTokenizer kind, std::string_view text);

}  // namespace omni::llm
