#include "core/base/guest_text.h"

#include <string>

#include <gtest/gtest.h>

namespace kfreeze {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(GuestTextTest, ValidTextIsUnchanged) {
  for (const std::string s : {"", "lab_spin", "caf\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"}) {
    EXPECT_TRUE(IsValidUtf8(s)) << s;
    EXPECT_EQ(GuestText(s), s);
  }
}

TEST(GuestTextTest, EachMaximalInvalidSubpartBecomesOneReplacement) {
  // A lone continuation byte, a bad lead byte, and a lead whose sequence is cut short.
  EXPECT_EQ(GuestText("a\x80z"), "a" + kFffd + "z");
  EXPECT_EQ(GuestText("\xFF\xFE"), kFffd + kFffd);
  EXPECT_EQ(GuestText("\xE2\x82z"), kFffd + "z");    // E2 82 is one maximal subpart
  EXPECT_EQ(GuestText("ok\xF0\x9F"), "ok" + kFffd);  // truncated at the end
}

TEST(GuestTextTest, OverlongsSurrogatesAndOutOfRangeAreInvalid) {
  for (const std::string s :
       {"\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80"}) {
    EXPECT_FALSE(IsValidUtf8(s));
    const std::string fixed = GuestText(s);
    EXPECT_TRUE(IsValidUtf8(fixed));
    EXPECT_NE(fixed.find(kFffd), std::string::npos);
  }
}

TEST(GuestTextTest, EveryByteStringComesOutValid) {
  // Every 1- and 2-byte input: the output is valid and never shorter in characters.
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      std::string s{static_cast<char>(a), static_cast<char>(b)};
      ASSERT_TRUE(IsValidUtf8(GuestText(s))) << a << "," << b;
    }
  }
}

}  // namespace
}  // namespace kfreeze
