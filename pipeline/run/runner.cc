#include "pipeline/run/runner.h"

#include <tbb/global_control.h>
#include <tbb/parallel_pipeline.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "pipeline/io/inputs.h"
#include "pipeline/io/latest_snapshot.h"
#include "pipeline/run/page.h"
#include "pipeline/run/task.h"
#include "pipeline/store/shard_store.h"
#include "pipeline/warc/gzip_reader.h"

namespace winnow::pipeline {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Writes a progress line at most every two seconds.
class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled), tty_(isatty(STDERR_FILENO) != 0) {}
  void Update(const std::string& label, const Stats& stats, uint64_t bytes, double seconds,
              bool final) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (!final && now - last_ < std::chrono::seconds(2)) return;
    last_ = now;
    const double mb = static_cast<double>(bytes) / 1e6;
    std::string line = absl::StrFormat(
        "%s  %lld records  %lld documents  %.1f MB  %.1f MB/s  %.0f records/s", label,
        static_cast<long long>(stats.Count("read/records")),
        static_cast<long long>(stats.Count("write/kept")), mb, seconds > 0 ? mb / seconds : 0,
        seconds > 0 ? static_cast<double>(stats.Count("read/records")) / seconds : 0);
    if (tty_ && !final) {
      std::fprintf(stderr, "\r%s\033[K", line.c_str());
    } else {
      std::fprintf(stderr, "%s%s\n", tty_ ? "\r" : "", line.c_str());
    }
    std::fflush(stderr);
  }

 private:
  bool enabled_;
  bool tty_;
  Clock::time_point last_ = Clock::now();
};

// Runs one input file into the store: ProcessInput (task.h), then one atomic commit.
absl::Status RunInput(const InputFile& input, const std::string& label, const RunConfig& config,
                      const std::vector<std::unique_ptr<Filter>>& filters, int threads,
                      ShardStore& store, Progress& progress, Stats* stats) {
  std::unique_ptr<ShardStore::InputWriter> writer =
      store.StartInput(input.snapshot, input.location);
  const auto start = Clock::now();
  absl::Status status =
      ProcessInput(input, config, filters, threads, writer.get(), stats,
                   [&](const Stats& so_far, uint64_t bytes, bool final) {
                     progress.Update(label, so_far, bytes, SecondsSince(start), final);
                   });
  if (!status.ok()) return status;  // not committed: the input is retried next run
  return writer->Commit(*stats);
}

absl::Status SaveConfig(const std::string& data_dir, const std::string& yaml) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", data_dir, ": ", ec.message()));
  const std::string path = data_dir + "/config.yaml";
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << yaml;
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot write ", path, ": ", ec.message()));
  return absl::OkStatus();
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// One line per run in DATA_DIR/runs.jsonl (the dashboard's run list): when, how long, how much.
void AppendRunLog(const std::string& data_dir, const RunReport& report) {
  const std::time_t now = std::time(nullptr);
  char when[32];
  std::strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  const nlohmann::json line = {{"finished", when},
                               {"seconds", report.seconds},
                               {"inputs", report.per_input.size()},
                               {"skipped", report.skipped_inputs.size()},
                               {"failed", report.failed_inputs.size()},
                               {"records", report.total.Count("read/records")},
                               {"documents", report.total.Count("write/kept")},
                               {"bytes", report.total.Count("read/bytes")}};
  std::ofstream out(data_dir + "/runs.jsonl", std::ios::app);
  out << line.dump() << "\n";
}

}  // namespace

absl::StatusOr<RunReport> Run(const RunOptions& options, const RunConfig& config,
                              const std::vector<std::unique_ptr<Filter>>& filters) {
  const auto start = Clock::now();
  std::vector<std::string> args = options.inputs;
  std::string snapshot = options.snapshot;
  if (!snapshot.empty()) {
    absl::StatusOr<std::string> resolved = ResolveSnapshotName(snapshot, config.fetch);
    if (!resolved.ok()) return resolved.status();
    snapshot = *resolved;
  }
  if (!snapshot.empty() && args.empty()) {
    absl::StatusOr<std::string> paths = SnapshotPathsUrl(snapshot);
    if (!paths.ok()) return paths.status();
    args.push_back(*paths);
  }
  if (args.empty())
    return absl::InvalidArgumentError("no input: give files, folders, URLs or --snapshot");
  absl::StatusOr<std::vector<InputFile>> inputs = ExpandInputs(
      args, config.fetch, [](std::unique_ptr<ByteStream> s) { return MaybeGunzip(std::move(s)); });
  if (!inputs.ok()) return inputs.status();
  if (inputs->empty()) return absl::InvalidArgumentError("the inputs hold no crawl files");
  for (InputFile& input : *inputs) {
    if (input.snapshot.empty()) input.snapshot = snapshot;
  }
  if (options.limit >= 0 && static_cast<int64_t>(inputs->size()) > options.limit) {
    inputs->resize(static_cast<size_t>(options.limit));
  }

  absl::StatusOr<std::unique_ptr<ShardStore>> store =
      ShardStore::Open(options.data_dir, config.store);
  if (!store.ok()) return store.status();

  // Inputs already stored under the same config are done; a changed config redoes everything.
  // Dedup settings do not count: they change the marks, which the dedup stage redoes itself.
  const std::string yaml = ConfigToYaml(config);
  const std::string saved_yaml = ReadFileOrEmpty(options.data_dir + "/config.yaml");
  const absl::StatusOr<RunConfig> saved = ParseConfig(saved_yaml, "config.yaml");
  const bool same_config =
      !saved_yaml.empty() && saved.ok() &&
      ConfigToYaml(*saved, /*with_dedup=*/false) == ConfigToYaml(config, /*with_dedup=*/false);
  if (absl::Status s = SaveConfig(options.data_dir, yaml); !s.ok()) return s;

  const int threads = options.threads > 0
                          ? options.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                            static_cast<size_t>(threads));
  Progress progress(options.progress);
  RunReport report;
  for (size_t i = 0; i < inputs->size(); ++i) {
    const InputFile& input = (*inputs)[i];
    if (same_config && !options.redo) {
      absl::StatusOr<bool> done = (*store)->HasInput(input.snapshot, input.location);
      if (!done.ok()) return done.status();
      if (*done) {
        report.skipped_inputs.push_back(input.location);
        continue;
      }
    }
    const std::string label =
        absl::StrFormat("[%d/%d] %s", i + 1, inputs->size(),
                        std::filesystem::path(input.location).filename().string());
    Stats stats;
    absl::Status s = RunInput(input, label, config, filters, threads, **store, progress, &stats);
    if (!s.ok()) {
      if (options.progress)
        std::fprintf(stderr, "%s: FAILED: %s\n", label.c_str(), s.ToString().c_str());
      report.failed_inputs.emplace_back(input.location, s.ToString());
      continue;
    }
    report.total.Merge(stats);
    report.per_input.emplace_back(input.location, std::move(stats));
  }
  absl::StatusOr<std::vector<DedupGroupResult>> dedup = DedupStore(
      **store, config.dedup, options.data_dir + "/dedup-work", threads, options.progress);
  if (!dedup.ok()) return dedup.status();
  report.dedup = std::move(*dedup);
  if (absl::Status s = (*store)->WriteStatsJson(); !s.ok()) return s;
  report.seconds = SecondsSince(start);
  AppendRunLog(options.data_dir, report);
  return report;
}

}  // namespace winnow::pipeline
