#include "pipeline/dedup/lsh_index.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <queue>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "pipeline/atomic_file.h"
#include "pipeline/dedup/lsh_partition.h"
#include "rocksdb/write_batch.h"

namespace winnow::pipeline {

using lsh_internal::Column;
using lsh_internal::FromRocks;
using lsh_internal::Partition;
using lsh_internal::ToSlice;
using lsh_internal::View;

namespace {

namespace fs = std::filesystem;

constexpr char kManifestName[] = "MANIFEST";
constexpr char kManifestFormat[] = "winnow-lsh";
constexpr int kManifestVersion = 1;
constexpr int kMaxPartitions = 9999;              // partition dirs are named with four digits
constexpr char kReportKey[] = "finalize_report";  // in partition 0's default column family

#define WINNOW_RETURN_IF_ERROR(expr)   \
  do {                                 \
    absl::Status status_ = (expr);     \
    if (!status_.ok()) return status_; \
  } while (false)

// Reads DIR/MANIFEST into *num_partitions and *bands.
absl::Status ReadManifest(const std::string& path, int* num_partitions, int* bands) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return absl::UnavailableError(absl::StrCat("cannot read ", path));
  const nlohmann::json json = nlohmann::json::parse(text.str(), nullptr, false);
  const auto bad = [&path](std::string_view what) {
    return absl::DataLossError(absl::StrCat(path, ": ", std::string(what)));
  };
  if (!json.is_object() || json.value("format", "") != kManifestFormat) {
    return bad("not a winnow-lsh manifest");
  }
  if (json.value("version", 0) != kManifestVersion) return bad("unsupported version");
  *num_partitions = json.value("num_partitions", 0);
  *bands = json.value("bands", 0);
  if (*num_partitions < 1 || *num_partitions > kMaxPartitions) return bad("bad num_partitions");
  if (*bands < 1 || *bands > lsh_internal::kMaxBands) return bad("bad bands");
  return absl::OkStatus();
}

}  // namespace

// Adds waiting for one partition's next write.
struct LshIndex::Pending {
  std::mutex mutex;
  rocksdb::WriteBatch batch;
};

LshIndex::LshIndex(std::string dir, LshIndexOptions options)
    : dir_(std::move(dir)), options_(std::move(options)) {}

LshIndex::~LshIndex() { Close().IgnoreError(); }

absl::StatusOr<std::unique_ptr<LshIndex>> LshIndex::Open(const std::string& dir,
                                                         const LshIndexOptions& options) {
  std::unique_ptr<LshIndex> index(new LshIndex(dir, options));
  const std::string manifest = dir + "/" + kManifestName;
  std::error_code ec;
  int num_partitions = options.num_partitions;
  int bands = options.bands;
  if (fs::exists(manifest, ec)) {
    WINNOW_RETURN_IF_ERROR(ReadManifest(manifest, &num_partitions, &bands));
  } else {
    if (!options.create_if_missing) {
      return absl::NotFoundError(
          absl::StrCat("no LSH index in ", dir, " (", manifest, " is missing)"));
    }
    if (num_partitions < 1 || num_partitions > kMaxPartitions) {
      return absl::InvalidArgumentError(
          absl::StrCat("LshIndexOptions.num_partitions must be in [1, ", kMaxPartitions, "], got ",
                       num_partitions));
    }
    if (bands < 1 || bands > lsh_internal::kMaxBands) {
      return absl::InvalidArgumentError(absl::StrCat("LshIndexOptions.bands must be in [1, ",
                                                     lsh_internal::kMaxBands, "], got ", bands));
    }
    if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot create an LSH index in ", dir, ": not empty and no ", manifest));
    }
    fs::create_directories(dir, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
    const nlohmann::json json = {{"format", kManifestFormat},
                                 {"version", kManifestVersion},
                                 {"num_partitions", num_partitions},
                                 {"bands", bands}};
    WINNOW_RETURN_IF_ERROR(WriteFileAtomically(manifest, json.dump() + "\n"));
  }
  index->bands_ = bands;
  lsh_internal::PartitionOptions partition_options;
  partition_options.memory_budget_bytes = options.memory_budget_bytes;
  partition_options.compress = options.compress;
  for (int p = 0; p < num_partitions; ++p) {
    absl::StatusOr<std::unique_ptr<Partition>> partition =
        Partition::Open(absl::StrFormat("%s/%04d", dir, p), partition_options);
    if (!partition.ok()) return partition.status();
    index->partitions_.push_back(std::move(*partition));
    index->pending_.push_back(std::make_unique<Pending>());
  }
  rocksdb::PinnableSlice report;
  const Partition& first = *index->partitions_[0];
  rocksdb::Status s = first.db()->Get(rocksdb::ReadOptions(), first.meta(), kReportKey, &report);
  if (!s.ok() && !s.IsNotFound()) return FromRocks(s, absl::StrCat("reading ", first.path()));
  index->finalized_ = s.ok();
  return index;
}

