// Parity with the reference on real documents: golden decisions made by datatrove itself
// (bench/datatrove_parity.py → testdata/datatrove_golden.jsonl.gz), replayed filter by filter.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "filters/registry.h"
#include "nlohmann/json.hpp"
#include "tests/filters/reference_data.h"

namespace winnow::filters {
namespace {

struct Tally {
  int total = 0;
  int same = 0;
  std::map<std::string, int> disagreements;  // "reference → winnow" → count
  std::vector<std::string> examples;
};

TEST(DatatroveParity, DecisionsMatchTheReferenceOnRealDocuments) {
  const std::vector<nlohmann::json> golden = reference::DatatroveGolden();
  ASSERT_GT(golden.size(), 1000u) << "testdata/datatrove_golden.jsonl.gz is missing";
  std::map<std::string, std::unique_ptr<pipeline::Filter>> filters;
  for (const std::string& name : DefaultFilterOrder()) {
    ChainOptions options;
    options.only = {name};
    absl::StatusOr<FilterChain> chain = BuildFilterChain(YAML::Node(), options, "<parity>");
    ASSERT_TRUE(chain.ok()) << chain.status();
    filters[name] = std::move(chain->filters[0]);
  }
  std::map<std::string, Tally> tallies;
  for (const nlohmann::json& d : golden) {
    for (const auto& [name, expected] : d["decisions"].items()) {
      pipeline::Document doc;
      doc.id = d["id"];
      doc.text = d["text"];
      doc.url = d["url"];
      doc.metadata["url"] = doc.url;
      pipeline::Verdict v = filters.at(name)->Check(&doc);
      // The language filter gives the reference no reason; its decision is compared alone.
      const bool no_reason = expected["reason"].is_null();
      const std::string want = expected["kept"].get<bool>() ? "kept"
                               : no_reason                  ? "dropped"
                                                            : expected["reason"].get<std::string>();
      std::string got = v.kept ? "kept" : no_reason ? "dropped" : v.reason;
      if (name == "language" && v.kept == expected["kept"].get<bool>()) {
        got = want;  // decision equal; the label is compared below
        if (doc.metadata.value("language", "") != expected["language"]) {
          got = "label " + doc.metadata.value("language", std::string("?"));
        }
      }
      if (expected.contains("text") && v.kept && doc.text != expected["text"]) got += " (text)";
      Tally& t = tallies[name];
      ++t.total;
      if (got == want) {
        ++t.same;
      } else {
        ++t.disagreements[want + " -> " + got];
        if (t.examples.size() < 5) t.examples.push_back(doc.id);
      }
    }
  }
  for (const auto& [name, t] : tallies) {
    const double agreement = static_cast<double>(t.same) / t.total;
    std::string detail;
    for (const auto& [what, n] : t.disagreements)
      detail += "\n    " + what + ": " + std::to_string(n);
    for (const std::string& id : t.examples) detail += "\n    e.g. " + id;
    std::printf("%-18s %5d/%5d identical (%.2f%%)%s\n", name.c_str(), t.same, t.total,
                100 * agreement, detail.c_str());
    EXPECT_GE(agreement, 0.995) << name << detail;
  }
}

}  // namespace
}  // namespace winnow::filters
