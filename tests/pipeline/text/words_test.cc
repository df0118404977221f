#include "pipeline/text/words.h"

#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace winnow::pipeline {
namespace {

using ::testing::ElementsAre;

TEST(SplitWords, SplitsPunctuationAndContractions) {
  EXPECT_THAT(SplitWords("Hello, world! I don't know."),
              ElementsAre("Hello", ",", "world", "!", "I", "do", "n't", "know", "."));
}

TEST(SplitWords, EmptyAndWhitespaceOnly) {
  EXPECT_TRUE(SplitWords("").empty());
  EXPECT_TRUE(SplitWords(" \n\t ").empty());
}

TEST(SplitSentences, SplitsAfterTerminalPunctuation) {
  EXPECT_THAT(SplitSentences("One two. Three four! Five?"),
              ElementsAre("One two.", "Three four!", "Five?"));
  EXPECT_EQ(CountSentences(""), 0);
}

}  // namespace
}  // namespace winnow::pipeline
