#include "pipeline/clause_chunker.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace omni::pipeline {
namespace {

using Strings = std::vector<std::string>;

// Feeds `text` one byte at a time (the hardest streaming case: every boundary is seen at the
// end of the buffer first) and flushes.
Strings chunk_bytewise(std::string_view text, ChunkerOptions o = {}) {
  ClauseChunker c(o);
  Strings out;
  for (char ch : text) {
    for (auto& s : c.push(std::string_view(&ch, 1))) out.push_back(s);
  }
  for (auto& s : c.flush()) out.push_back(s);
  return out;
}

Strings chunk_whole(std::string_view text, ChunkerOptions o = {}) {
  ClauseChunker c(o);
  Strings out = c.push(text);
  for (auto& s : c.flush()) out.push_back(s);
  return out;
}

void expect_both(std::string_view text, const Strings& want, ChunkerOptions o = {}) {
  EXPECT_EQ(chunk_bytewise(text, o), want) << "bytewise: " << text;
  EXPECT_EQ(chunk_whole(text, o), want) << "whole: " << text;
}

TEST(ClauseChunker, SentencesSplitAtTerminalPunctuation) {
  expect_both("Hello there. How are you? I am fine!",
              {"Hello there.", "How are you?", "I am fine!"});
}

TEST(ClauseChunker, WeakBoundariesNeedMinimumLength) {
  ChunkerOptions o;
  o.min_chars = 12;
  expect_both("Yes, I think so, because the weather is nice; we can go.",
              {"Yes, I think so,", "because the weather is nice;", "we can go."}, o);
  o.min_chars = 1;
  expect_both("Yes, I think so.", {"Yes,", "I think so."}, o);
}

TEST(ClauseChunker, NumbersAreNotSplit) {
  expect_both("Pi is about 3.14 and a thousand is 1,000. Right.",
              {"Pi is about 3.14 and a thousand is 1,000.", "Right."});
  expect_both("It costs $2.50 today.", {"It costs $2.50 today."});
}

TEST(ClauseChunker, AbbreviationsAndInitialsAreNotSplit) {
  expect_both("Ask Dr. Smith, e.g. at noon. Then go.", {"Ask Dr. Smith,", "e.g. at noon.", "Then go."});
  expect_both("J. R. R. Tolkien wrote it. The U.S. Army agreed.",
              {"J. R. R. Tolkien wrote it.", "The U.S. Army agreed."});
  expect_both("Mr. and Mrs. Jones vs. the rest.", {"Mr. and Mrs. Jones vs. the rest."});
}

TEST(ClauseChunker, ListNumbersAndNewlines) {
  expect_both("Steps:\n1. Open the box.\n2. Take it out.",
              {"Steps:", "1. Open the box.", "2. Take it out."});
}

TEST(ClauseChunker, EllipsisAndClosingQuotes) {
  expect_both("Well... maybe. He said \"stop.\" Then left.",
              {"Well...", "maybe.", "He said \"stop.\"", "Then left."});
  expect_both("(It works.) Good?!  Yes.", {"(It works.)", "Good?!", "Yes."});
}

TEST(ClauseChunker, UrlsAndDomainsStayWhole) {
  expect_both("See example.com/a.b for details. Done.", {"See example.com/a.b for details.", "Done."});
}

TEST(ClauseChunker, KoreanPunctuationAndEndings) {
  expect_both("안녕하세요. 오늘 날씨가 좋네요! 뭐 할까요?",
              {"안녕하세요.", "오늘 날씨가 좋네요!", "뭐 할까요?"});
  // Sentence endings without punctuation, then a space.
  expect_both("감사합니다 다음에 또 만나요 안녕", {"감사합니다", "다음에 또 만나요", "안녕"});
  // Full-width CJK punctuation needs no space after it.
  expect_both("今日は晴れです。明日も？はい！", {"今日は晴れです。", "明日も？", "はい！"});
}

TEST(ClauseChunker, BoundaryAtEndWaitsForMoreText) {
  ClauseChunker c;
  EXPECT_TRUE(c.push("The value is 3.").empty());  // may be "3.5"
  EXPECT_TRUE(c.push("5").empty());
  EXPECT_EQ(c.push(" units. Next"), Strings{"The value is 3.5 units."});
  EXPECT_EQ(c.flush(), Strings{"Next"});
  EXPECT_TRUE(c.flush().empty());
}

TEST(ClauseChunker, LongTextIsCutAtASpace) {
  ChunkerOptions o;
  o.max_chars = 20;
  const Strings got = chunk_bytewise("one two three four five six seven eight nine ten", o);
  ASSERT_GE(got.size(), 3u);
  for (const auto& s : got) {
    EXPECT_LE(s.size(), 20u) << s;
    EXPECT_NE(s.back(), ' ');
  }
  std::string joined;
  for (const auto& s : got) joined += (joined.empty() ? "" : " ") + s;
  EXPECT_EQ(joined, "one two three four five six seven eight nine ten");
  // No space at all: a hard cut on a code point boundary.
  const Strings hard = chunk_whole(std::string(45, 'x'), o);
  EXPECT_EQ(hard, (Strings{std::string(20, 'x'), std::string(20, 'x'), std::string(5, 'x')}));
  const Strings korean = chunk_whole("가나다라마바사아자차카타파하가나다라마바사아자차", o);
  ASSERT_EQ(korean.size(), 2u);
  EXPECT_EQ(korean[0].size(), 60u);  // 20 syllables of 3 bytes, never split inside one
}

TEST(ClauseChunker, TimeCapFlushesCompleteWords) {
  using namespace std::chrono_literals;
  ChunkerOptions o;
  o.min_chars = 5;
  o.max_wait = 300ms;
  ClauseChunker c(o);
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  EXPECT_TRUE(c.push("Once upon a ti", t0).empty());
  EXPECT_FALSE(c.poll(t0 + 299ms).has_value());
  const auto got = c.poll(t0 + 300ms);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, "Once upon a");  // "ti" may still be growing
  EXPECT_EQ(c.push("me there was.", t0 + 310ms), Strings{});
  EXPECT_EQ(c.flush(), Strings{"time there was."});
  // Too short to cut by time.
  ClauseChunker d(o);
  d.push("Hey", t0);
  EXPECT_FALSE(d.poll(t0 + 1s).has_value());
  // Disabled by default.
  ClauseChunker e;
  e.push("a long clause with no end in sight", t0);
  EXPECT_FALSE(e.poll(t0 + 1h).has_value());
}

