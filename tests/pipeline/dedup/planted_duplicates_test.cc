// Planted near-duplicates on real pages: MinHash LSH detection rates against theory, and no
// unrelated page clustered.
//
// The base documents are the expected main texts of the extraction development set
// (../shared/data/extraction-dev/*/expected.html, real pages from Readability's test suite) with at
// least kMinWords words; a page longer than kMaxSegmentWords is cut into equal segments, each its
// own base document (more, shorter bases: tighter rates and a faster test). Each base gets
// kVariantsPerTarget variants per target similarity: a fixed number of its whitespace tokens
// replaced by fresh random tokens. The variants are bucketed by their MEASURED Jaccard similarity
// to their base (5-gram shingle sets of the normalised text, as MinHasher forms them), and each
// bucket's detection rate (the pair shares a band key) is compared with the theory of bands × rows
// LSH: P(s) = 1 − (1 − s^rows)^bands, averaged over the bucket's pairs. Then every base and variant
// goes into one LshIndex, and no document may be clustered with a page that is not its own (bases
// that are genuinely near-copies of each other, Jaccard ≥ 0.5, excepted).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "pipeline/dedup/lsh_index.h"
#include "pipeline/dedup/minhash.h"
#include "pipeline/text/words.h"
#include "tests/util/temp_dir.h"

namespace winnow::pipeline {
namespace {

using winnow::testing::TempDir;

constexpr size_t kMinWords = 150;          // whitespace tokens a page needs to be used
constexpr size_t kMaxSegmentWords = 500;   // longer pages are cut into segments of at most this
constexpr int kVariantsPerTarget = 2;      // variants per base document and target similarity
constexpr size_t kMinPairsPerBucket = 60;  // fewer pairs in a bucket fail the test
constexpr uint64_t kSeed = 0x5eed'2024'0611;
constexpr std::array<double, 8> kTargets = {0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95};
// Two base documents at least this similar are near-copies (the same text on two test pages): they
// may be clustered together, and so may their variants.
constexpr double kNearCopyJaccard = 0.5;

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

void AppendUtf8(uint32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

// The text of an expected.html (clean article markup, no scripts): comments dropped, every tag
// becomes a space, the common named and all numeric character references decoded (others kept).
std::string HtmlToText(std::string_view html) {
  std::string out;
  size_t i = 0;
  while (i < html.size()) {
    const char c = html[i];
    if (c == '<') {
      const bool comment = html.substr(i, 4) == "<!--";
      const size_t end = html.find(comment ? "-->" : ">", i);
      if (end == std::string_view::npos) break;
      out.push_back(' ');
      i = end + (comment ? 3 : 1);
      continue;
    }
    if (c == '&') {
      const size_t semi = html.find(';', i);
      if (semi != std::string_view::npos && semi - i <= 10) {
        const std::string_view name = html.substr(i + 1, semi - i - 1);
        static const std::map<std::string_view, uint32_t> kNamed = {
            {"amp", '&'},      {"lt", '<'},       {"gt", '>'},       {"quot", '"'},
            {"apos", '\''},    {"nbsp", 0xA0},    {"mdash", 0x2014}, {"ndash", 0x2013},
            {"rsquo", 0x2019}, {"lsquo", 0x2018}, {"rdquo", 0x201D}, {"ldquo", 0x201C},
            {"hellip", 0x2026}};
        uint32_t code = 0;
        if (!name.empty() && name[0] == '#') {
          const bool hex = name.size() > 1 && (name[1] == 'x' || name[1] == 'X');
          const std::string digits(name.substr(hex ? 2 : 1));
          char* end = nullptr;
          code = digits.empty()
                     ? 0
                     : static_cast<uint32_t>(std::strtoul(digits.c_str(), &end, hex ? 16 : 10));
          if (end == nullptr || *end != '\0' || code > 0x10FFFF) code = 0;
        } else if (auto it = kNamed.find(name); it != kNamed.end()) {
          code = it->second;
        }
        if (code != 0) {
          AppendUtf8(code, &out);
          i = semi + 1;
          continue;
        }
      }
    }
    out.push_back(c);
    ++i;
  }
  return out;
}

// [begin, end) byte offsets of the whitespace-separated tokens of `text`.
std::vector<std::pair<size_t, size_t>> Tokens(std::string_view text) {
  std::vector<std::pair<size_t, size_t>> tokens;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && IsAsciiSpace(text[i])) ++i;
    const size_t begin = i;
    while (i < text.size() && !IsAsciiSpace(text[i])) ++i;
    if (i > begin) tokens.emplace_back(begin, i);
  }
  return tokens;
}

struct Base {
  std::string name;  // page folder, with "#k" for the k-th segment of a long page
  std::string text;
};

// The base documents: every page with at least kMinWords tokens, long ones cut into segments.
std::vector<Base> LoadBases() {
  const std::filesystem::path root =
      std::filesystem::path(WINNOW_SHARED_DIR) / "data/extraction-dev";
  std::vector<std::string> pages;
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    if (std::filesystem::exists(entry.path() / "expected.html")) {
      pages.push_back(entry.path().filename().string());
    }
  }
  std::sort(pages.begin(), pages.end());
  std::vector<Base> bases;
  for (const std::string& page : pages) {
    std::ifstream in(root / page / "expected.html", std::ios::binary);
    std::stringstream html;
    html << in.rdbuf();
    const std::string text = HtmlToText(html.str());
    const auto tokens = Tokens(text);
    if (tokens.size() < kMinWords) continue;
    const size_t segments = (tokens.size() + kMaxSegmentWords - 1) / kMaxSegmentWords;
    for (size_t k = 0; k < segments; ++k) {
      const size_t first = tokens.size() * k / segments;
      const size_t last = tokens.size() * (k + 1) / segments - 1;
      const size_t begin = tokens[first].first;
      bases.push_back({segments == 1 ? page : page + "#" + std::to_string(k),
                       text.substr(begin, tokens[last].second - begin)});
    }
  }
  return bases;
}

