#include "filters/fineweb_quality.h"

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

FineWebQualityFilter Make(const nlohmann::json& params = nlohmann::json::object(),
                          bool fineweb_v1 = false) {
  FineWebQualityOptions options;
  if (fineweb_v1) ApplyFinewebV1Profile(&options);
  ParamBinder binder("fineweb_quality");
  BindParams(&options, &binder);
  EXPECT_TRUE(binder.Apply(YAML::Load(params.dump()), "test").ok());
  return FineWebQualityFilter(options);
}

Verdict Decide(const FineWebQualityFilter& f, std::string text) {
  Document doc;
  doc.text = std::move(text);
  return f.Check(&doc);
}

std::string Reason(const Verdict& v) { return v.kept ? "kept" : v.reason; }

TEST(FineWebQuality, PassesEveryDatatroveCase) {
  const auto cases = DatatroveCases("fineweb_quality");
  ASSERT_EQ(cases.size(), 5u);
  for (const auto& c : cases) {
    const Verdict v = Decide(Make(c["params"]), c["text"]);
    EXPECT_EQ(v.kept, c["expected_kept"].get<bool>()) << c["case"] << " " << v.reason;
    if (!c["expected_reason"].is_null()) {
      EXPECT_EQ(v.reason, c["expected_reason"]) << c["case"];
    }
  }
}

TEST(FineWebQuality, ListHeavyCaseDropsForLinePunctuationFirst) {
  // SOURCE.md: the test asserts only a drop; datatrove's check order makes it line_punct_ratio.
  for (const auto& c : DatatroveCases("fineweb_quality")) {
    if (c["case"] == "TestFineWebQualityFilter.test_rejects_list_heavy_doc#1") {
      EXPECT_EQ(Reason(Decide(Make(c["params"]), c["text"])), "line_punct_ratio");
    }
  }
}

TEST(FineWebQuality, MatchesDatatroveOnRealText) {
  const auto golden = DatatroveGolden();
  ASSERT_GT(golden.size(), 1000u);
  const FineWebQualityFilter f = Make();
  size_t compared = 0, agree = 0;
  for (const auto& g : golden) {
    if (!g["decisions"].contains("fineweb_quality")) continue;
    const auto& want = g["decisions"]["fineweb_quality"];
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
  std::printf("fineweb_quality agrees with datatrove on %zu of %zu documents\n", agree, compared);
}

TEST(FineWebQuality, FinewebV1KeepsBlankLinesAndComparesInclusively) {
  // Two lines end in '.', two blank lines: 2/2 with blank lines removed, 2/4 = 0.5 kept in v1.
  const std::string text =
      "A first line of ordinary prose that ends well.\n\n\nA second line of prose that ends too.";
  EXPECT_EQ(Reason(Decide(Make({{"line_punct_thr", 0.5}}), text)), "kept");
  EXPECT_EQ(Reason(Decide(Make({{"line_punct_thr", 0.5}}, /*fineweb_v1=*/true), text)),
            "line_punct_ratio");  // 0.5 ≤ 0.5
}

TEST(FineWebQuality, StopCharsCanBeSet) {
  const std::string text =
      "A line of prose that ends with a colon:\nAnother such line follows here:";
  EXPECT_EQ(Reason(Decide(Make(), text)), "line_punct_ratio");
  EXPECT_EQ(Reason(Decide(Make({{"stop_chars", {":"}}}), text)), "kept");
}

TEST(FineWebQuality, CountsDuplicateLineCharacters) {
  std::string text;
  for (int i = 0; i < 10; ++i) {
    text += "Line number " + std::to_string(i) + " is a unique sentence of reasonable length.\n";
  }
  text += "This sentence is repeated once in the whole document.\n";
  text += "This sentence is repeated once in the whole document.";
  EXPECT_EQ(Reason(Decide(Make(), text)), "char_dup_ratio");
}

// Bad input: every document gets a decision, quickly.
TEST(FineWebQuality, DecidesOnPathologicalInput) {
  const FineWebQualityFilter f = Make();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Reason(Decide(f, "")), "empty");
  EXPECT_EQ(Reason(Decide(f, " \n\t\n\u3000")), "empty");
  EXPECT_EQ(Reason(Decide(Make({}, true), "")), "line_punct_ratio");
  EXPECT_EQ(Reason(Decide(Make({}, true), "\n\n\n")), "line_punct_ratio");
  EXPECT_EQ(Reason(Decide(f, std::string(1 << 20, 'x'))), "line_punct_ratio");  // 1 MB line
  EXPECT_EQ(Reason(Decide(f, std::string(1 << 20, 'x') + ".")), "kept");
  EXPECT_EQ(Reason(Decide(f, std::string(100000, '!'))), "kept");  // punctuation only
  const Verdict invalid = Decide(f, "\xff\xfe\x80 abc \xc3\x28 \xe2\x82 def\n\xf0\x28\x8c\xbc");
  EXPECT_FALSE(invalid.kept);
  std::string million;
  for (int i = 0; i < 100000; ++i) {
    million += "Sentence " + std::to_string(i) + " has several more words in it.\n";
  }
  EXPECT_EQ(Reason(Decide(f, million)), "kept");  // close to a million words
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 20.0);
}

}  // namespace
}  // namespace winnow::filters
