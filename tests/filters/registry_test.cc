#include "filters/registry.h"

#include <gtest/gtest.h>

namespace winnow::filters {
namespace {

std::vector<std::string> Names(const FilterChain& chain) {
  std::vector<std::string> out;
  for (const auto& f : chain.filters) out.emplace_back(f->name());
  return out;
}

absl::StatusOr<FilterChain> Build(const std::string& yaml, ChainOptions options = {}) {
  return BuildFilterChain(YAML::Load(yaml), options, "test.yaml");
}

TEST(Registry, NoConfigGivesTheFineWebRecipeInOrder) {
  auto chain = BuildFilterChain(YAML::Node(), {}, "<default>");
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_EQ(Names(*chain), DefaultFilterOrder());
  EXPECT_EQ(chain->effective["profile"].as<std::string>(), "datatrove");
  // The recipe switches C4's terminal punctuation rule off; the effective config says so.
  EXPECT_FALSE(chain->effective["c4_quality"]["filter_no_terminal_punct"].as<bool>());
  EXPECT_EQ(chain->effective["gopher_quality"]["min_doc_words"].as<int>(), 50);
}

TEST(Registry, ConfigSwitchesOffReordersAndReparameterises) {
  auto chain = Build(
      "order: [gopher_quality, url, pii]\n"
      "gopher_quality: {min_doc_words: 10}\n"
      "pii: {enabled: false}\n");
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_EQ(Names(*chain), (std::vector<std::string>{"gopher_quality", "url"}));
  EXPECT_EQ(chain->effective["gopher_quality"]["min_doc_words"].as<int>(), 10);
}

TEST(Registry, OnlyAndSetReplayOneFilterWithOneParameter) {
  ChainOptions options;
  options.only = {"gopher_quality"};
  options.sets = {"gopher_quality.min_doc_words=3"};
  auto chain = Build("", options);
  ASSERT_TRUE(chain.ok()) << chain.status();
  ASSERT_EQ(Names(*chain), (std::vector<std::string>{"gopher_quality"}));
  pipeline::Document doc;
  doc.text = "the cat and the dog";
  EXPECT_TRUE(chain->filters[0]->Check(&doc).kept);
  options.sets = {"gopher_quality.min_doc_words=30"};
  chain = Build("", options);
  ASSERT_TRUE(chain.ok());
  pipeline::Verdict v = chain->filters[0]->Check(&doc);
  EXPECT_FALSE(v.kept);
  EXPECT_EQ(v.reason, "gopher_short_doc");
}

TEST(Registry, ListValuesAreCommaSeparatedOnTheCommandLine) {
  ChainOptions options;
  options.only = {"language"};
  options.sets = {"language.languages=en,it"};
  auto chain = Build("", options);
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_EQ(chain->effective["language"]["languages"].size(), 2u);
}

TEST(Registry, CustomFiltersComeFromConfigWithoutRecompiling) {
  auto chain = Build(
      "custom:\n"
      "  - {name: no_casino, type: keyword, keywords: [casino], field: text}\n"
      "  - {name: no_lorem, type: regex, patterns: ['(?i)lorem ipsum']}\n",
      ChainOptions{{"no_casino", "no_lorem"}, {}, ""});
  ASSERT_TRUE(chain.ok()) << chain.status();
  ASSERT_EQ(Names(*chain), (std::vector<std::string>{"no_casino", "no_lorem"}));
  pipeline::Document doc;
  doc.text = "Visit our casino today";
  EXPECT_FALSE(chain->filters[0]->Check(&doc).kept);
  doc.text = "Lorem Ipsum dolor sit amet";
  EXPECT_TRUE(chain->filters[0]->Check(&doc).kept);
  EXPECT_FALSE(chain->filters[1]->Check(&doc).kept);
}

TEST(Registry, MistakesAreNamedAtStartUp) {
  auto typo = Build("gopher_qualty: {min_doc_words: 3}\n");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("gopher_qualty"), std::string::npos);
  auto bad_param = Build("gopher_quality: {min_words: 3}\n");
  ASSERT_FALSE(bad_param.ok());
  EXPECT_NE(bad_param.status().message().find("gopher_quality.min_words"), std::string::npos);
  auto bad_value = Build("gopher_quality: {min_doc_words: many}\n");
  ASSERT_FALSE(bad_value.ok());
  EXPECT_NE(bad_value.status().message().find("many"), std::string::npos);
  EXPECT_FALSE(Build("profile: fineweb-v3\n").ok());
  EXPECT_FALSE(Build("order: [url, nope]\n").ok());
  EXPECT_FALSE(Build("", ChainOptions{{"nope"}, {}, ""}).ok());
  EXPECT_FALSE(Build("", ChainOptions{{}, {"gopher_quality.min_doc_words"}, ""}).ok());
  EXPECT_FALSE(Build("custom: [{name: url, type: keyword}]\n").ok());
  EXPECT_FALSE(Build("custom: [{name: x, type: magic}]\n").ok());
  auto missing_model = Build("language: {model: /nonexistent/lid.bin}\n");
  ASSERT_FALSE(missing_model.ok());
  EXPECT_NE(missing_model.status().message().find("/nonexistent/lid.bin"), std::string::npos);
}

TEST(Registry, FineWebV1ProfileIsSelectable) {
  auto chain = Build("profile: fineweb-v1\n");
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_EQ(chain->effective["profile"].as<std::string>(), "fineweb-v1");
  EXPECT_EQ(Names(*chain), DefaultFilterOrder());
}

}  // namespace
}  // namespace winnow::filters

namespace winnow::filters {
namespace {

TEST(Registry, HostileTextGetsADecisionFromTheWholeChain) {
  auto chain = BuildFilterChain(YAML::Node(), {}, "<default>");
  ASSERT_TRUE(chain.ok()) << chain.status();
  std::string million_words;
  for (int i = 0; i < 1000000; ++i) million_words += (i % 7 == 0 ? "the " : "word ");
  const std::vector<std::string> texts = {
      "",
      std::string(1 << 20, 'a'),                                       // a megabyte-long line
      std::string("caf\xC3\xA9 \xFF\xFE broken \xC3 utf-8 \xE2\x82"),  // invalid UTF-8
      million_words,
      std::string(100000, '!'),  // only punctuation
      std::string(5000, '\n'),
  };
  for (const std::string& text : texts) {
    pipeline::Document doc;
    doc.text = text;
    doc.url = "https://example.com/page";
    for (const auto& filter : chain->filters) {
      pipeline::Verdict v = filter->Check(&doc);
      if (!v.kept) {
        EXPECT_FALSE(v.reason.empty()) << filter->name();
        break;
      }
    }
  }
}

}  // namespace
}  // namespace winnow::filters
