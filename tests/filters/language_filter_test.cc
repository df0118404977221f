#include "filters/language_filter.h"

#include <zlib.h>

#include <cmath>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/util/temp_dir.h"
#include "yaml-cpp/yaml.h"

namespace winnow::filters {
namespace {

using pipeline::Document;
using pipeline::Verdict;

const std::string kData = std::string(WINNOW_SHARED_DIR) + "/data";

YAML::Node JsonToYaml(const nlohmann::json& j) {
  if (j.is_object()) {
    YAML::Node map(YAML::NodeType::Map);
    for (const auto& [key, value] : j.items()) map[key] = JsonToYaml(value);
    return map;
  }
  if (j.is_array()) {
    YAML::Node list(YAML::NodeType::Sequence);
    for (const auto& value : j) list.push_back(JsonToYaml(value));
    return list;
  }
  if (j.is_string()) return YAML::Node(j.get<std::string>());
  if (j.is_null()) return YAML::Node();
  return YAML::Node(j.dump());
}

std::unique_ptr<LanguageFilter> MakeFilter(LanguageFilterOptions options = {}) {
  SetDefaultDataPaths(kData, &options);
  auto filter = LanguageFilter::Create(options);
  EXPECT_TRUE(filter.ok()) << filter.status();
  return filter.ok() ? std::move(*filter) : nullptr;
}

Document Doc(std::string text) {
  Document doc;
  doc.text = std::move(text);
  return doc;
}

TEST(LanguageFilter, PassesDatatroveCases) {
  std::ifstream in(kData + "/filters/datatrove_cases.jsonl");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    const nlohmann::json c = nlohmann::json::parse(line);
    if (c["filter"] != "language") continue;
    ++n;
    LanguageFilterOptions options;
    ParamBinder binder("language");
    BindParams(&options, &binder);
    ASSERT_TRUE(binder.Apply(JsonToYaml(c["params"]), "case").ok());
    auto filter = MakeFilter(options);
    Document doc = Doc(c["text"]);
    const Verdict v = filter->Check(&doc);
    EXPECT_EQ(v.kept, c["expected_kept"].get<bool>()) << c["case"];
    EXPECT_EQ(doc.metadata["language"], c["expected_metadata"]["language"]) << c["case"];
    // Our reason: the detected language.
    if (!v.kept) {
      EXPECT_EQ(v.reason, c["expected_metadata"]["language"]) << c["case"];
    }
  }
  EXPECT_EQ(n, 4);
}

TEST(LanguageFilter, MatchesDatatroveLabelsAndScoresOnRealText) {
  // Reference decisions: LanguageFilter(languages=["en"]) with the same lid.176.ftz.
  gzFile f =
      gzopen((std::string(WINNOW_SOURCE_DIR) + "/tests/filters/testdata/datatrove_golden.jsonl.gz")
                 .c_str(),
             "rb");
  if (f == nullptr) GTEST_SKIP() << "no golden file";
  std::string data;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof(buf))) > 0) data.append(buf, n);
  gzclose(f);
  auto filter = MakeFilter();
  size_t checked = 0, start = 0;
  while (start < data.size()) {
    size_t end = data.find('\n', start);
    if (end == std::string::npos) end = data.size();
    const nlohmann::json d = nlohmann::json::parse(data.substr(start, end - start));
    start = end + 1;
    if (!d["decisions"].contains("language")) continue;
    const nlohmann::json& want = d["decisions"]["language"];
    Document doc = Doc(d["text"]);
    const Verdict v = filter->Check(&doc);
    ASSERT_EQ(doc.metadata["language"], want["language"]) << d["id"];
    const double score = doc.metadata["language_score"].get<double>();
    ASSERT_NEAR(score, want["language_score"].get<double>(), 1e-4) << d["id"];
    if (std::abs(score - 0.65) > 1e-4) {
      ASSERT_EQ(v.kept, want["kept"].get<bool>()) << d["id"];
    }
    ++checked;
  }
  EXPECT_GT(checked, 4000u);
}

TEST(LanguageFilter, DropReasonIsTheDetectedLanguage) {
  auto filter = MakeFilter();
  Document doc =
      Doc("Un magicien n'est jamais en retard Frodon Sacquet. Pas plus qu'il est en avance.");
  const Verdict v = filter->Check(&doc);
  EXPECT_FALSE(v.kept);
  EXPECT_EQ(v.reason, "fr");
  EXPECT_EQ(doc.metadata["language"], "fr");
  EXPECT_GT(doc.metadata["language_score"].get<double>(), 0.65);
}

TEST(LanguageFilter, ThresholdIsStrict) {
  auto filter = MakeFilter();
  Document doc = Doc("The quick brown fox jumps over the lazy dog near the river bank today.");
  ASSERT_TRUE(filter->Check(&doc).kept);
  LanguageFilterOptions options;
  options.language_threshold = doc.metadata["language_score"].get<float>();
  Document again = Doc(doc.text);
  EXPECT_FALSE(MakeFilter(options)->Check(&again).kept);
}

