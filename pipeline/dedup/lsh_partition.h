// pipeline/dedup/lsh_partition.h — internal to pipeline/dedup: one RocksDB partition of an
// LshIndex, its column families and key encodings, shared by lsh_index.cc and clustering.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pipeline/dedup/clustering.h"
#include "rocksdb/db.h"
#include "rocksdb/iterator.h"
#include "rocksdb/write_batch.h"

namespace winnow::pipeline::lsh_internal {

// Column families. "Bucket owner" is the partition (band, band key) hashes to, "doc owner" the
// one the doc key hashes to. B = bucket key (kBucketBytes), x = doc key, l = a label (doc key),
// r = a round (u32 big endian). kWork and kResults keys start with a tag byte.
enum Column {
  kBands,    // bucket owner: B x → ""              (Add; the index itself)
  kDocs,     // doc owner:    x → ""                (Add; counts documents)
  kWork,     // Finalize's working state, tagged:
             //   bucket owner: 'M' B → smallest label of B's members   (shared buckets only)
             //   bucket owner: 'M' B x → ""  (each member x of shared bucket B)
             //   bucket owner: 'D' r B → smallest label B's members took in round r   (min)
             //   doc owner:    'S' x → B B B …  (x's shared buckets; appended)
             //   doc owner:    'I' r x → smallest label proposed to x in round r   (min)
  kResults,  // Finalize's result, tagged:
             //   doc owner:    'L' x → l, only where l < x  (duplicates and their kept doc)
             //   owner of l:   'C' l → u64 members - 1      (cluster sizes; added)
  kNumColumns,
};
inline constexpr char kMemberTag = 'M';
inline constexpr char kDirtyTag = 'D';
inline constexpr char kMembershipTag = 'S';
inline constexpr char kInboxTag = 'I';
inline constexpr char kLabelTag = 'L';
inline constexpr char kClusterTag = 'C';

inline constexpr size_t kBucketBytes = 10;  // band (u16 big endian) + band key (u64 big endian)
inline constexpr int kMaxBands = 65535;

// The bucket key of `band_key` in band `band`.
std::string BucketKey(int band, uint64_t band_key);
// Stable across platforms and releases (XXH3): the partition that owns `bytes`.
int PartitionOf(std::string_view bytes, int num_partitions);

// tag + the round, big endian: the prefix of round r's 'I' and 'D' keys.
std::string RoundPrefix(char tag, uint32_t round);
// The smallest key after every key that starts with `prefix` ("" when there is none).
std::string PrefixSuccessor(std::string prefix);

std::string EncodeFixed64(uint64_t v);  // little endian, 8 bytes
uint64_t DecodeFixed64(std::string_view bytes);

absl::Status FromRocks(const rocksdb::Status& status, std::string_view what);

inline std::string_view View(const rocksdb::Slice& s) { return {s.data(), s.size()}; }
inline rocksdb::Slice ToSlice(std::string_view s) { return {s.data(), s.size()}; }

struct PartitionOptions {
  size_t memory_budget_bytes = size_t{64} << 20;  // block cache, memtables charged to it
  bool compress = true;                           // LZ4 for kBands, kDocs, kResults
};

class Partition {
 public:
  static absl::StatusOr<std::unique_ptr<Partition>> Open(const std::string& path,
                                                         const PartitionOptions& options);
  ~Partition();  // Close(), ignoring its status

  rocksdb::DB* db() const { return db_; }
  rocksdb::ColumnFamilyHandle* cf(Column column) const { return handles_[column]; }
  rocksdb::ColumnFamilyHandle* meta() const { return default_; }  // small values ("report")
  const std::string& path() const { return path_; }

  // Deletes every key of kWork or kResults, without a WAL: a range tombstone, and whole files
  // dropped (no compaction needed).
  absl::Status Clear(Column column);
  // Writes the memtables of `columns` (none: all) and the default column family to disk.
  absl::Status FlushMemtables(std::initializer_list<Column> columns = {});
  absl::Status Close();

 private:
  Partition() = default;

  std::string path_;
  rocksdb::DB* db_ = nullptr;
  rocksdb::ColumnFamilyHandle* default_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

// Iterator options for a full, sequential scan: no cache pollution, readahead.
rocksdb::ReadOptions ScanOptions();

// An iterator over the keys of one column that start with `prefix`, by default a sequential
// scan (ScanOptions).
class PrefixIterator {
 public:
  PrefixIterator(const Partition& partition, Column column, std::string prefix,
                 rocksdb::ReadOptions options = ScanOptions());
  void SeekToFirst() { it_->Seek(lower_); }
  // Seek for ascending targets: a few Next() first, which is cheaper when the target is near.
  void SeekForward(std::string_view target);
  bool Valid() const { return it_->Valid(); }
  void Next() { it_->Next(); }
  std::string_view key() const { return View(it_->key()); }
  std::string_view rest() const { return key().substr(lower_.size()); }  // key() - prefix
  std::string_view value() const { return View(it_->value()); }
  absl::Status status() const;

 private:
  const Partition& partition_;
  std::string lower_, upper_;
  rocksdb::Slice upper_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

// Point lookups in ascending key order over one column. Dense lookups walk an iterator with
// Next(); once they turn sparse (the iterator keeps needing a Seek) they switch to Get(), which
// bloom filters make cheaper than a Seek through every file.
class AscendingReader {
 public:
  AscendingReader(const Partition& partition, Column column, const rocksdb::ReadOptions& options);
  // The value stored under `key`, or nullopt; keys must be asked for in ascending order. The
  // view stays valid until the next call.
  absl::StatusOr<std::optional<std::string_view>> Find(std::string_view key);

 private:
  const Partition& partition_;
  Column column_;
  rocksdb::ReadOptions options_;
  std::unique_ptr<rocksdb::Iterator> it_;  // null once sparse
  rocksdb::PinnableSlice value_;
  bool started_ = false;
  int seeks_ = 0, walks_ = 0;  // lookups that needed a Seek, and that Next() reached
};

// Finalize's algorithm (clustering.cc) over all partitions of one index.
absl::Status ClusterPartitions(std::span<Partition* const> partitions,
                               const FinalizeOptions& options, FinalizeReport* report);

}  // namespace winnow::pipeline::lsh_internal
