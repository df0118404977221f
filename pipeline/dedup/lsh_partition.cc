#include "pipeline/dedup/lsh_partition.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "rocksdb/cache.h"
#include "rocksdb/convenience.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/memtablerep.h"
#include "rocksdb/merge_operator.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/write_buffer_manager.h"

namespace winnow::pipeline::lsh_internal {
namespace {

constexpr const char* kColumnNames[kNumColumns] = {"bands", "docs", "work", "results"};

// Merges by the key's tag: 'I' and 'D' keep the bytewise smallest operand (labels, in any
// order), 'S' concatenates (a document's shared buckets), 'C' adds little-endian uint64s
// (cluster sizes).
class TaggedMerge final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice& key, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* merged, rocksdb::Logger*) const override {
    const char tag = key.empty() ? '\0' : key[0];
    if (tag == kInboxTag || tag == kDirtyTag) {
      const rocksdb::Slice& smaller =
          existing != nullptr && existing->compare(value) <= 0 ? *existing : value;
      merged->assign(smaller.data(), smaller.size());
      return true;
    }
    if (tag == kMembershipTag) {
      merged->clear();
      if (existing != nullptr) merged->assign(existing->data(), existing->size());
      merged->append(value.data(), value.size());
      return true;
    }
    if (tag == kClusterTag) {
      if (value.size() != 8 || (existing != nullptr && existing->size() != 8)) return false;
      uint64_t sum = DecodeFixed64(View(value));
      if (existing != nullptr) sum += DecodeFixed64(View(*existing));
      *merged = EncodeFixed64(sum);
      return true;
    }
    return false;
  }
  const char* Name() const override { return "winnow.lsh_tagged"; }
};

}  // namespace

std::string BucketKey(int band, uint64_t band_key) {
  std::string key(kBucketBytes, '\0');
  key[0] = static_cast<char>((band >> 8) & 0xff);
  key[1] = static_cast<char>(band & 0xff);
  for (int i = 0; i < 8; ++i) key[2 + i] = static_cast<char>((band_key >> (56 - 8 * i)) & 0xff);
  return key;
}

int PartitionOf(std::string_view bytes, int num_partitions) {
  return static_cast<int>(XXH3_64bits(bytes.data(), bytes.size()) %
                          static_cast<uint64_t>(num_partitions));
}

std::string RoundPrefix(char tag, uint32_t round) {
  std::string prefix(1, tag);
  for (int i = 0; i < 4; ++i) prefix.push_back(static_cast<char>((round >> (24 - 8 * i)) & 0xff));
  return prefix;
}

