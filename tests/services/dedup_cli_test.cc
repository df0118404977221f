// `winnow dedup` as a user runs it: JSONL in, kept lines and clusters out; the same result for
// any line order and thread count; bad lines counted and left out; bad flags stop at start-up.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/util/files.h"
#include "tests/util/shell.h"
#include "tests/util/temp_dir.h"

namespace {

using winnow::testing::ReadFile;
using winnow::testing::RunCommand;
using winnow::testing::TempDir;

const std::string kWinnow = std::string(WINNOW_BINARY_DIR) + "/services/winnow";

int Winnow(const std::string& args, std::string* out = nullptr) {
  std::string ignored;
  return RunCommand(kWinnow + " " + args + " 2>/dev/null", out != nullptr ? out : &ignored);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string Words(std::mt19937_64& random, int n) {
  static const char* kSyllables[] = {"ka",  "lo", "mer", "sun", "ti",  "ra", "vel", "do",
                                     "pin", "ho", "gra", "ne",  "str", "ub", "wa",  "zen"};
  std::string out;
  for (int i = 0; i < n; ++i) {
    if (!out.empty()) out += ' ';
    for (int s = 0, k = 1 + static_cast<int>(random() % 3); s < k; ++s) {
      out += kSyllables[random() % 16];
    }
  }
  return out;
}

// 30 families: an original; every second one an exact copy (spacing and case); every third a
// near copy (a few words changed); plus 40 unrelated documents. Ids are random strings, so the
// smallest id of a family is not its original.
std::vector<nlohmann::json> Corpus() {
  std::mt19937_64 random(7);
  std::vector<nlohmann::json> docs;
  const auto id = [&random] { return "doc-" + std::to_string(random() % 1000000000); };
  for (int f = 0; f < 30; ++f) {
    const std::string text = Words(random, 300);
    docs.push_back({{"id", id()}, {"text", text}, {"metadata", {{"family", f}}}});
    if (f % 2 == 0) {
      std::string copy = "  " + text + "\n";
      std::transform(copy.begin(), copy.begin() + 10, copy.begin(), ::toupper);
      docs.push_back({{"id", id()}, {"text", copy}, {"metadata", {{"family", f}}}});
    }
    if (f % 3 == 0) {
      std::string near = text;
      near.replace(near.size() / 2, 8, " changed ");
      docs.push_back({{"id", id()}, {"text", near}, {"metadata", {{"family", f}}}});
    }
  }
  for (int u = 0; u < 40; ++u) {
    docs.push_back({{"id", id()}, {"text", Words(random, 200)}, {"metadata", {{"family", -1}}}});
  }
  return docs;
}

void WriteJsonl(const std::string& path, const std::vector<nlohmann::json>& docs) {
  std::ofstream out(path);
  for (const auto& d : docs) out << d.dump() << "\n";
}

TEST(DedupCli, KeepsOneDocumentPerFamilyWhateverTheOrderAndThreads) {
  TempDir dir;
  std::vector<nlohmann::json> docs = Corpus();
  WriteJsonl(dir.path() + "/in.jsonl", docs);
  std::string summary;
  ASSERT_EQ(Winnow("dedup --in " + dir.path() + "/in.jsonl --out " + dir.path() +
                       "/kept.jsonl --clusters " + dir.path() + "/clusters.jsonl --threads 1",
                   &summary),
            0);
  EXPECT_NE(summary.find("15 exact and 10 near duplicates removed in 20 clusters"),
            std::string::npos)
      << summary;
  const std::vector<std::string> kept = Lines(ReadFile(dir.path() + "/kept.jsonl"));
  // 30 families and 40 unrelated documents.
  ASSERT_EQ(kept.size(), 70u);
  std::set<int> families;
  for (const std::string& line : kept) {
    const int f = nlohmann::json::parse(line)["metadata"]["family"];
    if (f >= 0) {
      EXPECT_TRUE(families.insert(f).second) << "family " << f << " kept twice";
    }
  }
  // Kept lines are the input lines, unchanged and in input order.
  std::vector<std::string> input = Lines(ReadFile(dir.path() + "/in.jsonl"));
  size_t at = 0;
  for (const std::string& line : kept) {
    while (at < input.size() && input[at] != line) ++at;
    ASSERT_LT(at, input.size()) << "not an input line, or out of order: " << line;
  }
  // Clusters: the kept id is its family's smallest id.
  const std::string clusters = ReadFile(dir.path() + "/clusters.jsonl");
  for (const std::string& line : Lines(clusters)) {
    const nlohmann::json c = nlohmann::json::parse(line);
    EXPECT_EQ(c["size"], c["duplicates"].size() + 1);
    for (const auto& d : c["duplicates"]) EXPECT_LT(c["kept"], d["id"]);
  }

  for (const int threads : {2, 8}) {
    for (const uint64_t seed : {1u, 2u}) {
      std::mt19937_64 random(seed);
      std::shuffle(docs.begin(), docs.end(), random);
      WriteJsonl(dir.path() + "/shuffled.jsonl", docs);
      const std::string run = std::to_string(threads) + "-" + std::to_string(seed);
      ASSERT_EQ(Winnow("dedup --in " + dir.path() + "/shuffled.jsonl --out " + dir.path() +
                       "/kept-" + run + ".jsonl --clusters " + dir.path() + "/clusters-" + run +
                       ".jsonl --threads " + std::to_string(threads)),
                0);
      std::vector<std::string> got = Lines(ReadFile(dir.path() + "/kept-" + run + ".jsonl"));
      std::vector<std::string> want = kept;
      std::sort(got.begin(), got.end());
      std::sort(want.begin(), want.end());
      EXPECT_EQ(got, want) << run;
      EXPECT_EQ(ReadFile(dir.path() + "/clusters-" + run + ".jsonl"), clusters) << run;
    }
  }
}

TEST(DedupCli, GzipInAndOutBadLinesCountedAndLeftOut) {
  TempDir dir;
  std::vector<nlohmann::json> docs = Corpus();
  WriteJsonl(dir.path() + "/in.jsonl", docs);
  {
    std::ofstream out(dir.path() + "/in.jsonl", std::ios::app);
    out << "not json\n{\"text\": \"no id\"}\n\n{\"id\": 12, \"text\": \"a numeric id\"}\n";
  }
  std::string ignored;
  ASSERT_EQ(RunCommand("gzip -k " + dir.path() + "/in.jsonl", &ignored), 0);
  std::string summary;
  ASSERT_EQ(
      Winnow("dedup -q --in " + dir.path() + "/in.jsonl.gz --out " + dir.path() + "/kept.jsonl.gz",
             &summary),
      0);
  EXPECT_NE(summary.find("2 line(s) were not JSON documents"), std::string::npos) << summary;
  std::string kept;
  ASSERT_EQ(RunCommand("zcat " + dir.path() + "/kept.jsonl.gz", &kept), 0);
  EXPECT_EQ(Lines(kept).size(), 71u);  // 70 + the numeric id
  EXPECT_NE(kept.find("a numeric id"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/kept.jsonl.gz.dedup-work"));
}

TEST(DedupCli, BadFlagsAndConfigStopAtStartUp) {
  TempDir dir;
  WriteJsonl(dir.path() + "/in.jsonl", Corpus());
  EXPECT_EQ(Winnow("dedup --out " + dir.path() + "/k.jsonl"), 2);  // no --in
  EXPECT_EQ(Winnow("dedup --in " + dir.path() + "/missing.jsonl --out " + dir.path() + "/k.jsonl"),
            1);
  std::ofstream(dir.path() + "/bad.yaml") << "dedup:\n  rows: 0\n";
  EXPECT_EQ(Winnow("dedup --in " + dir.path() + "/in.jsonl --out " + dir.path() +
                   "/k.jsonl --config " + dir.path() + "/bad.yaml"),
            2);
  std::ofstream(dir.path() + "/typo.yaml") << "dedup:\n  bandz: 3\n";
  EXPECT_EQ(Winnow("dedup --in " + dir.path() + "/in.jsonl --out " + dir.path() +
                   "/k.jsonl --config " + dir.path() + "/typo.yaml"),
            2);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/k.jsonl"));
}

}  // namespace
