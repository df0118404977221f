#include "pipeline/run/runner.h"

#include <tbb/global_control.h>
#include <tbb/parallel_pipeline.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "pipeline/io/inputs.h"
#include "pipeline/io/latest_snapshot.h"
#include "pipeline/run/page.h"
#include "pipeline/store/shard_store.h"
#include "pipeline/warc/gzip_reader.h"

namespace winnow::pipeline {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Counts the bytes that pass through, for progress and MB/s figures.
class CountingStream final : public ByteStream {
 public:
  CountingStream(std::unique_ptr<ByteStream> inner, std::atomic<uint64_t>* bytes)
      : inner_(std::move(inner)), bytes_(bytes) {}
  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    absl::StatusOr<size_t> got = inner_->Read(buf, n);
    if (got.ok()) bytes_->fetch_add(*got, std::memory_order_relaxed);
    return got;
  }
  const std::string& name() const override { return inner_->name(); }

 private:
  std::unique_ptr<ByteStream> inner_;
  std::atomic<uint64_t>* bytes_;
};

// One record in flight through the task pipeline.
struct Item {
  WarcRecord record;
  Document doc;
  PageOutcome outcome;
  std::string filter;  // the filter that dropped the document, when one did
  std::string filter_reason;
};

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

// Runs one input file: records are read in order, pages processed in parallel, results written
// in order to one InputWriter and committed at the end.
absl::Status RunInput(const InputFile& input, const std::string& label, const RunConfig& config,
                      const std::vector<std::unique_ptr<Filter>>& filters, int threads,
                      ShardStore& store, Progress& progress, Stats* stats) {
  absl::StatusOr<std::unique_ptr<ByteStream>> raw = OpenInput(input.location, config.fetch);
  if (!raw.ok()) return raw.status();
  std::atomic<uint64_t> bytes{0};
  std::unique_ptr<RecordReader> reader =
      RecordReader::Open(std::make_unique<CountingStream>(std::move(*raw), &bytes), config.reader);
  std::unique_ptr<ShardStore::InputWriter> writer =
      store.StartInput(input.snapshot, input.location);

  // URL-only filters run before extraction (see page.h); the others on the extracted text.
  std::vector<const Filter*> url_filters, text_filters;
  for (const auto& filter : filters) {
    (filter->UrlOnly() ? url_filters : text_filters).push_back(filter.get());
  }

  absl::Status read_error;
  const auto start = Clock::now();
  tbb::parallel_pipeline(
      static_cast<size_t>(threads) * 4,
      tbb::make_filter<void, std::shared_ptr<Item>>(
          tbb::filter_mode::serial_in_order,
          [&](tbb::flow_control& fc) -> std::shared_ptr<Item> {
            auto item = std::make_shared<Item>();
            absl::StatusOr<bool> more = reader->Next(&item->record, stats);
            if (!more.ok()) read_error = more.status();
            if (!more.ok() || !*more) {
              fc.stop();
              return nullptr;
            }
            return item;
          }) &
          tbb::make_filter<std::shared_ptr<Item>, std::shared_ptr<Item>>(
              tbb::filter_mode::parallel,
              [&](std::shared_ptr<Item> item) {
                item->doc.key.snapshot = input.snapshot;
                item->doc.key.input = input.location;
                item->outcome =
                    RecordToDocument(item->record, config.extract, &item->doc, url_filters);
                item->record.block.clear();
                item->record.block.shrink_to_fit();
                if (item->outcome.kind != PageOutcome::Kind::kDocument) return item;
                for (const Filter* filter : text_filters) {
                  Verdict verdict = filter->Check(&item->doc);
                  if (!verdict.kept) {
                    item->filter = std::string(filter->name());
                    item->filter_reason = std::move(verdict.reason);
                    break;
                  }
                }
                return item;
              }) &
          tbb::make_filter<std::shared_ptr<Item>, void>(
              tbb::filter_mode::serial_in_order, [&](std::shared_ptr<Item> item) {
                const PageOutcome& outcome = item->outcome;
                if (outcome.url_checked) {  // the URL-only filters ran, in order, until one dropped
                  for (const Filter* filter : url_filters) {
                    const std::string name(filter->name());
                    if (name == outcome.filter) break;
                    stats->Add(name + "/kept");
                  }
                }
                switch (outcome.kind) {
                  case PageOutcome::Kind::kSkipped:
                    stats->Add("read/skipped/" + outcome.reason);
                    break;
                  case PageOutcome::Kind::kDropped:
                    stats->Add("extract/dropped/" + outcome.reason);
                    break;
                  case PageOutcome::Kind::kFiltered:
                    stats->Add(absl::StrCat(outcome.filter, "/dropped/", outcome.reason));
                    writer->AddDropped(item->doc, outcome.filter, outcome.reason);
                    break;
                  case PageOutcome::Kind::kDocument:
                    stats->Add("extract/kept");
                    stats->Observe("extract/chars", static_cast<double>(item->doc.text.size()));
                    for (const Filter* filter : text_filters) {
                      const std::string name(filter->name());
                      if (name == item->filter) {
                        stats->Add(absl::StrCat(name, "/dropped/", item->filter_reason));
                        break;
                      }
                      stats->Add(name + "/kept");
                    }
                    if (item->filter.empty()) {
                      stats->Add("write/kept");
                      writer->Add(item->doc);
                    } else {
                      writer->AddDropped(item->doc, item->filter, item->filter_reason);
                    }
                    break;
                }
                progress.Update(label, *stats, bytes.load(), SecondsSince(start), false);
              }));
  stats->Add("read/bytes", static_cast<int64_t>(bytes.load()));
  progress.Update(label, *stats, bytes.load(), SecondsSince(start), true);
  if (!read_error.ok()) return read_error;  // not committed: the input is retried next run
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
  return report;
}

}  // namespace winnow::pipeline
