#include "filters/gopher_quality.h"

#include <zlib.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pipeline/document.h"
#include "tests/filters/reference_data.h"
#include "yaml-cpp/yaml.h"

namespace winnow::filters {
namespace {

using reference::DatatroveCases;
using reference::DatatroveGolden;

using pipeline::Document;
using pipeline::Verdict;

const std::string kData = std::string(WINNOW_SHARED_DIR) + "/data";

GopherQualityFilter Make(const nlohmann::json& params = nlohmann::json::object(),
                         bool fineweb_v1 = false) {
  GopherQualityOptions options;
  if (fineweb_v1) ApplyFinewebV1Profile(&options);
  ParamBinder binder("gopher_quality");
  BindParams(&options, &binder);
  EXPECT_TRUE(binder.Apply(YAML::Load(params.dump()), "test").ok());
  return GopherQualityFilter(options);
}

Verdict Decide(const GopherQualityFilter& f, std::string text) {
  Document doc;
  doc.text = std::move(text);
  return f.Check(&doc);
}

std::string Reason(const Verdict& v) { return v.kept ? "kept" : v.reason; }

// Repeats `words` (space-separated) until there are n of them.
std::string Words(const std::string& words, int n) {
  std::vector<std::string> list;
  size_t start = 0;
  while (start < words.size()) {
    size_t sp = words.find(' ', start);
    if (sp == std::string::npos) sp = words.size();
    list.push_back(words.substr(start, sp - start));
    start = sp + 1;
  }
  std::string out;
  for (int i = 0; i < n; ++i) {
    if (i > 0) out += ' ';
    out += list[i % list.size()];
  }
  return out;
}

TEST(GopherQuality, PassesEveryDatatroveCase) {
  const auto cases = DatatroveCases("gopher_quality");
  ASSERT_EQ(cases.size(), 7u);
  for (const auto& c : cases) {
    const Verdict v = Decide(Make(c["params"]), c["text"]);
    EXPECT_EQ(v.kept, c["expected_kept"].get<bool>()) << c["case"] << " " << v.reason;
    if (!c["expected_reason"].is_null()) {
      EXPECT_EQ(v.reason, c["expected_reason"]) << c["case"];
    }
  }
}

TEST(GopherQuality, MatchesDatatroveOnRealText) {
  const auto golden = DatatroveGolden();
  ASSERT_GT(golden.size(), 1000u);
  const GopherQualityFilter f = Make();
  size_t compared = 0, agree = 0;
  for (const auto& g : golden) {
    if (!g["decisions"].contains("gopher_quality")) continue;
    const auto& want = g["decisions"]["gopher_quality"];
    const Verdict v = Decide(f, g["text"]);
    ++compared;
    const std::string want_reason =
        want["kept"].get<bool>() ? "kept" : want["reason"].get<std::string>();
    if (Reason(v) == want_reason) {
      ++agree;
    } else {
      ADD_FAILURE() << g["id"] << ": datatrove " << want_reason << ", ours " << Reason(v);
    }
  }
  std::printf("gopher_quality agrees with datatrove on %zu of %zu documents\n", agree, compared);
}

TEST(GopherQuality, KeepsOrdinaryProse) {
  const std::string text = Words(
      "The history of the town goes back to the twelfth century , when a small abbey was founded "
      "on the banks of the river and farmers began to settle with their families nearby .",
      120);
  EXPECT_EQ(Reason(Decide(Make(), text)), "kept");
}

TEST(GopherQuality, CountsOnlyNonSymbolWords) {
  // 49 real words and plenty of punctuation tokens: still too short.
  std::string text = Words("the cat sat with the dog and that was all", 49);
  text += " ... !!! ??? ### --- ,,,";
  EXPECT_EQ(Reason(Decide(Make(), text)), "gopher_short_doc");
}

TEST(GopherQuality, DistinctStopWordsByDefaultOccurrencesInFinewebV1) {
  // 60 words with a single stop word ("the"), used many times.
  const std::string text = Words("the quick brown foxes jumped over lazy dogs again", 60);
  EXPECT_EQ(Reason(Decide(Make(), text)), "gopher_enough_stop_words");
  EXPECT_EQ(Reason(Decide(Make(nlohmann::json::object(), /*fineweb_v1=*/true), text)), "kept");
}

TEST(GopherQuality, BulletAndEllipsisLines) {
  std::string bullets, ellipses;
  for (int i = 0; i < 20; ++i) {
    bullets += "\u2022 the item number " + std::to_string(i) + " is listed here with more words\n";
    ellipses += "and the story went on and on with the hero " + std::to_string(i) + "\u2026\n";
  }
  EXPECT_EQ(Reason(Decide(Make(), bullets)), "gopher_too_many_bullets");
  EXPECT_EQ(Reason(Decide(Make(), ellipses)), "gopher_too_many_end_ellipsis");
}

TEST(GopherQuality, ZeroTurnsARuleOff) {
  const std::string text = Words("the cat sat with the dog", 10);
  EXPECT_EQ(Reason(Decide(Make(), text)), "gopher_short_doc");
  EXPECT_NE(Reason(Decide(Make({{"min_doc_words", 0}}), text)), "gopher_short_doc");
}

// Bad input: every document gets a decision, quickly.
TEST(GopherQuality, DecidesOnPathologicalInput) {
  const GopherQualityFilter f = Make();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Reason(Decide(f, "")), "gopher_short_doc");
  EXPECT_EQ(Reason(Decide(Make({{"min_doc_words", 0}}), "")), "gopher_enough_stop_words");
  EXPECT_EQ(Reason(Decide(f, std::string(1 << 20, 'x'))), "gopher_short_doc");  // 1 MB line
  EXPECT_EQ(Reason(Decide(f, std::string(100000, '!'))), "gopher_short_doc");   // punctuation
  const Verdict invalid = Decide(f, "\xff\xfe\x80 abc \xc3\x28 \xe2\x82 def\n\xf0\x28\x8c\xbc");
  EXPECT_EQ(Reason(invalid), "gopher_short_doc");  // invalid UTF-8: bytes count as letters
  EXPECT_EQ(Reason(Decide(f, Words("the and of to with", 1000000))), "gopher_long_doc");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 20.0);
}

}  // namespace
}  // namespace winnow::filters
