// Every case of datatrove's filter unit tests (../shared/data/filters/datatrove_cases.jsonl), run
// through the registry exactly as `winnow filter --only NAME` with the case's parameters would.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "filters/registry.h"
#include "nlohmann/json.hpp"

namespace winnow::filters {
namespace {

// JSON → YAML (the config's language); params are small objects of scalars and lists.
YAML::Node ToYaml(const nlohmann::json& j) {
  if (j.is_object()) {
    YAML::Node n(YAML::NodeType::Map);
    for (const auto& [k, v] : j.items()) n[k] = ToYaml(v);
    return n;
  }
  if (j.is_array()) {
    YAML::Node n(YAML::NodeType::Sequence);
    for (const auto& v : j) n.push_back(ToYaml(v));
    return n;
  }
  if (j.is_string()) return YAML::Node(j.get<std::string>());
  if (j.is_boolean()) return YAML::Node(j.get<bool>());
  if (j.is_number_integer()) return YAML::Node(j.get<int64_t>());
  if (j.is_number()) return YAML::Node(j.get<double>());
  return YAML::Node();
}

TEST(DatatroveCases, EveryReferenceCasePasses) {
  std::ifstream in(std::string(WINNOW_SHARED_DIR) + "/data/filters/datatrove_cases.jsonl");
  ASSERT_TRUE(in) << "missing ../shared/data/filters/datatrove_cases.jsonl";
  std::string line;
  int cases = 0;
  while (std::getline(in, line)) {
    const nlohmann::json c = nlohmann::json::parse(line);
    const std::string name = c["filter"];
    SCOPED_TRACE(c["case"].get<std::string>());
    YAML::Node params = ToYaml(c["params"]);
    // The cases build each class with its own defaults; the recipe switches C4's terminal
    // punctuation rule off, so give the class default back.
    if (name == "c4_quality" && !params["filter_no_terminal_punct"]) {
      params["filter_no_terminal_punct"] = true;
    }
    YAML::Node section(YAML::NodeType::Map);
    section[name] = params;
    ChainOptions options;
    options.only = {name};
    absl::StatusOr<FilterChain> chain = BuildFilterChain(section, options, "<case>");
    ASSERT_TRUE(chain.ok()) << chain.status();
    ASSERT_EQ(chain->filters.size(), 1u);

    pipeline::Document doc;
    doc.text = c["text"];
    doc.url = c.value("url", std::string("https://example.com"));
    doc.metadata["url"] = doc.url;
    pipeline::Verdict verdict = chain->filters[0]->Check(&doc);
    EXPECT_EQ(verdict.kept, c["expected_kept"].get<bool>());
    if (!c["expected_reason"].is_null()) {
      EXPECT_EQ(verdict.reason, c["expected_reason"]);
    }
    if (c.contains("expected_text")) {
      EXPECT_EQ(doc.text, c["expected_text"]);
    }
    if (c.contains("expected_metadata")) {
      for (const auto& [k, v] : c["expected_metadata"].items()) {
        if (k == "language_score") continue;  // the .ftz model's scores differ from the .bin's
        EXPECT_EQ(doc.metadata[k], v) << k;
      }
    }
    ++cases;
  }
  EXPECT_EQ(cases, 39);
}

}  // namespace
}  // namespace winnow::filters
