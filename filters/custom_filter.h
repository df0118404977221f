// filters/custom_filter.h — filters configured without recompiling, each instance named by the
// user (the name is the filter's name in stats and verdicts):
//
//   custom:
//     - {name: no_casino, type: keyword, keywords: [casino, poker], field: url}
//     - {name: no_lorem, type: regex, patterns: ['lorem ipsum'], case_sensitive: false}
//
// keyword: Aho-Corasick over the text or the URL, so many keywords cost no more than a few;
// regex: an RE2::Set, one pass for all patterns, linear time whatever the input.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "filters/params.h"
#include "pipeline/filter.h"
#include "yaml-cpp/yaml.h"

namespace winnow::filters {

struct KeywordFilterOptions {
  std::string name = "keyword";       // the instance's name in stats, e.g. "no_casino"
  std::vector<std::string> keywords;  // byte strings (UTF-8); at least one here or in the file
  std::string keywords_file;          // "" = none; plain or .gz, a keyword per line, # comments
  std::string field = "text";         // "text" or "url" (url: runs before extraction)
  bool case_sensitive = false;        // false: ASCII letters compare case-insensitively
  bool whole_word = true;             // a match may not touch a letter, digit or '_' (Unicode)
  int min_matches = 1;                // drop when at least this many matches
  bool count_distinct = false;        // count distinct keywords rather than occurrences
  std::string reason = "keyword";     // the drop reason
};

struct RegexFilterOptions {
  std::string name = "regex";         // the instance's name in stats, e.g. "no_lorem"
  std::vector<std::string> patterns;  // RE2 syntax, unanchored; at least one
  std::string field = "text";         // "text" or "url" (url: runs before extraction)
  bool case_sensitive = true;         // false: every pattern ignores case
  std::string mode = "drop";          // "drop": drop if any matches; "keep": drop if none matches
  std::string reason = "regex";       // the drop reason
};

void BindParams(KeywordFilterOptions* options, ParamBinder* binder);
void BindParams(RegexFilterOptions* options, ParamBinder* binder);

class KeywordFilter final : public pipeline::Filter {
 public:
  // Errors (naming the filter): no keywords, a bad field, min_matches < 1, an unreadable file.
  static absl::StatusOr<std::unique_ptr<KeywordFilter>> Create(KeywordFilterOptions options);

  std::string_view name() const override { return options_.name; }
  pipeline::Verdict Check(pipeline::Document* doc) const override;
  bool UrlOnly() const override { return options_.field == "url"; }

  // Matches in `subject`, counting as configured, stopping at min_matches.
  int CountMatches(std::string_view subject) const;

  struct Matcher;  // custom_filter.cc
  KeywordFilter(KeywordFilterOptions options, std::unique_ptr<const Matcher> matcher);
  ~KeywordFilter() override;

 private:
  KeywordFilterOptions options_;
  std::unique_ptr<const Matcher> matcher_;
};

class RegexFilter final : public pipeline::Filter {
 public:
  // Errors (naming the filter and the pattern): no patterns, an invalid pattern, a bad field/mode.
  static absl::StatusOr<std::unique_ptr<RegexFilter>> Create(RegexFilterOptions options);

  std::string_view name() const override { return options_.name; }
  pipeline::Verdict Check(pipeline::Document* doc) const override;
  bool UrlOnly() const override { return options_.field == "url"; }

  struct Matcher;  // custom_filter.cc
  RegexFilter(RegexFilterOptions options, std::unique_ptr<const Matcher> matcher);
  ~RegexFilter() override;

 private:
  RegexFilterOptions options_;
  std::unique_ptr<const Matcher> matcher_;
};

// Builds one entry of the `custom:` list: `type` (keyword | regex) picks the kind, every other key
// is a parameter of it (`enabled` is ignored). `where` names the origin in errors.
absl::StatusOr<std::unique_ptr<pipeline::Filter>> MakeCustomFilter(const YAML::Node& spec,
                                                                   std::string_view where);

}  // namespace winnow::filters
