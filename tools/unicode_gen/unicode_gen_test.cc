// Runs omni-unicode-gen on a small hand-written UCD and checks the tables it writes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "testing/refdata.h"

namespace {

void write(const std::filesystem::path& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary);
  f << s;
}

TEST(UnicodeGen, WritesRangeTables) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("omni_ucd_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  write(dir / "ReadMe.txt", "# Unicode Character Database\n# Version 99.0.0 of the UCD\n");
  write(dir / "UnicodeData.txt",
        "0020;SPACE;Zs;0;WS;;;;;N;;;;;\n"
        "0041;LATIN CAPITAL LETTER A;Lu;0;L;;;;;N;;;;0061;\n"
        "0061;LATIN SMALL LETTER A;Ll;0;L;;;;;N;;;0041;;0041\n"
        "00C0;LATIN CAPITAL LETTER A WITH GRAVE;Lu;0;L;0041 0300;;;;N;;;;00E0;\n"
        "00C2;LATIN CAPITAL LETTER A WITH CIRCUMFLEX;Lu;0;L;0041 0302;;;;N;;;;00E2;\n"
        "00BD;VULGAR FRACTION ONE HALF;No;0;ON;<fraction> 0031 2044;;;1/2;N;;;;;\n"
        "0300;COMBINING GRAVE ACCENT;Mn;230;NSM;;;;;N;;;;;\n"
        "1EA6;LATIN CAPITAL LETTER A WITH CIRCUMFLEX AND GRAVE;Lu;0;L;00C2 0300;;;;N;;;;1EA7;\n"
        "4E00;<CJK Ideograph, First>;Lo;0;L;;;;;N;;;;;\n"
        "9FFF;<CJK Ideograph, Last>;Lo;0;L;;;;;N;;;;;\n"
        "AC00;<Hangul Syllable, First>;Lo;0;L;;;;;N;;;;;\n"
        "D7A3;<Hangul Syllable, Last>;Lo;0;L;;;;;N;;;;;\n");
  write(dir / "PropList.txt",
        "# comment\n0009..000D    ; White_Space # Cc   [5]\n0020          ; White_Space # Zs\n"
        "0041          ; ASCII_Hex_Digit # L&\n");

  std::string out;
  const int rc = omni::testing::run_command(
      omni::testing::binary("omni-unicode-gen") + " " + dir.string(), &out, true);
  std::filesystem::remove_all(dir);
  ASSERT_EQ(rc, 0) << out;

  // Entries wrap at any point: compare with all line breaks and indentation removed.
  std::string flat;
  for (char c : out) {
    if (c != '\n' && !(c == ' ' && !flat.empty() && (flat.back() == ',' || flat.back() == ' '))) {
      flat += c;
    }
  }
  const auto has = [&](const std::string& s) {
    EXPECT_NE(flat.find(s), std::string::npos) << "missing " << s << " in\n" << out;
  };
  has("Unicode Character Database 99.0.0");
  // Category runs: undefined, separator, letter, ..., the CJK and Hangul ranges.
  has("{0x00000,0x01},");
  has("{0x00020,0x08},{0x00021,0x01},");
  has("{0x00041,0x04},{0x00042,0x01},");
  has("{0x000BD,0x02},");
  has("{0x00300,0x10},");
  has("{0x04E00,0x04},{0x0A000,0x01},");
  has("{0x0AC00,0x04},{0x0D7A4,0x01},");
  has("const size_t kWhiteSpaceCount = 2;");
  has("{0x00009,0x0000D},");
  has("{0x00041,0x00061},{0x000C0,0x000E0},{0x000C2,0x000E2},{0x01EA6,0x01EA7},");
  // NFD first code points: recursive (1EA6 -> 00C2 -> 0041), compatibility forms ignored,
  // Hangul syllables to their leading jamo in blocks of 588.
  has("{0x000C0,0x000C0,0x00041},{0x000C2,0x000C2,0x00041},{0x01EA6,0x01EA6,0x00041},");
  has("{0x0AC00,0x0AE4B,0x01100},");
  EXPECT_EQ(flat.find("0x000BD,0x000BD"), std::string::npos);
}

TEST(UnicodeGen, FailsOnMissingInput) {
  std::string out;
  EXPECT_EQ(omni::testing::run_command(
                omni::testing::binary("omni-unicode-gen") + " /nonexistent-ucd", &out, true),
            1);
  EXPECT_NE(out.find("UnicodeData.txt"), std::string::npos) << out;
}

}  // namespace