std::string PrefixSuccessor(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (!prefix.empty()) prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

std::string EncodeFixed64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

uint64_t DecodeFixed64(std::string_view bytes) {
  uint64_t v = 0;
  for (int i = 0; i < 8 && i < static_cast<int>(bytes.size()); ++i) {
    v |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  }
  return v;
}

absl::Status FromRocks(const rocksdb::Status& status, std::string_view what) {
  if (status.ok()) return absl::OkStatus();
  const std::string message = absl::StrCat(std::string(what), ": ", status.ToString());
  if (status.IsNotFound()) return absl::NotFoundError(message);
  if (status.IsInvalidArgument()) return absl::InvalidArgumentError(message);
  if (status.IsCorruption()) return absl::DataLossError(message);
  if (status.IsBusy() || status.IsTryAgain()) return absl::UnavailableError(message);
  if (status.IsIOError()) return absl::UnavailableError(message);
  return absl::InternalError(message);
}

rocksdb::ReadOptions ScanOptions() {
  rocksdb::ReadOptions options;
  options.fill_cache = false;
  options.readahead_size = size_t{1} << 20;
  return options;
}

absl::StatusOr<std::unique_ptr<Partition>> Partition::Open(const std::string& path,
                                                           const PartitionOptions& options) {
  std::unique_ptr<Partition> partition(new Partition());
  partition->path_ = path;

  // Memory: one LRU cache per partition holds data, index and filter blocks, and is charged
  // for the memtables too (WriteBufferManager), so the partition stays near the budget.
  const size_t budget = std::max<size_t>(options.memory_budget_bytes, size_t{8} << 20);
  rocksdb::LRUCacheOptions cache_options;
  cache_options.capacity = budget;
  cache_options.high_pri_pool_ratio = 0.25;  // index and filter partitions stay cached
  std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(cache_options);
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.write_buffer_manager =
      std::make_shared<rocksdb::WriteBufferManager>(budget / 2, cache);
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 2;
  db_options.max_manifest_file_size = size_t{64} << 20;
  db_options.allow_concurrent_memtable_write = false;  // the vector memtables need this

  // Index and filters are partitioned and live in the cache: a point lookup loads a few small
  // blocks, never a whole file's filter, and their memory does not grow with the data.
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.block_size = 16 << 10;
  table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  table.metadata_block_size = 4096;
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_top_level_index_and_filter = true;
  // Only kWork and kResults are read by point lookups (Get), which bloom filters speed up.
  rocksdb::BlockBasedTableOptions filtered = table;
  filtered.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  filtered.partition_filters = true;

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  rocksdb::ColumnFamilyOptions default_options;
  default_options.write_buffer_size = size_t{1} << 20;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, default_options);
  const auto merge = std::make_shared<TaggedMerge>();
  for (int c = 0; c < kNumColumns; ++c) {
    rocksdb::ColumnFamilyOptions cf;
    const bool looked_up = c == kWork || c == kResults;
    cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(looked_up ? filtered : table));
    cf.write_buffer_size = std::max<size_t>(budget / 8, size_t{1} << 20);
    cf.max_write_buffer_number = 2;
    cf.level_compaction_dynamic_level_bytes = true;
    if (c == kBands || c == kDocs) {
      // Written in bulk by Add, read only by Finalize's scans: append-only memtables sorted
      // when flushed, and size-tiered compaction, which rewrites the data fewer times.
      cf.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
      cf.compaction_style = rocksdb::kCompactionStyleUniversal;
      if (c == kBands) cf.write_buffer_size = std::max<size_t>(budget / 4, size_t{1} << 20);
    }
    if (c == kWork) {
      // Short-lived (one Finalize), written and read in rounds: size-tiered compaction, which
      // rewrites it fewer times.
      cf.compaction_style = rocksdb::kCompactionStyleUniversal;
      cf.write_buffer_size = std::max<size_t>(budget / 4, size_t{1} << 20);
    }
    cf.compression =
        options.compress && c != kWork ? rocksdb::kLZ4Compression : rocksdb::kNoCompression;
    if (looked_up) cf.merge_operator = merge;
    descriptors.emplace_back(kColumnNames[c], cf);
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status status =
      rocksdb::DB::Open(db_options, path, descriptors, &handles, &partition->db_);
  if (!status.ok()) return FromRocks(status, absl::StrCat("cannot open LSH partition ", path));
  partition->default_ = handles[0];
  partition->handles_.assign(handles.begin() + 1, handles.end());
  return partition;
}

Partition::~Partition() { Close().IgnoreError(); }

absl::Status Partition::Clear(Column column) {
  // Every key of kWork and kResults starts with an ASCII tag, so ["\0", "\xff") is all of them.
  const std::string begin(1, '\0'), end(1, '\xff');
  rocksdb::WriteOptions no_wal;
  no_wal.disableWAL = true;
  rocksdb::Status status = db_->DeleteRange(no_wal, handles_[column], begin, end);
  const rocksdb::Slice first(begin), last(end);
  if (status.ok()) status = rocksdb::DeleteFilesInRange(db_, handles_[column], &first, &last);
  return FromRocks(status, absl::StrCat("clearing ", kColumnNames[column], " in ", path_));
}

