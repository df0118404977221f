#include "pipeline/dedup/deduplicator.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "pipeline/dedup/text_hash.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace winnow::pipeline {
namespace {

namespace fs = std::filesystem;

constexpr const char* kMarkerName = "WINNOW_DEDUP_WORK";  // tells Create the dir is ours

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Cluster listing keys: escape(kept) "\0\0" then "\0" for the kept member itself or "\1" + doc
// key for a duplicate. The escape (NUL → NUL 0x01) keeps the bytewise order of kept keys.
std::string EscapeKey(std::string_view key) {
  std::string out;
  out.reserve(key.size() + 2);
  for (char c : key) {
    out.push_back(c);
    if (c == '\0') out.push_back('\1');
  }
  out.append("\0\0", 2);
  return out;
}

// Splits a listing key into the escaped-kept prefix (with its terminator) and the member part.
bool SplitListingKey(std::string_view key, std::string_view* prefix, std::string* kept,
                     std::string_view* member) {
  kept->clear();
  for (size_t i = 0; i + 1 < key.size(); ++i) {
    if (key[i] != '\0') {
      kept->push_back(key[i]);
      continue;
    }
    if (key[i + 1] == '\1') {
      kept->push_back('\0');
      ++i;
      continue;
    }
    if (key[i + 1] != '\0') return false;
    *prefix = key.substr(0, i + 2);
    *member = key.substr(i + 2);
    return !member->empty();
  }
  return false;
}

absl::Status FromRocks(const rocksdb::Status& status, std::string_view what) {
  if (status.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(std::string(what), ": ", status.ToString()));
}

}  // namespace

absl::Status ValidateDedupOptions(const DedupOptions& options) {
  if (absl::Status status = ValidateMinHashOptions(options.minhash); !status.ok()) return status;
  if (options.num_partitions < 1 || options.num_partitions > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("dedup num_partitions must be in [1, 1024], not ", options.num_partitions));
  }
  if (options.memory_mib < 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("dedup memory_mib must be at least 8, not ", options.memory_mib));
  }
  if (options.threads < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("dedup threads must be 0 (all cores) or more, not ", options.threads));
  }
  return absl::OkStatus();
}

std::string_view DuplicateKindName(DuplicateKind kind) {
  return kind == DuplicateKind::kExact ? "exact" : "near";
}

bool ParseDuplicateKind(std::string_view name, DuplicateKind* kind) {
  if (name == "exact") {
    *kind = DuplicateKind::kExact;
  } else if (name == "near") {
    *kind = DuplicateKind::kNear;
  } else {
    return false;
  }
  return true;
}

uint64_t DedupReport::clusters() const {
  uint64_t total = 0;
  for (const auto& [size, count] : cluster_sizes) total += count;
  return total;
}

nlohmann::json DedupReport::ToJson() const {
  nlohmann::json sizes = nlohmann::json::object();
  for (const auto& [size, count] : cluster_sizes) sizes[std::to_string(size)] = count;
  return {{"documents", documents},
          {"exact_duplicates", exact_duplicates},
          {"exact_clusters", exact_clusters},
          {"near_candidates", near_candidates},
          {"near_duplicates", near_duplicates},
          {"near_clusters", near_clusters},
          {"clusters", clusters()},
          {"cluster_sizes", sizes},
          {"exact_seconds", exact_seconds},
          {"near_seconds", near_seconds}};
}

