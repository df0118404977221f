#include "pipeline/run/runner.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "pipeline/run/report.h"
#include "pipeline/store/shard_store.h"
#include "tests/util/temp_dir.h"

namespace winnow::pipeline {
namespace {

namespace fs = std::filesystem;

const std::string kData = std::string(WINNOW_SHARED_DIR) + "/data";

using winnow::testing::TempDir;

RunOptions Options(std::vector<std::string> inputs, const std::string& data_dir) {
  RunOptions o;
  o.inputs = std::move(inputs);
  o.data_dir = data_dir;
  o.threads = 2;
  o.progress = false;
  return o;
}

// A filter that drops documents whose text is shorter than a bound, to exercise the filter path.
class ShortText final : public Filter {
 public:
  std::string_view name() const override { return "short"; }
  Verdict Check(Document* doc) const override {
    doc->metadata["chars"] = doc->text.size();
    return doc->text.size() < 2000 ? Verdict::Drop("too_short") : Verdict::Keep();
  }
};

TEST(Runner, EveryRecordIsAccountedForAndPerInputStatsAddUpToTheTotal) {
  TempDir dir;
  RunConfig config;
  std::vector<std::unique_ptr<Filter>> filters;
  absl::StatusOr<RunReport> report =
      pipeline::Run(Options({kData + "/commoncrawl"}, dir.path()), config, filters);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->failed_inputs.empty());
  ASSERT_EQ(report->per_input.size(), 5u);  // 3 WARC and 2 WET files (WAT files hold no pages)
  Stats merged;
  for (const auto& [input, stats] : report->per_input) {
    merged.Merge(stats);
    const Outcomes o = OutcomesOf(stats);
    EXPECT_EQ(o.skipped + o.damaged + o.dropped + o.filtered + o.kept, o.records) << input;
  }
  EXPECT_EQ(merged.counters(), report->total.counters());

  auto store = ShardStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  auto stored = (*store)->TotalStats();
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->counters(), report->total.counters());
  auto count = (*store)->CountDocuments();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(static_cast<int64_t>(*count), report->total.Count("write/kept"));
}

TEST(Runner, StoresDocumentsWithIdUrlDateSnapshotAndText) {
  TempDir dir;
  std::vector<std::unique_ptr<Filter>> filters;
  auto report =
      pipeline::Run(Options({kData + "/commoncrawl/CC-MAIN-2020-34-excerpt.warc.gz"}, dir.path()),
                    RunConfig{}, filters);
  ASSERT_TRUE(report.ok()) << report.status();
  auto store = ShardStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  int docs = 0;
  bool saw_cyrillic = false;
  ASSERT_TRUE((*store)
                  ->ForEachDocument([&](const Document& d) {
                    ++docs;
                    EXPECT_EQ(d.key.snapshot, "CC-MAIN-2020-34");
                    EXPECT_EQ(d.id.rfind("<urn:uuid:", 0), 0u) << d.id;
                    EXPECT_EQ(d.url.rfind("http", 0), 0u) << d.url;
                    EXPECT_EQ(d.date.rfind("2020-", 0), 0u) << d.date;
                    EXPECT_FALSE(d.text.empty());
                    // "и" (U+0438) is the commonest Cyrillic letter: the windows-1251 pages
                    // decoded.
                    if (d.text.find("\xD0\xB8") != std::string::npos) saw_cyrillic = true;
                    return true;
                  })
                  .ok());
  EXPECT_GT(docs, 5);
  EXPECT_TRUE(saw_cyrillic);
}

TEST(Runner, FilterDropsAreCountedUnderTheFilterAndKeptAsExamples) {
  TempDir dir;
  std::vector<std::unique_ptr<Filter>> filters;
  filters.push_back(std::make_unique<ShortText>());
  auto report =
      pipeline::Run(Options({kData + "/commoncrawl/CC-MAIN-2020-34-excerpt.warc.gz"}, dir.path()),
                    RunConfig{}, filters);
  ASSERT_TRUE(report.ok()) << report.status();
  const Stats& t = report->total;
  EXPECT_GT(t.Count("short/dropped/too_short"), 0);
  EXPECT_EQ(t.Count("short/dropped/too_short") + t.Count("short/kept"), t.Count("extract/kept"));
  EXPECT_EQ(t.Count("short/kept"), t.Count("write/kept"));
  auto store = ShardStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  int examples = 0;
  ASSERT_TRUE((*store)
                  ->ForEachDropped([&](const Document& d, std::string_view f, std::string_view r) {
                    EXPECT_EQ(f, "short");
                    EXPECT_EQ(r, "too_short");
                    EXPECT_TRUE(d.metadata.contains("chars"));
                    ++examples;
                    return true;
                  })
                  .ok());
  EXPECT_GT(examples, 0);
}

TEST(Runner, SecondRunSkipsStoredInputsAndRedoReplacesThem) {
  TempDir dir;
  std::vector<std::unique_ptr<Filter>> filters;
  RunOptions options =
      Options({kData + "/commoncrawl/CC-MAIN-2020-34-excerpt.warc.gz"}, dir.path());
  auto first = pipeline::Run(options, RunConfig{}, filters);
  ASSERT_TRUE(first.ok());
  auto second = pipeline::Run(options, RunConfig{}, filters);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->skipped_inputs.size(), 1u);
  options.redo = true;
  auto third = pipeline::Run(options, RunConfig{}, filters);
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->skipped_inputs.empty());
  auto store = ShardStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  auto total = (*store)->TotalStats();
  ASSERT_TRUE(total.ok());
  EXPECT_EQ(total->counters(), first->total.counters());
  EXPECT_EQ(static_cast<int64_t>(*(*store)->CountDocuments()), first->total.Count("write/kept"));
}

