// pipeline/store/shard_store.h — the curated documents of a data dir, in RocksDB shards.
//
// Layout under DATA_DIR (DESIGN.md "Storage"):
//   shards/MANIFEST   JSON {"format": "winnow-shards", "version": 1, "num_shards": N}
//   shards/NNNN/      one RocksDB per shard (0000, 0001, …) with the column families
//                     "documents", "dropped", "stats", "signatures", "lsh_bands",
//                     "duplicates" (dedup marks) and, in shard 0, "meta" (dedup state)
//   stats.json        the merged Stats of every input (WriteStatsJson)
//
// Everything one input file produced lives in one shard, chosen by a stable hash of
// (snapshot, input), under keys that start with DocumentKey{snapshot, input}'s prefix
// "snapshot\0input\0"; committing an input again replaces all of it in one atomic write.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pipeline/document.h"
#include "pipeline/stats.h"

namespace winnow::pipeline {

struct StoreOptions {
  int num_shards = 4;  // used only when creating a data dir; then read from it
  int max_dropped_examples_per_reason = 50;  // per input and (filter, reason); 0 none, -1 all
  bool compress = true;           // zstd for the bottommost level, lz4 (or snappy) above it
  bool create_if_missing = true;  // false: a dir without shards/ is an error (stats, export)
  bool read_only = false;         // reads only, takes no lock (stats, export); every Commit fails
  bool sync_commits = true;       // fsync the WAL on every Commit, so HasInput survives a crash
};

class ShardStore {
 public:
  // Writes one input file's results atomically. One writer per input at a time; writers for
  // different inputs may run on different threads. Destroying it without Commit writes nothing.
  class InputWriter {
   public:
    virtual ~InputWriter() = default;
    // doc.key must name this writer's (snapshot, input); a mismatch fails the Commit.
    virtual void Add(const Document& doc) = 0;
    // Keeps the first max_dropped_examples_per_reason documents per (filter, reason).
    virtual void AddDropped(const Document& doc, std::string_view filter,
                            std::string_view reason) = 0;
    // Replaces everything stored for (snapshot, input) with what was added and `stats`.
    virtual absl::Status Commit(const Stats& stats) = 0;
  };

  // Creates DATA_DIR/shards/ (in a missing or empty dir, or one holding only config.yaml,
  // stats.json or coordinator state) or opens the one there. Errors name the offending path.
  static absl::StatusOr<std::unique_ptr<ShardStore>> Open(const std::string& data_dir,
                                                          const StoreOptions& options = {});
  ~ShardStore();
  ShardStore(const ShardStore&) = delete;
  ShardStore& operator=(const ShardStore&) = delete;

  // The writer must not outlive the store.
  std::unique_ptr<InputWriter> StartInput(const std::string& snapshot, const std::string& input);
  // Whether (snapshot, input) was committed before (a resumed run skips it).
  absl::StatusOr<bool> HasInput(const std::string& snapshot, const std::string& input);

  // Which documents ForEachDocument visits: the curated set (duplicates left out), or every
  // stored one, a duplicate's metadata then carrying "duplicate_of" {"dump", "file_path",
  // "offset"} (its kept document's key) and "duplicate_kind" ("exact" or "near").
  enum class DocumentSet { kKept, kAll };
  // Documents of all shards in DocumentKey order; stops early, with OK, when fn returns false.
  absl::Status ForEachDocument(const std::function<bool(const Document&)>& fn,
                               DocumentSet which = DocumentSet::kKept);
  // The text of every stored document whose encoded key starts with `key_prefix` (e.g.
  // "snapshot\0"; "" for all), shard after shard, without decoding the rest of the document:
  // faster than ForEachDocument when order and the other fields do not matter.
  absl::Status ScanTexts(
      std::string_view key_prefix,
      const std::function<bool(std::string_view key, std::string_view text)>& fn);

  // Duplicate marks (pipeline/dedup): a duplicate stays stored, marked with its kind and the
  // encoded key of the document kept in its place. An input's commit clears its own marks.
  struct DuplicateMark {
    std::string kind;      // "exact" or "near"
    std::string kept_key;  // DocumentKey::Encode() of the kept document
  };
  absl::StatusOr<std::optional<DuplicateMark>> DuplicateOf(const DocumentKey& key);
  // Removes the marks of documents whose encoded key starts with `key_prefix` ("" for all).
  absl::Status ClearDuplicates(std::string_view key_prefix);
  // Writes marks keyed by encoded document keys (one batch per shard).
  absl::Status PutDuplicates(const std::vector<std::pair<std::string, DuplicateMark>>& marks);
  absl::StatusOr<uint64_t> CountDuplicates(std::string_view key_prefix = "");

  // Small named records of the whole store (e.g. the dedup state of each snapshot), in shard 0.
  absl::StatusOr<std::optional<std::string>> GetMeta(std::string_view name);
  // nullopt deletes.
  absl::Status PutMeta(std::string_view name, std::optional<std::string_view> value);
  absl::Status ForEachMeta(
      std::string_view name_prefix,
      const std::function<bool(std::string_view name, std::string_view value)>& fn);
  // Kept examples of dropped documents, in DocumentKey order, with the filter and reason.
  absl::Status ForEachDropped(const std::function<bool(const Document&, std::string_view filter,
                                                       std::string_view reason)>& fn);

  // Stats per committed input, keyed "snapshot\tinput", and all of them merged.
  absl::StatusOr<std::map<std::string, Stats>> InputStats();
  absl::StatusOr<Stats> TotalStats();
  absl::StatusOr<uint64_t> CountDocuments();  // exact: scans every key
  // Writes DATA_DIR/stats.json: TotalStats().ToJson() plus "inputs" and "num_shards".
  absl::Status WriteStatsJson();

  int num_shards() const { return static_cast<int>(shards_.size()); }
  const std::string& data_dir() const { return data_dir_; }

 private:
  struct Shard;
  ShardStore(std::string data_dir, StoreOptions options);
  int ShardOf(std::string_view snapshot, std::string_view input) const;
  // Visits one column family of every shard in key order (a k-way merge of shard iterators).
  absl::Status MergeColumn(
      int column, const std::function<absl::Status(int shard, std::string_view key,
                                                   std::string_view value, bool* more)>& fn);
  absl::StatusOr<std::optional<DuplicateMark>> GetDuplicate(int shard, std::string_view doc_key);

  std::string data_dir_;
  StoreOptions options_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace winnow::pipeline
