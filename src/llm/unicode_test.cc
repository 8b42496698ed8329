#include "llm/unicode.h"

#include <gtest/gtest.h>

namespace omni::llm::unicode {
namespace {

uint16_t cls(uint32_t c) { return flags(c) & 0xFF; }

TEST(Unicode, Categories) {
  EXPECT_EQ(cls('A'), kLetter);
  EXPECT_EQ(cls('z'), kLetter);
  EXPECT_EQ(cls('0'), kNumber);
  EXPECT_EQ(cls('!'), kPunctuation);
  EXPECT_EQ(cls('$'), kSymbol);
  EXPECT_EQ(cls('+'), kSymbol);
  EXPECT_EQ(cls(' '), kSeparator);
  EXPECT_EQ(cls('\n'), kControl);
  EXPECT_EQ(cls(0xE9), kLetter);      // é
  EXPECT_EQ(cls(0x0301), kMark);      // combining acute
  EXPECT_EQ(cls(0x00B2), kNumber);    // superscript two (No)
  EXPECT_EQ(cls(0x2164), kNumber);    // roman numeral five (Nl)
  EXPECT_EQ(cls(0x4E00), kLetter);    // CJK ideograph (inside a First/Last range)
  EXPECT_EQ(cls(0xD55C), kLetter);    // Hangul syllable (range)
  EXPECT_EQ(cls(0x1F600), kSymbol);   // emoji
  EXPECT_EQ(cls(0xE000), kControl);   // private use (Co)
  EXPECT_EQ(cls(0xD800), kControl);   // surrogate (Cs)
  EXPECT_EQ(cls(0x200D), kControl);   // ZWJ (Cf)
  EXPECT_EQ(cls(0x0378), kUndefined);  // unassigned
  EXPECT_EQ(cls(0x10FFFF), kUndefined);
  EXPECT_EQ(cls(0x110000), kUndefined);
  EXPECT_EQ(cls(0x3002), kPunctuation);  // ideographic full stop
}

TEST(Unicode, WhiteSpace) {
  for (uint32_t c : {0x09u, 0x0Au, 0x0Bu, 0x0Cu, 0x0Du, 0x20u, 0x85u, 0xA0u, 0x1680u, 0x2000u,
                     0x200Au, 0x2028u, 0x2029u, 0x202Fu, 0x205Fu, 0x3000u}) {
    EXPECT_TRUE(is_whitespace(c)) << std::hex << c;
  }
  for (uint32_t c : {0x08u, 0x1Cu, 0x1Fu, 0x200Bu, 0x180Eu, 0xFEFFu, 0x61u}) {
    EXPECT_FALSE(is_whitespace(c)) << std::hex << c;
  }
  EXPECT_EQ(flags(0x3000), kSeparator | kWhiteSpace);
}

TEST(Unicode, LowerAndNfd) {
  EXPECT_EQ(to_lower('A'), uint32_t('a'));
  EXPECT_EQ(to_lower('a'), uint32_t('a'));
  EXPECT_EQ(to_lower(0xC4), 0xE4u);     // Ä -> ä
  EXPECT_EQ(to_lower(0x0130), 0x69u);   // İ -> i (simple mapping)
  EXPECT_EQ(to_lower(0x0410), 0x0430u);  // Cyrillic А
  EXPECT_EQ(to_lower(0x1F600), 0x1F600u);
  EXPECT_EQ(nfd_first(0xE9), uint32_t('e'));   // é
  EXPECT_EQ(nfd_first(0x1EC7), uint32_t('e'));  // ệ: two levels of decomposition
  EXPECT_EQ(nfd_first(0x2126), 0x03A9u);       // ohm sign -> omega (singleton)
  EXPECT_EQ(nfd_first(0xD55C), 0x1112u);       // 한 -> leading jamo ᄒ
  EXPECT_EQ(nfd_first('a'), uint32_t('a'));
  EXPECT_EQ(nfd_first(0xFB01), 0xFB01u);  // ﬁ has only a compatibility decomposition
}

TEST(Unicode, DecodeLikeReference) {
  EXPECT_EQ(decode_utf8("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"),
            (std::vector<uint32_t>{'a', 0xE9, 0x20AC, 0x1F600}));
  // Stray continuation, truncated sequence, 0xFF: one U+FFFD per bad byte, then resync.
  EXPECT_EQ(decode_utf8("\x80z"), (std::vector<uint32_t>{0xFFFD, 'z'}));
  EXPECT_EQ(decode_utf8("\xE2\x82"), (std::vector<uint32_t>{0xFFFD, 0xFFFD}));
  EXPECT_EQ(decode_utf8("\xFF"), (std::vector<uint32_t>{0xFFFD}));
  // Over-long forms decode (the reference does not reject them); above U+10FFFF does not.
  EXPECT_EQ(decode_utf8("\xC0\xAF"), (std::vector<uint32_t>{'/'}));
  EXPECT_EQ(decode_utf8("\xF4\x90\x80\x80").size(), 4u);
  EXPECT_EQ(to_utf8(0x20AC), "\xE2\x82\xAC");
  EXPECT_EQ(to_utf8(0x110000), "\xEF\xBF\xBD");
}

TEST(Unicode, CompletePrefix) {
  EXPECT_EQ(complete_utf8_prefix(""), 0u);
  EXPECT_EQ(complete_utf8_prefix("ab"), 2u);
  EXPECT_EQ(complete_utf8_prefix("a\xE2"), 1u);
  EXPECT_EQ(complete_utf8_prefix("a\xE2\x82"), 1u);
  EXPECT_EQ(complete_utf8_prefix("a\xE2\x82\xAC"), 4u);
  EXPECT_EQ(complete_utf8_prefix("a\xF0\x9F\x98"), 1u);
  EXPECT_EQ(complete_utf8_prefix("a\x80"), 2u);  // stray continuation can never complete
  EXPECT_EQ(complete_utf8_prefix("a\xFF"), 2u);
  EXPECT_TRUE(is_valid_utf8("h\xC3\xA9"));
  EXPECT_FALSE(is_valid_utf8("h\xC3"));
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));  // surrogate
}

TEST(Unicode, Gpt2ByteMap) {
  EXPECT_EQ(byte_to_cpt('A'), uint32_t('A'));
  EXPECT_EQ(byte_to_cpt(' '), 0x120u);  // Ġ
  EXPECT_EQ(byte_to_cpt('\n'), 0x10Au);  // Ċ
  EXPECT_EQ(byte_to_cpt(0xAD), 0x143u);
  for (int b = 0; b < 256; ++b) EXPECT_EQ(cpt_to_byte(byte_to_cpt(uint8_t(b))), b);
  EXPECT_EQ(cpt_to_byte(0x20), -1);
  EXPECT_EQ(cpt_to_byte(0x144), -1);
  EXPECT_EQ(bytes_to_gpt2(" a"), "\xC4\xA0" "a");
}

}  // namespace
}  // namespace omni::llm::unicode
