#include "pipeline/run/dedup_stage.h"

#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace winnow::pipeline {
namespace {

constexpr std::string_view kMetaPrefix = "dedup/";
constexpr std::string_view kAllGroup = "*";

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The encoded-key prefix of a group's documents.
std::string GroupPrefix(const std::string& group) {
  if (group == kAllGroup) return "";
  return group + std::string(1, '\0');
}

std::string ShownGroup(const std::string& group) {
  if (group == kAllGroup) return "all snapshots";
  return group.empty() ? "(no snapshot)" : group;
}

// Settings that change the marks: everything of the dedup section but `threads` and memory.
std::string SettingsKey(const DedupConfig& config) {
  const DedupOptions& o = config.options;
  return absl::StrCat(config.scope, "|", o.exact, "|", o.near, "|", o.minhash.ngram, "|",
                      o.minhash.bands, "|", o.minhash.rows, "|", o.minhash.hash, "|",
                      o.minhash.seed);
}

// Feeds every document of `prefix` to `add` on `threads` workers (plain threads, so a TBB
// parallelism limit cannot starve them), in batches through a bounded queue.
absl::Status ParallelScan(
    DedupTarget& store, const std::string& prefix, int threads,
    const std::function<absl::Status(std::string_view key, std::string_view text)>& add) {
  struct Batch {
    std::vector<std::string> keys, texts;
    size_t bytes = 0;
  };
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<Batch> queue;
  bool finished = false;
  absl::Status first_error;
  const size_t max_queued = static_cast<size_t>(2 * std::max(1, threads));
  const auto work = [&](Batch& b) {
    absl::Status status;
    for (size_t i = 0; i < b.keys.size() && status.ok(); ++i) status = add(b.keys[i], b.texts[i]);
    if (!status.ok()) {
      std::lock_guard<std::mutex> lock(mutex);
      if (first_error.ok()) first_error = status;
    }
  };
  std::vector<std::thread> workers;
  for (int t = 0; t < std::max(1, threads); ++t) {
    workers.emplace_back([&] {
      for (;;) {
        Batch b;
        {
          std::unique_lock<std::mutex> lock(mutex);
          changed.wait(lock, [&] { return finished || !queue.empty(); });
          if (queue.empty()) return;
          b = std::move(queue.front());
          queue.pop_front();
        }
        changed.notify_all();
        work(b);
      }
    });
  }
  Batch batch;
  const auto submit = [&] {
    std::unique_lock<std::mutex> lock(mutex);
    changed.wait(lock, [&] { return queue.size() < max_queued; });
    queue.push_back(std::move(batch));
    batch = Batch();
    lock.unlock();
    changed.notify_all();
  };
  absl::Status scan = store.ScanTexts(prefix, [&](std::string_view key, std::string_view text) {
    batch.keys.emplace_back(key);
    batch.texts.emplace_back(text);
    batch.bytes += text.size();
    if (batch.keys.size() >= 256 || batch.bytes >= (4u << 20)) submit();
    std::lock_guard<std::mutex> lock(mutex);
    return first_error.ok();
  });
  if (!batch.keys.empty()) submit();
  {
    std::lock_guard<std::mutex> lock(mutex);
    finished = true;
  }
  changed.notify_all();
  for (std::thread& w : workers) w.join();
  if (!scan.ok()) return scan;
  return first_error;
}

struct GroupState {
  std::string digest;
  DedupReport report;
};

bool ParseState(std::string_view value, GroupState* state) {
  const nlohmann::json json = nlohmann::json::parse(value, nullptr, false);
  if (!json.is_object() || !json.contains("digest") || !json["digest"].is_string() ||
      !json.contains("report")) {
    return false;
  }
  state->digest = json["digest"].get<std::string>();
  return DedupReport::FromJson(json["report"], &state->report);
}

absl::Status DedupGroup(DedupTarget& store, const DedupConfig& config, const std::string& group,
                        const std::string& digest, const std::string& work_dir, int threads,
                        bool progress, DedupGroupResult* result) {
  const auto start = std::chrono::steady_clock::now();
  const std::string meta = std::string(kMetaPrefix) + group;
  if (absl::Status s = store.PutMeta(meta, std::nullopt); !s.ok()) return s;
  DedupOptions options = config.options;
  if (options.threads == 0) options.threads = threads;
  absl::StatusOr<std::unique_ptr<Deduplicator>> dedup = Deduplicator::Create(work_dir, options);
  if (!dedup.ok()) return dedup.status();
  Deduplicator& d = **dedup;
  const std::string prefix = GroupPrefix(group);
  const std::string shown = ShownGroup(group);
  if (progress) std::fprintf(stderr, "dedup %s: exact pass\n", shown.c_str());
  absl::Status s = ParallelScan(
      store, prefix, threads,
      [&d](std::string_view key, std::string_view text) { return d.AddExact(key, text); });
  if (s.ok()) s = d.FinishExact();
  if (s.ok() && progress) {
    std::fprintf(stderr, "dedup %s: %llu documents, %llu exact duplicates; MinHash pass\n",
                 shown.c_str(), static_cast<unsigned long long>(d.report().documents),
                 static_cast<unsigned long long>(d.report().exact_duplicates));
  }
  if (s.ok()) {
    s = ParallelScan(store, prefix, threads, [&d](std::string_view key, std::string_view text) {
      return d.AddNear(key, text);
    });
  }
  if (s.ok()) s = d.FinishNear();
  if (s.ok()) s = store.ClearDuplicates(prefix);
  if (s.ok()) {
    std::vector<std::pair<std::string, ShardStore::DuplicateMark>> marks;
    absl::Status written;
    s = d.ForEachDuplicate([&](std::string_view key, const Duplicate& duplicate) {
      marks.emplace_back(std::string(key),
                         ShardStore::DuplicateMark{std::string(DuplicateKindName(duplicate.kind)),
                                                   duplicate.kept});
      if (marks.size() >= 10000) {
        written = store.PutDuplicates(marks);
        marks.clear();
      }
      return written.ok();
    });
    if (s.ok()) s = written;
    if (s.ok() && !marks.empty()) s = store.PutDuplicates(marks);
  }
  if (s.ok()) {
    const nlohmann::json state = {{"digest", digest}, {"report", d.report().ToJson()}};
    s = store.PutMeta(meta, state.dump());
  }
  result->group = group;
  result->report = d.report();
  result->seconds = SecondsSince(start);
  const absl::Status cleanup = d.Cleanup();
  if (!s.ok()) return s;
  if (progress) {
    std::fprintf(stderr,
                 "dedup %s: %llu exact + %llu near duplicates marked in %llu clusters (%.1f s)\n",
                 shown.c_str(), static_cast<unsigned long long>(result->report.exact_duplicates),
                 static_cast<unsigned long long>(result->report.near_duplicates),
                 static_cast<unsigned long long>(result->report.clusters()), result->seconds);
  }
  return cleanup;
}

}  // namespace

