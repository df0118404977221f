#include "pipeline/store/shard_store.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/convenience.h"
#include "rocksdb/db.h"
#include "tests/pipeline/store/store_test_util.h"

namespace winnow::pipeline {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MakeDoc;
using testing::TempDir;

std::unique_ptr<ShardStore> OpenOrDie(const std::string& dir, const StoreOptions& options = {}) {
  absl::StatusOr<std::unique_ptr<ShardStore>> store = ShardStore::Open(dir, options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

Stats KeptStats(int64_t kept) {
  Stats stats;
  stats.Add("read/records", kept + 1);
  stats.Add("write/kept", kept);
  stats.Observe("text/length", static_cast<double>(kept));
  return stats;
}

absl::Status CommitInput(ShardStore& store, const std::string& snapshot, const std::string& input,
                         const std::vector<uint64_t>& offsets) {
  auto writer = store.StartInput(snapshot, input);
  for (uint64_t offset : offsets) writer->Add(MakeDoc(snapshot, input, offset));
  return writer->Commit(KeptStats(static_cast<int64_t>(offsets.size())));
}

std::vector<Document> AllDocuments(ShardStore& store) {
  std::vector<Document> docs;
  EXPECT_TRUE(store
                  .ForEachDocument([&docs](const Document& doc) {
                    docs.push_back(doc);
                    return true;
                  })
                  .ok());
  return docs;
}

std::vector<std::string> Keys(const std::vector<Document>& docs) {
  std::vector<std::string> keys;
  for (const Document& doc : docs) keys.push_back(doc.key.Encode());
  return keys;
}

// Documents per shard, read straight from each shard's RocksDB (the store must be closed).
std::vector<int> DocumentsPerShard(const std::string& data_dir, int num_shards) {
  std::vector<int> counts;
  for (int i = 0; i < num_shards; ++i) {
    char name[8];
    std::snprintf(name, sizeof(name), "%04d", i);
    const std::string path = data_dir + "/shards/" + name;
    std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, {}}, {"documents", {}}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    const rocksdb::Status status =
        rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), path, families, &handles, &db);
    EXPECT_TRUE(status.ok()) << status.ToString();
    if (!status.ok()) return counts;
    int count = 0;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[1]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++count;
    it.reset();
    for (auto* handle : handles) db->DestroyColumnFamilyHandle(handle);
    delete db;
    counts.push_back(count);
  }
  return counts;
}

TEST(ShardStore, RoundTripsEveryDocumentFieldAcrossReopen) {
  TempDir dir;
  Document doc = MakeDoc("CC-MAIN-2024-22", "crawl-data/a.warc.gz", 123456789012345ull);
  doc.text = std::string("Grüße, 世界!\nline two\0with a NUL", 34);
  doc.metadata = {{"language", "de"},
                  {"language_score", 0.987654321},
                  {"token_count", 42},
                  {"big", 18446744073709551615ull},
                  {"negative", -7},
                  {"flags", {true, false, nullptr}},
                  {"nested", {{"a", {{"b", "c"}}}}}};
  {
    auto store = OpenOrDie(dir.path());
    ASSERT_NE(store, nullptr);
    auto writer = store->StartInput(doc.key.snapshot, doc.key.input);
    writer->Add(doc);
    ASSERT_TRUE(writer->Commit(KeptStats(1)).ok());
  }
  auto store = OpenOrDie(dir.path());
  ASSERT_NE(store, nullptr);
  const std::vector<Document> docs = AllDocuments(*store);
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].key.snapshot, doc.key.snapshot);
  EXPECT_EQ(docs[0].key.input, doc.key.input);
  EXPECT_EQ(docs[0].key.offset, doc.key.offset);
  EXPECT_EQ(docs[0].id, doc.id);
  EXPECT_EQ(docs[0].url, doc.url);
  EXPECT_EQ(docs[0].date, doc.date);
  EXPECT_EQ(docs[0].text, doc.text);
  EXPECT_EQ(docs[0].metadata, doc.metadata);
  EXPECT_EQ(docs[0].metadata["language_score"].get<double>(), 0.987654321);
  EXPECT_EQ(docs[0].metadata["big"].get<uint64_t>(), 18446744073709551615ull);
  EXPECT_EQ(*store->CountDocuments(), 1u);
}

