// The scores each quality filter records in metadata[<filter name>] (filters/scores.h): present
// whether the document is kept or dropped, plausible, and on a drop holding the figure that
// decided it.
#include "filters/scores.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "filters/c4_quality.h"
#include "filters/fineweb_quality.h"
#include "filters/gopher_quality.h"
#include "filters/gopher_repetition.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pipeline/document.h"
#include "tests/filters/reference_data.h"

namespace winnow::filters {
namespace {

using pipeline::Document;
using pipeline::Verdict;

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// Ordinary English prose: kept by all four filters.
const std::string kProse =
    "The history of the town goes back to the twelfth century, when a small abbey was founded on "
    "the banks of the river.\n"
    "Farmers began to settle nearby with their families, and a market grew up around the abbey "
    "walls.\n"
    "By the fifteenth century the town had a charter, a guild hall and a stone bridge that still "
    "stands today.\n"
    "Trade in wool and cloth made some of the merchants very rich, and they built the fine houses "
    "that line the high street.\n"
    "The railway arrived in 1852 and brought visitors from the city, who came to walk in the hills "
    "and to fish in the river.\n"
    "Today the town is known for its festival of music, which fills the streets with people every "
    "summer.\n"
    "Local schools take part in the festival, and many of the performers grew up in the valley "
    "themselves.\n"
    "A museum in the old guild hall tells the story of the abbey, the wool trade and the coming "
    "of the railway.";

struct Outcome {
  Verdict verdict;
  Document doc;
};

Outcome Apply(const pipeline::Filter& f, const std::string& text) {
  Outcome r;
  r.doc.text = text;
  r.verdict = f.Check(&r.doc);
  return r;
}

std::set<std::string> Keys(const nlohmann::json& object) {
  std::set<std::string> keys;
  for (const auto& [k, v] : object.items()) keys.insert(k);
  return keys;
}

// ---- the helper
// ----------------------------------------------------------------------------------

TEST(FilterScores, WritesOneObjectUnderTheFilterNameOnDestruction) {
  Document doc;
  {
    Scores s(&doc, "f");
    s.Set("ratio", 0.25);
    s.Set("count", size_t{7});
    s.Set("negative", -3);
    EXPECT_FALSE(doc.metadata.contains("f"));  // not before the end of the scope
  }
  ASSERT_TRUE(doc.metadata["f"].is_object());
  EXPECT_EQ(doc.metadata["f"]["ratio"].get<double>(), 0.25);
  EXPECT_TRUE(doc.metadata["f"]["count"].is_number_integer());
  EXPECT_EQ(doc.metadata["f"]["count"].get<int64_t>(), 7);
  EXPECT_EQ(doc.metadata["f"]["negative"].get<int64_t>(), -3);
  EXPECT_EQ(doc.metadata.dump(), R"({"f":{"count":7,"negative":-3,"ratio":0.25}})");
}

TEST(FilterScores, WritesNothingWhenNothingWasSetAndDropsAStaleEntry) {
  Document doc;
  { Scores s(&doc, "f"); }
  EXPECT_EQ(doc.metadata.dump(), "{}");
  doc.metadata["f"] = {{"old", 1}};
  doc.metadata["other"] = 2;
  { Scores s(&doc, "f"); }
  EXPECT_EQ(doc.metadata.dump(), R"({"other":2})");
}

TEST(FilterScores, KeepsTheLastValueOfAKeyAndManyKeys) {
  Document doc;
  std::vector<std::string> keys;
  for (int i = 0; i < 40; ++i) keys.push_back("k" + std::to_string(i));
  {
    Scores s(&doc, "f");
    for (int i = 0; i < 40; ++i) s.Set(keys[i], i);
    s.Set("k3", 0.5);
  }
  ASSERT_EQ(doc.metadata["f"].size(), 40u);
  EXPECT_EQ(doc.metadata["f"]["k39"].get<int64_t>(), 39);
  EXPECT_EQ(doc.metadata["f"]["k3"].get<double>(), 0.5);
}

// ---- gopher_quality
// ------------------------------------------------------------------------------

TEST(FilterScores, GopherQualityKeptDocumentCarriesEveryFigure) {
  const GopherQualityFilter f{GopherQualityOptions()};
  const Outcome r = Apply(f, kProse);
  ASSERT_TRUE(r.verdict.kept) << r.verdict.reason;
  const nlohmann::json& s = r.doc.metadata["gopher_quality"];
  EXPECT_EQ(Keys(s),
            (std::set<std::string>{"words", "avg_word_length", "hash_ratio", "ellipsis_ratio",
                                   "bullet_lines_ratio", "end_ellipsis_lines_ratio",
                                   "alpha_words_ratio", "stop_words"}));
  EXPECT_GT(s["words"].get<int64_t>(), 150);
  EXPECT_TRUE(s["words"].is_number_integer());
  EXPECT_GT(s["avg_word_length"].get<double>(), 3);
  EXPECT_LT(s["avg_word_length"].get<double>(), 10);
  for (const char* k : {"hash_ratio", "ellipsis_ratio", "bullet_lines_ratio",
                        "end_ellipsis_lines_ratio", "alpha_words_ratio"}) {
    EXPECT_GE(s[k].get<double>(), 0) << k;
    EXPECT_LE(s[k].get<double>(), 1) << k;
  }
  EXPECT_EQ(s["hash_ratio"].get<double>(), 0);
  EXPECT_GT(s["alpha_words_ratio"].get<double>(), 0.8);
  EXPECT_GE(s["stop_words"].get<int64_t>(), 2);
}

TEST(FilterScores, GopherQualityShortDocumentCarriesItsWordCountOnly) {
  const GopherQualityFilter f{GopherQualityOptions()};
  const Outcome r = Apply(f, "The cat sat on the mat with the dog, and that was all.");
  ASSERT_EQ(r.verdict.reason, "gopher_short_doc");
  const nlohmann::json& s = r.doc.metadata["gopher_quality"];
  EXPECT_EQ(Keys(s), std::set<std::string>{"words"});
  EXPECT_EQ(s["words"].get<int64_t>(), 13);
  EXPECT_LT(s["words"].get<int64_t>(), GopherQualityOptions().min_doc_words);
}

TEST(FilterScores, GopherQualityDropCarriesTheDecidingRatioAndThoseBefore) {
  const GopherQualityFilter f{GopherQualityOptions()};
  const Outcome hashes = Apply(f, kProse + "\n" + Repeat("#tag #news #town ", 20));
  ASSERT_EQ(hashes.verdict.reason, "gopher_too_many_hashes");
  const nlohmann::json& s = hashes.doc.metadata["gopher_quality"];
  EXPECT_EQ(Keys(s), (std::set<std::string>{"words", "avg_word_length", "hash_ratio"}));
  EXPECT_GT(s["hash_ratio"].get<double>(), GopherQualityOptions().max_symbol_word_ratio);

  std::string bullets;
  for (int i = 0; i < 20; ++i) {
    bullets += "\u2022 the item number " + std::to_string(i) + " is listed here with more words\n";
  }
  const Outcome b = Apply(f, bullets);
  ASSERT_EQ(b.verdict.reason, "gopher_too_many_bullets");
  const nlohmann::json& sb = b.doc.metadata["gopher_quality"];
  EXPECT_EQ(sb["bullet_lines_ratio"].get<double>(), 1.0);
  EXPECT_FALSE(sb.contains("alpha_words_ratio"));
  EXPECT_FALSE(sb.contains("stop_words"));
}

// ---- gopher_repetition
// ---------------------------------------------------------------------------

TEST(FilterScores, GopherRepetitionKeptDocumentCarriesEveryFraction) {
  const GopherRepetitionFilter f{GopherRepetitionOptions()};
  const Outcome r = Apply(f, kProse);
  ASSERT_TRUE(r.verdict.kept) << r.verdict.reason;
  const nlohmann::json& s = r.doc.metadata["gopher_repetition"];
  EXPECT_EQ(Keys(s), (std::set<std::string>{
                         "dup_para_frac", "dup_para_char_frac", "dup_line_frac",
                         "dup_line_char_frac", "top_2_gram", "top_3_gram", "top_4_gram",
                         "duplicated_5_n_grams", "duplicated_6_n_grams", "duplicated_7_n_grams",
                         "duplicated_8_n_grams", "duplicated_9_n_grams", "duplicated_10_n_grams"}));
  for (const auto& [k, v] : s.items()) {
    EXPECT_TRUE(v.is_number_float()) << k;
    EXPECT_GE(v.get<double>(), 0) << k;
    EXPECT_LE(v.get<double>(), 1) << k;
  }
  EXPECT_EQ(s["dup_line_frac"].get<double>(), 0);
  EXPECT_GT(s["top_2_gram"].get<double>(), 0);  // "of the", "the town"…
}

TEST(FilterScores, GopherRepetitionDropCarriesTheDecidingFraction) {
  const GopherRepetitionOptions o;
  const GopherRepetitionFilter f{o};
  // The same paragraph four times out of five: duplicate paragraphs.
  const std::string para = "We sell the best shoes in town, come and see us today.\n\n";
  const Outcome r = Apply(f, Repeat(para, 4) + "Open every day from nine to five.");
  ASSERT_EQ(r.verdict.reason, "dup_para_frac");
  const nlohmann::json& s = r.doc.metadata["gopher_repetition"];
  EXPECT_DOUBLE_EQ(s["dup_para_frac"].get<double>(), 3.0 / 5.0);
  EXPECT_GT(s["dup_para_frac"].get<double>(), o.dup_para_frac);
  EXPECT_TRUE(s.contains("dup_para_char_frac"));  // computed with it
  EXPECT_FALSE(s.contains("dup_line_frac"));

  const Outcome empty = Apply(f, "");
  ASSERT_EQ(empty.verdict.reason, "empty");
  EXPECT_FALSE(empty.doc.metadata.contains("gopher_repetition"));
}

TEST(FilterScores, GopherRepetitionSkipsTopNGramsLongerThanTheText) {
  GopherRepetitionOptions o;
  o.top_n_grams = {{2, 1.0}, {3, 1.0}, {4, 1.0}};  // three words: any 2-gram is a large share
  const GopherRepetitionFilter f{o};
  const Outcome r = Apply(f, "one two three");
  ASSERT_TRUE(r.verdict.kept) << r.verdict.reason;
  const nlohmann::json& s = r.doc.metadata["gopher_repetition"];
  EXPECT_TRUE(s.contains("top_3_gram"));
  EXPECT_FALSE(s.contains("top_4_gram"));
  EXPECT_EQ(s["duplicated_5_n_grams"].get<double>(), 0);
}

// ---- fineweb_quality
// -----------------------------------------------------------------------------

TEST(FilterScores, FineWebQualityKeptDocumentCarriesItsFourRatios) {
  const FineWebQualityFilter f{FineWebQualityOptions()};
  const Outcome r = Apply(f, kProse);
  ASSERT_TRUE(r.verdict.kept) << r.verdict.reason;
  const nlohmann::json& s = r.doc.metadata["fineweb_quality"];
  EXPECT_EQ(Keys(s), (std::set<std::string>{"line_punct_ratio", "short_line_ratio",
                                            "char_dup_ratio", "list_ratio"}));
  for (const auto& [k, v] : s.items()) {
    EXPECT_GE(v.get<double>(), 0) << k;
    EXPECT_LE(v.get<double>(), 1) << k;
  }
  EXPECT_EQ(s["line_punct_ratio"].get<double>(), 1.0);
  EXPECT_EQ(s["short_line_ratio"].get<double>(), 0.0);
}

TEST(FilterScores, FineWebQualityDropCarriesTheDecidingRatio) {
  const FineWebQualityOptions o;
  const FineWebQualityFilter f{o};
  // Menu lines without a full stop: line_punct_ratio 0.
  const Outcome menu = Apply(f, "Home\nAbout us\nProducts and services\nContact\nLog in");
  ASSERT_EQ(menu.verdict.reason, "line_punct_ratio");
  const nlohmann::json& s = menu.doc.metadata["fineweb_quality"];
  EXPECT_EQ(s["line_punct_ratio"].get<double>(), 0.0);
  EXPECT_FALSE(s.contains("char_dup_ratio"));
  // The same long sentence on many lines: duplicate characters.
  const Outcome dup =
      Apply(f, kProse + "\n" + Repeat("Call us now for a free quote on a new roof.\n", 3));
  ASSERT_EQ(dup.verdict.reason, "char_dup_ratio");
  EXPECT_GT(dup.doc.metadata["fineweb_quality"]["char_dup_ratio"].get<double>(),
            o.char_duplicates_ratio);
  EXPECT_FALSE(dup.doc.metadata["fineweb_quality"].contains("list_ratio"));
}

// ---- c4_quality
// ----------------------------------------------------------------------------------

TEST(FilterScores, C4QualityCountsLinesAndSentencesAndStillRewritesTheText) {
  C4QualityOptions o;
  o.filter_no_terminal_punct = false;  // the FineWeb recipe
  const C4QualityFilter f{o};
  const Outcome r = Apply(f, kProse + "\nPlease enable JavaScript to view this page.\nok");
  ASSERT_TRUE(r.verdict.kept) << r.verdict.reason;
  EXPECT_EQ(r.doc.text, kProse);
  const nlohmann::json& s = r.doc.metadata["c4_quality"];
  EXPECT_EQ(s["lines"].get<int64_t>(), 10);
  EXPECT_EQ(s["kept_lines"].get<int64_t>(), 8);
  EXPECT_GE(s["sentences"].get<int64_t>(), 8);

  const Outcome few = Apply(f, "One short line here.\nAnd another one there.");
  ASSERT_EQ(few.verdict.reason, "too_few_sentences");
  EXPECT_EQ(few.doc.metadata["c4_quality"]["sentences"].get<int64_t>(), 2);
}

TEST(FilterScores, C4ParagraphCountsLinesAndTheDecidingLength) {
  const C4ParagraphFilter f{C4ParagraphOptions()};
  const Outcome r = Apply(f, kProse);
  ASSERT_EQ(r.verdict.reason, "< 3 paragraphs");  // no line reaches 200 characters
  const nlohmann::json& s = r.doc.metadata["c4_paragraph"];
  EXPECT_EQ(s["paragraphs"].get<int64_t>(), 8);
  EXPECT_LT(s["top_paragraph_len"].get<int64_t>(), C4ParagraphOptions().min_paragraph_len);
  EXPECT_GT(s["top_paragraph_len"].get<int64_t>(), 90);
}

// ---- every drop on real documents carries the figure that decided it
// -----------------------------

// For each reason: the key that decided it and whether the figure crossed its threshold.
using Crossed = std::function<bool(const nlohmann::json&)>;
struct Rule {
  std::string key;
  Crossed crossed;
};

Crossed Above(double t) {
  return [t](const nlohmann::json& v) { return v.get<double>() > t; };
}
Crossed Below(double t) {
  return [t](const nlohmann::json& v) { return v.get<double>() < t; };
}

TEST(FilterScores, EveryDropOnRealDocumentsCarriesTheFigureThatDecidedIt) {
  const std::vector<nlohmann::json> golden = reference::DatatroveGolden();
  ASSERT_GT(golden.size(), 1000u) << "testdata/datatrove_golden.jsonl.gz is missing";
  const GopherQualityOptions gq;
  const GopherRepetitionOptions gr;
  const FineWebQualityOptions fw;
  C4QualityOptions c4;
  c4.filter_no_terminal_punct = false;
  std::vector<std::unique_ptr<pipeline::Filter>> filters;
  filters.push_back(std::make_unique<GopherQualityFilter>(gq));
  filters.push_back(std::make_unique<GopherRepetitionFilter>(gr));
  filters.push_back(std::make_unique<FineWebQualityFilter>(fw));
  filters.push_back(std::make_unique<C4QualityFilter>(c4));
  std::map<std::string, Rule> rules = {
      {"gopher_short_doc", {"words", Below(gq.min_doc_words)}},
      {"gopher_long_doc", {"words", Above(gq.max_doc_words)}},
      {"gopher_below_avg_threshold", {"avg_word_length", Below(gq.min_avg_word_length)}},
      {"gopher_above_avg_threshold", {"avg_word_length", Above(gq.max_avg_word_length)}},
      {"gopher_too_many_hashes", {"hash_ratio", Above(gq.max_symbol_word_ratio)}},
      {"gopher_too_many_ellipsis", {"ellipsis_ratio", Above(gq.max_symbol_word_ratio)}},
      {"gopher_too_many_bullets", {"bullet_lines_ratio", Above(gq.max_bullet_lines_ratio)}},
      {"gopher_too_many_end_ellipsis",
       {"end_ellipsis_lines_ratio", Above(gq.max_ellipsis_lines_ratio)}},
      {"gopher_below_alpha_threshold", {"alpha_words_ratio", Below(gq.max_non_alpha_words_ratio)}},
      {"gopher_enough_stop_words", {"stop_words", Below(gq.min_stop_words)}},
      {"dup_para_frac", {"dup_para_frac", Above(gr.dup_para_frac)}},
      {"dup_para_char_frac", {"dup_para_char_frac", Above(gr.dup_para_char_frac)}},
      {"dup_line_frac", {"dup_line_frac", Above(gr.dup_line_frac)}},
      {"dup_line_char_frac", {"dup_line_char_frac", Above(gr.dup_line_char_frac)}},
      {"line_punct_ratio", {"line_punct_ratio", Below(fw.line_punct_thr)}},
      {"short_line_ratio", {"short_line_ratio", Above(fw.short_line_thr)}},
      {"char_dup_ratio", {"char_dup_ratio", Above(fw.char_duplicates_ratio)}},
      {"list_ratio", {"list_ratio", Above(fw.new_line_ratio)}},
      {"too_few_sentences", {"sentences", Below(c4.min_num_sentences)}},
  };
  for (const auto& [n, t] : gr.top_n_grams) {
    const std::string key = "top_" + std::to_string(n) + "_gram";
    rules[key] = {key, Above(t)};
  }
  for (const auto& [n, t] : gr.dup_n_grams) {
    const std::string key = "duplicated_" + std::to_string(n) + "_n_grams";
    rules[key] = {key, Above(t)};
  }
  // Drops that no figure decides (an empty text, a phrase found).
  const std::set<std::string> without_figure = {"empty", "lorem_ipsum", "curly_bracket"};

  std::map<std::string, int> drops;
  int kept = 0;
  for (const nlohmann::json& g : golden) {
    for (const auto& f : filters) {
      const std::string name(f->name());
      Document doc;
      doc.text = g["text"];
      const Verdict v = f->Check(&doc);
      const std::string where = g["id"].get<std::string>() + " " + name;
      if (v.kept) {
        ++kept;
        ASSERT_TRUE(doc.metadata.contains(name)) << where;
        for (const auto& [k, value] : doc.metadata[name].items()) {
          ASSERT_TRUE(value.is_number()) << where << " " << k;
          EXPECT_TRUE(std::isfinite(value.get<double>())) << where << " " << k;
          EXPECT_GE(value.get<double>(), 0) << where << " " << k;
        }
        continue;
      }
      ++drops[v.reason];
      if (without_figure.contains(v.reason)) continue;
      const auto rule = rules.find(v.reason);
      ASSERT_NE(rule, rules.end()) << where << ": unexpected reason " << v.reason;
      ASSERT_TRUE(doc.metadata.contains(name)) << where << " " << v.reason;
      const nlohmann::json& s = doc.metadata[name];
      ASSERT_TRUE(s.contains(rule->second.key)) << where << " " << v.reason;
      EXPECT_TRUE(rule->second.crossed(s[rule->second.key]))
          << where << " " << v.reason << " " << s.dump();
    }
  }
  std::string summary;
  for (const auto& [reason, n] : drops) summary += " " + reason + "=" + std::to_string(n);
  std::printf("kept %d, dropped:%s\n", kept, summary.c_str());
  EXPECT_GT(kept, 1000);
  EXPECT_GE(drops.size(), 10u);  // the corpus exercises many reasons
}

}  // namespace
}  // namespace winnow::filters
