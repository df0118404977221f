// `winnow run`: the embedded pipeline over local files, URLs, paths files or a snapshot.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "filters/registry.h"
#include "pipeline/run/report.h"
#include "pipeline/run/runner.h"
#include "services/commands.h"

namespace winnow::services {
namespace {

struct RunFlags {
  pipeline::RunOptions options;
  std::string config_path;
  bool quiet = false;
};

int RunMain(RunFlags& flags) {
  absl::StatusOr<pipeline::RunConfig> config = pipeline::LoadConfig(flags.config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "winnow run: %s\n", std::string(config.status().message()).c_str());
    return kExitUsage;
  }
  absl::StatusOr<filters::FilterChain> chain = filters::BuildFilterChain(
      config->filters, {}, flags.config_path.empty() ? "<default>" : flags.config_path);
  if (!chain.ok()) {
    std::fprintf(stderr, "winnow run: %s\n", std::string(chain.status().message()).c_str());
    return kExitUsage;
  }
  config->filters = chain->effective;  // saved in DATA_DIR/config.yaml as used
  if (flags.options.inputs.empty() && flags.options.snapshot.empty()) {
    std::fprintf(stderr, "winnow run: give INPUT files, folders, URLs or --snapshot NAME\n");
    return kExitUsage;
  }
  flags.options.progress = !flags.quiet;
  absl::StatusOr<pipeline::RunReport> report =
      pipeline::Run(flags.options, *config, chain->filters);
  if (!report.ok()) {
    std::fprintf(stderr, "winnow run: %s\n", std::string(report.status().message()).c_str());
    return absl::IsInvalidArgument(report.status()) || absl::IsFailedPrecondition(report.status())
               ? kExitUsage
               : kExitIoError;
  }
  std::vector<std::string> order;
  for (const auto& filter : chain->filters) order.emplace_back(filter->name());
  std::printf("%s", pipeline::FormatSummary(report->per_input, report->total, order).c_str());
  std::map<std::string, pipeline::DedupReport> dedup;
  for (const pipeline::DedupGroupResult& group : report->dedup) dedup[group.group] = group.report;
  std::printf("%s", pipeline::FormatDedupSummary(dedup).c_str());
  if (!report->skipped_inputs.empty()) {
    std::printf(
        "\n%zu input(s) already stored in %s with this config were skipped (--redo to redo)\n",
        report->skipped_inputs.size(), flags.options.data_dir.c_str());
  }
  std::printf("\n%.1f s; documents in %s (winnow stats / winnow export --data-dir %s)\n",
              report->seconds, flags.options.data_dir.c_str(), flags.options.data_dir.c_str());
  if (!report->failed_inputs.empty()) {
    std::fprintf(stderr, "\n%zu input(s) failed and were not stored (run again to retry):\n",
                 report->failed_inputs.size());
    for (const auto& [input, error] : report->failed_inputs) {
      std::fprintf(stderr, "  %s: %s\n", input.c_str(), error.c_str());
    }
    return kExitIoError;
  }
  return kExitOk;
}

}  // namespace

void AddRunCommand(CLI::App& app, CommandFn* run) {
  auto flags = std::make_shared<RunFlags>();
  CLI::App* sub = app.add_subcommand("run", "run the pipeline on one machine (embedded RocksDB)");
  sub->add_option("input", flags->options.inputs,
                  "WARC/ARC/WET files (.gz too), folders, http(s):// or s3:// URLs, paths files");
  sub->add_option("--snapshot", flags->options.snapshot,
                  "Common Crawl snapshot, e.g. CC-MAIN-2024-22: read its WARC files (no INPUT), or "
                  "name the snapshot of the given files");
  sub->add_option("--limit", flags->options.limit, "process at most N input files")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--config", flags->config_path, "YAML config (default: built-in)")
      ->check(CLI::ExistingFile);
  sub->add_option("--data-dir", flags->options.data_dir, "where shards and stats are stored")
      ->capture_default_str();
  sub->add_option("--threads", flags->options.threads, "worker threads (default: all cores)")
      ->check(CLI::NonNegativeNumber);
  sub->add_flag("--redo", flags->options.redo, "reprocess inputs already stored");
  sub->add_flag("-q,--quiet", flags->quiet, "no progress lines");
  sub->callback([flags, run] { *run = [flags] { return RunMain(*flags); }; });
}

}  // namespace winnow::services
