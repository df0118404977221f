// pipeline/run/runner.h — the embedded run: inputs → records → pages → filters → RocksDB shards.
//
// One input file is one task. A task reads its records in order on one thread, processes pages on
// all threads (oneTBB pipeline), and commits its documents and stats to the store atomically, so a
// task either fully lands or not at all, and re-running it replaces what it wrote before.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pipeline/filter.h"
#include "pipeline/run/config.h"
#include "pipeline/run/dedup_stage.h"
#include "pipeline/stats.h"

namespace winnow::pipeline {

struct RunOptions {
  std::vector<std::string> inputs;       // files, folders, URLs, paths files (see io/inputs.h)
  std::string snapshot;                  // --snapshot: read this Common Crawl snapshot's WARC files
  int64_t limit = -1;                    // --limit: process at most this many input files (-1: all)
  std::string data_dir = "winnow-data";  // where shards, stats.json and config.yaml live
  int threads = 0;                       // worker threads; 0 = all cores
  bool redo = false;                     // reprocess inputs already stored with the same config
  bool progress = true;                  // progress lines on stderr
};

struct RunReport {
  Stats total;                                           // merged stats of this run's inputs
  std::vector<std::pair<std::string, Stats>> per_input;  // in processing order
  std::vector<std::string> skipped_inputs;               // already stored with the same config
  std::vector<std::pair<std::string, std::string>> failed_inputs;  // input, error
  std::vector<DedupGroupResult> dedup;  // per snapshot (or "*"), after the inputs
  double seconds = 0;
};

// Runs the pipeline. Filters run in the given order on every extracted page; then the stored
// documents are deduplicated per snapshot (dedup_stage.h), unless config.dedup disables it. Returns
// an error only for problems that stop the whole run (bad data dir, no inputs); a failed input is
// reported in RunReport::failed_inputs and the run goes on.
absl::StatusOr<RunReport> Run(const RunOptions& options, const RunConfig& config,
                              const std::vector<std::unique_ptr<Filter>>& filters);

}  // namespace winnow::pipeline