bool DedupReport::FromJson(const nlohmann::json& json, DedupReport* report) {
  if (!json.is_object()) return false;
  try {
    DedupReport r;
    r.documents = json.at("documents").get<uint64_t>();
    r.exact_duplicates = json.at("exact_duplicates").get<uint64_t>();
    r.exact_clusters = json.at("exact_clusters").get<uint64_t>();
    r.near_candidates = json.at("near_candidates").get<uint64_t>();
    r.near_duplicates = json.at("near_duplicates").get<uint64_t>();
    r.near_clusters = json.at("near_clusters").get<uint64_t>();
    for (const auto& [size, count] : json.at("cluster_sizes").items()) {
      r.cluster_sizes[std::stoull(size)] = count.get<uint64_t>();
    }
    r.exact_seconds = json.value("exact_seconds", 0.0);
    r.near_seconds = json.value("near_seconds", 0.0);
    *report = std::move(r);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

Deduplicator::Deduplicator(std::string work_dir, DedupOptions options, MinHasher hasher)
    : work_dir_(std::move(work_dir)), options_(std::move(options)), hasher_(std::move(hasher)) {}

Deduplicator::~Deduplicator() = default;

absl::StatusOr<std::unique_ptr<Deduplicator>> Deduplicator::Create(const std::string& work_dir,
                                                                   const DedupOptions& options) {
  if (absl::Status status = ValidateDedupOptions(options); !status.ok()) return status;
  std::error_code ec;
  const fs::path dir(work_dir);
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    if (!fs::exists(dir / kMarkerName, ec)) {
      return absl::FailedPreconditionError(
          absl::StrCat("dedup work dir ", work_dir,
                       " is not empty and not a dedup work dir; refusing to clear it"));
    }
    fs::remove_all(dir, ec);
    if (ec) {
      return absl::InternalError(absl::StrCat("cannot clear ", work_dir, ": ", ec.message()));
    }
  }
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", work_dir, ": ", ec.message()));
  std::ofstream(dir / kMarkerName) << "scratch space of a deduplication; safe to remove\n";

  auto dedup = std::unique_ptr<Deduplicator>(
      new Deduplicator(work_dir, options, MinHasher(options.minhash)));
  const int indexes = (options.exact ? 1 : 0) + (options.near ? 1 : 0);
  LshIndexOptions index_options;
  index_options.num_partitions = options.num_partitions;
  index_options.memory_budget_bytes = (options.memory_mib << 20) /
                                      static_cast<size_t>(std::max(1, indexes)) /
                                      static_cast<size_t>(options.num_partitions);
  index_options.write_ahead_log = false;  // scratch: a crash redoes the whole deduplication
  if (options.exact) {
    index_options.bands = 1;
    auto index = LshIndex::Open((dir / "exact").string(), index_options);
    if (!index.ok()) return index.status();
    dedup->exact_ = std::move(*index);
  }
  if (options.near) {
    index_options.bands = options.minhash.bands;
    auto index = LshIndex::Open((dir / "near").string(), index_options);
    if (!index.ok()) return index.status();
    dedup->near_ = std::move(*index);
  }
  return dedup;
}

absl::Status Deduplicator::AddExact(std::string_view doc_key, std::string_view text) {
  if (exact_done_) return absl::FailedPreconditionError("AddExact after FinishExact");
  if (!options_.exact) return absl::OkStatus();
  return exact_->Add(doc_key, {ExactTextHash(text)});
}

absl::Status Deduplicator::FinishExact() {
  if (exact_done_) return absl::OkStatus();
  exact_done_ = true;
  if (!options_.exact) return absl::OkStatus();
  FinalizeOptions finalize;
  finalize.threads = options_.threads;
  FinalizeReport exact;
  const auto start = std::chrono::steady_clock::now();
  if (absl::Status status = exact_->Finalize(finalize, &exact); !status.ok()) return status;
  report_.exact_seconds = SecondsSince(start);
  report_.documents = exact.documents;
  report_.exact_duplicates = exact.duplicates;
  report_.exact_clusters = exact.clusters;
  return absl::OkStatus();
}

absl::Status Deduplicator::AddNear(std::string_view doc_key, std::string_view text) {
  if (!exact_done_) return absl::FailedPreconditionError("AddNear before FinishExact");
  if (near_done_) return absl::FailedPreconditionError("AddNear after FinishNear");
  if (!options_.exact) documents_.fetch_add(1, std::memory_order_relaxed);
  if (!options_.near) return absl::OkStatus();
  if (options_.exact) {
    absl::StatusOr<std::optional<std::string>> copy = exact_->DuplicateOf(doc_key);
    if (!copy.ok()) return copy.status();
    if (copy->has_value()) return absl::OkStatus();  // its kept copy stands for it
  }
  const std::vector<uint64_t> keys = hasher_.BandKeys(hasher_.Signature(text));
  if (keys.empty()) return absl::OkStatus();  // too few words to shingle: never a near copy
  near_candidates_.fetch_add(1, std::memory_order_relaxed);
  return near_->Add(doc_key, keys);
}

absl::Status Deduplicator::FinishNear() {
  if (!exact_done_) return absl::FailedPreconditionError("FinishNear before FinishExact");
  if (near_done_) return absl::OkStatus();
  near_done_ = true;
  if (!options_.exact) report_.documents = documents_.load();
  report_.near_candidates = near_candidates_.load();
  if (options_.near) {
    FinalizeOptions finalize;
    finalize.threads = options_.threads;
    FinalizeReport near;
    const auto start = std::chrono::steady_clock::now();
    if (absl::Status status = near_->Finalize(finalize, &near); !status.ok()) return status;
    report_.near_seconds = SecondsSince(start);
    report_.near_duplicates = near.duplicates;
    report_.near_clusters = near.clusters;
  }
  return FinishClusters();
}

// An exact duplicate's kept copy may itself be a near duplicate: the document kept in its place.
absl::StatusOr<std::string> Deduplicator::FinalKept(std::string exact_kept) {
  if (!options_.near) return exact_kept;
  absl::StatusOr<std::optional<std::string>> near_kept = near_->DuplicateOf(exact_kept);
  if (!near_kept.ok()) return near_kept.status();
  return near_kept->has_value() ? std::move(**near_kept) : std::move(exact_kept);
}

absl::StatusOr<std::optional<Duplicate>> Deduplicator::DuplicateOf(std::string_view doc_key) {
  if (!near_done_) return absl::FailedPreconditionError("DuplicateOf before FinishNear");
  if (options_.exact) {
    absl::StatusOr<std::optional<std::string>> copy = exact_->DuplicateOf(doc_key);
    if (!copy.ok()) return copy.status();
    if (copy->has_value()) {
      absl::StatusOr<std::string> kept = FinalKept(std::move(**copy));
      if (!kept.ok()) return kept.status();
      return std::optional<Duplicate>(Duplicate{DuplicateKind::kExact, std::move(*kept)});
    }
  }
  if (options_.near) {
    absl::StatusOr<std::optional<std::string>> kept = near_->DuplicateOf(doc_key);
    if (!kept.ok()) return kept.status();
    if (kept->has_value()) {
      return std::optional<Duplicate>(Duplicate{DuplicateKind::kNear, std::move(**kept)});
    }
  }
  return std::optional<Duplicate>();
}

absl::Status Deduplicator::ForEachDuplicate(
    const std::function<bool(std::string_view doc_key, const Duplicate& duplicate)>& fn) {
  if (!near_done_) return absl::FailedPreconditionError("ForEachDuplicate before FinishNear");
  bool more = true;
  absl::Status inner;
  if (options_.exact) {
    absl::Status status =
        exact_->ForEachDuplicate([&](std::string_view doc_key, std::string_view kept) {
          absl::StatusOr<std::string> final_kept = FinalKept(std::string(kept));
          if (!final_kept.ok()) {
            inner = final_kept.status();
            return false;
          }
          more = fn(doc_key, Duplicate{DuplicateKind::kExact, std::move(*final_kept)});
          return more;
        });
    if (!inner.ok()) return inner;
    if (!status.ok() || !more) return status;
  }
  if (options_.near) {
    return near_->ForEachDuplicate([&](std::string_view doc_key, std::string_view kept) {
      return fn(doc_key, Duplicate{DuplicateKind::kNear, std::string(kept)});
    });
  }
  return absl::OkStatus();
}

// Lists every duplicate under its final kept key in a scratch RocksDB, so clusters can be
// streamed grouped and in order without holding them, and counts the final cluster sizes.
absl::Status Deduplicator::FinishClusters() {
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.error_if_exists = true;
  rocksdb::DB* raw = nullptr;
  const std::string path = (fs::path(work_dir_) / "clusters").string();
  if (absl::Status status = FromRocks(rocksdb::DB::Open(db_options, path, &raw), path);
      !status.ok()) {
    return status;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions write_options;
  write_options.disableWAL = true;
  rocksdb::WriteBatch batch;
  absl::Status written;
  const auto flush = [&]() {
    if (written.ok()) written = FromRocks(db->Write(write_options, &batch), path);
    batch.Clear();
  };
  absl::Status status = ForEachDuplicate([&](std::string_view doc_key, const Duplicate& dup) {
    const std::string prefix = EscapeKey(dup.kept);
    const char kind = dup.kind == DuplicateKind::kExact ? 'e' : 'n';
    batch.Put(prefix + std::string(1, '\0'), "k").PermitUncheckedError();
    batch.Put(prefix + "\1" + std::string(doc_key), std::string_view(&kind, 1))
        .PermitUncheckedError();
    if (batch.GetDataSize() > (1u << 20)) flush();
    return written.ok();
  });
  flush();
  if (!status.ok()) return status;
  if (!written.ok()) return written;

  // Final sizes: one pass over the listing.
  report_.cluster_sizes.clear();
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  std::string current, kept;
  uint64_t size = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view prefix, member;
    const std::string_view key(it->key().data(), it->key().size());
    if (!SplitListingKey(key, &prefix, &kept, &member)) {
      return absl::InternalError(absl::StrCat("bad cluster listing key in ", path));
    }
    if (prefix != current) {
      if (size >= 2) ++report_.cluster_sizes[size];
      current.assign(prefix);
      size = 0;
    }
    ++size;
  }
  if (size >= 2) ++report_.cluster_sizes[size];
  return FromRocks(it->status(), path);
}

absl::Status Deduplicator::ForEachCluster(
    const std::function<bool(std::string_view kept, uint64_t size)>& begin,
    const std::function<bool(std::string_view doc_key, const Duplicate* duplicate)>& member) {
  if (!near_done_) return absl::FailedPreconditionError("ForEachCluster before FinishNear");
  rocksdb::Options db_options;
  rocksdb::DB* raw = nullptr;
  const std::string path = (fs::path(work_dir_) / "clusters").string();
  if (absl::Status status = FromRocks(rocksdb::DB::OpenForReadOnly(db_options, path, &raw), path);
      !status.ok()) {
    return status;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  // Two iterators: one counts a cluster's size ahead of the one that streams its members.
  std::unique_ptr<rocksdb::Iterator> ahead(db->NewIterator(rocksdb::ReadOptions()));
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  std::string kept, ignored;
  std::string_view prefix, member_part;
  for (it->SeekToFirst(); it->Valid();) {
    const std::string_view key(it->key().data(), it->key().size());
    if (!SplitListingKey(key, &prefix, &kept, &member_part)) {
      return absl::InternalError(absl::StrCat("bad cluster listing key in ", path));
    }
    const std::string cluster(prefix);
    uint64_t size = 0;
    for (ahead->Seek(cluster); ahead->Valid() && ahead->key().starts_with(cluster); ahead->Next()) {
      ++size;
    }
    if (!begin(kept, size)) return absl::OkStatus();
    for (; it->Valid() && it->key().starts_with(cluster); it->Next()) {
      const std::string_view member_key =
          std::string_view(it->key().data(), it->key().size()).substr(cluster.size());
      if (member_key.size() == 1 && member_key[0] == '\0') {
        if (!member(kept, nullptr)) return absl::OkStatus();
        continue;
      }
      Duplicate duplicate;
      duplicate.kind = it->value().ToString() == "e" ? DuplicateKind::kExact : DuplicateKind::kNear;
      duplicate.kept = kept;
      if (!member(member_key.substr(1), &duplicate)) return absl::OkStatus();
    }
  }
  if (absl::Status status = FromRocks(ahead->status(), path); !status.ok()) return status;
  return FromRocks(it->status(), path);
}

absl::Status Deduplicator::Cleanup() {
  absl::Status status;
  if (exact_ != nullptr) status.Update(exact_->Close());
  if (near_ != nullptr) status.Update(near_->Close());
  exact_.reset();
  near_.reset();
  std::error_code ec;
  fs::remove_all(work_dir_, ec);
  if (ec && status.ok()) {
    status = absl::InternalError(absl::StrCat("cannot remove ", work_dir_, ": ", ec.message()));
  }
  return status;
}

}  // namespace winnow::pipeline
