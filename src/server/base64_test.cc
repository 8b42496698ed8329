#include "server/base64.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace omni::server {
namespace {

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> v[] = {{"", ""},         {"f", "Zg=="},
                                                   {"fo", "Zm8="},   {"foo", "Zm9v"},
                                                   {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                                   {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, enc] : v) {
    EXPECT_EQ(base64_encode(bytes(plain)), enc);
    EXPECT_EQ(base64_decode(enc), bytes(plain));
  }
}

TEST(Base64, RoundTripsEveryByteAndIgnoresWhitespace) {
  std::vector<uint8_t> all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<uint8_t>(i);
  std::string enc = base64_encode(all);
  EXPECT_EQ(base64_decode(enc), all);
  enc.insert(10, "\r\n ");
  EXPECT_EQ(base64_decode(enc), all);
  // Padding is optional.
  EXPECT_EQ(base64_decode("Zm8"), bytes("fo"));
}

TEST(Base64, RejectsBadInput) {
  EXPECT_THROW(base64_decode("Zm9v!"), FormatError);
  EXPECT_THROW(base64_decode("Z"), FormatError);      // one digit cannot encode a byte
  EXPECT_THROW(base64_decode("Zg=A"), FormatError);   // data after padding
  EXPECT_THROW(base64_decode("Zg==="), FormatError);  // too much padding
  EXPECT_THROW(base64_decode("Zm9=="), FormatError);  // padding does not match
  try {
    base64_decode("Zm9v\x01", "input_audio.data");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("input_audio.data"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("offset 4"), std::string::npos);
  }
}

TEST(Base64, DataUrls) {
  const DataUrl d = parse_data_url("data:Image/PNG;base64,Zm9vYmFy");
  EXPECT_EQ(d.mime, "image/png");
  EXPECT_EQ(d.bytes, bytes("foobar"));
  EXPECT_THROW(parse_data_url("http://x/y.png"), FormatError);
  EXPECT_THROW(parse_data_url("data:text/plain,hello"), FormatError);
  EXPECT_THROW(parse_data_url("data:image/png;base64"), FormatError);
}

}  // namespace
}  // namespace omni::server