// The distinct shingles MinHasher hashes: the normalised text's words, `ngram` at a time, joined
// by one space (MinHasher::Signature = Normalize, SplitWords, SignatureOfWords). Not movable: the
// shingles are views into the normalised text or into copies for words not one space apart.
class ShingleSet {
 public:
  ShingleSet(std::string_view text, int ngram) : normalized_(MinHasher::Normalize(text)) {
    const std::vector<std::string_view> words = SplitWords(normalized_);
    const size_t n = static_cast<size_t>(ngram);
    for (size_t i = 0; i + n <= words.size(); ++i) {
      const char* begin = words[i].data();
      const char* end = words[i + n - 1].data() + words[i + n - 1].size();
      std::string_view shingle(begin, static_cast<size_t>(end - begin));
      size_t separators = 0;  // a slice of the text is the shingle when its words are one ' ' apart
      for (size_t t = i; t + 1 < i + n; ++t) {
        separators += words[t].data() + words[t].size() + 1 == words[t + 1].data();
      }
      if (separators + 1 != n) {
        std::string joined(words[i]);
        for (size_t t = i + 1; t < i + n; ++t) joined.append(" ").append(words[t]);
        shingle = joined_.emplace_back(std::move(joined));
      }
      shingles_.insert(shingle);
    }
  }
  ShingleSet(const ShingleSet&) = delete;
  ShingleSet& operator=(const ShingleSet&) = delete;

  const std::unordered_set<std::string_view>& shingles() const { return shingles_; }
  size_t size() const { return shingles_.size(); }

 private:
  std::string normalized_;
  std::deque<std::string> joined_;  // stable addresses
  std::unordered_set<std::string_view> shingles_;
};

double Jaccard(const ShingleSet& a, const ShingleSet& b) {
  const auto& small = a.size() <= b.size() ? a.shingles() : b.shingles();
  const auto& large = a.size() <= b.size() ? b.shingles() : a.shingles();
  size_t common = 0;
  for (const std::string_view s : small) common += large.count(s);
  const size_t total = a.size() + b.size() - common;
  return total == 0 ? 1.0 : static_cast<double>(common) / static_cast<double>(total);
}