namespace {

class StoreTargetImpl final : public DedupTarget {
 public:
  explicit StoreTargetImpl(ShardStore& store) : store_(store) {}
  absl::StatusOr<std::map<std::string, Stats>> InputStats() override { return store_.InputStats(); }
  absl::Status ScanTexts(
      const std::string& key_prefix,
      const std::function<bool(std::string_view key, std::string_view text)>& fn) override {
    return store_.ScanTexts(key_prefix, fn);
  }
  absl::Status ClearDuplicates(std::string_view key_prefix) override {
    return store_.ClearDuplicates(key_prefix);
  }
  absl::Status PutDuplicates(
      const std::vector<std::pair<std::string, ShardStore::DuplicateMark>>& marks) override {
    return store_.PutDuplicates(marks);
  }
  absl::Status PutMeta(std::string_view name, std::optional<std::string_view> value) override {
    return store_.PutMeta(name, value);
  }
  absl::Status ForEachMeta(
      std::string_view name_prefix,
      const std::function<bool(std::string_view name, std::string_view value)>& fn) override {
    return store_.ForEachMeta(name_prefix, fn);
  }

 private:
  ShardStore& store_;
};

}  // namespace

std::unique_ptr<DedupTarget> StoreTarget(ShardStore& store) {
  return std::make_unique<StoreTargetImpl>(store);
}

absl::StatusOr<std::vector<DedupGroupResult>> DedupStore(ShardStore& store,
                                                         const DedupConfig& config,
                                                         const std::string& work_dir, int threads,
                                                         bool progress) {
  std::unique_ptr<DedupTarget> target = StoreTarget(store);
  return DedupStore(*target, config, work_dir, threads, progress);
}

