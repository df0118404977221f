// pipeline/run/task.h — one task: one input file read, extracted and filtered into an InputWriter.
//
// Records are read in order on one thread, pages are processed on up to `threads` (oneTBB
// pipeline), and results reach the writer in record order, so the same input gives the same
// writes whoever runs it: `winnow run` in process, or a cluster worker streaming to a shard.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "pipeline/filter.h"
#include "pipeline/io/inputs.h"
#include "pipeline/run/config.h"
#include "pipeline/stats.h"
#include "pipeline/store/shard_store.h"

namespace winnow::pipeline {

// Called after every record (final = false) and once at the end (final = true) with the stats
// so far and the input bytes read.
using ProgressFn = std::function<void(const Stats& stats, uint64_t bytes, bool final)>;

// Reads `input` and hands every kept document and dropped example to `writer`, counting every
// record in `stats`. Does not commit: the caller commits the writer only when this returns OK.
// A non-null `cancel` set to true stops the task at the next record (Cancelled).
absl::Status ProcessInput(const InputFile& input, const RunConfig& config,
                          const std::vector<std::unique_ptr<Filter>>& filters, int threads,
                          ShardStore::InputWriter* writer, Stats* stats,
                          const ProgressFn& progress = {},
                          const std::atomic<bool>* cancel = nullptr);

}  // namespace winnow::pipeline
