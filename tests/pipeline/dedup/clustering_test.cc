// Finalize: components of band-sharing documents, kept = smallest doc key, and the same result
// whatever the order of Adds, the threads and the partitions.
#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pipeline/dedup/lsh_index.h"
#include "pipeline/document.h"
#include "tests/util/temp_dir.h"

namespace winnow::pipeline {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;
using winnow::testing::TempDir;

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Documents with a unique key in every band, except where Share() makes some collide.
class Signatures {
 public:
  explicit Signatures(int bands) : bands_(bands) {}
  void Doc(const std::string& key) {
    auto [it, added] = docs_.try_emplace(key);
    if (!added) return;
    for (int b = 0; b < bands_; ++b) it->second.push_back(SplitMix(next_++));
  }
  void Set(const std::string& key, int band, uint64_t value) {
    Doc(key);
    docs_[key][band] = value;
  }
  void Share(int band, const std::vector<std::string>& keys) {
    const uint64_t shared = SplitMix(next_++);
    for (const std::string& key : keys) {
      Doc(key);
      docs_[key][band] = shared;
    }
  }
  const std::map<std::string, std::vector<uint64_t>>& docs() const { return docs_; }
  int bands() const { return bands_; }

 private:
  int bands_;
  uint64_t next_ = 1;
  std::map<std::string, std::vector<uint64_t>> docs_;
};

struct RunSetup {
  int partitions = 4;
  int add_threads = 1;
  int finalize_threads = 2;
  uint64_t shuffle_seed = 0;  // 0: in key order
};

struct Result {
  std::map<std::string, std::string> duplicates;  // doc → kept
  FinalizeReport report;
};

Result Cluster(const Signatures& sigs, const RunSetup& run = {}) {
  TempDir dir;
  LshIndexOptions options;
  options.bands = sigs.bands();
  options.num_partitions = run.partitions;
  options.memory_budget_bytes = 8 << 20;
  options.write_ahead_log = false;
  auto index = LshIndex::Open(dir.Sub("lsh"), options);
  EXPECT_TRUE(index.ok()) << index.status();
  if (!index.ok()) return {};
  std::vector<const std::pair<const std::string, std::vector<uint64_t>>*> order;
  for (const auto& doc : sigs.docs()) order.push_back(&doc);
  if (run.shuffle_seed != 0) {
    std::mt19937_64 random(run.shuffle_seed);
    std::shuffle(order.begin(), order.end(), random);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < run.add_threads; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; i < order.size(); i += run.add_threads) {
        absl::Status status = (*index)->Add(order[i]->first, order[i]->second);
        EXPECT_TRUE(status.ok()) << status;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  FinalizeOptions finalize;
  finalize.threads = run.finalize_threads;
  Result result;
  absl::Status status = (*index)->Finalize(finalize, &result.report);
  EXPECT_TRUE(status.ok()) << status;
  status = (*index)->ForEachDuplicate([&](std::string_view doc, std::string_view kept) {
    result.duplicates.emplace(doc, kept);
    return true;
  });
  EXPECT_TRUE(status.ok()) << status;
  // DuplicateOf agrees with ForEachDuplicate, and every other document is kept.
  for (const auto& [doc, bands] : sigs.docs()) {
    auto kept = (*index)->DuplicateOf(doc);
    EXPECT_TRUE(kept.ok()) << kept.status();
    auto it = result.duplicates.find(doc);
    if (kept.ok()) {
      EXPECT_EQ(*kept, it == result.duplicates.end() ? std::nullopt
                                                     : std::optional<std::string>(it->second))
          << doc;
    }
  }
  return result;
}

// The reference: an in-memory union-find, kept = smallest key of each component.
std::map<std::string, std::string> Reference(const Signatures& sigs) {
  std::map<std::string, std::string> parent;
  std::function<std::string(const std::string&)> find = [&](const std::string& x) {
    std::string& p = parent[x];
    if (p.empty() || p == x) return p = x;
    return p = find(p);
  };
  std::map<std::pair<int, uint64_t>, std::string> first;
  for (const auto& [doc, bands] : sigs.docs()) {
    find(doc);
    for (int b = 0; b < static_cast<int>(bands.size()); ++b) {
      auto [it, added] = first.try_emplace({b, bands[b]}, doc);
      if (added) continue;
      std::string a = find(it->second), c = find(doc);
      if (a != c) parent[std::max(a, c)] = std::min(a, c);
    }
  }
  std::map<std::string, std::string> duplicates;
  for (const auto& [doc, bands] : sigs.docs()) {
    const std::string kept = find(doc);
    if (kept != doc) duplicates[doc] = kept;
  }
  return duplicates;
}

TEST(Clustering, ChainAcrossDifferentBandsJoinsOneCluster) {
  Signatures sigs(3);
  sigs.Share(0, {"a", "b"});
  sigs.Share(1, {"b", "c"});
  sigs.Share(2, {"c", "d"});
  const Result result = Cluster(sigs);
  EXPECT_THAT(result.duplicates, ElementsAre(Pair("b", "a"), Pair("c", "a"), Pair("d", "a")));
  EXPECT_EQ(result.report.clusters, 1u);
  EXPECT_EQ(result.report.duplicates, 3u);
  EXPECT_EQ(result.report.documents, 4u);
}

TEST(Clustering, SmallestKeyInTheMiddleOfAChainIsKept) {
  Signatures sigs(2);
  sigs.Share(0, {"q", "z"});
  sigs.Share(1, {"q", "a"});
  sigs.Share(0, {"a", "m"});
  sigs.Share(1, {"m", "y"});
  EXPECT_THAT(Cluster(sigs).duplicates,
              ElementsAre(Pair("m", "a"), Pair("q", "a"), Pair("y", "a"), Pair("z", "a")));
}

TEST(Clustering, StarJoinsLeavesThroughTheirCenter) {
  // Leaves share one band each with the center (two leaves per band), none with each other.
  Signatures sigs(4);
  for (int band = 0; band < 4; ++band) {
    std::vector<std::string> bucket = {"m-center"};
    for (int leaf = band; leaf < 8; leaf += 4) bucket.push_back("z-leaf" + std::to_string(leaf));
    if (band == 3) bucket.push_back("b-leaf");
    sigs.Share(band, bucket);
  }
  const Result result = Cluster(sigs);
  EXPECT_EQ(result.duplicates.size(), 9u);
  for (const auto& [doc, kept] : result.duplicates) EXPECT_EQ(kept, "b-leaf") << doc;
  EXPECT_THAT(result.report.cluster_sizes, ElementsAre(Pair(10u, 1u)));
}

TEST(Clustering, DisjointPairsStayApartAndALoneDocumentIsKept) {
  Signatures sigs(2);
  sigs.Share(0, {"p1", "p2"});
  sigs.Share(1, {"q1", "q2"});
  sigs.Share(0, {"r2", "r1"});
  sigs.Doc("alone");
  const Result result = Cluster(sigs);
  EXPECT_THAT(result.duplicates, ElementsAre(Pair("p2", "p1"), Pair("q2", "q1"), Pair("r2", "r1")));
  EXPECT_EQ(result.report.documents, 7u);
  EXPECT_EQ(result.report.clusters, 3u);
  EXPECT_EQ(result.report.shared_buckets, 3u);
  EXPECT_EQ(result.report.candidates, 6u);
  EXPECT_THAT(result.report.cluster_sizes, ElementsAre(Pair(2u, 3u)));
}

TEST(Clustering, SameKeyInTwoBandsIsNoCollision) {
  Signatures sigs(2);
  sigs.Set("a", 0, 12345);
  sigs.Set("b", 1, 12345);
  EXPECT_TRUE(Cluster(sigs).duplicates.empty());
}

TEST(Clustering, DocKeysAreOpaqueBytesOrderedBytewise) {
  using namespace std::string_literals;
  Signatures sigs(2);
  sigs.Share(0, {"b"s, "a\0b"s});
  sigs.Share(1, {"a\0b"s, "a\0"s, "\xff"s});
  sigs.Share(0, {"\xff"s, "a"s});
  sigs.Share(1, {"\xff\xff"s, "\xfe\xff"s});
  sigs.Share(0, {"\x01"s, "\0"s});
  const Result result = Cluster(sigs);
  EXPECT_THAT(result.duplicates,
              ElementsAre(Pair("\x01"s, "\0"s), Pair("a\0"s, "a"s), Pair("a\0b"s, "a"s),
                          Pair("b"s, "a"s), Pair("\xff"s, "a"s), Pair("\xff\xff"s, "\xfe\xff"s)));
}

TEST(Clustering, LongSortedChainNeedsFewRounds) {
  // The worst order for plain min-label propagation (one hop per round): label jumping makes
  // the rounds logarithmic in the chain length.
  Signatures sigs(2);
  char key[16];
  for (int i = 1; i < 3000; ++i) {
    std::snprintf(key, sizeof key, "k%05d", i - 1);
    std::string prev = key;
    std::snprintf(key, sizeof key, "k%05d", i);
    sigs.Share(i % 2, {prev, key});
  }
  const Result result = Cluster(sigs);
  ASSERT_EQ(result.duplicates.size(), 2999u);
  for (const auto& [doc, kept] : result.duplicates) ASSERT_EQ(kept, "k00000") << doc;
  EXPECT_LE(result.report.rounds, 8u);
}

TEST(Clustering, LongChainInRandomKeyOrderJoinsOneCluster) {
  // Plain propagation's other bad case: labels point at local minima all along the chain.
  std::vector<std::string> keys;
  for (int i = 0; i < 400; ++i) keys.push_back("r" + std::to_string(SplitMix(i) % 1000000));
  Signatures sigs(3);
  for (size_t i = 1; i < keys.size(); ++i) sigs.Share(i % 3, {keys[i - 1], keys[i]});
  const std::string smallest = *std::min_element(keys.begin(), keys.end());
  const Result result = Cluster(sigs);
  EXPECT_EQ(result.duplicates.size(), sigs.docs().size() - 1);
  for (const auto& [doc, kept] : result.duplicates) ASSERT_EQ(kept, smallest) << doc;
  EXPECT_EQ(result.duplicates, Reference(sigs));
}

TEST(Clustering, ExactBandClustersIdenticalHashesInOneRound) {
  Signatures sigs(1);
  sigs.Share(0, {"d3", "d1", "d7"});
  sigs.Share(0, {"d2", "d9"});
  sigs.Doc("d5");
  const Result result = Cluster(sigs);
  EXPECT_THAT(result.duplicates, ElementsAre(Pair("d3", "d1"), Pair("d7", "d1"), Pair("d9", "d2")));
  EXPECT_EQ(result.report.rounds, 2u);  // the second one only finds that nothing changes
}

// A random graph: each band key is unique, or drawn from a small pool so buckets collide.
Signatures RandomSignatures(int docs, int bands, uint64_t seed) {
  std::mt19937_64 random(seed);
  Signatures sigs(bands);
  const std::string alphabet("ab\0\xff-z", 6);
  while (static_cast<int>(sigs.docs().size()) < docs) {
    std::string key;
    const int length = 1 + static_cast<int>(random() % 6);
    for (int i = 0; i < length; ++i) key += alphabet[random() % alphabet.size()];
    if (sigs.docs().count(key) != 0) continue;
    sigs.Doc(key);
    for (int b = 0; b < bands; ++b) {
      if (random() % 10 == 0) sigs.Set(key, b, SplitMix(~(random() % (docs / 8) * 131 + b)));
    }
  }
  return sigs;
}

nlohmann::json WithoutTimes(const FinalizeReport& report) {
  nlohmann::json json = report.ToJson();
  for (const char* field : {"seconds", "scan_seconds", "doc_seconds", "bucket_seconds"}) {
    json.erase(field);
  }
  return json;
}

TEST(Clustering, SameKeptSetForAnyOrderThreadsAndPartitions) {
  const Signatures sigs = RandomSignatures(3000, 4, 42);
  const std::map<std::string, std::string> expected = Reference(sigs);
  ASSERT_GT(expected.size(), 300u);  // the graph has real clusters
  const Result base = Cluster(sigs, {.partitions = 1, .add_threads = 1, .finalize_threads = 1});
  EXPECT_EQ(base.duplicates, expected);
  const RunSetup runs[] = {
      {.partitions = 3, .add_threads = 2, .finalize_threads = 2, .shuffle_seed = 7},
      {.partitions = 8, .add_threads = 8, .finalize_threads = 8, .shuffle_seed = 8},
      {.partitions = 8, .add_threads = 1, .finalize_threads = 1, .shuffle_seed = 9},
      {.partitions = 2, .add_threads = 8, .finalize_threads = 2, .shuffle_seed = 0},
  };
  for (const RunSetup& run : runs) {
    const Result result = Cluster(sigs, run);
    EXPECT_EQ(result.duplicates, expected)
        << run.partitions << " partitions, " << run.add_threads << " add threads, "
        << run.finalize_threads << " finalize threads";
    // Not only the result: the whole computation is the same.
    EXPECT_EQ(WithoutTimes(result.report), WithoutTimes(base.report));
  }
}

// ---- synthetic signatures with planted clusters, for the 200k test and the benchmark --------

// Documents 0..n-1 in blocks of 1000: 500 singletons, then clusters of 2 (×50), 3 (×30),
// 5 (×20), 10 (×11), all stars around their first member, and five chains of 20.
struct PlantedCorpus {
  int bands = 14;

  static constexpr int kBlock = 1000;
  struct Span {
    int begin, size;
    bool chain;
  };
  static const std::vector<Span>& Clusters() {
    static const std::vector<Span> spans = [] {
      std::vector<Span> out;
      int at = 500;
      for (auto [size, count] : {std::pair{2, 50}, {3, 30}, {5, 20}, {10, 11}}) {
        for (int i = 0; i < count; ++i, at += size) out.push_back({at, size, false});
      }
      for (int i = 0; i < 5; ++i, at += 20) out.push_back({at, 20, true});
      return out;
    }();
    return spans;
  }

  // A DocumentKey in a scrambled order, so the kept member is not always the first.
  static std::string Key(uint64_t i) {
    const uint64_t h = SplitMix(i);
    return DocumentKey{"CC-MAIN-2024-10", "seg" + std::to_string(h % 997) + ".warc.gz", i}.Encode();
  }

  std::vector<uint64_t> BandKeys(uint64_t i) const {
    std::vector<uint64_t> keys(bands);
    for (int b = 0; b < bands; ++b) keys[b] = SplitMix(i * bands + b);
    const uint64_t block = i / kBlock;
    const int at = static_cast<int>(i % kBlock);
    for (const Span& span : Clusters()) {
      if (at < span.begin || at >= span.begin + span.size) continue;
      const uint64_t first = block * kBlock + span.begin;
      const int j = at - span.begin;
      const auto shared = [&](int link) { return SplitMix(~(first * 1000 + link)); };
      if (span.chain) {  // member j links to j-1 in band j % bands, to j+1 in band (j+1) % bands
        if (j > 0) keys[j % bands] = shared(j);
        if (j + 1 < span.size) keys[(j + 1) % bands] = shared(j + 1);
      } else if (j > 0) {  // leaf j shares band j % bands with the center
        keys[j % bands] = shared(j % bands);
      } else {
        for (int b = 0; b < bands; ++b) keys[b] = shared(b);
      }
    }
    return keys;
  }

  // The kept key of document i's cluster, or nullopt when i is alone.
  static std::optional<std::string> KeptOf(uint64_t i) {
    const int at = static_cast<int>(i % kBlock);
    for (const Span& span : Clusters()) {
      if (at < span.begin || at >= span.begin + span.size) continue;
      const uint64_t first = i - at + span.begin;
      std::string kept = Key(first);
      for (int j = 1; j < span.size; ++j) kept = std::min(kept, Key(first + j));
      return kept;
    }
    return std::nullopt;
  }

  // Duplicates, clusters and cluster sizes of the first n documents (n a multiple of kBlock).
  static FinalizeReport Expected(uint64_t n) {
    FinalizeReport r;
    const uint64_t blocks = n / kBlock;
    for (const Span& span : Clusters()) {
      r.duplicates += blocks * (span.size - 1);
      r.clusters += blocks;
      r.cluster_sizes[span.size] += blocks;
    }
    return r;
  }
};

// Adds documents [0, n) of `corpus` with `threads` threads.
void AddPlanted(LshIndex& index, const PlantedCorpus& corpus, uint64_t n, int threads) {
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (uint64_t i = t; i < n; i += threads) {
        absl::Status status = index.Add(PlantedCorpus::Key(i), corpus.BandKeys(i));
        if (!status.ok()) {
          ADD_FAILURE() << status;
          return;
        }
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
}

TEST(Clustering, Synthetic200kDocumentsFinishQuickly) {
  constexpr uint64_t kDocs = 200000;
  const auto start = std::chrono::steady_clock::now();
  TempDir dir;
  LshIndexOptions options;
  options.num_partitions = 2;
  options.memory_budget_bytes = size_t{32} << 20;
  options.write_ahead_log = false;
  auto index = LshIndex::Open(dir.Sub("lsh"), options);
  ASSERT_TRUE(index.ok()) << index.status();
  PlantedCorpus corpus;
  AddPlanted(**index, corpus, kDocs, 2);
  FinalizeReport report;
  ASSERT_TRUE((*index)->Finalize({}, &report).ok());
  const FinalizeReport expected = PlantedCorpus::Expected(kDocs);
  EXPECT_EQ(report.documents, kDocs);
  EXPECT_EQ(report.duplicates, expected.duplicates);
  EXPECT_EQ(report.clusters, expected.clusters);
  EXPECT_EQ(report.cluster_sizes, expected.cluster_sizes);
  for (uint64_t i = 0; i < kDocs; i += 97) {
    auto kept = (*index)->DuplicateOf(PlantedCorpus::Key(i));
    ASSERT_TRUE(kept.ok()) << kept.status();
    std::optional<std::string> want = PlantedCorpus::KeptOf(i);
    if (want == PlantedCorpus::Key(i)) want.reset();
    ASSERT_EQ(*kept, want) << i;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("200k documents: %.2f s in all, finalize %.2f s: %s\n", seconds, report.seconds,
              report.ToJson().dump().c_str());
  EXPECT_LT(seconds, 30);
}

// ---- benchmark: WINNOW_LSH_BENCH_DOCS documents (default 1M) ---------------------------------

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value == nullptr ? fallback : std::strtoull(value, nullptr, 10);
}

double PeakRssMiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t bytes = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) bytes += entry.file_size();
  }
  return bytes;
}

