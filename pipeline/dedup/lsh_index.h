// pipeline/dedup/lsh_index.h — the LSH band index and its duplicate clusters, in RocksDB.
//
// Layout under DIR:
//   MANIFEST  JSON {"format": "winnow-lsh", "version": 1, "num_partitions": P, "bands": B}
//   NNNN/     one RocksDB per partition (0000, 0001, …); a partition owns
//             - the band buckets whose (band, band key) hashes to it: key = band (u16 big endian)
//               + band key (u64 big endian) + doc key, so one prefix scan lists a bucket's
//               documents in doc-key order;
//             - the documents whose doc key hashes to it: their labels (kept doc of each
//               duplicate) after Finalize.
// Doc keys are opaque byte strings ordered bytewise (DocumentKey::Encode(), or a JSONL `id`).
//
// Near duplicates: bands = 14, one key per band of the MinHash signature. Exact duplicates use
// the same machinery: a second index with bands = 1 whose key is the hash of the normalized
// text. Finalize (see clustering.h) keeps the smallest doc key of every cluster; the kept set
// is a pure function of the set of (doc key, band keys) added, whatever the order of the
// Adds, the number of threads or partitions.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pipeline/dedup/clustering.h"

namespace winnow::pipeline {

namespace lsh_internal {
class Partition;
}  // namespace lsh_internal

struct LshIndexOptions {
  int num_partitions = 8;  // used only when creating DIR; then read from its MANIFEST
  int bands = 14;          // band keys per document; only when creating; then from the MANIFEST
  size_t memory_budget_bytes = size_t{64} << 20;  // per partition: RocksDB cache + memtables
  size_t write_batch_bytes = size_t{1} << 20;     // Adds pending per partition before a write
  bool compress = true;           // LZ4 for the stored buckets, documents and labels
  bool write_ahead_log = true;    // false: faster Adds; unflushed ones are lost on a crash
  bool create_if_missing = true;  // false: a DIR without MANIFEST is an error
};

class LshIndex {
 public:
  // Creates DIR (missing or empty) or opens the index there. Errors name the offending path.
  static absl::StatusOr<std::unique_ptr<LshIndex>> Open(const std::string& dir,
                                                        const LshIndexOptions& options = {});
  ~LshIndex();  // Close(), ignoring its status
  LshIndex(const LshIndex&) = delete;
  LshIndex& operator=(const LshIndex&) = delete;

  // Records that `doc_key` (non-empty) has these band keys, exactly bands() of them. Thread
  // safe; buffered per partition (Flush writes). Adding a doc key again adds the union of its
  // band keys. Invalidates the last Finalize. Not concurrently with Finalize or Close.
  absl::Status Add(std::string_view doc_key, const std::vector<uint64_t>& band_keys);
  // Writes every buffered Add.
  absl::Status Flush();

  // Computes the clusters of everything added so far (from scratch) and persists them.
  absl::Status Finalize(const FinalizeOptions& options = {}, FinalizeReport* report = nullptr);
  // The report of the last Finalize; FailedPrecondition if none is valid (an Add came after).
  absl::StatusOr<FinalizeReport> LastReport();

  // After Finalize: the kept doc key of the cluster `doc_key` is a duplicate in, or nullopt
  // when `doc_key` is kept (including documents never added). FailedPrecondition before.
  absl::StatusOr<std::optional<std::string>> DuplicateOf(std::string_view doc_key);
  // After Finalize: every duplicate, in doc-key order, with its kept doc key; stops early, with
  // OK, when fn returns false.
  absl::Status ForEachDuplicate(
      const std::function<bool(std::string_view doc_key, std::string_view kept_key)>& fn);
  // After Finalize: every cluster of two or more documents, in kept-key order, with its size.
  absl::Status ForEachCluster(
      const std::function<bool(std::string_view kept_key, uint64_t size)>& fn);

  // Flush(), then (without a write-ahead log) writes memtables to disk, and closes. Idempotent.
  absl::Status Close();

  int bands() const { return bands_; }
  int num_partitions() const { return static_cast<int>(partitions_.size()); }
  const std::string& dir() const { return dir_; }

 private:
  struct Pending;
  LshIndex(std::string dir, LshIndexOptions options);
  absl::Status WritePending(int partition, bool force);
  absl::Status Invalidate();
  absl::Status RequireOpen();
  absl::Status RequireFinalized();

  std::string dir_;
  LshIndexOptions options_;
  int bands_ = 0;
  std::vector<std::unique_ptr<lsh_internal::Partition>> partitions_;
  std::vector<std::unique_ptr<Pending>> pending_;  // one per partition
  std::mutex state_mutex_;                         // serializes changes of finalized_, closed_
  std::atomic<bool> finalized_{false};             // a valid Finalize result is stored
  std::atomic<bool> closed_{false};
};

}  // namespace winnow::pipeline