absl::Status LshIndex::Add(std::string_view doc_key, const std::vector<uint64_t>& band_keys) {
  WINNOW_RETURN_IF_ERROR(RequireOpen());
  if (doc_key.empty()) return absl::InvalidArgumentError("LshIndex::Add: empty doc key");
  if (band_keys.size() != static_cast<size_t>(bands_)) {
    return absl::InvalidArgumentError(
        absl::StrCat("LshIndex::Add: ", band_keys.size(), " band keys, the index has ", bands_));
  }
  if (finalized_.load(std::memory_order_acquire)) WINNOW_RETURN_IF_ERROR(Invalidate());
  const int n = num_partitions();
  std::string key;
  for (int band = 0; band < bands_; ++band) {
    key = lsh_internal::BucketKey(band, band_keys[band]);
    const int p = lsh_internal::PartitionOf(key, n);
    key.append(doc_key);
    rocksdb::Status s;
    {
      std::lock_guard<std::mutex> lock(pending_[p]->mutex);
      s = pending_[p]->batch.Put(partitions_[p]->cf(lsh_internal::kBands), key, rocksdb::Slice());
    }
    WINNOW_RETURN_IF_ERROR(FromRocks(s, "LshIndex::Add"));
    WINNOW_RETURN_IF_ERROR(WritePending(p, /*force=*/false));
  }
  const int p = lsh_internal::PartitionOf(doc_key, n);
  rocksdb::Status s;
  {
    std::lock_guard<std::mutex> lock(pending_[p]->mutex);
    s = pending_[p]->batch.Put(partitions_[p]->cf(lsh_internal::kDocs), ToSlice(doc_key),
                               rocksdb::Slice());
  }
  WINNOW_RETURN_IF_ERROR(FromRocks(s, "LshIndex::Add"));
  return WritePending(p, /*force=*/false);
}

absl::Status LshIndex::WritePending(int p, bool force) {
  rocksdb::WriteBatch batch;
  {
    std::lock_guard<std::mutex> lock(pending_[p]->mutex);
    if (pending_[p]->batch.Count() == 0) return absl::OkStatus();
    if (!force && pending_[p]->batch.GetDataSize() < options_.write_batch_bytes) {
      return absl::OkStatus();
    }
    std::swap(batch, pending_[p]->batch);
  }
  rocksdb::WriteOptions write_options;
  write_options.disableWAL = !options_.write_ahead_log;
  return FromRocks(partitions_[p]->db()->Write(write_options, &batch),
                   absl::StrCat("writing to ", partitions_[p]->path()));
}

absl::Status LshIndex::Flush() {
  WINNOW_RETURN_IF_ERROR(RequireOpen());
  for (int p = 0; p < num_partitions(); ++p) WINNOW_RETURN_IF_ERROR(WritePending(p, true));
  return absl::OkStatus();
}

absl::Status LshIndex::Invalidate() {
  std::lock_guard<std::mutex> lock(state_mutex_);
  if (!finalized_.load()) return absl::OkStatus();
  rocksdb::WriteOptions durable;
  durable.sync = true;
  const Partition& first = *partitions_[0];
  WINNOW_RETURN_IF_ERROR(FromRocks(first.db()->Delete(durable, first.meta(), kReportKey),
                                   absl::StrCat("writing to ", first.path())));
  finalized_.store(false, std::memory_order_release);
  return absl::OkStatus();
}

absl::Status LshIndex::Finalize(const FinalizeOptions& options, FinalizeReport* report) {
  WINNOW_RETURN_IF_ERROR(RequireOpen());
  WINNOW_RETURN_IF_ERROR(Flush());
  WINNOW_RETURN_IF_ERROR(Invalidate());  // a crash from here on leaves no stale result
  FinalizeReport local;
  if (report == nullptr) report = &local;
  std::vector<Partition*> partitions;
  for (const auto& partition : partitions_) partitions.push_back(partition.get());
  WINNOW_RETURN_IF_ERROR(lsh_internal::ClusterPartitions(partitions, options, report));
  // ClusterPartitions made every result durable; the report marks them valid.
  std::lock_guard<std::mutex> lock(state_mutex_);
  rocksdb::WriteOptions durable;
  durable.sync = true;
  const Partition& first = *partitions_[0];
  WINNOW_RETURN_IF_ERROR(
      FromRocks(first.db()->Put(durable, first.meta(), kReportKey, report->ToJson().dump()),
                absl::StrCat("writing to ", first.path())));
  finalized_.store(true, std::memory_order_release);
  return absl::OkStatus();
}

