// filters/language_filter.h — the reference's language filter (datatrove LanguageFilter, backend
// ft176): fastText lid.176 predicts every language (k = -1) for the text with newlines replaced by
// spaces; the document is kept when one of `languages` scores above `language_threshold`.
// metadata["language"] and ["language_score"] are the top label and its score. A dropped document's
// reason is the detected (top) language, so drops are browsable per language.
//
// The model is loaded once per process and path, and shared read-only by every filter and thread
// (fastText's prediction is const and keeps its scratch state on the stack). The model path is an
// option; "" is a start-up error. Whoever builds the filter from config calls
// SetDefaultDataPaths(FindAssetsDir(), &options) (filters/registry.h) to fill it with
// models/lid.176.ftz under the assets folder.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "filters/params.h"
#include "pipeline/filter.h"

namespace fasttext {
class FastText;
}

namespace winnow::filters {

struct LanguageFilterOptions {
  std::string model;                            // lid.176 .ftz/.bin path; "" = unset (an error)
  std::vector<std::string> languages = {"en"};  // keep if one scores > threshold; [] = any language
  double language_threshold = 0.65;             // strict >
  bool newlines_to_spaces = true;  // "\n" → " " before predicting; false: removed (FineWeb v1)
  bool label_only = false;         // annotate metadata only, never drop (datatrove's label_only)
  double keep_top_pairs_threshold = -1;  // also store top_language_{lang}_score above it; -1 = off
};

// Binds every option under its datatrove name (`model` and `newlines_to_spaces` are ours).
void BindParams(LanguageFilterOptions* options, ParamBinder* binder);

// FineWeb v1 removed newlines instead of replacing them with spaces.
void ApplyFinewebV1Profile(LanguageFilterOptions* options);

// Fills an empty `model` with `data_dir`/models/lid.176.ftz (relative "models/lid.176.ftz" when
// `data_dir` is empty, so a missing assets folder fails in Create naming the file).
void SetDefaultDataPaths(std::string_view data_dir, LanguageFilterOptions* options);

class LanguageFilter final : public pipeline::Filter {
 public:
  // Loads the model (or reuses the process's copy). A missing or invalid model file is an error
  // naming its path.
  static absl::StatusOr<std::unique_ptr<LanguageFilter>> Create(LanguageFilterOptions options);

  std::string_view name() const override { return "language"; }
  pipeline::Verdict Check(pipeline::Document* doc) const override;

  // All labels (without "__label__") with their scores, best first, for `text` as Check sees it.
  std::vector<std::pair<std::string, float>> Predict(std::string_view text) const;

  LanguageFilter(LanguageFilterOptions options, std::shared_ptr<const fasttext::FastText> model);

 private:
  LanguageFilterOptions options_;
  std::shared_ptr<const fasttext::FastText> model_;
};

}  // namespace winnow::filters
