// Deduplicator: exact before near, every duplicate naming a kept document, cluster listing, and
// a result that depends on neither the order of the documents nor the number of threads.
#include "pipeline/dedup/deduplicator.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/util/temp_dir.h"

namespace winnow::pipeline {
namespace {

using ::testing::HasSubstr;
using winnow::testing::TempDir;

struct Doc {
  std::string key, text;
};

std::string Words(uint64_t seed, int n) {
  std::mt19937_64 random(seed);
  std::string out;
  for (int i = 0; i < n; ++i) {
    if (!out.empty()) out += ' ';
    // Letters only: MinHash normalization maps digits to "0".
    uint64_t v = random() % 1000000;
    out += 'w';
    for (int i = 0; i < 4; ++i, v /= 26) out += static_cast<char>('a' + v % 26);
  }
  return out;
}

// Families of documents: an original, exact copies (case and spacing changed), near copies (one
// word in 200 changed) and unrelated documents.
std::vector<Doc> Corpus() {
  std::vector<Doc> docs;
  for (int f = 0; f < 20; ++f) {
    const std::string base = Words(1000 + f, 400);
    const std::string prefix = "f" + std::to_string(100 + f);
    docs.push_back({prefix + "/a", base});
    if (f % 2 == 0) {
      std::string upper = base;
      for (char& c : upper) c = c == 'w' ? 'W' : c;
      docs.push_back({prefix + "/b", "  " + upper + "\n"});
    }
    if (f % 3 == 0) {
      std::string near = base;
      near.replace(0, near.find(' '), "changed");
      docs.push_back({prefix + "/c", near});
      // An exact copy of the near copy, sorted before the original: still one cluster.
      docs.push_back({prefix + "/0", near + " "});
    }
  }
  for (int u = 0; u < 30; ++u) docs.push_back({"u" + std::to_string(100 + u), Words(u, 300)});
  docs.push_back({"short1", "too few words"});
  docs.push_back({"short2", "too few words"});
  return docs;
}

struct Result {
  std::map<std::string, std::pair<std::string, std::string>> duplicates;  // key → (kind, kept)
  nlohmann::json report;
};

Result Dedup(std::vector<Doc> docs, int threads, uint64_t shuffle_seed, int partitions = 3) {
  if (shuffle_seed != 0) {
    std::mt19937_64 random(shuffle_seed);
    std::shuffle(docs.begin(), docs.end(), random);
  }
  TempDir dir;
  DedupOptions options;
  options.num_partitions = partitions;
  options.memory_mib = 16;
  options.threads = threads;
  auto dedup = Deduplicator::Create(dir.path() + "/work", options);
  EXPECT_TRUE(dedup.ok()) << dedup.status();
  const auto pass = [&](auto add) {
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        for (size_t i = t; i < docs.size(); i += threads) {
          EXPECT_TRUE(add(docs[i]).ok());
        }
      });
    }
    for (auto& w : workers) w.join();
  };
  pass([&](const Doc& d) { return (*dedup)->AddExact(d.key, d.text); });
  EXPECT_TRUE((*dedup)->FinishExact().ok());
  pass([&](const Doc& d) { return (*dedup)->AddNear(d.key, d.text); });
  EXPECT_TRUE((*dedup)->FinishNear().ok());
  Result result;
  EXPECT_TRUE(
      (*dedup)
          ->ForEachDuplicate([&](std::string_view key, const Duplicate& d) {
            result.duplicates[std::string(key)] = {std::string(DuplicateKindName(d.kind)), d.kept};
            return true;
          })
          .ok());
  result.report = (*dedup)->report().ToJson();
  result.report.erase("exact_seconds");
  result.report.erase("near_seconds");
  EXPECT_TRUE((*dedup)->Cleanup().ok());
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/work"));
  return result;
}

