#include "pipeline/dedup/clustering.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "pipeline/dedup/lsh_partition.h"
#include "rocksdb/write_batch.h"

namespace winnow::pipeline {

nlohmann::json FinalizeReport::ToJson() const {
  nlohmann::json sizes = nlohmann::json::object();
  for (const auto& [size, count] : cluster_sizes) sizes[std::to_string(size)] = count;
  return {{"documents", documents},
          {"shared_buckets", shared_buckets},
          {"candidates", candidates},
          {"duplicates", duplicates},
          {"clusters", clusters},
          {"rounds", rounds},
          {"label_updates", label_updates},
          {"cluster_sizes", sizes},
          {"seconds", seconds},
          {"scan_seconds", scan_seconds},
          {"doc_seconds", doc_seconds},
          {"bucket_seconds", bucket_seconds}};
}

bool FinalizeReport::FromJson(const nlohmann::json& json, FinalizeReport* report) {
  if (!json.is_object()) return false;
  FinalizeReport r;
  const std::pair<const char*, uint64_t*> counts[] = {
      {"documents", &r.documents},        {"shared_buckets", &r.shared_buckets},
      {"candidates", &r.candidates},      {"duplicates", &r.duplicates},
      {"clusters", &r.clusters},          {"rounds", &r.rounds},
      {"label_updates", &r.label_updates}};
  for (const auto& [name, field] : counts) {
    auto it = json.find(name);
    if (it == json.end() || !it->is_number_unsigned()) return false;
    *field = it->get<uint64_t>();
  }
  auto sizes = json.find("cluster_sizes");
  if (sizes == json.end() || !sizes->is_object()) return false;
  for (const auto& [size, count] : sizes->items()) {
    if (!count.is_number_unsigned()) return false;
    r.cluster_sizes[std::stoull(size)] = count.get<uint64_t>();
  }
  const std::pair<const char*, double*> times[] = {{"seconds", &r.seconds},
                                                   {"scan_seconds", &r.scan_seconds},
                                                   {"doc_seconds", &r.doc_seconds},
                                                   {"bucket_seconds", &r.bucket_seconds}};
  for (const auto& [name, field] : times) {
    auto it = json.find(name);
    if (it != json.end() && it->is_number()) *field = it->get<double>();
  }
  *report = std::move(r);
  return true;
}

namespace lsh_internal {
namespace {

#define WINNOW_RETURN_IF_ERROR(expr)   \
  do {                                 \
    absl::Status status_ = (expr);     \
    if (!status_.ok()) return status_; \
  } while (false)

// Debian's Abseil has its own string_view: StrCat takes no std::string_view.
std::string Cat(std::string_view a, std::string_view b) {
  std::string out;
  out.reserve(a.size() + b.size());
  out.append(a);
  out.append(b);
  return out;
}

// glibc keeps what RocksDB frees (blocks, memtables, write batches) in its arenas, where it
// fragments and adds up over a long Finalize; this gives the free pages back to the OS.
void ReleaseMemory() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

// With FinalizeOptions::release_memory: memory is released after every step and every
// kReleaseEvery bytes written.
constexpr uint64_t kReleaseEvery = uint64_t{256} << 20;

// One thread's writes during a step, per destination partition (no write-ahead log: a crashed
// Finalize starts over). Each destination packs its writes into one buffer (few allocations)
// and sorts them before writing, since a memtable takes keys in order much faster; it writes
// when its buffer or the thread's total grows too big.
class Fanout {
 public:
  Fanout(std::span<Partition* const> partitions, const FinalizeOptions& options,
         std::atomic<uint64_t>* written)
      : partitions_(partitions), options_(options), written_(written), pending_(partitions.size()) {
    write_options_.disableWAL = true;
  }

  absl::Status Put(int p, Column column, std::string_view key, std::string_view value) {
    return Add(p, column, false, key, value);
  }
  absl::Status Merge(int p, Column column, std::string_view key, std::string_view value) {
    return Add(p, column, true, key, value);
  }
  // Writes everything pending.
  absl::Status Finish() {
    for (size_t p = 0; p < pending_.size(); ++p) WINNOW_RETURN_IF_ERROR(Write(p));
    return absl::OkStatus();
  }

