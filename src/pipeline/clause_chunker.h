// Splits an LLM's streamed text into clauses a TTS can speak one at a time, so speech starts on
// the first clause instead of the whole answer.
//
// Boundaries: . ! ? followed by whitespace (strong), , ; : followed by whitespace (weak: only once
// the clause has min_chars), newlines, CJK 。！？ (strong) and ，、 (weak) with no space needed,
// and Korean sentence endings (…니다, …요, …죠, …까) before whitespace. Closing quotes and brackets
// stay with their clause. Not boundaries: decimals and thousands (3.14, 1,000: no space
// follows), abbreviations (e.g. i.e. Dr. Mr. vs. …), initials (J. R.), list numbers ("1. ").
// A boundary at the very end of the text so far waits for the next piece (it may be "3." of
// "3.5"), unless flush() is called. Latency caps: a clause longer than max_chars, or pending
// longer than max_wait, is cut at its last space.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace omni::pipeline {

struct ChunkerOptions {
  size_t min_chars = 12;   // code points a clause needs before a weak boundary cuts it
  size_t max_chars = 160;  // code points: past this, cut at the last space (or here)
  // A clause pending this long (since its first character arrived) is cut at its last space
  // once it has min_chars. Zero: never by time.
  std::chrono::milliseconds max_wait{0};
  // The same cap for the first clause only (zero: max_wait applies). The first clause is on the
  // voice-to-voice path, so it may be cut sooner: a short first sentence still ends at its
  // punctuation, a long one starts speaking after this long and goes on in the next clause.
  std::chrono::milliseconds first_max_wait{0};
  // Words after which the first clause goes out at a word boundary (0: off). The first clause is
  // the only one on the voice-to-voice path: cutting it after a few words lets TTS start while
  // the LLM writes the rest of the sentence (the later clauses keep the punctuation rules, TTS
  // of clause 1 covers their generation). Price: a pause in the intonation after those words
  // when the sentence is longer. A sentence that ends sooner still ends at its punctuation.
  // With it set, the first clause's time cap needs only min(min_chars, 2 * first_words) code
  // points, so unspaced text (no words to count) starts about as soon.
  size_t first_words = 0;
};

class ClauseChunker {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit ClauseChunker(ChunkerOptions options = {}) : opt_(options) {}

  // Adds streamed text; returns the clauses it completed (trimmed, non-empty), in order.
  std::vector<std::string> push(std::string_view text,
                                TimePoint now = std::chrono::steady_clock::now());
  // The time cap: the pending text's head, cut at its last space, if it has waited max_wait.
  std::optional<std::string> poll(TimePoint now = std::chrono::steady_clock::now());
  // End of the stream: whatever remains (trimmed; empty vector when nothing).
  std::vector<std::string> flush();

  const std::string& pending() const { return buf_; }

 private:
  // Byte offset just past the first boundary in buf_ (0 when none yet).
  size_t find_boundary(bool at_end) const;
  // First clause only: byte offset of the whitespace ending its first_words-th word, once that
  // word is complete (whitespace follows it); 0 otherwise.
  size_t first_words_cut() const;
  void emit(size_t n, std::vector<std::string>& out);

  ChunkerOptions opt_;
  std::string buf_;
  TimePoint since_{};
  bool emitted_ = false;  // a clause was handed out (first_max_wait no longer applies)
};

}  // namespace omni::pipeline
