#include "llm/vocab.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "core/error.h"
#include "llm/tokenizer_impl.h"
#include "llm/unicode.h"

namespace omni::llm {
namespace {

constexpr uint32_t kAttrSpecial = kAttrUnknown | kAttrControl;
constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581, SentencePiece's space

uint32_t attr_from_type(int32_t type) {
  switch (static_cast<TokenType>(type)) {
    case TokenType::kUnknown: return kAttrUnknown;
    case TokenType::kUnused: return kAttrUnused;
    case TokenType::kNormal: return kAttrNormal;
    case TokenType::kControl: return kAttrControl;
    case TokenType::kUserDefined: return kAttrUserDefined;
    case TokenType::kByte: return kAttrByte;
    default: return kAttrUndefined;
  }
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string::npos; pos = hit + from.size()) {
    out.append(s, pos, hit - pos);
    out += to;
  }
  out.append(s, pos, std::string::npos);
  s = std::move(out);
}

// strtol(text.substr(3, 2), 16) as the reference reads "<0xXX>": stops at the first non-hex.
uint8_t byte_of_token_text(const std::string& text) {
  unsigned v = 0;
  for (size_t i = 3; i < 5 && i < text.size(); ++i) {
    const char c = text[i];
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else break;
    v = v * 16 + static_cast<unsigned>(d);
  }
  return static_cast<uint8_t>(v);
}

// Byte-level token text back to bytes; code points outside the byte mapping are kept visible.
std::string decode_byte_level(const std::string& text) {
  std::string out;
  for (uint32_t c : unicode::decode_utf8(text)) {
    const int b = unicode::cpt_to_byte(c);
    if (b >= 0) {
      out += static_cast<char>(b);
      continue;
    }
    out += "[UNK_BYTE_0x";
    static const char* kHex = "0123456789abcdef";
    for (char u : unicode::to_utf8(c)) {
      out += kHex[static_cast<uint8_t>(u) >> 4];
      out += kHex[static_cast<uint8_t>(u) & 15];
    }
    out += text + "]";
  }
  return out;
}

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

std::string lower_ascii(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool contains_any(const std::string& s, std::initializer_list<std::string_view> subs) {
  for (auto sub : subs) {
    if (s.find(sub) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

Vocab::~Vocab() = default;
Vocab::Vocab(Vocab&&) noexcept = default;
Vocab& Vocab::operator=(Vocab&&) noexcept = default;

Vocab::Vocab(VocabSpec spec) : impl_(std::make_unique<Impl>()) {
  const size_t n = spec.tokens.size();
  if (n == 0) throw FormatError("tokenizer.ggml.tokens: empty vocabulary");
  if (n > static_cast<size_t>(INT32_MAX)) throw FormatError("tokenizer.ggml.tokens: too many");
  if (!spec.scores.empty() && spec.scores.size() < n) {
    throw FormatError("tokenizer.ggml.scores: " + std::to_string(spec.scores.size()) +
                      " scores for " + std::to_string(n) + " tokens");
  }
  if (!spec.token_types.empty() && spec.token_types.size() < n) {
    throw FormatError("tokenizer.ggml.token_type: " + std::to_string(spec.token_types.size()) +
                      " types for " + std::to_string(n) + " tokens");
  }

  // Model type and its defaults.
  if (spec.model == "llama") {
    type_ = VocabType::kSpm;
    bos_ = 1, eos_ = 2, unk_ = 0;
    add_space_prefix_ = true;
    add_bos_ = true;
  } else if (spec.model == "gpt2") {
    type_ = VocabType::kBpe;
    bos_ = 11, eos_ = 11;
    pre_ = pre_tokenizer_info(spec.pre);
    impl_->ignore_merges = pre_.ignore_merges;
    clean_spaces_ = pre_.clean_spaces;
    add_bos_ = pre_.default_add_bos;
    if (pre_.clears_bos) bos_ = kNoToken;
  } else if (spec.model == "bert") {
    type_ = VocabType::kWpm;
    bos_ = 101, unk_ = 100, sep_ = 102, pad_ = 0, mask_ = 103;
    clean_spaces_ = true;
    add_bos_ = true;
    add_sep_ = true;
  } else {
    throw FormatError("tokenizer.ggml.model: unsupported tokenizer '" + spec.model + "'");
  }
  if (spec.add_space_prefix) add_space_prefix_ = *spec.add_space_prefix;

  tokens_ = std::move(spec.tokens);
  scores_ = spec.scores.empty() ? std::vector<float>(n, 0.0f) : std::move(spec.scores);
  scores_.resize(n);
  attrs_.assign(n, kAttrNormal);
  if (!spec.token_types.empty()) {
    for (size_t i = 0; i < n; ++i) attrs_[i] = attr_from_type(spec.token_types[i]);
  }
  index_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (tokens_[i].empty()) continue;  // can never match text
    // Keys view tokens_, which is never modified again (and keeps its buffer when moved).
    index_[std::string_view(tokens_[i])] = static_cast<TokenId>(i);  // a duplicate text maps to its last id
    impl_->max_token_len = std::max(impl_->max_token_len, tokens_[i].size());
  }

  if (type_ == VocabType::kBpe) {
    impl_->merge_rank.reserve(spec.merges.size());
    for (size_t i = 0; i < spec.merges.size(); ++i) {
      const std::string& m = spec.merges[i];
      if (m.size() < 2 || m.find(' ', 1) == std::string::npos) continue;
      impl_->merge_rank.emplace(m, static_cast<int32_t>(i));  // first rank wins
    }
    if (spec.merges.empty()) throw FormatError("tokenizer.ggml.merges: missing for gpt2 model");
  }

  // Special token ids: a metadata id replaces the default when it is in range.
  const auto set_id = [&](TokenId& id, const std::optional<int64_t>& v) {
    if (id >= static_cast<TokenId>(n)) id = kNoToken;
    if (v && *v >= 0 && *v < static_cast<int64_t>(n)) id = static_cast<TokenId>(*v);
  };
  set_id(bos_, spec.bos);
  set_id(eos_, spec.eos);
  set_id(eot_, spec.eot);
  set_id(eom_, spec.eom);
  set_id(unk_, spec.unk);
  set_id(sep_, spec.sep);
  set_id(pad_, spec.pad);
  set_id(mask_, spec.mask);
  if (spec.add_bos) add_bos_ = *spec.add_bos;
  if (spec.add_eos) add_eos_ = *spec.add_eos;
  if (spec.add_sep) add_sep_ = *spec.add_sep;
  if (spec.lowercase) impl_->lowercase = *spec.lowercase;
  impl_->strip_accents = spec.strip_accents.value_or(impl_->lowercase);

  init_attributes(spec);

  if (type_ == VocabType::kSpm) {
    newline_ = byte_to_token('\n');
  } else if (type_ == VocabType::kWpm) {
    newline_ = pad_;
  } else {
    const auto ids = tokenize("\n", false, false);
    newline_ = ids.empty() ? pad_ : ids[0];
  }
}

void Vocab::init_attributes(const VocabSpec& spec) {
  const size_t n = tokens_.size();
  const auto force_control = [&](TokenId id) { attrs_[id] |= kAttrControl; };

  // Tokens recognised by their text (converters do not always mark them), as the reference does.
  for (const auto& [text, id] : index_) {
    if (eot_ == kNoToken &&
        (text == "<|eot_id|>" || text == "<|im_end|>" || text == "<|end|>" ||
         text == "<end_of_turn>" || text == "<|endoftext|>" || text == "<EOT>" ||
         text == "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>")) {
      eot_ = id;
      force_control(id);
    }
    if (eom_ == kNoToken && text == "<|eom_id|>") {
      eom_ = id;
      force_control(id);
    }
  }
  for (const auto& [text, id] : index_) {
    if (text == "<|eot_id|>" || text == "<|im_end|>" || text == "<|end|>" ||
        text == "<end_of_turn>" || text == "<|endoftext|>" || text == "<|eom_id|>" ||
        text == "<EOT>") {
      eog_.insert(id);
      force_control(id);
    }
  }
  if (eos_ != kNoToken) eog_.insert(eos_);
  if (eot_ != kNoToken) eog_.insert(eot_);
  if (eom_ != kNoToken) eog_.insert(eom_);

  // Specials split off before tokenization, longest text first (ties by id, for determinism).
  for (size_t i = 0; i < n; ++i) {
    if (attrs_[i] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) {
      specials_.push_back(static_cast<TokenId>(i));
    }
  }
  std::stable_sort(specials_.begin(), specials_.end(), [&](TokenId a, TokenId b) {
    return tokens_[a].size() > tokens_[b].size();
  });

  // Pieces (special = true) are fixed per token: compute them once.
  // One buffer for all of them: 151k small strings cost 32 bytes each (plus a heap block when
  // longer than 15) as std::strings, about 1 MiB of text here.
  piece_at_.assign(n + 1, 0);
  pieces_.clear();
  for (size_t i = 0; i < n; ++i) {
    const std::string& text = tokens_[i];
    const uint32_t a = attrs_[i];
    std::string piece;
    if (a & (kAttrSpecial | kAttrUserDefined)) {
      piece = text;
    } else if (a & kAttrNormal) {
      if (type_ == VocabType::kBpe) {
        piece = decode_byte_level(text);
      } else {
        piece = text;
        replace_all(piece, kSpaceMarker, " ");
      }
    } else if ((a & kAttrByte) && type_ != VocabType::kWpm) {
      piece.assign(1, static_cast<char>(byte_of_token_text(text)));
    }
    pieces_ += piece;
    if (pieces_.size() > UINT32_MAX) throw FormatError("tokenizer.ggml.tokens: token texts too long");
    piece_at_[i + 1] = static_cast<uint32_t>(pieces_.size());
  }
  pieces_.shrink_to_fit();

  // Per-model attribute fixes the reference applies by name (not stored in GGUF).
  const std::string name = lower_ascii(spec.name);
  const auto set_attr = [&](std::string_view text, uint32_t bit, bool on) {
    const TokenId id = find(text);
    if (id == kNoToken) return;
    attrs_[id] = on ? (attrs_[id] | bit) : (attrs_[id] & ~bit);
  };
  if (contains_any(spec.pre, {"jina-v2-de", "jina-v2-es", "jina-v2-code"})) {
    set_attr("<mask>", kAttrLstrip, true);
  } else if (contains_any(name, {"phi-3", "phi3"})) {
    for (TokenId id : specials_) attrs_[id] |= kAttrRstrip;
    set_attr("</s>", kAttrRstrip, true);
    for (auto t : {"<unk>", "<s>", "<|endoftext|>"}) set_attr(t, kAttrRstrip, false);
  }
}

void Vocab::check_id(TokenId id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size()) {
    throw Error("token id " + std::to_string(id) + " out of range (vocabulary has " +
                std::to_string(tokens_.size()) + " tokens)");
  }
}

const std::string& Vocab::token_text(TokenId id) const {
  check_id(id);
  return tokens_[id];
}

float Vocab::score(TokenId id) const {
  check_id(id);
  return scores_[id];
}

uint32_t Vocab::attr(TokenId id) const {
  check_id(id);
  return attrs_[id];
}

TokenId Vocab::find(std::string_view text) const {
  const auto it = index_.find(text);
  return it == index_.end() ? kNoToken : it->second;
}

TokenId Vocab::byte_to_token(uint8_t b) const {
  TokenId id = kNoToken;
  if (type_ == VocabType::kSpm) {
    static const char* kHex = "0123456789ABCDEF";
    const char buf[6] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
    id = find(std::string_view(buf, 6));
    if (id == kNoToken) id = find(std::string_view(reinterpret_cast<const char*>(&b), 1));
  } else {
    id = find(unicode::to_utf8(unicode::byte_to_cpt(b)));
  }
  return id != kNoToken ? id : unk_;
}

std::vector<TokenId> Vocab::tokenize(std::string_view raw, bool add_special,
                                     bool parse_special) const {
  return tokenize(raw, add_special, parse_special, {});
}

std::vector<TokenId> Vocab::tokenize(std::string_view raw, bool add_special, bool parse_special,
                                     std::span<const TextSpan> literal) const {
  const auto in_literal = [&](size_t begin, size_t end) {
    for (const TextSpan& s : literal) {
      if (begin < s.end && s.begin < end) return true;
    }
    return false;
  };
  struct Fragment {
    TokenId token;  // kNoToken for text
    size_t off, len;
  };
  std::vector<Fragment> frags;
  if (!raw.empty()) frags.push_back({kNoToken, 0, raw.size()});

  for (TokenId sid : specials_) {
    const uint32_t a = attrs_[sid];
    if (!parse_special && (a & kAttrSpecial)) continue;  // user-defined tokens always split
    const std::string& st = tokens_[sid];
    if (st.empty()) continue;
    std::vector<Fragment> next;
    next.reserve(frags.size());
    for (const Fragment& f : frags) {
      if (f.token != kNoToken) {
        next.push_back(f);
        continue;
      }
      size_t off = f.off, len = f.len, from = f.off;
      while (len > 0) {
        const size_t hit = raw.substr(0, off + len).find(st, from);
        if (hit == std::string_view::npos) break;
        if ((a & kAttrSpecial) && in_literal(hit, hit + st.size())) {
          from = hit + 1;  // control-token text inside a literal span stays text
          continue;
        }
        size_t left = hit - off;
        if (a & kAttrLstrip) {
          while (left > 0 && is_space(raw[off + left - 1])) --left;
        }
        if (left > 0) next.push_back({kNoToken, off, left});
        next.push_back({sid, 0, 0});
        size_t roff = hit + st.size();
        size_t rlen = off + len - roff;
        if (a & kAttrRstrip) {
          while (rlen > 0 && is_space(raw[roff])) ++roff, --rlen;
        }
        off = roff;
        len = rlen;
        from = off;
      }
      if (len > 0) next.push_back({kNoToken, off, len});
    }
    frags = std::move(next);
  }

  std::vector<TokenId> out;
  const auto need = [&](TokenId id, const char* what) {
    if (id == kNoToken) {
      throw Error(std::string("tokenizer wants to add ") + what + " but the model has none");
    }
    return id;
  };
  switch (type_) {
    case VocabType::kSpm: {
      bool prev_special = true;  // the first fragment gets the space prefix
      if (add_special && add_bos_) out.push_back(need(bos_, "BOS"));
      for (const Fragment& f : frags) {
        if (f.token != kNoToken) {
          out.push_back(f.token);
          prev_special = true;
          continue;
        }
        std::string text;
        if (add_space_prefix_ && prev_special) text = " ";
        text.append(raw.substr(f.off, f.len));
        replace_all(text, " ", kSpaceMarker);
        tokenize_spm(*this, text, out);
        prev_special = false;
      }
      if (add_special && add_eos_) out.push_back(need(eos_, "EOS"));
      break;
    }
    case VocabType::kBpe: {
      if (add_special && add_bos_) out.push_back(need(bos_, "BOS"));
      for (const Fragment& f : frags) {
        if (f.token != kNoToken) {
          out.push_back(f.token);
        } else {
          tokenize_bpe(*this, raw.substr(f.off, f.len), out);
        }
      }
      if (add_special && add_eos_) out.push_back(need(eos_, "EOS"));
      break;
    }
    case VocabType::kWpm: {
      if (add_special) out.push_back(need(bos_, "CLS/BOS"));
      for (const Fragment& f : frags) {
        if (f.token != kNoToken) {
          out.push_back(f.token);
        } else {
          tokenize_wpm(*this, raw.substr(f.off, f.len), out);
        }
      }
      if (add_special) out.push_back(need(sep_, "SEP"));
      break;
    }
  }
  return out;
}

std::string Vocab::token_to_piece(TokenId id, bool special, bool lstrip) const {
  check_id(id);
  if (!special && (attrs_[id] & kAttrSpecial)) return {};
  std::string_view p(pieces_.data() + piece_at_[id], piece_at_[id + 1] - piece_at_[id]);
  if (lstrip && !p.empty() && p[0] == ' ') p.remove_prefix(1);
  return std::string(p);
}

std::string Vocab::detokenize(const std::vector<TokenId>& ids, bool remove_special,
                              bool unparse_special) const {
  size_t first = 0, last = ids.size();
  bool remove_space = add_space_prefix_;
  if (remove_special && add_bos_ && last > first && ids[first] == bos_) {
    remove_space = false;
    ++first;
  }
  if (remove_special && add_eos_ && last > first && ids[last - 1] == eos_) --last;

  std::string text;
  for (size_t i = first; i < last; ++i) {
    text += token_to_piece(ids[i], unparse_special, remove_space);
    remove_space = false;
  }
  if (!clean_spaces_ || text.empty()) return text;

  // The reference's three clean-up passes, each over the previous pass's output.
  // 1: " ?", " !", " .", " ," lose the space.
  std::string a;
  a += text[0];
  for (size_t i = 1; i < text.size(); ++i) {
    const char x = text[i];
    if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) a.pop_back();
    a += x;
  }
  // 2: " ' " becomes "'" (both spaces go).
  std::string in = a, b;
  b += in[0];
  for (size_t i = 1; i < in.size(); ++i) {
    const char x = in[i];
    if (x == '\'' && i + 1 < in.size() && in[i - 1] == ' ' && in[i + 1] == ' ') {
      b.pop_back();
      in[++i] = '\0';
    }
    b += x;
  }
  // 3: " 's", " 'm", " 're", " 've" lose the space.
  std::string c;
  c += b[0];
  for (size_t i = 1; i < b.size(); ++i) {
    const char x = b[i];
    if (b[i - 1] == ' ' && x == '\'' && i + 1 < b.size()) {
      const char x1 = b[i + 1];
      if (x1 == 's' || x1 == 'm') {
        c.pop_back();
      } else if (x1 != 't' && x1 != 'd' && i + 2 < b.size()) {
        const char x2 = b[i + 2];
        if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) c.pop_back();
      }
    }
    c += x;
  }
  return c;
}

std::string StreamingDetokenizer::push(TokenId id) {
  pending_ += vocab_.token_to_piece(id, special_);
  const size_t n = unicode::complete_utf8_prefix(pending_);
  std::string out = pending_.substr(0, n);
  pending_.erase(0, n);
  return out;
}

std::string StreamingDetokenizer::flush() { return std::exchange(pending_, std::string()); }

}  // namespace omni::llm
