// The dedup stage of `winnow run`: real WARC files with planted copies go through the whole run;
// duplicates are marked (not lost) per snapshot, each pointing to its cluster's kept document,
// and the marks follow the inputs and the settings across runs.
#include "pipeline/run/dedup_stage.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "pipeline/run/runner.h"
#include "pipeline/store/shard_store.h"
#include "tests/util/temp_dir.h"

namespace winnow::pipeline {
namespace {

using winnow::testing::TempDir;

// An article of `words` pseudo-English words in paragraphs, reproducible from `seed`.
std::vector<std::string> Article(uint64_t seed, int words = 320) {
  static const char* kSyllables[] = {"ka",  "lo", "mer", "sun", "ti",  "ra", "vel", "do",
                                     "pin", "ho", "gra", "ne",  "str", "ub", "wa",  "zen"};
  std::mt19937_64 random(seed);
  std::vector<std::string> paragraphs(1);
  for (int i = 0; i < words; ++i) {
    std::string word;
    const int n = 1 + static_cast<int>(random() % 3);
    for (int s = 0; s < n; ++s) word += kSyllables[random() % 16];
    std::string& p = paragraphs.back();
    p += p.empty() ? "" : " ";
    p += word;
    if (i % 40 == 39) {
      p += ".";
      paragraphs.emplace_back();
    }
  }
  if (paragraphs.back().empty()) paragraphs.pop_back();
  return paragraphs;
}

std::string Html(const std::vector<std::string>& paragraphs) {
  std::string html = "<html><head><title>t</title></head><body><article>";
  for (const std::string& p : paragraphs) html += "<p>" + p + "</p>\n";
  return html + "</article></body></html>";
}

struct Page {
  std::string url;
  std::string html;
};

void WriteWarc(const std::string& path, const std::vector<Page>& pages) {
  std::ofstream out(path, std::ios::binary);
  int n = 0;
  for (const Page& page : pages) {
    const std::string http =
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + page.html;
    out << "WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: " << page.url
        << "\r\nWARC-Date: 2099-01-01T00:00:00Z\r\nWARC-Record-ID: <urn:uuid:" << path.size() << "-"
        << ++n << ">\r\nContent-Type: application/http; msgtype=response\r\n"
        << "Content-Length: " << http.size() << "\r\n\r\n"
        << http << "\r\n\r\n";
  }
}

// Snapshot 2099-01: X and Y in file a, X again in file a (exact), X with one word changed in
// file b (near) and an unrelated Z; snapshot 2099-02: one more copy of X.
struct Corpus {
  std::string dir, a, b, c;
};

Corpus MakeCorpus(const std::string& dir) {
  Corpus c{dir, dir + "/CC-MAIN-2099-01-a.warc", dir + "/CC-MAIN-2099-01-b.warc",
           dir + "/CC-MAIN-2099-02-c.warc"};
  const std::vector<std::string> x = Article(1), y = Article(2), z = Article(3);
  std::vector<std::string> x_near = x;
  x_near[2].replace(0, x_near[2].find(' '), "changedword");
  WriteWarc(c.a, {{"https://x.org/1", Html(x)},
                  {"https://y.org/", Html(y)},
                  {"https://mirror.x.org/1", Html(x)}});
  WriteWarc(c.b, {{"https://syndicated.org/x", Html(x_near)}, {"https://z.org/", Html(z)}});
  WriteWarc(c.c, {{"https://x.org/1", Html(x)}});
  return c;
}

RunOptions Options(std::vector<std::string> inputs, const std::string& data_dir, int threads) {
  RunOptions o;
  o.inputs = std::move(inputs);
  o.data_dir = data_dir;
  o.threads = threads;
  o.progress = false;
  return o;
}

std::map<std::string, const DedupGroupResult*> ByGroup(const RunReport& report) {
  std::map<std::string, const DedupGroupResult*> out;
  for (const auto& g : report.dedup) out[g.group] = &g;
  return out;
}

// url → (kind, kept url) for every marked document; kept urls in `kept`.
struct Marks {
  std::map<std::string, std::pair<std::string, std::string>> duplicates;
  std::set<std::string> kept;
};

Marks ReadMarks(const std::string& data_dir) {
  StoreOptions options;
  options.read_only = true;
  options.create_if_missing = false;
  auto store = ShardStore::Open(data_dir, options);
  EXPECT_TRUE(store.ok()) << store.status();
  Marks marks;
  std::map<std::string, std::string> url_of;  // encoded key → snapshot|url
  EXPECT_TRUE((*store)
                  ->ForEachDocument(
                      [&](const Document& d) {
                        url_of[d.key.Encode()] = d.key.snapshot + "|" + d.url;
                        return true;
                      },
                      ShardStore::DocumentSet::kAll)
                  .ok());
  for (const auto& [key, url] : url_of) {
    DocumentKey k;
    EXPECT_TRUE(DocumentKey::Decode(key, &k));
    auto mark = (*store)->DuplicateOf(k);
    EXPECT_TRUE(mark.ok());
    if (mark->has_value()) {
      EXPECT_TRUE(url_of.contains((*mark)->kept_key)) << "kept document missing for " << url;
      marks.duplicates[url] = {(*mark)->kind, url_of[(*mark)->kept_key]};
    }
  }
  EXPECT_TRUE((*store)
                  ->ForEachDocument([&](const Document& d) {
                    marks.kept.insert(d.key.snapshot + "|" + d.url);
                    return true;
                  })
                  .ok());
  return marks;
}

TEST(DedupStage, MarksExactAndNearCopiesPerSnapshotPointingToTheKeptDocument) {
  TempDir dir;
  const Corpus c = MakeCorpus(dir.path());
  const std::string data = dir.path() + "/data";
  std::vector<std::unique_ptr<Filter>> filters;
  auto report = pipeline::Run(Options({c.a, c.b, c.c}, data, 2), RunConfig{}, filters);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->total.Count("write/kept"), 6);
  auto groups = ByGroup(*report);
  ASSERT_EQ(groups.size(), 2u);
  const DedupReport& first = groups.at("CC-MAIN-2099-01")->report;
  EXPECT_EQ(first.documents, 5u);
  EXPECT_EQ(first.exact_duplicates, 1u);
  EXPECT_EQ(first.near_duplicates, 1u);
  EXPECT_EQ(first.cluster_sizes, (std::map<uint64_t, uint64_t>{{3, 1}}));
  EXPECT_EQ(groups.at("CC-MAIN-2099-02")->report.duplicates(), 0u);  // per snapshot