TEST(ShardStore, RecommittingAnInputReplacesItsDocumentsAndStats) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(CommitInput(*store, "S", "other.warc.gz", {7}).ok());
  {
    auto writer = store->StartInput("S", "a.warc.gz");
    for (uint64_t offset : {10, 20, 30}) writer->Add(MakeDoc("S", "a.warc.gz", offset));
    writer->AddDropped(MakeDoc("S", "a.warc.gz", 15), "url", "domain");
    ASSERT_TRUE(writer->Commit(KeptStats(3)).ok());
  }
  EXPECT_TRUE(*store->HasInput("S", "a.warc.gz"));
  {
    auto writer = store->StartInput("S", "a.warc.gz");
    for (uint64_t offset : {20, 40}) writer->Add(MakeDoc("S", "a.warc.gz", offset, "new"));
    ASSERT_TRUE(writer->Commit(KeptStats(2)).ok());
  }
  std::vector<uint64_t> offsets;
  for (const Document& doc : AllDocuments(*store)) {
    if (doc.key.input == "a.warc.gz") {
      offsets.push_back(doc.key.offset);
      EXPECT_EQ(doc.text, "new");
    }
  }
  EXPECT_THAT(offsets, ElementsAre(20, 40));
  EXPECT_EQ(*store->CountDocuments(), 3u);  // 2 + the other input's 1
  int dropped = 0;
  ASSERT_TRUE(store
                  ->ForEachDropped([&](const Document&, std::string_view, std::string_view) {
                    ++dropped;
                    return true;
                  })
                  .ok());
  EXPECT_EQ(dropped, 0);
  absl::StatusOr<Stats> total = store->TotalStats();
  ASSERT_TRUE(total.ok());
  EXPECT_EQ(total->Count("write/kept"), 3);  // 2 + 1, not 3 + 2 + 1
  EXPECT_EQ(total->summaries().at("text/length").count, 2);
  absl::StatusOr<std::map<std::string, Stats>> inputs = store->InputStats();
  ASSERT_TRUE(inputs.ok());
  ASSERT_EQ(inputs->size(), 2u);
  EXPECT_EQ(inputs->at("S\ta.warc.gz").Count("write/kept"), 2);
  EXPECT_EQ(inputs->at("S\tother.warc.gz").Count("write/kept"), 1);

  // The replacement survives a restart (WAL replay keeps the batch's order).
  store.reset();
  store = OpenOrDie(dir.path());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->CountDocuments(), 3u);
  EXPECT_EQ(store->TotalStats()->Count("write/kept"), 3);
}

TEST(ShardStore, MergesInputsFromDifferentShardsInKeyOrder) {
  TempDir dir;
  const std::vector<std::string> inputs = {"f.warc.gz", "b.warc.gz", "d.warc.gz", "a.warc.gz",
                                           "e.warc.gz", "c.warc.gz", "g.warc.gz", "h.warc.gz"};
  {
    auto store = OpenOrDie(dir.path());
    ASSERT_NE(store, nullptr);
    for (const std::string& input : inputs) {
      ASSERT_TRUE(CommitInput(*store, "CC-MAIN-2024-10", input, {300, 5, 70000}).ok());
    }
    ASSERT_TRUE(CommitInput(*store, "CC-MAIN-2023-50", "z.warc.gz", {1}).ok());
    const std::vector<std::string> keys = Keys(AllDocuments(*store));
    ASSERT_EQ(keys.size(), 3 * inputs.size() + 1);
    EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
    EXPECT_EQ(std::adjacent_find(keys.begin(), keys.end()), keys.end());
    Document first;
    ASSERT_TRUE(DocumentKey::Decode(keys.front(), &first.key));
    EXPECT_EQ(first.key.snapshot, "CC-MAIN-2023-50");
    Document second;
    ASSERT_TRUE(DocumentKey::Decode(keys[1], &second.key));
    EXPECT_EQ(second.key.input, "a.warc.gz");
    EXPECT_EQ(second.key.offset, 5u);
  }
  const std::vector<int> per_shard = DocumentsPerShard(dir.path(), 4);
  ASSERT_EQ(per_shard.size(), 4u);
  EXPECT_GE(std::count_if(per_shard.begin(), per_shard.end(), [](int n) { return n > 0; }), 2);
  int sum = 0;
  for (int n : per_shard) sum += n;
  EXPECT_EQ(sum, 25);
}