absl::Status LshIndex::RequireOpen() {
  if (!closed_.load(std::memory_order_acquire)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat("the LSH index in ", dir_, " is closed"));
}

absl::Status LshIndex::RequireFinalized() {
  WINNOW_RETURN_IF_ERROR(RequireOpen());
  if (finalized_.load(std::memory_order_acquire)) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("the LSH index in ", dir_, " has no valid Finalize (none yet, or Add since)"));
}

absl::StatusOr<FinalizeReport> LshIndex::LastReport() {
  WINNOW_RETURN_IF_ERROR(RequireFinalized());
  const Partition& first = *partitions_[0];
  rocksdb::PinnableSlice value;
  WINNOW_RETURN_IF_ERROR(
      FromRocks(first.db()->Get(rocksdb::ReadOptions(), first.meta(), kReportKey, &value),
                absl::StrCat("reading ", first.path())));
  FinalizeReport report;
  const nlohmann::json json = nlohmann::json::parse(View(value), nullptr, false);
  if (!FinalizeReport::FromJson(json, &report)) {
    return absl::DataLossError(absl::StrCat("undecodable finalize report in ", first.path()));
  }
  return report;
}

absl::StatusOr<std::optional<std::string>> LshIndex::DuplicateOf(std::string_view doc_key) {
  WINNOW_RETURN_IF_ERROR(RequireFinalized());
  const Partition& part = *partitions_[lsh_internal::PartitionOf(doc_key, num_partitions())];
  std::string key(1, lsh_internal::kLabelTag), kept;
  key.append(doc_key);
  rocksdb::Status s =
      part.db()->Get(rocksdb::ReadOptions(), part.cf(lsh_internal::kResults), key, &kept);
  if (s.IsNotFound()) return std::optional<std::string>();
  WINNOW_RETURN_IF_ERROR(FromRocks(s, absl::StrCat("reading ", part.path())));
  return std::optional<std::string>(std::move(kept));
}

namespace {

// Visits the keys of kResults that start with `tag` in every partition, in key order (a k-way
// merge; keys are unique across partitions because each has one owner), without the tag.
absl::Status MergeScan(const std::vector<std::unique_ptr<Partition>>& partitions, char tag,
                       const std::function<bool(std::string_view, std::string_view)>& fn) {
  std::vector<std::unique_ptr<lsh_internal::PrefixIterator>> its;
  const auto later = [&its](size_t a, size_t b) { return its[a]->key() > its[b]->key(); };
  std::priority_queue<size_t, std::vector<size_t>, decltype(later)> heap(later);
  for (const auto& partition : partitions) {
    its.push_back(std::make_unique<lsh_internal::PrefixIterator>(*partition, lsh_internal::kResults,
                                                                 std::string(1, tag)));
    its.back()->SeekToFirst();
    if (its.back()->Valid()) heap.push(its.size() - 1);
  }
  while (!heap.empty()) {
    const size_t i = heap.top();
    heap.pop();
    if (!fn(its[i]->rest(), its[i]->value())) return absl::OkStatus();
    its[i]->Next();
    if (its[i]->Valid()) heap.push(i);
  }
  for (const auto& it : its) WINNOW_RETURN_IF_ERROR(it->status());
  return absl::OkStatus();
}

}  // namespace

absl::Status LshIndex::ForEachDuplicate(
    const std::function<bool(std::string_view doc_key, std::string_view kept_key)>& fn) {
  WINNOW_RETURN_IF_ERROR(RequireFinalized());
  return MergeScan(partitions_, lsh_internal::kLabelTag, fn);
}

absl::Status LshIndex::ForEachCluster(
    const std::function<bool(std::string_view kept_key, uint64_t size)>& fn) {
  WINNOW_RETURN_IF_ERROR(RequireFinalized());
  return MergeScan(partitions_, lsh_internal::kClusterTag,
                   [&fn](std::string_view kept, std::string_view count) {
                     return fn(kept, lsh_internal::DecodeFixed64(count) + 1);
                   });
}

absl::Status LshIndex::Close() {
  std::lock_guard<std::mutex> lock(state_mutex_);
  if (closed_.load()) return absl::OkStatus();
  absl::Status status = Flush();
  closed_.store(true, std::memory_order_release);
  for (auto& partition : partitions_) {
    if (status.ok() && !options_.write_ahead_log) status = partition->FlushMemtables();
    absl::Status closed = partition->Close();
    if (status.ok()) status = closed;
  }
  return status;
}

}  // namespace winnow::pipeline
