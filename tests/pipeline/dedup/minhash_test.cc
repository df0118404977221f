// MinHash signatures: parity with the reference (datatrove) on real documents, the Jaccard
// estimate, the normalisation, and robustness. The golden file is written by
// tests/tools/minhash_golden.py.
#include "pipeline/dedup/minhash.h"

#include <time.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pipeline/dedup/text_hash.h"
#include "pipeline/text/unicode.h"
#include "pipeline/text/words.h"
#include "tests/util/shell.h"

namespace winnow::pipeline {
namespace {

constexpr uint64_t kMersenne61 = (uint64_t{1} << 61) - 1;

std::vector<nlohmann::json> ReadGolden() {
  // WINNOW_MINHASH_GOLDEN names a larger golden file for a one-off check (see the script).
  const char* env = std::getenv("WINNOW_MINHASH_GOLDEN");
  const std::string path = env != nullptr
                               ? std::string(env)
                               : std::string(WINNOW_SOURCE_DIR) +
                                     "/tests/pipeline/dedup/testdata/minhash_golden.jsonl.gz";
  std::string data;
  const int rc = winnow::testing::RunCommand("gzip -dc '" + path + "'", &data);
  EXPECT_EQ(rc, 0) << "cannot read " << path << " (tests/tools/minhash_golden.py writes it)";
  std::vector<nlohmann::json> records;
  size_t start = 0;
  while (start < data.size()) {
    size_t end = data.find('\n', start);
    if (end == std::string::npos) end = data.size();
    if (end > start) records.push_back(nlohmann::json::parse(data.substr(start, end - start)));
    start = end + 1;
  }
  return records;
}

const std::vector<nlohmann::json>& Golden() {
  static const std::vector<nlohmann::json> records = ReadGolden();
  return records;
}

std::vector<uint64_t> HexList(const nlohmann::json& list) {
  std::vector<uint64_t> out;
  for (const auto& v : list) out.push_back(std::stoull(v.get<std::string>(), nullptr, 16));
  return out;
}

uint64_t Xxh64(std::string_view s) { return XXH64(s.data(), s.size(), 0); }

// datatrove's tokens of the normalised text `norm`: it is split at single spaces, and spaCy also
// starts a token at each code point offset in `splits` (a split inside a space-separated chunk).
std::vector<std::string_view> TokensFromSplits(std::string_view norm,
                                               const std::vector<size_t>& splits) {
  std::set<size_t> split_bytes;
  size_t cp = 0, pos = 0, next_split = 0;
  while (pos < norm.size() && next_split < splits.size()) {
    if (cp == splits[next_split]) {
      split_bytes.insert(pos);
      ++next_split;
      continue;
    }
    DecodeUtf8(norm, &pos);
    ++cp;
  }
  std::vector<std::string_view> tokens;
  size_t begin = 0;
  for (size_t i = 0; i <= norm.size(); ++i) {
    const bool space = i == norm.size() || norm[i] == ' ';
    if (space || split_bytes.count(i)) {
      if (i > begin) tokens.push_back(norm.substr(begin, i - begin));
      begin = space ? i + 1 : i;
    }
  }
  return tokens;
}

bool SameTokens(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

TEST(MinHash, ParametersMatchNumpy) {
  int checked = 0;
  for (const auto& rec : Golden()) {
    if (rec["kind"] != "params") continue;
    std::vector<uint64_t> a, b;
    MinHashParameters(rec["seed"].get<uint64_t>(), rec["num_hashes"].get<size_t>(), &a, &b);
    EXPECT_EQ(a, HexList(rec["a"])) << "seed " << rec["seed"];
    EXPECT_EQ(b, HexList(rec["b"])) << "seed " << rec["seed"];
    ++checked;
  }
  EXPECT_EQ(checked, 4);
  const MinHasher hasher{MinHashOptions{}};
  ASSERT_EQ(hasher.a().size(), 112u);
  for (size_t k = 0; k < hasher.a().size(); ++k) {
    EXPECT_GE(hasher.a()[k], 1u);
    EXPECT_LT(hasher.a()[k], kMersenne61);
    EXPECT_LT(hasher.b()[k], kMersenne61);
  }
}

// The parity check: identical signatures given identical tokens. Normalisation and
// tokenization are checked separately, so a difference is pinned on the stage that made it.
TEST(MinHash, SignaturesMatchDatatrove) {
  const MinHasher xx{MinHashOptions{}};
  MinHashOptions sha1_options;
  sha1_options.hash = "sha1";
  const MinHasher sha1{sha1_options};
  size_t docs = 0, norm_equal = 0, tokens_equal = 0, sig_equal = 0, with_signature = 0;
  size_t from_their_tokens = 0, sha1_checked = 0;
  std::vector<std::string> norm_differ, tokens_differ;
  for (const auto& rec : Golden()) {
    if (rec["kind"] != "doc") continue;
    ++docs;
    const std::string name = rec["name"];
    const std::string text = rec["text"];
    const std::vector<uint64_t> want = HexList(rec["sig"]);
    with_signature += !want.empty();
    const std::string norm = MinHasher::Normalize(text);
    if (Xxh64(norm) != std::stoull(rec["norm_xxh64"].get<std::string>(), nullptr, 16)) {
      norm_differ.push_back(name);
      continue;
    }
    ++norm_equal;
    // Their tokens, our shingle hashes and permutations: must always agree.
    const auto theirs = TokensFromSplits(norm, rec["splits"].get<std::vector<size_t>>());
    ASSERT_EQ(theirs.size(), rec["n_tokens"].get<size_t>()) << name;
    EXPECT_EQ(xx.SignatureOfWords(norm, theirs), want) << name;
    from_their_tokens += xx.SignatureOfWords(norm, theirs) == want;
    if (rec.contains("sha1_sig")) {
      EXPECT_EQ(sha1.SignatureOfWords(norm, theirs), HexList(rec["sha1_sig"])) << name;
      ++sha1_checked;
    }
    // Our tokens: where they agree with spaCy's, the whole Signature() must agree.
    const std::vector<std::string_view> ours = SplitWords(norm);
    if (!SameTokens(ours, theirs)) {
      tokens_differ.push_back(name);
      continue;
    }
    ++tokens_equal;
    const std::vector<uint64_t> got = xx.Signature(text);
    EXPECT_EQ(got, want) << name;
    sig_equal += got == want;
    if (rec.contains("sha1_sig")) {
      EXPECT_EQ(sha1.Signature(text), HexList(rec["sha1_sig"])) << name;
    }
  }
  std::printf(
      "[parity] %zu documents (%zu with a signature): normalised text equal %zu, tokens equal %zu, "
      "signature identical %zu of %zu; from datatrove's tokens identical %zu of %zu (sha1 %zu)\n",
      docs, with_signature, norm_equal, tokens_equal, sig_equal, tokens_equal, from_their_tokens,
      norm_equal, sha1_checked);
  for (const auto& n : norm_differ) std::printf("[parity] normalisation differs: %s\n", n.c_str());
  for (const auto& n : tokens_differ) std::printf("[parity] tokens differ: %s\n", n.c_str());
  EXPECT_GE(docs, 250u);
  EXPECT_GE(norm_equal * 100, docs * 97) << "normalisation agrees on fewer than 97% of documents";
  EXPECT_GE(tokens_equal * 100, norm_equal * 90) << "tokens agree on fewer than 90% of documents";
  EXPECT_EQ(sig_equal, tokens_equal);
  EXPECT_EQ(from_their_tokens, norm_equal);
  EXPECT_GE(sha1_checked, 50u);
}

// The CPU picks the fastest permutation and SHA-1 kernels; every kernel it could run must agree,
// also on a shape that is not a multiple of the vector width.
TEST(MinHash, EveryKernelGivesDatatroveSignatures) {
  const std::vector<std::string_view> kernels = internal::MinHashKernels();
  ASSERT_FALSE(kernels.empty());
  EXPECT_EQ(kernels.back(), "portable");
  MinHashOptions odd;  // 3 × 3 = 9 permutations: exercises the padding
  odd.bands = 3;
  odd.rows = 3;
  std::vector<std::vector<uint64_t>> odd_reference;  // from the portable kernel, the last
  for (auto kernel = kernels.rbegin(); kernel != kernels.rend(); ++kernel) {
    ASSERT_TRUE(internal::UseMinHashKernel(*kernel));
    const MinHasher xx{MinHashOptions{}};
    const MinHasher small{odd};
    MinHashOptions sha1_options;
    sha1_options.hash = "sha1";
    const MinHasher sha1{sha1_options};
    size_t doc = 0;
    for (const auto& rec : Golden()) {
      if (rec["kind"] != "doc") continue;
      const std::string text = rec["text"];
      EXPECT_EQ(xx.Signature(text), HexList(rec["sig"])) << *kernel << " " << rec["name"];
      if (rec.contains("sha1_sig")) {
        EXPECT_EQ(sha1.Signature(text), HexList(rec["sha1_sig"])) << *kernel << " " << rec["name"];
      }
      if (odd_reference.size() <= doc) odd_reference.push_back(small.Signature(text));
      EXPECT_EQ(small.Signature(text), odd_reference[doc]) << *kernel << " " << rec["name"];
      ++doc;
    }
    std::printf("[kernel] %s: %zu documents\n", std::string(*kernel).c_str(), doc);
  }
  ASSERT_TRUE(internal::UseMinHashKernel(kernels.front()));
}

TEST(MinHash, NormalizeFollowsSimplifyText) {
  // Expected values are datatrove's simplify_text outputs.
  const std::pair<std::string, std::string> cases[] = {
      {"Hello, World!  It's 1,234.56 and 3.14.15", "hello world it s 0 0 and 0 0"},
      {"  Caf\u00e9 NA\u00cfVE fa\u00e7ade\t\u00c5ngstr\u00f6m ", "cafe naive facade angstrom"},
      {"\u0130stanbul \u039f\u0394\u039f\u03a3 \u03c3\u03bf\u03c6\u03cc\u03c2",
       "istanbul \u03bf\u03b4\u03bf\u03c2 \u03c3\u03bf\u03c6\u03bf\u03c2"},
      {"x\u00a0y\u3000z\u2003w", "x y z w"},
      {"\u0661\u0662\u0663\u066b\u0664\u0665 \uff14\uff12 km\u00b2 \u00bd", "0 0 km\u00b2 \u00bd"},
      {"\u201cQuoted\u201d \u00abtext\u00bb \u2014 dash\u2026 \u2018single\u2019",
       "quoted text dash \u2018single"},
      {"a\u0301 \u0301b", "a b"},
      {"DON'T cannot", "don t cannot"},
      {"12abc34 a1b2", "0abc0 a0b0"},
      {"\abell\u0085nel\u009f", "bell nel"},
      {"", ""},
      {" \t\n ", ""},
  };
  for (const auto& [in, want] : cases) EXPECT_EQ(MinHasher::Normalize(in), want) << in;
}

TEST(MinHash, ShortDocumentHasNoSignature) {
  const MinHasher hasher{MinHashOptions{}};
  EXPECT_TRUE(hasher.Signature("").empty());
  EXPECT_TRUE(hasher.Signature("one two three four").empty());
  EXPECT_TRUE(hasher.Signature("!!! ... ??? --- one, two; three").empty());
  EXPECT_EQ(hasher.Signature("one two three four five").size(), 112u);
  EXPECT_TRUE(hasher.BandKeys({}).empty());
  MinHashOptions trigram;
  trigram.ngram = 3;
  const MinHasher hasher3{trigram};
  EXPECT_TRUE(hasher3.Signature("one two").empty());
  EXPECT_EQ(hasher3.Signature("one two three").size(), 112u);
}

TEST(MinHash, SignatureIsDeterministicAcrossInstancesAndThreads) {
  const std::string text =
      "The quick brown fox jumps over the lazy dog while the cat sleeps on the warm mat, and "
      "nobody in the old house notices anything at all.";
  const MinHasher a{MinHashOptions{}};
  const MinHasher b{MinHashOptions{}};
  const std::vector<uint64_t> sig = a.Signature(text);
  ASSERT_EQ(sig.size(), 112u);
  EXPECT_EQ(a.Signature(text), sig);
  EXPECT_EQ(b.Signature(text), sig);
  std::vector<uint64_t> from_thread;
  std::thread([&] { from_thread = a.Signature(text); }).join();
  EXPECT_EQ(from_thread, sig);
  for (uint64_t v : sig) EXPECT_LT(v, kMersenne61);
  MinHashOptions other_seed;
  other_seed.seed = 2;
  EXPECT_NE(MinHasher(other_seed).Signature(text), sig);
}

TEST(MinHash, SingleShingleIsThePermutedHash) {
  MinHashOptions options;
  options.ngram = 1;
  options.bands = 3;
  options.rows = 5;
  const MinHasher xx{options};
  options.hash = "sha1";
  const MinHasher sha1{options};
  auto permuted = [](const MinHasher& h, uint64_t hash, size_t k) {
    return (hash * h.a()[k] + h.b()[k]) % kMersenne61;  // uint64 wrap, then mod
  };
  // SHA-1 test vectors (FIPS 180-2): one block, and 56 bytes, which pad into a second block.
  const std::string abc = "abc";
  std::string two_blocks;  // "abcdbcdecdef…nopq"
  for (char c = 'a'; c <= 'n'; ++c) {
    for (char d = c; d < c + 4; ++d) two_blocks.push_back(d);
  }
  const std::pair<std::string, uint64_t> sha1_cases[] = {
      {abc, 0x6a810647363e99a9ULL},         // a9993e36 4706816a …
      {two_blocks, 0x6ed23b1c443e9884ULL},  // 84983e44 1c3bd26e …
  };
  for (const auto& [word, hash] : sha1_cases) {
    const std::vector<std::string_view> words = {word};
    const std::vector<uint64_t> sig = sha1.SignatureOfWords(word, words);
    ASSERT_EQ(sig.size(), 15u);
    for (size_t k = 0; k < sig.size(); ++k) EXPECT_EQ(sig[k], permuted(sha1, hash, k)) << word;
  }
  const std::vector<std::string_view> words = {abc};
  const std::vector<uint64_t> sig = xx.SignatureOfWords(abc, words);
  for (size_t k = 0; k < sig.size(); ++k) EXPECT_EQ(sig[k], permuted(xx, Xxh64(abc), k));
}

TEST(MinHash, ShinglesAreWordsJoinedBySpaces) {
  // The same words give the same signature whether they lie in one buffer or not.
  const MinHasher hasher{MinHashOptions{}};
  const std::string joined = "alpha beta gamma delta epsilon zeta eta";
  const std::vector<std::string_view> in_place = SplitWords(joined);
  const std::string spread = "alpha|beta|gamma  delta,epsilon zeta eta";
  const std::vector<std::string_view> scattered = {
      std::string_view(spread).substr(0, 5),  std::string_view(spread).substr(6, 4),
      std::string_view(spread).substr(11, 5), std::string_view(spread).substr(18, 5),
      std::string_view(spread).substr(24, 7), std::string_view(spread).substr(32, 4),
      std::string_view(spread).substr(37, 3)};
  ASSERT_EQ(scattered[6], "eta");
  EXPECT_EQ(hasher.SignatureOfWords(joined, in_place), hasher.SignatureOfWords(spread, scattered));
  EXPECT_EQ(hasher.Signature(joined), hasher.SignatureOfWords(joined, in_place));
}

// A word of the synthetic vocabulary: letters only, so normalisation and tokenization keep it.
std::string SyntheticWord(uint64_t* state) {
  *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
  uint64_t x = *state >> 20;
  std::string w;
  const int len = 3 + static_cast<int>(x % 6);
  for (int i = 0; i < len; ++i) {
    x /= 7;
    w.push_back(static_cast<char>('a' + (x * 2654435761ULL >> 7) % 26));
  }
  return w;
}

std::set<std::string> Shingles(const std::vector<std::string>& words, size_t n) {
  std::set<std::string> out;
  for (size_t i = 0; i + n <= words.size(); ++i) {
    std::string s = words[i];
    for (size_t t = i + 1; t < i + n; ++t) s += " " + words[t];
    out.insert(s);
  }
  return out;
}

std::string Join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out.push_back(' ');
    out += w;
  }
  return out;
}

TEST(MinHash, EqualSlotFractionEstimatesJaccard) {
  const MinHasher hasher{MinHashOptions{}};
  uint64_t state = 12345;
  double total_error = 0;
  int pairs = 0;
  for (int target = 0; target <= 100; target += 5) {  // planted overlap 0 %, 5 %, … 100 %
    std::vector<std::string> a, b;
    for (int i = 0; i < 600; ++i) a.push_back(SyntheticWord(&state));
    // b keeps a's first `keep` words and replaces the rest, so both share one long run.
    const size_t keep = a.size() * static_cast<size_t>(target) / 100;
    b.assign(a.begin(), a.begin() + static_cast<ptrdiff_t>(keep));
    while (b.size() < a.size()) b.push_back(SyntheticWord(&state));
    const auto sa = Shingles(a, 5), sb = Shingles(b, 5);
    size_t common = 0;
    for (const auto& s : sa) common += sb.count(s);
    const double jaccard =
        static_cast<double>(common) / static_cast<double>(sa.size() + sb.size() - common);
    const auto siga = hasher.Signature(Join(a)), sigb = hasher.Signature(Join(b));
    ASSERT_EQ(siga.size(), 112u);
    size_t equal = 0;
    for (size_t k = 0; k < siga.size(); ++k) equal += siga[k] == sigb[k];
    const double estimate = static_cast<double>(equal) / 112.0;
    // One estimate has a standard deviation of sqrt(J(1 − J)/112) ≤ 0.047.
    EXPECT_NEAR(estimate, jaccard, 0.15) << "planted " << target << "%";
    total_error += std::abs(estimate - jaccard);
    ++pairs;
  }
  EXPECT_LT(total_error / pairs, 0.05);
}

TEST(MinHash, BandKeysDependOnlyOnTheirBand) {
  const MinHasher hasher{MinHashOptions{}};
  std::vector<uint64_t> sig = hasher.Signature(
      "one two three four five six seven eight nine ten eleven twelve thirteen fourteen");
  ASSERT_EQ(sig.size(), 112u);
  const std::vector<uint64_t> keys = hasher.BandKeys(sig);
  ASSERT_EQ(keys.size(), 14u);
  sig[3 * 8 + 5] ^= 1;
  const std::vector<uint64_t> changed = hasher.BandKeys(sig);
  for (size_t band = 0; band < 14; ++band) {
    if (band == 3) {
      EXPECT_NE(changed[band], keys[band]);
    } else {
      EXPECT_EQ(changed[band], keys[band]);
    }
  }
  // Equal rows in two bands still give two keys.
  std::vector<uint64_t> flat(112, 42);
  const std::vector<uint64_t> flat_keys = hasher.BandKeys(flat);
  EXPECT_EQ(std::set<uint64_t>(flat_keys.begin(), flat_keys.end()).size(), 14u);
}

TEST(MinHash, OptionsAreValidatedAndShapeTheSignature) {
  MinHashOptions bad;
  bad.hash = "md5";
  EXPECT_FALSE(MinHasher::Create(bad).ok());
  bad = MinHashOptions{};
  bad.ngram = 0;
  EXPECT_FALSE(MinHasher::Create(bad).ok());
  bad = MinHashOptions{};
  bad.rows = 0;
  EXPECT_FALSE(MinHasher::Create(bad).ok());
  bad = MinHashOptions{};
  bad.seed = uint64_t{1} << 32;
  EXPECT_FALSE(MinHasher::Create(bad).ok());
  MinHashOptions shape;
  shape.bands = 20;
  shape.rows = 5;
  auto hasher = MinHasher::Create(shape);
  ASSERT_TRUE(hasher.ok());
  const auto sig = hasher->Signature("a b c d e f g h i j k l m n o p");
  EXPECT_EQ(sig.size(), 100u);
  EXPECT_EQ(hasher->BandKeys(sig).size(), 20u);
}

TEST(MinHash, SurvivesHostileInput) {
  const MinHasher hasher{MinHashOptions{}};
  // Invalid UTF-8: lone continuation bytes, truncated sequences, overlong forms, surrogates.
  const std::string invalid =
      "caf\xC3 \x80\x80 \xE2\x82 ok \xF0\x9F\x98 \xC0\xAF \xED\xA0\x80 \xFF\xFE five six seven";
  const std::string norm = MinHasher::Normalize(invalid);
  size_t pos = 0;
  while (pos < norm.size()) EXPECT_NE(DecodeUtf8(norm, &pos), kInvalidByte);
  EXPECT_EQ(hasher.Signature(invalid).size(), 112u);
  // NUL bytes and controls only.
  EXPECT_TRUE(hasher.Signature(std::string(1000, '\0')).empty());
  // One 1 MB "word", and 1 MB of combining marks on one letter.
  EXPECT_TRUE(hasher.Signature(std::string(1 << 20, 'x')).empty());
  std::string marks = "a";
  for (int i = 0; i < (1 << 19); ++i) marks += "\u0301";
  EXPECT_EQ(MinHasher::Normalize(marks), "a");
  // A million words on one line.
  std::string million;
  million.reserve(8 << 20);
  uint64_t state = 7;
  for (int i = 0; i < 1000000; ++i) {
    million += SyntheticWord(&state);
    million.push_back(' ');
  }
  EXPECT_EQ(hasher.Signature(million).size(), 112u);
  // A long run of digits and separators is one number.
  EXPECT_EQ(MinHasher::Normalize(std::string(100000, '7') + ".5"), "0");
}

// Throughput of Signature() on real text (one thread). Run with
//   dedup_test --gtest_filter=MinHash.DISABLED_Speed --gtest_also_run_disabled_tests
TEST(MinHash, DISABLED_Speed) {
  std::vector<std::string> texts;
  size_t bytes = 0;
  for (const auto& rec : Golden()) {
    if (rec["kind"] != "doc" || rec["name"].get<std::string>().rfind("edge/", 0) == 0) continue;
    texts.push_back(rec["text"]);
    bytes += texts.back().size();
  }
  const MinHasher hasher{MinHashOptions{}};
  MinHashOptions sha1_options;
  sha1_options.hash = "sha1";
  const MinHasher sha1{sha1_options};
  // Best of three rounds of ~50 MB each; CPU time of this thread (the dev machine is shared, so
  // wall time also counts other processes' turns) and wall time.
  auto measure = [&](const char* what, auto&& fn) {
    const int reps = std::max<int>(1, static_cast<int>((50u << 20) / bytes));
    double best_cpu = 1e30, best_wall = 1e30;
    uint64_t sink = 0;
    for (int round = 0; round < 3; ++round) {
      timespec c0, c1;
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
      const auto t0 = std::chrono::steady_clock::now();
      for (int r = 0; r < reps; ++r) {
        for (const auto& t : texts) sink += fn(t);
      }
      const double wall =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
      const double cpu = static_cast<double>(c1.tv_sec - c0.tv_sec) +
                         static_cast<double>(c1.tv_nsec - c0.tv_nsec) * 1e-9;
      best_cpu = std::min(best_cpu, cpu);
      best_wall = std::min(best_wall, wall);
    }
    const double mb = static_cast<double>(bytes) * reps / 1e6;
    std::printf(
        "[speed] %-24s %7.1f MB/s per core (CPU time), %7.1f MB/s wall  (%zu docs, "
        "%.2f MB x %d, sink %llu)\n",
        what, mb / best_cpu, mb / best_wall, texts.size(), static_cast<double>(bytes) / 1e6, reps,
        static_cast<unsigned long long>(sink % 10));
  };
  measure("ExactTextHash", [](const std::string& t) { return ExactTextHash(t); });
  measure("Normalize", [](const std::string& t) { return MinHasher::Normalize(t).size(); });
  std::vector<std::string> norms;
  for (const auto& t : texts) norms.push_back(MinHasher::Normalize(t));
  size_t norm_bytes = 0;
  for (const auto& n : norms) norm_bytes += n.size();
  std::printf("[speed] normalised text is %.1f%% of the input\n", 100.0 * norm_bytes / bytes);
  std::vector<std::string_view> words;
  measure("Normalize + SplitWords", [&](const std::string& t) {
    SplitWords(MinHasher::Normalize(t), &words);
    return words.size();
  });
  for (const std::string_view kernel : internal::MinHashKernels()) {
    ASSERT_TRUE(internal::UseMinHashKernel(kernel));
    const std::string label = "Signature xxhash64 " + std::string(kernel);
    measure(label.c_str(), [&](const std::string& t) { return hasher.Signature(t).size(); });
  }
  ASSERT_TRUE(internal::UseMinHashKernel(internal::MinHashKernels().front()));
  for (const std::string_view kernel : internal::MinHashKernels()) {
    ASSERT_TRUE(internal::UseMinHashKernel(kernel));
    const std::string label = "Signature sha1 " + std::string(kernel);
    measure(label.c_str(), [&](const std::string& t) { return sha1.Signature(t).size(); });
  }
  ASSERT_TRUE(internal::UseMinHashKernel(internal::MinHashKernels().front()));
}

}  // namespace
}  // namespace winnow::pipeline
