#include "filters/gopher_repetition.h"

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

GopherRepetitionFilter Make(const nlohmann::json& params = nlohmann::json::object()) {
  GopherRepetitionOptions options;
  ParamBinder binder("gopher_repetition");
  BindParams(&options, &binder);
  EXPECT_TRUE(binder.Apply(YAML::Load(params.dump()), "test").ok());
  return GopherRepetitionFilter(options);
}

Verdict Decide(const GopherRepetitionFilter& f, std::string text) {
  Document doc;
  doc.text = std::move(text);
  return f.Check(&doc);
}

std::string Reason(const Verdict& v) { return v.kept ? "kept" : v.reason; }

TEST(GopherRepetition, PassesEveryDatatroveCase) {
  const auto cases = DatatroveCases("gopher_repetition");
  ASSERT_EQ(cases.size(), 8u);
  for (const auto& c : cases) {
    const Verdict v = Decide(Make(c["params"]), c["text"]);
    EXPECT_EQ(v.kept, c["expected_kept"].get<bool>()) << c["case"];
    if (!c["expected_reason"].is_null()) {
      EXPECT_EQ(v.reason, c["expected_reason"]) << c["case"];
    }
  }
}

TEST(GopherRepetition, MatchesDatatroveOnRealText) {
  const auto golden = DatatroveGolden();
  ASSERT_GT(golden.size(), 1000u);
  const GopherRepetitionFilter f = Make();
  size_t compared = 0, agree = 0;
  for (const auto& g : golden) {
    if (!g["decisions"].contains("gopher_repetition")) continue;
    const auto& want = g["decisions"]["gopher_repetition"];
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
  std::printf("gopher_repetition agrees with datatrove on %zu of %zu documents\n", agree, compared);
}

TEST(GopherRepetition, DropsEmptyTextAsEmpty) { EXPECT_EQ(Reason(Decide(Make(), "")), "empty"); }

TEST(GopherRepetition, KeepsOrdinaryProse) {
  const std::string text =
      "The committee met on Tuesday to discuss the budget for next year. Several members raised "
      "concerns about rising costs, while others argued that investment in infrastructure could "
      "not wait.\n\nAfter a long debate, the chair proposed a compromise that would phase in the "
      "new spending over three years. The proposal passed by a narrow margin.";
  EXPECT_TRUE(Decide(Make(), text).kept);
}

TEST(GopherRepetition, TopNGramTakesTheFirstOfEquallyFrequentOnes) {
  // "aa bb" and "cc dd" occur twice each; Counter.most_common picks the first seen: "aa bb"
  // (5 code points × 2). With a threshold between 10 and 2×"cccccc dd"… only the first counts.
  const std::string text = "aa bb x cccccccccc dddddddddd y aa bb z cccccccccc dddddddddd";
  const double len = text.size();
  nlohmann::json params = {{"top_n_grams", {{2, 10.5 / len}}},
                           {"dup_n_grams", nlohmann::json::array()}};
  EXPECT_TRUE(Decide(Make(params), text).kept);  // 2 × 5 = 10 chars is below 10.5
  params["top_n_grams"] = {{2, 9.5 / len}};
  EXPECT_EQ(Reason(Decide(Make(params), text)), "top_2_gram");
}

TEST(GopherRepetition, DuplicatedNGramsAreJoinedWithoutSpaces) {
  // datatrove joins the words of a duplicated n-gram with no separator: "ab c" repeats "a bc".
  nlohmann::json params = {{"top_n_grams", nlohmann::json::array()},
                           {"dup_n_grams", {{2, 0.0}}},
                           {"dup_line_frac", 0},
                           {"dup_line_char_frac", 0},
                           {"dup_para_frac", 0},
                           {"dup_para_char_frac", 0}};
  EXPECT_EQ(Reason(Decide(Make(params), "a bc ab c")), "duplicated_2_n_grams");
  EXPECT_TRUE(Decide(Make(params), "a bc ab d").kept);
}

TEST(GopherRepetition, ZeroThresholdTurnsARuleOff) {
  const std::string text = "same line\nsame line\nsame line\nsame line";
  EXPECT_EQ(Reason(Decide(Make(), text)), "dup_line_frac");
  nlohmann::json off = {{"dup_line_frac", 0}, {"dup_line_char_frac", 0}};
  EXPECT_NE(Reason(Decide(Make(off), text)), "dup_line_frac");
}

TEST(GopherRepetition, SetsThresholdsFromTheCommandLine) {
  GopherRepetitionOptions options;
  ParamBinder binder("gopher_repetition");
  BindParams(&options, &binder);
  ASSERT_TRUE(binder.Set("top_n_grams", "[[2, 0.5], [3, 0.4]]", "--set").ok());
  ASSERT_EQ(options.top_n_grams.size(), 2u);
  EXPECT_EQ(options.top_n_grams[1].first, 3);
  EXPECT_DOUBLE_EQ(options.top_n_grams[1].second, 0.4);
}

// Bad input: every document gets a decision, quickly.
TEST(GopherRepetition, DecidesOnPathologicalInput) {
  const GopherRepetitionFilter f = Make();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(Decide(f, std::string(1 << 20, 'x')).kept);  // one megabyte line, no words repeated
  const Verdict invalid = Decide(f, "\xff\xfe\x80 abc \xc3\x28 \xe2\x82 def\n\xf0\x28\x8c\xbc");
  EXPECT_TRUE(invalid.kept || !invalid.reason.empty());    // invalid UTF-8
  EXPECT_FALSE(Decide(f, std::string(100000, '!')).kept);  // only punctuation
  // A million words from a pseudo-random vocabulary: no rule fires, every n-gram pass runs.
  std::string million;
  million.reserve(8 << 20);
  uint64_t x = 12345;
  for (int i = 0; i < 1000000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    million += "w" + std::to_string((x >> 33) % 50000);
    million += (i % 13 == 12) ? ".\n" : " ";
  }
  EXPECT_TRUE(Decide(f, million).kept);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 20.0);
}

}  // namespace
}  // namespace winnow::filters
