// LshIndex: layout, validation, persistence and the query API.
#include "pipeline/dedup/lsh_index.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/util/temp_dir.h"

namespace winnow::pipeline {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using winnow::testing::TempDir;

std::unique_ptr<LshIndex> OpenOrDie(const std::string& dir, LshIndexOptions options = {}) {
  auto index = LshIndex::Open(dir, options);
  EXPECT_TRUE(index.ok()) << index.status();
  return index.ok() ? std::move(*index) : nullptr;
}

std::map<std::string, std::string> Duplicates(LshIndex& index) {
  std::map<std::string, std::string> out;
  absl::Status status = index.ForEachDuplicate([&](std::string_view doc, std::string_view kept) {
    out.emplace(doc, kept);
    return true;
  });
  EXPECT_TRUE(status.ok()) << status;
  return out;
}

std::map<std::string, uint64_t> Clusters(LshIndex& index) {
  std::map<std::string, uint64_t> out;
  absl::Status status = index.ForEachCluster([&](std::string_view kept, uint64_t size) {
    out.emplace(kept, size);
    return true;
  });
  EXPECT_TRUE(status.ok()) << status;
  return out;
}

// Three bands: x and y share band 0, y and z band 2; w shares nothing.
void AddSmallGraph(LshIndex& index) {
  ASSERT_TRUE(index.Add("y", {1, 100, 7}).ok());
  ASSERT_TRUE(index.Add("x", {1, 200, 8}).ok());
  ASSERT_TRUE(index.Add("z", {2, 300, 7}).ok());
  ASSERT_TRUE(index.Add("w", {3, 400, 9}).ok());
}

TEST(LshIndex, CreatesManifestAndPartitionsAndKeepsThemOnReopen) {
  TempDir dir;
  LshIndexOptions options;
  options.num_partitions = 3;
  options.bands = 5;
  ASSERT_NE(OpenOrDie(dir.Sub("lsh"), options), nullptr);
  std::ifstream in(dir.Sub("lsh/MANIFEST"));
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json manifest = nlohmann::json::parse(text.str());
  EXPECT_EQ(manifest["format"], "winnow-lsh");
  EXPECT_EQ(manifest["num_partitions"], 3);
  EXPECT_EQ(manifest["bands"], 5);
  for (const char* part : {"0000", "0001", "0002"}) {
    EXPECT_TRUE(std::filesystem::is_directory(dir.Sub("lsh/") + part)) << part;
  }
  auto reopened = OpenOrDie(dir.Sub("lsh"));  // default options: 8 partitions, 14 bands
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->num_partitions(), 3);
  EXPECT_EQ(reopened->bands(), 5);
}

