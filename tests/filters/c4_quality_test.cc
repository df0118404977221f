#include "filters/c4_quality.h"

#include <zlib.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pipeline/document.h"
#include "pipeline/text/words.h"
#include "tests/filters/reference_data.h"
#include "yaml-cpp/yaml.h"

namespace winnow::filters {
namespace {

using reference::DatatroveCases;
using reference::DatatroveGolden;

using pipeline::Document;
using pipeline::Verdict;

const std::string kData = std::string(WINNOW_SHARED_DIR) + "/data";

C4QualityFilter Make(const nlohmann::json& params = nlohmann::json::object()) {
  C4QualityOptions options;
  ParamBinder binder("c4_quality");
  BindParams(&options, &binder);
  EXPECT_TRUE(binder.Apply(YAML::Load(params.dump()), "test").ok());
  return C4QualityFilter(options);
}

C4ParagraphFilter MakeParagraph(const nlohmann::json& params = nlohmann::json::object()) {
  C4ParagraphOptions options;
  ParamBinder binder("c4_paragraph");
  BindParams(&options, &binder);
  EXPECT_TRUE(binder.Apply(YAML::Load(params.dump()), "test").ok());
  return C4ParagraphFilter(options);
}

Verdict Decide(const pipeline::Filter& f, std::string text, std::string* out = nullptr) {
  Document doc;
  doc.text = std::move(text);
  const Verdict v = f.Check(&doc);
  if (out != nullptr) *out = doc.text;
  return v;
}

std::string Reason(const Verdict& v) { return v.kept ? "kept" : v.reason; }

const nlohmann::json kFineWebRecipe = {{"filter_no_terminal_punct", false}};

TEST(C4Quality, PassesEveryDatatroveCase) {
  const auto cases = DatatroveCases("c4_quality");
  ASSERT_EQ(cases.size(), 5u);
  for (const auto& c : cases) {
    std::string text;
    const Verdict v = Decide(Make(c["params"]), c["text"], &text);
    EXPECT_EQ(v.kept, c["expected_kept"].get<bool>()) << c["case"] << " " << v.reason;
    if (!c["expected_reason"].is_null()) {
      EXPECT_EQ(v.reason, c["expected_reason"]) << c["case"];
    }
    if (c.contains("expected_text")) {
      EXPECT_EQ(text, c["expected_text"]) << c["case"];
    }
  }
}

TEST(C4Paragraph, PassesEveryDatatroveCase) {
  const auto cases = DatatroveCases("c4_paragraph");
  ASSERT_EQ(cases.size(), 2u);
  for (const auto& c : cases) {
    const Verdict v = Decide(MakeParagraph(c["params"]), c["text"]);
    EXPECT_EQ(v.kept, c["expected_kept"].get<bool>()) << c["case"];
    if (!c["expected_reason"].is_null()) {
      EXPECT_EQ(v.reason, c["expected_reason"]) << c["case"];
    }
  }
}

TEST(C4Quality, MatchesDatatroveOnRealText) {
  // bench/datatrove_parity.py ran C4QualityFilter(filter_no_terminal_punct=False), the recipe.
  const auto golden = DatatroveGolden();
  ASSERT_GT(golden.size(), 1000u);
  const C4QualityFilter f = Make(kFineWebRecipe);
  size_t compared = 0, agree = 0;
  for (const auto& g : golden) {
    if (!g["decisions"].contains("c4_quality")) continue;
    const auto& want = g["decisions"]["c4_quality"];
    std::string text;
    const Verdict v = Decide(f, g["text"], &text);
    ++compared;
    const std::string want_reason =
        want["kept"].get<bool>() ? "kept" : want["reason"].get<std::string>();
    if (Reason(v) != want_reason) {
      ADD_FAILURE() << g["id"] << ": datatrove " << want_reason << ", ours " << Reason(v);
    } else if (v.kept && want.contains("text") && text != want["text"]) {
      ADD_FAILURE() << g["id"] << ": kept text differs";
    } else {
      ++agree;
    }
  }
  std::printf("c4_quality agrees with datatrove (decision and text) on %zu of %zu documents\n",
              agree, compared);
}

TEST(C4Quality, LeavesTheWordsOfTheKeptTextInTheCache) {
  // C4 hands the words of the lines it keeps to the filters after it through the per-thread word
  // cache: they must be exactly the words of the rewritten text.
  const auto golden = DatatroveGolden();
  const C4QualityFilter f = Make(kFineWebRecipe);
  size_t kept = 0;
  for (const auto& g : golden) {
    if (!g["decisions"].contains("c4_quality")) continue;
    Document doc;
    doc.text = g["text"];
    pipeline::SplitWordsCached(doc.text);  // as the Gopher filters before it leave the cache
    if (!f.Check(&doc).kept) continue;
    ++kept;
    const std::vector<std::string_view> cached = pipeline::SplitWordsCached(doc.text);
    ASSERT_EQ(cached, pipeline::SplitWords(doc.text)) << g["id"];
    for (std::string_view w : cached) {
      ASSERT_TRUE(w.data() >= doc.text.data() &&
                  w.data() + w.size() <= doc.text.data() + doc.text.size());
    }
  }
  EXPECT_GT(kept, 1000u);
}

TEST(C4Quality, KeepsGoodLinesAndRewritesTheText) {
  const std::string text =
      "Home | About | Contact\n"
      "The first sentence of the article is here. It continues with a second one.\n"
      "This page uses cookies to improve your experience.\n"
      "Enable JavaScript to view the comments below.\n"
      "Researchers found[1] that the method works well in practice. They were pleased.\n"
      "A third paragraph adds more detail to the story. It ends here.";
  std::string out;
  const Verdict v = Decide(Make(), text, &out);
  ASSERT_TRUE(v.kept) << v.reason;
  EXPECT_EQ(out,
            "The first sentence of the article is here. It continues with a second one.\n"
            "Researchers found that the method works well in practice. They were pleased.\n"
            "A third paragraph adds more detail to the story. It ends here.");
}

TEST(C4Quality, TerminalPunctuationRuleIsTheClassDefaultButNotTheRecipe) {
  const std::string text =
      "One good sentence here. Two good sentences here. Three good sentences here.\n"
      "a line without an end mark but with words\n"
      "Four good sentences. Five good sentences here.";
  std::string out;
  ASSERT_TRUE(Decide(Make(), text, &out).kept);
  EXPECT_EQ(out.find("without"), std::string::npos);
  ASSERT_TRUE(Decide(Make(kFineWebRecipe), text, &out).kept);
  EXPECT_NE(out.find("without"), std::string::npos);
}

TEST(C4Quality, CaseInsensitivePhrasesAndCurlyBrackets) {
  const std::string five = " One. Two. Three. Four. Five.";
  EXPECT_EQ(Reason(Decide(Make(), "Some LOREM IPSUM text is here." + five)), "lorem_ipsum");
  EXPECT_EQ(Reason(Decide(Make(), "function f() { return 1; } is code." + five)), "curly_bracket");
  std::string out;
  ASSERT_TRUE(
      Decide(Make(), "Read our Privacy Policy now please.\nGood line here." + five, &out).kept);
  EXPECT_EQ(out, "Good line here." + five);
}

TEST(C4Paragraph, NeedsThreeLongLines) {
  const std::string long_line(250, 'a');
  EXPECT_TRUE(Decide(MakeParagraph(), long_line + "\n" + long_line + "\n" + long_line).kept);
  EXPECT_EQ(Reason(Decide(MakeParagraph(), long_line + "\n" + long_line + "\nshort")),
            "< 3 paragraphs");
  EXPECT_EQ(Reason(Decide(MakeParagraph(), long_line)), "< 3 paragraphs");
}

// Bad input: every document gets a decision, quickly.
TEST(C4Quality, DecidesOnPathologicalInput) {
  const C4QualityFilter f = Make(kFineWebRecipe);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Reason(Decide(f, "")), "too_few_sentences");
  EXPECT_EQ(Reason(Decide(f, std::string(1 << 20, 'x'))), "too_few_sentences");  // 1 MB word
  std::string mb_line;
  while (mb_line.size() < (1 << 20)) mb_line += "A short sentence. ";
  EXPECT_TRUE(Decide(f, mb_line).kept);  // one megabyte-long line of sentences
  EXPECT_EQ(Reason(Decide(f, std::string(100000, '!'))), "too_few_sentences");
  const Verdict invalid = Decide(f, "\xff\xfe\x80 abc \xc3\x28 \xe2\x82 def\n\xf0\x28\x8c\xbc");
  EXPECT_FALSE(invalid.kept);
  std::string million;
  for (int i = 0; i < 100000; ++i) million += "word word word word word word word word word end.\n";
  EXPECT_TRUE(Decide(f, million).kept);  // a million words
  EXPECT_EQ(Reason(Decide(MakeParagraph(), "")), "< 3 paragraphs");
  EXPECT_EQ(Reason(Decide(MakeParagraph(), std::string(1 << 20, '\n'))), "< 3 paragraphs");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 20.0);
}

}  // namespace
}  // namespace winnow::filters
