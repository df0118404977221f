// `winnow dedup --in docs.jsonl --out kept.jsonl [--clusters clusters.jsonl] [--config FILE]`:
// exact, then MinHash, deduplication of datatrove-style JSONL. The document key is the `id`
// field compared as a string, so the kept set depends neither on the line order nor on the
// threads. Kept lines are written unchanged, in input order. Inputs and outputs ending in .gz
// are (de)compressed.
#include <tbb/global_control.h>
#include <tbb/parallel_pipeline.h>
#include <zlib.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "pipeline/dedup/deduplicator.h"
#include "pipeline/run/config.h"
#include "services/commands.h"

namespace winnow::services {
namespace {

struct DedupFlags {
  std::string in, out, clusters, config_path, work_dir;
  int threads = 0;
  bool quiet = false;
};

// Lines of a plain or gzip file (zlib reads both).
class LineReader {
 public:
  explicit LineReader(const std::string& path) : file_(gzopen(path.c_str(), "rb")) {
    if (file_ != nullptr) gzbuffer(file_, 1 << 20);
  }
  ~LineReader() {
    if (file_ != nullptr) gzclose(file_);
  }
  bool ok() const { return file_ != nullptr && error_.empty(); }
  const std::string& error() const { return error_; }
  // False at the end or on an error (then error() says which).
  bool Next(std::string* line) {
    line->clear();
    if (file_ == nullptr) return false;
    char buffer[1 << 16];
    for (;;) {
      if (gzgets(file_, buffer, sizeof(buffer)) == nullptr) {
        int code = 0;
        const char* message = gzerror(file_, &code);
        if (code != Z_OK && code != Z_BUF_ERROR) error_ = message;
        if (!line->empty() && error_.empty()) return true;  // last line without newline
        return false;
      }
      line->append(buffer);
      if (!line->empty() && line->back() == '\n') {
        line->pop_back();
        if (!line->empty() && line->back() == '\r') line->pop_back();
        return true;
      }
    }
  }

