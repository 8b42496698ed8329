// LLM vocabulary and tokenizers, loaded from GGUF `tokenizer.*` metadata and matching llama.cpp
// token for token: SentencePiece-style (`tokenizer.ggml.model = llama`), byte-level BPE (`gpt2`,
// with the pre-tokenizer named by `tokenizer.ggml.pre`) and WordPiece (`bert`).
//
//   Vocab v = Vocab::from_gguf(file);
//   std::vector<TokenId> ids = v.tokenize("Hello", /*add_special=*/true, /*parse_special=*/false);
//   std::string text = v.detokenize(ids);
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "llm/pretokenize.h"

namespace omni::gguf {
class File;
}

namespace omni::llm {

using TokenId = int32_t;

// A byte range [begin, end) of a text.
struct TextSpan {
  size_t begin = 0, end = 0;
  bool operator==(const TextSpan&) const = default;
};
inline constexpr TokenId kNoToken = -1;

enum class VocabType { kSpm, kBpe, kWpm };

// `tokenizer.ggml.token_type` values.
enum class TokenType : int32_t {
  kUndefined = 0, kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5,
  kByte = 6,
};

// Per-token attributes (bit set), derived from the token type plus per-model rules.
enum TokenAttr : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
  kAttrNormalized = 1u << 6,
  kAttrLstrip = 1u << 7,  // swallow whitespace before the token when splitting specials
  kAttrRstrip = 1u << 8,  // swallow whitespace after it
  kAttrSingleWord = 1u << 9,
};

// Everything the tokenizer reads from the metadata. Optional fields fall back to the defaults
// of the tokenizer model, as in llama.cpp.
struct VocabSpec {
  std::string model;  // tokenizer.ggml.model: "llama" | "gpt2" | "bert"
  std::string pre;    // tokenizer.ggml.pre (gpt2 only)
  std::string name;   // general.name (some models get per-token attribute fixes)
  std::vector<std::string> tokens;
  std::vector<float> scores;        // empty = all 0
  std::vector<int32_t> token_types;  // empty = all normal
  std::vector<std::string> merges;  // "left right", rank = index (gpt2)
  std::optional<int64_t> bos, eos, eot, eom, unk, sep, pad, mask;
  std::optional<bool> add_bos, add_eos, add_sep, add_space_prefix;
  std::optional<bool> lowercase, strip_accents;  // WordPiece normalizer (default: lowercase)
};

class Vocab {
 public:
  // Reads the tokenizer.* keys (and general.name). Throws omni::FormatError naming the key when
  // one is missing, has the wrong type or holds values that cannot be used.
  static Vocab from_gguf(const gguf::File& file);
  explicit Vocab(VocabSpec spec);
  ~Vocab();
  Vocab(Vocab&&) noexcept;
  Vocab& operator=(Vocab&&) noexcept;

  VocabType type() const { return type_; }
  PreTokenizer pre_tokenizer() const { return pre_.kind; }
  size_t n_tokens() const { return tokens_.size(); }

  TokenId bos() const { return bos_; }
  TokenId eos() const { return eos_; }
  TokenId eot() const { return eot_; }
  TokenId unk() const { return unk_; }
  TokenId sep() const { return sep_; }
  TokenId pad() const { return pad_; }
  TokenId newline() const { return newline_; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  bool add_space_prefix() const { return add_space_prefix_; }
  // End-of-generation tokens (EOS, EOT, <|im_end|>, ...).
  bool is_eog(TokenId id) const { return eog_.count(id) != 0; }

  const std::string& token_text(TokenId id) const;  // throws omni::Error when out of range
  float score(TokenId id) const;
  uint32_t attr(TokenId id) const;
  TokenId find(std::string_view text) const;  // exact token text, or kNoToken
  // The token for one raw byte (<0xXX> for SentencePiece, the byte-level symbol for BPE), falling
  // back to UNK when the vocabulary has none.
  TokenId byte_to_token(uint8_t b) const;

  // Text to ids. add_special: BOS/EOS (SEP for WordPiece) as the model asks. parse_special:
  // control/unknown token texts in the input become those tokens (user-defined tokens are always
  // matched).
  std::vector<TokenId> tokenize(std::string_view text, bool add_special,
                                bool parse_special) const;
  // Like tokenize, but control-token texts that overlap a `literal` byte span of `text` stay
  // plain text even with parse_special (for user-supplied text inside a rendered template). Text
  // is not cut at span edges, so without control-token texts the ids equal tokenize's.
  std::vector<TokenId> tokenize(std::string_view text, bool add_special, bool parse_special,
                                std::span<const TextSpan> literal) const;

  // Bytes of one token. `special` = render control/unknown tokens as their text (else "").
  // `lstrip` drops one leading space.
  std::string token_to_piece(TokenId id, bool special = true, bool lstrip = false) const;
  // Joins pieces like llama_detokenize: the model's leading space prefix is dropped,
  // remove_special drops the BOS/EOS the tokenizer adds, unparse_special renders control tokens,
  // and some vocabularies clean up spaces before punctuation.
  std::string detokenize(const std::vector<TokenId>& ids, bool remove_special = false,
                         bool unparse_special = false) const;

  // Internal state shared with the tokenizer implementations (tokenizer_*.cc).
  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  void check_id(TokenId id) const;
  void init_attributes(const VocabSpec& spec);

  VocabType type_ = VocabType::kSpm;
  PreTokenizerInfo pre_;
  std::vector<std::string> tokens_;
  std::vector<float> scores_;
  std::vector<uint32_t> attrs_;
  // token_to_piece(id, special=true) of every token: piece i is pieces_[piece_at_[i], piece_at_[i+1]).
  std::string pieces_;
  std::vector<uint32_t> piece_at_;
  struct TextHash {  // transparent, so lookups by string_view do not allocate
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string_view, TokenId, TextHash> index_;  // views into tokens_
  std::vector<TokenId> specials_;  // control/user-defined/unknown, longest text first
  std::unordered_set<TokenId> eog_;
  TokenId bos_ = kNoToken, eos_ = kNoToken, eot_ = kNoToken, eom_ = kNoToken, unk_ = kNoToken,
          sep_ = kNoToken, pad_ = kNoToken, mask_ = kNoToken, newline_ = kNoToken;
  bool add_bos_ = false, add_eos_ = false, add_sep_ = false, add_space_prefix_ = false;
  bool clean_spaces_ = false;
  std::unique_ptr<Impl> impl_;
};

// Turns a stream of token ids into text that is always valid UTF-8 where the tokens allow it:
// bytes of an incomplete UTF-8 sequence at the end of a piece are held back until the next
// piece completes them (byte-fallback and byte-level BPE tokens split characters).
class StreamingDetokenizer {
 public:
  explicit StreamingDetokenizer(const Vocab& vocab, bool render_special = false)
      : vocab_(vocab), special_(render_special) {}
  // Text that became complete with this token (possibly empty).
  std::string push(TokenId id);
  // Whatever is still held back (an incomplete sequence at the end of the stream), as is.
  std::string flush();

 private:
  const Vocab& vocab_;
  bool special_;
  std::string pending_;
};

}  // namespace omni::llm