 private:
  // A write in Pending::data: column (1 byte), merge (1), key size (4), value size (4), key,
  // value.
  static constexpr size_t kHeader = 10;
  struct Pending {
    std::string data;
    std::vector<uint32_t> offsets;
  };
  struct Record {
    Column column;
    bool merge;
    std::string_view key, value;
  };

  static Record Read(const std::string& data, uint32_t offset) {
    const char* at = data.data() + offset;
    uint32_t key_size, value_size;
    std::memcpy(&key_size, at + 2, 4);
    std::memcpy(&value_size, at + 6, 4);
    return {static_cast<Column>(at[0]),
            at[1] != 0,
            {at + kHeader, key_size},
            {at + kHeader + key_size, value_size}};
  }

  absl::Status Add(int p, Column column, bool merge, std::string_view key, std::string_view value) {
    Pending& pending = pending_[p];
    const size_t before = pending.data.size();
    pending.offsets.push_back(static_cast<uint32_t>(before));
    const uint32_t key_size = static_cast<uint32_t>(key.size());
    const uint32_t value_size = static_cast<uint32_t>(value.size());
    char header[kHeader] = {static_cast<char>(column), static_cast<char>(merge)};
    std::memcpy(header + 2, &key_size, 4);
    std::memcpy(header + 6, &value_size, 4);
    pending.data.append(header, kHeader).append(key).append(value);
    total_ += pending.data.size() - before;
    if (pending.data.size() >= options_.write_batch_bytes) return Write(p);
    if (total_ >= options_.thread_pending_bytes) return Finish();
    return absl::OkStatus();
  }

  absl::Status Write(size_t p) {
    Pending& pending = pending_[p];
    if (pending.offsets.empty()) return absl::OkStatus();
    // Stable: two writes of one key keep their order.
    std::stable_sort(pending.offsets.begin(), pending.offsets.end(),
                     [&data = pending.data](uint32_t a, uint32_t b) {
                       const Record x = Read(data, a), y = Read(data, b);
                       return x.column != y.column ? x.column < y.column : x.key < y.key;
                     });
    rocksdb::WriteBatch batch(pending.data.size() + 16 * pending.offsets.size());
    rocksdb::Status s;
    for (uint32_t offset : pending.offsets) {
      const Record r = Read(pending.data, offset);
      rocksdb::ColumnFamilyHandle* cf = partitions_[p]->cf(r.column);
      s = r.merge ? batch.Merge(cf, ToSlice(r.key), ToSlice(r.value))
                  : batch.Put(cf, ToSlice(r.key), ToSlice(r.value));
      if (!s.ok()) break;
    }
    if (s.ok()) s = partitions_[p]->db()->Write(write_options_, &batch);
    const uint64_t before = written_->fetch_add(pending.data.size());
    if (options_.release_memory &&
        before / kReleaseEvery != (before + pending.data.size()) / kReleaseEvery) {
      ReleaseMemory();
    }
    total_ -= pending.data.size();
    pending.data.clear();
    pending.offsets.clear();
    return FromRocks(s, absl::StrCat("writing to ", partitions_[p]->path()));
  }

  std::span<Partition* const> partitions_;
  const FinalizeOptions& options_;
  std::atomic<uint64_t>* written_;  // by all threads of the Finalize
  std::vector<Pending> pending_;
  size_t total_ = 0;
  rocksdb::WriteOptions write_options_;
};

// Per-partition counters of a step, summed after it.
struct StepCounts {
  uint64_t shared_buckets = 0;
  uint64_t changed = 0;
  uint64_t duplicates = 0;
  uint64_t documents = 0;
  uint64_t candidates = 0;
  uint64_t clusters = 0;
  std::map<uint64_t, uint64_t> cluster_sizes;
};

std::string Tagged(char tag, std::string_view a, std::string_view b = {}) {
  std::string out;
  out.reserve(1 + a.size() + b.size());
  out.push_back(tag);
  out.append(a);
  out.append(b);
  return out;
}

class Clustering {
 public:
  Clustering(std::span<Partition* const> partitions, const FinalizeOptions& options)
      : parts_(partitions),
        options_(options),
        arena_(options.threads > 0
                   ? options.threads
                   : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))),
        counts_(partitions.size()) {}

