#include "common/json_string.h"

#include "gtest/gtest.h"

namespace guanxi {
namespace {

TEST(JsonStringTest, EscapesWhatRfc8259Asks) {
  EXPECT_EQ(JsonString("plain"), "\"plain\"");
  EXPECT_EQ(JsonString("a\"b\\c\nd\te"), "\"a\\\"b\\\\c\\nd\\te\"");
  EXPECT_EQ(JsonString(std::string_view("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
  EXPECT_EQ(JsonString(std::string_view("\0", 1)), "\"\\u0000\"");
}

TEST(JsonStringTest, KeepsUtf8AsItIs) {
  for (const char* s : {"关系", "é", "\xf0\x9f\x98\x80" /* U+1F600 */, "\xef\xbf\xbf",
                        "\xf4\x8f\xbf\xbf" /* U+10FFFF */}) {
    EXPECT_EQ(JsonString(s), std::string("\"") + s + "\"") << s;
  }
}

TEST(JsonStringTest, ReplacesEveryByteOfNoWellFormedUtf8Sequence) {
  const std::pair<std::string, std::string> cases[] = {
      {"\xff\xfe", "\\ufffd\\ufffd"},
      {"a\x80z", "a\\ufffdz"},                        // a lone continuation byte
      {"\xc0\xaf", "\\ufffd\\ufffd"},                 // an overlong '/'
      {"\xe0\x80\x80", "\\ufffd\\ufffd\\ufffd"},      // overlong
      {"\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"},      // a surrogate
      {"\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"},  // above U+10FFFF
      {"\xe5\x85", "\\ufffd\\ufffd"},                 // cut short at the end
      {"\xe5\x85x\xe7\xb3\xbb", "\\ufffd\\ufffdx系"},  // cut short, then a whole one
  };
  for (const auto& [in, out] : cases) EXPECT_EQ(JsonString(in), "\"" + out + "\"") << out;
}

}  // namespace
}  // namespace guanxi
