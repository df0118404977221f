// filters/fineweb_quality.h — FineWeb's own quality rules (Penedo et al. 2024), with the
// reference's (datatrove FineWebQualityFilter) exact semantics. Lines are the text split on "\n",
// blank ones (only whitespace) removed first; no line left → "empty". Then, in order:
//   lines ending in a stop char / lines < line_punct_thr            → "line_punct_ratio"
//     (unless the share is 0 and line_punct_exclude_zero)
//   lines of ≤ short_line_length code points / lines > short_line_thr → "short_line_ratio"
//   code points in duplicate lines / code points of the text without "\n"
//     > char_duplicates_ratio                                       → "char_dup_ratio"
//   "\n" count / words > new_line_ratio                             → "list_ratio"
// Words are pipeline/text/words.h's spaCy-English tokens (none: the last rule is skipped). FineWeb
// v1 (ApplyFinewebV1Profile) kept blank lines, compared with ≤ / ≥ / ≥ in the first three rules,
// and used the stop chars . ' " ! ?.
// The four ratios go to metadata["fineweb_quality"] under the reasons' names (filters/scores.h) as
// they are computed, whether the document is kept or dropped: line_punct_ratio and
// short_line_ratio (one pass), char_dup_ratio, list_ratio (not when there are no words).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "filters/params.h"
#include "pipeline/filter.h"

namespace winnow::filters {

struct FineWebQualityOptions {
  double line_punct_thr = 0.12;  // share of lines ending a sentence below → "line_punct_ratio"
  bool line_punct_exclude_zero = false;  // a share of exactly 0 passes the rule above
  // line endings that count as a sentence end; empty = datatrove's TERMINAL_PUNCTUATION
  std::vector<std::string> stop_chars;
  double short_line_thr = 0.67;         // share of short lines above → "short_line_ratio"
  int short_line_length = 30;           // a line of at most this many code points is short
  double char_duplicates_ratio = 0.01;  // duplicate-line share of chars above → "char_dup_ratio"
  double new_line_ratio = 0.3;          // newlines per word above → "list_ratio"
  bool remove_empty_lines = true;       // drop blank lines first (FineWeb v1: false)
  bool inclusive_comparisons = false;  // ≤ / ≥ / ≥ in the first three rules (FineWeb v1: true)
};

// Binds every option under its datatrove name (remove_empty_lines, inclusive_comparisons: ours).
void BindParams(FineWebQualityOptions* options, ParamBinder* binder);
// FineWeb v1: blank lines kept, ≤ / ≥ comparisons, stop chars . ' " ! ?
void ApplyFinewebV1Profile(FineWebQualityOptions* options);

class FineWebQualityFilter final : public pipeline::Filter {
 public:
  explicit FineWebQualityFilter(FineWebQualityOptions options) : options_(std::move(options)) {}

  std::string_view name() const override { return "fineweb_quality"; }
  pipeline::Verdict Check(pipeline::Document* doc) const override;

 private:
  FineWebQualityOptions options_;
};

}  // namespace winnow::filters
