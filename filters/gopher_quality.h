// filters/gopher_quality.h — Gopher's quality rules (Rae et al. 2021, table A1), with the
// reference's (datatrove GopherQualityFilter) exact semantics. Checks in this order; the first
// that fails names the reason:
//   non-symbol words < min_doc_words                               → "gopher_short_doc"
//   non-symbol words > max_doc_words                               → "gopher_long_doc"
//   mean length of non-symbol words < min_avg_word_length          → "gopher_below_avg_threshold"
//   mean length of non-symbol words > max_avg_word_length          → "gopher_above_avg_threshold"
//   count of '#' / words > max_symbol_word_ratio                   → "gopher_too_many_hashes"
//   (count of "..." + count of "…") / words > max_symbol_word_ratio → "gopher_too_many_ellipsis"
//   lines starting with '•' or '-' (after lstrip) / lines > max_bullet_lines_ratio
//                                                                  → "gopher_too_many_bullets"
//   lines ending with "..." or "…" (after rstrip) / lines > max_ellipsis_lines_ratio
//                                                                  → "gopher_too_many_end_ellipsis"
//   words with a letter / words < max_non_alpha_words_ratio        → "gopher_below_alpha_threshold"
//   distinct stop words present < min_stop_words                   → "gopher_enough_stop_words"
// Words are pipeline/text/words.h's spaCy-English tokens; a non-symbol word has a character outside
// datatrove's PUNCTUATION_SET; "words" counts every token; lines are str.splitlines(); lengths are
// code points. A rule whose option is 0 is off (the reference's None). A text with no words at all
// (possible only with min_doc_words = 0) skips the per-word ratios.
// The figures go to metadata["gopher_quality"] (filters/scores.h) as they are computed, whether the
// document is kept or dropped, so a drop carries the figure that decided and those before it:
//   words (non-symbol words), avg_word_length (not when there are none), hash_ratio and
//   ellipsis_ratio (when max_symbol_word_ratio is set), bullet_lines_ratio and
//   end_ellipsis_lines_ratio (when either lines rule is set), alpha_words_ratio, stop_words (stop
//   words found — distinct ones, or occurrences in FineWeb v1 — counted only up to min_stop_words:
//   the search stops there).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "filters/params.h"
#include "pipeline/filter.h"

namespace winnow::filters {

struct GopherQualityOptions {
  int min_doc_words = 50;                  // fewer non-symbol words → "gopher_short_doc"
  int max_doc_words = 100000;              // more non-symbol words → "gopher_long_doc"
  double min_avg_word_length = 3;          // shorter mean word → "gopher_below_avg_threshold"
  double max_avg_word_length = 10;         // longer mean word → "gopher_above_avg_threshold"
  double max_symbol_word_ratio = 0.1;      // #s, ellipses / words → "gopher_too_many_hashes"…
  double max_bullet_lines_ratio = 0.9;     // bullet lines share → "gopher_too_many_bullets"
  double max_ellipsis_lines_ratio = 0.3;   // lines ending "..." → "gopher_too_many_end_ellipsis"
  double max_non_alpha_words_ratio = 0.8;  // fewer words with a letter → "gopher_below_alpha_…"
  int min_stop_words = 2;                  // fewer stop words → "gopher_enough_stop_words"
  // the stop words (matched case-sensitively against the tokens)
  std::vector<std::string> stop_words = {"the", "be", "to", "of", "and", "that", "have", "with"};
  bool count_stop_word_occurrences = false;  // FineWeb v1: count occurrences, not distinct words
};

// Binds every option under its datatrove name (count_stop_word_occurrences is ours).
void BindParams(GopherQualityOptions* options, ParamBinder* binder);
// FineWeb v1 counted stop-word occurrences rather than distinct stop words.
void ApplyFinewebV1Profile(GopherQualityOptions* options);

class GopherQualityFilter final : public pipeline::Filter {
 public:
  explicit GopherQualityFilter(GopherQualityOptions options);

  std::string_view name() const override { return "gopher_quality"; }
  pipeline::Verdict Check(pipeline::Document* doc) const override;

 private:
  GopherQualityOptions options_;
  std::vector<std::string> stop_words_;  // options_.stop_words without repeats
  size_t max_stop_word_bytes_ = 0;
};

}  // namespace winnow::filters
