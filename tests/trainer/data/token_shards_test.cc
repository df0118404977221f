// Token shards from a real run: the llm.c header, end-of-text before every document, documents in
// key order split exactly at shard boundaries, uint32 for large vocabularies, the manifest, and
// byte-identical output on a second export.
#include "trainer/data/token_shards.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "nlohmann/json.hpp"
#include "pipeline/run/runner.h"
#include "tests/util/files.h"
#include "tests/util/temp_dir.h"

namespace winnow::trainer {
namespace {

using winnow::testing::ReadFile;
using winnow::testing::TempDir;

class TokenShardsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    pipeline::RunOptions options;
    options.inputs = {std::string(WINNOW_SHARED_DIR) + "/data/commoncrawl"};
    options.data_dir = dir_->path() + "/data";
    options.progress = false;
    options.threads = 2;
    pipeline::RunConfig config;  // no filters: every extracted page is a document
    std::vector<std::unique_ptr<pipeline::Filter>> filters;
    ASSERT_TRUE(pipeline::Run(options, config, filters).ok());
  }
  static void TearDownTestSuite() { delete dir_; }

  std::unique_ptr<pipeline::ShardStore> Store() {
    pipeline::StoreOptions options;
    options.read_only = true;
    options.create_if_missing = false;
    auto store = pipeline::ShardStore::Open(dir_->path() + "/data", options);
    EXPECT_TRUE(store.ok()) << store.status();
    return std::move(*store);
  }

  static TempDir* dir_;
};

TempDir* TokenShardsTest::dir_ = nullptr;

TEST_F(TokenShardsTest, ShardsHoldEveryDocumentAfterAnEndOfTextInKeyOrder) {
  auto tokenizer = Tokenizer::Load("gpt2");
  ASSERT_TRUE(tokenizer.ok());
  auto store = Store();
  // The expected stream: EOT + tokens of each kept document, in key order.
  std::vector<uint32_t> expected;
  int64_t documents = 0;
  ASSERT_TRUE(store
                  ->ForEachDocument([&](const pipeline::Document& doc) {
                    expected.push_back(50256);
                    for (TokenId id : (*tokenizer)->EncodeOrdinary(doc.text))
                      expected.push_back(id);
                    ++documents;
                    return true;
                  })
                  .ok());
  ASSERT_GT(documents, 10);
  TempDir out;
  TokenShardOptions options;
  options.name = "cc";
  options.val_tokens = 1000;
  options.tokens_per_shard = 2500;
  options.threads = 2;
  auto summary = ExportTokenShards(*store, **tokenizer, out.path(), options);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->documents, documents);
  EXPECT_EQ(summary->tokens, static_cast<int64_t>(expected.size()));

  std::vector<uint32_t> got;
  for (int64_t shard = 0; shard < summary->shards; ++shard) {
    char name[64];
    std::snprintf(name, sizeof(name), "cc_%s_%06lld.bin", shard == 0 ? "val" : "train",
                  static_cast<long long>(shard));
    const std::string path = out.path() + "/" + name;
    const std::string bytes = ReadFile(path);
    ASSERT_GE(bytes.size(), 1024u) << path;
    int32_t header[3];
    std::memcpy(header, bytes.data(), sizeof(header));
    EXPECT_EQ(header[0], 20240520);
    EXPECT_EQ(header[1], 1);
    EXPECT_EQ(bytes.size(), 1024u + 2u * static_cast<size_t>(header[2])) << path;
    const int64_t capacity = shard == 0 ? 1000 : 2500;
    if (shard + 1 < summary->shards) {
      EXPECT_EQ(header[2], capacity) << path;
    }
    auto tokens = ReadTokenShard(path);
    ASSERT_TRUE(tokens.ok()) << tokens.status();
    got.insert(got.end(), tokens->begin(), tokens->end());
  }
  EXPECT_EQ(got, expected);

  const nlohmann::json manifest = nlohmann::json::parse(ReadFile(out.path() + "/manifest.json"));
  EXPECT_EQ(manifest["tokens"], expected.size());
  EXPECT_EQ(manifest["dtype"], "uint16");
  EXPECT_EQ(manifest["eot"], 50256);
  EXPECT_EQ(manifest["shards"].size(), static_cast<size_t>(summary->shards));
  EXPECT_EQ(manifest["shards"][0]["split"], "val");

  // Deterministic: the same bytes again, with 1 thread; stale shards of a longer export go.
  const std::string first = ReadFile(out.path() + "/cc_train_000001.bin");
  std::ofstream(out.path() + "/cc_train_000999.bin") << "stale";
  options.threads = 1;
  ASSERT_TRUE(ExportTokenShards(*store, **tokenizer, out.path(), options).ok());
  EXPECT_EQ(ReadFile(out.path() + "/cc_train_000001.bin"), first);
  EXPECT_FALSE(std::filesystem::exists(out.path() + "/cc_train_000999.bin"));
}

TEST_F(TokenShardsTest, LargeVocabulariesWriteUint32) {
  auto tokenizer = Tokenizer::Load("cl100k_base");
  ASSERT_TRUE(tokenizer.ok());
  auto store = Store();
  TempDir out;
  TokenShardOptions options;
  options.val_tokens = 0;  // no validation shard: train shards from 0
  auto summary = ExportTokenShards(*store, **tokenizer, out.path(), options);
  ASSERT_TRUE(summary.ok()) << summary.status();
  const std::string bytes = ReadFile(out.path() + "/winnow_train_000000.bin");
  int32_t header[3];
  std::memcpy(header, bytes.data(), sizeof(header));
  EXPECT_EQ(header[0], 20240801);
  EXPECT_EQ(header[1], 7);
  EXPECT_EQ(bytes.size(), 1024u + 4u * static_cast<size_t>(header[2]));
  auto tokens = ReadTokenShard(out.path() + "/winnow_train_000000.bin");
  ASSERT_TRUE(tokens.ok());
  EXPECT_EQ(tokens->front(), 100257u);
}

TEST(TokenShards, ACorruptShardIsReportedNotMisread) {
  TempDir dir;
  std::ofstream(dir.path() + "/bad.bin") << "short";
  EXPECT_FALSE(ReadTokenShard(dir.path() + "/bad.bin").ok());
  EXPECT_FALSE(ReadTokenShard(dir.path() + "/missing.bin").ok());
}

}  // namespace
}  // namespace winnow::trainer