TEST(ShardStore, ForEachDocumentStopsWhenTheCallbackSaysSo) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(CommitInput(*store, "S", "a", {1, 2, 3}).ok());
  ASSERT_TRUE(CommitInput(*store, "S", "b", {1, 2, 3}).ok());
  int seen = 0;
  ASSERT_TRUE(store->ForEachDocument([&seen](const Document&) { return ++seen < 4; }).ok());
  EXPECT_EQ(seen, 4);
}

TEST(ShardStore, CommitsConcurrentlyFromFourThreads) {
  TempDir dir;
  auto store = OpenOrDie(dir.path(), {.num_shards = 3});
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 4, kInputsPerThread = 10, kDocsPerInput = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kInputsPerThread; ++i) {
        const std::string input = "t" + std::to_string(t) + "-" + std::to_string(i) + ".warc.gz";
        auto writer = store->StartInput("S", input);
        for (int d = 0; d < kDocsPerInput; ++d) {
          writer->Add(MakeDoc("S", input, static_cast<uint64_t>(d) * 1000));
          if (d % 10 == 0) writer->AddDropped(MakeDoc("S", input, d * 1000 + 1), "pii", "x");
        }
        if (!writer->Commit(KeptStats(kDocsPerInput)).ok()) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(*store->CountDocuments(), uint64_t{kThreads * kInputsPerThread * kDocsPerInput});
  const std::vector<std::string> keys = Keys(AllDocuments(*store));
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  absl::StatusOr<Stats> total = store->TotalStats();
  ASSERT_TRUE(total.ok());
  EXPECT_EQ(total->Count("write/kept"), kThreads * kInputsPerThread * kDocsPerInput);
  EXPECT_EQ(store->InputStats()->size(), size_t{kThreads * kInputsPerThread});
}

TEST(ShardStore, KeepsAtMostTheConfiguredDroppedExamplesPerReason) {
  TempDir dir;
  auto store = OpenOrDie(dir.path(), {.max_dropped_examples_per_reason = 3});
  ASSERT_NE(store, nullptr);
  auto writer = store->StartInput("S", "a");
  uint64_t offset = 0;
  for (int i = 0; i < 10; ++i) writer->AddDropped(MakeDoc("S", "a", ++offset), "gopher", "short");
  for (int i = 0; i < 5; ++i) writer->AddDropped(MakeDoc("S", "a", ++offset), "url", "domain");
  Document one = MakeDoc("S", "a", ++offset, "dropped text");
  one.metadata = {{"language", "fr"}};
  writer->AddDropped(one, "language", "low_score");
  ASSERT_TRUE(writer->Commit(Stats()).ok());

  std::map<std::string, int> per_reason;
  ASSERT_TRUE(store
                  ->ForEachDropped(
                      [&](const Document& doc, std::string_view filter, std::string_view reason) {
                        ++per_reason[std::string(filter) + "/" + std::string(reason)];
                        if (filter == "language") {
                          EXPECT_EQ(doc.text, "dropped text");
                          EXPECT_EQ(doc.metadata["language"], "fr");
                          EXPECT_EQ(doc.key.offset, 16u);
                        }
                        return true;
                      })
                  .ok());
  EXPECT_EQ(per_reason, (std::map<std::string, int>{
                            {"gopher/short", 3}, {"url/domain", 3}, {"language/low_score", 1}}));
  EXPECT_EQ(*store->CountDocuments(), 0u);
}

