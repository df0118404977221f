// pipeline/run/report.h — the human summary of a run: one row per input, a total, and every reason.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "pipeline/stats.h"

namespace winnow::pipeline {

// Per-input totals derived from the counters (see stats.h for the names).
struct Outcomes {
  int64_t records = 0;   // read/records
  int64_t skipped = 0;   // read/skipped/* (request, metadata, revisit, warcinfo, …)
  int64_t damaged = 0;   // read/damaged/*
  int64_t dropped = 0;   // extract/dropped/* (not a page, no main text, …)
  int64_t filtered = 0;  // dropped by a filter (<filter>/dropped/*)
  int64_t kept = 0;      // write/kept
  int64_t bytes = 0;     // read/bytes (as read: compressed for .gz)
};
Outcomes OutcomesOf(const Stats& stats);

// A fixed-width table: input, records, skipped, damaged, dropped, filtered, kept, MB; then a
// "total" row; then each filter (in `filter_order`, then any others) with what it saw, kept and
// dropped, and its reasons; then each reason of the reader and extraction with its count and share
// of all records.
std::string FormatSummary(const std::vector<std::pair<std::string, Stats>>& per_input,
                          const Stats& total, const std::vector<std::string>& filter_order = {});

}  // namespace winnow::pipeline