// A fresh token: ten lower-case ASCII letters (unchanged by Normalize, one word for SplitWords).
std::string FreshToken(std::mt19937_64& rng) {
  std::string token(10, 'a');
  for (char& c : token) c = static_cast<char>('a' + rng() % 26);
  return token;
}

// `text` with `replace` of its whitespace tokens, chosen uniformly, replaced by fresh tokens; the
// whitespace between tokens is kept.
// `tokens` are Tokens(text).
std::string PlantVariant(std::string_view text,
                         const std::vector<std::pair<size_t, size_t>>& tokens, size_t replace,
                         std::mt19937_64& rng) {
  std::vector<size_t> order(tokens.size());
  std::iota(order.begin(), order.end(), 0);
  replace = std::min(replace, tokens.size());
  for (size_t i = 0; i < replace; ++i) {  // the first `replace` of a Fisher–Yates shuffle
    std::uniform_int_distribution<size_t> pick(i, order.size() - 1);
    std::swap(order[i], order[pick(rng)]);
  }
  std::vector<bool> replaced(tokens.size(), false);
  for (size_t i = 0; i < replace; ++i) replaced[order[i]] = true;
  std::string out;
  size_t copied = 0;
  for (size_t t = 0; t < tokens.size(); ++t) {
    if (!replaced[t]) continue;
    out.append(text.substr(copied, tokens[t].first - copied));
    out.append(FreshToken(rng));
    copied = tokens[t].second;
  }
  out.append(text.substr(copied));
  return out;
}

// The fraction of tokens to replace for Jaccard `s`, with every token independently replaced and
// no repeated shingles: a shingle survives when its `ngram` words do, q = (1 − f)^ngram, and
// J = q / (2 − q).
double ReplaceFraction(double s, int ngram) {
  const double q = 2 * s / (1 + s);
  return 1 - std::pow(q, 1.0 / ngram);
}

bool ShareBandKey(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  if (a.empty() || a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] == b[i]) return true;
  }
  return false;
}