TEST(ShardStore, DroppedExampleLimitZeroKeepsNoneAndMinusOneKeepsAll) {
  for (int limit : {0, -1}) {
    TempDir dir;
    auto store = OpenOrDie(dir.path(), {.max_dropped_examples_per_reason = limit});
    ASSERT_NE(store, nullptr);
    auto writer = store->StartInput("S", "a");
    for (uint64_t i = 0; i < 100; ++i) writer->AddDropped(MakeDoc("S", "a", i), "c4", "lorem");
    ASSERT_TRUE(writer->Commit(Stats()).ok());
    int n = 0;
    ASSERT_TRUE(store
                    ->ForEachDropped([&n](const Document&, std::string_view, std::string_view) {
                      ++n;
                      return true;
                    })
                    .ok());
    EXPECT_EQ(n, limit == 0 ? 0 : 100) << "limit " << limit;
  }
}

TEST(ShardStore, ReopeningKeepsTheRecordedShardCount) {
  TempDir dir;
  {
    auto store = OpenOrDie(dir.path(), {.num_shards = 3});
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 12; ++i) ASSERT_TRUE(CommitInput(*store, "S", std::to_string(i), {1}).ok());
  }
  auto store = OpenOrDie(dir.path(), {.num_shards = 8});
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->num_shards(), 3);
  EXPECT_EQ(*store->CountDocuments(), 12u);
  for (int i = 0; i < 12; ++i) EXPECT_TRUE(*store->HasInput("S", std::to_string(i))) << i;
  EXPECT_FALSE(*store->HasInput("S", "12"));
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("shards/0003")));
}

TEST(ShardStore, RefusesAFileAsDataDir) {
  TempDir dir;
  const std::string file = dir.Sub("plain.txt");
  std::ofstream(file) << "hello";
  absl::StatusOr<std::unique_ptr<ShardStore>> store = ShardStore::Open(file);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr(file));
  EXPECT_THAT(store.status().message(), HasSubstr("not a directory"));
}

TEST(ShardStore, RefusesADirectoryThatIsNotAWinnowDataDir) {
  TempDir dir;
  std::ofstream(dir.Sub("thesis.tex")) << "\\documentclass{article}";
  absl::StatusOr<std::unique_ptr<ShardStore>> store = ShardStore::Open(dir.path());
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr(dir.path()));
  EXPECT_THAT(store.status().message(), HasSubstr("not a winnow data dir"));
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("shards")));

  // shards/ without a MANIFEST, and a MANIFEST that is not ours.
  std::filesystem::create_directories(dir.Sub("other/shards/0000"));
  store = ShardStore::Open(dir.Sub("other"));
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr(dir.Sub("other/shards/MANIFEST")));
  std::ofstream(dir.Sub("other/shards/MANIFEST")) << "MANIFEST-000001";
  store = ShardStore::Open(dir.Sub("other"));
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr("not a winnow shard manifest"));
}

TEST(ShardStore, CreatesShardsBesideASavedConfigButNotWhenAskedOnlyToOpen) {
  TempDir dir;
  std::ofstream(dir.Sub("config.yaml")) << "filters: {}\n";
  absl::StatusOr<std::unique_ptr<ShardStore>> store =
      ShardStore::Open(dir.path(), {.create_if_missing = false});
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(absl::IsNotFound(store.status())) << store.status();
  EXPECT_NE(OpenOrDie(dir.path()), nullptr);
  EXPECT_TRUE(std::filesystem::exists(dir.Sub("shards/MANIFEST")));
  EXPECT_TRUE(std::filesystem::is_directory(dir.Sub("shards/0003")));
}

TEST(ShardStore, ReportsAMissingShardAndAnExtraOne) {
  TempDir dir;
  ASSERT_NE(OpenOrDie(dir.path(), {.num_shards = 2}), nullptr);
  std::filesystem::create_directories(dir.Sub("shards/0002"));
  absl::StatusOr<std::unique_ptr<ShardStore>> store = ShardStore::Open(dir.path());
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr(dir.Sub("shards/0002")));
  std::filesystem::remove_all(dir.Sub("shards/0002"));
  std::filesystem::remove_all(dir.Sub("shards/0001"));
  store = ShardStore::Open(dir.path());
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr(dir.Sub("shards/0001")));
}

