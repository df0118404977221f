// The exact-deduplication key: equal for texts that differ only in whitespace or ASCII case.
#include "pipeline/dedup/text_hash.h"

#include <xxhash.h>

#include <string>

#include "gtest/gtest.h"

namespace winnow::pipeline {
namespace {

TEST(ExactTextHash, IgnoresWhitespaceAndAsciiCase) {
  const uint64_t h = ExactTextHash("Hello World.\nSecond line.");
  EXPECT_EQ(ExactTextHash("  hello   world.\r\n\tSECOND line.  "), h);
  EXPECT_EQ(ExactTextHash("hello\u00a0world.\u3000second\u2003line.\n"), h);
}

TEST(ExactTextHash, DistinguishesDifferentText) {
  EXPECT_NE(ExactTextHash("hello world"), ExactTextHash("hello  world!"));
  EXPECT_NE(ExactTextHash("helloworld"), ExactTextHash("hello world"));
  // Only ASCII is case-folded: non-ASCII letters are kept as they are.
  EXPECT_NE(ExactTextHash("\u00c9t\u00e9"), ExactTextHash("\u00e9t\u00e9"));
  EXPECT_NE(ExactTextHash("cafe"), ExactTextHash("caf\u00e9"));
}

TEST(ExactTextHash, IsXxh64OfTheDocumentedNormalisation) {
  EXPECT_EQ(ExactTextNormalize(" \t A  B\u2028c \u0085D\u00a0 "), "a b c d");
  EXPECT_EQ(ExactTextNormalize(""), "");
  EXPECT_EQ(ExactTextNormalize("\n\n \u3000"), "");
  EXPECT_EQ(ExactTextNormalize("\u00c0 \u2019Quote\u2019"), "\u00c0 \u2019quote\u2019");
  const std::string norm = ExactTextNormalize("Some  Text");
  EXPECT_EQ(ExactTextHash("Some  Text"), XXH64(norm.data(), norm.size(), 0));
  EXPECT_EQ(ExactTextHash(""), XXH64("", 0, 0));
  EXPECT_EQ(ExactTextHash("   "), ExactTextHash(""));
}

TEST(ExactTextHash, SurvivesInvalidUtf8AndLargeInput) {
  const std::string invalid = "a\xC3 \xE2\x80 b\xFF\xFE\xED\xA0\x80";
  EXPECT_EQ(ExactTextNormalize(invalid), invalid);
  EXPECT_EQ(ExactTextHash(invalid), ExactTextHash(invalid));
  const std::string big(1 << 22, 'A');
  EXPECT_EQ(ExactTextHash(big), ExactTextHash(std::string(1 << 22, 'a')));
  std::string spaces(1 << 20, ' ');
  EXPECT_EQ(ExactTextHash(spaces + "x" + spaces), ExactTextHash("x"));
}

}  // namespace
}  // namespace winnow::pipeline
