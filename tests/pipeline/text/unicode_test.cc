#include "pipeline/text/unicode.h"

#include <string>
#include <string_view>

#include "gtest/gtest.h"
#include "pipeline/text/duplicates.h"
#include "pipeline/text/py_str.h"

namespace winnow::pipeline {
namespace {

TEST(CharFlags, GeneratedTableMatchesTheEnum) {
  // The generated table names its bits; they must be the enum's, in order.
  const char* names[] = {
      "kAlpha",          "kLower",         "kUpper",    "kIcon",    "kQuote",        "kPrefix",
      "kSuffix",         "kDotAfter",      "kSpace",    "kPyAlpha", "kUnicodePunct", "kSentenceEnd",
      "kDatatrovePunct", "kTerminalPunct", "kWordChar", "kDigit",   "kLineBreak"};
  for (int bit = 0; bit < 17; ++bit) EXPECT_EQ(internal::CharFlagName(bit), names[bit]) << bit;
  EXPECT_EQ(kCharLineBreak, 1u << 16);
}

TEST(CharFlags, ClassifiesLikeTheReference) {
  EXPECT_TRUE(CharFlags('a') & kCharLower);
  EXPECT_TRUE(CharFlags('A') & kCharUpper);
  EXPECT_TRUE(CharFlags(0x00A0) & kCharSpace);  // NO-BREAK SPACE is str.isspace()
  EXPECT_TRUE(CharFlags(0x3000) & kCharSpace);
  EXPECT_TRUE(CharFlags(0x2026) & kCharDatatrovePunct);  // …
  EXPECT_TRUE(CharFlags(0x3002) & kCharTerminalPunct);   // 。
  EXPECT_TRUE(CharFlags(0x1F600) & kCharIcon);           // emoji
  EXPECT_TRUE(CharFlags(0x4E2D) & kCharPyAlpha);         // 中
  EXPECT_TRUE(CharFlags(0x0663) & kCharDigit);           // Arabic-Indic 3
  EXPECT_TRUE(CharFlags(0x2029) & kCharLineBreak);
  EXPECT_TRUE(CharFlags('-') & kCharUnicodePunct);
  EXPECT_EQ(CharFlags(kInvalidByte), 0u);
}

TEST(DecodeUtf8, DecodesAndRejects) {
  const std::string s = "a\u00e9\u20ac\U0001F600\xc0\xaf\xed\xa0\x80\xf0\x9f";
  size_t pos = 0;
  EXPECT_EQ(DecodeUtf8(s, &pos), U'a');
  EXPECT_EQ(DecodeUtf8(s, &pos), U'\u00e9');
  EXPECT_EQ(DecodeUtf8(s, &pos), U'\u20ac');
  EXPECT_EQ(DecodeUtf8(s, &pos), U'\U0001F600');
  EXPECT_EQ(DecodeUtf8(s, &pos), kInvalidByte);  // overlong
  EXPECT_EQ(DecodeUtf8(s, &pos), kInvalidByte);
  EXPECT_EQ(DecodeUtf8(s, &pos), kInvalidByte);  // surrogate
  pos += 2;
  EXPECT_EQ(DecodeUtf8(s, &pos), kInvalidByte);  // truncated
  size_t start;
  EXPECT_EQ(DecodeUtf8Before("x\u20ac", 4, &start), U'\u20ac');
  EXPECT_EQ(start, 1u);
}

TEST(CodePointCount, CountsLikePythonLen) {
  EXPECT_EQ(CodePointCount(""), 0u);
  EXPECT_EQ(CodePointCount("abc"), 3u);
  EXPECT_EQ(CodePointCount("na\u00efve caf\u00e9 \u20ac\U0001F600 and more text here"), 32u);
}

TEST(PyStr, StripSplitAndSplitLinesLikePython) {
  EXPECT_EQ(PyStrip(" \u00a0\tx y\u3000\n"), "x y");
  EXPECT_EQ(PyLStrip("  x "), "x ");
  EXPECT_EQ(PyRStrip("  x "), "  x");
  std::vector<std::string_view> parts;
  PySplitLines(
      "a\nb\r\nc\rd\x0b"
      "e\x1c"
      "f\u2028g\u0085h\n",
      &parts);
  EXPECT_EQ(parts, (std::vector<std::string_view>{"a", "b", "c", "d", "e", "f", "g", "h"}));
  PySplitLines("\n\nx", &parts);
  EXPECT_EQ(parts, (std::vector<std::string_view>{"", "", "x"}));
  PySplitWhitespace("  one\ttwo\u2003three  ", &parts);
  EXPECT_EQ(parts, (std::vector<std::string_view>{"one", "two", "three"}));
}

TEST(FindDuplicates, CountsLaterOccurrencesAndTheirLength) {
  const std::vector<std::string_view> items = {"ab", "\u00e9\u00e9", "ab",
                                               "c",  "\u00e9\u00e9", "ab"};
  const DuplicateCount d = FindDuplicates(items);
  EXPECT_EQ(d.elements, 3u);
  EXPECT_EQ(d.chars, 2u + 2u + 2u);
  EXPECT_EQ(FindDuplicates({}).elements, 0u);
}

}  // namespace
}  // namespace winnow::pipeline