TEST(ClauseChunker, FirstClauseHasItsOwnTimeCap) {
  using namespace std::chrono_literals;
  ChunkerOptions o;
  o.min_chars = 5;
  o.max_wait = 600ms;
  o.first_max_wait = 200ms;
  ClauseChunker c(o);
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  c.push("The capital of Fr", t0);
  EXPECT_FALSE(c.poll(t0 + 199ms).has_value());
  ASSERT_EQ(c.poll(t0 + 200ms), std::optional<std::string>("The capital of"));
  // Later clauses wait max_wait.
  c.push("ance is a city called", t0 + 210ms);
  EXPECT_FALSE(c.poll(t0 + 700ms).has_value());
  EXPECT_EQ(c.poll(t0 + 810ms), std::optional<std::string>("France is a city"));
  // A short first sentence still ends at its punctuation, before the cap.
  ClauseChunker d(o);
  EXPECT_EQ(d.push("Paris. It is", t0), Strings{"Paris."});
  // Only the first clause: with max_wait 0 (off) it applies to the first clause alone.
  o.max_wait = 0ms;
  ClauseChunker e(o);
  e.push("one two three four", t0);
  EXPECT_EQ(e.poll(t0 + 200ms), std::optional<std::string>("one two three"));
  e.push(" five six seven", t0 + 210ms);
  EXPECT_FALSE(e.poll(t0 + 1h).has_value());
  // No space to cut at (unspaced scripts): the whole pending text goes at the cap.
  ClauseChunker f(o);
  f.push("我们今天去公园散步吧", t0);
  EXPECT_EQ(f.poll(t0 + 200ms), std::optional<std::string>("我们今天去公园散步吧"));
}

TEST(ClauseChunker, FirstClauseGoesAfterItsFirstWords) {
  ChunkerOptions o;
  o.first_words = 4;
  // Streamed: the first four words go as soon as the fourth is complete, the rest by punctuation.
  EXPECT_EQ(chunk_bytewise("The capital of France is Paris. It is big, old and famous.", o),
            (Strings{"The capital of France", "is Paris.", "It is big, old and famous."}));
  // A sentence of at most that many words still ends at its punctuation.
  EXPECT_EQ(chunk_bytewise("Paris is the capital. It is big.", o),
            (Strings{"Paris is the capital.", "It is big."}));
  EXPECT_EQ(chunk_bytewise("Yes. Paris is the capital of France.", o),
            (Strings{"Yes.", "Paris is the capital of France."}));
  // Text that is already there with its punctuation is not cut by the word rule.
  EXPECT_EQ(chunk_whole("The capital of France is Paris. It is", o),
            (Strings{"The capital of France is Paris.", "It is"}));
  // A word still growing is not counted; leading spaces are not words.
  ClauseChunker c(o);
  EXPECT_TRUE(c.push("  one two three fo").empty());
  EXPECT_TRUE(c.push("ur").empty());
  EXPECT_EQ(c.push(" fi"), Strings{"one two three four"});
  EXPECT_TRUE(c.push("ve six seven eight nine ").empty());  // later clauses: punctuation only
  // Unspaced scripts have no words: the time cap applies, and for the first clause it needs only
  // 2 code points per word of first_words (8 here, instead of min_chars 12).
  using namespace std::chrono_literals;
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  o.first_max_wait = 80ms;
  ClauseChunker u(o);
  EXPECT_TRUE(u.push("我们今天去公园", t0).empty());
  EXPECT_FALSE(u.poll(t0 + 80ms).has_value());  // 7 code points
  u.push("散", t0 + 90ms);
  EXPECT_EQ(u.poll(t0 + 90ms), std::optional<std::string>("我们今天去公园散"));
  u.push("步吧我们今天去公园散步吧", t0 + 100ms);
  EXPECT_FALSE(u.poll(t0 + 200ms).has_value());  // later clauses: min_chars and max_wait
  o.first_words = 0;
  EXPECT_EQ(chunk_bytewise("The capital of France is Paris. It", o),
            (Strings{"The capital of France is Paris.", "It"}));
}

TEST(ClauseChunker, EmptyAndBlankInput) {
  EXPECT_TRUE(chunk_whole("").empty());
  EXPECT_TRUE(chunk_whole("   \n\n  ").empty());
  expect_both("...", {"..."});
}

}  // namespace
}  // namespace omni::pipeline
