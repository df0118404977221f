// pipeline/dedup/minhash.h — MinHash signatures of documents, as the reference (datatrove's
// MinhashDedupSignature) computes them: normalised text → spaCy-style words → word n-gram shingles
// hashed to 64 bits → bands × rows permutations (h·a + b) mod (2^61 − 1) → their minima.
// Signatures are identical to datatrove's for the same tokens (tests/pipeline/dedup/minhash_test.cc
// checks them against tests/tools/minhash_golden.py's output).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace winnow::pipeline {

struct MinHashOptions {
  int ngram = 5;                  // words per shingle
  int bands = 14;                 // LSH bands
  int rows = 8;                   // hashes per band (bands × rows permutations)
  std::string hash = "xxhash64";  // shingle hash: "xxhash64" (datatrove) or "sha1" (FineWeb v1)
  uint64_t seed = 1;              // permutation seed, as datatrove's (numpy RandomState, < 2^32)
};

// OK, or InvalidArgument naming the field: ngram, bands and rows ≥ 1, bands × rows ≤ 4096, a known
// hash, seed < 2^32 (numpy's limit).
absl::Status ValidateMinHashOptions(const MinHashOptions& options);

// Immutable after construction; every method is thread-safe.
class MinHasher {
 public:
  // `options` must be valid (ValidateMinHashOptions); invalid options abort.
  explicit MinHasher(MinHashOptions options);
  // Validates first.
  static absl::StatusOr<MinHasher> Create(MinHashOptions options);

  // datatrove's simplify_text: lower-case (Python's full mapping) → each run of decimal digits,
  // optionally with one of . , ، ٫ ⎖ ⎗ ⎘ and more digits, to "0" → datatrove's punctuation to space
  // → strip and collapse Unicode whitespace to one space → NFD, dropping non-spacing marks (Mn) →
  // strip. Invalid UTF-8 bytes become U+FFFD first.
  static std::string Normalize(std::string_view text);

  // bands × rows minima (band-major: band i is [i·rows, (i+1)·rows)); empty when the normalised
  // text has fewer than `ngram` words (such a document is never a duplicate).
  std::vector<uint64_t> Signature(std::string_view text) const;

  // The signature of words already normalised and split (Signature = Normalize, SplitWords, this).
  // `words` are views into `text`; a shingle is its words joined by one space.
  std::vector<uint64_t> SignatureOfWords(std::string_view text,
                                         std::span<const std::string_view> words) const;

  // One key per band: XXH3-64 of the band's `rows` values (little-endian bytes), seeded with the
  // band index, so equal rows in different bands give different keys. Empty for an empty (or
  // wrongly sized) signature.
  std::vector<uint64_t> BandKeys(const std::vector<uint64_t>& signature) const;

  const MinHashOptions& options() const { return options_; }
  // The permutation parameters, bands × rows each (for tests and other back-ends).
  std::span<const uint64_t> a() const { return {a_.data(), num_hashes_}; }
  std::span<const uint64_t> b() const { return {b_.data(), num_hashes_}; }

 private:
  MinHashOptions options_;
  bool sha1_ = false;
  size_t num_hashes_ = 0;
  std::vector<uint64_t> a_, b_;  // padded with zeros to a multiple of every kernel's lane count
  std::vector<uint64_t> a_hi_;   // a_ >> 32, for the AVX2 kernel
};

// The permutation parameters datatrove draws for `seed`: numpy.random.RandomState(seed), then
// randint(1, 2^61 − 1, size=n, dtype=uint64) for `*a` and randint(0, 2^61 − 1, …) for `*b`
// (MT19937; 64-bit draws high word first; masked rejection sampling).
void MinHashParameters(uint64_t seed, size_t n, std::vector<uint64_t>* a, std::vector<uint64_t>* b);

namespace internal {
// The permutation kernels this CPU can run, fastest first ("avx512", "avx2", "portable"); the
// fastest is used. UseMinHashKernel switches every MinHasher to another (for tests).
std::vector<std::string_view> MinHashKernels();
bool UseMinHashKernel(std::string_view name);
}  // namespace internal

}  // namespace winnow::pipeline
