// filters/gopher_repetition.h — Gopher's repetition rules (Rae et al. 2021, table A1), with the
// reference's (datatrove GopherRepetitionFilter) exact semantics. Checks run in this order; the
// first that fails names the reason; every comparison is a strict '>':
//   paragraphs (text stripped, split on \n{2,}): duplicates / paragraphs  → "dup_para_frac"
//   code points in duplicate paragraphs / len(text)                      → "dup_para_char_frac"
//   lines (split on \n+): duplicates / lines                              → "dup_line_frac"
//   code points in duplicate lines / len(text)                           → "dup_line_char_frac"
//   per (n, t) in top_n_grams: the most frequent word n-gram (words joined by ' ', the first of
//     equally frequent ones): len × count / len(text) > t               → "top_{n}_gram"
//   per (n, t) in dup_n_grams: code points of repeated word n-grams (joined with no separator;
//     the scan skips n words after each repeat) / len(text) > t         → "duplicated_{n}_n_grams"
// "Duplicate" means every occurrence after the first. An empty text is dropped as "empty".
// Every fraction computed is recorded in metadata["gopher_repetition"] under its reason's name
// (filters/scores.h) as soon as it is computed, whether the document is kept or dropped (a drop
// carries the fraction that decided and those before it). With fewer words than n, "top_{n}_gram"
// is skipped and records nothing, while "duplicated_{n}_n_grams" records 0.
// Lengths are Python len(): code points. Words are pipeline/text/words.h's spaCy-English tokens.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "filters/params.h"
#include "pipeline/filter.h"

namespace winnow::filters {

struct GopherRepetitionOptions {
  // A fraction of 0 turns its rule off (the reference's None).
  double dup_line_frac = 0.3;       // duplicate-line share above → "dup_line_frac"
  double dup_para_frac = 0.3;       // duplicate-paragraph share above → "dup_para_frac"
  double dup_line_char_frac = 0.2;  // duplicate-line chars / chars above → "dup_line_char_frac"
  double dup_para_char_frac = 0.2;  // dup. paragraph chars / chars above → "dup_para_char_frac"
  // (n, threshold): top n-gram char share above threshold → "top_{n}_gram"
  NGramThresholds top_n_grams = {{2, 0.20}, {3, 0.18}, {4, 0.16}};
  // (n, threshold): duplicated n-gram char share above threshold → "duplicated_{n}_n_grams"
  NGramThresholds dup_n_grams = {{5, 0.15}, {6, 0.14}, {7, 0.13}, {8, 0.12}, {9, 0.11}, {10, 0.10}};
};

// Binds every option under its datatrove name.
void BindParams(GopherRepetitionOptions* options, ParamBinder* binder);
// FineWeb v1 used the same rules: nothing changes (kept for symmetry with the other filters).
void ApplyFinewebV1Profile(GopherRepetitionOptions* options);

class GopherRepetitionFilter final : public pipeline::Filter {
 public:
  explicit GopherRepetitionFilter(GopherRepetitionOptions options);

  std::string_view name() const override { return "gopher_repetition"; }
  pipeline::Verdict Check(pipeline::Document* doc) const override;

 private:
  GopherRepetitionOptions options_;
  // The metadata keys of the n-gram scores, parallel to options_.top_n_grams and .dup_n_grams
  // ("top_{n}_gram", "duplicated_{n}_n_grams": the reasons' names).
  std::vector<std::string> top_keys_, dup_keys_;
};

}  // namespace winnow::filters