 private:
  gzFile file_;
  std::string error_;
};

// A plain or gzip output file, written under a temporary name and renamed when complete.
class Output {
 public:
  explicit Output(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp") {
    gzip_ = path_.ends_with(".gz");
    file_ = gzopen(tmp_.c_str(), gzip_ ? "wb6" : "wbT");
    if (file_ != nullptr) gzbuffer(file_, 1 << 20);
  }
  ~Output() {
    if (file_ != nullptr) {
      gzclose(file_);
      std::remove(tmp_.c_str());
    }
  }
  bool ok() const { return file_ != nullptr && ok_; }
  void Write(std::string_view data) {
    if (ok() && !data.empty() &&
        gzwrite(file_, data.data(), static_cast<unsigned>(data.size())) == 0) {
      ok_ = false;
    }
  }
  bool Finish() {
    if (file_ == nullptr) return false;
    const int closed = gzclose(file_);
    file_ = nullptr;
    if (!ok_ || closed != Z_OK) {
      std::remove(tmp_.c_str());
      return false;
    }
    return std::rename(tmp_.c_str(), path_.c_str()) == 0;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_, tmp_;
  bool gzip_ = false;
  gzFile file_ = nullptr;
  bool ok_ = true;
};

struct Parsed {
  std::string line;
  std::string key;
  std::string text;
  bool valid = false;
  bool kept = true;
};

// The document key of a line: its id as a string (a number or other JSON value: its JSON text).
bool ParseLine(Parsed* p) {
  nlohmann::json json = nlohmann::json::parse(p->line, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || !json.contains("text") || !json["text"].is_string() ||
      !json.contains("id") || json["id"].is_null()) {
    return false;
  }
  const nlohmann::json& id = json["id"];
  p->key = id.is_string() ? id.get<std::string>() : id.dump();
  if (p->key.empty()) return false;
  p->text = json["text"].get<std::string>();
  return true;
}

struct PassCounts {
  std::atomic<int64_t> lines{0}, invalid{0}, kept{0};
};

// Reads `path` once: lines in order, parsed in parallel, handed to `each` (parallel), then
// `after` (serial, in input order). Returns false and prints why on a read error.
bool Pass(const std::string& path, int threads, const std::function<absl::Status(Parsed*)>& each,
          const std::function<void(Parsed&)>& after, PassCounts* counts, absl::Status* error) {
  LineReader reader(path);
  if (!reader.ok()) {
    *error = absl::NotFoundError(absl::StrCat("cannot read ", path));
    return false;
  }
  std::mutex mutex;
  tbb::parallel_pipeline(static_cast<size_t>(threads) * 4,
                         tbb::make_filter<void, std::shared_ptr<Parsed>>(
                             tbb::filter_mode::serial_in_order,
                             [&](tbb::flow_control& fc) -> std::shared_ptr<Parsed> {
                               auto p = std::make_shared<Parsed>();
                               if (!reader.Next(&p->line)) {
                                 fc.stop();
                                 return nullptr;
                               }
                               return p;
                             }) &
                             tbb::make_filter<std::shared_ptr<Parsed>, std::shared_ptr<Parsed>>(
                                 tbb::filter_mode::parallel,
                                 [&](std::shared_ptr<Parsed> p) {
                                   if (p->line.empty()) return p;
                                   p->valid = ParseLine(p.get());
                                   if (p->valid) {
                                     absl::Status status = each(p.get());
                                     if (!status.ok()) {
                                       std::lock_guard<std::mutex> lock(mutex);
                                       if (error->ok()) *error = status;
                                     }
                                   }
                                   return p;
                                 }) &
                             tbb::make_filter<std::shared_ptr<Parsed>, void>(
                                 tbb::filter_mode::serial_in_order, [&](std::shared_ptr<Parsed> p) {
                                   if (p->line.empty()) return;
                                   ++counts->lines;
                                   if (!p->valid) ++counts->invalid;
                                   after(*p);
                                 }));
  if (!reader.error().empty() && error->ok()) {
    *error = absl::DataLossError(absl::StrCat("reading ", path, ": ", reader.error()));
  }
  return error->ok();
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "winnow dedup: %s\n", std::string(status.message()).c_str());
  return absl::IsInvalidArgument(status) || absl::IsFailedPrecondition(status) ? kExitUsage
                                                                               : kExitIoError;
}

int DedupMain(const DedupFlags& flags) {
  absl::StatusOr<pipeline::RunConfig> config = pipeline::LoadConfig(flags.config_path);
  if (!config.ok()) return Fail(absl::InvalidArgumentError(config.status().message()));
  pipeline::DedupOptions options = config->dedup.options;
  const int threads = flags.threads > 0
                          ? flags.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (options.threads == 0) options.threads = threads;
  if (!std::filesystem::exists(flags.in)) {
    return Fail(absl::NotFoundError(absl::StrCat("input ", flags.in, " does not exist")));
  }
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                            static_cast<size_t>(threads));
  const std::string work_dir = flags.work_dir.empty() ? flags.out + ".dedup-work" : flags.work_dir;
  absl::StatusOr<std::unique_ptr<pipeline::Deduplicator>> created =
      pipeline::Deduplicator::Create(work_dir, options);
  if (!created.ok()) return Fail(created.status());
  pipeline::Deduplicator& dedup = **created;
  const auto say = [&](const std::string& text) {
    if (!flags.quiet) std::fprintf(stderr, "winnow dedup: %s\n", text.c_str());
  };

  // Pass 1: exact hashes. Invalid lines are reported here, once.
  PassCounts first;
  absl::Status error;
  int shown = 0;
  Pass(
      flags.in, threads, [&](Parsed* p) { return dedup.AddExact(p->key, p->text); },
      [&](Parsed& p) {
        if (!p.valid && ++shown <= 5) {
          std::fprintf(stderr,
                       "winnow dedup: line %lld: not a JSON document with an \"id\" and a "
                       "\"text\" string; left out\n",
                       static_cast<long long>(first.lines.load()));
        }
      },
      &first, &error);
  if (error.ok()) error = dedup.FinishExact();
  if (!error.ok()) return Fail(error);
  say(absl::StrCat(first.lines.load(), " lines, ", dedup.report().documents, " documents; ",
                   dedup.report().exact_duplicates, " exact duplicates; MinHash pass"));

  // Pass 2: MinHash of the exact-distinct documents.
  PassCounts second;
  Pass(
      flags.in, threads, [&](Parsed* p) { return dedup.AddNear(p->key, p->text); }, [](Parsed&) {},
      &second, &error);
  if (error.ok()) error = dedup.FinishNear();
  if (!error.ok()) return Fail(error);
  if (second.lines.load() != first.lines.load()) {
    return Fail(absl::DataLossError(absl::StrCat(flags.in, " changed while it was read")));
  }