  absl::Status Run(FinalizeReport* report) {
    // The band index's memtables are append-only vectors, sorted for every new iterator:
    // flushed first, the steps' iterators read sorted files only.
    WINNOW_RETURN_IF_ERROR(Each([&](int p) -> absl::Status {
      WINNOW_RETURN_IF_ERROR(parts_[p]->FlushMemtables({kBands, kDocs}));
      WINNOW_RETURN_IF_ERROR(parts_[p]->Clear(kWork));
      return parts_[p]->Clear(kResults);
    }));
    WINNOW_RETURN_IF_ERROR(
        Timed(&report->scan_seconds, [&](int p, Fanout& out) { return FirstBucketStep(p, out); }));
    report->shared_buckets = Sum(&StepCounts::shared_buckets);
    for (uint32_t round = 1;; ++round) {
      std::vector<const rocksdb::Snapshot*> snapshots;
      for (Partition* part : parts_) snapshots.push_back(part->db()->GetSnapshot());
      absl::Status status = Timed(&report->doc_seconds, [&](int p, Fanout& out) {
        return DocStep(p, round, snapshots, out);
      });
      for (size_t p = 0; p < parts_.size(); ++p) parts_[p]->db()->ReleaseSnapshot(snapshots[p]);
      WINNOW_RETURN_IF_ERROR(status);
      report->rounds = round;
      const uint64_t changed = Sum(&StepCounts::changed);
      report->label_updates += changed;
      if (changed == 0) break;
      WINNOW_RETURN_IF_ERROR(Timed(&report->bucket_seconds,
                                   [&](int p, Fanout& out) { return BucketStep(p, round, out); }));
    }
    WINNOW_RETURN_IF_ERROR(Step([&](int p, Fanout& out) { return CountStep(p, out); }));
    report->duplicates = Sum(&StepCounts::duplicates);
    report->documents = Sum(&StepCounts::documents);
    report->candidates = Sum(&StepCounts::candidates);
    WINNOW_RETURN_IF_ERROR(Step([&](int p, Fanout&) { return ClusterStep(p); }));
    report->clusters = Sum(&StepCounts::clusters);
    for (const StepCounts& c : counts_) {
      for (const auto& [size, n] : c.cluster_sizes) report->cluster_sizes[size] += n;
    }
    // The working state goes; the results are made durable (they were written without a WAL).
    return Each([&](int p) -> absl::Status {
      WINNOW_RETURN_IF_ERROR(parts_[p]->Clear(kWork));
      return parts_[p]->FlushMemtables({kResults});
    });
  }

 private:
  // Runs fn(p) for every partition, options_.threads at a time; returns the first error.
  absl::Status Each(const std::function<absl::Status(int)>& fn) {
    std::mutex mutex;
    absl::Status first;
    arena_.execute([&] {
      tbb::parallel_for(0, static_cast<int>(parts_.size()), [&](int p) {
        absl::Status status = fn(p);
        if (status.ok()) return;
        std::lock_guard<std::mutex> lock(mutex);
        if (first.ok()) first = status;
      });
    });
    return first;
  }

  // A bulk-synchronous step: fn(p) for every partition with its own Fanout; all its writes are
  // done when Step returns.
  absl::Status Step(const std::function<absl::Status(int, Fanout&)>& fn) {
    for (StepCounts& c : counts_) c = StepCounts();
    absl::Status status = Each([&](int p) -> absl::Status {
      Fanout out(parts_, options_, &written_);
      WINNOW_RETURN_IF_ERROR(fn(p, out));
      return out.Finish();
    });
    if (options_.release_memory) ReleaseMemory();
    return status;
  }

  // Step(), adding its wall time to *seconds.
  absl::Status Timed(double* seconds, const std::function<absl::Status(int, Fanout&)>& fn) {
    const auto start = std::chrono::steady_clock::now();
    absl::Status status = Step(fn);
    *seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return status;
  }

  uint64_t Sum(uint64_t StepCounts::*field) const {
    uint64_t sum = 0;
    for (const StepCounts& c : counts_) sum += c.*field;
    return sum;
  }

  int Owner(std::string_view bytes) const {
    return PartitionOf(bytes, static_cast<int>(parts_.size()));
  }

