#include "filters/custom_filter.h"

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/util/temp_dir.h"
#include "yaml-cpp/yaml.h"

namespace winnow::filters {
namespace {

using pipeline::Document;
using pipeline::Verdict;

Document Doc(std::string text, std::string url = "") {
  Document doc;
  doc.text = std::move(text);
  doc.url = std::move(url);
  return doc;
}

std::unique_ptr<KeywordFilter> Keywords(KeywordFilterOptions options) {
  auto f = KeywordFilter::Create(std::move(options));
  EXPECT_TRUE(f.ok()) << f.status();
  return f.ok() ? std::move(*f) : nullptr;
}

std::unique_ptr<RegexFilter> Regex(RegexFilterOptions options) {
  auto f = RegexFilter::Create(std::move(options));
  EXPECT_TRUE(f.ok()) << f.status();
  return f.ok() ? std::move(*f) : nullptr;
}

bool Kept(const pipeline::Filter& f, std::string text) {
  Document doc = Doc(std::move(text));
  return f.Check(&doc).kept;
}

TEST(KeywordFilter, DropsWithItsReasonAndIsNamedByTheUser) {
  KeywordFilterOptions options;
  options.name = "no_casino";
  options.keywords = {"casino", "poker"};
  options.reason = "gambling";
  auto f = Keywords(options);
  EXPECT_EQ(f->name(), "no_casino");
  Document doc = Doc("Best online Casino bonuses");
  const Verdict v = f->Check(&doc);
  EXPECT_FALSE(v.kept);
  EXPECT_EQ(v.reason, "gambling");
  EXPECT_TRUE(Kept(*f, "A quiet afternoon by the lake"));
  EXPECT_FALSE(f->UrlOnly());
}

TEST(KeywordFilter, WholeWordRespectsUnicodeLetters) {
  KeywordFilterOptions options;
  options.keywords = {"cat"};
  auto f = Keywords(options);
  EXPECT_FALSE(Kept(*f, "the cat sat"));
  EXPECT_FALSE(Kept(*f, "cat—dog"));  // an em dash is not a letter
  EXPECT_FALSE(Kept(*f, "(cat)"));
  EXPECT_TRUE(Kept(*f, "concatenate"));
  EXPECT_TRUE(Kept(*f, "catégorie"));  // é is a letter
  EXPECT_TRUE(Kept(*f, "cat_food"));
  options.whole_word = false;
  EXPECT_FALSE(Kept(*Keywords(options), "concatenate"));
}

TEST(KeywordFilter, CaseSensitivityIsAnOption) {
  KeywordFilterOptions options;
  options.keywords = {"Poker"};
  EXPECT_FALSE(Kept(*Keywords(options), "POKER night"));
  options.case_sensitive = true;
  EXPECT_TRUE(Kept(*Keywords(options), "POKER night"));
  EXPECT_FALSE(Kept(*Keywords(options), "Poker night"));
}

TEST(KeywordFilter, MinMatchesCountsOccurrencesOrDistinctKeywords) {
  KeywordFilterOptions options;
  options.keywords = {"spam", "eggs"};
  options.min_matches = 3;
  EXPECT_TRUE(Kept(*Keywords(options), "spam and eggs"));
  EXPECT_FALSE(Kept(*Keywords(options), "spam spam spam"));
  options.count_distinct = true;
  options.min_matches = 2;
  EXPECT_TRUE(Kept(*Keywords(options), "spam spam spam"));
  EXPECT_FALSE(Kept(*Keywords(options), "spam and eggs"));
}

TEST(KeywordFilter, UrlFieldRunsBeforeExtraction) {
  KeywordFilterOptions options;
  options.keywords = {"casino"};
  options.field = "url";
  auto f = Keywords(options);
  EXPECT_TRUE(f->UrlOnly());
  Document doc = Doc("casino casino", "https://example.com/news");
  EXPECT_TRUE(f->Check(&doc).kept);
  doc.url = "https://example.com/casino/";
  EXPECT_FALSE(f->Check(&doc).kept);
}

TEST(KeywordFilter, ReadsKeywordsFile) {
  testing::TempDir dir;
  std::ofstream(dir.Sub("words.txt")) << "# comment\nalpha\nbeta gamma\n";
  KeywordFilterOptions options;
  options.keywords_file = dir.Sub("words.txt");
  auto f = Keywords(options);
  EXPECT_FALSE(Kept(*f, "say beta gamma now"));
  EXPECT_TRUE(Kept(*f, "comment"));
  options.keywords_file = dir.Sub("missing.txt");
  auto missing = KeywordFilter::Create(options);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("missing.txt"), std::string::npos);
}

TEST(KeywordFilter, RejectsBadConfig) {
  KeywordFilterOptions options;
  EXPECT_FALSE(KeywordFilter::Create(options).ok());  // no keywords
  options.keywords = {"x"};
  options.field = "title";
  EXPECT_FALSE(KeywordFilter::Create(options).ok());
  options.field = "text";
  options.min_matches = 0;
  EXPECT_FALSE(KeywordFilter::Create(options).ok());
}

TEST(KeywordFilter, ManyKeywordsStayFast) {
  KeywordFilterOptions options;
  for (int i = 0; i < 100000; ++i) options.keywords.push_back("kw" + std::to_string(i * 31));
  auto f = Keywords(options);
  std::string text;
  for (int i = 0; i < 200000; ++i) text += "word kw ";
  const auto begin = std::chrono::steady_clock::now();
  EXPECT_TRUE(Kept(*f, text));
  EXPECT_FALSE(Kept(*f, text + " kw3100"));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count(), 2.0);
}

