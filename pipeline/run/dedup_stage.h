// pipeline/run/dedup_stage.h — deduplication of a data dir's stored documents, per group (one
// snapshot, or all of them), after its inputs were committed.
//
// A group's documents are scanned twice (exact hashes, then MinHash of the exact-distinct ones)
// into a Deduplicator under DATA_DIR/dedup-work/; its duplicates are then marked in the shard
// store, each pointing to its cluster's kept document. The group's state ("dedup/GROUP" in the
// store's meta records) holds a digest of its committed inputs and the dedup settings, and the
// report; it is removed before the marks change and written after, so an interrupted dedup is
// redone by the next run and an unchanged group is not redone at all.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pipeline/dedup/deduplicator.h"
#include "pipeline/run/config.h"
#include "pipeline/store/shard_store.h"

namespace winnow::pipeline {

struct DedupGroupResult {
  std::string group;        // a snapshot name ("" when unknown), or "*" for scope "all"
  DedupReport report;       // this run's, or the stored one when up to date
  bool up_to_date = false;  // nothing changed since the stored result: not redone
  double seconds = 0;       // scan + finalize + marking
};

// What the dedup stage reads and writes: a local ShardStore (StoreTarget), or the shard servers
// of a cluster behind its coordinator (services/cluster). Marks are routed by document key.
class DedupTarget {
 public:
  virtual ~DedupTarget() = default;
  virtual absl::StatusOr<std::map<std::string, Stats>> InputStats() = 0;  // "snapshot\tinput"
  // Every stored document under the encoded-key prefix, in any order.
  virtual absl::Status ScanTexts(
      const std::string& key_prefix,
      const std::function<bool(std::string_view key, std::string_view text)>& fn) = 0;
  virtual absl::Status ClearDuplicates(std::string_view key_prefix) = 0;
  virtual absl::Status PutDuplicates(
      const std::vector<std::pair<std::string, ShardStore::DuplicateMark>>& marks) = 0;
  virtual absl::Status PutMeta(std::string_view name, std::optional<std::string_view> value) = 0;
  virtual absl::Status ForEachMeta(
      std::string_view name_prefix,
      const std::function<bool(std::string_view name, std::string_view value)>& fn) = 0;
};

// The target of an embedded run: the store itself.
std::unique_ptr<DedupTarget> StoreTarget(ShardStore& store);

// Brings every group's duplicate marks up to date with `config` (removing all marks when
// dedup is disabled). `threads` bounds the scan's workers; progress lines go to stderr.
absl::StatusOr<std::vector<DedupGroupResult>> DedupStore(DedupTarget& target,
                                                         const DedupConfig& config,
                                                         const std::string& work_dir, int threads,
                                                         bool progress);
absl::StatusOr<std::vector<DedupGroupResult>> DedupStore(ShardStore& store,
                                                         const DedupConfig& config,
                                                         const std::string& work_dir, int threads,
                                                         bool progress);

// The stored report of every group deduplicated, by group.
absl::StatusOr<std::map<std::string, DedupReport>> StoredDedupReports(ShardStore& store);

// Human summary: per group documents, exact and near duplicates, clusters and the size histogram.
std::string FormatDedupSummary(const std::map<std::string, DedupReport>& reports);

}  // namespace winnow::pipeline