TEST(ShardStore, CommitFailsForADocumentOfAnotherInput) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  ASSERT_NE(store, nullptr);
  auto writer = store->StartInput("S", "a");
  writer->Add(MakeDoc("S", "a", 1));
  writer->Add(MakeDoc("S", "b", 2));
  const absl::Status status = writer->Commit(KeptStats(2));
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_FALSE(*store->HasInput("S", "a"));
  EXPECT_EQ(*store->CountDocuments(), 0u);
  EXPECT_FALSE(store->StartInput(std::string("S\0x", 3), "a")->Commit(Stats()).ok());
}

TEST(ShardStore, WriterDestroyedWithoutCommitWritesNothing) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  ASSERT_NE(store, nullptr);
  {
    auto writer = store->StartInput("S", "a");
    writer->Add(MakeDoc("S", "a", 1));
  }
  EXPECT_FALSE(*store->HasInput("S", "a"));
  EXPECT_EQ(*store->CountDocuments(), 0u);
  auto writer = store->StartInput("S", "a");
  ASSERT_TRUE(writer->Commit(Stats()).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(writer->Commit(Stats())));
  EXPECT_TRUE(*store->HasInput("S", "a"));  // an input with no documents is committed too
}

TEST(ShardStore, ReadOnlyStoreReadsButDoesNotCommit) {
  TempDir dir;
  {
    auto store = OpenOrDie(dir.path());
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(CommitInput(*store, "S", "a", {1, 2}).ok());
  }
  auto store = OpenOrDie(dir.path(), {.read_only = true});
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->CountDocuments(), 2u);
  EXPECT_TRUE(*store->HasInput("S", "a"));
  EXPECT_TRUE(absl::IsFailedPrecondition(store->StartInput("S", "b")->Commit(Stats())));
  EXPECT_FALSE(ShardStore::Open(dir.Sub("nowhere"), {.read_only = true}).ok());
}

TEST(ShardStore, WritesMergedStatsJson) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(CommitInput(*store, "S", "a", {1, 2}).ok());
  ASSERT_TRUE(CommitInput(*store, "S", "b", {1, 2, 3}).ok());
  ASSERT_TRUE(store->WriteStatsJson().ok());
  std::ifstream in(dir.Sub("stats.json"));
  const nlohmann::json json = nlohmann::json::parse(in, nullptr, false);
  ASSERT_FALSE(json.is_discarded());
  EXPECT_EQ(json["inputs"], 2);
  EXPECT_EQ(json["num_shards"], 4);
  const Stats stats = Stats::FromJson(json);
  EXPECT_EQ(stats.Count("write/kept"), 5);
  EXPECT_EQ(stats.Count("read/records"), 7);
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("stats.json.tmp")));
}

TEST(ShardStore, CompressesWithZstdAtTheBottomAndLz4AboveWhenRocksDbHasThem) {
  const std::vector<rocksdb::CompressionType> supported = rocksdb::GetSupportedCompressions();
  const auto has = [&](rocksdb::CompressionType type) {
    return std::find(supported.begin(), supported.end(), type) != supported.end();
  };
  if (!has(rocksdb::kZSTD) || !has(rocksdb::kLZ4Compression)) {
    GTEST_SKIP() << "this librocksdb lacks zstd or lz4";
  }
  for (bool compress : {true, false}) {
    TempDir dir;
    ASSERT_NE(OpenOrDie(dir.path(), {.num_shards = 1, .compress = compress}), nullptr);
    std::string options_text;
    for (const auto& entry : std::filesystem::directory_iterator(dir.Sub("shards/0000"))) {
      if (entry.path().filename().string().rfind("OPTIONS-", 0) != 0) continue;
      std::ifstream in(entry.path());
      options_text.assign(std::istreambuf_iterator<char>(in), {});
    }
    // The "documents" family's section, up to the next family.
    const size_t start = options_text.find("[CFOptions \"documents\"]");
    ASSERT_NE(start, std::string::npos);
    const std::string section =
        options_text.substr(start, options_text.find("[TableOptions", start) - start);
    if (compress) {
      EXPECT_THAT(section, HasSubstr("bottommost_compression=kZSTD"));
      EXPECT_THAT(section, HasSubstr("\n  compression=kLZ4Compression"));
    } else {
      EXPECT_THAT(section, HasSubstr("\n  compression=kNoCompression"));
    }
  }
}

}  // namespace
}  // namespace winnow::pipeline