  // Round 1's bucket step: every label is its doc key, so a shared bucket's smallest label is
  // its first member in key order: the bucket's label, proposed to the others.
  absl::Status FirstBucketStep(int p, Fanout& out) {
    const Partition& part = *parts_[p];
    const std::string inbox = RoundPrefix(kInboxTag, 1);
    std::unique_ptr<rocksdb::Iterator> it(part.db()->NewIterator(ScanOptions(), part.cf(kBands)));
    std::string bucket, first;
    uint64_t members = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view key = View(it->key());
      if (key.size() <= kBucketBytes) {
        return absl::DataLossError(absl::StrCat("short band key in ", part.path()));
      }
      const std::string_view b = key.substr(0, kBucketBytes), x = key.substr(kBucketBytes);
      if (members == 0 || b != bucket) {
        bucket.assign(b);
        first.assign(x);
        members = 1;
        continue;
      }
      if (members == 1) {
        ++counts_[p].shared_buckets;
        WINNOW_RETURN_IF_ERROR(out.Put(p, kWork, Tagged(kMemberTag, bucket), first));
        WINNOW_RETURN_IF_ERROR(out.Put(p, kWork, Tagged(kMemberTag, bucket, first), ""));
        WINNOW_RETURN_IF_ERROR(
            out.Merge(Owner(first), kWork, Tagged(kMembershipTag, first), bucket));
      }
      ++members;
      const int owner = Owner(x);
      WINNOW_RETURN_IF_ERROR(out.Put(p, kWork, Tagged(kMemberTag, bucket, x), ""));
      WINNOW_RETURN_IF_ERROR(out.Merge(owner, kWork, Tagged(kMembershipTag, x), bucket));
      WINNOW_RETURN_IF_ERROR(out.Merge(owner, kWork, Cat(inbox, x), first));
    }
    return FromRocks(it->status(), absl::StrCat("scanning ", part.path()));
  }

  // Each document of partition q with proposals in this round takes the smallest if it beats
  // its label, follows that label's own label (read from the snapshots: the state before this
  // step), and reports the new label to its shared buckets.
  absl::Status DocStep(int q, uint32_t round,
                       const std::vector<const rocksdb::Snapshot*>& snapshots, Fanout& out) {
    const Partition& part = *parts_[q];
    const std::string dirty = RoundPrefix(kDirtyTag, round);
    PrefixIterator inbox(part, kWork, RoundPrefix(kInboxTag, round));
    rocksdb::ReadOptions at_snapshot;
    at_snapshot.snapshot = snapshots[q];
    AscendingReader labels(part, kResults, at_snapshot);
    AscendingReader memberships(part, kWork, rocksdb::ReadOptions());
    std::string best;
    rocksdb::PinnableSlice jumped;
    for (inbox.SeekToFirst(); inbox.Valid(); inbox.Next()) {
      const std::string_view x = inbox.rest(), proposal = inbox.value();
      absl::StatusOr<std::optional<std::string_view>> label = labels.Find(Tagged(kLabelTag, x));
      if (!label.ok()) return label.status();
      if (proposal >= label->value_or(x)) continue;
      best.assign(proposal);
      for (int hop = 0; hop < options_.max_label_jumps; ++hop) {
        const int r = Owner(best);
        rocksdb::ReadOptions read;
        read.snapshot = snapshots[r];
        jumped.Reset();
        rocksdb::Status s =
            parts_[r]->db()->Get(read, parts_[r]->cf(kResults), Tagged(kLabelTag, best), &jumped);
        if (s.IsNotFound()) break;
        if (!s.ok()) return FromRocks(s, absl::StrCat("reading ", parts_[r]->path()));
        if (View(jumped) >= best) break;
        best.assign(jumped.data(), jumped.size());
      }
      WINNOW_RETURN_IF_ERROR(out.Put(q, kResults, Tagged(kLabelTag, x), best));
      absl::StatusOr<std::optional<std::string_view>> buckets =
          memberships.Find(Tagged(kMembershipTag, x));
      if (!buckets.ok()) return buckets.status();
      if (!buckets->has_value() || (*buckets)->size() % kBucketBytes != 0) {
        return absl::DataLossError(absl::StrCat("missing shared buckets in ", part.path()));
      }
      for (std::string_view rest = **buckets; !rest.empty(); rest.remove_prefix(kBucketBytes)) {
        const std::string_view b = rest.substr(0, kBucketBytes);
        WINNOW_RETURN_IF_ERROR(out.Merge(Owner(b), kWork, Cat(dirty, b), best));
      }
      ++counts_[q].changed;
    }
    // Round r's proposals stay until Finalize ends: clearing them every round would pile up
    // range tombstones that every later read has to go through.
    return inbox.status();
  }