absl::Status Partition::FlushMemtables(std::initializer_list<Column> columns) {
  std::vector<rocksdb::ColumnFamilyHandle*> all;
  for (Column c : columns) all.push_back(handles_[c]);
  if (columns.size() == 0) all.assign(handles_.begin(), handles_.end());
  all.push_back(default_);
  rocksdb::FlushOptions options;
  options.wait = true;
  return FromRocks(db_->Flush(options, all), absl::StrCat("flushing ", path_));
}

absl::Status Partition::Close() {
  if (db_ == nullptr) return absl::OkStatus();
  rocksdb::Status status;
  for (rocksdb::ColumnFamilyHandle*& handle : handles_) {
    if (handle != nullptr) status = db_->DestroyColumnFamilyHandle(handle);
    handle = nullptr;
  }
  if (default_ != nullptr) db_->DestroyColumnFamilyHandle(default_).PermitUncheckedError();
  default_ = nullptr;
  rocksdb::Status closed = db_->Close();
  delete db_;
  db_ = nullptr;
  if (status.ok()) status = closed;
  return FromRocks(status, absl::StrCat("closing ", path_));
}

PrefixIterator::PrefixIterator(const Partition& partition, Column column, std::string prefix,
                               rocksdb::ReadOptions options)
    : partition_(partition), lower_(std::move(prefix)), upper_(PrefixSuccessor(lower_)) {
  if (!upper_.empty()) {
    upper_slice_ = rocksdb::Slice(upper_);
    options.iterate_upper_bound = &upper_slice_;
  }
  it_.reset(partition.db()->NewIterator(options, partition.cf(column)));
}

void PrefixIterator::SeekForward(std::string_view target) {
  const rocksdb::Slice slice = ToSlice(target);
  for (int i = 0; i < 8 && it_->Valid() && it_->key().compare(slice) < 0; ++i) it_->Next();
  if (!it_->Valid() || it_->key().compare(slice) < 0) it_->Seek(slice);
}

absl::Status PrefixIterator::status() const {
  return FromRocks(it_->status(), absl::StrCat("scanning ", partition_.path()));
}

AscendingReader::AscendingReader(const Partition& partition, Column column,
                                 const rocksdb::ReadOptions& options)
    : partition_(partition),
      column_(column),
      options_(options),
      it_(partition.db()->NewIterator(options, partition.cf(column))) {}

absl::StatusOr<std::optional<std::string_view>> AscendingReader::Find(std::string_view key) {
  const rocksdb::Slice target = ToSlice(key);
  if (it_ != nullptr) {
    if (!started_) {
      it_->Seek(target);
      started_ = true;
    } else {
      for (int i = 0; i < 8 && it_->Valid() && it_->key().compare(target) < 0; ++i) it_->Next();
      if (it_->Valid() && it_->key().compare(target) < 0) {
        it_->Seek(target);
        ++seeks_;
      } else {
        ++walks_;
      }
    }
    if (!it_->status().ok()) {
      return FromRocks(it_->status(), absl::StrCat("reading ", partition_.path()));
    }
    const bool found = it_->Valid() && it_->key() == target;
    const std::string_view value = found ? View(it_->value()) : std::string_view();
    if (seeks_ >= 16 && seeks_ > walks_) {  // sparse from now on
      value_.PinSelf(ToSlice(value));
      it_.reset();
      return found ? std::optional<std::string_view>(View(value_)) : std::nullopt;
    }
    return found ? std::optional<std::string_view>(value) : std::nullopt;
  }
  value_.Reset();
  rocksdb::Status status = partition_.db()->Get(options_, partition_.cf(column_), target, &value_);
  if (status.IsNotFound()) return std::optional<std::string_view>();
  if (!status.ok()) return FromRocks(status, absl::StrCat("reading ", partition_.path()));
  return std::optional<std::string_view>(View(value_));
}

}  // namespace winnow::pipeline::lsh_internal
