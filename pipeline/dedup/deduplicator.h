// pipeline/dedup/deduplicator.h — exact, then near, deduplication of a set of documents.
//
// Two passes over the same documents, in any order and from any number of threads:
//   pass 1  AddExact(key, text): the hash of the lightly normalized text (text_hash.h) goes to a
//           one-band LshIndex; FinishExact() clusters equal texts;
//   pass 2  AddNear(key, text): documents that are not exact duplicates get their MinHash band
//           keys (minhash.h) added to a second LshIndex; FinishNear() clusters them.
// Every cluster keeps its smallest doc key. An exact duplicate points to the document its text's
// kept copy is itself kept in favour of, so every duplicate names a kept document. The duplicates,
// the kept set and the report are a pure function of the set of (doc key, text) pairs.
//
// State lives under a work dir (two LshIndex dirs and the cluster listing), so memory is bounded
// by the index budget, not by the number of documents.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "pipeline/dedup/lsh_index.h"
#include "pipeline/dedup/minhash.h"

namespace winnow::pipeline {

struct DedupOptions {
  bool exact = true;        // hash of the normalized text, before MinHash
  bool near = true;         // MinHash LSH
  MinHashOptions minhash;   // n-gram size, bands × rows, hash, seed
  int num_partitions = 4;   // per index
  size_t memory_mib = 256;  // RocksDB budget of both indexes together
  int threads = 0;          // Finalize threads; 0: hardware threads
};

// OK, or InvalidArgument naming the field.
absl::Status ValidateDedupOptions(const DedupOptions& options);

enum class DuplicateKind { kExact, kNear };
std::string_view DuplicateKindName(DuplicateKind kind);  // "exact", "near"
bool ParseDuplicateKind(std::string_view name, DuplicateKind* kind);

struct Duplicate {
  DuplicateKind kind = DuplicateKind::kNear;
  std::string kept;  // the doc key of the kept document of its cluster
};

struct DedupReport {
  uint64_t documents = 0;         // distinct doc keys seen in pass 1 (or pass 2 without exact)
  uint64_t exact_duplicates = 0;  // removed as exact copies
  uint64_t exact_clusters = 0;    // texts present two or more times
  uint64_t near_candidates = 0;   // documents MinHash-ed (not exact duplicates, enough words)
  uint64_t near_duplicates = 0;   // removed as near copies (exact duplicates not counted again)
  uint64_t near_clusters = 0;     // near clusters of two or more exact-distinct documents
  std::map<uint64_t, uint64_t> cluster_sizes;  // final cluster size (all members) → count
  double exact_seconds = 0, near_seconds = 0;  // Finish* wall times
  uint64_t clusters() const;                   // final clusters of two or more documents
  uint64_t duplicates() const { return exact_duplicates + near_duplicates; }

  nlohmann::json ToJson() const;
  static bool FromJson(const nlohmann::json& json, DedupReport* report);
};

class Deduplicator {
 public:
  // Creates WORK_DIR afresh (removing what a previous Deduplicator left there; any other
  // non-empty directory is refused).
  static absl::StatusOr<std::unique_ptr<Deduplicator>> Create(const std::string& work_dir,
                                                              const DedupOptions& options);
  ~Deduplicator();
  Deduplicator(const Deduplicator&) = delete;
  Deduplicator& operator=(const Deduplicator&) = delete;

  // Pass 1, thread-safe. A no-op without options.exact.
  absl::Status AddExact(std::string_view doc_key, std::string_view text);
  absl::Status FinishExact();
  // Pass 2, thread-safe: MinHash unless an exact duplicate. A no-op without options.near.
  absl::Status AddNear(std::string_view doc_key, std::string_view text);
  absl::Status FinishNear();

  // After FinishNear: nullopt for kept documents (and unknown keys).
  absl::StatusOr<std::optional<Duplicate>> DuplicateOf(std::string_view doc_key);
  // After FinishNear: every duplicate, exact ones first, each kind in doc-key order.
  absl::Status ForEachDuplicate(
      const std::function<bool(std::string_view doc_key, const Duplicate& duplicate)>& fn);
  // After FinishNear: every cluster of two or more documents in kept-key order, its members
  // (the kept one first, then the duplicates in doc-key order) streamed to `member`; `begin`
  // is called with the kept key and size before the cluster's members.
  absl::Status ForEachCluster(
      const std::function<bool(std::string_view kept, uint64_t size)>& begin,
      const std::function<bool(std::string_view doc_key, const Duplicate* duplicate)>& member);

  const DedupReport& report() const { return report_; }
  const DedupOptions& options() const { return options_; }
  // Removes the work dir's contents (after the results were used).
  absl::Status Cleanup();

 private:
  Deduplicator(std::string work_dir, DedupOptions options, MinHasher hasher);
  absl::Status FinishClusters();
  absl::StatusOr<std::string> FinalKept(std::string exact_kept);

  std::string work_dir_;
  DedupOptions options_;
  MinHasher hasher_;
  std::unique_ptr<LshIndex> exact_, near_;
  bool exact_done_ = false, near_done_ = false;
  std::atomic<uint64_t> documents_{0}, near_candidates_{0};
  DedupReport report_;
};

}  // namespace winnow::pipeline