TEST(LshIndex, RejectsBadOptionsAndForeignDirs) {
  TempDir dir;
  LshIndexOptions options;
  options.bands = 0;
  EXPECT_THAT(LshIndex::Open(dir.Sub("a"), options).status().message(), HasSubstr("bands"));
  options = {};
  options.num_partitions = 0;
  EXPECT_THAT(LshIndex::Open(dir.Sub("a"), options).status().message(),
              HasSubstr("num_partitions"));
  options = {};
  options.create_if_missing = false;
  EXPECT_EQ(LshIndex::Open(dir.Sub("a"), options).status().code(), absl::StatusCode::kNotFound);
  std::filesystem::create_directories(dir.Sub("b"));
  std::ofstream(dir.Sub("b/other.txt")) << "not ours";
  const absl::Status foreign = LshIndex::Open(dir.Sub("b")).status();
  EXPECT_EQ(foreign.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(foreign.message(), HasSubstr(dir.Sub("b")));
}

TEST(LshIndex, RejectsWrongBandCountAndEmptyKey) {
  TempDir dir;
  LshIndexOptions options;
  options.bands = 3;
  auto index = OpenOrDie(dir.Sub("lsh"), options);
  EXPECT_EQ(index->Add("doc", {1, 2}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index->Add("doc", {1, 2, 3, 4}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index->Add("", {1, 2, 3}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(index->Add("doc", {1, 2, 3}).ok());
}

TEST(LshIndex, QueriesNeedAFinalizeAfterTheLastAdd) {
  TempDir dir;
  LshIndexOptions options;
  options.bands = 3;
  auto index = OpenOrDie(dir.Sub("lsh"), options);
  EXPECT_EQ(index->DuplicateOf("x").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(index->LastReport().status().code(), absl::StatusCode::kFailedPrecondition);
  AddSmallGraph(*index);
  ASSERT_TRUE(index->Finalize().ok());
  EXPECT_THAT(Duplicates(*index), ElementsAre(Pair("y", "x"), Pair("z", "x")));
  EXPECT_EQ(*index->DuplicateOf("z"), "x");
  EXPECT_EQ(*index->DuplicateOf("x"), std::nullopt);
  EXPECT_EQ(*index->DuplicateOf("never-added"), std::nullopt);

  // An Add invalidates the result, also across a reopen, until the next Finalize.
  ASSERT_TRUE(index->Add("v", {9, 9, 10}).ok());
  EXPECT_EQ(index->DuplicateOf("z").status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(index->Close().ok());
  index = OpenOrDie(dir.Sub("lsh"));
  EXPECT_EQ(index->DuplicateOf("z").status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(index->Add("u", {9, 0, 0}).ok());  // shares band 0 with v
  ASSERT_TRUE(index->Finalize().ok());
  EXPECT_THAT(Duplicates(*index), ElementsAre(Pair("v", "u"), Pair("y", "x"), Pair("z", "x")));
}

TEST(LshIndex, FinalizedStateSurvivesReopen) {
  TempDir dir;
  LshIndexOptions options;
  options.bands = 3;
  options.num_partitions = 2;
  FinalizeReport report;
  {
    auto index = OpenOrDie(dir.Sub("lsh"), options);
    AddSmallGraph(*index);
    ASSERT_TRUE(index->Finalize({}, &report).ok());
    ASSERT_TRUE(index->Close().ok());
  }
  auto index = OpenOrDie(dir.Sub("lsh"));
  EXPECT_THAT(Duplicates(*index), ElementsAre(Pair("y", "x"), Pair("z", "x")));
  EXPECT_THAT(Clusters(*index), ElementsAre(Pair("x", 3u)));
  EXPECT_EQ(*index->DuplicateOf("y"), "x");
  absl::StatusOr<FinalizeReport> last = index->LastReport();
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->ToJson(), report.ToJson());
  EXPECT_EQ(last->documents, 4u);
  EXPECT_EQ(last->duplicates, 2u);
  EXPECT_EQ(last->clusters, 1u);
}

TEST(LshIndex, AddsSurviveReopenWithAndWithoutWriteAheadLog) {
  for (bool wal : {true, false}) {
    TempDir dir;
    LshIndexOptions options;
    options.bands = 3;
    options.write_ahead_log = wal;
    {
      auto index = OpenOrDie(dir.Sub("lsh"), options);
      AddSmallGraph(*index);
    }  // the destructor closes: buffered Adds are written, memtables flushed without a WAL
    auto index = OpenOrDie(dir.Sub("lsh"), options);
    ASSERT_TRUE(index->Finalize().ok());
    EXPECT_THAT(Duplicates(*index), ElementsAre(Pair("y", "x"), Pair("z", "x"))) << wal;
  }
}

TEST(LshIndex, AddingADocumentAgainAddsTheUnionOfItsBands) {
  TempDir dir;
  LshIndexOptions options;
  options.bands = 2;
  auto index = OpenOrDie(dir.Sub("lsh"), options);
  ASSERT_TRUE(index->Add("b", {1, 2}).ok());
  ASSERT_TRUE(index->Add("b", {1, 2}).ok());  // the same again changes nothing
  ASSERT_TRUE(index->Add("c", {3, 4}).ok());
  ASSERT_TRUE(index->Add("a", {5, 6}).ok());
  ASSERT_TRUE(index->Add("c", {5, 7}).ok());  // now also shares band 0 with a
  FinalizeReport report;
  ASSERT_TRUE(index->Finalize({}, &report).ok());
  EXPECT_THAT(Duplicates(*index), ElementsAre(Pair("c", "a")));
  EXPECT_EQ(report.documents, 3u);
}

TEST(LshIndex, ExactIndexIsOneBandOfTextHashes) {
  TempDir dir;
  LshIndexOptions options;
  options.bands = 1;
  auto exact = OpenOrDie(dir.Sub("exact"), options);
  ASSERT_TRUE(exact->Add("doc-3", {0xabc}).ok());
  ASSERT_TRUE(exact->Add("doc-1", {0xabc}).ok());
  ASSERT_TRUE(exact->Add("doc-2", {0xdef}).ok());
  ASSERT_TRUE(exact->Add("doc-4", {0xabc}).ok());
  FinalizeReport report;
  ASSERT_TRUE(exact->Finalize({}, &report).ok());
  EXPECT_THAT(Duplicates(*exact), ElementsAre(Pair("doc-3", "doc-1"), Pair("doc-4", "doc-1")));
  EXPECT_THAT(report.cluster_sizes, ElementsAre(Pair(3u, 1u)));
}

TEST(LshIndex, ScansStopWhenTheCallbackSaysSo) {
  TempDir dir;
  LshIndexOptions options;
  options.bands = 1;
  auto index = OpenOrDie(dir.Sub("lsh"), options);
  for (const char* doc : {"a", "b", "c", "d", "e"}) ASSERT_TRUE(index->Add(doc, {1}).ok());
  ASSERT_TRUE(index->Finalize().ok());
  std::vector<std::string> seen;
  ASSERT_TRUE(index
                  ->ForEachDuplicate([&](std::string_view doc, std::string_view) {
                    seen.emplace_back(doc);
                    return seen.size() < 2;
                  })
                  .ok());
  EXPECT_THAT(seen, ElementsAre("b", "c"));
}

TEST(LshIndex, ClosedIndexRefusesCalls) {
  TempDir dir;
  auto index = OpenOrDie(dir.Sub("lsh"));
  ASSERT_TRUE(index->Close().ok());
  EXPECT_TRUE(index->Close().ok());
  EXPECT_EQ(index->Add("a", std::vector<uint64_t>(14, 1)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(index->Finalize().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(index->DuplicateOf("a").status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace winnow::pipeline