TEST(Deduplicator, ExactCopiesFirstThenNearCopiesEachPointingToTheKeptDocument) {
  const Result r = Dedup(Corpus(), 1, 0);
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(r.duplicates.at("f100/b"), P("exact", "f100/0"));  // its text's copy is a near dup
  EXPECT_EQ(r.duplicates.at("f100/a"), P("near", "f100/0"));
  EXPECT_EQ(r.duplicates.at("f100/c"), P("exact", "f100/0"));
  EXPECT_EQ(r.duplicates.at("f102/b"), P("exact", "f102/a"));
  EXPECT_FALSE(r.duplicates.contains("f102/a"));
  EXPECT_FALSE(r.duplicates.contains("f101/a"));
  EXPECT_EQ(r.duplicates.at("short2"), P("exact", "short1"));
  for (const auto& [key, dup] : r.duplicates) {
    EXPECT_EQ(key.substr(0, 4), dup.second.substr(0, 4)) << key << " is not from " << dup.second;
    EXPECT_FALSE(r.duplicates.contains(dup.second)) << dup.second << " is kept and a duplicate";
  }
  // Families: 10 with b (exact), 7 with c and 0 (c exact of 0, a near of 0). Short: 1 exact.
  EXPECT_EQ(r.report["exact_duplicates"], 10 + 7 + 1);
  EXPECT_EQ(r.report["exact_clusters"], 10 + 7 + 1);
  EXPECT_EQ(r.report["near_duplicates"], 7);
  EXPECT_EQ(r.report["near_clusters"], 7);
  // Final clusters: f0,f6,f12,f18 have a,b,c,0 (4); f3,f9,f15 a,c,0 (3); other even ones a,b
  // (2); the short pair (2).
  EXPECT_EQ(r.report["cluster_sizes"], nlohmann::json({{"2", 6 + 1}, {"3", 3}, {"4", 4}}));
  EXPECT_EQ(r.report["documents"], Corpus().size());
}

TEST(Deduplicator, SameResultForAnyOrderThreadsAndPartitions) {
  const Result reference = Dedup(Corpus(), 1, 0);
  for (const int threads : {2, 8}) {
    for (const uint64_t seed : {0u, 7u, 42u}) {
      const Result r = Dedup(Corpus(), threads, seed, threads == 2 ? 1 : 5);
      EXPECT_EQ(r.duplicates, reference.duplicates) << threads << " threads, seed " << seed;
      EXPECT_EQ(r.report, reference.report) << threads << " threads, seed " << seed;
    }
  }
}

TEST(Deduplicator, ClustersStreamKeptFirstThenMembersInKeyOrder) {
  TempDir dir;
  DedupOptions options;
  options.memory_mib = 16;
  auto dedup = Deduplicator::Create(dir.path() + "/w", options);
  ASSERT_TRUE(dedup.ok());
  const std::string text = Words(5, 100);
  for (const char* key : {"k3", "k1", std::string("k\0z", 3).c_str(), "k2"}) {
    ASSERT_TRUE((*dedup)->AddExact(key, text).ok());
  }
  ASSERT_TRUE((*dedup)->AddExact(std::string("k\0a", 3), text).ok());  // NUL inside a key
  ASSERT_TRUE((*dedup)->FinishExact().ok());
  ASSERT_TRUE((*dedup)->FinishNear().ok());
  std::vector<std::string> seen;
  ASSERT_TRUE((*dedup)
                  ->ForEachCluster(
                      [&](std::string_view kept, uint64_t size) {
                        seen.push_back("begin " + std::string(kept) + " " + std::to_string(size));
                        return true;
                      },
                      [&](std::string_view key, const Duplicate* d) {
                        seen.push_back(std::string(key) + (d ? " dup" : " kept"));
                        return true;
                      })
                  .ok());
  // "k" (from the C string "k\0z") is the smallest key.
  EXPECT_EQ(seen, (std::vector<std::string>{"begin k 5", "k kept", std::string("k\0a dup", 7),
                                            "k1 dup", "k2 dup", "k3 dup"}));
}

TEST(Deduplicator, RefusesAForeignNonEmptyWorkDirAndBadOptions) {
  TempDir dir;
  std::ofstream(dir.path() + "/precious.txt") << "keep me";
  auto dedup = Deduplicator::Create(dir.path(), DedupOptions{});
  ASSERT_FALSE(dedup.ok());
  EXPECT_THAT(std::string(dedup.status().message()), HasSubstr("not a dedup work dir"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/precious.txt"));

  DedupOptions bad;
  bad.minhash.bands = 0;
  EXPECT_FALSE(Deduplicator::Create(dir.path() + "/w", bad).ok());
  bad = DedupOptions{};
  bad.num_partitions = 0;
  EXPECT_THAT(std::string(Deduplicator::Create(dir.path() + "/w", bad).status().message()),
              HasSubstr("num_partitions"));
}

TEST(Deduplicator, ReusesItsOwnLeftoverWorkDir) {
  TempDir dir;
  {
    auto first = Deduplicator::Create(dir.path() + "/w", DedupOptions{});
    ASSERT_TRUE(first.ok());
    ASSERT_TRUE((*first)->AddExact("a", "x").ok());
  }  // abandoned without Cleanup, as after a crash
  auto second = Deduplicator::Create(dir.path() + "/w", DedupOptions{});
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE((*second)->FinishExact().ok());
  ASSERT_TRUE((*second)->FinishNear().ok());
  EXPECT_EQ((*second)->report().documents, 0u);
}

}  // namespace
}  // namespace winnow::pipeline