  // Each shared bucket of partition p whose smallest member label fell in this round takes the
  // new label and proposes it, for the next round, to all its members (streamed, so no bucket
  // is held in memory; members already there ignore it). Dirty buckets and the member lists
  // are both in bucket order: one forward walk.
  absl::Status BucketStep(int p, uint32_t round, Fanout& out) {
    const Partition& part = *parts_[p];
    const std::string next_inbox = RoundPrefix(kInboxTag, round + 1);
    PrefixIterator dirty(part, kWork, RoundPrefix(kDirtyTag, round));
    PrefixIterator members(part, kWork, std::string(1, kMemberTag), rocksdb::ReadOptions());
    std::string head;
    for (dirty.SeekToFirst(); dirty.Valid(); dirty.Next()) {
      const std::string_view label = dirty.value();
      head = Tagged(kMemberTag, dirty.rest());
      members.SeekForward(head);
      WINNOW_RETURN_IF_ERROR(members.status());
      if (!members.Valid() || members.key() != head) {
        return absl::DataLossError(absl::StrCat("missing bucket label in ", part.path()));
      }
      if (label >= members.value()) continue;
      WINNOW_RETURN_IF_ERROR(out.Put(p, kWork, head, label));
      for (members.Next(); members.Valid() && members.key().starts_with(head); members.Next()) {
        const std::string_view x = members.key().substr(head.size());
        WINNOW_RETURN_IF_ERROR(out.Merge(Owner(x), kWork, Cat(next_inbox, x), label));
      }
      WINNOW_RETURN_IF_ERROR(members.status());
    }
    return dirty.status();  // stays until Finalize ends, as the proposals do
  }

  // Counts documents, candidates and duplicates; adds each duplicate to its cluster's size.
  absl::Status CountStep(int q, Fanout& out) {
    const Partition& part = *parts_[q];
    const std::string one = EncodeFixed64(1);
    PrefixIterator labels(part, kResults, std::string(1, kLabelTag));
    for (labels.SeekToFirst(); labels.Valid(); labels.Next()) {
      ++counts_[q].duplicates;
      const std::string_view kept = labels.value();
      WINNOW_RETURN_IF_ERROR(out.Merge(Owner(kept), kResults, Tagged(kClusterTag, kept), one));
    }
    WINNOW_RETURN_IF_ERROR(labels.status());
    PrefixIterator memberships(part, kWork, std::string(1, kMembershipTag));
    for (memberships.SeekToFirst(); memberships.Valid(); memberships.Next()) {
      ++counts_[q].candidates;
    }
    WINNOW_RETURN_IF_ERROR(memberships.status());
    std::unique_ptr<rocksdb::Iterator> docs(part.db()->NewIterator(ScanOptions(), part.cf(kDocs)));
    for (docs->SeekToFirst(); docs->Valid(); docs->Next()) ++counts_[q].documents;
    return FromRocks(docs->status(), absl::StrCat("scanning ", part.path()));
  }

  absl::Status ClusterStep(int q) {
    PrefixIterator clusters(*parts_[q], kResults, std::string(1, kClusterTag));
    for (clusters.SeekToFirst(); clusters.Valid(); clusters.Next()) {
      ++counts_[q].clusters;
      ++counts_[q].cluster_sizes[DecodeFixed64(clusters.value()) + 1];
    }
    return clusters.status();
  }

  std::span<Partition* const> parts_;
  const FinalizeOptions& options_;
  tbb::task_arena arena_;
  std::vector<StepCounts> counts_;
  std::atomic<uint64_t> written_{0};
};

}  // namespace

absl::Status ClusterPartitions(std::span<Partition* const> partitions,
                               const FinalizeOptions& options, FinalizeReport* report) {
  const auto start = std::chrono::steady_clock::now();
  *report = FinalizeReport();
  Clustering clustering(partitions, options);
  WINNOW_RETURN_IF_ERROR(clustering.Run(report));
  report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return absl::OkStatus();
}

}  // namespace lsh_internal
}  // namespace winnow::pipeline
