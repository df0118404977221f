#include "pipeline/text/words.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace winnow::pipeline {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(SplitWords, SplitsPunctuationAndContractions) {
  EXPECT_THAT(SplitWords("Hello, world! I don't know."),
              ElementsAre("Hello", ",", "world", "!", "I", "do", "n't", "know", "."));
  EXPECT_THAT(SplitWords("They're here; we'll see, y'all."),
              ElementsAre("They", "'re", "here", ";", "we", "'ll", "see", ",", "y'", "all", "."));
  EXPECT_THAT(SplitWords("John's dog (and Mary's)."),
              ElementsAre("John", "'s", "dog", "(", "and", "Mary", "'s", ")", "."));
}

TEST(SplitWords, KeepsAbbreviationsUrlsEmailsAndNumbersWhole) {
  EXPECT_THAT(SplitWords("Mr. Smith, e.g. at 5:30 p.m. in the U.S."),
              ElementsAre("Mr.", "Smith", ",", "e.g.", "at", "5:30", "p.m.", "in", "the", "U.S."));
  EXPECT_THAT(
      SplitWords("See https://example.com/a?b=c, or mail me@example.org."),
      ElementsAre("See", "https://example.com/a?b=c", ",", "or", "mail", "me@example.org", "."));
  EXPECT_THAT(SplitWords("It costs $1,000.50 (3.5%)."),
              ElementsAre("It", "costs", "$", "1,000.50", "(", "3.5", "%", ")", "."));
}

TEST(SplitWords, SplitsInfixes) {
  EXPECT_THAT(
      SplitWords("well-known 10-20 end.Start a,b"),
      ElementsAre("well", "-", "known", "10", "-", "20", "end", ".", "Start", "a", ",", "b"));
  EXPECT_THAT(SplitWords("wait...what"), ElementsAre("wait", "...", "what"));
  EXPECT_THAT(SplitWords("5km 10pm"), ElementsAre("5", "km", "10", "pm"));
}

TEST(SplitWords, EmoticonsAndSpecialCasesAcrossTokens) {
  EXPECT_THAT(SplitWords("hello:) (:"), ElementsAre("hello", ":)", "(:"));
  // "( :" is a special-case span with a space inside: it blocks ":)" without being applied.
  EXPECT_THAT(SplitWords("( :)x"), ElementsAre("(", ":", ")", "x"));
}

TEST(SplitWords, UnicodePunctuationAndSpaces) {
  EXPECT_THAT(SplitWords("\u201cQuoted\u201d \u2014 text\u2026"),
              ElementsAre("\u201c", "Quoted", "\u201d", "\u2014", "text", "\u2026"));
  EXPECT_THAT(SplitWords("a\u00a0b\u3000c\u2028d"), ElementsAre("a", "b", "c", "d"));
  EXPECT_THAT(SplitWords("caf\u00e9's na\u00efve"), ElementsAre("caf\u00e9", "'s", "na\u00efve"));
}

TEST(SplitWords, EmptyAndWhitespaceOnly) {
  EXPECT_THAT(SplitWords(""), IsEmpty());
  EXPECT_THAT(SplitWords(" \n\t \u00a0"), IsEmpty());
}

TEST(SplitWords, InvalidUtf8BytesActLikeLetters) {
  const std::string text = "ab\xff\xfe cd\xc3 \x80!";
  EXPECT_THAT(SplitWords(text), ElementsAre("ab\xff\xfe", "cd\xc3", "\x80", "!"));
}

TEST(SplitWords, TokensAreViewsIntoTheText) {
  const std::string text = "Views, not copies.";
  for (std::string_view w : SplitWords(text)) {
    EXPECT_GE(w.data(), text.data());
    EXPECT_LE(w.data() + w.size(), text.data() + text.size());
  }
}

TEST(SplitWordsCached, ReturnsTheSameWordsAndNoticesChanges) {
  std::string text = "One two three.";
  EXPECT_EQ(SplitWordsCached(text), SplitWords(text));
  text[0] = 'X';  // same buffer, same size, new content
  EXPECT_THAT(SplitWordsCached(text), ElementsAre("Xne", "two", "three", "."));
}

TEST(SplitWordsCached, CanBePrimed) {
  const std::string text = "Primed words.";
  std::vector<std::string_view> words = SplitWords(text);
  PrimeWordsCache(text, &words);
  EXPECT_THAT(SplitWordsCached(text), ElementsAre("Primed", "words", "."));
}

TEST(SplitSentences, SplitsAfterTerminalPunctuation) {
  EXPECT_THAT(SplitSentences("One two. Three four! Five?"),
              ElementsAre("One two.", "Three four!", "Five?"));
  EXPECT_THAT(SplitSentences("He said \"Stop.\" Then he left.)"),
              ElementsAre("He said \"Stop.\"", "Then he left.)"));
  EXPECT_THAT(SplitSentences("Wait... what?! Really."), ElementsAre("Wait... what?!", "Really."));
  EXPECT_THAT(SplitSentences("Mr. Smith went to Washington."),
              ElementsAre("Mr. Smith went to Washington."));
  EXPECT_EQ(CountSentences(""), 0);
  EXPECT_EQ(CountSentences("   "), 0);
  EXPECT_EQ(CountSentences("No end mark"), 1);
}

TEST(SentenceSpans, IncludesATrailingWhitespaceSentence) {
  std::vector<std::pair<size_t, size_t>> spans;
  SentenceSpans(" Hi.\n", &spans);
  EXPECT_THAT(spans, ElementsAre(std::make_pair(0u, 4u), std::make_pair(4u, 5u)));
  SentenceSpans("Hi. ", &spans);  // a single trailing space is no token
  EXPECT_THAT(spans, ElementsAre(std::make_pair(0u, 3u)));
  SentenceSpans("", &spans);
  EXPECT_THAT(spans, IsEmpty());
  const std::string line = "First. Second";
  EXPECT_EQ(CountSentenceSpans(line, SplitWords(line)), 2);
}

TEST(SplitWords, SurvivesPathologicalInput) {
  const std::string long_word(1 << 20, 'a');
  EXPECT_EQ(SplitWords(long_word).size(), 1u);
  const std::string punct(1 << 20, '!');
  EXPECT_EQ(SplitWords(punct).size(), punct.size());
  EXPECT_EQ(CountSentences(punct), 1);
  std::string dots = "a" + std::string(1 << 20, '.') + "b";
  EXPECT_THAT(SplitWords(dots), ElementsAre("a", std::string(1 << 20, '.'), "b"));
  std::string ats;
  for (int i = 0; i < 100000; ++i) ats += "a@b.";
  EXPECT_EQ(SplitWords(ats).size(), 2u);  // a URL-like core and its final '.'
}

}  // namespace
}  // namespace winnow::pipeline