TEST(Runner, DamagedFilesAreCountedAndTheRunGoesOn) {
  TempDir dir;
  std::vector<std::unique_ptr<Filter>> filters;
  auto report = pipeline::Run(Options({kData + "/warc-edge"}, dir.path()), RunConfig{}, filters);
  ASSERT_TRUE(report.ok()) << report.status();
  for (const auto& [input, error] : report->failed_inputs) ADD_FAILURE() << input << ": " << error;
  EXPECT_GT(report->total.CountPrefix("read/damaged/"), 0);
  EXPECT_GT(report->total.Count("write/kept"), 0);
  EXPECT_GT(report->total.Count("read/skipped/revisit"), 100);
}

TEST(Runner, LimitCapsTheNumberOfInputFiles) {
  TempDir dir;
  std::vector<std::unique_ptr<Filter>> filters;
  RunOptions options = Options({kData + "/commoncrawl"}, dir.path());
  options.limit = 2;
  auto report = pipeline::Run(options, RunConfig{}, filters);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->per_input.size(), 2u);
}

TEST(Runner, NoInputIsAnError) {
  TempDir dir;
  std::vector<std::unique_ptr<Filter>> filters;
  auto report = pipeline::Run(Options({}, dir.path()), RunConfig{}, filters);
  EXPECT_FALSE(report.ok());
}

}  // namespace
}  // namespace winnow::pipeline

namespace winnow::pipeline {
namespace {

TEST(Runner, StatsOfTwoPartialRunsAddUpToTheWholeRun) {
  TempDir a, b, whole;
  std::vector<std::unique_ptr<Filter>> filters;
  const std::string first = kData + "/commoncrawl/CC-MAIN-2020-34-excerpt.warc.gz";
  const std::string second = kData + "/warc-edge/pywb-iana.warc.gz";
  auto part_a = pipeline::Run(Options({first}, a.path()), RunConfig{}, filters);
  auto part_b = pipeline::Run(Options({second}, b.path()), RunConfig{}, filters);
  auto all = pipeline::Run(Options({first, second}, whole.path()), RunConfig{}, filters);
  ASSERT_TRUE(part_a.ok() && part_b.ok() && all.ok());
  auto store_a = ShardStore::Open(a.path());
  auto store_b = ShardStore::Open(b.path());
  auto store_whole = ShardStore::Open(whole.path());
  ASSERT_TRUE(store_a.ok() && store_b.ok() && store_whole.ok());
  Stats merged = *(*store_a)->TotalStats();
  merged.Merge(*(*store_b)->TotalStats());
  const Stats total = *(*store_whole)->TotalStats();
  EXPECT_EQ(merged.counters(), total.counters());
  const Summary& m = merged.summaries().at("extract/chars");
  const Summary& t = total.summaries().at("extract/chars");
  EXPECT_EQ(m.count, t.count);
  EXPECT_NEAR(m.mean, t.mean, 1e-9 * t.mean);
  EXPECT_NEAR(m.variance(), t.variance(), 1e-6 * t.variance());
}

}  // namespace
}  // namespace winnow::pipeline

namespace winnow::pipeline {
namespace {

// A URL-only filter: runs before extraction.
class NoZeroHosts final : public Filter {
 public:
  std::string_view name() const override { return "zero"; }
  bool UrlOnly() const override { return true; }
  Verdict Check(Document* doc) const override {
    EXPECT_TRUE(doc->text.empty()) << "a URL-only filter must run before extraction";
    return doc->url.find("://0") != std::string::npos ? Verdict::Drop("zero_host")
                                                      : Verdict::Keep();
  }
};

TEST(Runner, UrlOnlyFiltersRunBeforeExtractionAndEveryRecordIsStillCountedOnce) {
  TempDir dir;
  std::vector<std::unique_ptr<Filter>> filters;
  filters.push_back(std::make_unique<NoZeroHosts>());
  filters.push_back(std::make_unique<ShortText>());
  auto report =
      pipeline::Run(Options({kData + "/commoncrawl/CC-MAIN-2020-34-excerpt.warc.gz"}, dir.path()),
                    RunConfig{}, filters);
  ASSERT_TRUE(report.ok()) << report.status();
  const Stats& t = report->total;
  const Outcomes o = OutcomesOf(t);
  EXPECT_GT(t.Count("zero/dropped/zero_host"), 0);
  EXPECT_EQ(o.skipped + o.damaged + o.dropped + o.filtered + o.kept, o.records);
  // Pages the URL filter kept were extracted (or dropped by extraction).
  EXPECT_EQ(t.Count("zero/kept"), t.Count("extract/kept") + t.CountPrefix("extract/dropped/"));
  EXPECT_EQ(t.Count("short/kept") + t.Count("short/dropped/too_short"), t.Count("extract/kept"));
}

}  // namespace
}  // namespace winnow::pipeline