TEST(LanguageFilter, EmptyLanguagesKeepsAnyConfidentLanguage) {
  LanguageFilterOptions options;
  options.languages = {};
  auto filter = MakeFilter(options);
  Document doc =
      Doc("Um mago nunca chega tarde, Frodo Bolseiro. Nem cedo. Ele chega precisamente.");
  EXPECT_TRUE(filter->Check(&doc).kept);
  EXPECT_EQ(doc.metadata["language"], "pt");
}

TEST(LanguageFilter, LabelOnlyNeverDropsAndTopPairsAreStored) {
  LanguageFilterOptions options;
  options.label_only = true;
  options.languages = {"en", "it"};
  options.keep_top_pairs_threshold = 0.0;
  auto filter = MakeFilter(options);
  Document doc = Doc("Un magicien n'est jamais en retard Frodon Sacquet.");
  EXPECT_TRUE(filter->Check(&doc).kept);
  EXPECT_TRUE(doc.metadata.contains("top_language_en_score"));
  EXPECT_TRUE(doc.metadata.contains("top_language_it_score"));
  EXPECT_FALSE(doc.metadata.contains("top_language_fr_score"));
}

TEST(LanguageFilter, FinewebV1RemovesNewlinesInsteadOfSpacing) {
  LanguageFilterOptions v1;
  ApplyFinewebV1Profile(&v1);
  EXPECT_FALSE(v1.newlines_to_spaces);
  auto reference = MakeFilter();
  auto fineweb = MakeFilter(v1);
  const std::string text = "hello\nworld\nthis is\nenglish";
  // "helloworld" is one word for FineWeb v1; the predictions differ.
  EXPECT_NE(reference->Predict(text)[0].second, fineweb->Predict(text)[0].second);
  EXPECT_EQ(reference->Predict(text)[0].second,
            reference->Predict("hello world this is english")[0].second);
}

TEST(LanguageFilter, MissingOrInvalidModelIsAStartupError) {
  LanguageFilterOptions options;
  options.model = "";
  EXPECT_FALSE(LanguageFilter::Create(options).ok());
  options.model = "/nonexistent/lid.176.ftz";
  auto missing = LanguageFilter::Create(options);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/lid.176.ftz"), std::string::npos);
  testing::TempDir dir;
  std::ofstream(dir.Sub("bad.ftz")) << "not a model at all";
  options.model = dir.Sub("bad.ftz");
  auto bad = LanguageFilter::Create(options);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad.ftz"), std::string::npos);
}

TEST(LanguageFilter, SharedModelGivesSameAnswersFromManyThreads) {
  auto filter = MakeFilter();
  const std::vector<std::string> texts = {
      "I wish it need not have happened in my time, said Frodo.",
      "Molti tra i vivi meritano la morte. E parecchi che sono morti avrebbero meritato la vita.",
      "Um mago nunca chega tarde, Frodo Bolseiro.",
      "Der Zauberer kommt nie zu spät, Frodo Beutlin."};
  std::vector<std::string> expected;
  for (const std::string& t : texts) {
    Document doc = Doc(t);
    filter->Check(&doc);
    expected.push_back(doc.metadata.dump());
  }
  std::vector<int> mismatches(8, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        Document doc = Doc(texts[i % texts.size()]);
        filter->Check(&doc);
        mismatches[t] += doc.metadata.dump() != expected[i % texts.size()];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

TEST(LanguageFilter, BadInputGetsADecision) {
  auto filter = MakeFilter();
  for (const std::string& text :
       {std::string(), std::string("\n\n\n"), std::string("?!.,;:()[]{}--...!!!"),
        std::string("\xff\xfe\xc3\x28 \xe2\x82 invalid \x80\x81"), std::string(1 << 20, 'x'),
        std::string(3, '\0')}) {
    Document doc = Doc(text);
    filter->Check(&doc);
    EXPECT_TRUE(doc.metadata["language"].is_string());
    EXPECT_TRUE(doc.metadata["language_score"].is_number());
  }
  std::string million_words;
  million_words.reserve(6000000);
  for (int i = 0; i < 1000000; ++i) million_words += "word ";
  Document doc = Doc(million_words);
  filter->Check(&doc);
  EXPECT_TRUE(doc.metadata["language"].is_string());
}

TEST(LanguageFilter, BindsEveryOption) {
  LanguageFilterOptions options;
  ParamBinder binder("language");
  BindParams(&options, &binder);
  ASSERT_TRUE(binder.Set("languages", "en,it", "test").ok());
  EXPECT_EQ(options.languages, (std::vector<std::string>{"en", "it"}));
  for (const char* name : {"model", "languages", "language_threshold", "label_only",
                           "keep_top_pairs_threshold", "newlines_to_spaces"}) {
    EXPECT_TRUE(binder.Has(name)) << name;
  }
}

}  // namespace
}  // namespace winnow::filters