absl::StatusOr<std::vector<DedupGroupResult>> DedupStore(DedupTarget& store,
                                                         const DedupConfig& config,
                                                         const std::string& work_dir, int threads,
                                                         bool progress) {
  absl::StatusOr<std::map<std::string, Stats>> inputs = store.InputStats();
  if (!inputs.ok()) return inputs.status();
  // Groups now, with the digest of what they hold: their inputs and those inputs' stats.
  std::map<std::string, std::string> digests;
  if (config.enabled) {
    const std::string settings = SettingsKey(config);
    std::map<std::string, std::string> material;
    for (const auto& [key, stats] : *inputs) {  // keys are "snapshot\tinput", in order
      const std::string group =
          config.scope == "all" ? std::string(kAllGroup) : key.substr(0, key.find('\t'));
      std::string& m = material[group];
      if (m.empty()) m = settings;
      absl::StrAppend(&m, "\n", key, "\t", stats.ToJson().dump());
    }
    for (const auto& [group, m] : material) {
      digests[group] = absl::StrFormat("%016x", XXH3_64bits(m.data(), m.size()));
    }
  }
  // Stored states: stale groups (gone, or from another scope) lose their marks first.
  std::map<std::string, GroupState> stored;
  std::vector<std::string> stale;
  absl::Status status =
      store.ForEachMeta(kMetaPrefix, [&](std::string_view name, std::string_view value) {
        const std::string group(name.substr(kMetaPrefix.size()));
        GroupState state;
        if (!digests.contains(group) || !ParseState(value, &state)) {
          stale.push_back(group);
        } else {
          stored[group] = std::move(state);
        }
        return true;
      });
  if (!status.ok()) return status;
  const bool had_all = std::find(stale.begin(), stale.end(), kAllGroup) != stale.end();
  for (const std::string& group : stale) {
    if (absl::Status s = store.ClearDuplicates(GroupPrefix(group)); !s.ok()) return s;
    if (absl::Status s = store.PutMeta(std::string(kMetaPrefix) + group, std::nullopt); !s.ok()) {
      return s;
    }
  }
  if (had_all) stored.clear();  // its marks covered every group: redo them all
  if (!config.enabled) {
    if (absl::Status s = store.ClearDuplicates(""); !s.ok()) return s;
    return std::vector<DedupGroupResult>();
  }
  std::vector<DedupGroupResult> results;
  for (const auto& [group, digest] : digests) {
    DedupGroupResult result;
    auto it = stored.find(group);
    if (it != stored.end() && it->second.digest == digest) {
      result.group = group;
      result.report = it->second.report;
      result.up_to_date = true;
      results.push_back(std::move(result));
      continue;
    }
    if (absl::Status s =
            DedupGroup(store, config, group, digest, work_dir, threads, progress, &result);
        !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("deduplicating ", ShownGroup(group), ": ",
                                                 std::string(s.message())));
    }
    results.push_back(std::move(result));
  }
  return results;
}

absl::StatusOr<std::map<std::string, DedupReport>> StoredDedupReports(ShardStore& store) {
  std::map<std::string, DedupReport> reports;
  absl::Status status =
      store.ForEachMeta(kMetaPrefix, [&](std::string_view name, std::string_view value) {
        GroupState state;
        if (ParseState(value, &state))
          reports[std::string(name.substr(kMetaPrefix.size()))] = state.report;
        return true;
      });
  if (!status.ok()) return status;
  return reports;
}

std::string FormatDedupSummary(const std::map<std::string, DedupReport>& reports) {
  if (reports.empty()) return "";
  std::string out = "\ndeduplication (exact text hash, then MinHash LSH; the smallest key kept)\n";
  absl::StrAppendFormat(&out, "  %-24s %12s %12s %12s %12s %12s\n", "group", "documents",
                        "exact dups", "near dups", "kept", "clusters");
  for (const auto& [group, r] : reports) {
    absl::StrAppendFormat(&out, "  %-24s %12d %12d %12d %12d %12d\n", ShownGroup(group),
                          r.documents, r.exact_duplicates, r.near_duplicates,
                          r.documents - r.duplicates(), r.clusters());
  }
  for (const auto& [group, r] : reports) {
    if (r.cluster_sizes.empty()) continue;
    // Sizes 2–9 one by one, then powers of ten: "size: clusters".
    std::map<uint64_t, uint64_t> bins;
    for (const auto& [size, count] : r.cluster_sizes) {
      uint64_t bin = size;
      if (size >= 10) {
        bin = 10;
        while (bin * 10 <= size) bin *= 10;
      }
      bins[bin] += count;
    }
    absl::StrAppendFormat(&out, "  cluster sizes, %s:", ShownGroup(group));
    for (const auto& [bin, count] : bins) {
      if (bin < 10) {
        absl::StrAppendFormat(&out, "  %d: %d", bin, count);
      } else {
        absl::StrAppendFormat(&out, "  %d–%d: %d", bin, bin * 10 - 1, count);
      }
    }
    out += "\n";
  }
  return out;
}

}  // namespace winnow::pipeline