  // Pass 3: the kept lines, unchanged and in order.
  Output out(flags.out);
  if (!out.ok()) return Fail(absl::InternalError(absl::StrCat("cannot write ", flags.out)));
  PassCounts third;
  Pass(
      flags.in, threads,
      [&](Parsed* p) -> absl::Status {
        absl::StatusOr<std::optional<pipeline::Duplicate>> duplicate = dedup.DuplicateOf(p->key);
        if (!duplicate.ok()) return duplicate.status();
        p->kept = !duplicate->has_value();
        return absl::OkStatus();
      },
      [&](Parsed& p) {
        if (!p.valid || !p.kept) return;
        ++third.kept;
        out.Write(p.line);
        out.Write("\n");
      },
      &third, &error);
  if (!error.ok()) return Fail(error);
  if (!out.Finish()) {
    return Fail(absl::InternalError(absl::StrCat("cannot write ", flags.out)));
  }

  if (!flags.clusters.empty()) {
    Output clusters(flags.clusters);
    if (!clusters.ok()) {
      return Fail(absl::InternalError(absl::StrCat("cannot write ", flags.clusters)));
    }
    // {"kept": id, "size": n, "duplicates": [{"id": id, "kind": "exact"|"near"}, …]} per line.
    bool open = false, first_member = true;
    const auto close = [&] {
      if (open) clusters.Write("]}\n");
      open = false;
    };
    const auto quote = [](std::string_view s) {
      return nlohmann::json(std::string(s))
          .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    };
    error = dedup.ForEachCluster(
        [&](std::string_view kept, uint64_t size) {
          close();
          clusters.Write(
              absl::StrCat("{\"kept\":", quote(kept), ",\"size\":", size, ",\"duplicates\":["));
          open = true;
          first_member = true;
          return clusters.ok();
        },
        [&](std::string_view key, const pipeline::Duplicate* duplicate) {
          if (duplicate == nullptr) return true;  // the kept one, already named
          clusters.Write(
              absl::StrCat(first_member ? "" : ",", "{\"id\":", quote(key), ",\"kind\":\"",
                           std::string(pipeline::DuplicateKindName(duplicate->kind)), "\"}"));
          first_member = false;
          return clusters.ok();
        });
    close();
    if (!error.ok()) return Fail(error);
    if (!clusters.Finish()) {
      return Fail(absl::InternalError(absl::StrCat("cannot write ", flags.clusters)));
    }
  }
  const pipeline::DedupReport& r = dedup.report();
  const int64_t valid = first.lines.load() - first.invalid.load();
  std::printf(
      "%lld documents: %llu exact and %llu near duplicates removed in %llu clusters; %lld kept "
      "in %s\n",
      static_cast<long long>(valid), static_cast<unsigned long long>(r.exact_duplicates),
      static_cast<unsigned long long>(r.near_duplicates),
      static_cast<unsigned long long>(r.clusters()), static_cast<long long>(third.kept.load()),
      flags.out.c_str());
  if (first.invalid.load() > 0) {
    std::printf("%lld line(s) were not JSON documents with an id and a text and were left out\n",
                static_cast<long long>(first.invalid.load()));
  }
  if (static_cast<uint64_t>(valid) > r.documents) {
    std::printf(
        "%llu line(s) repeat an id seen on another line: lines sharing an id count as one "
        "document, kept or removed together\n",
        static_cast<unsigned long long>(valid - r.documents));
  }
  if (absl::Status cleanup = dedup.Cleanup(); !cleanup.ok()) return Fail(cleanup);
  return kExitOk;
}

}  // namespace

void AddDedupCommand(CLI::App& app, CommandFn* run) {
  auto flags = std::make_shared<DedupFlags>();
  CLI::App* sub = app.add_subcommand(
      "dedup", "remove exact and near duplicates (MinHash LSH) from JSONL documents");
  sub->add_option("--in", flags->in, "datatrove-style JSONL (.jsonl or .jsonl.gz)")->required();
  sub->add_option("--out", flags->out, "the kept lines, unchanged, in input order")->required();
  sub->add_option("--clusters", flags->clusters,
                  "one line per cluster: kept id, size, duplicates with their kind");
  sub->add_option("--config", flags->config_path, "YAML config; its dedup section is used");
  sub->add_option("--threads", flags->threads, "worker threads (default: all cores)");
  sub->add_option("--work-dir", flags->work_dir, "scratch space (default: OUT.dedup-work)");
  sub->add_flag("-q,--quiet", flags->quiet, "no progress lines on stderr");
  sub->callback([flags, run] { *run = [flags] { return DedupMain(*flags); }; });
}

}  // namespace winnow::services