// Union–find over base documents, joining near-copies.
struct Groups {
  std::vector<int> parent;
  explicit Groups(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  int Find(int x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  void Join(int a, int b) { parent[Find(a)] = Find(b); }
};

std::string DocKey(size_t base, int variant) {
  char key[32];
  std::snprintf(key, sizeof(key), "base%04zu/v%03d", base, variant);
  return key;
}

int BaseOfKey(std::string_view key) { return std::stoi(std::string(key.substr(4, 4))); }

struct PlantedPair {
  size_t base;
  int variant;  // ≥ 1
  double jaccard;
  bool detected;
};

TEST(PlantedDuplicates, DetectionRatesMatchTheoryAndNoUnrelatedPageIsClustered) {
  const std::vector<Base> bases = LoadBases();
  ASSERT_GE(bases.size(), 100u) << "too few base documents under " << WINNOW_SHARED_DIR;
  const MinHasher hasher{MinHashOptions{}};
  const int ngram = hasher.options().ngram;
  const int bands = hasher.options().bands;
  const int rows = hasher.options().rows;

  std::vector<std::unique_ptr<ShingleSet>> base_shingles;
  std::vector<std::vector<uint64_t>> base_keys;
  for (const Base& base : bases) {
    base_shingles.push_back(std::make_unique<ShingleSet>(base.text, ngram));
    base_keys.push_back(hasher.BandKeys(hasher.Signature(base.text)));
    ASSERT_EQ(base_keys.back().size(), static_cast<size_t>(bands)) << base.name;
  }

  // Near-copies among the bases, exactly: count common shingles through an inverted index.
  Groups groups(bases.size());
  {
    std::unordered_map<std::string_view, std::vector<int>> holders;
    for (size_t b = 0; b < bases.size(); ++b) {
      for (const std::string_view s : base_shingles[b]->shingles()) {
        holders[s].push_back(static_cast<int>(b));
      }
    }
    std::map<std::pair<int, int>, size_t> common;
    for (const auto& [shingle, docs] : holders) {
      for (size_t i = 0; i < docs.size(); ++i) {
        for (size_t j = i + 1; j < docs.size(); ++j) ++common[{docs[i], docs[j]}];
      }
    }
    for (const auto& [pair, n] : common) {
      const double j =
          static_cast<double>(n) / static_cast<double>(base_shingles[pair.first]->size() +
                                                       base_shingles[pair.second]->size() - n);
      if (j >= kNearCopyJaccard) {
        std::printf("near-copy bases: %s ~ %s, Jaccard %.3f\n", bases[pair.first].name.c_str(),
                    bases[pair.second].name.c_str(), j);
        groups.Join(pair.first, pair.second);
      }
    }
  }

  // Plant the variants, measure their Jaccard to their base, and note whether LSH pairs them.
  TempDir dir;
  LshIndexOptions index_options;
  index_options.num_partitions = 4;
  index_options.write_ahead_log = false;
  auto opened = LshIndex::Open(dir.Sub("lsh"), index_options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  LshIndex& index = **opened;
  std::mt19937_64 rng(kSeed);
  std::vector<PlantedPair> pairs;
  for (size_t b = 0; b < bases.size(); ++b) {
    ASSERT_TRUE(index.Add(DocKey(b, 0), base_keys[b]).ok());
    const auto tokens = Tokens(bases[b].text);
    int variant = 0;
    for (const double target : kTargets) {
      const auto replace = static_cast<size_t>(std::max<long>(
          1, std::lround(ReplaceFraction(target, ngram) * static_cast<double>(tokens.size()))));
      for (int k = 0; k < kVariantsPerTarget; ++k) {
        const std::string text = PlantVariant(bases[b].text, tokens, replace, rng);
        const std::vector<uint64_t> keys = hasher.BandKeys(hasher.Signature(text));
        ASSERT_EQ(keys.size(), static_cast<size_t>(bands));
        ++variant;
        ASSERT_TRUE(index.Add(DocKey(b, variant), keys).ok());
        pairs.push_back({b, variant, Jaccard(*base_shingles[b], ShingleSet(text, ngram)),
                         ShareBandKey(base_keys[b], keys)});
      }
    }
  }

  // Detection rate per bucket of measured Jaccard (edges halfway between the targets) against
  // the theory. Each pair is a Bernoulli trial with p_i = P(s_i), nearly independent of the others
  // (pairs share at most their base), so a bucket's count has variance Σ p_i (1 − p_i).
  auto theory = [&](double s) { return 1 - std::pow(1 - std::pow(s, rows), bands); };
  std::printf("%zu base documents, %zu planted pairs, %d bands x %d rows\n", bases.size(),
              pairs.size(), bands, rows);
  std::printf("%-12s %5s %8s %9s %9s %9s %7s %7s\n", "bucket", "n", "mean_J", "detected", "rate",
              "expected", "tol", "z");
  for (size_t t = 0; t < kTargets.size(); ++t) {
    const double low = t == 0 ? kTargets[0] - 0.05 : (kTargets[t - 1] + kTargets[t]) / 2;
    const double high = t + 1 == kTargets.size() ? 1.0 : (kTargets[t] + kTargets[t + 1]) / 2;
    size_t n = 0, detected = 0;
    double sum_j = 0, sum_p = 0, sum_var = 0;
    for (const PlantedPair& pair : pairs) {
      const bool last = t + 1 == kTargets.size();
      if (pair.jaccard < low || pair.jaccard > high || (!last && pair.jaccard == high)) continue;
      const double p = theory(pair.jaccard);
      ++n;
      detected += pair.detected;
      sum_j += pair.jaccard;
      sum_p += p;
      sum_var += p * (1 - p);
    }
    if (n == 0) {
      ADD_FAILURE() << "no pairs with Jaccard in [" << low << ", " << high << ")";
      continue;
    }
    const double rate = static_cast<double>(detected) / static_cast<double>(n);
    const double expected = sum_p / static_cast<double>(n);
    const double sd = std::sqrt(sum_var) / static_cast<double>(n);
    // Four standard errors, plus two detections for the discreteness of buckets whose expected
    // count is near 0 or n. No allowance for the hashing: over 12 other (MinHash seed, planting
    // seed) pairs all 96 bucket z-scores were within ±2.5, so the linear permutations behave as
    // min-wise independent ones here.
    const double tolerance = 4 * sd + 2.0 / static_cast<double>(n);
    char bucket[32];
    std::snprintf(bucket, sizeof(bucket), "[%.3f,%.3f%c", low, high,
                  t + 1 == kTargets.size() ? ']' : ')');
    std::printf("%-12s %5zu %8.4f %9zu %9.4f %9.4f %7.4f %7.2f\n", bucket, n,
                sum_j / static_cast<double>(n), detected, rate, expected, tolerance,
                sd > 0 ? (rate - expected) / sd : 0.0);
    EXPECT_GE(n, kMinPairsPerBucket) << bucket;
    EXPECT_LE(std::abs(rate - expected), tolerance)
        << bucket << ": " << detected << " of " << n << " detected";
  }
  const auto below = std::count_if(pairs.begin(), pairs.end(), [](const PlantedPair& pair) {
    return pair.jaccard < kTargets[0] - 0.05;
  });
  std::printf("pairs below the first bucket: %td\n", below);

  // Every document and variant in one index: a duplicate's kept document is of its own family (or
  // of a near-copy base's family), and a detected pair is in one cluster. A family's smallest key
  // is its base, so a base marked duplicate is in a cluster with another family: the same check
  // fails it unless the two bases are near-copies.
  FinalizeReport report;
  ASSERT_TRUE(index.Finalize({}, &report).ok());
  EXPECT_EQ(report.documents, bases.size() + pairs.size());
  std::unordered_map<std::string, std::string> kept_of;
  size_t cross_family = 0, unrelated = 0, bases_marked = 0;
  const absl::Status scanned =
      index.ForEachDuplicate([&](std::string_view doc, std::string_view kept) {
        kept_of.emplace(doc, kept);
        const int doc_base = BaseOfKey(doc);
        const int kept_base = BaseOfKey(kept);
        if (doc_base == kept_base) return true;
        ++cross_family;
        bases_marked += doc.ends_with("/v000");
        if (groups.Find(doc_base) != groups.Find(kept_base) && ++unrelated <= 10) {
          ADD_FAILURE() << doc << " (" << bases[doc_base].name << ") is a duplicate of " << kept
                        << " (" << bases[kept_base].name
                        << "), an unrelated page: Jaccard of the bases "
                        << Jaccard(*base_shingles[doc_base], *base_shingles[kept_base]);
        }
        return true;
      });
  ASSERT_TRUE(scanned.ok()) << scanned;
  std::printf(
      "index: %llu documents, %llu duplicates in %llu clusters; %zu duplicates of a near-copy "
      "base's family (%zu of them bases), %zu of an unrelated family\n",
      static_cast<unsigned long long>(report.documents),
      static_cast<unsigned long long>(report.duplicates),
      static_cast<unsigned long long>(report.clusters), cross_family, bases_marked, unrelated);
  EXPECT_EQ(unrelated, 0u) << "documents clustered with an unrelated page (first 10 above)";
  auto kept = [&](const std::string& key) {
    auto it = kept_of.find(key);
    return it == kept_of.end() ? key : it->second;
  };
  size_t split = 0;
  for (const PlantedPair& pair : pairs) {
    if (!pair.detected) continue;
    const std::string variant = DocKey(pair.base, pair.variant);
    if (kept(variant) != kept(DocKey(pair.base, 0)) && ++split <= 10) {
      ADD_FAILURE() << variant << " shares a band key with its base but is not in its cluster";
    }
  }
  EXPECT_EQ(split, 0u) << "detected pairs split across clusters (first 10 above)";
}

}  // namespace
}  // namespace winnow::pipeline