  const Marks marks = ReadMarks(data);
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(marks.duplicates.size(), 2u);
  // The kept copy is the smallest key: file a, first record.
  EXPECT_EQ(marks.duplicates.at("CC-MAIN-2099-01|https://mirror.x.org/1"),
            P("exact", "CC-MAIN-2099-01|https://x.org/1"));
  EXPECT_EQ(marks.duplicates.at("CC-MAIN-2099-01|https://syndicated.org/x"),
            P("near", "CC-MAIN-2099-01|https://x.org/1"));
  EXPECT_EQ(marks.kept, (std::set<std::string>{
                            "CC-MAIN-2099-01|https://x.org/1", "CC-MAIN-2099-01|https://y.org/",
                            "CC-MAIN-2099-01|https://z.org/", "CC-MAIN-2099-02|https://x.org/1"}));

  // stats.json carries the reports.
  std::ifstream stats(data + "/stats.json");
  const nlohmann::json json = nlohmann::json::parse(stats);
  EXPECT_EQ(json["dedup"]["CC-MAIN-2099-01"]["near_duplicates"], 1);
  EXPECT_EQ(json["dedup"]["CC-MAIN-2099-01"]["cluster_sizes"]["3"], 1);
  EXPECT_FALSE(std::filesystem::exists(data + "/dedup-work"));
}

TEST(DedupStage, SameMarksForAnyThreadCountAndInputOrder) {
  TempDir dir;
  const Corpus c = MakeCorpus(dir.path());
  std::vector<std::unique_ptr<Filter>> filters;
  ASSERT_TRUE(
      pipeline::Run(Options({c.a, c.b, c.c}, dir.path() + "/d1", 1), RunConfig{}, filters).ok());
  const Marks reference = ReadMarks(dir.path() + "/d1");
  ASSERT_EQ(reference.duplicates.size(), 2u);
  ASSERT_TRUE(
      pipeline::Run(Options({c.c, c.b, c.a}, dir.path() + "/d8", 8), RunConfig{}, filters).ok());
  const Marks reversed = ReadMarks(dir.path() + "/d8");
  EXPECT_EQ(reversed.duplicates, reference.duplicates);
  EXPECT_EQ(reversed.kept, reference.kept);
}

TEST(DedupStage, UnchangedGroupsAreNotRedoneAndChangesRedoThem) {
  TempDir dir;
  const Corpus c = MakeCorpus(dir.path());
  const std::string data = dir.path() + "/data";
  std::vector<std::unique_ptr<Filter>> filters;
  ASSERT_TRUE(pipeline::Run(Options({c.a, c.c}, data, 2), RunConfig{}, filters).ok());
  EXPECT_EQ(ReadMarks(data).duplicates.size(), 1u);  // only the exact copy so far

  // Adding file b changes snapshot 2099-01 only.
  auto second = pipeline::Run(Options({c.a, c.b, c.c}, data, 2), RunConfig{}, filters);
  ASSERT_TRUE(second.ok());
  auto groups = ByGroup(*second);
  EXPECT_FALSE(groups.at("CC-MAIN-2099-01")->up_to_date);
  EXPECT_TRUE(groups.at("CC-MAIN-2099-02")->up_to_date);
  EXPECT_EQ(ReadMarks(data).duplicates.size(), 2u);

  // Nothing changed: nothing redone, same marks.
  auto third = pipeline::Run(Options({c.a, c.b, c.c}, data, 2), RunConfig{}, filters);
  ASSERT_TRUE(third.ok());
  for (const auto& g : third->dedup) EXPECT_TRUE(g.up_to_date) << g.group;
  EXPECT_EQ(ReadMarks(data).duplicates.size(), 2u);

  // Redoing an input replaces its documents and marks; the dedup follows.
  RunOptions redo = Options({c.a}, data, 2);
  redo.redo = true;
  auto fourth = pipeline::Run(redo, RunConfig{}, filters);
  ASSERT_TRUE(fourth.ok());
  EXPECT_EQ(ReadMarks(data).duplicates.size(), 2u);

  // Across snapshots: the 2099-02 copy of X goes too, without reprocessing any input.
  RunConfig all;
  all.dedup.scope = "all";
  auto fifth = pipeline::Run(Options({c.a, c.b, c.c}, data, 2), all, filters);
  ASSERT_TRUE(fifth.ok());
  EXPECT_EQ(fifth->skipped_inputs.size(), 3u);
  ASSERT_EQ(fifth->dedup.size(), 1u);
  EXPECT_EQ(fifth->dedup[0].group, "*");
  const Marks across = ReadMarks(data);
  EXPECT_EQ(across.duplicates.size(), 3u);
  EXPECT_EQ(across.duplicates.at("CC-MAIN-2099-02|https://x.org/1").second,
            "CC-MAIN-2099-01|https://x.org/1");

  // Back to per snapshot, then off: marks follow.
  ASSERT_TRUE(pipeline::Run(Options({c.a, c.b, c.c}, data, 2), RunConfig{}, filters).ok());
  EXPECT_EQ(ReadMarks(data).duplicates.size(), 2u);
  RunConfig off;
  off.dedup.enabled = false;
  auto sixth = pipeline::Run(Options({c.a, c.b, c.c}, data, 2), off, filters);
  ASSERT_TRUE(sixth.ok());
  EXPECT_TRUE(sixth->dedup.empty());
  EXPECT_EQ(ReadMarks(data).duplicates.size(), 0u);
  EXPECT_EQ(ReadMarks(data).kept.size(), 6u);
}

TEST(DedupStage, ExactOnlyLeavesNearCopies) {
  TempDir dir;
  const Corpus c = MakeCorpus(dir.path());
  RunConfig config;
  config.dedup.options.near = false;
  std::vector<std::unique_ptr<Filter>> filters;
  ASSERT_TRUE(pipeline::Run(Options({c.a, c.b}, dir.path() + "/data", 2), config, filters).ok());
  const Marks marks = ReadMarks(dir.path() + "/data");
  ASSERT_EQ(marks.duplicates.size(), 1u);
  EXPECT_EQ(marks.duplicates.begin()->second.first, "exact");
}

TEST(DedupStage, SummaryShowsCountsAndHistogram) {
  DedupReport r;
  r.documents = 100;
  r.exact_duplicates = 7;
  r.near_duplicates = 5;
  r.cluster_sizes = {{2, 4}, {3, 1}, {12, 1}, {15, 1}};
  const std::string text = FormatDedupSummary({{"CC-MAIN-2024-10", r}});
  EXPECT_NE(text.find("CC-MAIN-2024-10"), std::string::npos) << text;
  EXPECT_NE(text.find("88"), std::string::npos) << text;  // kept
  EXPECT_NE(text.find("2: 4"), std::string::npos) << text;
  EXPECT_NE(text.find("10–99: 2"), std::string::npos) << text;
}

}  // namespace
}  // namespace winnow::pipeline