TEST(ClusteringBenchmark, DISABLED_FinalizeSyntheticSignatures) {
  const uint64_t docs = EnvOr("WINNOW_LSH_BENCH_DOCS", 1000000) / 1000 * 1000;
  const int partitions = static_cast<int>(EnvOr("WINNOW_LSH_BENCH_PARTITIONS", 4));
  const int threads = static_cast<int>(EnvOr("WINNOW_LSH_BENCH_THREADS", 2));
  const uint64_t budget_mib = EnvOr("WINNOW_LSH_BENCH_BUDGET_MIB", 64);
  TempDir dir;
  LshIndexOptions options;
  options.num_partitions = partitions;
  options.memory_budget_bytes = budget_mib << 20;
  options.write_ahead_log = false;
  auto index = LshIndex::Open(dir.Sub("lsh"), options);
  ASSERT_TRUE(index.ok()) << index.status();
  PlantedCorpus corpus;
  const auto start = std::chrono::steady_clock::now();
  AddPlanted(**index, corpus, docs, threads);
  ASSERT_TRUE((*index)->Flush().ok());
  const double add_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double add_rss = PeakRssMiB();
  FinalizeOptions finalize;
  finalize.threads = threads;
  FinalizeReport report;
  ASSERT_TRUE((*index)->Finalize(finalize, &report).ok());
  const double rss = PeakRssMiB();
  const FinalizeReport expected = PlantedCorpus::Expected(docs);
  EXPECT_EQ(report.documents, docs);
  EXPECT_EQ(report.duplicates, expected.duplicates);
  EXPECT_EQ(report.clusters, expected.clusters);
  EXPECT_EQ(report.cluster_sizes, expected.cluster_sizes);
  const struct mallinfo2 heap = mallinfo2();
  std::printf("after finalize: heap in use %.0f MiB, free in malloc arenas %.0f MiB\n",
              heap.uordblks / 1048576.0, heap.fordblks / 1048576.0);
  ASSERT_TRUE((*index)->Close().ok());
  const uint64_t disk = DirBytes(dir.Sub("lsh"));
  std::printf(
      "docs %llu  bands %d  partitions %d  threads %d  budget %llu MiB/partition\n"
      "add      %.1f s  (%.0f docs/s)  peak RSS %.0f MiB\n"
      "finalize %.1f s  (%.0f docs/s; scan %.1f s, doc steps %.1f s, bucket steps %.1f s)\n"
      "         rounds %llu  label updates %llu  peak RSS %.0f MiB\n"
      "duplicates %llu  clusters %llu  candidates %llu  shared buckets %llu\n"
      "disk %.1f MiB = %.1f bytes/doc;  RAM %.1f bytes/doc (peak RSS / docs)\n",
      static_cast<unsigned long long>(docs), options.bands, partitions, threads,
      static_cast<unsigned long long>(budget_mib), add_seconds, docs / add_seconds, add_rss,
      report.seconds, docs / report.seconds, report.scan_seconds, report.doc_seconds,
      report.bucket_seconds, static_cast<unsigned long long>(report.rounds),
      static_cast<unsigned long long>(report.label_updates), rss,
      static_cast<unsigned long long>(report.duplicates),
      static_cast<unsigned long long>(report.clusters),
      static_cast<unsigned long long>(report.candidates),
      static_cast<unsigned long long>(report.shared_buckets), disk / 1048576.0,
      static_cast<double>(disk) / docs, rss * 1048576.0 / docs);
}

}  // namespace
}  // namespace winnow::pipeline