TEST(RegexFilter, DropModeDropsOnAnyMatch) {
  RegexFilterOptions options;
  options.name = "no_lorem";
  options.patterns = {"lorem ipsum", "dolor\\s+sit"};
  options.reason = "placeholder";
  auto f = Regex(options);
  EXPECT_EQ(f->name(), "no_lorem");
  Document doc = Doc("some dolor   sit amet");
  const Verdict v = f->Check(&doc);
  EXPECT_FALSE(v.kept);
  EXPECT_EQ(v.reason, "placeholder");
  EXPECT_TRUE(Kept(*f, "Lorem Ipsum"));  // case-sensitive by default
  options.case_sensitive = false;
  EXPECT_FALSE(Kept(*Regex(options), "Lorem Ipsum"));
}

TEST(RegexFilter, KeepModeDropsWhenNothingMatches) {
  RegexFilterOptions options;
  options.patterns = {"(?i)recipe", "\\bingredients?\\b"};
  options.mode = "keep";
  auto f = Regex(options);
  EXPECT_TRUE(Kept(*f, "A RECIPE for bread"));
  EXPECT_TRUE(Kept(*f, "the ingredients"));
  EXPECT_FALSE(Kept(*f, "stock market news"));
}

TEST(RegexFilter, InvalidPatternIsAnErrorNamingIt) {
  RegexFilterOptions options;
  options.name = "bad";
  options.patterns = {"ok", "(unclosed"};
  auto f = RegexFilter::Create(options);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("(unclosed"), std::string::npos);
  EXPECT_NE(f.status().message().find("bad"), std::string::npos);
  options.patterns = {};
  EXPECT_FALSE(RegexFilter::Create(options).ok());
  options.patterns = {"x"};
  options.mode = "maybe";
  EXPECT_FALSE(RegexFilter::Create(options).ok());
}

TEST(CustomFilter, BuildsFromConfigEntries) {
  auto keyword = MakeCustomFilter(
      YAML::Load("{name: no_casino, type: keyword, keywords: [casino, poker], field: url}"), "cfg");
  ASSERT_TRUE(keyword.ok()) << keyword.status();
  EXPECT_EQ((*keyword)->name(), "no_casino");
  EXPECT_TRUE((*keyword)->UrlOnly());
  auto regex = MakeCustomFilter(
      YAML::Load("{name: no_lorem, type: regex, patterns: ['(?i)lorem ipsum'], enabled: true}"),
      "cfg");
  ASSERT_TRUE(regex.ok()) << regex.status();
  EXPECT_FALSE(Kept(**regex, "LOREM IPSUM dolor"));
  auto unknown = MakeCustomFilter(YAML::Load("{name: x, type: magic}"), "cfg");
  EXPECT_FALSE(unknown.ok());
  auto bad_key = MakeCustomFilter(YAML::Load("{name: x, type: regex, patern: [a]}"), "cfg");
  ASSERT_FALSE(bad_key.ok());
  EXPECT_NE(bad_key.status().message().find("patern"), std::string::npos);
}

TEST(CustomFilter, BadInputGetsADecision) {
  KeywordFilterOptions k;
  k.keywords = {"x", "é"};
  auto keyword = Keywords(k);
  RegexFilterOptions r;
  r.patterns = {"a+b+c+", "(x|y)*z$"};
  auto regex = Regex(r);
  std::string million_words;
  for (int i = 0; i < 1000000; ++i) million_words += "word ";
  for (const std::string& text :
       {std::string(), std::string("?!.,;:"), std::string("\xff\xfe\xc3 x \x80"),
        std::string(1 << 20, 'a'), std::string(1 << 20, 'x'), million_words}) {
    Document doc = Doc(text, text);
    keyword->Check(&doc);
    regex->Check(&doc);
  }
  SUCCEED();
}

}  // namespace
}  // namespace winnow::filters
