// filters/c4_quality.h — C4's line and page rules (Raffel et al. 2020) and C4's paragraph rule,
// with the reference's (datatrove C4QualityFilter, C4ParagraphFilter) exact semantics.
//
// C4QualityFilter is a filter and a modifier. Per line (str.splitlines, stripped), in order:
//   a whitespace-separated word longer than max_word_length code points  → line dropped
//   citations removed: [<digits>], [edit], [citation needed]
//   filter_no_terminal_punct: not ending in . ? ! " ' (or ending in ...) → line dropped
//   fewer than min_words_per_line words (counted before citation removal) → line dropped
//   "lorem ipsum" (case-insensitive)                                      → document: "lorem_ipsum"
//   "javascript" (case-insensitive)                                       → line dropped
//   '{'                                                                   → document:
//   "curly_bracket" a policy phrase ("terms of use", "privacy policy", "cookie policy", "uses
//   cookies", "use of cookies", "use cookies"; case-insensitive)                    → line dropped
// The kept lines' spaCy sentences (pipeline/text/words.h) are counted; fewer than
// min_num_sentences → "too_few_sentences". A kept document's text becomes its kept lines joined by
// "\n" and stripped. The FineWeb recipe turns filter_no_terminal_punct off; the class default is
// the reference's (on), and the registry sets the recipe's value.
// metadata["c4_quality"] (filters/scores.h), kept or dropped: lines (lines, or sentence pieces when
// split_paragraph is off, before any rule); after the scan (so not on a lorem_ipsum or
// curly_bracket drop): kept_lines, and sentences (the count compared with min_num_sentences;
// absent when that rule is off).
//
// C4ParagraphFilter: fewer than min_paragraphs lines (split on "\n"), or the min_paragraphs-th
// longest line shorter than min_paragraph_len code points → "< 3 paragraphs".
// metadata["c4_paragraph"]: paragraphs (lines), top_paragraph_len (code points of the
// min_paragraphs-th longest line; absent when min_paragraphs is 0).
#pragma once

#include <string_view>

#include "filters/params.h"
#include "pipeline/filter.h"

namespace winnow::filters {

struct C4QualityOptions {
  bool split_paragraph = true;           // lines are str.splitlines(); false: spaCy sentences
  bool remove_citations = true;          // strip [1], [edit], [citation needed] from lines
  bool filter_no_terminal_punct = true;  // drop lines not ending in . ? ! " ' (FineWeb: false)
  int min_num_sentences = 5;             // fewer in kept lines → "too_few_sentences"; -1 = off
  int min_words_per_line = 3;            // drop lines with fewer words; -1 = off
  int max_word_length = 1000;            // drop lines with a longer word; -1 = off
  bool filter_lorem_ipsum = true;        // "lorem ipsum" in a line → "lorem_ipsum"
  bool filter_javascript = true;         // drop lines mentioning "javascript"
  bool filter_curly_bracket = true;      // '{' in a line → "curly_bracket"
  bool filter_policy = true;             // drop lines with cookie / terms-of-use phrases
};

// Binds every option under its datatrove name.
void BindParams(C4QualityOptions* options, ParamBinder* binder);
// FineWeb v1 used the same rules: nothing changes.
void ApplyFinewebV1Profile(C4QualityOptions* options);

class C4QualityFilter final : public pipeline::Filter {
 public:
  explicit C4QualityFilter(C4QualityOptions options) : options_(options) {}

  std::string_view name() const override { return "c4_quality"; }
  // On keep, rewrites doc->text to the kept lines.
  pipeline::Verdict Check(pipeline::Document* doc) const override;

 private:
  C4QualityOptions options_;
};

struct C4ParagraphOptions {
  int min_paragraphs = 3;       // fewer lines (or long lines) → "< 3 paragraphs"
  int min_paragraph_len = 200;  // code points a line needs to count as a paragraph
};

// Binds the two options (datatrove fixes them in the constructor; the names are its attributes').
void BindParams(C4ParagraphOptions* options, ParamBinder* binder);

class C4ParagraphFilter final : public pipeline::Filter {
 public:
  explicit C4ParagraphFilter(C4ParagraphOptions options) : options_(options) {}

  std::string_view name() const override { return "c4_paragraph"; }
  pipeline::Verdict Check(pipeline::Document* doc) const override;

 private:
  C4ParagraphOptions options_;
};

}  // namespace winnow::filters
